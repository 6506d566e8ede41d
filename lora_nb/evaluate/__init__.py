"""Step 6: XY grids of checkpoints x strengths x prompts, loss plots, the forgetting check, and the
measured recommendation of a checkpoint and strength (metrics, scoring, recommend, report).

Uses only the shared layer and `families` (a trained LoRA file is all it needs from step 5).
"""
