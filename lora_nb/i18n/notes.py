"""The notes the trainer prints while it trains (dataset scan, resume) and the plan's durations:
{"en": ..., "zh": ...}; placeholders in {braces} match."""

STRINGS: dict[str, dict[str, str]] = {
    # trainer
    "note.line": {"en": "note: {note}", "zh": "提示：{note}"},
    "note.resuming": {"en": "resuming at step {step}: ", "zh": "从第 {step} 步继续："},
    "note.resume_drew": {"en": "resume: drew the {n} missing validation images of step {step} again",
                         "zh": "继续训练：重新生成了第 {step} 步缺少的 {n} 张验证图像"},
    "note.resume_drew_one": {"en": "resume: drew the {n} missing validation image of step {step} again",
                             "zh": "继续训练：重新生成了第 {step} 步缺少的 {n} 张验证图像"},
    "note.resume_lost": {"en": "resume: validation images of step {steps} are missing and cannot be drawn again "
                               "(only the weights of step {step} were kept) -> sample those steps' LoRA files, "
                               "where saved, in step 6",
                         "zh": "继续训练：第 {steps} 步的验证图像缺失，无法重新生成（只保留了第 {step} 步的权重）"
                               "-> 如果这些步的 LoRA 文件已保存，请在第 6 步用它们生成图像"},
    "note.resume_threads": {"en": "resume: the saved run trained with {before} torch thread(s), this one with {now}: "
                                  "training continues correctly, but not bitwise as the uninterrupted run would have "
                                  "-> for a bitwise resume start it with OMP_NUM_THREADS={before}",
                            "zh": "继续训练：保存的训练用了 {before} 个 torch 线程，这次用 {now} 个：训练会正确继续，"
                                  "但结果与不中断的训练不会逐位相同 -> 要逐位相同，"
                                  "请用 OMP_NUM_THREADS={before} 启动"},
    "note.resume_safe": {"en": "resume: settings that do not change the weights are used as now set: {changes}",
                         "zh": "继续训练：不影响权重的设置按现在的值使用：{changes}"},
    "note.resume_damaged": {"en": "resume: skipped the damaged state {damaged}; continuing from {state}",
                            "zh": "继续训练：跳过了损坏的状态 {damaged}；从 {state} 继续"},
    "note.resume_legacy": {"en": "resume: {state} was saved by an older lora-nb without a checksum manifest or run "
                                 "fingerprint; its files load, but that the settings match cannot be checked -> keep "
                                 "them as they were",
                           "zh": "继续训练：{state} 由旧版 lora-nb 保存，没有校验清单和训练指纹；文件可以加载，"
                                 "但无法检查设置是否一致 -> 请保持设置不变"},
    "note.overwrite": {"en": "overwrite: removed the previous run's {found} from {out} (cache/ is kept)",
                       "zh": "覆盖：已从 {out} 删除上次训练的 {found}（保留 cache/）"},
    # dataset scan (lora_nb/training/data.py)
    "note.reg_unused": {"en": "{n} of {total} reg image(s) are not used: an epoch takes as many reg samples as "
                              "training samples ({train}), as kohya does",
                        "zh": "{total} 张正则图像中有 {n} 张未使用：与 kohya 相同，每轮取与训练样本数（{train}）"
                              "相同数量的正则样本"},
    "note.reg_dir": {"en": "reg_data_dir: {note}", "zh": "正则图像目录 reg_data_dir：{note}"},
    "note.uncaptioned_class": {"en": "{n} image(s) without a caption file train with their folder's class words: "
                                     "{names}",
                               "zh": "{n} 张图像没有标注文件，用其文件夹的类别词训练：{names}"},
    "note.uncaptioned": {"en": "{n} image(s) without a caption file train with caption {how}: {names}",
                         "zh": "{n} 张图像没有标注文件，以{how}作为标注训练：{names}"},
    "note.how_trigger": {"en": "the trigger word", "zh": "触发词"},
    "note.how_empty": {"en": "''", "zh": "空标注 ''"},
    "note.skipped": {"en": "skipped {path}: {why}", "zh": "已跳过 {path}：{why}"},
    "note.validation_dir": {"en": "validation_data_dir: {note}", "zh": "验证图像目录 validation_data_dir：{note}"},
    "note.held_from_dir": {"en": "from {folder}", "zh": "来自 {folder}"},
    "note.held_split": {"en": "by validation_split {split:g}, not trained on",
                        "zh": "按 validation_split {split:g} 留出，不参与训练"},
    "note.held_out": {"en": "validation loss: {n} held-out image(s) {where}, measured at step 0 and every checkpoint",
                      "zh": "验证损失：{n} 张留出图像（{where}），在第 0 步和每个检查点计算"},
    "note.upscaled": {"en": "{n} small image(s) upscaled to their bucket (upscale_small=true): {names}",
                      "zh": "{n} 张小图像已放大到其分桶尺寸（upscale_small=true）：{names}"},
    "note.reduced": {"en": "{n} image(s) are smaller than the training resolution and train in a smaller bucket "
                           "(no upscaling): {names}",
                     "zh": "{n} 张图像小于训练分辨率，在较小的分桶中训练（不放大）：{names}"},
    # durations (i18n.duration: the plan's times, runlock's last sign of life)
    "time.hm": {"en": "{h}h {m:02d}m", "zh": "{h} 小时 {m:02d} 分"},
    "time.ms": {"en": "{m}m {s:02d}s", "zh": "{m} 分 {s:02d} 秒"},
    "time.s": {"en": "{s}s", "zh": "{s} 秒"},
}
