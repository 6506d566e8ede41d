"""The plan's advice and its reasons, by id (`lora_nb/planning/advice/`). The tutorials are cited by their
Chinese titles in zh (`plan.GUIDES_ZH`). Placeholders in {braces} match between the languages."""

STRINGS: dict[str, dict[str, str]] = {
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
    "adv.steps_sd_held": {"en": "{source} -- a recipe for about {ref} images (Kohya practice guide's beginner "
                                "table). LoRA explainer says to lower the epochs for larger sets, so {n} images keep "
                                "that total: {formula}; each image is seen about {seen:.3g} times instead of {full} "
                                "({repeats} x {epochs}). Rounded to {steps} so checkpoints every {every} line up. "
                                "The Flux LoRA guide would give {flux}: {flux_reason}",
                          "zh": "{source} -- 这是约 {ref} 张图像的配方（《Kohya LoRA 训练实践》的新手表）。"
                                "《LoRA 训练详解》说数据集较大时要减少 epoch，所以 {n} 张图像保持这个总步数："
                                "{formula}；每张图像约学 {seen:.3g} 次，而不是 {full} 次（{repeats} x {epochs}）。"
                                "取整为 {steps} 步，让每 {every} 步的检查点对齐。"
                                "《Flux LoRA 训练经验》会给出 {flux} 步：{flux_reason}"},
    "adv.steps_sd_flux": {"en": "{source} -- a recipe for about {ref} images (Kohya practice guide's beginner "
                                "table), kept at that total for larger sets ({formula}) as LoRA explainer says to "
                                "lower the epochs; for {n} images the Flux LoRA guide asks for more. ",
                          "zh": "{source} -- 这是约 {ref} 张图像的配方（《Kohya LoRA 训练实践》的新手表），"
                                "数据集更大时保持这个总步数（{formula}），因为《LoRA 训练详解》说要减少 epoch；"
                                "{n} 张图像时《Flux LoRA 训练经验》要求更多步数。"},
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
    "adv.repeats_but_sd": {"en": " But those are for about {ref} images (Kohya practice guide's beginner table) "
                                 "and LoRA explainer lowers the epochs for larger sets: {reps} repeat(s) x {epochs} "
                                 "epochs gives {got} steps, near the recipe's {target}.",
                           "zh": "但这些是给约 {ref} 张图像的（《Kohya LoRA 训练实践》的新手表），数据集更大时"
                                 "《LoRA 训练详解》会减少 epoch：{reps} 次重复 x {epochs} 个 epoch 得到 {got} 步，"
                                 "接近配方的 {target} 步。"},
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
    "adv.ckpt_few": {"en": "{steps} steps with a checkpoint every {every} give {count} -> save_every_n_steps = "
                           "{interval} for {min} or more.",
                     "zh": "{steps} 步、每 {every} 步一个检查点，只有 {count} 个 -> 设置 save_every_n_steps = "
                           "{interval}，得到 {min} 个或更多。"},
    "adv.ckpt_few_reason": {"en": "The best checkpoint is rarely the last; the XY grid needs several, evenly spaced, "
                                  "to choose from.",
                            "zh": "最好的检查点往往不是最后一个；XY 对比图需要几个间隔均匀的检查点来挑选。"},
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
}
