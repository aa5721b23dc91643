"""Commands stay thin and functions stay readable (docs/architecture.md)."""

from __future__ import annotations

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
MAX_COMMAND_LINES = 150
MAX_FUNCTION_LINES = 100



def long_functions(source: str, limit: int) -> dict[str, int]:
    """qualified name -> line count of every function longer than `limit` lines."""
    found: dict[str, int] = {}

    def visit(node: ast.AST, prefix: str) -> None:
        for child in ast.iter_child_nodes(node):
            if isinstance(child, ast.ClassDef):
                visit(child, f"{prefix}{child.name}.")
            elif isinstance(child, (ast.FunctionDef, ast.AsyncFunctionDef)):
                lines = (child.end_lineno or child.lineno) - child.lineno + 1
                if lines > limit:
                    found[f"{prefix}{child.name}"] = lines
                visit(child, f"{prefix}{child.name}.")

    visit(ast.parse(source), "")
    return found


def test_command_modules_are_thin():
    fat = {p.name: n for p in (ROOT / "loadline" / "cli").glob("*.py")
           if (n := len(p.read_text().splitlines())) > MAX_COMMAND_LINES}
    assert not fat, f"command modules over {MAX_COMMAND_LINES} lines (move the logic to the library): {fat}"


def test_no_function_over_100_lines():
    found = {f"{path.relative_to(ROOT)}:{name}": lines
             for package in ("components", "loadline", "app")
             for path in sorted((ROOT / package).rglob("*.py"))
             for name, lines in long_functions(path.read_text(), MAX_FUNCTION_LINES).items()}
    assert not found, f"functions over {MAX_FUNCTION_LINES} lines (split them into named steps): {found}"


def test_the_size_check_sees_methods_and_nested_functions():
    body = "\n".join("    x = 1" for _ in range(5))
    source = f"class A:\n    def f(self):\n    {body.replace(chr(10), chr(10) + '    ')}\n\ndef g():\n{body}\n"
    assert long_functions(source, 3) == {"A.f": 6, "g": 6}
