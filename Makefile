# Two entry points: `make demo` (the main job on the embedded SQLite default) and `make test`;
# `make test-fast` leaves out the tests marked slow (processes, Prefect, the wheel) for the edit-test loop.
PYTHON ?= python3.11
VENV   ?= .venv
BIN     = $(VENV)/bin

$(BIN)/.installed: pyproject.toml constraints.txt
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install -q -c constraints.txt -e '.[test,bench]'
	touch $@

install: $(BIN)/.installed

demo: install
	$(BIN)/etablera init
	$(BIN)/etablera demo --walkthrough

test: install
	$(BIN)/pytest $(PYTEST_ARGS)

test-fast: install
	$(BIN)/pytest -m "not slow" $(PYTEST_ARGS)

bench: install
	$(BIN)/python -m benchmarks

.PHONY: install demo test test-fast bench
