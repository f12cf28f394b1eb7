# Every target installs what it needs into .venv first, so a fresh clone needs nothing but Python 3.11.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
DOCS_STAMP := $(VENV)/.installed-docs
BENCH_STAMP := $(VENV)/.installed-bench

.PHONY: demo test check docs bench soak mutation format clean install

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
	$(BIN)/ruff format --check tightknit_async tests benchmarks examples
	$(BIN)/ruff check tightknit_async tests benchmarks examples
	$(BIN)/mypy tightknit_async
	$(BIN)/mypy examples
	$(BIN)/mypy tests/typing/usage.py

$(DOCS_STAMP): pyproject.toml $(STAMP)
	$(BIN)/python -m pip install --quiet -e '.[docs]'
	touch $(DOCS_STAMP)

# The docs site (mkdocs.yml, docs/, the API reference from the docstrings) into site/. --strict:
# a broken link, a missing page or an unknown reference fails the build. The variable silences
# Material's notice about MkDocs 2.0, printed on every build.
docs: $(DOCS_STAMP)
	NO_MKDOCS_2_WARNING=1 $(BIN)/mkdocs build --strict

$(BENCH_STAMP): pyproject.toml $(STAMP)
	$(BIN)/python -m pip install --quiet -e '.[bench]'
	touch $(BENCH_STAMP)

# Every table in docs/benchmarks.md, each measured against its baselines in one run:
# benchmarks/run_all.py runs each script in turn, prints its tables and writes them (with the
# machine, the commands and their timings) to benchmarks/results.json. About 15 minutes on 2 cores;
# `make bench BENCH_ARGS=--quick` for a smoke run (about 3.5 minutes).
# The charts of docs/benchmarks.md (docs/img/*.svg) are redrawn too, from that run (quick or not;
# `BENCH_ARGS="--plots ''"` for none): the `bench` extra (matplotlib) is installed for them.
# instructions.py counts instructions under valgrind, installed here when missing (as root).
BENCH_ARGS ?=
bench: $(BENCH_STAMP)
	@command -v valgrind >/dev/null || { [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null && \
		apt-get update -qq && apt-get install -y -qq valgrind >/dev/null; } || \
		echo "valgrind is not installed: benchmarks/instructions.py will be skipped"
	$(BIN)/python benchmarks/run_all.py $(BENCH_ARGS)

# 200,000 calls through one client against the fake server (in another process) with faults on:
# RSS, open sockets, asyncio tasks and pooled connections sampled as it runs, then a verdict (flat
# memory, bounded sockets and tasks, 0 lost calls, 0 duplicate mutations). About 2 minutes on 2
# cores; `make soak SOAK_ARGS=--quick` for 20,000 calls. Not part of `make test`.
SOAK_ARGS ?=
soak: $(STAMP)
	$(BIN)/python benchmarks/soak.py $(SOAK_ARGS)

# Mutation testing (mutmut) of the pure cores: retry, the GCRA slot book, the call state machine,
# the exceptions and the idempotency keys, each against its own tests, in copies under mutants/.
# Prints one line per module (killed/total score) and the overall score; the mutants listed in
# tests/mutation/equivalent.txt are left out. Under 5 minutes on 2 cores; not part of `make test`.
MUTATION_ARGS ?=
mutation: $(STAMP)
	$(BIN)/python tests/mutation/run.py $(MUTATION_ARGS)

format: $(STAMP)
	$(BIN)/ruff format tightknit_async tests benchmarks
	$(BIN)/ruff check --fix tightknit_async tests benchmarks

clean:
	rm -rf $(VENV) build dist .mypy_cache .pytest_cache .ruff_cache
