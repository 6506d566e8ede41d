from lora_nb.env import GPUInfo, hf_token, resolve_mixed_precision


def test_precision_follows_the_gpu():
    t4 = GPUInfo("Tesla T4", 15.0, (7, 5))
    a100 = GPUInfo("A100", 40.0, (8, 0))
    assert resolve_mixed_precision("auto", t4) == "fp16"  # the T4 has no bf16
    assert resolve_mixed_precision("auto", a100) == "bf16"
    assert resolve_mixed_precision("no", a100) == "no"


def test_auto_on_this_machine_without_gpu():
    import torch

    if not torch.cuda.is_available():
        assert resolve_mixed_precision("auto") == "no"


def test_token_from_env_only(monkeypatch):
    monkeypatch.delenv("HF_TOKEN", raising=False)
    monkeypatch.delenv("HUGGING_FACE_HUB_TOKEN", raising=False)
    assert hf_token() is None
    monkeypatch.setenv("HF_TOKEN", "hf_abc")
    assert hf_token() == "hf_abc"
