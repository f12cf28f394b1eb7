# Every target installs what it needs into .venv first, so a fresh clone needs nothing but Python 3.11.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: demo test check bench format clean install

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	touch $(STAMP)

install: $(STAMP)

# 2,000 members through `tightknit-async import members` at a 400 req/s test rate (the fake
# server's limit is raised to match; the real API allows 50), then the same again: all skipped.
demo: $(STAMP)
	$(BIN)/tightknit-async demo --members 2000 --rate 400

test: $(STAMP)
	$(BIN)/python -m pytest

check: $(STAMP)
	$(BIN)/ruff format --check tightknit_async tests benchmarks
	$(BIN)/ruff check tightknit_async tests benchmarks
	$(BIN)/mypy tightknit_async
	$(BIN)/mypy tests/typing/usage.py

# Every table in the README's Benchmarks section, each measured against its baselines in one run.
bench: $(STAMP)
	$(BIN)/python benchmarks/overhead.py
	$(BIN)/python benchmarks/idempotency.py
	$(BIN)/python benchmarks/decode.py
	$(BIN)/python benchmarks/bulk_memory.py
	$(BIN)/python benchmarks/governor.py
	$(BIN)/python benchmarks/redis_governor.py

format: $(STAMP)
	$(BIN)/ruff format tightknit_async tests benchmarks
	$(BIN)/ruff check --fix tightknit_async tests benchmarks

clean:
	rm -rf $(VENV) build dist .mypy_cache .pytest_cache .ruff_cache
