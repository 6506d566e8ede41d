"""`lora-nb doctor`: the stack against the kit's ranges, the tested versions and the known-bad pairs
(fake version sets: good, known-bad, too old), the machine checks, and the CLI's exit status."""

import json
import re
from pathlib import Path

import pytest

from lora_nb.cli import main
from lora_nb.env import GPUInfo
from lora_nb.notebook import doctor

ROOT = Path(__file__).resolve().parent.parent
# torch: the installed one, since the torch runtime check compares it with what is loaded
GOOD = {"torch": doctor.installed_version("torch"), "bitsandbytes": "0.50.2", "ipywidgets": "8.1.9",
        "imagehash": "4.3.2", "rembg": "2.0.86", "onnxruntime": "1.32.0",
        **{name: hi for name, (lo, hi) in doctor.TESTED.items()}}


def _stack(versions):
    return doctor.check_versions(versions=versions) + doctor.check_combinations(versions, peft_minimums={})


def test_a_good_set_has_no_problem_and_says_it_was_tested():
    checks = _stack(dict(GOOD, transformers="5.23.0"))
    assert all(c.ok for c in checks), [c for c in checks if not c.ok]
    by = {c.name: c for c in checks}
    assert by["transformers"].detail == f"5.23.0 (tested {doctor.TESTED['transformers'][0]} to " \
                                         f"{doctor.TESTED['transformers'][1]})"
    assert by["known-bad combination"].detail == "none of the known-bad combinations"


def test_the_known_bad_pair_is_named_with_the_one_line_fix():
    bad = dict(GOOD, transformers="5.24.0", peft="0.21.2")  # what a fresh `pip install` resolved on 2026-12-02
    combo = next(c for c in _stack(bad) if c.name == "known-bad combination")
    assert not combo.ok and "transformers 5.24.0 + peft 0.21.2" in combo.detail and "0.22" in combo.detail
    assert combo.fix == 'pip install "transformers==5.23.0"'
    # the kit no longer calls transformers' gated adapter methods: reported, not blocking
    assert combo.warning and doctor.SelftestReport(_stack(bad)).ok
    # once a peft that satisfies it exists, the pair is no longer bad
    assert not any(c.name == "known-bad combination" and not c.ok for c in _stack(dict(bad, peft="0.22.0")))


def test_colabs_2026_08_set_is_warned_about_its_diffusers_but_not_blocked():
    colab = dict(GOOD, diffusers="0.39.0", transformers="5.15.0", peft="0.20.0", accelerate="1.14.0")
    checks = _stack(colab)
    combo = [c for c in checks if c.name == "known-bad combination"]
    assert len(combo) == 1 and combo[0].warning and "diffusers 0.39.0 + transformers 5.15.0" in combo[0].detail
    assert combo[0].fix == 'pip install "diffusers>=0.41"'
    assert doctor.SelftestReport(checks).ok  # the kit's own loader works around it


def test_a_blocking_known_bad_pair_fails_the_report(monkeypatch):
    rule = doctor.KnownBad({"diffusers": ">=0.42", "peft": "<0.21"}, "a made-up break", 'pip install "peft==0.21.2"')
    monkeypatch.setattr(doctor, "KNOWN_BAD", (rule,))
    checks = _stack(dict(GOOD, diffusers="0.42.1", peft="0.20.0"))
    failed = [c for c in checks if not c.ok and not c.warning]
    assert ([c.fix for c in failed] == ['pip install "peft==0.21.2"']
            and "diffusers 0.42.1 + peft 0.20.0" in failed[0].detail)
    assert not doctor.SelftestReport(checks).ok


def test_too_old_is_blocking_and_newer_than_tested_is_only_reported():
    checks = {c.name: c for c in _stack(dict(GOOD, diffusers="0.30.0", accelerate="9.0.0"))}
    assert not checks["diffusers"].ok and not checks["diffusers"].warning
    newest = doctor.TESTED["diffusers"][1]
    assert ("needs >=0.35" in checks["diffusers"].detail
            and checks["diffusers"].fix == f'pip install "diffusers=={newest}"')
    lo, hi = doctor.TESTED["accelerate"]
    assert checks["accelerate"].warning and f"newer than the tested {lo} to {hi}" in checks["accelerate"].detail
    assert not checks["accelerate"].ok and checks["accelerate"].mark == "⚠"
    missing = {c.name: c for c in doctor.check_versions(versions={k: v for k, v in GOOD.items() if k != "peft"})}
    assert not missing["peft"].ok and missing["peft"].detail == "not installed"


