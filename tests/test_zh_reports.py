"""Chinese everywhere: with the language set to zh, the plan, the dataset steps' reports, the forgetting check, the
evaluation report and the trainer's notes come out in Chinese, with none of the English sentences left; the
English stays as it was (the modules' own tests assert on it)."""

import json
import os
import shutil
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest
from PIL import Image

from lora_nb import fonts, i18n
from lora_nb.config import Config
from lora_nb.dataset.auditor import audit, problem_label, render_audit
from lora_nb.dataset.caption import caption_folder
from lora_nb.dataset.clean import clean_folder
from lora_nb.dataset.collector import collect
from lora_nb.dataset.crop import crop_folder, render_crop_preview
from lora_nb.dataset.tag_stats import caption_stats
from lora_nb.evaluate.forgetting import ForgettingReport
from lora_nb.evaluate.recommend import recommend_checkpoint
from lora_nb.evaluate.report import EvalReport
from lora_nb.evaluate.scoring import Measurements
from lora_nb.i18n import advice as advice_text
from lora_nb.i18n import memory as memory_text
from lora_nb.i18n import notes as notes_text
from lora_nb.i18n import plan as plan_text
from lora_nb.i18n import reasons as reason_text
from lora_nb.i18n import reports as report_text
from lora_nb.jsonlines import TRAIN_LOG
from lora_nb.planning.planner import _hms, memory_figure, plan, render_markdown
from lora_nb.training.data import scan_dataset
from lora_nb.training.fingerprint import _threads_note
from lora_nb.training.runfolder import own_run_folder
from lora_nb.training.runlock import LOCK_NAME, STALE_AFTER_S, RunLock

pytestmark = pytest.mark.usefixtures("default_language")

SAMPLE = Path(__file__).resolve().parents[1] / "datasets_sample"


@pytest.fixture
def zh():
    i18n.set_language("zh")
    yield
    i18n.set_language(None)


@pytest.fixture
def data(tmp_path):
    """The sample's zigzag star plus a 5-image ring concept, one image too small and one without a caption."""
    root = tmp_path / "data"
    shutil.copytree(SAMPLE / "20_zigzag_star", root / "20_zigzag_star")
    ring = root / "3_dotted_ring"
    ring.mkdir()
    for f in sorted((SAMPLE / "20_dotted_ring").glob("*.png"))[:5]:
        shutil.copy(f, ring / f.name)
        if f.with_suffix(".txt").exists():
            shutil.copy(f.with_suffix(".txt"), ring / f.with_suffix(".txt").name)
    Image.new("RGB", (40, 40), (200, 30, 30)).save(ring / "tiny.png")
    return root


def _chinese(text: str) -> bool:
    return any("\u4e00" <= ch <= "\u9fff" for ch in text)


def _absent(text: str, phrases) -> None:
    left = [p for p in phrases if p in text]
    assert not left, f"English left in the Chinese text: {left}"


def test_the_tables_merge_into_one_and_a_key_in_two_is_an_error():
    assert {"plan.title", "audit.head", "train.stopped"} <= set(i18n.STRINGS)
    tables = (i18n.messages, plan_text, advice_text, memory_text, report_text, notes_text, i18n.notes2)
    assert len(i18n.STRINGS) == sum(len(m.STRINGS) for m in tables)
    with pytest.raises(RuntimeError, match=r"defined twice: \['plan.title'\]"):
        i18n._merge(plan_text.STRINGS, {"plan.title": {"en": "x", "zh": "x"}})


def test_the_chinese_only_tables_have_glyphs_in_the_shipped_font():
    texts = [*report_text.KINDS_ZH.values(), *plan_text.GUIDES_ZH.values(), *plan_text.PURPOSES_ZH.values(),
             *memory_text.MEMORY_ZH.values(), *memory_text.PRESET_WHY_ZH.values()]
    assert fonts.missing_characters(texts, fonts.SHIPPED) == ""
    assert set(report_text.KINDS_ZH) >= {"object", "person", "style"}


