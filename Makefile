# The two commands of README's quick start: `make run` and `make test`. Both create .venv
# from the package registries on first use; nothing else needs to be installed by hand.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: run test test-all setup bench clean

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip
	$(BIN)/pip install -q -e '.[api,dev]'
	touch $(STAMP)

setup: $(STAMP)

run: $(STAMP)
	mkdir -p out
	$(BIN)/decision-screen screen --input examples/matters.csv --output out/screened.xlsx
	$(BIN)/decision-screen screen --input examples/matters.csv --output out/screened.jsonl
	@echo "answers written to out/screened.xlsx and out/screened.jsonl"

test: $(STAMP)
	$(BIN)/python -m pytest -n 2

test-all: $(STAMP)
	$(BIN)/python -m pytest -n 2 -m ""

bench: $(STAMP)
	$(BIN)/python bench/bench_rules.py

clean:
	rm -rf $(VENV) out var .pytest_cache
