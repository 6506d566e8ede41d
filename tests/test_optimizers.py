import pytest
import torch

from lora_nb.config import Config
from lora_nb.training.optimizers import make_optimizer


@pytest.mark.parametrize("name, lr", [("adamw", 1e-3), ("adamw8bit", 1e-3), ("lion", 1e-4), ("prodigy", 1.0),
                                      ("dadaptation", 1.0), ("adafactor", 1e-3)])
def test_each_optimizer_reduces_a_loss(name, lr):
    torch.manual_seed(0)
    # bitsandbytes only quantises states of tensors with >= 4096 elements; use one that large
    w = torch.nn.Parameter(torch.randn(64, 128))
    target = torch.zeros(64, 128)
    opt = make_optimizer(Config(optimizer=name, learning_rate=lr, weight_decay=0.0), [{"params": [w], "lr": lr}])
    first = None
    for _ in range(30):
        loss = ((w - target) ** 2).mean()
        first = first if first is not None else loss.item()
        loss.backward()
        opt.step()
        opt.zero_grad()
    assert ((w - target) ** 2).mean().item() < first, name
    if name == "adamw8bit":
        assert any(s.dtype == torch.uint8 for st in opt.state.values() for s in st.values()
                   if isinstance(s, torch.Tensor))


@pytest.mark.parametrize("sched", ["constant", "constant_with_warmup", "cosine", "cosine_with_restarts", "linear",
                                   "polynomial"])
def test_every_scheduler_builds_through_diffusers(sched):
    from diffusers.optimization import get_scheduler

    cfg = Config(lr_scheduler=sched, lr_scheduler_num_cycles=3, lr_warmup_steps=2)
    p = torch.nn.Parameter(torch.zeros(1))
    opt = torch.optim.AdamW([p], lr=1.0)
    s = get_scheduler(cfg.lr_scheduler, opt, num_warmup_steps=2, num_training_steps=20,
                      num_cycles=cfg.lr_scheduler_num_cycles, power=cfg.lr_scheduler_power)
    lrs = []
    for _ in range(20):
        opt.step()
        s.step()
        lrs.append(s.get_last_lr()[0])
    if sched != "constant":
        assert lrs[0] < lrs[2]  # warmup ramps up
    if sched in ("cosine", "linear", "polynomial"):
        assert lrs[-1] < lrs[5]