def test_the_plan_in_chinese(data, zh):
    c = Config(family="sd15", resolution=128, min_bucket_reso=64, rank=16, alpha=8.0, gpu_preset="auto",
               train_data_dir=str(data), upscale_small=True, train_batch_size=2, max_train_steps=1234,
               save_every_n_steps=100, sample_every_n_steps=200, lr_warmup_steps=5000, lr_scheduler="constant",
               sample_prompts=["a star"])
    p = plan(c, purpose="object", gpu="T4-16GB")
    md = render_markdown(p)
    for zh_text in ("# 训练计划：sd15，rank 16", "## 步数", "总步数 = 图像数 x 重复次数 x epoch 数", "## 时间",
                    "## 显存", "预测峰值：", "**放得下** T4-16GB", "## 配方", "用途：物体或产品", "## 建议",
                    "  - 原因：", "**警告** (概念)", "## 各 rank 的 LoRA 文件大小", "## 看 XY 对比图", "**过拟合**",
                    "《Flux LoRA 训练经验》", "- 注意：预热（", "| 去噪模型权重 |", "GPU 预设 sd15/16GB"):
        assert zh_text in md, zh_text
    _absent(md, ["# Training plan", "## Steps", "total steps =", "## Time", "## Memory", "Predicted peak",
                 "## Recipe", "## Advice", "why:", "you see:", "Try:", "## LoRA file size", "Reading the XY grid",
                 "Flux LoRA guide", "LoRA explainer", "Kohya practice guide", "NOTE:", "Warmup", "Checkpoints",
                 "Validation images", "samples per epoch", "steps per epoch", "is not a multiple",
                 "Train one LoRA per concept", "denoiser weights", "GPU preset", "s per step", "WARNING"])
    # the advice lines themselves are Chinese; their JSON keeps English keys and the tutorials' short names
    assert all(_chinese(a.message) and _chinese(a.reason) for a in p.advice)
    d = json.loads(json.dumps(p.to_dict(), default=str))
    assert {"topic", "message", "reason", "source", "level"} <= set(d["advice"][0])
    assert any("Flux LoRA guide" in a["source"] for a in d["advice"])
    assert d["fitting_guide"][0]["state"] == "overfitting"  # the data stays English
    # the language is read when rendering: the same plan's layout in English
    i18n.set_language("en")
    assert "## Steps" in render_markdown(p) and "## 步数" not in render_markdown(p)


def test_a_plan_that_does_not_fit_says_what_helps_in_chinese(zh):
    c = Config(family="flux", resolution=1024, rank=32, alpha=16.0, gpu_preset="none", max_train_steps=1500,
               save_every_n_steps=500, sample_prompts=["uehxbfklaq, a car", "a forest"])
    p = plan(c, counts={"cars": 100}, purpose="new", gpu="24GB")
    md = render_markdown(p)
    assert "**放不下** 24GB" in md and "怎样放得下（每项单独修改后的预测总量）：" in md
    assert "- 开启梯度检查点: " in md and "**一起修改**" in md and "GPU 预设：无（gpu_preset = 'none'）。" in md
    assert "教新内容需要 6000 张以上图像；这个数据集有 100 张。" in md
    _absent(md, ["does NOT fit", "What makes it fit", "enable gradient checkpointing", "together",
                 "Teaching new content", "GPU preset: none"])
    labels = [t.get_text() for t in memory_figure(p.memory).legends[0].get_texts()]
    assert "去噪模型权重 (22.2)" in labels and "分配器余量" in " ".join(labels)


def test_dataset_reports_in_chinese(data, tmp_path, zh):
    a = audit(data, "object", resolution=512)
    s = a.summary()
    assert s.startswith(f"数据集 {data}：25 张图像") and "20_zigzag_star：20 张图像 x 20 次重复 = 400" in s
    for zh_text in ("概念不平衡：", "FluxTrainer 教程建议物体约 30 张",
                    "只有 5 张图像：《Kohya LoRA 训练实践》要求至少 10-15 张", "1 张图像没有标注文件：请运行打标步骤",
                    "25 张图像小于 512 像素"):
        assert zh_text in s, zh_text
    tiny = next(n for n in a.images if n.path.name == "tiny.png")
    assert tiny.problems == ["no caption", "small: shorter side 40 < 512"]  # the data (and JSON) stay English
    assert [problem_label(pr) for pr in tiny.problems] == ["没有标注", "太小：短边 40 < 512"]  # the grid's labels
    assert render_audit(a, max_images=4).size[0] > 0
    _absent(s, ["Dataset ", "images x", "unbalanced concepts", "recommends about", "has only", "have no caption",
                "smaller than"])

    crop = crop_folder(data, tmp_path / "cropped", resolution=64, mode="center", progress=False)
    s = crop.summary()
    assert s.startswith("已裁剪 24 张图像（center，64 像素）->") and "  跳过 3_dotted_ring/tiny.png：" in s
    _absent(s, ["Cropped", "skipped"])
    preview = render_crop_preview(crop, max_items=1)  # one crop and the skipped image, labelled in Chinese
    assert preview.size[0] > 0

    src = tmp_path / "src"
    src.mkdir()
    Image.new("RGB", (600, 500), (10, 120, 30)).save(src / "a.png")
    shutil.copy(src / "a.png", src / "c.png")
    (src / "b.png").write_bytes(b"broken")
    s = collect(src, tmp_path / "collected", concept="thing", repeats=5, progress=False).summary()
    assert s.startswith("已收集 2 张图像到") and "；拒收 1 张；近似重复 1 组" in s and "  拒收 " in s
    assert "与 5_thing/a.png 近似重复：5_thing/c.png（距离 0）" in s
    _absent(s, ["Collected", "rejected", "near-duplicates of", "distance"])

    class Fixed:
        def caption_images(self, images):
            return ["a caption", ""][:len(images)]

    cap = tmp_path / "cap"
    cap.mkdir()
    for i in range(3):
        Image.new("RGB", (64, 64), (i * 50, 0, 0)).save(cap / f"{i}.png")
    (cap / "0.txt").write_text("kept")
    (cap / "gone.txt").write_text("orphan")
    s = caption_folder(cap, captioner=Fixed(), batch_size=4, progress=False).summary()
    assert "写入 1 条标注，跳过 1 张已有标注的图像（设置 overwrite 可重新打标）" in s
    assert "警告：1 张图像没有得到标注：2.png" in s and "警告：1 个标注文件没有对应的图像：gone.txt" in s
    _absent(s, ["wrote", "skipped", "warning", "no caption produced", "have no image"])

    s = clean_folder(data, trigger="zzstar", dry_run=True).summary()
    assert s.startswith("将修改 ") and "触发词：20_zigzag_star -> zzstar" in s
    assert "警告：1 张图像没有标注文件，保持原样" in s
    _absent(s, ["would change", "triggers:", "warning", "without a caption"])
    s = caption_stats(data, trigger="zzstar").summary()
    assert "25 张图像，2 个概念文件夹" in s and "最常见的标签：" in s and "条标注缺少触发词" in s
    _absent(s, ["concept folder(s)", "top tags", "lack the trigger", "warning"])


