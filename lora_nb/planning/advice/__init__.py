"""Recipe advice: the tutorials' rules of thumb, each returned with its reason and its source.

Sources (the course's four tutorials; `docs/sources.md` gives titles, sections and links):
- Flux LoRA guide: a Flux LoRA experience report -- one concept per LoRA, 10-letter identifiers,
  concept balance, steps from dataset size, lr by rank, file size by rank, worked examples (§5).
- Kohya practice guide: a kohya practice guide (SD1.5/SDXL) -- repeats per subject type, file sizes, rank use.
- LoRA explainer: a LoRA training explainer -- repeats x epochs by dataset type, alpha = rank/2,
  SDXL file sizes, optimizers (AdamW8bit, Lion ~10x lower lr, Prodigy/DAdaptation lr 1), over-/under-fitting.

Every function returns data (dataclasses/dicts) so the CLI and the notebooks can render it; the
tutorials' numbers live in `tables`, next to where they come from. `rates` (lr, alpha, rank, file
size), `steps`, `concepts` and `fitting` hold the rules; `recipe` puts them together (`recommend`,
`advise`).
"""
