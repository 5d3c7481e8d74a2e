# The two commands a newcomer types: `make run` and `make test`. Both set up what they need.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed-$(shell cat pyproject.toml setup.py | cksum | cut -d' ' -f1)
EXAMPLE ?= workflows/climate

.PHONY: install run test test-all bench services clean

$(STAMP): pyproject.toml setup.py
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip
	$(BIN)/pip install -q -e '.[dev,hpc]'
	rm -f $(VENV)/.installed-* && touch $(STAMP)

## make install: .venv with sciflow, all extras and dev tools (.venv/bin/sciflow)
install: $(STAMP)

## make run: install, then run a real example workflow on the embedded defaults
run: install
	bash scripts/run-example.sh $(EXAMPLE)

## make services: system packages the tests use (graphviz, SLURM + munge); needs root
services:
	bash scripts/install-services.sh

## make test: everything above, then the default (fast) test suite, on 2 pytest-xdist workers
test: install services
	$(BIN)/python -m pytest -q -n 2 --durations=25

## make test-all: also the slow tests
test-all: install services
	$(BIN)/python -m pytest -q -n 2 -m ''

## make bench: the benchmarks, side by side with Snakemake
bench: install
	$(BIN)/python benchmarks/run.py

clean:
	rm -rf $(VENV) build *.egg-info .pytest_cache
