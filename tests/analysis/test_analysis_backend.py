"""Importing paxos_exp never chooses a matplotlib backend: a notebook keeps its inline one."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

# In a fresh interpreter: note the backend, import every module of the package, note it again.
_SCRIPT = """
import importlib, json, pkgutil, sys
import matplotlib
preset = sys.argv[1]
if preset != "none":
    matplotlib.use(preset)
before = matplotlib.rcParams._get_backend_or_none()
import paxos_exp
# (A __main__ module runs its command when imported: that is what it is for.)
modules = [info.name for info in pkgutil.walk_packages(paxos_exp.__path__, "paxos_exp.")
           if not info.name.endswith(".__main__")]
for name in modules:
    importlib.import_module(name)
# The public API too (loaded lazily on first use).
paxos_exp.load_sweeps, paxos_exp.summarize, paxos_exp.run
print(json.dumps({"before": before, "after": matplotlib.rcParams._get_backend_or_none(),
                  "modules": modules}))
"""


@pytest.mark.parametrize("preset", ["none", "svg"])
def test_importing_every_module_leaves_the_backend_alone(preset: str) -> None:
    env = {key: value for key, value in os.environ.items() if key != "MPLBACKEND"}
    done = subprocess.run([sys.executable, "-c", _SCRIPT, preset], capture_output=True,
                          text=True, env=env, timeout=120)
    assert done.returncode == 0, done.stderr[-2000:]
    found = json.loads(done.stdout.splitlines()[-1])
    assert "paxos_exp.analysis.plots" in found["modules"]
    assert "paxos_exp.analysis.report" in found["modules"]
    assert found["before"] == (None if preset == "none" else preset)
    # Unchosen stays unchosen (matplotlib picks one when a figure is first shown).
    assert found["after"] == found["before"]
