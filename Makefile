# neurosim: two commands from a fresh clone.
#   make demo   set up .venv and train DFC-SSA on MNIST (torch backend, CPU)
#   make test   set up .venv and run the test suite
# setup installs the extras: dev (tests, lint) and sweep (Ray Tune + Optuna for
# neurosim sweep / compare; about 80 s and 0.5 GB more).
PYTHON ?= python3
VENV   := .venv
PY     := $(VENV)/bin/python
TORCH_VERSION ?= 2.13.0
# Extra pip arguments for the torch install, e.g. an index serving CPU wheels.
TORCH_PIP_ARGS ?=
DEMO_OUT ?= runs/demo

.PHONY: setup demo test lint format clean

setup: $(VENV)/.installed

# Installs the CPU build of torch first when no torch is present: a bare torch
# requirement in a fresh environment pulls several GB of CUDA packages.
$(VENV)/.installed: pyproject.toml
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -c "import torch" 2>/dev/null || $(PY) -m pip install "torch==$(TORCH_VERSION)" $(TORCH_PIP_ARGS)
	$(PY) -m pip install -e ".[dev,sweep]" --config-settings editable_mode=compat
	touch $@

# A short DFC-SSA schedule (models/configs/mnist/dfc-ssa-demo.yaml says how it differs
# from the paper's cell); each run starts afresh in $(DEMO_OUT). --overwrite deletes
# nothing: an earlier demo run is moved into $(DEMO_OUT)/replaced-<time>/.
demo: setup
	$(VENV)/bin/neurosim train --config models/configs/mnist/dfc-ssa-demo.yaml --out $(DEMO_OUT) --overwrite

test: setup
	$(PY) -m pytest

lint: setup
	$(VENV)/bin/ruff check . && $(VENV)/bin/ruff format --check .

format: setup
	$(VENV)/bin/ruff format . && $(VENV)/bin/ruff check --fix .

clean:
	rm -rf $(VENV) build *.egg-info
