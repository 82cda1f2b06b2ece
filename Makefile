# The two commands a user needs: `make demo` and `make test`.
# Each creates .venv if missing and installs lumos (`make test` with its test extras); a
# second run only re-installs when pyproject.toml changed.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.lumos-installed
BASE_STAMP := $(VENV)/.lumos-base-installed
DEMO_HOME ?= lumos-workspace
CHROMIUM := /usr/bin/chromium
STARTED := $(shell date +%s)

.PHONY: demo test lint clean browser postgres triton

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip

$(STAMP): pyproject.toml | $(BIN)/python
	$(BIN)/pip install --quiet -e '.[test]'
	touch $(STAMP) $(BASE_STAMP)

# The demo needs lumos alone: the test extras (Ultralytics, datumaro, ...) would double its
# set-up time on a fresh clone.
$(BASE_STAMP): pyproject.toml | $(BIN)/python
	$(BIN)/pip install --quiet -e .
	touch $(BASE_STAMP)

demo: $(BASE_STAMP)
	LUMOS_HOME=$(DEMO_HOME) $(BIN)/lumos demo

# A peer the tests run against that cannot be installed: said here, its tests are skipped
# with the reason; where LUMOS_REQUIRE_PEERS=1 (CI), `make test` stops here instead.
unavailable = { echo "$(1) could not be installed: $(2)" >&2; [ "$${LUMOS_REQUIRE_PEERS:-0}" = 0 ]; }
as_root_install = { [ "$$(id -u)" = 0 ] && { apt-get install -y -q $(1) >/dev/null 2>&1 || \
	{ apt-get update -q >/dev/null 2>&1 && apt-get install -y -q $(1) >/dev/null 2>&1; }; }; }

# The browser tests drive Debian's chromium (never a downloaded browser), installed as root.
browser:
	@test -x $(CHROMIUM) || $(call as_root_install,chromium) || \
		$(call unavailable,chromium,the browser tests need it)

# A sweep's test starts Debian's PostgreSQL server in a temporary folder; installed as root.
postgres:
	@ls /usr/lib/postgresql/*/bin/pg_ctl >/dev/null 2>&1 || $(call as_root_install,postgresql) || \
		$(call unavailable,postgresql,the PostgreSQL sweep test needs it)

# The Triton tests run the real Triton Inference Server bundled in NVIDIA's nvidia-pytriton
# wheel. It pins numpy < 2, so it gets a venv of its own (x86-64 Linux with glibc >= 2.35).
TRITON_VENV := .venv-triton
$(TRITON_VENV)/.installed:
	@{ $(PYTHON) -m venv $(TRITON_VENV) && \
	   $(TRITON_VENV)/bin/pip install -qq 'nvidia-pytriton>=0.7' onnxruntime && \
	   touch $@; } || $(call unavailable,nvidia-pytriton,the Triton tests need it)

triton: $(TRITON_VENV)/.installed

# Ends with the slowest ten tests, the arithmetic this CPU took and the time, set-up included.
test: $(STAMP) browser postgres triton
	$(BIN)/ruff check src tests benchmarks
	$(BIN)/lint-imports
	@$(BIN)/python -m pytest -n 2 -q --durations=10; status=$$?; \
		echo "make test: $$(( $$(date +%s) - $(STARTED) )) s in all, set-up included"; exit $$status

lint: $(STAMP)
	$(BIN)/ruff check src tests benchmarks
	$(BIN)/ruff format --check src tests benchmarks

clean:
	rm -rf $(VENV) $(TRITON_VENV) $(DEMO_HOME) build src/*.egg-info
