"""Chinese everywhere, part 3: the adapter variants' file notes, the objective, the run's step arithmetic, the
resume's length note and a log's unreadable-lines note come out in Chinese with language zh, with none of the
English left; in English they are byte for byte what they were."""

import pytest

from lora_nb import fonts, i18n
from lora_nb.config import Config
from lora_nb.families.adapters import notes as adapter_notes
from lora_nb.families.prediction import Prediction
from lora_nb.i18n import notes2
from lora_nb.jsonlines import bad_lines_note
from lora_nb.training.fingerprint import _length_note
from lora_nb.training.trainer import RunInfo

pytestmark = pytest.mark.usefixtures("default_language")


def _absent(text: str, phrases) -> None:
    left = [p for p in phrases if p in text]
    assert not left, f"English left in the Chinese text: {left}"


def _run(**kw) -> RunInfo:
    base = dict(num_images=5, samples_per_epoch=20, batch_size=2, grad_accum=2, num_processes=1, steps_per_epoch=5,
                total_steps=10, epochs=2.0, warmup_steps=1, checkpoint_steps=[5, 10], sample_steps=[],
                mixed_precision="no", device="cpu")
    return RunInfo(**{**base, **kw})


def test_the_new_table_is_merged_and_its_glyphs_are_in_the_shipped_font():
    assert set(notes2.STRINGS) <= set(i18n.STRINGS)
    assert fonts.missing_characters([v["zh"] for v in notes2.STRINGS.values()], fonts.SHIPPED) == ""


def test_adapter_file_notes_in_chinese_and_english_unchanged():
    loha = Config(family="sd15", network_type="loha", save_formats=["kohya", "diffusers"])
    dora = Config(family="sd15", network_type="dora", network_dropout=0.1)
    en = adapter_notes(loha)
    assert en[0].startswith("loha: the .safetensors file (LyCORIS keys) is for ") and en[0].endswith(
        "; do not give it to diffusers' load_lora_weights, which cannot apply it (for Flux it even loads it without "
        "error and changes nothing)")
    assert en[1] == ("diffusers has no loha loader: instead of a diffusers file each checkpoint gets a peft folder "
                     "(<name>_peft/<component>/, load with peft.PeftModel.from_pretrained)")
    assert adapter_notes(dora) == [
        "DoRA: the diffusers file is exact in diffusers; the .safetensors file's dora_scale is written for ComfyUI's "
        "and Forge's formula, exact there at strength 1 (other strengths follow their own DoRA interpolation); "
        "AUTOMATIC1111 cannot apply it exactly (set save_dora_a1111 for a large file exact there)",
        "DoRA with network_dropout: the dropout applies to the whole layer's input, not only the LoRA path"]
    i18n.set_language("zh")
    zh = adapter_notes(loha)
    assert zh[0].startswith("loha：.safetensors 文件（LyCORIS 键名）用于 ") and "不要交给 diffusers 的" in zh[0]
    assert zh[1].startswith("diffusers 没有 loha 的加载器：") and "peft.PeftModel.from_pretrained" in zh[1]
    d = adapter_notes(Config(family="sd15", network_type="dora", network_dropout=0.1, save_dora_a1111=True))
    assert "在 AUTOMATIC1111 中也是精确的" in d[0] and "dropout 作用于整个层的输入" in d[1]
    _absent(" ".join(zh + d), ["do not give", "has no", "is exact", "cannot apply", "applies to"])


def test_objective_note_in_chinese_and_english_unchanged():
    pred = Prediction("v_prediction", True, "model.safetensors (marker keys)")
    assert pred.describe() == ("objective: v-prediction, zero terminal SNR (validation images: trailing timesteps, "
                               "guidance rescale 0.7), from model.safetensors (marker keys)")
    assert Prediction("epsilon", False).describe() == "objective: epsilon (noise) prediction"
    i18n.set_language("zh")
    assert pred.describe() == ("训练目标：v 预测（v-prediction），零终端信噪比 zero terminal SNR（验证图像：trailing "
                               "时间步，guidance rescale 0.7），来自 model.safetensors (marker keys)")
    assert Prediction("epsilon", False).describe() == "训练目标：epsilon（噪声）预测"


