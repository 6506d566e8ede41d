"""More of the trainer's notes: the adapter variants' file notes, the objective, the run's arithmetic, the
resume's length note and the unreadable-lines note of a JSON-lines log: {"en": ..., "zh": ...}; placeholders
in {braces} match."""

_WHY = "cut off by a full disk, power cut or disconnect, or edited by hand); the rest is used"
_WHY_ZH = "因磁盘已满、断电或断开连接而被截断，或被手动修改过）；其余内容照常使用"

STRINGS: dict[str, dict[str, str]] = {
    # adapter file notes (lora_nb/families/adapters.py)
    "adapter.lycoris_file": {"en": "{t}: the .safetensors file (LyCORIS keys) is for {uis}; do not give it to "
                                   "diffusers' load_lora_weights, which cannot apply it (for Flux it even loads it "
                                   "without error and changes nothing)",
                             "zh": "{t}：.safetensors 文件（LyCORIS 键名）用于 {uis}；不要交给 diffusers 的 "
                                   "load_lora_weights，它无法应用这种文件（对 Flux 甚至会不报错地加载，"
                                   "却什么都不改变）"},
    "adapter.lycoris_peft": {"en": "diffusers has no {t} loader: instead of a diffusers file each checkpoint gets a "
                                   "peft folder (<name>_peft/<component>/, load with peft.PeftModel.from_pretrained)",
                             "zh": "diffusers 没有 {t} 的加载器：每个检查点不保存 diffusers 文件，而是保存一个 peft "
                                   "文件夹（<name>_peft/<component>/，用 peft.PeftModel.from_pretrained 加载）"},
    "adapter.dora_file": {"en": "DoRA: the diffusers file is exact in diffusers; the .safetensors file's dora_scale "
                                "is written for ComfyUI's and Forge's formula, exact there at strength 1 (other "
                                "strengths follow their own DoRA interpolation); {a1111}",
                          "zh": "DoRA：diffusers 文件在 diffusers 中是精确的；.safetensors 文件的 dora_scale 按 "
                                "ComfyUI 和 Forge 的公式写入，在那里强度为 1 时精确（其他强度按它们自己的 DoRA "
                                "插值）；{a1111}"},
    "adapter.dora_a1111": {"en": "the <name>.a1111.safetensors file (full weight change) is exact in "
                                 "AUTOMATIC1111 too",
                           "zh": "<name>.a1111.safetensors 文件（完整的权重变化）在 AUTOMATIC1111 中也是精确的"},
    "adapter.dora_no_a1111": {"en": "AUTOMATIC1111 cannot apply it exactly (set save_dora_a1111 for a large file "
                                    "exact there)",
                              "zh": "AUTOMATIC1111 无法精确应用它（设置 save_dora_a1111 可另存一个"
                                    "在那里精确的大文件）"},
    "adapter.dora_dropout": {"en": "DoRA with network_dropout: the dropout applies to the whole layer's input, not "
                                   "only the LoRA path",
                             "zh": "DoRA 加 network_dropout：dropout 作用于整个层的输入，而不只是 LoRA 分支"},
    # the objective (lora_nb/families/prediction.py)
    "objective.line": {"en": "objective: {kind}", "zh": "训练目标：{kind}"},
    "objective.v": {"en": "v-prediction", "zh": "v 预测（v-prediction）"},
    "objective.eps": {"en": "epsilon (noise) prediction", "zh": "epsilon（噪声）预测"},
    "objective.zsnr": {"en": ", zero terminal SNR (validation images: trailing timesteps, guidance rescale {rescale})",
                       "zh": "，零终端信噪比 zero terminal SNR（验证图像：trailing 时间步，guidance rescale "
                             "{rescale}）"},
    "objective.from": {"en": ", from {source}", "zh": "，来自 {source}"},
    "objective.markers": {"en": " (marker keys)", "zh": "（标记键）"},
    # the run's arithmetic (RunInfo.describe, lora_nb/training/trainer.py)
    "run.reg": {"en": " + {reg} reg = {total}", "zh": " + {reg} 个正则样本 = {total}"},
    "run.processes": {"en": " x {n} processes", "zh": " x {n} 个进程"},
    "run.describe": {"en": "{images} images -> {samples} samples/epoch (images x repeats){reg}; / (batch {batch} x "
                           "grad accum {accum}{processes} = {per}) = {steps_per_epoch} steps/epoch; {total} steps "
                           "total = {epochs} epochs; warmup {warmup}; checkpoints at {checkpoints}; samples at "
                           "{samples_at}; precision {precision} on {device}",
                     "zh": "{images} 张图像 -> 每轮 {samples} 个样本（图像数 x 重复次数）{reg}；/（批量 {batch} x "
                           "梯度累积 {accum}{processes} = {per}）= 每轮 {steps_per_epoch} 步；共 {total} 步 = "
                           "{epochs} 轮；预热 {warmup} 步；检查点的步数：{checkpoints}；样图的步数：{samples_at}；"
                           "精度 {precision}，设备 {device}"},
    "run.none": {"en": "none", "zh": "无"},
    # the run's length changed on resume (lora_nb/training/fingerprint.py)
    "resume.length_same": {"en": "resume: the run now ends at step {new} instead of {old}; the {scheduler} lr "
                                 "schedule gave steps 1-{step} the same lr either way, so the result is what an "
                                 "uninterrupted {new}-step run gives",
                           "zh": "继续训练：训练现在在第 {new} 步结束，而不是第 {old} 步；{scheduler} 学习率计划在"
                                 "第 1-{step} 步两种情况下学习率相同，所以结果与不中断的 {new} 步训练相同"},
    "resume.length_differs": {"en": "resume: the run now ends at step {new} instead of {old}; from step {next} the lr "
                                    "follows the {new}-step {scheduler} schedule, but steps 1-{step} were trained on "
                                    "the {old}-step one (lr at step {step}: {lr_old} there, {lr_new} on the new one), "
                                    "so the result differs from an uninterrupted {new}-step run -> start a new run if "
                                    "you need exactly that",
                              "zh": "继续训练：训练现在在第 {new} 步结束，而不是第 {old} 步；从第 {next} 步起学习率按 "
                                    "{new} 步的 {scheduler} 计划变化，但第 1-{step} 步是按 {old} 步的计划训练的（第 "
                                    "{step} 步的学习率：原计划 {lr_old}，新计划 {lr_new}），所以结果与不中断的 {new} "
                                    "步训练不同 -> 如果需要完全相同的结果，请开始新的训练"},
    # unreadable lines of a JSON-lines log (lora_nb/jsonlines.py)
    "log.bad_lines.skipped": {"en": "{name}: skipped {n} unreadable lines (line {shown}: " + _WHY,
                              "zh": "{name}：跳过了 {n} 行无法读取的内容（第 {shown} 行：" + _WHY_ZH},
    "log.bad_lines.skipped_one": {"en": "{name}: skipped {n} unreadable line (line {shown}: " + _WHY,
                                  "zh": "{name}：跳过了 {n} 行无法读取的内容（第 {shown} 行：" + _WHY_ZH},
    "log.bad_lines.dropped": {"en": "{name}: dropped {n} unreadable lines (line {shown}: " + _WHY,
                              "zh": "{name}：删除了 {n} 行无法读取的内容（第 {shown} 行：" + _WHY_ZH},
    "log.bad_lines.dropped_one": {"en": "{name}: dropped {n} unreadable line (line {shown}: " + _WHY,
                                  "zh": "{name}：删除了 {n} 行无法读取的内容（第 {shown} 行：" + _WHY_ZH},
}
