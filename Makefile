# Set-up commands (README "Set-up"): `make demo OUT=DIR` and `make test`. Each installs what it needs,
# from the lock only: requirements/lock.txt holds the exact versions (with hashes) the suite passes with,
# for CPython 3.11 on Linux x86-64 with the CPU build of torch. Regenerate it with `make lock`.
PY ?= $(shell command -v python3.11 || echo python3)
VENV ?= .venv
OUT ?= demo_out
LOCK := requirements/lock.txt
PIP_TOOLS := pip-tools==7.6.2
export HF_HUB_OFFLINE ?= 1
export TRANSFORMERS_OFFLINE ?= 1
export HF_HUB_DISABLE_TELEMETRY ?= 1

# the locked stack, then the kit itself without dependencies (everything it needs is in the lock)
$(VENV)/.installed: $(LOCK) pyproject.toml
	$(PY) -c 'import sys; sys.exit(0 if sys.version_info[:2] == (3, 11) else "the lock is for Python 3.11: run make PY=python3.11 (this is " + sys.version.split()[0] + ")")'
	$(PY) -m venv $(VENV)
	$(VENV)/bin/python -m pip install -q --require-hashes -r $(LOCK)
	$(VENV)/bin/python -m pip install -q --no-deps --no-build-isolation -e .
	touch $@

setup: $(VENV)/.installed

demo: setup
	$(VENV)/bin/lora-nb demo --out "$(OUT)"

test: setup
	$(VENV)/bin/python -m pytest -q

# ruff, configured in pyproject.toml (line length 119 as diffusers); CI runs it before the tests
lint: setup
	$(VENV)/bin/ruff check .

doctor: setup
	$(VENV)/bin/lora-nb doctor

bench: setup
	$(VENV)/bin/python bench/train_step.py

# Regenerate the lock from pyproject.toml's ranges + requirements/lock.in (run `make test-latest` first)
lock:
	$(PY) -m venv build/pip-tools && build/pip-tools/bin/python -m pip install -q "$(PIP_TOOLS)"
	build/pip-tools/bin/pip-compile -q --extra dev --strip-extras --unsafe-package lora-nb --generate-hashes \
		--no-emit-index-url --no-emit-find-links --output-file $(LOCK) pyproject.toml requirements/lock.in

# Colab's runtime (requirements/colab-*.txt: its published package versions) with a CPU torch, the kit
# installed exactly as notebook 00's install cell installs it, then the notebooks and the core tests
test-colab:
	$(PY) scripts/colab_leg.py --venv .venv-colab

# the newest release of everything pyproject.toml allows (no lock): what a new user gets today
test-latest:
	$(PY) scripts/latest_leg.py --venv .venv-latest

# notebook install cells and README badges from the one install source (pyproject.toml [project.urls])
sync-source:
	$(PY) scripts/sync_source.py

# the widget forms and notebooks' helpers under ipywidgets 7 (older Colab images ship 7.7), side by side
# with the 8.x the venv has: version 7 goes into build/ipywidgets7 and shadows it through PYTHONPATH
test-ipywidgets7: setup
	$(VENV)/bin/python -m pip install -q --no-deps --target build/ipywidgets7 "ipywidgets==7.8.5" \
		"widgetsnbextension==3.6.10" "jupyterlab_widgets==1.1.11" ipython_genutils
	PYTHONPATH=build/ipywidgets7 $(VENV)/bin/python -m pytest -q tests/test_ui.py \
		tests/test_caption_widget.py tests/test_project.py

# on a machine with a CUDA GPU (uses its torch; full-size random-weight models, nothing downloaded)
bench-gpu:
	$(PY) bench/gpu_train.py && $(PY) bench/memory_fit.py --out bench/memory_fit.json

# issue 18's GPU proof in one call (bench/README.md "GPU proof"): gpu-proof on the GPU machine (its python3),
# gpu-proof-tiny the same steps on the CPU with tiny shapes, gpu-wheels the wheels the GPU machine lacks
gpu-proof:
	PYTHON=$(PY) bash bench/gpu_proof.sh

gpu-proof-tiny: setup
	PYTHON=$(VENV)/bin/python bash bench/gpu_proof.sh --tiny

gpu-wheels: setup
	PYTHON=$(VENV)/bin/python bash bench/gpu_proof.sh --download-wheels

.PHONY: setup demo test lint doctor bench lock test-colab test-latest sync-source test-ipywidgets7 bench-gpu gpu-proof \
	gpu-proof-tiny gpu-wheels
