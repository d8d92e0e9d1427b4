# kennai: the two commands of the README are `make demo` and `make test`; CI runs `make lint` first.
PYTHON ?= python3
VENV   := .venv
PY     := $(VENV)/bin/python
STAMP  := $(VENV)/.installed

.PHONY: setup demo test lint bench clean

$(STAMP): pyproject.toml web/package-lock.json
	bash scripts/setup_system.sh
	npm --prefix web ci --no-audit --no-fund --loglevel=error
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q -e ".[test]"
	touch $(STAMP)

setup: $(STAMP)

demo: setup
	$(VENV)/bin/kennai demo

test: setup
	$(PY) -m pytest -q -rs

lint: setup
	$(VENV)/bin/ruff check src api tests bench
	$(VENV)/bin/mypy

# The access benchmark against every peer, quickly (bench/*.py say how to run each in full).
bench: setup
	PYTHONPATH=src $(PY) bench/access.py --quick

clean:
	rm -rf build .pytest_cache
