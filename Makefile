# Every target builds .venv from the project's own files when it is missing or stale.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: demo test test-all check lint bench clean

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	touch $(STAMP)

demo: $(STAMP)
	$(BIN)/goap-engine validate goals.d/production.yaml
	bash examples/run-demo.sh

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy

# The default run leaves out the tests marked slow (a real MLflow server,
# crash and resume loops); CI runs them all.
test: lint
	$(BIN)/python -m pytest -m 'not slow'

test-all: lint
	$(BIN)/python -m pytest

bench: $(STAMP)
	$(BIN)/python benchmarks/validate_speed.py
	$(BIN)/python benchmarks/scaling.py
	$(BIN)/python benchmarks/schema_check.py
	$(BIN)/python benchmarks/run_overhead.py
	$(BIN)/python benchmarks/pddl_bench.py
	$(BIN)/python benchmarks/hardening.py
	$(BIN)/python benchmarks/loading.py

clean:
	rm -rf $(VENV) build dist engine/*.egg-info
