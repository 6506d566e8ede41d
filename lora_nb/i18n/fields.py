"""Config fields: short widget labels (en, zh) and Chinese help texts (the English help lives in config.py)."""

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
