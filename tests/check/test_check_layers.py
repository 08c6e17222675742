"""The checker is pure and independent: the standard library and paxos_exp.check only (no
zmq, multiprocessing, Hydra, and no code shared with the implementation it checks)."""

from __future__ import annotations

import ast
import sys
from pathlib import Path

CHECK = Path(__file__).resolve().parents[2] / "paxos_exp" / "check"


def _imports(path: Path) -> set[str]:
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module:
            assert node.level == 0, f"{path.name}: relative import"
            found.add(node.module)
    return found


# The one exception: ``paxos-check exhaustive`` hands over to the explorer, which runs the
# implementation; cli.py imports it inside the subcommand's function only, so checking a
# transcript never loads the code it checks.
EXPLORER = "paxos_exp.explore.cli"


def test_the_checker_imports_only_the_standard_library_and_itself():
    modules = sorted(CHECK.glob("*.py"))
    assert {path.name for path in modules} >= {"transcript.py", "rules.py", "checker.py", "cli.py"}
    for path in modules:
        for name in _imports(path):
            top = name.split(".")[0]
            if path.name == "cli.py" and name == EXPLORER:
                continue
            assert name.startswith("paxos_exp.check") or (
                top in sys.stdlib_module_names and top != "multiprocessing"), f"{path.name} imports {name}"


def test_the_explorer_is_imported_lazily():
    tree = ast.parse((CHECK / "cli.py").read_text(encoding="utf-8"))
    top = {node.module for node in tree.body if isinstance(node, ast.ImportFrom)}
    assert EXPLORER not in top
    assert EXPLORER in _imports(CHECK / "cli.py")


def test_the_layer_test_sees_imports():
    assert "paxos_exp.check.rules" in _imports(CHECK / "checker.py")
