# `make demo` and `make test` each create (or reuse) .venv in the checkout, install, and run.
PYTHON ?= python3
VENV   ?= .venv
PY     := $(VENV)/bin/python
PIP    := $(PY) -m pip

.PHONY: demo test install-dev install-demo bench lint clean

$(PY):
	$(PYTHON) -m venv $(VENV)
	$(PIP) install --quiet --upgrade pip

$(VENV)/.dev-installed: pyproject.toml setup.py shoal/document/_fast.c | $(PY)
	$(PIP) install --quiet -e '.[dev]'
	touch $@

$(VENV)/.demo-installed: pyproject.toml setup.py shoal/document/_fast.c | $(PY)
	$(PIP) install --quiet -e '.[text]'
	touch $@

install-dev: $(VENV)/.dev-installed
install-demo: $(VENV)/.demo-installed

demo: install-demo
	$(VENV)/bin/shoal hello

test: install-dev
	$(PY) -m pytest -q

bench: install-dev
	$(PY) benchmarks/bench_core.py

lint: install-dev
	$(VENV)/bin/ruff check shoal tests benchmarks
	$(PYTHON) ../shared/tools/check_layers.py .

clean:
	rm -rf $(VENV) .pytest_cache
