"""Before training: the step plan, the tutorials' recipe advice and the memory fit."""