def test_a_library_whose_own_peft_minimum_is_not_met_is_named():
    future = dict(GOOD, transformers="5.30.0", peft="0.22.0")  # releases this kit has never seen, with a new gate
    checks = doctor.check_combinations(future, peft_minimums={"transformers": "0.23.0"})
    assert len(checks) == 1 and not checks[0].ok and checks[0].warning
    assert checks[0].detail.startswith("transformers 5.30.0 + peft 0.22.0: transformers's own adapter "
                                       "methods ask for peft >= 0.23.0")
    assert checks[0].fix.startswith('pip install "peft>=0.23.0"')
    assert f"transformers=={doctor.TESTED['transformers'][1]}" in checks[0].fix


def test_the_installed_stack_reads_the_libraries_own_peft_minimums():
    mins = doctor.runtime_peft_minimums()
    assert set(mins) <= {"transformers", "diffusers"} and all(re.fullmatch(r"[\d.]+", v) for v in mins.values())


def _lines(path):
    out = {}
    for line in Path(path).read_text(encoding="utf-8").splitlines():
        m = re.match(r"^([A-Za-z0-9_.-]+)==([^\s;\\]+)", line)
        if m:
            out[m.group(1).lower().replace("_", "-")] = m.group(2)
    return out


def test_tested_versions_are_the_colab_set_and_the_lock():
    lock = _lines(ROOT / "requirements" / "lock.txt")
    (colab_file,) = sorted((ROOT / "requirements").glob("colab-*.txt"))
    colab = _lines(colab_file)
    for name, (lo, hi) in doctor.TESTED.items():
        assert hi == lock[name], f"TESTED[{name!r}] newest must be the lock's {lock[name]}"
        assert lo == colab[name], f"TESTED[{name!r}] oldest must be the Colab set's {colab[name]}"


def test_machine_checks_warn_with_a_fix(monkeypatch):
    assert doctor.check_disk(free_gb=3).warning and "HF_HOME" in doctor.check_disk(free_gb=3).fix
    assert doctor.check_disk(free_gb=80).ok
    assert doctor.check_ram(total_gb=4).warning and doctor.check_ram(total_gb=12.7).ok
    lost = doctor.check_drive(colab=True, mounted=False)
    assert lost.warning and "USE_DRIVE" in lost.fix
    assert doctor.check_drive(colab=True, mounted=True).ok and doctor.check_drive(colab=False).ok
    monkeypatch.setattr(doctor, "gpu_info", lambda: GPUInfo("Tesla T4", 14.7, (7, 5)))
    t4 = doctor.check_gpu()
    assert t4.ok and t4.detail == "Tesla T4, 14.7 GB VRAM, compute 7.5, bf16 no, mixed precision fp16"


@pytest.mark.parametrize("diffusers, rc", [("0.42.1", 0), ("0.30.0", 1)])
def test_cli_exit_status_follows_blocking_problems(monkeypatch, capsys, diffusers, rc):
    fake = dict(GOOD, diffusers=diffusers)
    monkeypatch.setattr(doctor, "installed_version", lambda name: fake.get(name))
    monkeypatch.setattr(doctor, "runtime_peft_minimums", lambda: {})
    assert main(["doctor", "--json"]) == rc
    out = json.loads(capsys.readouterr().out)
    assert out["ok"] is (rc == 0)
    names = {c["name"] for c in out["checks"]}
    assert {"python", "torch", "transformers", "known-bad combination", "torch runtime", "disk", "RAM",
            "Drive"} <= names
    assert main(["doctor"]) == rc
    text = capsys.readouterr().out
    assert ("no blocking problem" in text) is (rc == 0)
