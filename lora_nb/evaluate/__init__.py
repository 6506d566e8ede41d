"""Step 6: XY grids of checkpoints x strengths x prompts, loss plots and the forgetting check.

Uses only the shared layer and `families` (a trained LoRA file is all it needs from step 5).
"""
