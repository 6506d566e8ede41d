"""Setup self-test: version checks, a replaced torch, and two real training steps on the tiny model."""

import pytest

from lora_nb.errors import LoraNbError
from lora_nb.notebook import doctor, selftest


def test_selftest_passes_here_with_two_real_training_steps(tiny_sd15):
    report = selftest.run_selftest(steps=2, model_dir=tiny_sd15)
    assert report.ok, report.summary()
    names = [c.name for c in report.checks]
    for pkg in ("torch", "diffusers", "transformers", "peft", "accelerate"):
        assert pkg in names
    train = report.check("training")
    assert train.ok and "2 steps on the tiny model" in train.detail and "LoRA file loads" in train.detail
    assert report.check("torch runtime").ok
    assert "Self-test passed" in report.summary() and "✓ training" in report.summary()
    assert "Self-test passed" in report._repr_html_()
    assert report.raise_if_failed() is report


def test_requirements_come_from_the_kit_metadata():
    reqs = doctor.requirements()
    assert set(reqs) >= {"torch", "diffusers", "transformers", "peft", "accelerate"}
    assert all(spec.startswith((">", "=", "~", "<", "!")) for spec in reqs.values())


def test_a_version_outside_the_range_is_a_failure_with_the_fix():
    checks = doctor.check_versions({"torch": ">=99", "no-such-package-xyz": ">=1"})
    by = {c.name: c for c in checks}
    assert not by["torch"].ok and "needs >=99" in by["torch"].detail and "pip install 'torch>=99'" in by["torch"].fix
    assert "keep the runtime's torch" in by["torch"].fix
    assert not by["no-such-package-xyz"].ok and by["no-such-package-xyz"].detail == "not installed"
    assert all(c.warning or c.ok for c in checks if c.name in doctor.OPTIONAL)  # optional: never fatal
    report = doctor.SelftestReport(checks)
    assert not report.ok
    with pytest.raises(LoraNbError, match="self-test failed: torch"):
        report.raise_if_failed()
    assert "Self-test FAILED" in report.summary() and "-> pip install 'torch>=99'" in report.summary()


def test_a_replaced_torch_is_caught(monkeypatch, tmp_path):
    import torch

    assert doctor.check_torch(expected=torch.__version__).ok
    bad = doctor.check_torch(expected="2.0.0+cu118")  # what the runtime had before a pip install replaced it
    assert not bad.ok and "replaced during installation: 2.0.0+cu118 -> " in bad.detail
    assert "Disconnect and delete runtime" in bad.fix
    base = torch.__version__.split("+")[0]
    assert doctor.check_torch(expected=base).ok  # pip lists PyPI's CUDA wheels without their +cuXXX label
    if "+" in torch.__version__:  # a labelled build (+cpu here) is not the runtime's +cu999 build
        assert not doctor.check_torch(expected=f"{base}+cu999").ok
    pin = tmp_path / "preinstalled.txt"  # 00_setup's install cell writes `pip list --format=freeze` here first
    pin.write_text("numpy==2.1.3\ntorch==1.13.1+cu117\ntorchvision==0.14.1+cu117\n", encoding="utf-8")
    monkeypatch.setattr(doctor, "PREINSTALLED_FILE", pin)
    monkeypatch.delenv(doctor.TORCH_PIN_ENV, raising=False)
    assert doctor.expected_torch() == "1.13.1+cu117"
    assert not doctor.check_torch().ok
    monkeypatch.setenv(doctor.TORCH_PIN_ENV, torch.__version__)
    assert doctor.check_torch().ok


def test_a_broken_training_setup_is_reported_not_raised(tmp_path):
    broken = tmp_path / "model"
    broken.mkdir()
    (broken / "model_index.json").write_text("{}", encoding="utf-8")  # looks built, has no parts
    check = selftest.check_training(steps=2, model_dir=broken, workdir=tmp_path / "work")
    assert not check.ok and check.name == "training" and check.detail
    report = doctor.SelftestReport([check])
    assert "✗ training" in report.summary()
