# The two commands a user needs: `make demo` and `make test`.
# Each creates .venv if missing and installs lumos with its test extras; a second run
# only re-installs when pyproject.toml changed.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.lumos-installed
DEMO_HOME ?= lumos-workspace
CHROMIUM := /usr/bin/chromium

.PHONY: demo test lint clean browser postgres triton

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip

$(STAMP): pyproject.toml | $(BIN)/python
	$(BIN)/pip install --quiet -e '.[test]'
	touch $(STAMP)

demo: $(STAMP)
	LUMOS_HOME=$(DEMO_HOME) $(BIN)/lumos demo

# The browser tests drive Debian's chromium (never a downloaded browser). As root it is
# installed here; otherwise the browser tests are skipped with that reason.
browser:
	@test -x $(CHROMIUM) || { [ "$$(id -u)" = 0 ] && \
		{ apt-get install -y -q chromium >/dev/null 2>&1 || \
		  { apt-get update -q >/dev/null 2>&1 && apt-get install -y -q chromium >/dev/null 2>&1; }; }; } || \
		echo "chromium could not be installed: the browser tests will be skipped"

# A sweep's test starts Debian's PostgreSQL server in a temporary folder: installed here as
# root; otherwise that test is skipped with the reason.
postgres:
	@ls /usr/lib/postgresql/*/bin/pg_ctl >/dev/null 2>&1 || { [ "$$(id -u)" = 0 ] && \
		{ apt-get install -y -q postgresql >/dev/null 2>&1 || \
		  { apt-get update -q >/dev/null 2>&1 && apt-get install -y -q postgresql >/dev/null 2>&1; }; }; } || \
		echo "postgresql could not be installed: the PostgreSQL sweep test will be skipped"

# The Triton tests run the real Triton Inference Server bundled in NVIDIA's nvidia-pytriton
# wheel. It pins numpy < 2, so it gets a venv of its own; where it cannot be installed (not
# x86-64 Linux with glibc >= 2.35), those tests are skipped with that reason.
TRITON_VENV := .venv-triton
$(TRITON_VENV)/.installed:
	@{ $(PYTHON) -m venv $(TRITON_VENV) && \
	   $(TRITON_VENV)/bin/pip install -qq 'nvidia-pytriton>=0.7' onnxruntime && \
	   touch $@; } || echo "nvidia-pytriton could not be installed: the Triton tests will be skipped"

triton: $(TRITON_VENV)/.installed

test: $(STAMP) browser postgres triton
	$(BIN)/ruff check src tests benchmarks
	$(BIN)/lint-imports
	$(BIN)/python -m pytest -n 2 -q

lint: $(STAMP)
	$(BIN)/ruff check src tests benchmarks
	$(BIN)/ruff format --check src tests benchmarks

clean:
	rm -rf $(VENV) $(TRITON_VENV) $(DEMO_HOME) build src/*.egg-info
