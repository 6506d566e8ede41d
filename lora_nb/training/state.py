"""Resume state: what a checkpoint keeps so training can continue exactly, written so damage is detected.

Each state folder <output_dir>/state/step-NNNNNNNN holds

    adapter.safetensors   the adapter weights (fp32)
    trainer.pt            optimizer, lr schedule, RNG and the fp16 loss scaler
    state.json            the step and the run's fingerprint (`fingerprint.py`: what decides the weights)
    manifest.json         size and sha256 of the three files above, written LAST

A folder whose manifest is missing or disagrees with its files (a disk that filled up, a copy to Drive
that stopped half-way) is damaged: `find_state('latest')` then falls back to the newest intact state.
States written before manifests existed are accepted when their files load.
"""

from __future__ import annotations

import json
import random
import shutil
from pathlib import Path

import torch
from safetensors import SafetensorError
from safetensors.torch import load_file, save_file

from ..errors import LoraNbError
from ..families import Models
from ..fileio import atomic_dir, file_sha256
from ..i18n import t

STATE_DIR = "state"
FILES = ("adapter.safetensors", "trainer.pt", "state.json")
MANIFEST = "manifest.json"
FORMAT = 2  # state.json's "format": 2 = written with a manifest and a fingerprint; absent = older states


def save_state(out: Path, step: int, targets, optimizer, lr_scheduler, keep: int = 2, scaler=None,
               fingerprint: dict | None = None) -> Path:
    """Everything needed to continue: adapter weights (fp32), optimizer, schedule, RNG, step, and the fp16
    loss scaler's scale and growth tracker when there is one (`accelerator.scaler`), so an fp16 (T4) resume
    continues exactly. The `keep` newest states stay, so a damaged newest one has an intact predecessor."""
    from peft import get_peft_model_state_dict  # lazy: peft (with transformers) adds ~7 s to importing this module

    dest = out / STATE_DIR / f"step-{step:08d}"
    with atomic_dir(dest) as tmp:
        weights = {f"{t.component}.{k}": v.detach().float().cpu().contiguous()
                   for t in targets for k, v in get_peft_model_state_dict(t.module).items()}
        save_file(weights, str(tmp / "adapter.safetensors"))
        state = {"optimizer": optimizer.state_dict(), "scheduler": lr_scheduler.state_dict(),
                 "rng": {"python": random.getstate(), "torch": torch.get_rng_state()}}
        if scaler is not None:
            state["scaler"] = scaler.state_dict()
        torch.save(state, tmp / "trainer.pt")
        info = {"step": step, "format": FORMAT, "fingerprint": fingerprint or {}}
        (tmp / "state.json").write_text(json.dumps(info, indent=1), encoding="utf-8")
        manifest = {name: {"size": (tmp / name).stat().st_size, "sha256": file_sha256(tmp / name)}
                    for name in FILES}
        (tmp / MANIFEST).write_text(json.dumps(manifest, indent=1), encoding="utf-8")
    old = sorted((out / STATE_DIR).glob("step-*"))[:-keep]
    for p in old:
        shutil.rmtree(p, ignore_errors=True)
    return dest


def read_state_info(path: Path) -> dict:
    """state.json of a state folder: {'step', 'format', 'fingerprint'}; raises ValueError if unreadable."""
    try:
        info = json.loads((path / "state.json").read_text(encoding="utf-8"))
        int(info["step"])
    except (OSError, UnicodeDecodeError, json.JSONDecodeError, KeyError, TypeError, ValueError) as e:
        raise ValueError(f"state.json unreadable ({type(e).__name__})") from None
    return info


def state_problem(path: Path) -> str:
    """Why the state folder `path` cannot be resumed from ('' when it is intact)."""
    missing = [n for n in FILES if not (path / n).is_file()]
    if missing:
        return f"{', '.join(missing)} missing"
    try:
        info = read_state_info(path)
    except ValueError as e:
        return str(e)
    if not (path / MANIFEST).is_file():
        if info.get("format", 1) >= FORMAT:
            return f"{MANIFEST} missing (the save was cut off)"
        return _loads(path)  # an older state: intact if its files load
    try:
        manifest = json.loads((path / MANIFEST).read_text(encoding="utf-8"))
        for name in FILES:
            want, size = manifest[name], (path / name).stat().st_size
            if size != want["size"]:
                return f"{name} is {size} bytes, the manifest says {want['size']}"
            if file_sha256(path / name) != want["sha256"]:
                return f"{name} does not match its checksum"
    except (OSError, UnicodeDecodeError, json.JSONDecodeError, KeyError, TypeError) as e:
        return f"{MANIFEST} unreadable ({type(e).__name__})"
    return ""


