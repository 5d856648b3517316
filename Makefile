# Two commands on a fresh machine: `make demo` (the simulated token end to end) and
# `make test` (the whole suite). Both create .venv and install the pinned dependencies.

VENV ?= .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed-stamp

.PHONY: demo test lint typecheck unit hil bench clean

$(STAMP): pyproject.toml
	python3 -m venv $(VENV)
	$(VENV)/bin/pip install --quiet --disable-pip-version-check -e '.[dev]'
	touch $(STAMP)

demo: $(STAMP)
	$(PY) -m tokenctl.demo

test: lint typecheck unit hil

lint: $(STAMP)
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check host hil_tests tests bench

typecheck: $(STAMP)
	$(VENV)/bin/mypy host/tokenctl
	# The firmware against MicroPython's own stubs: a CPython-only call fails here.
	$(PY) tests/typecheck_firmware.py

unit: $(STAMP)
	$(VENV)/bin/pytest -q tests

hil: $(STAMP)
	$(VENV)/bin/pytest -q hil_tests

bench: $(STAMP)
	$(PY) bench/run.py

clean:
	rm -rf build $(VENV)
