"""Messages the notebooks and reports print, by id: {"en": ..., "zh": ...}; placeholders in {braces} match."""

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
    "train.advised": {"en": "From the advisor for this dataset (purpose {purpose}): {fields}. Why: {why}. Your own "
                            "values win: set them in the parameters cell or the form.",
                      "zh": "根据数据集自动推荐（用途 {purpose}）：{fields}。原因：{why}。自己设置的值优先："
                            "在参数单元格或表单中修改。"},
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
    "rec.reason_drift": {"en": "Unrelated prompts change {ratio:.2f} times as much as another seed changes them.",
                         "zh": "无关提示词的变化是换一个种子时的 {ratio:.2f} 倍。"},
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
    "rec.sign_drift": {"en": "at the last checkpoint and strength {strength:g} unrelated prompts change {ratio:.2f} "
                             "times as much as another seed changes them (a LoRA that keeps to its concept: under "
                             "{limit:.2f})",
                       "zh": "最后一个检查点在强度 {strength:g} 下，无关提示词的变化达到换一个种子时的 {ratio:.2f} "
                             "倍（只影响自己概念的 LoRA 低于 {limit:.2f}）"},
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
    "rec.forgetting_noise": {"en": "unrelated prompts change {ratio:.2f} times as much as another seed changes them "
                                   "(limit {limit:.2f} at this strength): {verdict}",
                             "zh": "无关提示词的变化是换一个种子时的 {ratio:.2f} 倍（此强度下的上限 "
                                   "{limit:.2f}）：{verdict}"},
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
    "nb.sample_small": {"en": "note: the course's sample is small on purpose (it runs in minutes); the image-count "
                              "advice above is for your own dataset.",
                        "zh": "注意：课程样例有意保持很小（几分钟就能跑完）；"
                              "上面关于图像数量的建议是写给你自己的数据集的。"},
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
