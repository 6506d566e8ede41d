"""The training plan's text, by id: the Markdown layout (`planner.render_markdown`), the step notes and the
advice with its reasons (`planning/advice/`). Placeholders in {braces} match between the languages.

The tutorials are cited by their English short names in data (JSON, tests); `cite(text, lang)` turns those
names into the Chinese titles the notebooks use."""

from __future__ import annotations

# the tutorials' short names -> the titles the zh notebooks use (lora_nb/i18n/fields.py, messages.py)
GUIDES_ZH = {"Flux LoRA guide": "《Flux LoRA 训练经验》", "LoRA explainer": "《LoRA 训练详解》",
             "Kohya practice guide": "《Kohya LoRA 训练实践》", "FluxTrainer walkthrough": "《FluxTrainer 教程》"}

# planning/advice/tables.py PURPOSES labels, in Chinese
PURPOSES_ZH = {"anime": "二次元画风或角色", "character": "一个角色", "person": "真实人物", "object": "物体或产品",
               "style": "复杂画风", "scene": "真实场景或风景", "new": "底模从未见过的内容"}

# memory parts, phases and host RAM items (planning/memory/predict.py): the English names are the data's keys
MEMORY_ZH = {"denoiser weights": "去噪模型权重", "VAE weights": "VAE 权重", "text encoder weights": "文本编码器权重",
             "adapter weights (fp32)": "适配器权重 (fp32)", "adapter gradients": "适配器梯度",
             "optimizer state": "优化器状态", "activations": "激活值", "text encoder activations": "文本编码器激活值",
             "dequantised layer": "反量化的层", "training": "训练", "encoding a batch": "编码一批图像",
             "encoding captions": "编码标注", "caching latents and captions": "缓存 latent 和标注",
             "Python + libraries": "Python 和库", "loading (largest model part)": "加载（最大的模型部分）",
             "offloaded VAE / text encoders": "移到内存的 VAE / 文本编码器", "latent cache": "latent 缓存",
             "text-embedding cache": "文本嵌入缓存", "allocator slack": "分配器余量", "CUDA context": "CUDA 上下文"}

# memory presets' reasons (training/presets.py PRESETS why), by family/tier
PRESET_WHY_ZH = {
    "sd15/12GB": "SD1.5 在 512 像素、批量 1 时约需 5 GB：8 位优化器和 latent 缓存就够了",
    "sd15/16GB": "Colab T4（fp16）：SD1.5 在 512 像素下放得下，还有余量",
    "sd15/24GB": "不需要节省显存", "sd15/40GB": "不需要节省显存",
    "sdxl/12GB": "SDXL 1024 像素：梯度检查点把 UNet 的激活值减少约 10 倍（约 9 -> 1 GB）；文本编码器（1.6 GB）"
                 "在缓存输出后释放；VAE 每张图只运行一次",
    "sdxl/16GB": "Colab T4（fp16，没有 bf16）：同 12 GB；VAE 保持 fp32（fp16 会出黑图），除非设置了 fp16 安全的 VAE",
    "sdxl/24GB": "SDXL 1024 像素不用梯度检查点也放得下（约 17 GB），快约 30%",
    "sdxl/40GB": "不需要节省显存",
    "flux/12GB": "Flux-dev（12B）NF4 约 6.7 GB；T5-XXL（约 10 GB）把标注编码一次后，在加载 transformer 前释放；"
                 "512 像素下梯度检查点让激活值小于 1 GB",
    "flux/16GB": "同 12 GB。T4 上 Flux 以 fp16 运行（没有 bf16）：diffusers 会限制激活值，但要注意 NaN"
                 "（训练会停下并给出建议）",
    "flux/24GB": "NF4、1024 像素、梯度检查点；只是 bf16 权重（24 GB）就放不下",
    "flux/40GB": "bf16 权重（24 GB），1024 像素，使用梯度检查点",
}


def cite(text: str, lang: str) -> str:
    """`text` with the tutorials' short names as their Chinese titles when `lang` is zh."""
    if lang != "zh":
        return text
    for en, zh in GUIDES_ZH.items():
        text = text.replace(f"the {en}", zh).replace(f"{en}'s", zh).replace(en, zh)
    return text


