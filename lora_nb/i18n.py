"""English and Simplified Chinese strings for the notebooks and widgets.

The course is built on Chinese tutorials, so their readers get the kit in Chinese:
widget labels, help texts (tooltips) and the messages the notebooks print. One setting switches
the language: `set_language("zh")`, the project's `language` (set in 00_setup), or the
environment variable `LORA_NB_LANG`. Library errors (`LoraNbError`) stay in English, so that
they can be searched for.

    t("train.stopped", step=120)        -> "Stopped at step 120; a checkpoint was saved."
    field_label("rank", "zh")           -> "秩 (network dim)"
    field_help("rank", "zh")            -> the Chinese tooltip of Config.rank
"""

from __future__ import annotations

import os

LANGUAGES = ("en", "zh")
ENV_VAR = "LORA_NB_LANG"

_current: str | None = None


def normalize_language(lang: str | None) -> str:
    """'zh', 'zh-CN', 'zh_Hans', '中文' -> 'zh'; 'en', 'en-US' -> 'en'. Unknown values raise."""
    from .errors import ConfigError

    s = (lang or "").strip().lower().replace("_", "-")
    if s in ("zh", "cn", "中文", "简体中文") or s.startswith(("zh-", "zh ")):
        return "zh"
    if s == "en" or s.startswith("en-") or s == "english":
        return "en"
    raise ConfigError(f"language {lang!r} is not supported -> use 'en' (English) or 'zh' (简体中文)")


def set_language(lang: str | None) -> str:
    """Set the language for every later `t()` call; None goes back to the environment default."""
    global _current
    _current = normalize_language(lang) if lang else None
    return get_language()


def get_language() -> str:
    """The language in use: `set_language`, else $LORA_NB_LANG, else English."""
    if _current:
        return _current
    env = os.environ.get(ENV_VAR)
    if env:
        try:
            return normalize_language(env)
        except ValueError:
            return "en"
    return "en"


def _lang(lang: str | None) -> str:
    return normalize_language(lang) if lang else get_language()


def t(key: str, lang: str | None = None, **fmt) -> str:
    """The string `key` in `lang` (default: the current language), formatted with `fmt`."""
    entry = STRINGS[key]
    text = entry[_lang(lang)]
    return text.format(**fmt) if fmt else text


def field_label(name: str, lang: str | None = None) -> str:
    """Short widget label of a Config field."""
    en, zh = FIELD_LABELS.get(name, (name.replace("_", " ").capitalize(), ""))
    return (zh or en) if _lang(lang) == "zh" else en


def field_help(name: str, lang: str | None = None) -> str:
    """Help text (tooltip) of a Config field: the English help from its metadata, or the Chinese one."""
    if _lang(lang) == "zh" and name in FIELD_HELP_ZH:
        return FIELD_HELP_ZH[name]
    from .config import Config

    for info in Config.field_info():
        if info["name"] == name:
            return info["help"]
    raise KeyError(name)


def group_title(group: str, lang: str | None = None) -> str:
    return t(f"group.{group}", lang)


