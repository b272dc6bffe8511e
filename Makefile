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
	$(BIN)/pip install -q -e '.[api,dev,transformer]'
	touch $(STAMP)

setup: $(STAMP)

# The HTTP API on 127.0.0.1:8000 with the shipped model; prints a usable API key on first start
# (kept in var/local_api_key.txt). HOST, PORT and WORKERS may be overridden: make run PORT=9000.
HOST ?= 127.0.0.1
PORT ?= 8000
WORKERS ?= 1
# Bytecode of the service's own modules first (about 0.13 s of every start where the environment
# sets PYTHONDONTWRITEBYTECODE, as some shells and images do; a no-op when up to date).
run: $(STAMP)
	$(BIN)/python -m compileall -q api model decision_screen training
	$(BIN)/decision-screen serve --host $(HOST) --port $(PORT) --workers $(WORKERS)

test: $(STAMP) browser
	$(BIN)/python -m pytest -n 2

test-all: $(STAMP) browser
	$(BIN)/python -m pytest -n 2 -m ""

bench: $(STAMP)
	$(BIN)/python bench/bench_rules.py

clean:
	rm -rf $(VENV) out var .pytest_cache

# Chromium (Debian's, driven by Playwright) and CJK fonts for the browser tests of tests/web.
.PHONY: browser
browser:
	command -v chromium >/dev/null || (apt-get update && apt-get install -y chromium)
	dpkg -s fonts-noto-cjk >/dev/null 2>&1 || (apt-get update && apt-get install -y fonts-noto-cjk)
