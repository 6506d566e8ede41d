"""The reports' human text, by id: dataset steps (collect, audit, crop, caption, clean, tags), the forgetting
check, the evaluation table and the trainer's notes. JSON files keep English keys; only these lines change.
Placeholders in {braces} match between the languages."""

KINDS_ZH = {"object": "物体", "person": "人物", "character": "角色", "concept": "概念", "style": "画风",
            "scene": "场景"}

STRINGS: dict[str, dict[str, str]] = {
    # collect (dataset/collector.py)
    "collect.head": {"en": "Collected {n} images into {out} ({folders}); rejected {rejected}; "
                           "duplicate groups {dups}",
                     "zh": "已收集 {n} 张图像到 {out}（{folders}）；拒收 {rejected} 张；近似重复 {dups} 组"},
    "collect.no_folder": {"en": "no concept folder", "zh": "没有概念文件夹"},
    "collect.rejected": {"en": "  rejected {source}: {reason}", "zh": "  拒收 {source}：{reason}"},
    "collect.caption": {"en": "  caption {source}: {reason}", "zh": "  标注 {source}：{reason}"},
    "collect.removed": {"en": "  removed of {kept}: {items}", "zh": "  已删除（与 {kept} 重复）：{items}"},
    "collect.near": {"en": "  near-duplicates of {kept}: {items}", "zh": "  与 {kept} 近似重复：{items}"},
    "collect.distance": {"en": "{path} (distance {d})", "zh": "{path}（距离 {d}）"},
    # audit (dataset/auditor.py)
    "audit.head": {"en": "Dataset {root}: {images} images, {samples} samples per epoch",
                   "zh": "数据集 {root}：{images} 张图像，每个 epoch {samples} 个样本"},
    "audit.concept": {"en": "  {folder}: {images} images x {repeats} repeats = {effective} ({share:.0%}), "
                            "{captions} captions",
                      "zh": "  {folder}：{images} 张图像 x {repeats} 次重复 = {effective}（{share:.0%}），"
                            "{captions} 个标注"},
    "audit.duplicates": {"en": "{n} near-duplicate images: repeated images weigh more and get copied; remove them "
                               "(collect dedupe='remove')",
                         "zh": "{n} 张近似重复的图像：重复的图像权重更大，容易被照搬；请删除它们"
                               "（收集时设置 dedupe='remove'）"},
    "audit.not_regular": {"en": "{n} entries named like images are not regular files and were skipped: {items}",
                          "zh": "{n} 个名字像图像的条目不是普通文件，已跳过：{items}"},
    "audit.missing_captions": {"en": "{n} images have no caption file: run the caption step (or they train with "
                                     "the trigger only)",
                               "zh": "{n} 张图像没有标注文件：请运行打标步骤（否则只用触发词训练）"},
    "audit.small_images": {"en": "{n} images are smaller than {resolution} px: they train blurry; replace them or "
                                 "lower the resolution",
                           "zh": "{n} 张图像小于 {resolution} 像素：训练出来会模糊；请换成大图或降低分辨率"},
    "audit.unreadable": {"en": "{n} images cannot be read: run collect on the folder to sort them out",
                         "zh": "{n} 张图像无法读取：请对该文件夹运行收集步骤来整理"},
    "audit.too_many_concepts": {"en": "{n} concepts in one LoRA: Flux LoRA guide advises one concept per LoRA, "
                                      "about {max} similar ones at most; train separate LoRAs",
                                "zh": "一个 LoRA 里有 {n} 个概念：《Flux LoRA 训练经验》建议一个 LoRA 一个概念，"
                                      "相近的最多约 {max} 个；请分开训练多个 LoRA"},
    "audit.imbalance": {"en": "unbalanced concepts: {listing} vs '{top}' {effective} ({share:.0%}) samples per "
                              "epoch. Flux LoRA guide: with a 20-vs-80 split the small concept vanishes from the "
                              "LoRA. Train separate LoRAs, or balance the repeats: {renames}",
                        "zh": "概念不平衡：{listing}，而 '{top}' 每个 epoch 有 {effective}（{share:.0%}）个样本。"
                              "《Flux LoRA 训练经验》：20 比 80 时，少的概念会从 LoRA 中消失。"
                              "请分开训练多个 LoRA，或调整重复次数：{renames}"},
    "audit.too_few_images": {"en": "'{name}' has only {n} images: Kohya practice guide asks for at least 10-15 "
                                   "(FluxTrainer walkthrough: ~{rec} for {kind})",
                             "zh": "'{name}' 只有 {n} 张图像：《Kohya LoRA 训练实践》要求至少 10-15 张"
                                   "（FluxTrainer 教程：{kind}约 {rec} 张）"},
    "audit.few_images": {"en": "'{name}' has {n} images; FluxTrainer walkthrough recommends about {rec} for {kind}",
                         "zh": "'{name}' 有 {n} 张图像；FluxTrainer 教程建议{kind}约 {rec} 张"},
    # the audit grid's per-image labels (ImageNote.problems stay English: code and JSON read them)
    "audit.p.ok": {"en": "ok", "zh": "正常"},
    "audit.p.no_caption": {"en": "no caption", "zh": "没有标注"},
    "audit.p.empty_caption": {"en": "empty caption", "zh": "标注为空"},
    "audit.p.encoding": {"en": "caption neither UTF-8 nor GBK: re-save it as UTF-8",
                         "zh": "标注既不是 UTF-8 也不是 GBK：请另存为 UTF-8"},
    "audit.p.unreadable": {"en": "unreadable: {why}", "zh": "无法读取：{why}"},
    "audit.p.normalise": {"en": "needs normalising ({what}): run collect",
                          "zh": "需要规范化（{what}）：请运行收集步骤"},
    "audit.p.small": {"en": "small: shorter side {side} < {resolution}", "zh": "太小：短边 {side} < {resolution}"},
    "audit.p.aspect": {"en": "aspect {ratio}:1 (a square crop loses most of it)",
                       "zh": "宽高比 {ratio}:1（方形裁剪会丢掉大部分）"},
    "audit.p.duplicate": {"en": "near-duplicate of {other} (distance {d})", "zh": "与 {other} 近似重复（距离 {d}）"},
    # crop (dataset/crop.py)
    "crop.head": {"en": "Cropped {n} images ({how}, {resolution} px) -> {out}",
                  "zh": "已裁剪 {n} 张图像（{how}，{resolution} 像素）-> {out}"},
    "crop.background": {"en": "  background {what}", "zh": "  背景：{what}"},
    "crop.removed": {"en": "removed ({model})", "zh": "已去除（{model}）"},
    "crop.skipped": {"en": "  skipped {source}: {reason}", "zh": "  跳过 {source}：{reason}"},
    "crop.skipped_label": {"en": "skipped", "zh": "已跳过"},
    # caption (dataset/caption.py)
    "caption.head": {"en": "{backend}: wrote {written} caption(s), skipped {skipped} already captioned{hint} "
                           "in {seconds:.1f} s",
                     "zh": "{backend}：写入 {written} 条标注，跳过 {skipped} 张已有标注的图像{hint}，"
                           "用时 {seconds:.1f} 秒"},
    "caption.overwrite_hint": {"en": " (use overwrite to redo them)", "zh": "（设置 overwrite 可重新打标）"},
    "caption.backup": {"en": "replaced captions backed up in {path}", "zh": "被替换的标注已备份到 {path}"},
    "caption.empty": {"en": "warning: no caption produced for {n} image(s): {names}",
                      "zh": "警告：{n} 张图像没有得到标注：{names}"},
    "caption.failed": {"en": "warning: {path}: {reason}", "zh": "警告：{path}：{reason}"},
    "caption.orphans": {"en": "warning: {n} caption file(s) have no image: {names} -> delete them or restore the "
                              "images",
                        "zh": "警告：{n} 个标注文件没有对应的图像：{names} -> 请删除它们或找回图像"},
    # clean (dataset/clean.py)
    "clean.head": {"en": "changed {n} caption(s), {unchanged} unchanged{where}",
                   "zh": "修改了 {n} 条标注，{unchanged} 条不变{where}"},
    "clean.head_dry": {"en": "would change {n} caption(s), {unchanged} unchanged{where}",
                       "zh": "将修改 {n} 条标注，{unchanged} 条不变{where}"},
    "clean.written": {"en": "; written to {out}", "zh": "；已写入 {out}"},
    "clean.triggers": {"en": "triggers: {items}", "zh": "触发词：{items}"},
    "clean.backup": {"en": "originals backed up in {path}", "zh": "原文件已备份到 {path}"},
    "clean.warning": {"en": "warning: {text}", "zh": "警告：{text}"},
    "clean.shared": {"en": "{caption} is the caption of {n} images ({names}) -> rename the images so each has its "
                           "own",
                     "zh": "{caption} 是 {n} 张图像（{names}）共用的标注 -> 请重命名图像，让每张都有自己的标注"},
    "clean.skipped": {"en": "skipped {path}: {reason}", "zh": "跳过 {path}：{reason}"},
    "clean.orphans": {"en": "{n} caption file(s) without an image, not carried over: {listing}",
                      "zh": "{n} 个标注文件没有对应的图像，未复制：{listing}"},
    "clean.missing": {"en": "{n} image(s) without a caption file, left without one: {listing}",
                      "zh": "{n} 张图像没有标注文件，保持原样：{listing}"},
    "clean.emptied": {"en": "{n} caption(s) are empty after cleaning: {listing}",
                      "zh": "{n} 条标注清理后为空：{listing}"},
    "clean.late_trigger": {"en": "{n} caption(s) do not have the trigger within the first {keep} tag(s) kept fixed "
                                 "when shuffling",
                           "zh": "{n} 条标注的触发词不在打乱时固定的前 {keep} 个标签内"},
    # tag statistics (dataset/tag_stats.py)
    "tags.head": {"en": "{images} image(s) in {folders} concept folder(s); {tags} distinct tag(s)",
                  "zh": "{images} 张图像，{folders} 个概念文件夹；{tags} 个不同的标签"},
    "tags.length": {"en": "caption length: {low}-{high} CLIP tokens (limit {limit})",
                    "zh": "标注长度：{low}-{high} 个 CLIP token（上限 {limit}）"},
    "tags.top": {"en": "top tags: {items}", "zh": "最常见的标签：{items}"},
    "tags.missing": {"en": "{n} image(s) have no caption file: {listing} -> caption them (lora-nb caption) or the "
                           "trainer uses its missing_caption rule",
                     "zh": "{n} 张图像没有标注文件：{listing} -> 请打标（lora-nb caption），否则训练时按 "
                           "missing_caption 规则处理"},
    "tags.empty": {"en": "{n} caption(s) are empty: {listing}", "zh": "{n} 条标注为空：{listing}"},
    "tags.orphans": {"en": "{n} caption file(s) have no image: {listing} -> delete them or restore the images",
                     "zh": "{n} 个标注文件没有对应的图像：{listing} -> 请删除它们或找回图像"},
    "tags.no_trigger": {"en": "{n} caption(s) lack the trigger: {listing} -> lora-nb tags --trigger WORD",
                        "zh": "{n} 条标注缺少触发词：{listing} -> lora-nb tags --trigger 触发词"},
    "tags.too_long": {"en": "{n} caption(s) are longer than {limit} CLIP tokens and will be cut off: {listing} -> "
                            "shorten them or remove tags",
                      "zh": "{n} 条标注超过 {limit} 个 CLIP token，会被截断：{listing} -> 请缩短或删除部分标签"},
    "tags.shared": {"en": "{caption} is shared by {n} images -> give each image its own caption",
                    "zh": "{caption} 被 {n} 张图像共用 -> 请让每张图像有自己的标注"},
    "tags.not_utf8": {"en": "{n} caption(s) are not plain one-line UTF-8 (read correctly; lora-nb tags rewrites "
                            "them as UTF-8): {listing}",
                      "zh": "{n} 条标注不是单行 UTF-8 纯文本（已正确读取；lora-nb tags 会改写为 UTF-8）：{listing}"},
    # forgetting check (evaluate/forgetting.py)
    "forget.head": {"en": "change with/without LoRA (mean |pixel difference|, 0-1):",
                    "zh": "加与不加 LoRA 的变化（平均像素差的绝对值，0-1）："},
    "forget.concept": {"en": "(concept)", "zh": "（概念）"},
    # evaluation report table (evaluate/report.py)
    "report.heading": {"en": "# {title}: {checkpoint} · {strength}", "zh": "# {title}：{checkpoint} · {strength}"},
    "report.checkpoint": {"en": "checkpoint", "zh": "检查点"},
    "report.step": {"en": "step", "zh": "步数"},
    "report.strength": {"en": "strength", "zh": "强度"},
    # trainer notes (training/runlock.py, runfolder.py, trainer.py)
    "run.lock_taken": {"en": "took over the lock of a run that is no longer running ({who}) in {folder}",
                       "zh": "接管了一个已不在运行的训练的锁（{who}），位于 {folder}"},
    "run.lock_taken_remote": {"en": "took over the lock of a run on another machine ({who}), last alive {ago} ago, "
                                    "in {folder}",
                              "zh": "接管了另一台机器上的训练的锁（{who}），它最后一次活动是在 {ago}前，"
                                    "位于 {folder}"},
    "run.lock_unreadable": {"en": "took over an unreadable lock file (a run killed while starting) in {folder}",
                            "zh": "接管了一个无法读取的锁文件（训练在启动时被中止），位于 {folder}"},
    "run.lock_who": {"en": "pid {pid} on {host}, since {when}", "zh": "进程 {pid}，主机 {host}，开始于 {when}"},
    "run.leftovers": {"en": "removed {n} temporary file(s) left by interrupted writes in {out}",
                      "zh": "已删除 {out} 中 {n} 个写入中断留下的临时文件"},
    "run.threads": {"en": "note: CPU training with {n} torch thread(s), one per usable physical core "
                          "(set OMP_NUM_THREADS to choose)",
                    "zh": "提示：CPU 训练使用 {n} 个 torch 线程，每个可用的物理核心一个"
                          "（可设置 OMP_NUM_THREADS 自选）"},
}
