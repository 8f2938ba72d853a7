# Everything installs from uv.lock, so a fresh machine, CI and the Docker image get
# the set of packages that was tested. `make lock` refreshes it (see the README).
PYTHON ?= python3
UV_VERSION := 0.13.9
VENV := .venv
BIN := $(VENV)/bin
UV := $(BIN)/uv
STAMP := $(VENV)/.installed
HOST ?= 127.0.0.1
PORT ?= 8000

.PHONY: run test system-packages lint lock bench bench-peers clean

# The venv carries its own pinned uv, so nothing is needed beyond python3 with venv.
$(UV):
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --disable-pip-version-check uv==$(UV_VERSION)

# --locked: stop if uv.lock no longer matches pyproject.toml (run `make lock`);
# --inexact: leave the venv's own pip and uv where they are.
$(STAMP): $(UV) uv.lock pyproject.toml
	$(UV) sync --locked --inexact --extra dev
	touch $(STAMP)

run: $(STAMP)
	$(BIN)/festival db upgrade
	$(BIN)/festival demo
	FESTIVAL_MAIL_DIR=$${FESTIVAL_MAIL_DIR:-mail} $(BIN)/festival serve --host $(HOST) --port $(PORT)

system-packages:
	@sh tests/system-packages.sh

# Two workers (pytest-xdist, a file per worker at a time: module fixtures are made
# once), then, alone, the tests marked serial: those that time something or start
# servers of their own. Exit 5 is "none of those selected" (PYTEST_ARGS=tests/x).
test: $(STAMP) system-packages
	$(BIN)/pytest -n 2 --dist loadfile -m "not serial" $(PYTEST_ARGS)
	$(BIN)/pytest -m serial $(PYTEST_ARGS) || [ $$? -eq 5 ]

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy
	$(BIN)/lint-imports

# Resolve the newest releases pyproject.toml allows, then install them: run the
# whole suite (and make bench where the stack under the live path moved) before
# committing the new uv.lock.
lock: $(UV)
	$(UV) lock --upgrade
	$(UV) sync --locked --inexact --extra dev
	touch $(STAMP)

bench: $(STAMP)
	@command -v wrk >/dev/null || (apt-get update -qq && apt-get install -y -qq wrk) \
		|| echo "bench: install wrk (apt-get install wrk) for the HTTP load benchmarks"
	$(BIN)/python -m bench

# Festival's door and registration beside pretix's (issue 18), in one run: pretix
# from PyPI into bench/peers/pretix/.venv (pinned there), the machine's PostgreSQL
# and Redis (Redis dbs 10 to 12). Not part of `make bench` or `make test`.
PRETIX_STAMP := bench/peers/pretix/.venv/.installed
$(PRETIX_STAMP): bench/peers/pretix/install.sh bench/peers/pretix/constraints.txt
	sh bench/peers/pretix/install.sh

bench-peers: $(STAMP) $(PRETIX_STAMP)
	@command -v wrk >/dev/null || (apt-get update -qq && apt-get install -y -qq wrk)
	$(BIN)/python -m bench.peers $(BENCH_ARGS)

clean:
	rm -rf $(VENV) festival.db festival.db-* .mypy_cache .ruff_cache
