# Two commands do all set-up on a fresh machine with only Python 3 and pip:
#   make run   - create .venv, install, run the main job on its default configuration
#   make test  - create .venv, install with test extras, run the whole test suite
#   make test-fast - the quick lane of the suite (core, in-process engine), for a development loop
#   make test-cluster - as root: a throwaway SLURM cluster and Ray head, and the launcher tests
#                  against them (tests/cluster/run.sh; installs Debian's packages if missing)
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP_RUN := $(VENV)/.installed-run
STAMP_TEST := $(VENV)/.installed-test
STAMP_CLUSTER := $(VENV)/.installed-cluster

.PHONY: run test test-fast test-cluster clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip

$(STAMP_RUN): pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install --quiet -e .
	touch $@

$(STAMP_TEST): pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install --quiet -e '.[test,ray]'
	touch $@ $(STAMP_RUN)

run: $(STAMP_RUN)
	$(BIN)/paxos-exp experiment=quick
	@echo "Results: outputs/sweeps/quick/ (one directory per job)"
	@echo "Report:  outputs/sweeps/quick/report/report.md (rebuild: .venv/bin/paxos-report outputs/sweeps/quick)"

# One worker per core (pytest-xdist; worksteal evens out the long tests) and the slowest tests
# in every log (--durations), to keep the suite under ten minutes.
test: $(STAMP_TEST)
	$(BIN)/python -m pytest -n auto --dist worksteal --durations=30

# The fast lane for a development loop (under a minute): the pure core and the in-process
# engine, no node processes. `make test` is the truth.
test-fast: $(STAMP_TEST)
	$(BIN)/python -m pytest -q -x -m "not slow" tests/core tests/runtime/test_inprocess.py tests/conformance tests/check/test_check_rules.py tests/check/test_check_spelling.py -k "inprocess or not engine"

$(STAMP_CLUSTER): pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install --quiet -e '.[test,ray,submitit]'
	touch $@

# SLURM (munge, MariaDB, slurmdbd, slurmctld, slurmd) and Ray started in one private temporary
# directory, the `cluster` tests run against them, every daemon stopped by its pid on any exit.
test-cluster: $(STAMP_CLUSTER)
	tests/cluster/run.sh

clean:
	rm -rf $(VENV) outputs
