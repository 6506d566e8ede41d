"""Step 5: the training loop and what it needs (data, noise, optimizers, presets, step math, export)."""
