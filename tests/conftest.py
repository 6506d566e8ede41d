"""Shared fixtures: offline mode, one CPU thread per test process, tiny models built once."""

import os

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
os.environ.setdefault("HF_HUB_DISABLE_TELEMETRY", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
# one torch thread everywhere: the trainer sets one per physical core unless OMP_NUM_THREADS says otherwise
# (env.limit_cpu_threads), and runs compared bitwise across processes need the same thread count
os.environ.setdefault("OMP_NUM_THREADS", "1")

import pytest  # noqa: E402


def pytest_configure(config):
    import torch

    torch.set_num_threads(1)  # CI has 2 cores; tiny models gain nothing from threads


@pytest.fixture(autouse=True)
def _one_torch_thread():
    """Back to one thread after every test: importing rembg (numba's OpenMP) sets torch's count to the
    machine's cores, and the bitwise and thread-count tests compare against one thread."""
    yield
    import torch

    if torch.get_num_threads() != 1:
        torch.set_num_threads(1)


def pytest_collection_modifyitems(config, items):
    import torch

    if torch.cuda.is_available():
        return
    skip = pytest.mark.skip(reason="needs a CUDA GPU")
    for item in items:
        if "gpu" in item.keywords:
            item.add_marker(skip)


@pytest.fixture(scope="session")
def tiny_sd15(tmp_path_factory):
    """Path of a tiny SD1.5-shaped model folder, loadable with from_pretrained like the hub repo."""
    from lora_nb.toy.testing import build_tiny_model

    return build_tiny_model("sd15", tmp_path_factory.mktemp("models") / "tiny-sd15")


@pytest.fixture
def tiny_dataset(tmp_path):
    """A small captioned dataset in kohya layout: two concept folders of 64x64 images."""
    from lora_nb.toy.testing import make_toy_dataset

    return make_toy_dataset(tmp_path / "data")


@pytest.fixture
def train_capture(monkeypatch):
    """train(config) -> (result, the trainer's in-memory models at the final checkpoint), to compare
    saved files with the adapter that produced them."""
    import lora_nb.training.trainer as T

    seen = {}
    real = T.save_checkpoint

    def spy(step, final, **kw):
        seen["models"] = kw["models"]
        return real(step, final, **kw)

    monkeypatch.setattr(T, "save_checkpoint", spy)
    return lambda cfg: (T.train(cfg), seen["models"])


@pytest.fixture
def default_language(monkeypatch):
    """The kit's language as on a fresh machine (no LORA_NB_LANG, nothing set), restored afterwards."""
    from lora_nb import i18n

    monkeypatch.delenv(i18n.ENV_VAR, raising=False)
    i18n.set_language(None)
    yield
    i18n.set_language(None)


@pytest.fixture(scope="session")
def tiny_eval_models(tmp_path_factory):
    """(CLIP folder, DINOv2 folder): tiny random evaluation models with the real classes (evaluate.metrics)."""
    from lora_nb.toy.testing import build_tiny_eval_models

    return build_tiny_eval_models(tmp_path_factory.mktemp("eval-models"))