# ---------------------------------------------------------------------------------------------
# messages, by id: {"en": ..., "zh": ...}; placeholders in {braces} must match in both
# ---------------------------------------------------------------------------------------------
STRINGS: dict[str, dict[str, str]] = {
    # config groups (widget tabs)
    "group.model": {"en": "Model", "zh": "模型"},
    "group.dataset": {"en": "Dataset", "zh": "数据集"},
    "group.network": {"en": "Network", "zh": "网络"},
    "group.optimizer": {"en": "Optimizer", "zh": "优化器"},
    "group.schedule": {"en": "Schedule", "zh": "学习率调度"},
    "group.training": {"en": "Training", "zh": "训练"},
    "group.saving": {"en": "Saving", "zh": "保存"},
    "group.sampling": {"en": "Sampling", "zh": "验证图像"},
    # config form
    "form.valid": {"en": "✓ All values are valid.", "zh": "✓ 所有参数有效。"},
    "form.problems": {"en": "Fix these values before training:", "zh": "训练前请修正以下参数："},
    "form.suggest_lr": {"en": "Suggested for rank {rank}: {lr:.2e} (Flux LoRA guide's lr-by-rank table)",
                        "zh": "rank {rank} 的建议学习率：{lr:.2e}（《Flux LoRA 训练经验》 的 rank-学习率表）"},
    "form.lr_follows": {"en": "learning rate follows the rank", "zh": "学习率随 rank 自动调整"},
    "form.lr_manual": {"en": "learning rate set by you (no longer follows the rank)",
                       "zh": "学习率已手动设置（不再随 rank 调整）"},
    "form.apply": {"en": "Use suggestion", "zh": "采用建议"},
    "form.alpha_hint": {"en": "LoRA explainer: alpha = rank/2 -> {alpha:g}",
                        "zh": "《LoRA 训练详解》：alpha = rank/2 -> {alpha:g}"},
    "form.list_hint": {"en": "comma-separated", "zh": "用逗号分隔"},
    "form.lines_hint": {"en": "one per line", "zh": "每行一个"},
    # live training display
    "train.stop": {"en": "Stop (save a checkpoint first)", "zh": "停止（先保存检查点）"},
    "train.stop_tooltip": {"en": "Finish the current step, save a checkpoint and stop training.",
                           "zh": "完成当前步骤，保存检查点后停止训练。"},
    "train.stop_requested": {"en": "Stopping after this step; a checkpoint will be saved…",
                             "zh": "本步完成后停止，将先保存检查点……"},
    "train.started": {"en": "Training {total} steps ({epochs:g} epochs) on {device}.",
                      "zh": "开始训练：共 {total} 步（{epochs:g} 个 epoch），设备 {device}。"},
    "train.step": {"en": "step {step}/{total} · loss {loss:.4f} · lr {lr:.2e}",
                   "zh": "第 {step}/{total} 步 · loss {loss:.4f} · 学习率 {lr:.2e}"},
    "train.checkpoint": {"en": "checkpoint saved at step {step}: {path}", "zh": "第 {step} 步已保存检查点：{path}"},
    "train.samples": {"en": "validation images at step {step}", "zh": "第 {step} 步的验证图像"},
    "train.done": {"en": "Done: {steps} steps, last loss {loss:.4f}. LoRA files: {files}",
                   "zh": "完成：{steps} 步，最后 loss {loss:.4f}。LoRA 文件：{files}"},
    "train.stopped": {"en": "Stopped at step {step}; a checkpoint was saved. Resume with resume = 'latest'.",
                      "zh": "已在第 {step} 步停止并保存检查点。设置 resume = 'latest' 可继续训练。"},
    "train.new_run": {"en": "{old} already holds a run: this training starts a new run folder, {new} "
                            "(to continue the old one set resume = 'latest', to replace it overwrite = True).",
                      "zh": "{old} 中已有一次训练：本次训练使用新的文件夹 {new}"
                            "（要继续旧的训练请设置 resume = 'latest'，要替换它请设置 overwrite = True）。"},
    "train.loss_title": {"en": "Training loss", "zh": "训练 loss"},
    # pictures: loss plot, sample sheets, fonts (lora_nb.fonts, grids, evaluate/lossplot)
    "plot.step": {"en": "step", "zh": "步数"},
    "plot.loss": {"en": "loss", "zh": "loss（损失）"},
    "plot.loss_title": {"en": "Training loss - {run}", "zh": "训练 loss - {run}"},
    "plot.band": {"en": "0.08-0.10: typical SD1.5 loss (Kohya practice guide) - a hint, not a target",
                  "zh": "0.08-0.10：SD1.5 常见 loss（《Kohya LoRA 训练实践》）——仅供参考，不是目标"},
    "plot.no_steps": {"en": "no steps logged yet", "zh": "还没有记录任何步"},
    "plot.raw": {"en": "loss (per step)", "zh": "loss（每步）"},
    "plot.ema": {"en": "loss (EMA {smoothing:g})", "zh": "loss（EMA {smoothing:g} 平滑）"},
    "plot.nan": {"en": "NaN loss", "zh": "NaN loss（数值溢出）"},
    "plot.checkpoint": {"en": "checkpoint", "zh": "检查点"},
    "plot.samples": {"en": "sample images", "zh": "验证图像"},
    "plot.lr": {"en": "learning rate", "zh": "学习率"},
    "plot.val_loss": {"en": "validation loss (held-out images, fixed noise)",
                      "zh": "验证 loss（留出的图像，固定噪声）"},
    "plot.train_eval_loss": {"en": "same measure on training images", "zh": "训练图像上的同一测量"},
    "plot.val_best": {"en": "lowest validation loss (step {step}), rising since",
                      "zh": "验证 loss 最低点（第 {step} 步），之后上升"},
    "train.val_loss": {"en": "step {step}: validation loss {val:.4f} (held-out), {train:.4f} (training images)",
                       "zh": "第 {step} 步：验证 loss {val:.4f}（留出图像），{train:.4f}（训练图像）"},
    "plot.warmup_end": {"en": "end of warmup ({steps})", "zh": "预热结束（{steps}）"},
    "plot.lr_title": {"en": "Learning-rate schedule: {scheduler}", "zh": "学习率调度：{scheduler}"},
    "plot.memory_title": {"en": "Predicted GPU peak: {gb:.1f} GiB", "zh": "预计显存峰值：{gb:.1f} GiB"},
    "plot.training_step": {"en": "training step", "zh": "训练步"},
    "plot.tag_count": {"en": "occurrences in captions", "zh": "在标注中出现的次数"},
    "plot.top_tags": {"en": "Top {n} tags", "zh": "出现最多的 {n} 个标签"},
    "plot.top_tags_in": {"en": "Top {n} tags in {concept}", "zh": "{concept} 中出现最多的 {n} 个标签"},
    "plot.no_tags": {"en": "no tags", "zh": "没有标签"},
    "plot.balance_y": {"en": "samples per epoch (images x repeats)", "zh": "每个 epoch 的样本数（图像数 × 重复次数）"},
    "plot.balance_title": {"en": "concept balance", "zh": "概念平衡"},
    "samples.col": {"en": "step {step}", "zh": "第 {step} 步"},
    "samples.row": {"en": "{prompt} · seed {seed}", "zh": "{prompt} · 种子 {seed}"},
    "samples.row_unknown": {"en": "prompt {n}", "zh": "提示词 {n}"},
    "samples.axis_x": {"en": "step", "zh": "步数"},
    "samples.axis_y": {"en": "prompt · seed", "zh": "提示词 · 种子"},
    # caption editor (notebook/caption_widget.py)
    "caption.prev": {"en": "◀ Prev", "zh": "◀ 上一张"},
    "caption.prev_tip": {"en": "Previous image (edits are kept)", "zh": "上一张图像（修改会保留）"},
    "caption.next": {"en": "Next ▶", "zh": "下一张 ▶"},
    "caption.next_tip": {"en": "Next image (edits are kept)", "zh": "下一张图像（修改会保留）"},
    "caption.save": {"en": "Save", "zh": "保存"},
    "caption.save_tip": {"en": "Write this caption to its .txt file", "zh": "把这条标注写入对应的 .txt 文件"},
    "caption.placeholder": {"en": "(no caption yet: type one and press Save)", "zh": "（还没有标注：输入后点“保存”）"},
    "caption.unsaved": {"en": "unsaved changes", "zh": "有未保存的修改"},
    "caption.no_file": {"en": "no caption file", "zh": "没有标注文件"},
    "caption.others": {"en": "{n} other image(s) with unsaved changes", "zh": "另有 {n} 张图像的修改未保存"},
    "caption.saved": {"en": "saved {name}", "zh": "已保存 {name}"},
    "grid.shown_scaled": {"en": "shown ×{factor}, {method}", "zh": "放大 ×{factor} 显示，{method}"},
    "grid.nearest": {"en": "nearest", "zh": "最近邻插值"},
    "grid.lanczos": {"en": "Lanczos", "zh": "Lanczos 插值"},
    "font.missing": {"en": "no font here can draw {chars} (shown as boxes) -> install a full CJK font: Colab/Debian "
                           "`!apt-get install -y fonts-noto-cjk`, then restart the runtime; or set LORA_NB_FONT to a "
                           "font file",
                     "zh": "当前没有能显示 {chars} 的字体（会显示为方框）-> 安装完整的中文字体：Colab/Debian 上运行 "
                           "`!apt-get install -y fonts-noto-cjk` 后重启运行时；或把 LORA_NB_FONT 设为字体文件路径"},
    # project
    "project.created": {"en": "New project '{name}' in {path}", "zh": "已新建项目“{name}”：{path}"},
    "project.opened": {"en": "Project '{name}' ({family}) in {path}", "zh": "项目“{name}”（{family}）：{path}"},
    "project.missing": {"en": "no project in {path} -> run 00_setup first "
                              "(or set PROJECT to your project's name or folder)",
                        "zh": "{path} 中没有项目 -> 请先运行 00_setup（或把 PROJECT 设为你的项目名称或文件夹）"},
    "project.need_step": {"en": "run {notebook} first: no {what} in {path}",
                          "zh": "请先运行 {notebook}：{path} 中没有{what}"},
    "project.done_steps": {"en": "Steps done: {steps}", "zh": "已完成的步骤：{steps}"},
    "project.next": {"en": "Next: open {notebook}.", "zh": "下一步：打开 {notebook}。"},
    "project.saved": {"en": "Saved {what} to {path}", "zh": "已保存{what}：{path}"},
    "what.dataset": {"en": "dataset", "zh": "数据集"},
    "what.cropped": {"en": "cropped images", "zh": "裁剪后的图像"},
    "what.captions": {"en": "captioned images", "zh": "已打标的图像"},
    "what.clean": {"en": "cleaned captions", "zh": "清洗后的标签"},
    "what.run": {"en": "training run", "zh": "训练结果"},
    "what.config": {"en": "config", "zh": "配置"},
    "what.evaluation": {"en": "evaluation", "zh": "效果验证"},
    # checkpoint recommendation (evaluate/recommend.py, evaluate/report.py)
    "rec.reason": {"en": "Take {label} at strength {strength:g}: its {measure} is {value:.3f} (base model {base:.3f}; "
                         "best {best:.3f} at {best_label}, strength {best_strength:g}; cells within ±{tol:.3f} of the "
                         "best count as equal, the seeds' noise).",
                   "zh": "选 {label}，强度 {strength:g}：它的 {measure} 为 {value:.3f}（基础模型 {base:.3f}；"
                         "最高 {best:.3f}，在 {best_label}、强度 {best_strength:g}；与最高值相差不到 ±{tol:.3f} 的格子"
                         "视为一样好，这是种子带来的误差）。"},
    "rec.reason_earlier": {"en": "Among equally good cells the earliest checkpoint and the lowest strength win: less "
                                 "training and less weight keep more of the base model.",
                           "zh": "一样好的格子中选最早的检查点和最低的强度：训练越少、权重越低，基础模型保留得越多。"},
    "rec.reason_other": {"en": "Its other measures: {values}.", "zh": "其他指标：{values}。"},
    "rec.reason_drift": {"en": "Unrelated prompts change {ratio:.0%} as much as the concept prompt.",
                         "zh": "无关提示词的变化是概念提示词的 {ratio:.0%}。"},
    "rec.underfit": {"en": "Under-fit: {measure} still rises at the last checkpoint ({prev:.3f} -> {last:.3f} at "
                           "{label}) -> train longer.",
                     "zh": "欠拟合：{measure} 在最后一个检查点仍在上升（{prev:.3f} -> {last:.3f}，{label}）"
                           "-> 多训练一些步数。"},
    "rec.not_learned": {"en": "Under-fit: no checkpoint shows the concept yet ({measure} at most {best:.3f}, base "
                               "model {base:.3f}) -> train longer or with a higher learning rate.",
                        "zh": "欠拟合：还没有检查点学会这个概念（{measure} 最高 {best:.3f}，基础模型 {base:.3f}）"
                              "-> 多训练一些步数或提高学习率。"},
    "rec.overfit": {"en": "Over-fit: {signs} -> take an earlier checkpoint or a lower strength.",
                    "zh": "过拟合：{signs} -> 选更早的检查点或更低的强度。"},
    "rec.sign_val": {"en": "validation loss rose from {low:.4f} (step {low_step}) to {last:.4f} (step {last_step})",
                     "zh": "验证 loss 从 {low:.4f}（第 {low_step} 步）升到 {last:.4f}（第 {last_step} 步）"},
    "rec.sign_peak": {"en": "{measure} peaked at {peak:.3f} ({label}) and fell to {last:.3f} at the last checkpoint",
                      "zh": "{measure} 在 {label} 达到最高 {peak:.3f}，最后一个检查点降到 {last:.3f}"},
    "rec.sign_collapse": {"en": "at the last checkpoint the seeds' pictures kept only {kept:.0%} of the chosen "
                                "checkpoint's diversity",
                          "zh": "最后一个检查点中不同种子的图像只保留了所选检查点 {kept:.0%} 的多样性"},
    "rec.sign_drift": {"en": "unrelated prompts change {ratio:.0%} as much as the concept prompt",
                       "zh": "无关提示词的变化达到概念提示词的 {ratio:.0%}"},
    "rec.leak": {"en": "Concept leak: the class prompt without the trigger word gets {ratio:.0%} of the trigger's "
                       "{measure} gain -> the trigger is not needed; caption what varies, use a rarer trigger, or "
                       "train fewer steps.",
                 "zh": "概念泄漏：不带触发词的类别提示词也得到了触发词 {ratio:.0%} 的 {measure} 提升 -> "
                       "触发词已不起作用；标注图中变化的内容、换更少见的触发词，或减少训练步数。"},
    "rec.none": {"en": "No warnings.", "zh": "没有警告。"},
    "rec.title": {"en": "Recommendation", "zh": "推荐"},
    "rec.table": {"en": "Measures (mean over seeds)", "zh": "指标（各种子的平均值）"},
    "rec.plot_title": {"en": "{measure} over training steps", "zh": "{measure} 随训练步数的变化"},
    "rec.strength": {"en": "strength {strength:g}", "zh": "强度 {strength:g}"},
    "rec.forgetting": {"en": "unrelated prompts change {ratio:.0%} as much as the concept prompt: {verdict}",
                       "zh": "无关提示词的变化是概念提示词的 {ratio:.0%}：{verdict}"},
    "rec.forgetting_ok": {"en": "fine, the LoRA keeps to its concept", "zh": "正常，LoRA 只影响它的概念"},
    "rec.forgetting_bad": {"en": "too much, the LoRA redraws unrelated prompts -> take an earlier checkpoint or a "
                                 "lower strength",
                           "zh": "过多，LoRA 改变了无关提示词的图像 -> 选更早的检查点或更低的强度"},
    # environment / self-test
    "env.colab": {"en": "Running on Google Colab", "zh": "运行在 Google Colab 上"},
    "env.local": {"en": "Running locally (Jupyter)", "zh": "在本地运行（Jupyter）"},
    "env.drive": {"en": "Google Drive mounted: projects are kept on Drive",
                  "zh": "已挂载 Google Drive：项目保存在云端硬盘"},
    "env.no_drive": {"en": "Google Drive not mounted: projects are lost when the Colab runtime ends",
                     "zh": "未挂载 Google Drive：Colab 运行时结束后项目会丢失"},
    "env.gpu": {"en": "GPU: {name}, {gb:.0f} GB, precision {precision}",
                "zh": "GPU：{name}，{gb:.0f} GB 显存，精度 {precision}"},
    "env.no_gpu": {"en": "No GPU: training runs on the CPU (fine for the smoke test, far too slow for real work). "
                         "On Colab: Runtime > Change runtime type > T4 GPU.",
                   "zh": "没有 GPU：训练在 CPU 上运行（冒烟测试可以，真实训练太慢）。"
                         "Colab：代码执行程序 > 更改运行时类型 > T4 GPU。"},
    "nb.run_first": {"en": "`{name}` is not defined yet -> run this cell first: {cell} (or Run All Above).",
                     "zh": "`{name}` 还没有定义 -> 请先运行这个单元格：{cell}（或“运行上方所有单元格”）。"},
    "nb.since_plan": {"en": "Changed in the form since the Plan cell: {fields} -> training uses the form's values "
                            "(run the Plan cell again to check the plan for them).",
                      "zh": "规划单元格运行后表单有改动：{fields} -> 训练使用表单当前的值"
                            "（可重新运行规划单元格检查）。"},
    "env.smoke": {"en": "Smoke mode (LORA_NB_SMOKE=1): tiny offline model, sample dataset, a few steps.",
                  "zh": "冒烟模式（LORA_NB_SMOKE=1）：离线微型模型、示例数据集、只训练几步。"},
    "env.course": {"en": "CPU course (LORA_NB_COURSE=cpu): the tiny offline model learns the sample's zigzag star "
                         "in minutes; 06_evaluate's grid shows it.",
                   "zh": "CPU 课程模式（LORA_NB_COURSE=cpu）：离线微型模型几分钟学会示例中的星星玩具，"
                         "06_evaluate 的网格图可以看到。"},
    "doctor.ok": {"en": "Doctor: no blocking problem in this environment.", "zh": "环境检查：没有阻碍训练的问题。"},
    "doctor.failed": {"en": "Doctor found blocking problems — fix them (commands below) before you go on.",
                      "zh": "环境检查发现阻碍训练的问题——请先按下面的命令修复。"},
    "selftest.ok": {"en": "Self-test passed: the environment can train.", "zh": "自检通过：环境可以训练。"},
    "selftest.failed": {"en": "Self-test FAILED — fix the problems below before you go on.",
                        "zh": "自检失败——请先解决以下问题再继续。"},
    # summaries after each step
    "summary.collect": {"en": "{n} images in {concepts} concept folder(s); {rejected} rejected; "
                              "{dups} duplicate group(s)",
                        "zh": "{n} 张图像，{concepts} 个概念文件夹；拒收 {rejected} 张；近似重复 {dups} 组"},
    "summary.crop": {"en": "{n} images cropped ({mode}, {resolution} px); {skipped} skipped",
                     "zh": "已裁剪 {n} 张（{mode}，{resolution} 像素）；跳过 {skipped} 张"},
    "summary.caption": {"en": "{written} captions written, {skipped} kept as they were",
                        "zh": "新写入 {written} 条标注，保留原有 {skipped} 条"},
    "summary.clean": {"en": "{changed} captions changed; triggers: {triggers}",
                      "zh": "修改了 {changed} 条标注；触发词：{triggers}"},
    "summary.train": {"en": "{steps} steps; last loss {loss:.4f}; {ckpts} checkpoint(s) in {path}",
                      "zh": "{steps} 步；最后 loss {loss:.4f}；{ckpts} 个检查点，位于 {path}"},
    "summary.evaluate": {"en": "XY grid saved to {path}", "zh": "XY 对比图已保存：{path}"},
    "grid.empty": {"en": "(no images)", "zh": "（没有图像）"},
}


