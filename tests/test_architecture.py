"""The wings of cg_cli import one way: a wing may use the wings below it, never one above."""

from __future__ import annotations

import ast
from pathlib import Path

import cg_cli

PACKAGE = Path(cg_cli.__file__).parent
# Lowest first. The top-level modules errors and constants sit below every wing;
# cli, main, action and commands/ sit above them all.
WINGS = ["output", "records", "config", "service", "importing", "sandbox", "commands"]
FOUNDATION = {"errors", "constants"}


def runtime_imports(path: Path) -> set[str]:
    """Every cg_cli module a file imports when it runs (imports under TYPE_CHECKING excluded)."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    type_only: set[int] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.If) and "TYPE_CHECKING" in ast.unparse(node.test):
            type_only |= {id(child) for stmt in node.body for child in ast.walk(stmt)}
    found: set[str] = set()
    for node in ast.walk(tree):
        if id(node) in type_only:
            continue
        if isinstance(node, ast.ImportFrom) and node.module and node.module.startswith("cg_cli"):
            found |= {f"{node.module}.{alias.name}" for alias in node.names}
        elif isinstance(node, ast.Import):
            found |= {alias.name for alias in node.names if alias.name.startswith("cg_cli")}
    return found


def wing_of(dotted: str) -> str | None:
    parts = dotted.split(".")
    return parts[1] if len(parts) > 1 and parts[1] in WINGS else None


def test_no_wing_imports_a_wing_above_it() -> None:
    upward = []
    for path in PACKAGE.rglob("*.py"):
        own = path.relative_to(PACKAGE).parts[0]
        if own not in WINGS:
            continue
        for imported in runtime_imports(path):
            wing = wing_of(imported)
            if wing is not None and WINGS.index(wing) > WINGS.index(own):
                upward.append(f"{path.relative_to(PACKAGE)} imports {imported}")
    assert upward == []


def test_the_foundation_imports_no_wing() -> None:
    for name in FOUNDATION:
        imported = runtime_imports(PACKAGE / f"{name}.py")
        assert {wing_of(i) for i in imported} <= {None}, (name, imported)


def test_every_wing_says_its_job_and_the_top_stays_small() -> None:
    for wing in WINGS:
        doc = ast.get_docstring(ast.parse((PACKAGE / wing / "__init__.py").read_text(encoding="utf-8")))
        assert doc and len(doc.split()) > 5, wing
    assert len(list(PACKAGE.glob("*.py"))) <= 12


def test_the_rule_sees_an_upward_import(tmp_path: Path) -> None:
    planted = tmp_path / "x.py"
    planted.write_text(
        "from cg_cli.importing.journal import Journal\nif TYPE_CHECKING:\n    import cg_cli.sandbox.server\n"
    )
    assert runtime_imports(planted) == {"cg_cli.importing.journal.Journal"}


def test_no_module_over_450_lines_and_no_class_over_250() -> None:
    too_big = []
    for path in PACKAGE.rglob("*.py"):
        text = path.read_text(encoding="utf-8")
        if text.count("\n") > 450:
            too_big.append(f"{path.relative_to(PACKAGE)}: {text.count(chr(10))} lines")
        for node in ast.walk(ast.parse(text)):
            if isinstance(node, ast.ClassDef) and node.end_lineno and node.end_lineno - node.lineno + 1 > 250:
                too_big.append(f"{path.relative_to(PACKAGE)}: class {node.name}")
    assert too_big == []
