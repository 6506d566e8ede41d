"""The memory fit's text (`lora_nb/planning/memory/`) and the GPU presets' (`training/presets.py`), by id, and
Chinese names for the data's English keys. Placeholders in {braces} match between the languages."""

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

STRINGS: dict[str, dict[str, str]] = {
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
}