# ---------------------------------------------------------------------------------------------
# Config fields: short labels (en, zh) and Chinese help texts (English ones live in config.py)
# ---------------------------------------------------------------------------------------------
FIELD_LABELS: dict[str, tuple[str, str]] = {
    "family": ("Model family", "模型系列"),
    "pretrained_model": ("Base model", "底模"),
    "revision": ("Revision", "版本 (revision)"),
    "vae": ("VAE", "VAE"),
    "allow_pickle": ("Allow pickle files", "允许 pickle 文件"),
    "train_data_dir": ("Training images", "训练图像文件夹"),
    "reg_data_dir": ("Regularization images", "正则化图像文件夹"),
    "resolution": ("Resolution", "分辨率"),
    "enable_bucket": ("Aspect buckets", "分桶 (bucket)"),
    "min_bucket_reso": ("Min bucket side", "最小桶边长"),
    "max_bucket_reso": ("Max bucket side", "最大桶边长"),
    "upscale_small": ("Upscale small images", "放大小图"),
    "random_crop": ("Random crop", "随机裁剪"),
    "flip_aug": ("Flip augmentation", "水平翻转增强"),
    "default_repeats": ("Default repeats", "默认重复次数"),
    "caption_extension": ("Caption extension", "标注文件扩展名"),
    "missing_caption": ("Missing caption", "缺少标注时"),
    "trigger_word": ("Trigger word", "触发词"),
    "shuffle_caption": ("Shuffle tags", "打乱标签"),
    "keep_tokens": ("Keep first tags", "保持前几个标签"),
    "caption_dropout_rate": ("Caption dropout", "标注丢弃率"),
    "cache_latents": ("Cache latents", "缓存 latent"),
    "network_type": ("Network type", "网络类型"),
    "rank": ("Rank (dim)", "秩 (network dim)"),
    "alpha": ("Alpha", "Alpha"),
    "network_dropout": ("Network dropout", "网络 dropout"),
    "target_modules": ("Target modules", "目标模块"),
    "train_text_encoder": ("Train text encoder", "训练文本编码器"),
    "optimizer": ("Optimizer", "优化器"),
    "learning_rate": ("Learning rate", "学习率"),
    "unet_lr": ("UNet lr", "UNet 学习率"),
    "text_encoder_lr": ("Text encoder lr", "文本编码器学习率"),
    "weight_decay": ("Weight decay", "权重衰减"),
    "max_grad_norm": ("Max grad norm", "梯度裁剪"),
    "lr_scheduler": ("LR scheduler", "学习率调度器"),
    "lr_warmup_steps": ("Warmup steps", "预热步数"),
    "lr_warmup_ratio": ("Warmup ratio", "预热比例"),
    "lr_scheduler_num_cycles": ("Restarts", "重启次数"),
    "lr_scheduler_power": ("Polynomial power", "多项式幂次"),
    "max_train_epochs": ("Epochs", "训练轮数 (epoch)"),
    "max_train_steps": ("Max steps", "最大步数"),
    "train_batch_size": ("Batch size", "批量大小"),
    "gradient_accumulation_steps": ("Grad accumulation", "梯度累积步数"),
    "mixed_precision": ("Mixed precision", "混合精度"),
    "gradient_checkpointing": ("Gradient checkpointing", "梯度检查点"),
    "noise_offset": ("Noise offset", "噪声偏移"),
    "multires_noise_iterations": ("Multires noise iter.", "多分辨率噪声迭代"),
    "multires_noise_discount": ("Multires noise discount", "多分辨率噪声衰减"),
    "min_snr_gamma": ("Min-SNR gamma", "Min-SNR gamma"),
    "prior_loss_weight": ("Prior loss weight", "正则化损失权重"),
    "clip_skip": ("CLIP skip", "CLIP 跳过层数"),
    "seed": ("Seed", "随机种子"),
    "output_dir": ("Output folder", "输出文件夹"),
    "output_name": ("Output name", "输出文件名"),
    "save_every_n_steps": ("Save every N steps", "每 N 步保存"),
    "save_precision": ("Save precision", "保存精度"),
    "save_formats": ("Save formats", "保存格式"),
    "save_dora_a1111": ("DoRA file for A1111", "DoRA 的 A1111 文件"),
    "save_state": ("Save resume state", "保存续训状态"),
    "resume": ("Resume from", "继续训练自"),
    "overwrite": ("Overwrite previous run", "覆盖之前的训练"),
    "training_comment": ("Training comment", "训练备注"),
    "sample_every_n_steps": ("Sample every N steps", "每 N 步生成验证图"),
    "sample_prompts": ("Sample prompts", "验证提示词"),
    "sample_seed": ("Sample seed", "验证图种子"),
    "sample_steps": ("Sample steps", "验证图采样步数"),
    "sample_guidance_scale": ("Sample CFG scale", "验证图 CFG"),
    "quantization": ("Quantization", "量化"),
    "vae_dtype": ("VAE precision", "VAE 精度"),
    "v_parameterization": ("V-prediction", "v 预测"),
    "zero_terminal_snr": ("Zero terminal SNR", "零终端信噪比"),
    "cache_text_embeddings": ("Cache text embeddings", "缓存文本嵌入"),
    "conv_rank": ("Conv rank", "卷积层秩"),
    "conv_alpha": ("Conv alpha", "卷积层 alpha"),
    "train_mlp": ("Train MLP layers", "训练 MLP 层"),
    "down_lr_weight": ("Down-block lr weights", "下行块学习率权重"),
    "mid_lr_weight": ("Mid-block lr weight", "中间块学习率权重"),
    "up_lr_weight": ("Up-block lr weights", "上行块学习率权重"),
    "timestep_sampling": ("Timestep sampling", "时间步采样"),
    "sigmoid_scale": ("Sigmoid scale", "sigmoid 尺度"),
    "flow_shift": ("Flow shift", "flow 偏移"),
    "guidance_scale": ("Guidance (training)", "训练引导值"),
    "t5_max_length": ("T5 max tokens", "T5 最大 token 数"),
    "gpu_preset": ("GPU preset", "GPU 预设"),
    "cpu_offload": ("CPU offload", "CPU 卸载"),
    "validation_split": ("Validation split", "验证集划分"),
    "validation_data_dir": ("Validation folder", "验证集文件夹"),
}