STRINGS: dict[str, dict[str, str]] = {
    # Markdown layout (planning/planner.py render_markdown)
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
    # learning rate, alpha, rank, file size (planning/advice/rates.py)
    "adv.lr_adaptive": {"en": "{optimizer} estimates the step size itself; the learning rate is a multiplier on it, "
                              "so 1.0 (LoRA explainer: Prodigy 'lr 1, suitable for beginners'; Kohya practice "
                              "guide: DAdaptation 'usually 1.0').",
                        "zh": "{optimizer} 自己估计步长，学习率只是它的倍数，所以取 1.0（《LoRA 训练详解》：Prodigy "
                              "“学习率 1，适合新手”；《Kohya LoRA 训练实践》：DAdaptation “一般为 1.0”）。"},
    "adv.lr_table": {"en": "Flux LoRA guide §3.2 gives lr by rank ({table}); ",
                     "zh": "《Flux LoRA 训练经验》§3.2 按 rank 给出学习率（{table}）；"},
    "adv.lr_exact": {"en": "rank {rank} is in the table.", "zh": "rank {rank} 在表中。"},
    "adv.lr_between": {"en": "rank {rank} lies between its points, interpolated on a log-log scale.",
                       "zh": "rank {rank} 在表中两点之间，按对数坐标插值。"},
    "adv.lr_higher": {"en": " Higher ranks hold more parameters per update and need a lower rate to stay stable.",
                      "zh": "rank 越高，每次更新的参数越多，需要更低的学习率才能稳定。"},
    "adv.lr_rank32": {"en": " Flux LoRA guide's own worked examples (§5) use 1e-4 at rank 32, 12% above the "
                            "interpolation: both are within the range that works.",
                      "zh": "《Flux LoRA 训练经验》自己的实例（§5）在 rank 32 用 1e-4，比插值高 12%：两者都在可用范围"
                            "内。"},
    "adv.lr_lion": {"en": " Divided by 10 for Lion (LoRA explainer: Lion's best lr is about 10x smaller than "
                          "AdamW's).",
                    "zh": "Lion 要除以 10（《LoRA 训练详解》：Lion 的最佳学习率约为 AdamW 的十分之一）。"},
    "adv.alpha_reason": {"en": "The LoRA update is scaled by alpha/rank: alpha = rank/2 halves it, so the weights "
                               "must grow twice as large for the same effect; at a fixed learning rate a lower alpha "
                               "learns more gently and a higher one more aggressively (alpha = rank: no scaling; "
                               "alpha = 1 at rank 32: 1/32). Changing alpha is like changing the learning rate, so "
                               "change one at a time. LoRA explainer uses rank/2 by default (rank/2 or rank/4 in its "
                               "SDXL notes), and 'alpha is usually not above rank'.",
                         "zh": "LoRA 的更新按 alpha/rank 缩放：alpha = rank/2 时减半，权重要长大一倍才有同样效果；"
                               "学习率不变时，alpha 越小学得越温和，越大越激进（alpha = rank：不缩放；rank 32 时 "
                               "alpha = 1：1/32）。改 alpha 相当于改学习率，所以一次只改一个。《LoRA 训练详解》"
                               "默认用 rank/2（SDXL 部分为 rank/2 或 rank/4），并且“alpha 一般不超过 rank”。"},
    "adv.rank_range": {"en": "{label}: rank {lo}-{hi} ({source}).", "zh": "{label}：rank {lo}-{hi}（{source}）。"},
    "adv.rank_flux": {"en": " On Flux, Flux LoRA guide uses rank 32 for portraits, landscapes, camping and cars alike "
                            "(§5): a LoRA mostly 'wakes' what the base model already knows (§3.1), so a small rank "
                            "suffices.",
                      "zh": "在 Flux 上，《Flux LoRA 训练经验》对人像、风景、露营和汽车都用 rank 32（§5）："
                            "LoRA 主要是“唤醒”底模已有的知识（§3.1），所以小的 rank 就够了。"},
    "adv.rank_new": {"en": " Too small a rank (e.g. 16) shows as blurry, distorted output for the new content "
                           "(Flux LoRA guide §3.2).",
                     "zh": "rank 太小（如 16）时，新内容会模糊、变形（《Flux LoRA 训练经验》§3.2）。"},
    "adv.rank_new_few": {"en": " Flux LoRA guide expects {need}+ images for this; you have {n}.",
                         "zh": "《Flux LoRA 训练经验》要求这种情况有 {need} 张以上图像；你有 {n} 张。"},
    "adv.rank_higher": {"en": " Higher ranks learn more detail but also irrelevant details (LoRA explainer: too high "
                              "'learns too deep').",
                        "zh": "rank 越高学到的细节越多，但也会学到无关的细节（《LoRA 训练详解》：太高会“学得太深”）。"
                              ""},
    "adv.size_reason": {"en": "Sizes come from the real {family} layer shapes: rank x (inputs + outputs) values per "
                              "adapted layer ({network}), 2 bytes each. {source} quotes sizes for {targets}",
                        "zh": "大小由真实的 {family} 层形状算出：每个适配层 rank x (输入 + 输出) 个值（{network}），"
                              "每个 2 字节。{source} 给出的大小对应 {targets}"},
    "adv.size_other": {"en": "; this config adapts other layers, so its files differ from the tutorial's at the same "
                             "rank -- the 'tutorial's targets' column reproduces the tutorial's figures",
                       "zh": "；本配置适配的层不同，所以同样 rank 下文件大小与教程不同 -- “教程的目标层”一列"
                             "复现教程的数字"},
    "adv.end": {"en": ".", "zh": "。"},
    # steps (planning/advice/steps.py, recipe.py)
    "adv.band45": {"en": "20 portraits: 500 steps, or 1500 for a closer fit; 30 camping photos: 500 (§5.1, §5.3)",
                   "zh": "20 张人像：500 步，想更贴近则 1500 步；30 张露营照片：500 步（§5.1、§5.3）"},
    "adv.band225": {"en": "~100 images: 1500 or 2500 steps, not beyond 2500 (§2.4); 60 and 100 images: 1500 "
                          "(§5.2-3)",
                    "zh": "约 100 张：1500 或 2500 步，不超过 2500（§2.4）；60 和 100 张：1500 步（§5.2-3）"},
    "adv.band700": {"en": "~500 images: 2500-3500 steps, by how closely it should fit (§2.4)",
                    "zh": "约 500 张：2500-3500 步，看要贴近到什么程度（§2.4）"},
    "adv.epochs_rule": {"en": "{epochs} epochs of {n} images = {steps} steps (§2.4, §5.3)",
                        "zh": "{n} 张图像训练 {epochs} 个 epoch = {steps} 步（§2.4、§5.3）"},
    "adv.steps_reason": {"en": "{n} images at batch 1: {said}.", "zh": "批量 1 时 {n} 张图像：{said}。"},
    "adv.steps_batch": {"en": " Each step here sees {per_step} images (batch {batch} x accumulation {ga}), so "
                              "{base} / {per_step} = {raw:.0f} steps.",
                        "zh": "这里每步看到 {per_step} 张图像（批量 {batch} x 梯度累积 {ga}），所以 "
                              "{base} / {per_step} = {raw:.0f} 步。"},
    "adv.steps_round": {"en": " Rounded to a multiple of the checkpoint interval {interval} so checkpoints and "
                              "validation images line up (§4.4).",
                        "zh": "取整为检查点间隔 {interval} 的倍数，让检查点和验证图像对齐（§4.4）。"},
    "adv.re_formula": {"en": "{n} images x {repeats} repeats x {epochs} epochs / (batch {batch} x accumulation "
                             "{ga}) = {steps} steps",
                       "zh": "{n} 张图像 x {repeats} 次重复 x {epochs} 个 epoch / (批量 {batch} x 梯度累积 {ga}) "
                             "= {steps} 步"},
    "adv.steps_small_sd": {"en": "{source}: {formula}, rounded to {steps} so checkpoints every {every} line up. The "
                                 "Flux LoRA guide would give {flux}: {flux_reason} The Kohya practice guide and the "
                                 "LoRA explainer describe SD1.5/SDXL kohya practice on small sets, where more steps "
                                 "are usual (Kohya practice guide: totals above 1500).",
                           "zh": "{source}：{formula}，取整为 {steps} 步，让每 {every} 步的检查点对齐。"
                                 "《Flux LoRA 训练经验》会给出 {flux} 步：{flux_reason}《Kohya LoRA 训练实践》和"
                                 "《LoRA 训练详解》讲的是小数据集上的 SD1.5/SDXL kohya 做法，步数通常更多"
                                 "（《Kohya LoRA 训练实践》：总步数 1500 以上）。"},
    "adv.steps_large_sd": {"en": " (LoRA explainer's repeats x epochs are for small SD sets of up to ~{small} images "
                                 "-- Kohya practice guide's beginner table has 30 -- and would give far more steps "
                                 "for {n}; LoRA explainer itself says to lower epochs for large sets.)",
                           "zh": "（《LoRA 训练详解》的重复次数 x epoch 是给最多约 {small} 张的小 SD 数据集的 -- "
                                 "《Kohya LoRA 训练实践》的新手表是 30 张 -- 对 {n} 张会给出多得多的步数；"
                                 "《LoRA 训练详解》自己也说大数据集要减少 epoch。）"},
    # advice on a config (planning/advice/recipe.py advise)
    "adv.lr_ok": {"en": "learning_rate {lr:g} fits for rank {rank} with {optimizer}.",
                  "zh": "学习率 {lr:g} 适合 rank {rank} 和 {optimizer}。"},
    "adv.lr_change": {"en": "learning_rate {lr:g} -> {rec:g} for rank {rank} with {optimizer}.",
                      "zh": "学习率 {lr:g} -> {rec:g}（rank {rank}，{optimizer}）。"},
    "adv.te": {"en": "text encoder lr is {ratio:.2g} x the UNet lr.", "zh": "文本编码器学习率是 UNet 学习率的 "
                                                                            "{ratio:.2g} 倍。"},
    "adv.te_change": {"en": "text encoder lr is {ratio:.2g} x the UNet lr -> use {lr:g} (1/2).",
                      "zh": "文本编码器学习率是 UNet 学习率的 {ratio:.2g} 倍 -> 请用 {lr:g}（1/2）。"},
    "adv.te_reason": {"en": "The text encoder is already well trained; 1/2 to 1/10 of the UNet rate keeps it from "
                            "drifting (LoRA explainer; Kohya practice guide: text encoder lr 5e-5 with UNet 1e-4).",
                      "zh": "文本编码器已经训练得很好；用 UNet 学习率的 1/2 到 1/10 可以防止它跑偏"
                            "（《LoRA 训练详解》；《Kohya LoRA 训练实践》：UNet 1e-4 时文本编码器 5e-5）。"},
    "adv.alpha_ok": {"en": "alpha {alpha:g} at rank {rank}: scale alpha/rank = {scale:.2g}.",
                     "zh": "rank {rank} 时 alpha {alpha:g}：缩放 alpha/rank = {scale:.2g}。"},
    "adv.alpha_change": {"en": "alpha {alpha:g} at rank {rank}: scale alpha/rank = {scale:.2g} -> {rec:g} (rank/2).",
                         "zh": "rank {rank} 时 alpha {alpha:g}：缩放 alpha/rank = {scale:.2g} -> {rec:g}（rank/2）。"},
    "adv.alpha_high": {"en": "alpha {alpha:g} is above rank {rank} -> at most {rank}.",
                       "zh": "alpha {alpha:g} 大于 rank {rank} -> 最多 {rank}。"},
    "adv.alpha_high_reason": {"en": "alpha above rank amplifies every update beyond the unscaled LoRA (LoRA explainer"
                                    ": "
                                    "'alpha is usually not above rank').",
                              "zh": "alpha 大于 rank 会把每次更新放大到超过不缩放的 LoRA（《LoRA 训练详解》："
                                    "“alpha 一般不超过 rank”）。"},
    "adv.rank_suits_flux": {"en": "rank {rank} suits Flux for {label} (Flux LoRA guide's choice; the SD guides say "
                                  "{lo}-{hi}).",
                            "zh": "rank {rank} 适合用 Flux 训练{label}（《Flux LoRA 训练经验》的选择；SD 教程给出 "
                                  "{lo}-{hi}）。"},
    "adv.rank_in": {"en": "rank {rank} is in the range for {label} ({lo}-{hi}).",
                    "zh": "rank {rank} 在{label}的范围内（{lo}-{hi}）。"},
    "adv.rank_out": {"en": "rank {rank} is outside the range for {label} ({lo}-{hi}) -> {rec}.",
                     "zh": "rank {rank} 不在{label}的范围内（{lo}-{hi}）-> {rec}。"},
    "adv.new_size": {"en": "Teaching new content needs {need}+ images; this dataset has {n}.",
                     "zh": "教新内容需要 {need} 张以上图像；这个数据集有 {n} 张。"},
    "adv.new_size_reason": {"en": "A LoRA mostly wakes what the model knows; new content needs many examples and a "
                                  "large rank.",
                            "zh": "LoRA 主要是唤醒模型已有的知识；新内容需要很多例子和大的 rank。"},
    "adv.file_size": {"en": "Each checkpoint file: ~{mb:.0f} MB at rank {rank} ({formats} format(s) per checkpoint).",
                      "zh": "每个检查点文件：rank {rank} 时约 {mb:.0f} MB（每个检查点 {formats} 种格式）。"},
    "adv.steps_ok": {"en": "{total} steps are close to the recommended {steps} (checkpoint every {every}).",
                     "zh": "{total} 步接近建议的 {steps} 步（每 {every} 步保存检查点）。"},
    "adv.steps_change": {"en": "{total} steps differ from the recommended {steps} (checkpoint every {every}) -> set "
                               "max_train_steps = {steps}, save_every_n_steps = {every}.",
                         "zh": "{total} 步与建议的 {steps} 步（每 {every} 步保存检查点）相差较大 -> 设置 "
                               "max_train_steps = {steps}，save_every_n_steps = {every}。"},
    "adv.per_lora": {"en": "Per-LoRA recipes: {items}.", "zh": "每个 LoRA 的配方：{items}。"},
    "adv.per_lora_item": {"en": "{concepts} ({n} images): {steps} steps, checkpoint every {every}",
                          "zh": "{concepts}（{n} 张图像）：{steps} 步，每 {every} 步保存检查点"},
    "adv.repeats": {"en": "{kind}: {repeats} repeats x {epochs} epochs ({formula}); {kohya}.",
                    "zh": "{kind}：{repeats} 次重复 x {epochs} 个 epoch（{formula}）；{kohya}。"},
    "adv.repeats_but": {"en": " But {why}: {reps} repeat(s) x {epochs} epochs gives {got} steps, near Flux LoRA "
                              "guide's {target}.",
                        "zh": "但{why}：{reps} 次重复 x {epochs} 个 epoch 得到 {got} 步，接近《Flux LoRA 训练经验》的 "
                              "{target} 步。"},
    "adv.repeats_why_flux": {"en": "the Flux LoRA guide trains far fewer steps on Flux",
                             "zh": "《Flux LoRA 训练经验》在 Flux 上训练的步数少得多"},
    "adv.repeats_why_sd": {"en": "those repeats are meant for small sets (Kohya practice guide's beginner table: ~30 "
                                 "images)",
                           "zh": "这些重复次数是给小数据集的（《Kohya LoRA 训练实践》的新手表：约 30 张）"},
    "adv.repeats_reason": {"en": "More repeats learn each image more strongly but fix the pictures sooner "
                                 "(over-fitting); epochs give intermediate checkpoints to choose from. Flux LoRA guid"
                                 "e "
                                 "(Flux) counts total steps instead; compare both with the step advice.",
                           "zh": "重复次数越多，每张图学得越深，但也越早把画面学死（过拟合）；多个 epoch 会留下中间的"
                                 "检查点供选择。《Flux LoRA 训练经验》（Flux）改为计算总步数；请和步数建议对比。"},
    "adv.min_size": {"en": "{n} images is fewer than batch x accumulation = {need} -> duplicate the set {dup}x (or "
                           "raise repeats) so one optimizer step has enough.",
                     "zh": "{n} 张图像少于批量 x 梯度累积 = {need} -> 把数据集复制 {dup} 倍（或提高重复次数），"
                           "让一步优化有足够的图像。"},
    "adv.min_size_reason": {"en": "The smallest usable dataset is train_batch_size x gradient_accumulation_steps "
                                  "images; training cannot form a full step otherwise.",
                            "zh": "最小可用的数据集是 train_batch_size x gradient_accumulation_steps 张图像；"
                                  "否则凑不满一步。"},
    "adv.ckpt_samples": {"en": "Validation images every {every} steps but checkpoints every {save} -> use the same "
                               "interval (sample_every_n_steps = -1 follows save_every_n_steps).",
                         "zh": "每 {every} 步生成验证图像，但每 {save} 步保存检查点 -> 请用同样的间隔"
                               "（sample_every_n_steps = -1 跟随 save_every_n_steps）。"},
    "adv.ckpt_samples_reason": {"en": "Each checkpoint then has its own validation images to judge it by.",
                                "zh": "这样每个检查点都有自己的验证图像可以判断。"},
    "adv.ckpt_multiple": {"en": "{total} steps is not a multiple of the checkpoint interval {every} -> {lower} or "
                                "{upper} steps.",
                          "zh": "{total} 步不是检查点间隔 {every} 的倍数 -> 改为 {lower} 或 {upper} 步。"},
    "adv.ckpt_multiple_reason": {"en": "Rounding the total to the interval makes the last checkpoint one of the evenl"
                                       "y "
                                       "spaced ones (1234 -> 1500 or 1000).",
                                 "zh": "把总步数取整为间隔的倍数，最后一个检查点也在均匀的间隔上（1234 -> 1500 或 "
                                       "1000）。"},
    "adv.ckpt_final": {"en": "Only the final LoRA is saved -> save_every_n_steps = {every} to choose among "
                             "checkpoints in the XY grid.",
                       "zh": "只保存最后的 LoRA -> 设置 save_every_n_steps = {every}，以便在 XY 对比图里挑选检查点。"},
    "adv.ckpt_final_reason": {"en": "Keep as many checkpoints as storage allows: the best one is rarely the last.",
                              "zh": "存储允许时尽量多保留检查点：最好的往往不是最后一个。"},
    "adv.prompts": {"en": "Use several validation prompts: the concept in different settings, plus one or two "
                          "unrelated prompts to spot forgetting.",
                    "zh": "请用多个验证提示词：不同场景下的概念，再加一两个无关的提示词来发现遗忘。"},
    "adv.prompts_reason": {"en": "More validation images prevent misjudging a checkpoint.",
                           "zh": "验证图像越多，越不容易看错检查点。"},
    "adv.crop": {"en": "random_crop = true -> false.", "zh": "random_crop = true -> false。"},
    "adv.crop_reason": {"en": "Random cropping makes generated subjects distorted and cut off.",
                        "zh": "随机裁剪会让生成的主体变形、被切掉。"},
    "adv.restarts": {"en": "cosine_with_restarts with {n} cycle(s) -> 3-5.",
                     "zh": "cosine_with_restarts 重启 {n} 次 -> 3-5 次。"},
    "adv.restarts_reason": {"en": "Restarts help escape local optima only with a few cycles.",
                            "zh": "只有少数几次重启才有助于跳出局部最优。"},
    "adv.lion": {"en": "Lion with lr {lr:g} -> ~{rec:g}.", "zh": "Lion 学习率 {lr:g} -> 约 {rec:g}。"},
    "adv.lion_reason": {"en": "Lion's best learning rate is about 10x smaller than AdamW's.",
                        "zh": "Lion 的最佳学习率约为 AdamW 的十分之一。"},
    # several concepts (planning/advice/concepts.py)
    "adv.one_concept": {"en": "One concept: what a LoRA is made for.", "zh": "一个概念：LoRA 正是为此而生。"},
    "adv.one_concept_reason": {"en": "A LoRA suits a single concept (a yellow dog; a cat), not several unrelated ones "
                                     "(cat, bicycle, desert).",
                               "zh": "LoRA 适合单个概念（一只黄狗；一只猫），不适合几个无关的概念（猫、自行车、沙漠）"
                                     "。"},
    "adv.concept_item": {"en": "{name} ({images} images x {repeats})", "zh": "{name}（{images} 张图像 x {repeats}）"},
    "adv.split_many": {"en": "{n} concepts is more than the ~{max} similar ones one LoRA holds (§2.1)",
                       "zh": "{n} 个概念超过了一个 LoRA 能容纳的约 {max} 个相近概念（§2.1）"},
    "adv.split_unlike": {"en": "the concepts are not alike (§2.1: use several LoRAs for several concepts)",
                         "zh": "这些概念不相近（§2.1：多个概念用多个 LoRA）"},
    "adv.split_balance": {"en": "'{small}' has {small_samples} samples per epoch against {big_samples} for '{big}' "
                                "({ratio:.0%}): the smaller concept would vanish from the LoRA (§2.3: 20 vs 80 images"
                                ")",
                          "zh": "'{small}' 每个 epoch 有 {small_samples} 个样本，而 '{big}' 有 {big_samples} 个"
                                "（{ratio:.0%}）：少的概念会从 LoRA 中消失（§2.3：20 张对 80 张）"},
    "adv.split": {"en": "Train one LoRA per concept ({names}), each with its own step count, and load them together "
                        "with different strengths when generating.",
                  "zh": "每个概念训练一个 LoRA（{names}），各用自己的步数，生成时以不同强度一起加载。"},
    "adv.split_reason": {"en": "{reasons}. Separate LoRAs let the small set use fewer steps and the large one keep it"
                               "s "
                               "own (§2.3, §5.3).",
                         "zh": "{reasons}。分开的 LoRA 让小数据集用较少的步数，大的保持自己的步数（§2.3、§5.3）。"},
    "adv.sep": {"en": "; ", "zh": "；"},
    "adv.balance": {"en": "If you keep them in one LoRA, balance them with folder repeats: {folders}.",
                    "zh": "如果放在一个 LoRA 里，请用文件夹的重复次数平衡它们：{folders}。"},
    "adv.balance_reason": {"en": "kohya repeats multiply each folder's images per epoch (Kohya practice guide: the N "
                                 "in N_name), which evens out samples per epoch; Flux LoRA guide prefers separate "
                                 "LoRAs.",
                           "zh": "kohya 的重复次数会让每个文件夹的图像在每个 epoch 中成倍出现（《Kohya LoRA 训练实践"
                                 "》："
                                 "N_name 中的 N），从而平衡每个 epoch 的样本；《Flux LoRA 训练经验》更推荐分开训练。"},
    "adv.share": {"en": "{n} similar, balanced concepts ({names}) can share one LoRA, each with its own unique "
                        "identifier.",
                  "zh": "{n} 个相近且平衡的概念（{names}）可以放在一个 LoRA 里，每个概念用自己唯一的标识词。"},
    "adv.share_reason": {"en": "Up to ~3 close concepts work in one LoRA when their counts are balanced (§2.1, §2.3); "
                               "e.g. two similar models with 30 photos each (§5.2).",
                         "zh": "数量平衡时，一个 LoRA 最多可以放约 3 个相近的概念（§2.1、§2.3）；例如两个相似的模特，"
                               "各 30 张照片（§5.2）。"},
    "adv.ids_give": {"en": "Give each concept its own identifier in every caption, e.g. {listed}; 'This image is "
                           "labeled as <id>. A cat.'",
                     "zh": "在每条标注里给每个概念加上自己的标识词，例如 {listed}；"
                           "“This image is labeled as <id>. A cat.”"},
    "adv.ids_give_reason": {"en": "The same identifier within a concept and different ones across concepts let the "
                                  "model tell them apart and let you call each when generating; 10 random letters map "
                                  "to nothing the model knows.",
                            "zh": "同一概念用同一个标识词、不同概念用不同的，模型才能区分它们，生成时也能分别调用；"
                                  "10 个随机字母不会对应模型已知的任何东西。"},
    "adv.ids_missing": {"en": "No unique identifier found in the captions of {missing} -> add one word to all "
                              "captions of each concept, e.g. {examples} (`lora-nb tags`).",
                        "zh": "{missing} 的标注中没有找到唯一的标识词 -> 给每个概念的所有标注加一个词，例如 "
                              "{examples}（`lora-nb tags`）。"},
    "adv.ids_missing_reason": {"en": "Without a word that only one concept's captions contain, the concepts blend "
                                     "together.",
                               "zh": "如果没有只出现在一个概念标注中的词，这些概念就会混在一起。"},
    "adv.ids_ok": {"en": "Each concept has its own identifier: {listed}.", "zh": "每个概念都有自己的标识词：{listed}"
                                                                                 "。"},
    "adv.ids_ok_reason": {"en": "Distinct identifiers keep the concepts apart.", "zh": "不同的标识词让概念互不混淆。"},
    # memory fit (planning/memory/fit.py, predict.py) and presets (training/presets.py)
    "fix.cache_latents": {"en": "cache latents", "zh": "缓存 latent"},
    "fix.cache_latents.why": {"en": "each image goes through the VAE once instead of every step",
                              "zh": "每张图像只经过 VAE 一次，而不是每步一次"},
    "fix.cache_text_embeddings": {"en": "cache text embeddings", "zh": "缓存文本嵌入"},
    "fix.cache_text_embeddings.why": {"en": "captions are encoded once and the text encoders leave the GPU (needs "
                                            "train_text_encoder and shuffle_caption off)",
                                      "zh": "标注只编码一次，文本编码器离开 GPU（需要关闭 train_text_encoder 和 "
                                            "shuffle_caption）"},
    "fix.cpu_offload": {"en": "offload the VAE and text encoders to CPU RAM", "zh": "把 VAE 和文本编码器移到内存"},
    "fix.cpu_offload.why": {"en": "they visit the GPU only while they run, one at a time",
                            "zh": "它们只在运行时进入 GPU，一次一个"},
    "fix.gradient_checkpointing": {"en": "enable gradient checkpointing", "zh": "开启梯度检查点"},
    "fix.gradient_checkpointing.why": {"en": "keeps only each block's input and recomputes the rest in the backward "
                                             "pass: ~30% slower",
                                       "zh": "只保存每个模块的输入，反向传播时重新计算其余部分：慢约 30%"},
    "fix.optimizer": {"en": "use the adamw8bit optimizer", "zh": "使用 adamw8bit 优化器"},
    "fix.optimizer.why": {"en": "8-bit optimizer states (LoRA explainer's recommendation)",
                          "zh": "8 位优化器状态（《LoRA 训练详解》推荐）"},
    "fix.train_batch_size": {"en": "train with batch 1 and gradient accumulation", "zh": "批量 1 加梯度累积"},
    "fix.train_batch_size.why": {"en": "activations scale with the batch; accumulation keeps the effective batch",
                                 "zh": "激活值随批量增长；梯度累积保持等效批量"},
    "fix.quantization": {"en": "load the base model in NF4 (QLoRA)", "zh": "以 NF4 加载底模（QLoRA）"},
    "fix.quantization.why": {"en": "4-bit frozen weights (~3.5x smaller); slightly slower, tiny quality cost",
                             "zh": "4 位冻结权重（约小 3.5 倍）；稍慢，质量损失很小"},
    "fix.resolution": {"en": "lower the resolution", "zh": "降低分辨率"},
    "fix.resolution.why": {"en": "activations scale with pixels; details finer than the training resolution are "
                                 "learned less",
                           "zh": "激活值随像素数增长；比训练分辨率更细的细节学得更少"},
    "fix.together": {"en": "together", "zh": "一起修改"},
    "fix.all": {"en": "all of the above (still too large: use a bigger GPU)",
                "zh": "以上全部（仍然太大：请用更大的 GPU）"},
    "mem.corrected": {"en": "Corrected by a {steps}-step dry run on {device}: measured {measured:.2f} GiB allocated, "
                            "predicted {predicted:.2f} GiB (x{correction:.2f}).",
                      "zh": "已按在 {device} 上 {steps} 步的试运行校正：实测分配 {measured:.2f} GiB，"
                            "预测 {predicted:.2f} GiB（x{correction:.2f}）。"},
    "mem.network": {"en": "{network}: adapter weights and optimizer state are counted exactly; activations are those "
                          "of a LoRA (DoRA and LoHa keep somewhat more).",
                    "zh": "{network}：适配器权重和优化器状态是精确计算的；激活值按 LoRA 计算（DoRA 和 LoHa 会多一些）"
                          "。"},
    "mem.fp16": {"en": "{family} in fp16 overflows (it was trained in bf16): use a GPU with bf16 (Ampere or newer).",
                 "zh": "{family} 在 fp16 下会溢出（它是用 bf16 训练的）：请用支持 bf16 的 GPU（Ampere 或更新）。"},
    "mem.big_te": {"en": "The {name} text encoder alone needs ~{gib:g} GiB in 16 bits: cache the text embeddings so i"
                         "t "
                         "leaves the GPU before training.",
                   "zh": "仅 {name} 文本编码器在 16 位下就需要约 {gib:g} GiB：请缓存文本嵌入，让它在训练前离开 GPU。"},
    "mem.allocated": {"en": "{phase} ({gb:.1f} allocated)", "zh": "{phase}（已分配 {gb:.1f}）"},
    "preset.none": {"en": "GPU preset: none ({reason})", "zh": "GPU 预设：无（{reason}）"},
    "preset.chosen": {"en": "GPU preset {name} ({reason}): {why}", "zh": "GPU 预设 {name}（{reason}）：{why}"},
    "preset.set": {"en": "set {items}", "zh": "设置了 {items}"},
    "preset.kept": {"en": "kept your {items}", "zh": "保留了你的 {items}"},
    "preset.kept_item": {"en": "{field}={value} (preset: {preset})", "zh": "{field}={value}（预设：{preset}）"},
    "preset.sep": {"en": "; ", "zh": "；"},
    "preset.off": {"en": "gpu_preset = 'none'", "zh": "gpu_preset = 'none'"},
    "preset.picked": {"en": "chosen: {tier}", "zh": "指定：{tier}"},
    "preset.no_cuda": {"en": "no CUDA GPU detected", "zh": "没有检测到 CUDA GPU"},
    "preset.auto": {"en": "auto: {gpu} GPU -> {tier}", "zh": "自动：{gpu} GPU -> {tier}"},
    "preset.detected": {"en": "detected", "zh": "检测到的"},
    "preset.no_gpu": {"en": "no GPU given or detected", "zh": "没有指定或检测到 GPU"},
    "time.measured": {"en": "measured", "zh": "实测"},
    "time.table": {"en": "table ({column}, rough)", "zh": "查表（{column}，粗略）"},
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
