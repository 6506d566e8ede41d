"""The training plan's text, by id: the Markdown layout (`planner.render_markdown`), the step notes and the
over-/under-fitting guide; the advice is in `advice`, memory and presets in `memory`. Placeholders in {braces}
match between the languages.

The tutorials are cited by their English short names in data (JSON, tests); `cite(text, lang)` turns those
names into the Chinese titles the notebooks use."""

from __future__ import annotations

# the tutorials' short names -> the titles the zh notebooks use (lora_nb/i18n/fields.py, messages.py)
GUIDES_ZH = {"Flux LoRA guide": "《Flux LoRA 训练经验》", "LoRA explainer": "《LoRA 训练详解》",
             "Kohya practice guide": "《Kohya LoRA 训练实践》", "FluxTrainer walkthrough": "《FluxTrainer 教程》"}

# planning/advice/tables.py PURPOSES labels, in Chinese
PURPOSES_ZH = {"anime": "二次元画风或角色", "character": "一个角色", "person": "真实人物", "object": "物体或产品",
               "style": "复杂画风", "scene": "真实场景或风景", "new": "底模从未见过的内容"}


def cite(text: str, lang: str) -> str:
    """`text` with the tutorials' short names as their Chinese titles when `lang` is zh."""
    if lang != "zh":
        return text
    for en, zh in GUIDES_ZH.items():
        text = text.replace(f"the {en}", zh).replace(f"{en}'s", zh).replace(en, zh)
    return text