FIELD_HELP_ZH: dict[str, str] = {
    "family": "底模的模型系列：sd15（Stable Diffusion 1.5）、sdxl 或 flux。",
    "pretrained_model": "底模：Hugging Face 仓库名，或 diffusers 格式的本地文件夹（model_index.json、unet/、vae/、"
                        "text_encoder/、tokenizer/、scheduler/）。",
    "revision": "底模在 Hub 上的版本（分支、标签或提交）；留空使用默认版本。",
    "vae": "可选的单独 VAE（仓库名或文件夹），例如支持 fp16 的 VAE；留空使用底模自带的 VAE。",
    "allow_pickle": "允许加载 pickle 权重（.ckpt/.pt/.bin）。pickle 文件加载时可能执行代码，只对你信任的文件开启。",
    "train_data_dir": "训练图像文件夹（图像旁边有同名 .txt 标注），或 kohya 格式的概念文件夹 N_name（N = 重复次数）。",
    "reg_data_dir": "可选的正则化（类别）图像文件夹，用 N_类别 子文件夹；标注只写类别词，不写触发词。每轮用与训练图像"
                    "同样多的正则化样本，所以每轮步数加倍。留空表示不用。",
    "resolution": "训练分辨率：桶的最长边（SD1.5 用 512，SDXL/Flux 用 1024）。必须是 64 的倍数。",
    "enable_bucket": "按长宽比分桶：保留每张图的形状，而不是裁成正方形。",
    "min_bucket_reso": "桶的最小边长（像素，64 的倍数）。",
    "max_bucket_reso": "桶的最大边长（像素，64 的倍数）。",
    "upscale_small": "允许放大比桶小的图像。默认关闭：小图会被报告出来，而不是被悄悄放大变糊。",
    "random_crop": "随机裁剪代替中心裁剪。默认关闭：教程提醒随机裁剪会让模型学到扭曲、被截断的主体。",
    "flip_aug": "随机水平翻转。不对称的主体（文字、标志、有发旋的脸）不要使用。",
    "default_repeats": "不在 N_name 概念文件夹里的图像的重复次数。",
    "caption_extension": "标注文件的扩展名。",
    "missing_caption": "图像没有标注文件时怎么办：error（报错）、warn_empty（用空标注训练）或 warn_trigger（标注 = "
                       "触发词）。",
    "trigger_word": "触发词或唯一标识，放在每条缺少它的标注最前面（《Flux LoRA 训练经验》：每个概念一个 10 "
                    "个随机字母的标识）。",
    "shuffle_caption": "每步打乱逗号分隔的标签，使标签顺序不带权重（《LoRA 训练详解》：越靠前的标签权重越大）。",
    "keep_tokens": "打乱时保持不动的前几个标签数（例如 1 让触发词始终在最前）。",
    "caption_dropout_rate": "以空标注训练某一步的概率（有助于无条件生成）。",
    "cache_latents": "每张图只用 VAE 编码一次并保存 latent：memory（内存）、disk（磁盘，训练之间复用）或 none。"
                     "缓存后 random_crop 和 flip_aug 不再每步变化。",
    "rank": "LoRA 的秩（network dim）：决定容量和文件大小。教程：二次元/人物 8-32，真人/物体 32-64，"
            "复杂画风和真实场景 64-128。",
    "alpha": "LoRA alpha；更新按 alpha/rank 缩放。《LoRA 训练详解》：默认取 rank/2；alpha 越小，更新越小、越慢。",
    "network_dropout": "训练时 LoRA 分支上的 dropout。",
    "target_modules": "UNet/transformer 中加 LoRA 的模块名（注意力投影层）。",
    "train_text_encoder": "同时在文本编码器上训练 LoRA（kohya 的 lora_te_*）。",
    "optimizer": "优化器。adamw8bit（《LoRA 训练详解》 推荐）省显存；lion 需要约低 10 倍的学习率；"
                 "prodigy/dadaptation 自动调整学习率（学习率设为 1.0）。",
    "learning_rate": "基础学习率（《Flux LoRA 训练经验》：rank 16 -> 1e-4，rank 64 -> 8e-5）。",
    "unet_lr": "UNet/transformer LoRA 的学习率；0 表示使用基础学习率。",
    "text_encoder_lr": "文本编码器 LoRA 的学习率；0 表示使用基础学习率的一半（《Kohya LoRA 训练实践》：UNet 学习率的 "
                       "1/2 到 1/10）；prodigy/dadaptation 需要所有权重共用一个学习率，此时 0 表示与 UNet 相同。",
    "weight_decay": "权重衰减（与 AdamW 一样解耦）。",
    "max_grad_norm": "把梯度裁剪到这个范数；0 表示不裁剪。",
    "lr_scheduler": "学习率调度（diffusers 的 get_scheduler）。《LoRA 训练详解》：默认 cosine；"
                    "cosine_with_restarts 用 3-5 次重启。",
    "lr_warmup_steps": "预热步数；大于 0 时覆盖 lr_warmup_ratio。",
    "lr_warmup_ratio": "预热占总步数的比例。",
    "lr_scheduler_num_cycles": "cosine_with_restarts 的重启次数（《LoRA 训练详解》：3-5）。",
    "lr_scheduler_power": "polynomial 调度的幂次。",
    "max_train_epochs": "训练轮数（一轮 = 每张图 x 其重复次数各训练一次）。max_train_steps 为 0 时使用。",
    "max_train_steps": "优化器总步数；0 表示由轮数推算。",
    "train_batch_size": "每步的图像数（《Kohya LoRA 训练实践》：批量越大越快，但每张图学得越不精细）。",
    "gradient_accumulation_steps": "每个优化器步累积的批次数。",
    "mixed_precision": "auto：T4/Turing 用 fp16，Ampere 及更新的显卡用 bf16，CPU 上不用混合精度。",
    "gradient_checkpointing": "反向传播时重新计算激活：省显存，约慢 30%。",
    "noise_offset": "噪声偏移（改善过暗/过亮的图像）；常用 0.05-0.1。",
    "multires_noise_iterations": "多分辨率（金字塔）噪声迭代次数；《LoRA 训练详解》：6-10。",
    "multires_noise_discount": "多分辨率噪声的衰减；《LoRA 训练详解》：0.3-0.8。",
    "min_snr_gamma": "Min-SNR 损失加权的 gamma（Hang 等，2023，常用 5）；0 表示关闭。",
    "prior_loss_weight": "正则化图像（reg_data_dir）的损失权重，训练图像为 1.0（kohya 的 prior_loss_weight）。",
    "clip_skip": "使用文本编码器倒数第 n 层的输出（1 = 最后一层；二次元模型常用 2）。",
    "seed": "随机种子：决定数据顺序、噪声和时间步。",
    "output_dir": "训练输出文件夹：检查点、验证图像、日志和续训状态。",
    "output_name": "保存的 LoRA 文件名（不含扩展名）。",
    "save_every_n_steps": "每 N 步保存一个检查点（0：只在结束时保存）。《Flux LoRA 训练经验》："
                          "检查点间隔与验证图间隔保持一致。",
    "save_precision": "保存 LoRA 权重的精度。",
    "save_formats": "每个检查点写出的文件格式：kohya（A1111/Forge/ComfyUI）和 diffusers。",
    "save_dora_a1111": "仅 DoRA：另写 <name>.a1111.safetensors，保存每层完整的权重变化，"
                       "在 AUTOMATIC1111 中也完全一致（它的 dora_scale 算法无法表示 DoRA 的幅度）；"
                       "文件很大：SD1.5 约 240 MB，SDXL 约 2.4 GB（fp16）。",
    "save_state": "每个检查点同时保存优化器/调度器/随机数状态，以便继续训练。",
    "resume": "从 'latest'（output_dir 中最新的状态）或某个状态文件夹继续训练；留空则重新开始。",
    "overwrite": "在已有一次训练的 output_dir 中重新开始：先删除它的日志、续训状态、检查点、验证图像和 config.toml"
                 "（保留 cache/）。关闭时拒绝这样的文件夹，两次训练绝不混在一起。设置 resume 时忽略。",
    "training_comment": "写入 LoRA 元数据 ss_training_comment 的备注文字。",
    "sample_every_n_steps": "每 N 步生成验证图像；-1 跟随 save_every_n_steps（《Flux LoRA 训练经验》：相同间隔），0 "
                            "表示关闭。",
    "sample_prompts": "验证提示词。包含你训练的概念，"
                      "再加一个无关的提示词来观察模型是否遗忘（《Flux LoRA 训练经验》）。",
    "sample_seed": "验证图像的固定种子，使变化只来自训练。",
    "sample_steps": "生成验证图像的去噪步数。",
    "sample_guidance_scale": "生成验证图像的 CFG 强度；0 = 按模型家族取常用值（SD1.5/SDXL 为 7，Flux-dev 为 3.5，"
                             "其引导是蒸馏进模型的）。",
    "quantization": "用 bitsandbytes 量化加载冻结的 UNet/transformer（QLoRA，Dettmers 等，2023）："
                    "nf4（4 位，约小 3.5 倍；Flux-dev 可在 12-16 GB 显存上训练）或 int8；LoRA 本身仍以全精度训练。"
                    "none 保持 16 位权重。",
    "vae_dtype": "VAE 的精度。auto：VAE 需要时用 fp32（SDXL 的 VAE 在 fp16 下会出黑图/NaN），否则用训练精度；"
                 "支持 fp16 的 VAE（如 madebyollin/sdxl-vae-fp16-fix，在 vae 中设置）可用 fp16。",
    "v_parameterization": "SD1.5/SDXL：用 v 目标训练（v 预测；kohya 的 v_parameterization）。auto：按底模的设置"
                          "（scheduler_config.json 的 prediction_type，或单个 .safetensors 文件中的 v_pred 键，"
                          "如 NoobAI-XL v-pred）；yes/no 可强制指定。",
    "zero_terminal_snr": "SD1.5/SDXL：把噪声调度重新缩放到零终端信噪比（Lin 等，2023；kohya 的 zero_terminal_snr；"
                         "需要 v 预测）。auto：按底模的设置（rescale_betas_zero_snr，或单个文件中的 ztsnr 键）；"
                         "yes/no 可强制指定。",
    "cache_text_embeddings": "训练前把每条标注编码一次并释放文本编码器（仅 Flux 的 T5 就约 10 GB）。"
                             "auto：能缓存时就缓存（不训练文本编码器、不打乱标签）；yes：必须缓存（不可能时报错）；"
                             "disk：必须缓存，存成训练目录旁的文件而不占内存"
                             "（大型 Flux 数据集；中断后续训不再重新编码）；no：每步重新编码。",
    "network_type": "适配器类型（《Kohya LoRA 训练实践》 §1.4）。lora：注意力层（kohya 的 standard）；"
                    "locon：同时训练 UNet 的卷积层；loha：Hadamard 积（FedPara）；lokr：Kronecker 积；dora："
                    "权重分解的 LoRA（Liu 等，2024）。",
    "conv_rank": "locon/loha/lokr 在卷积层上的秩（kohya 的 conv_dim；《Kohya LoRA 训练实践》：LoCon 不超过 64，LoHa "
                 "不超过 32）；0 表示使用 rank。",
    "conv_alpha": "卷积层上的 alpha（《Kohya LoRA 训练实践》：1 或更低）；0 表示使用 alpha。",
    "train_mlp": "Flux：除注意力层外，也在 MLP（前馈）层上加适配器：容量更大，文件也更大。",
    "down_lr_weight": "SD1.5/SDXL：UNet 每个输入块的学习率权重，从浅到深（kohya 的 down_lr_weight）：SD1.5 写 12 个"
                      "数，SDXL 写 9 个，或写曲线名 cosine、sine、linear、reverse_linear、zeros（+0.25 整体加高）。"
                      "权重为 0 的块不加 LoRA；留空表示全部为 1。",
    "mid_lr_weight": "SD1.5/SDXL：UNet 中间块的学习率权重（kohya 的 mid_lr_weight）：SD1.5 写 1 个数，SDXL 写 3 个；"
                     "留空表示 1。",
    "up_lr_weight": "SD1.5/SDXL：UNet 每个输出块的学习率权重，从深到浅（kohya 的 up_lr_weight）：SD1.5 写 12 个数，"
                    "SDXL 写 9 个，或写曲线名（同 down_lr_weight）；留空表示全部为 1。",
    "timestep_sampling": "Flux（流匹配）：训练时噪声强度的抽样方式。sigmoid：logit-normal，大多在中等噪声（Esser 等，"
                         "2024）；"
                         "uniform：均匀；shift：sigmoid 后按 flow_shift 向高噪声偏移；"
                         "flux_shift：Flux 采样时随分辨率变化的偏移。",
    "sigmoid_scale": "Flux：logit-normal 时间步抽样的分布宽度（1.0 = SD3 的默认值）。",
    "flow_shift": "Flux：timestep_sampling='shift' 时的偏移量（kohya 的 discrete_flow_shift；SD3 为 3.0，"
                  "Flux 约 3.16）；越大越多地在高噪声下训练（构图）。",
    "guidance_scale": "Flux-dev：训练时输入其引导嵌入的引导值（kohya 推荐 1.0）；schnell 和 SD 模型忽略此项。",
    "t5_max_length": "Flux：每条标注的 T5 token 数；0 = 模型默认（dev 为 512，schnell 为 256）。越短越快，"
                     "超长的标注会被截断。",
    "gpu_preset": "按显存大小的预设（12GB、16GB = Colab T4、24GB、40GB 以上）：为该模型系列设置量化、梯度检查点、"
                  "缓存和 8 位优化器。"
                  "auto 按检测到的 GPU 选择；你改过默认值的字段保持不变；none 关闭预设。",
    "cpu_offload": "把冻结的 VAE 和文本编码器放在内存（CPU）中，只在运行时移到 GPU（缓存、生成验证图，"
                   "或未缓存时每一步）。",
    "validation_split": "留出一部分训练图像，在每个检查点测量验证 loss（曲线先降后升时，说明 LoRA 开始过拟合）："
                        "小数表示比例（0.1 = 10%，至少 1 张），整数表示张数（3 = 三张）；"
                        "按随机种子选取并从训练中移除，"
                        "与 sd-scripts 的 validation_split 相同。有 10 张以上图像时推荐 0.1；0 表示关闭。",
    "validation_data_dir": "单独的验证图像文件夹（与 train_data_dir 结构相同），用它代替 validation_split 测量验证 "
                           "loss；这些图像从不参与训练。留空表示不用。",
}
