"""The cluster tests' own helpers, checked without a cluster (these run in `make test`)."""

from __future__ import annotations

import gc
import os
import warnings

from cluster_helpers import start_paxos_exp


def test_start_paxos_exp_leaves_no_log_file_open_here(tmp_path, monkeypatch):
    fake = tmp_path / "bin" / "paxos-exp"
    fake.parent.mkdir()
    fake.write_text('#!/bin/sh\necho "ran with $*"\n')
    fake.chmod(0o755)
    monkeypatch.setenv("PATH", f"{fake.parent}{os.pathsep}{os.environ['PATH']}")
    log = tmp_path / "run.log"
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        process = start_paxos_exp(["name=x"], tmp_path, log)
        try:
            assert process.wait(timeout=60) == 0
        finally:
            if process.poll() is None:
                process.kill()
                process.wait()
        gc.collect()  # a file object dropped unclosed warns when it is collected
    unclosed = [str(w.message) for w in caught if issubclass(w.category, ResourceWarning)]
    assert not unclosed, unclosed
    assert log.read_text() == "ran with name=x\n"
    opened = {os.readlink(f"/proc/self/fd/{fd}") for fd in os.listdir("/proc/self/fd")
              if os.path.islink(f"/proc/self/fd/{fd}")}
    assert str(log) not in opened
