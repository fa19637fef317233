# The two commands of the README: `make demo` and `make test`.
VENV ?= .venv
PY := $(VENV)/bin/python
PIP := $(PY) -m pip

.PHONY: demo test lint ui serve install system-deps

$(VENV)/.installed: pyproject.toml
	python3 -m venv $(VENV)
	$(PIP) install -q --upgrade pip
	$(PIP) install -q torch==2.14.1 torchvision==0.29.1
	$(PIP) install -q -e ".[dev]"
	$(PY) -m compileall -q xdeg_pipeline >/dev/null  # as pip does for a wheel (PYTHONDONTWRITEBYTECODE)
	touch $@

install: $(VENV)/.installed

demo: $(VENV)/.installed
	$(VENV)/bin/xdeg demo

# The UI test drives Debian's chromium; install it when missing (needs root and apt).
system-deps:
	@command -v chromium >/dev/null 2>&1 || { \
	  if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then \
	    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null; \
	  else echo "install Debian's chromium (sudo apt-get install chromium) for the UI test"; exit 1; fi; }

# Two workers, a test file each at a time (the machines have 2 cores): about 10 min, not 15.
test: $(VENV)/.installed system-deps
	$(PY) -m pytest -q -n 2 --dist loadfile

lint: $(VENV)/.installed
	$(VENV)/bin/ruff check xdeg_pipeline xdeg_pipeline_tests benchmarks deploy

ui: $(VENV)/.installed
	DAGSTER_HOME=$${DAGSTER_HOME:-$(CURDIR)/data/dagster} $(VENV)/bin/dagster dev -w workspace.yaml

# The explorer on http://127.0.0.1:8765 over the data folder `make demo` built.
serve: $(VENV)/.installed
	$(VENV)/bin/xdeg serve
