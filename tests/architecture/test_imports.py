"""The import rules of docs/architecture.md that import-linter cannot express."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


def _handled_names(handler: ast.ExceptHandler) -> set[str]:
    kinds = handler.type.elts if isinstance(handler.type, ast.Tuple) else [handler.type]
    return {k.id for k in kinds if isinstance(k, ast.Name)}


def hidden_imports(source: str) -> list[int]:
    """Lines of `except ImportError` / `except ModuleNotFoundError` handlers: a broken install must fail loudly."""
    return [node.lineno for node in ast.walk(ast.parse(source))
            if isinstance(node, ast.ExceptHandler) and node.type is not None
            and _handled_names(node) & {"ImportError", "ModuleNotFoundError"}]


@pytest.mark.parametrize("package", ["policies", "components", "loadline"])
def test_no_layer_hides_an_import(package):
    found = [f"{path.relative_to(ROOT)}:{line}" for path in sorted((ROOT / package).rglob("*.py"))
             for line in hidden_imports(path.read_text())]
    assert not found, f"an import failure is swallowed at {found}"


def test_the_check_catches_a_swallowed_import():
    source = "try:\n    import x\nexcept (ValueError, ImportError):\n    x = None\n"
    assert hidden_imports(source) == [3]
    assert hidden_imports("try:\n    pass\nexcept ValueError:\n    pass\n") == []
