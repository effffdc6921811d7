"""Every import in app/ and engine/ is at module level: no import inside a function or class (to dodge
a cycle or defer a cost). (The import contracts themselves, cycles included, are `lint-imports` in
./run test, configured in pyproject.toml.)"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
PACKAGES = ("app", "engine")
# "path::function": the reason an import there cannot be at module level. Empty, and should stay so.
ALLOWED: dict[str, str] = {}


def nested_imports(source: str) -> list[tuple[int, str, str]]:
    """(line, innermost enclosing def or class, module) of each import that is not at module level."""
    found = []

    def visit(node: ast.AST, scope: str | None) -> None:
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            scope = node.name
        elif isinstance(node, ast.Import) and scope:
            found.extend((node.lineno, scope, alias.name) for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and scope:
            found.append((node.lineno, scope, "." * node.level + (node.module or "")))
        for child in ast.iter_child_nodes(node):
            visit(child, scope)

    visit(ast.parse(source), None)
    return found


def test_the_check_finds_an_import_in_a_function_and_a_method():
    source = "import os\n\ndef f():\n    import json\n\nclass C:\n    def m(self):\n        from a.b import c\n"
    assert nested_imports(source) == [(4, "f", "json"), (8, "m", "a.b")]


@pytest.mark.parametrize("package", PACKAGES)
def test_no_import_inside_a_function(package):
    offenders = []
    for path in sorted((ROOT / package).rglob("*.py")):
        rel = path.relative_to(ROOT).as_posix()
        for line, scope, module in nested_imports(path.read_text(encoding="utf-8")):
            if f"{rel}::{scope}" not in ALLOWED:
                offenders.append(f"{rel}:{line} imports {module} inside {scope}()")
    assert not offenders, "move these imports to the top of their module:\n" + "\n".join(offenders)
