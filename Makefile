# Every target builds .venv from the project's own files when it is missing or stale.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: demo test check lint bench clean

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

test: lint
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