def test_forgetting_and_evaluation_report_in_chinese(zh):
    s = ForgettingReport(None, ["a forest", "a dog"], [0.02, 0.09], "zzstar toy", 0.1).summary()
    assert s.startswith("加与不加 LoRA 的变化") and "0.100  （概念） zzstar toy" in s and "过多" in s
    _absent(s, ["change with/without", "(concept)", "too much"])

    cells = [[{"star": v, "star_se": 0.01} for v in row] for row in ([0.0, 0.1, 0.2], [0.0, 0.4, 0.7])]
    m = Measurements(["step 100", "step 200"], [100, 200], [0.0, 0.5, 1.0], cells, ["star"], ["a", "b"])
    rep = EvalReport(Path("run"), m, recommend_checkpoint(m), [(100, 0.2), (200, 0.19)])
    md = rep.markdown()
    assert md.startswith("# 推荐：step 200 · 1") and "| 检查点 | 步数 | 强度 | star |" in md
    assert "| 步数 | val_loss |" in md
    _absent(md, ["Recommendation", "| checkpoint |", "| step |", "Take ", "Under-fit"])


def test_trainer_notes_in_chinese(tmp_path, zh):
    out = tmp_path / "run"
    out.mkdir()
    p = subprocess.Popen([sys.executable, "-c", "pass"])
    p.wait()
    (out / LOCK_NAME).write_text(json.dumps({"pid": p.pid, "host": socket.gethostname(), "started": 0.0}))
    lock = RunLock(out)
    note = lock.acquire()
    lock.release()
    assert note.startswith(f"接管了一个已不在运行的训练的锁（进程 {p.pid}，主机 {socket.gethostname()}，开始于 ")
    assert note.endswith(f"位于 {out}") and "took over" not in note
    (out / LOCK_NAME).write_text("not json")
    lock = RunLock(out)
    assert lock.acquire() == f"接管了一个无法读取的锁文件（训练在启动时被中止），位于 {out}"
    lock.release()
    # another machine's lock, silent past STALE_AFTER_S (a disconnected Colab runtime)
    (out / LOCK_NAME).write_text(json.dumps({"pid": 12345, "host": "colab-vm-1", "started": 1.0}))
    os.utime(out / LOCK_NAME, (time.time() - STALE_AFTER_S - 65,) * 2)
    lock = RunLock(out)
    note = lock.acquire()
    lock.release()
    assert note.startswith("接管了另一台机器上的训练的锁（进程 12345，主机 colab-vm-1，开始于 ")
    assert note.endswith(f"它最后一次活动是在 6 分 05 秒前，位于 {out}")


def test_leftover_note_in_chinese(tmp_path, capsys, zh):
    out = tmp_path / "run"
    out.mkdir()
    (out / ".lora.safetensors.abcd1234.tmp").write_bytes(b"half")
    with own_run_folder(Config(family="sd15", output_dir=str(out))):
        pass
    assert f"已删除 {out} 中 1 个写入中断留下的临时文件" in capsys.readouterr().out