def _loads(path: Path) -> str:
    try:
        load_file(str(path / "adapter.safetensors"))
    except (OSError, SafetensorError) as e:
        return f"adapter.safetensors unreadable ({str(e).splitlines()[0][:80]})"
    try:
        torch.load(path / "trainer.pt", weights_only=True)
    except Exception as e:  # torch raises RuntimeError, EOFError, UnpicklingError... for a cut-off file
        return f"trainer.pt unreadable ({type(e).__name__})"
    return ""


def is_legacy(path: Path) -> bool:
    """A state written before manifests and fingerprints (accepted when it loads, but not checked)."""
    return read_state_info(path).get("format", 1) < FORMAT


def find_state(out: Path, resume: str) -> tuple[Path, list[str]]:
    """The state folder to resume from and one-line notes (a damaged state skipped, an old state used).

    'latest': the newest intact state under <out>/state; anything else: that folder, which must be intact.
    """
    if resume != "latest":
        p = Path(resume)
        if not (p / "state.json").is_file() and not (p / MANIFEST).is_file():
            raise LoraNbError(f"resume: {p} is not a saved training state (no state.json) -> use 'latest' or a "
                              f"folder under {out / STATE_DIR}")
        problem = state_problem(p)
        if problem:
            raise LoraNbError(f"resume: the state {p} is damaged ({problem}) -> use resume='latest' to continue "
                              f"from the newest intact state, or another folder under {out / STATE_DIR}")
        return p, _legacy_note(p)
    states = sorted(p for p in (out / STATE_DIR).glob("step-*") if p.is_dir())
    if not states:
        raise LoraNbError(f"resume=latest but {out / STATE_DIR} holds no saved state -> start without resume, or "
                          f"set output_dir to the run folder you want to continue")
    damaged = []
    for p in reversed(states):
        problem = state_problem(p)
        if not problem:
            notes = [t("note.resume_damaged", damaged=", ".join(damaged), state=p.name)] if damaged else []
            return p, notes + _legacy_note(p)
        damaged.append(f"{p.name} ({problem})")
    raise LoraNbError(f"resume=latest but every saved state in {out / STATE_DIR} is damaged: {'; '.join(damaged)} "
                      f"-> start a new run (resume='' and another output_dir), or restore a state folder from a "
                      f"backup")


def _legacy_note(path: Path) -> list[str]:
    if not is_legacy(path):
        return []
    return [t("note.resume_legacy", state=path.name)]


def load_state(path: Path, models: Models, family, optimizer, lr_scheduler, accelerator) -> int:
    """Load a state found by `find_state` into the run; returns its step. The lr follows the current
    schedule from that step on (the same value when the run's length is unchanged)."""
    from peft import set_peft_model_state_dict  # lazy, as in save_state

    weights = load_file(str(path / "adapter.safetensors"))
    comps = {family.facts.denoiser: accelerator.unwrap_model(models.denoiser)}
    comps.update({c: accelerator.unwrap_model(te) for c, te in zip(family.facts.text_encoders, models.text_encoders)})
    for comp, module in comps.items():
        sd = {k[len(comp) + 1:]: v for k, v in weights.items() if k.startswith(comp + ".")}
        if sd:
            set_peft_model_state_dict(module, sd)
    trainer = torch.load(path / "trainer.pt", weights_only=True)
    optimizer.load_state_dict(trainer["optimizer"])
    lr_scheduler.load_state_dict(trainer["scheduler"])
    _follow_schedule(optimizer, lr_scheduler)
    random.setstate(trainer["rng"]["python"])
    torch.set_rng_state(trainer["rng"]["torch"])
    scaler = getattr(accelerator, "scaler", None)
    if scaler is not None and trainer.get("scaler"):
        scaler.load_state_dict(trainer["scaler"])
    return int(read_state_info(path)["step"])


def _follow_schedule(optimizer, lr_scheduler) -> None:
    """Set each group's lr from the current schedule at the loaded step, as LambdaLR.step() computes it.

    The optimizer's saved lr came from the saved run's schedule; after a longer max_train_steps the
    schedule is another one, and the next step should already use it. Unchanged schedule: same value."""
    lambdas = getattr(lr_scheduler, "lr_lambdas", None)
    if lambdas is None:
        return
    t = lr_scheduler.last_epoch
    for group, base, fn in zip(optimizer.param_groups, lr_scheduler.base_lrs, lambdas):
        group["lr"] = base * fn(t)
    lr_scheduler._last_lr = [g["lr"] for g in optimizer.param_groups]
