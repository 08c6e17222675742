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


def test_the_checker_imports_only_the_standard_library_and_itself():
    modules = sorted(CHECK.glob("*.py"))
    assert {path.name for path in modules} >= {"transcript.py", "rules.py", "checker.py", "cli.py"}
    for path in modules:
        for name in _imports(path):
            top = name.split(".")[0]
            assert name.startswith("paxos_exp.check") or (
                top in sys.stdlib_module_names and top != "multiprocessing"), f"{path.name} imports {name}"


def test_the_layer_test_sees_imports():
    assert "paxos_exp.check.rules" in _imports(CHECK / "checker.py")
