# Two commands do all set-up on a fresh machine with only Python 3 and pip:
#   make run   - create .venv, install, run the main job on its default configuration
#   make test  - create .venv, install with test extras, run the whole test suite
#   make test-fast - the quick lane of the suite (core, in-process engine), for a development loop
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP_RUN := $(VENV)/.installed-run
STAMP_TEST := $(VENV)/.installed-test

.PHONY: run test test-fast clean

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

test: $(STAMP_TEST)
	$(BIN)/python -m pytest

# The fast lane for a development loop (under a minute): the pure core and the in-process
# engine, no node processes. `make test` is the truth.
test-fast: $(STAMP_TEST)
	$(BIN)/python -m pytest -q -x -m "not slow" tests/core tests/runtime/test_inprocess.py tests/conformance -k "inprocess or not engine"

clean:
	rm -rf $(VENV) outputs
