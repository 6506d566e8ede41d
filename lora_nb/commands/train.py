"""Train a LoRA. Reads CONFIG (TOML or JSON, e.g. written by `lora-nb config` or the train notebook);
any config field can be overridden with its flag, e.g.

    lora-nb train my_lora.toml --rank 32 --learning-rate 1e-4 --resume latest

Runs under `accelerate launch` / `torchrun` for several GPUs with the same flags.
"""

from __future__ import annotations

from ._option_flags import add_config_flags, config_from_args


def add_arguments(p):
    p.add_argument("config", nargs="?", help="config file (.toml or .json); optional when flags give everything")
    add_config_flags(p)


def run(args) -> int:
    from ..fscheck import writable_folder
    from ..training.signals import SignalStop
    from ..training.trainer import train

    config = config_from_args(args, args.config)
    writable_folder(config.output_dir, "output_dir")
    stop = SignalStop()
    with stop.installed():  # Ctrl-C / kill: checkpoint at the end of the step, then a clean exit
        result = train(config, callbacks=[stop])
    files = ", ".join(str(p) for p in result.files.values())
    if stop.signum and result.stopped_early:  # (a signal after the last step changes nothing)
        print(f"stopped by {stop.name} at step {result.steps}; checkpoint: {files} -> continue with --resume latest")
        return stop.exit_code
    print(f"done: {result.steps} steps; LoRA files: {files}")
    return 0