def test_dataset_scan_notes_and_plan_durations_in_chinese(data, zh):
    c = Config(family="sd15", resolution=128, min_bucket_reso=64, train_data_dir=str(data), upscale_small=True,
               validation_split=0.2)
    notes = "\n".join(scan_dataset(c).warnings)
    assert "1 张小图像已放大到其分桶尺寸（upscale_small=true）：tiny.png" in notes
    assert "张图像没有标注文件，以空标注 ''作为标注训练：" in notes
    assert "验证损失：" in notes and "按 validation_split 0.2 留出，不参与训练" in notes
    _absent(notes, ["upscaled to their bucket", "without a caption file", "validation loss", "held-out",
                    "not trained"])
    assert (_hms(3725), _hms(125), _hms(7)) == ("1 小时 02 分", "2 分 05 秒", "7 秒")
    md = render_markdown(plan(c.replace(max_train_steps=1234, sample_prompts=["a star"]), gpu="T4-16GB"))
    assert "tiny.png" in md and "upscaled to their bucket" not in md
    i18n.set_language("en")  # English stays as it was
    assert (_hms(3725), _hms(125), _hms(7)) == ("1h 02m", "2m 05s", "7s")
    assert "1 small image(s) upscaled to their bucket (upscale_small=true): tiny.png" in scan_dataset(c).warnings


def test_trainer_note_lines_in_chinese(zh):
    assert i18n.t("note.line", note=i18n.t("note.resume_drew", n=2, step=40)) == \
        "提示：继续训练：重新生成了第 40 步缺少的 2 张验证图像"
    assert i18n.t("note.resuming", step=40) == "从第 40 步继续："
    assert i18n.t("note.line", "en", note=i18n.t("note.resume_drew", "en", n=2, step=40)) == \
        "note: resume: drew the 2 missing validation images of step 40 again"
    assert fonts.missing_characters([v["zh"] for v in notes_text.STRINGS.values()], fonts.SHIPPED) == ""


def test_collect_and_crop_reasons_in_chinese(data, tmp_path, zh):
    src = tmp_path / "src"
    src.mkdir()
    Image.new("RGB", (600, 500), (10, 120, 30)).save(src / "a.png")
    Image.new("RGB", (100, 80), (10, 120, 30)).save(src / "small.png")
    (src / "b.png").write_bytes(b"broken")
    (src / "e.png").write_bytes(b"")
    rep = collect(src, tmp_path / "collected", concept="thing", repeats=5, progress=False)
    s = rep.summary()
    for zh_text in ("不是图像（文件内容不是已知的图像格式）", "空文件（0 字节）",
                    "太小：100x80 像素，短边小于 min_side="):
        assert zh_text in s, zh_text
    _absent(s, ["not an image", "empty file", "too small", "shorter side"])
    assert any(r.reason.startswith("not an image") for r in rep.rejected)  # the report's data stay English

    crop = crop_folder(data, tmp_path / "cropped", resolution=64, mode="center", progress=False)
    s = crop.summary()
    assert "太小" in s and "too small" not in s and "px" not in s.split("跳过", 1)[1]
    assert any("too small" in why for _, why in crop.skipped)
    assert i18n.reason("upscaled x1.50") == "已放大 1.50 倍"
    assert i18n.reason("small: kept at 64x128 instead of upscaling (upscale=True enlarges it)") == \
        "小图：保持 64x128，不放大（upscale=True 会放大它）"
    assert i18n.reason("something new") == "something new"  # unknown reasons are shown as they are
    assert i18n.reason("upscaled x1.50", "en") == "upscaled x1.50"
    assert fonts.missing_characters([zh for _, zh in reason_text.REASONS_ZH], fonts.SHIPPED) == ""


def test_resume_notes_in_chinese(tmp_path, capsys, zh):
    assert _threads_note({"cpu_threads": 1}, {"cpu_threads": 2}) == (
        "继续训练：保存的训练用了 1 个 torch 线程，这次用 2 个：训练会正确继续，但结果与不中断的训练不会逐位相同 "
        "-> 要逐位相同，请用 OMP_NUM_THREADS=1 启动")
    out = tmp_path / "run"
    out.mkdir()
    (out / TRAIN_LOG).parent.mkdir(parents=True)
    (out / TRAIN_LOG).write_text("")
    with own_run_folder(Config(family="sd15", output_dir=str(out), overwrite=True)):
        pass
    printed = capsys.readouterr().out
    assert f"覆盖：已从 {out} 删除上次训练的 " in printed and "overwrite:" not in printed
    i18n.set_language("en")
    assert _threads_note({"cpu_threads": 1}, {"cpu_threads": 2}).startswith(
        "resume: the saved run trained with 1 torch thread(s), this one with 2: training continues")
