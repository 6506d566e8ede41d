import subprocess
import sys

from lora_nb.cli import SUBCOMMANDS, build_parser, main


def test_every_subcommand_has_help_for_each_flag():
    parser = build_parser()
    sub = next(a for a in parser._actions if a.dest == "command")
    assert set(sub.choices) == set(SUBCOMMANDS) >= {"collect", "crop", "caption", "tags", "train", "xy", "demo"}
    for name, p in sub.choices.items():
        assert name in SUBCOMMANDS
        for action in p._actions:
            if action.option_strings and action.dest != "help":
                assert action.help, f"{name} {action.option_strings} has no help"


def test_config_command_writes_a_loadable_file(tmp_path):
    from lora_nb.config import Config

    assert main(["config", "--out", str(tmp_path / "c.toml"), "--rank", "32", "--sample-prompts", "a, b|c"]) == 0
    cfg = Config.load(tmp_path / "c.toml")
    assert cfg.rank == 32 and cfg.sample_prompts == ["a, b", "c"]


def test_console_script_bad_input_exits_nonzero_with_one_line():
    proc = subprocess.run([sys.executable, "-m", "lora_nb.cli", "train", "missing.toml"], capture_output=True,
                          text=True)
    assert proc.returncode == 2
    assert proc.stderr.strip().count("\n") == 0 and "not found" in proc.stderr
