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

# the widget forms and notebooks' helpers under ipywidgets 7 (older Colab images ship 7.7), side by side
# with the 8.x the venv has: version 7 goes into build/ipywidgets7 and shadows it through PYTHONPATH
test-ipywidgets7: setup
	$(VENV)/bin/python -m pip install -q --no-deps --target build/ipywidgets7 "ipywidgets==7.8.5" \
		"widgetsnbextension==3.6.10" "jupyterlab_widgets==1.1.11" ipython_genutils
	PYTHONPATH=build/ipywidgets7 HF_HUB_OFFLINE=1 $(VENV)/bin/python -m pytest -q tests/test_ui.py \
		tests/test_caption_widget.py tests/test_project.py

# on a machine with a CUDA GPU (uses its torch; full-size random-weight models, nothing downloaded)
bench-gpu:
	$(PY) bench/gpu_train.py && $(PY) bench/memory_fit.py --out bench/memory_fit.json

.PHONY: setup demo test test-ipywidgets7 bench bench-gpu
