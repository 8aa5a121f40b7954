# teahouse — `make run` starts a server, `make test` checks everything.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed

.PHONY: install run test lint format bench clean

install: $(STAMP)

# The stamp is newer than pyproject.toml once the venv matches it, so `install` is a no-op then.
$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	touch $(STAMP)

run: install
	$(BIN)/teahouse serve $(ARGS)

lint: install
	$(BIN)/ruff check src tests bench
	$(BIN)/ruff format --check src tests bench
	$(BIN)/mypy

format: install
	$(BIN)/ruff check --fix src tests bench
	$(BIN)/ruff format src tests bench

test: lint
	$(BIN)/python -m pytest $(PYTEST_ARGS)

# The standard benchmark suite: teahouse's two doors against ngIRCd and InspIRCd (Debian
# packages); writes docs/benchmarks.md and bench/results.json. BENCH_ARGS=--quick: a short check.
bench: install
	@command -v ngircd >/dev/null || echo "note: ngircd is not installed (apt-get install ngircd)"
	@command -v inspircd >/dev/null || echo "note: inspircd is not installed (apt-get install inspircd)"
	$(BIN)/python bench/run.py $(BENCH_ARGS)

clean:
	rm -rf $(VENV) var .pytest_cache .mypy_cache .ruff_cache
