# Two set-up commands (README): `make demo OUT=DIR` and `make test`. Each installs what it needs.
PY ?= python3
VENV ?= .venv
OUT ?= demo_out
# CPU torch for tests/demo on a machine without a GPU; on Colab the preinstalled torch is kept.
TORCH_PIN ?= torch==2.13.0

$(VENV)/.installed: pyproject.toml
	$(PY) -m venv $(VENV)
	$(VENV)/bin/python -m pip install -q --upgrade pip
	$(VENV)/bin/python -m pip install -q "$(TORCH_PIN)"
	$(VENV)/bin/python -m pip install -q -e ".[dev]"
	touch $@

setup: $(VENV)/.installed

demo: setup
	HF_HUB_OFFLINE=1 $(VENV)/bin/lora-nb demo --out "$(OUT)"

test: setup
	HF_HUB_OFFLINE=1 $(VENV)/bin/python -m pytest -q

bench: setup
	HF_HUB_OFFLINE=1 $(VENV)/bin/python bench/train_step.py

# on a machine with a CUDA GPU (uses its torch; full-size random-weight models, nothing downloaded)
bench-gpu:
	$(PY) bench/gpu_train.py && $(PY) bench/memory_fit.py --out bench/memory_fit.json

.PHONY: setup demo test bench bench-gpu