STRINGS: dict[str, dict[str, str]] = {
    # Markdown layout (planning/planner.py render_markdown)
    "plan.kept": {"en": "{fields}: kept as set -- {why}. The tutorials' rule would say: {advice}",
                  "zh": "{fields}：保持当前设置 -- {why}。教程的规则会建议：{advice}"},
    "plan.kept_course": {"en": "the CPU course's recipe for the built-in 4M-parameter model (measured in "
                                "bench/README.md); the tutorials' rules are for full-size base models",
                         "zh": "这是 CPU 课程为内置的 4M 参数小模型定的配方（实测见 bench/README.md）；"
                               "教程的规则针对的是完整大小的底模"},
    "plan.title": {"en": "# Training plan: {family}, rank {rank}, {resolution}px, {optimizer}",
                   "zh": "# 训练计划：{family}，rank {rank}，{resolution}px，{optimizer}"},
    "plan.dataset": {"en": "Dataset: {source} -- {images} images in {concepts} concept(s)",
                     "zh": "数据集：{source} -- {images} 张图像，{concepts} 个概念"},
    "plan.h_steps": {"en": "## Steps", "zh": "## 步数"},
    "plan.steps_rule": {"en": "total steps = images x repeats x epochs / (batch x gradient accumulation)",
                        "zh": "总步数 = 图像数 x 重复次数 x epoch 数 / (批量 x 梯度累积)"},
    "plan.steps_table": {"en": "| concept | images | repeats | samples/epoch | steps/epoch | steps in run | "
                               "each image seen |",
                         "zh": "| 概念 | 图像 | 重复次数 | 每 epoch 样本 | 每 epoch 步数 | 全程步数 | 每张图学习次数 "
                               "|"},
    "plan.reg_row": {"en": "reg (class images, loss x {weight:g})", "zh": "正则（类别图像，loss x {weight:g}）"},
    "plan.all": {"en": "**all**", "zh": "**合计**"},
    "plan.warmup": {"en": "- Warmup: {n} steps{how}", "zh": "- 预热：{n} 步{how}"},
    "plan.lr": {"en": "- Learning rate: {scheduler}, from {high:g} to {last:.3g} at the last step",
                "zh": "- 学习率：{scheduler}，从 {high:g} 到最后一步的 {last:.3g}"},
    "plan.checkpoints": {"en": "- Checkpoints ({n}): at steps {steps}", "zh": "- 检查点（{n} 个）：第 {steps} 步"},
    "plan.samples": {"en": "- Validation images ({n} x {prompts} prompt(s)): at steps {steps}",
                     "zh": "- 验证图像（{n} 次 x {prompts} 个提示词）：第 {steps} 步"},
    "plan.no_samples": {"en": "- Validation images: none (sample_every_n_steps = 0 and no checkpoint interval)",
                        "zh": "- 验证图像：无（sample_every_n_steps = 0 且没有检查点间隔）"},
    "plan.more": {"en": "... ({n} more)", "zh": "……（另 {n} 个）"},
    "plan.note": {"en": "- NOTE: {text}", "zh": "- 注意：{text}"},
    "plan.h_time": {"en": "## Time", "zh": "## 时间"},
    "plan.time": {"en": "- {seconds:.2f} s per step ({source}) x {steps} steps = {train}{sampling} -> about {total}",
                  "zh": "- 每步 {seconds:.2f} 秒（{source}）x {steps} 步 = {train}{sampling} -> 约 {total}"},
    "plan.time_sampling": {"en": ", + ~{time} drawing validation images", "zh": "，另加约 {time} 生成验证图像"},
    "plan.h_memory": {"en": "## Memory", "zh": "## 显存"},
    "plan.reference": {"en": "Predicted for the full-size {family} reference model ({name}); a fine-tuned checkpoint "
                             "of the same family has the same sizes.",
                       "zh": "按完整的 {family} 参考模型（{name}）预测；同一系列的微调底模大小相同。"},
    "plan.peak": {"en": "Predicted peak: {total:.1f} GiB on the GPU ({allocated:.1f} GiB allocated by PyTorch, while "
                        "{phase}, + allocator slack + CUDA context), {host:.1f} GiB host RAM; precision "
                        "{precision}{quant}{text}.",
                  "zh": "预测峰值：GPU 上 {total:.1f} GiB（PyTorch 分配 {allocated:.1f} GiB，出现在{phase}阶段，"
                        "另加分配器余量和 CUDA 上下文），内存 {host:.1f} GiB；精度 {precision}{quant}{text}。"},
    "plan.quant": {"en": ", base model in {quantization}", "zh": "，底模为 {quantization}"},
    "plan.text_cached": {"en": ", text embeddings cached", "zh": "，文本嵌入已缓存"},
    "plan.text_kept": {"en": ", text encoders kept", "zh": "，保留文本编码器"},
    "plan.fits": {"en": "**fits** {gpu} ({gb:.1f} GiB): headroom {headroom:+.1f} GiB.",
                  "zh": "**放得下** {gpu}（{gb:.1f} GiB）：余量 {headroom:+.1f} GiB。"},
    "plan.not_fits": {"en": "**does NOT fit** {gpu} ({gb:.1f} GiB): headroom {headroom:+.1f} GiB.",
                      "zh": "**放不下** {gpu}（{gb:.1f} GiB）：余量 {headroom:+.1f} GiB。"},
    "plan.no_gpu": {"en": "No GPU given or detected: pass --gpu T4-16GB (or 12GB, 24GB, A100-40GB, A100-80GB) to "
                          "check a fit.",
                    "zh": "没有指定或检测到 GPU：传入 --gpu T4-16GB（或 12GB、24GB、A100-40GB、A100-80GB）"
                          "检查能否放下。"},
    "plan.gpu_table": {"en": "| training step, on the GPU | GiB |", "zh": "| 训练一步，GPU 上 | GiB |"},
    "plan.phase_table": {"en": "| phase | GiB allocated |", "zh": "| 阶段 | 已分配 GiB |"},
    "plan.host_table": {"en": "| host RAM | GiB |", "zh": "| 内存 | GiB |"},
    "plan.fit_head": {"en": "What makes it fit (each change alone, predicted total):",
                      "zh": "怎样放得下（每项单独修改后的预测总量）："},
    "plan.fits_mark": {"en": "(fits)", "zh": "（放得下）"},
    "plan.h_recipe": {"en": "## Recipe (the tutorials' rules for this dataset; purpose: {purpose})",
                      "zh": "## 配方（教程对该数据集的规则；用途：{purpose}）"},
    "plan.recipe_lora": {"en": "- LoRA for {concepts} ({n} images): rank {rank}, alpha {alpha:g}, lr {lr:g}, "
                               "{steps} steps, checkpoint every {every}",
                         "zh": "- {concepts} 的 LoRA（{n} 张图像）：rank {rank}，alpha {alpha:g}，学习率 {lr:g}，"
                               "{steps} 步，每 {every} 步保存检查点"},
    "plan.h_advice": {"en": "## Advice", "zh": "## 建议"},
    "plan.why": {"en": "  - why: {reason} ({source})", "zh": "  - 原因：{reason}（{source}）"},
    "plan.h_sizes": {"en": "## LoRA file size by rank", "zh": "## 各 rank 的 LoRA 文件大小"},
    "plan.sizes_table": {"en": "| rank | your targets (MB) | tutorial's targets (MB) | tutorial quotes (MB) |",
                         "zh": "| rank | 你的目标层 (MB) | 教程的目标层 (MB) | 教程给出的大小 (MB) |"},
    "plan.h_fitting": {"en": "## Reading the XY grid: over- and under-fitting",
                       "zh": "## 看 XY 对比图：过拟合与欠拟合"},
    "plan.fitting": {"en": "- **{state}** -- you see: {grid} Try: {remedies}. ({source})",
                     "zh": "- **{state}** -- 表现：{grid} 可以尝试：{remedies}。（{source}）"},
    # advice levels and topics
    "level.warn": {"en": "WARNING", "zh": "警告"},
    "level.suggest": {"en": "change", "zh": "建议修改"},
    "level.info": {"en": "note", "zh": "提示"},
    "level.ok": {"en": "ok", "zh": "合适"},
    "topic.learning rate": {"en": "learning rate", "zh": "学习率"},
    "topic.text encoder lr": {"en": "text encoder lr", "zh": "文本编码器学习率"},
    "topic.alpha": {"en": "alpha", "zh": "alpha"},
    "topic.rank": {"en": "rank", "zh": "rank"},
    "topic.dataset size": {"en": "dataset size", "zh": "数据集大小"},
    "topic.file size": {"en": "file size", "zh": "文件大小"},
    "topic.steps": {"en": "steps", "zh": "步数"},
    "topic.repeats": {"en": "repeats", "zh": "重复次数"},
    "topic.checkpoints": {"en": "checkpoints", "zh": "检查点"},
    "topic.validation": {"en": "validation", "zh": "验证图像"},
    "topic.cropping": {"en": "cropping", "zh": "裁剪"},
    "topic.schedule": {"en": "schedule", "zh": "学习率调度"},
    "topic.optimizer": {"en": "optimizer", "zh": "优化器"},
    "topic.concepts": {"en": "concepts", "zh": "概念"},
    "topic.identifiers": {"en": "identifiers", "zh": "标识词"},
    # step notes (planner.step_plan)
    "plan.note_buckets_left": {"en": "The bucket assignment holds {in_buckets} samples per epoch, the dataset "
                                     "{samples}: images left out of buckets (too small, unreadable) are not trained "
                                     "on.",
                               "zh": "分桶结果每个 epoch 有 {in_buckets} 个样本，数据集有 {samples} 个："
                                     "没有进入分桶的图像（太小、无法读取）不参与训练。"},
    "plan.note_bucket_steps": {"en": "With {buckets} aspect-ratio buckets an epoch has {with_buckets} steps, not "
                                     "{per_epoch}: batches are formed within a bucket, so each bucket's last batch "
                                     "may be partly empty and still counts as a step.",
                               "zh": "有 {buckets} 个宽高比分桶时，一个 epoch 有 {with_buckets} 步，而不是 "
                                     "{per_epoch} 步：批量在每个桶内组成，每个桶的最后一批可能不满，也算一步。"},
    "plan.note_reg": {"en": "reg_data_dir adds {n} class samples to each epoch (kohya: as many as the training "
                            "samples), so an epoch has twice the steps; the tutorials' step counts are for the "
                            "training images alone -> compare them with the training samples' share.",
                      "zh": "reg_data_dir 给每个 epoch 加入 {n} 个类别样本（kohya：与训练样本一样多），"
                            "所以一个 epoch 的步数翻倍；教程的步数只算训练图像 -> 请与训练样本的部分对比。"},
    "plan.note_override": {"en": "max_train_steps = {total} overrides max_train_epochs = {set_epochs}: the run "
                                 "covers {epochs:.2f} epochs.",
                           "zh": "max_train_steps = {total} 优先于 max_train_epochs = {set_epochs}："
                                 "本次训练共 {epochs:.2f} 个 epoch。"},
    "plan.note_warmup": {"en": "Warmup ({warmup} steps) is as long as the whole run ({total}): the learning rate "
                               "never reaches its set value -> lower lr_warmup_steps/lr_warmup_ratio.",
                         "zh": "预热（{warmup} 步）和整个训练（{total} 步）一样长：学习率永远达不到设定值 -> "
                               "请降低 lr_warmup_steps/lr_warmup_ratio。"},
    "plan.note_constant": {"en": "lr_scheduler 'constant' ignores warmup -> use 'constant_with_warmup' to warm up.",
                           "zh": "lr_scheduler 'constant' 不做预热 -> 要预热请用 'constant_with_warmup'。"},
    "plan.note_prompts": {"en": "sample_prompts is empty: the trainer will draw one caption per concept plus an "
                                "unrelated prompt, to watch the concept and forgetting (Flux LoRA guide §4.2).",
                          "zh": "sample_prompts 为空：训练时会为每个概念取一条标注，再加一个无关的提示词，"
                                "用来观察概念和遗忘（《Flux LoRA 训练经验》§4.2）。"},
    "plan.formula_samples": {"en": "{images} images x repeats = {samples} samples per epoch",
                             "zh": "{images} 张图像 x 重复次数 = 每个 epoch {samples} 个样本"},
    "plan.formula_reg": {"en": " + {reg} from {reg_images} reg images (as many as the training samples) = {total}",
                         "zh": " + {reg_images} 张正则图像的 {reg} 个样本（与训练样本一样多）= {total}"},
    "plan.formula_steps": {"en": "{samples} / (batch {batch} x accumulation {ga}) = {ratio:g} -> {per_epoch} steps "
                                 "per epoch",
                           "zh": "{samples} / (批量 {batch} x 梯度累积 {ga}) = {ratio:g} -> 每个 epoch {per_epoch} 步"
                                 ""},
    "plan.formula_buckets": {"en": " ({n} with buckets)", "zh": "（分桶后 {n} 步）"},
    "plan.formula_epochs": {"en": "; x {epochs} epochs = {total} steps", "zh": "；x {epochs} 个 epoch = {total} 步"},
    "plan.formula_max": {"en": "; max_train_steps = {total} ({epochs:.2f} epochs)",
                         "zh": "；max_train_steps = {total}（{epochs:.2f} 个 epoch）"},
    # over- and under-fitting in the XY grid (planning/advice/fitting.py)
    "fit.over.state": {"en": "overfitting", "zh": "过拟合"},
    "fit.over.grid": {"en": "Later checkpoints at strength 1.0 reproduce the training images (same poses, backgrounds"
                            ", "
                            "clothes), the unrelated validation prompt starts showing the subject, colours burn or "
                            "textures fry; the picture improves when the strength drops to 0.6-0.8.",
                      "zh": "后面的检查点在强度 1.0 时照搬训练图像（同样的姿势、背景、衣服），无关的验证提示词也开始"
                            "出现主体，颜色过饱和或纹理发糊；强度降到 0.6-0.8 时画面变好。"},
    "fit.over.causes": {"en": "Too few images; settings too strong (tags, learning rate, steps, optimizer).",
                        "zh": "图像太少；参数太强（标签、学习率、步数、优化器）。"},
    "fit.over.remedies": {"en": "pick an earlier checkpoint (or train fewer steps)|lower the learning rate|fewer "
                                "repeats|lower the rank (LoRA explainer pairs it with a higher alpha)|regularisation "
                                "images (10-20, untagged, of the same class with other features)|more (varied) images",
                          "zh": "选更早的检查点（或少训练几步）|降低学习率|减少重复次数|降低 rank（《LoRA 训练详解》"
                                "配合更高的 alpha）|正则图像（10-20 张，不打标，同类别但特征不同）|更多（多样的）图像"
                                ""},
    "fit.over.source": {"en": "LoRA explainer (过拟合); Flux LoRA guide §4.2 (an unrelated prompt shows forgetting)",
                        "zh": "《LoRA 训练详解》（过拟合）；《Flux LoRA 训练经验》§4.2（无关提示词能看出遗忘）"},
    "fit.under.state": {"en": "underfitting", "zh": "欠拟合"},
    "fit.under.grid": {"en": "Even the last checkpoint at strength 1.0 barely differs from strength 0: the subject is "
                             "not recognisable, or only loosely similar.",
                       "zh": "即使最后的检查点在强度 1.0 时也和强度 0 几乎一样：认不出主体，或者只是有点像。"},
    "fit.under.causes": {"en": "Too little capacity or too few distinctive features learned.",
                         "zh": "容量太小，或学到的特征太少。"},
    "fit.under.remedies": {"en": "train more steps (or keep a later checkpoint)|raise the learning rate|more repeats|"
                                 "a "
                                 "higher rank (LoRA explainer pairs it with a lower alpha)|fewer regularisation "
                                 "images|more high-quality images showing the features",
                           "zh": "多训练几步（或选更后的检查点）|提高学习率|增加重复次数|提高 rank（《LoRA 训练详解》"
                                 "配合更低的 alpha）|减少正则图像|更多能体现特征的高质量图像"},
    "fit.under.source": {"en": "LoRA explainer (欠拟合)", "zh": "《LoRA 训练详解》（欠拟合）"},
    "fit.rank.state": {"en": "rank too small for new content", "zh": "rank 对新内容太小"},
    "fit.rank.grid": {"en": "New content (e.g. Chinese lettering) comes out blurry and distorted at every checkpoint.",
                      "zh": "新内容（如中文字）在每个检查点都模糊、变形。"},
    "fit.rank.causes": {"en": "The LoRA cannot store that much new information and fills the gaps with blur.",
                        "zh": "LoRA 存不下这么多新信息，只好用模糊来填补。"},
    "fit.rank.remedies": {"en": "rank 128-256|6000+ images", "zh": "rank 128-256|6000 张以上图像"},
    "fit.rank.source": {"en": "Flux LoRA guide §3.2", "zh": "《Flux LoRA 训练经验》§3.2"},
    "fit.background.state": {"en": "background learned instead of the subject", "zh": "学到了背景而不是主体"},
    "fit.background.grid": {"en": "Generated images repeat the training backgrounds while the subject stays vague.",
                            "zh": "生成的图像重复训练图像的背景，主体却很模糊。"},
    "fit.background.causes": {"en": "Too few images with the same backgrounds.", "zh": "图像太少，背景又相同。"},
    "fit.background.remedies": {"en": "remove the backgrounds (rembg) and train again|more images with varied "
                                      "backgrounds",
                                "zh": "去除背景（rembg）后重新训练|更多背景不同的图像"},
    "fit.background.source": {"en": "Flux LoRA guide §4.5", "zh": "《Flux LoRA 训练经验》§4.5"},
}
