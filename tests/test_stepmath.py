from lora_nb.config import Config
from lora_nb.training.stepmath import checkpoint_steps, sample_steps, total_steps, warmup_steps


def test_total_from_steps_or_epochs():
    assert total_steps(Config(max_train_steps=1500), 400) == 1500
    assert total_steps(Config(max_train_steps=0, max_train_epochs=4), 100) == 400  # Flux LoRA guide: 100 images x 4


def test_warmup_steps_or_ratio():
    assert warmup_steps(Config(lr_warmup_steps=50, lr_warmup_ratio=0.5), 1000) == 50
    assert warmup_steps(Config(lr_warmup_ratio=0.05), 1000) == 50


def test_checkpoints_every_n_and_at_the_end():
    assert checkpoint_steps(Config(save_every_n_steps=500), 1500) == [500, 1000, 1500]
    assert checkpoint_steps(Config(save_every_n_steps=400), 1000) == [400, 800, 1000]
    assert checkpoint_steps(Config(save_every_n_steps=0), 300) == [300]


def test_samples_follow_checkpoints_by_default():
    """Flux LoRA guide §4.4: validation images at the checkpoint steps."""
    cfg = Config(save_every_n_steps=100)
    assert sample_steps(cfg, 300) == checkpoint_steps(cfg, 300) == [100, 200, 300]
    assert sample_steps(Config(save_every_n_steps=0), 300) == [300]
    assert sample_steps(Config(sample_every_n_steps=0), 300) == []
    assert sample_steps(Config(sample_every_n_steps=250, save_every_n_steps=100), 600) == [250, 500, 600]
