"""Quiet runs: the library messages a learner cannot act on are dropped (by exact text, nothing else),
and while the live training panel shows progress no other progress bar is drawn."""

import logging
import warnings

import pytest
import tqdm.std

from lora_nb import quiet
from lora_nb.config import Config
from lora_nb.notebook.jobs import start_training
from lora_nb.notebook.live import LiveTrainDisplay
from lora_nb.progress import quiet_progress
from lora_nb.progress import tqdm as kit_tqdm

pytestmark = pytest.mark.usefixtures("default_language")

BNB = ("bitsandbytes.backends.cpu.ops", "Failed to load CPU gemm_4bit_forward from kernels-community: %s. Please make "
       "sure you already `pip install kernels` and the kernels >= 0.11.1")
TORCHVISION = ("transformers.utils.import_utils", "`CLIPImageProcessor` requires torchvision (not installed); falling "
               "back to `CLIPImageProcessorPil` for backward compatibility. Install torchvision to use the default "
               "backend, or import `CLIPImageProcessorPil` directly to silence this warning.")


class _Records(logging.Handler):
    def __init__(self):
        super().__init__(logging.WARNING)
        self.messages, self.seen = [], []

    def emit(self, record):  # a record that reaches two of the loggers below is counted once
        if not any(r is record for r in self.seen):
            self.seen.append(record)
            self.messages.append(f"{record.name}: {record.getMessage()}")


@pytest.fixture
def log_records():
    """WARNING+ records of every logger a notebook shows (transformers/diffusers do not propagate)."""
    h = _Records()
    loggers = [logging.getLogger(n) for n in ("", "transformers", "diffusers", "bitsandbytes", "accelerate", "peft")]
    for lg in loggers:
        lg.addHandler(h)
    yield h.messages
    for lg in loggers:
        lg.removeHandler(h)


def test_exactly_the_named_library_messages_are_dropped(log_records):
    import lora_nb  # noqa: F401  (the filters are installed on import)

    for name, msg in (BNB, TORCHVISION):
        logging.getLogger(name).warning(msg, "No module named 'kernels'") if "%s" in msg else \
            logging.getLogger(name).warning(msg)
    # the same loggers' other warnings, and similar text elsewhere, still come through
    logging.getLogger(BNB[0]).warning("Register pytorch bitsandbytes kernels because no native library found.")
    logging.getLogger(TORCHVISION[0]).warning("`Foo` requires torchvision (not installed)")
    logging.getLogger("lora_nb.elsewhere").warning(TORCHVISION[1])
    assert log_records == [f"{BNB[0]}: Register pytorch bitsandbytes kernels because no native library found.",
                           f"{TORCHVISION[0]}: `Foo` requires torchvision (not installed)",
                           f"lora_nb.elsewhere: {TORCHVISION[1]}"]
    quiet.install()  # idempotent: one filter per logger
    assert sum(isinstance(f, quiet._DropMessages) for f in logging.getLogger(BNB[0]).filters) == 1


def test_kit_and_library_bars_are_off_only_inside_quiet_progress():
    import diffusers.utils.logging as dl

    assert not kit_tqdm(range(3), desc="a").disable
    with quiet_progress():
        assert kit_tqdm(range(3), desc="b").disable and not dl.is_progress_bar_enabled()
        with quiet_progress():
            pass
        assert kit_tqdm(range(3)).disable  # still quiet after a nested block ends
    assert not kit_tqdm(range(3), desc="c").disable and dl.is_progress_bar_enabled()


def test_a_notebook_training_run_is_quiet_and_draws_no_other_bars(tiny_sd15, tiny_dataset, tmp_path, monkeypatch,
                                                                  log_records, capsys):
    bars = []
    real_init = tqdm.std.tqdm.__init__

    def spy(self, *args, **kwargs):  # (description, drawn?) when created: close() sets disable later
        real_init(self, *args, **kwargs)
        bars.append((kwargs.get("desc") or getattr(self, "desc", ""), not self.disable))

    monkeypatch.setattr(tqdm.std.tqdm, "__init__", spy)
    # 8+ images so that the "caching latents" bar would be drawn, text embeddings cached, samples drawn
    cfg = Config(pretrained_model=str(tiny_sd15), family="sd15", train_data_dir=str(tiny_dataset), resolution=64,
                 min_bucket_reso=64, max_bucket_reso=64, optimizer="adamw", learning_rate=1e-3,
                 output_dir=str(tmp_path / "run"), save_formats=["kohya"], save_state=False, max_train_steps=2,
                 sample_prompts=["toycircle"], sample_every_n_steps=2, sample_steps=1, cache_latents="memory",
                 cache_text_embeddings="yes")
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")  # what Python shows in a notebook: all but deprecation notes
        warnings.filterwarnings("ignore", category=DeprecationWarning)
        warnings.filterwarnings("ignore", category=PendingDeprecationWarning)
        job = start_training(cfg, LiveTrainDisplay(every=1, headless=False), background=False)
    assert job.result.steps == 2 and job.display.samples
    assert [f"{w.category.__name__}: {w.message}" for w in caught] == []
    assert log_records == []
    assert bars and [d for d, drawn in bars if drawn] == []
    # the same run without the live display keeps its bars (the panel is what replaces them)
    bars.clear()
    start_training(cfg.replace(output_dir=str(tmp_path / "run2")), None, background=False)
    assert {"train", "Loading weights"} <= {d for d, drawn in bars if drawn}
