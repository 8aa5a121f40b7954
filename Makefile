# teahouse — `make run` starts a server, `make test` checks everything.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed
DIST_STAMP := $(VENV)/.dist-installed

.PHONY: install run test lint format bench dist irctest clean

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
	$(BIN)/ruff check src tests bench packaging
	$(BIN)/ruff format --check src tests bench packaging
	$(BIN)/mypy

format: install
	$(BIN)/ruff check --fix src tests bench packaging
	$(BIN)/ruff format src tests bench packaging

# The suite on one worker process per core (pytest-xdist): most integration tests wait on
# a server, a terminal or a browser rather than compute. Each test has its own ports (port 0)
# and temporary directory. `make test PYTEST_ARGS=` runs it in one process. (Four workers on
# two cores took 2 min instead of 3, but the tests that time throttles and heartbeats
# then failed now and then.)
PYTEST_ARGS ?= -n auto --dist worksteal
test: lint
	$(BIN)/python -m pytest $(PYTEST_ARGS)

# The IRC conformance suite (third_party/irctest) against the IRC door, with a floor: fewer
# passes or more failures than this fail the target (CI runs it). See docs/irc.md.
IRCTEST_MIN_PASSED ?= 258
IRCTEST_MAX_FAILED ?= 8
irctest: install
	mkdir -p var
	IRCTEST_MIN_PASSED=$(IRCTEST_MIN_PASSED) IRCTEST_MAX_FAILED=$(IRCTEST_MAX_FAILED) \
		tools/irctest/against-teahouse.sh $(BIN)/teahouse var/irctest.log

# The standard benchmark suite: teahouse's two doors against ngIRCd and InspIRCd (Debian
# packages); writes docs/benchmarks.md and bench/results.json. BENCH_ARGS=--quick: a short check.
bench: install
	@command -v ngircd >/dev/null || echo "note: ngircd is not installed (apt-get install ngircd)"
	@command -v inspircd >/dev/null || echo "note: inspircd is not installed (apt-get install inspircd)"
	$(BIN)/python bench/run.py $(BENCH_ARGS)

$(DIST_STAMP): $(STAMP)
	$(BIN)/python -m pip install --quiet -e '.[dev,dist]'
	touch $(DIST_STAMP)

# dist/: the wheel and sdist (hatchling, through `build`), and teahouse-gui, the desktop client
# as one Linux x86-64 executable (PyInstaller, packaging/teahouse-gui.spec). The executable
# carries Qt's xcb plugin and the libxcb-* libraries it links, taken from this machine: install
# them first (apt-get install libxcb-cursor0 libxcb-icccm4 libxcb-keysyms1 libxcb-image0
# libxcb-render-util0 libxcb-xkb1 libxkbcommon-x11-0; .ci/run does), or the spec stops.
dist: $(DIST_STAMP)
	rm -rf dist build/pyinstaller
	$(BIN)/python -m build --no-isolation --outdir dist .
	$(BIN)/pyinstaller --noconfirm --log-level WARN --distpath dist \
		--workpath build/pyinstaller packaging/teahouse-gui.spec
	@ls -l dist

clean:
	rm -rf $(VENV) var .pytest_cache .mypy_cache .ruff_cache dist build
