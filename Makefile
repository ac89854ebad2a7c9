# rulekd: set-up, demo, tests, benchmarks. Every target creates .venv when missing.
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
PIP := $(PY) -m pip
# torch pinned to the CPU build that lies on this machine's disk; an unpinned
# torch pulls a multi-GB CUDA build.
TORCH := torch==2.13.0
STAMP := $(VENV)/.installed

.PHONY: setup demo test bench bench-full clean

setup: $(STAMP)

$(STAMP): pyproject.toml Makefile
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PIP) install --quiet --upgrade pip
	$(PIP) install --quiet "$(TORCH)"
	$(PIP) install --quiet -e ".[torch,report,test,parquet]"
	@# Best effort: headless Chromium for the audit report's browser test (skipped without it).
	-@command -v chromium >/dev/null 2>&1 || { command -v apt-get >/dev/null 2>&1 && [ "$$(id -u)" = 0 ] && \
	  DEBIAN_FRONTEND=noninteractive timeout 300 apt-get install -y -q --no-install-recommends chromium \
	  >/dev/null 2>&1; } || echo "chromium not installed: the audit HTML browser test will be skipped"
	touch $(STAMP)

demo: setup
	$(VENV)/bin/rulekd demo

# Two workers (pytest-xdist), whole files per worker so that module fixtures are built once:
# the suite takes about 4 minutes on 2 cores instead of 7.
test: setup
	$(PY) -m pytest -q -n 2 --dist loadfile src tests

bench: setup
	$(PIP) install --quiet -e ".[torch,report,test,parquet,bench]"
	$(PY) -m benchmarks --profile quick

bench-full: setup
	$(PIP) install --quiet -e ".[torch,report,test,parquet,bench]"
	$(PY) -m benchmarks --profile full

clean:
	rm -rf $(VENV) build *.egg-info src/*.egg-info
