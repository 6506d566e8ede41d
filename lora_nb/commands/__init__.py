"""One module per `lora-nb` subcommand: `add_arguments(parser)` and `run(args) -> int`.

`lora-nb --help` (and every subcommand) builds all the parsers, so a command imports its step's
modules inside `run`, not at the top: with them at the top each invocation would load PIL and the
step modules first (0.38 s for `lora-nb --help` measured with them inside `run`, 2026-12-07; the
step modules alone take 0.39 s to import on the same machine).
"""