def test_run_arithmetic_in_chinese_and_english_unchanged():
    many = _run(reg_samples=10, num_processes=2, sample_steps=list(range(1, 11)))
    assert _run().describe() == (
        "5 images -> 20 samples/epoch (images x repeats); / (batch 2 x grad accum 2 = 4) = 5 steps/epoch; 10 steps "
        "total = 2 epochs; warmup 1; checkpoints at 5, 10; samples at none; precision no on cpu")
    assert many.describe() == (
        "5 images -> 10 samples/epoch (images x repeats) + 10 reg = 20; / (batch 2 x grad accum 2 x 2 processes = 8) "
        "= 5 steps/epoch; 10 steps total = 2 epochs; warmup 1; checkpoints at 5, 10; samples at 1, 2, 3, 4, 5, 6, "
        "... 10; precision no on cpu")
    i18n.set_language("zh")
    assert _run().describe() == (
        "5 张图像 -> 每轮 20 个样本（图像数 x 重复次数）；/（批量 2 x 梯度累积 2 = 4）= 每轮 5 步；共 10 步 = 2 轮；"
        "预热 1 步；检查点的步数：5, 10；样图的步数：无；精度 no，设备 cpu")
    zh = many.describe()
    assert "+ 10 个正则样本 = 20" in zh and "x 2 个进程 = 8" in zh
    _absent(zh, ["images", "samples/epoch", "steps total", "warmup", "checkpoints at", "processes"])


def test_resume_length_note_in_chinese_and_english_unchanged():
    old, new = {"total_steps": 4, "warmup_steps": 0}, {"total_steps": 6, "warmup_steps": 0}
    const, cosine = Config(family="sd15", lr_scheduler="constant"), Config(family="sd15", lr_scheduler="cosine")
    assert _length_note(old, new, 4, const) == (
        "resume: the run now ends at step 6 instead of 4; the constant lr schedule gave steps 1-4 the same lr either "
        "way, so the result is what an uninterrupted 6-step run gives")
    en = _length_note(old, new, 4, cosine)
    assert en.startswith("resume: the run now ends at step 6 instead of 4; from step 5 the lr follows the 6-step "
                         "cosine schedule, but steps 1-4 were trained on the 4-step one (lr at step 4: ")
    assert en.endswith("so the result differs from an uninterrupted 6-step run -> start a new run if you need "
                       "exactly that")
    assert _length_note(old, old, 4, cosine) == ""
    i18n.set_language("zh")
    assert _length_note(old, new, 4, const) == (
        "继续训练：训练现在在第 6 步结束，而不是第 4 步；constant 学习率计划在第 1-4 步两种情况下学习率相同，"
        "所以结果与不中断的 6 步训练相同")
    zh = _length_note(old, new, 4, cosine)
    lrs = en.split("(lr at step 4: ")[1].split(" there, ")
    assert f"（第 4 步的学习率：原计划 {lrs[0]}，新计划 {lrs[1].split(' ')[0]}）" in zh
    assert zh.startswith("继续训练：训练现在在第 6 步结束，而不是第 4 步；从第 5 步起学习率按 6 步的 cosine 计划")
    _absent(zh, ["resume:", "the run now", "schedule", "start a new run"])


def test_unreadable_lines_note_in_chinese_and_english_unchanged(tmp_path):
    log = tmp_path / "train_log.jsonl"
    assert bad_lines_note(log, []) == ""
    assert bad_lines_note(log, [3]) == ("train_log.jsonl: skipped 1 unreadable line (line 3: cut off by a full disk, "
                                        "power cut or disconnect, or edited by hand); the rest is used")
    assert bad_lines_note(log, list(range(1, 8)), action="dropped").startswith(
        "train_log.jsonl: dropped 7 unreadable lines (line 1, 2, 3, 4, 5, ...: cut off")
    i18n.set_language("zh")
    assert bad_lines_note(log, [3], action="dropped") == (
        "train_log.jsonl：删除了 1 行无法读取的内容（第 3 行：因磁盘已满、断电或断开连接而被截断，或被手动修改过）；"
        "其余内容照常使用")
    assert bad_lines_note(log, [2, 4]).startswith("train_log.jsonl：跳过了 2 行无法读取的内容（第 2, 4 行：")
