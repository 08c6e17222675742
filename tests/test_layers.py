"""The layers of DESIGN.md, enforced on the imports of every module (parsed, not run)."""

from __future__ import annotations

import ast
import sys
from pathlib import Path

PACKAGE = Path(__file__).resolve().parents[1] / "paxos_exp"


def _imports(path: Path) -> set[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    found: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            found.add(node.module)
    return found


def _modules(under: str = "") -> dict[str, set[str]]:
    root = PACKAGE / under
    return {str(path.relative_to(PACKAGE)): _imports(path) for path in sorted(root.rglob("*.py"))}


def _top(name: str) -> str:
    return name.split(".")[0]


def test_core_imports_only_the_standard_library_and_itself():
    for module, imports in _modules("core").items():
        for name in imports:
            allowed = name.startswith("paxos_exp.core") or _top(name) in sys.stdlib_module_names
            assert allowed, f"{module} imports {name}"


# Processes are the runtime's business, whichever library would start them.
PROCESS_LIBRARIES = ("zmq", "multiprocessing", "concurrent", "joblib", "loky")


def test_only_the_runtime_imports_zmq_and_multiprocessing():
    for module, imports in _modules().items():
        if module.startswith("runtime/"):
            continue
        for name in imports:
            assert _top(name) not in PROCESS_LIBRARIES, f"{module} imports {name}"


def test_analysis_never_imports_the_runtime():
    for module, imports in _modules("analysis").items():
        for name in imports:
            assert not name.startswith("paxos_exp.runtime"), f"{module} imports {name}"
            assert not name.startswith("paxos_exp.app"), f"{module} imports {name}"


def test_only_the_sweep_reading_module_of_analysis_imports_hydra():
    readers = {"analysis/grid.py"}  # reads Hydra's own files (multirun.yaml, overrides)
    for module, imports in _modules("analysis").items():
        if module in readers:
            continue
        for name in imports:
            assert _top(name) not in ("hydra", "omegaconf"), f"{module} imports {name}"


# The figure modules: a DataFrame in, a Figure out.
FIGURE_MODULES = ("analysis/plots.py", "analysis/grid_figures.py", "analysis/layout.py",
                  "analysis/panels.py", "analysis/style.py", "analysis/exact.py",
                  "analysis/diagram.py")
READING_MODULES = ("discover", "job", "load", "grid", "missing", "files", "report", "export")
READING_CALLS = {"open", "read_csv", "read_text", "read_bytes", "read_json", "read_parquet",
                 "load", "iterdir", "glob"}


def _calls(path: Path) -> set[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    names = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Call):
            function = node.func
            names.add(function.attr if isinstance(function, ast.Attribute) else
                      getattr(function, "id", ""))
    return names


def test_plot_functions_never_read_files():
    modules = _modules("analysis")
    for module in FIGURE_MODULES:
        for name in modules[module]:
            assert name not in ("pathlib", "os", "glob", "json"), f"{module} imports {name}"
            assert name.removeprefix("paxos_exp.analysis.") not in READING_MODULES, \
                f"{module} imports {name}"
        reads = _calls(PACKAGE / module) & READING_CALLS
        assert not reads, f"{module} calls {sorted(reads)}"


# The explorer (paxos-check exhaustive) runs the core; it replays a counterexample through the
# engines' one entry point, and its CLI draws the analysis figure only when asked (lazily).
EXPLORE_ALLOWED = ("paxos_exp.core", "paxos_exp.explore", "paxos_exp.runtime.api")
EXPLORE_CLI_EXTRA = ("paxos_exp.analysis.diagram", "paxos_exp.analysis.files", "pandas", "yaml")


def _top_level_imports(path: Path) -> set[str]:
    found: set[str] = set()
    for node in ast.parse(path.read_text(encoding="utf-8")).body:
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module:
            found.add(node.module)
    return found


def test_the_explorer_uses_the_core_and_the_engines_entry_point_only():
    modules = _modules("explore")
    assert "explore/explorer.py" in modules
    for module, imports in modules.items():
        for name in imports:
            allowed = name.startswith(EXPLORE_ALLOWED) or _top(name) in sys.stdlib_module_names \
                or (module == "explore/cli.py" and name.startswith(EXPLORE_CLI_EXTRA))
            assert allowed, f"{module} imports {name}"
        # The engines and the figures are imported only where used (inside functions).
        for name in _top_level_imports(PACKAGE / module):
            assert not name.startswith(("paxos_exp.runtime", "paxos_exp.analysis", "pandas")), \
                f"{module} imports {name} at the top"


def test_the_core_never_imports_the_explorer():
    for module, imports in _modules("core").items():
        assert not any(name.startswith("paxos_exp.explore") for name in imports), module


# The report's exact values come from the explorer (analysis/theory.py), which runs the core
# alone: analysis imports it and nothing else of the explorer, so it never reaches the runtime.
ANALYSIS_EXPLORE = ("paxos_exp.explore.explorer",)
EXPLORER_ALLOWED = ("paxos_exp.core", "paxos_exp.explore.draws")


def test_analysis_imports_the_explorer_alone_which_imports_the_core_alone():
    for module, imports in _modules("analysis").items():
        for name in imports:
            if name.startswith("paxos_exp.explore"):
                assert name in ANALYSIS_EXPLORE, f"{module} imports {name}"
    assert "paxos_exp.explore.explorer" in _modules("analysis")["analysis/theory.py"]
    for module in ("explore/explorer.py", "explore/draws.py"):
        for name in _imports(PACKAGE / module):
            allowed = name.startswith(EXPLORER_ALLOWED) or _top(name) in sys.stdlib_module_names
            assert allowed, f"{module} imports {name}"


def test_every_analysis_module_stays_small():
    for path in sorted((PACKAGE / "analysis").glob("*.py")):
        lines = len(path.read_text(encoding="utf-8").splitlines())
        assert lines <= 400, f"{path.name} has {lines} lines: split it by job"


def test_the_layer_test_sees_the_imports_it_checks():
    # A parser that found nothing would pass every test above.
    assert "zmq" in _modules("runtime")["runtime/node_process.py"]
    assert "paxos_exp.core.messages" in _modules("core")["core/driver.py"]
    assert "read_csv" in _calls(PACKAGE / "analysis" / "job.py")
