"""Project state: one folder (local or on Google Drive) holding every step's output and the config.

A learner closes Colab after cropping and comes back the next day: the next notebook opens the
project folder and finds where the previous step left its work, instead of relying on notebook
globals that died with the runtime (kohya-colab's weak spot). The folder:

    my_lora/
      project.json        name, family, language, config path, each step's output and summary
      config.toml         the training Config (the train notebook's widgets read and write it)
      dataset/            01_collect        (kohya N_name concept folders)
      cropped/            02_crop, then captioned in place by 03_caption
      clean/              04_clean_tags
      runs/<name>/        05_train          (checkpoints, samples, logs, resume state)
      evaluate/           06_evaluate       (XY grids)

Paths inside the folder are stored relative to it, so a project keeps working when Drive is
mounted elsewhere or the folder is copied. Every write is atomic (`fileio`).
"""

from __future__ import annotations

import json
import os
import time
from dataclasses import dataclass, field
from pathlib import Path

from ..config import FAMILIES, Config
from ..env import in_colab
from ..errors import LoraNbError
from ..families.facts import facts
from ..fileio import atomic_write_text
from ..i18n import ENV_VAR, get_language, normalize_language, set_language, t
from ..toy.builtin import builtin_model_dir
from ..training.runfolder import next_run_dir, previous_run

PROJECT_FILE = "project.json"
CONFIG_FILE = "config.toml"
FORMAT_VERSION = 1

# step -> (notebook, default output folder, what it holds: an i18n "what.*" key)
STEPS: dict[str, tuple[str, str, str]] = {
    "setup": ("00_setup", "", "what.config"),
    "collect": ("01_collect", "dataset", "what.dataset"),
    "crop": ("02_crop", "cropped", "what.cropped"),
    "caption": ("03_caption", "cropped", "what.captions"),
    "clean": ("04_clean_tags", "clean", "what.clean"),
    "train": ("05_train", "runs", "what.run"),
    "evaluate": ("06_evaluate", "evaluate", "what.evaluation"),
}
# Training reads the newest dataset along the chain; captioning edits the crop output in place.
DATA_STEPS = ("clean", "caption", "crop", "collect")

# Config fields holding folders that usually lie inside the project.
PATH_FIELDS = ("train_data_dir", "reg_data_dir", "output_dir")

PROJECTS_ENV = "LORA_NB_PROJECTS"
SMOKE_ENV = "LORA_NB_SMOKE"
DRIVE_MOUNT = Path("/content/drive")


# --- where projects live -------------------------------------------------------------------------
def drive_dir() -> Path:
    """'My Drive' of a mounted Google Drive (Colab)."""
    return DRIVE_MOUNT / "MyDrive"


def drive_mounted() -> bool:
    return drive_dir().is_dir()


def mount_drive() -> bool:
    """Mount Google Drive on Colab (asks the user for access once); False outside Colab."""
    if not in_colab():
        return False
    if not drive_mounted():
        from google.colab import drive  # type: ignore

        drive.mount(str(DRIVE_MOUNT))
    return drive_mounted()


def projects_root() -> Path:
    """$LORA_NB_PROJECTS, else `lora-nb-projects` on a mounted Drive, else in the home folder."""
    if os.environ.get(PROJECTS_ENV):
        return Path(os.environ[PROJECTS_ENV]).expanduser()
    if drive_mounted():
        return drive_dir() / "lora-nb-projects"
    return Path.home() / "lora-nb-projects"


def project_dir(name_or_path: str | os.PathLike) -> Path:
    """A bare name ('my_lora') lives under `projects_root()`; anything with a slash is a path."""
    s = os.fspath(name_or_path).strip()
    if not s:
        raise LoraNbError("empty project name -> set PROJECT to a name like 'my_lora' or a folder path")
    if os.sep in s or "/" in s or s.startswith("~"):
        return Path(s).expanduser()
    return projects_root() / s


SAMPLE_RAW = "raw"  # datasets_sample/raw: what notebooks 01-04 clean up in the CPU course and smoke mode


def smoke_mode() -> bool:
    """LORA_NB_SMOKE=1: tiny offline model, the sample dataset and a few steps (CI, quick trials)."""
    return os.environ.get(SMOKE_ENV, "").strip().lower() in ("1", "true", "yes")


def sample_dataset_dir() -> Path:
    """The course's sample dataset `datasets_sample/` next to the package (a git checkout)."""
    p = Path(__file__).resolve().parents[2] / "datasets_sample"
    if not p.is_dir():
        raise LoraNbError(f"the sample dataset is not at {p} -> install the kit from a git checkout "
                          f"(00_setup does on Colab), or set SOURCES to your own images")
    return p


def sample_sources(raw: bool = False) -> list[str]:
    """The sample dataset's concept folders (its README and script are not images to collect); `raw`: those
    of `datasets_sample/raw/`, the same toys uncropped and with caption problems for steps 1-4 to fix."""
    root = sample_dataset_dir() / SAMPLE_RAW if raw else sample_dataset_dir()
    return [str(p) for p in sorted(root.iterdir())
            if p.is_dir() and not p.name.startswith(".") and p.name != SAMPLE_RAW]


def smoke_overrides(model_dir: str | os.PathLike | None = None) -> dict:
    """Config values for smoke mode: the built-in tiny-shapes model (`lora_nb.toy.builtin`, an SD1.5-layout
    model that draws; `model_dir` for another), 64 px, 2 steps, one checkpoint, fp32 AdamW
    (validation prompts come from the dataset in 05_train)."""
    model = model_dir or builtin_model_dir()
    return dict(family="sd15", pretrained_model=str(model), resolution=64, min_bucket_reso=64,
                max_bucket_reso=128, optimizer="adamw", learning_rate=1e-3, max_train_steps=2,
                save_every_n_steps=2, sample_steps=2, mixed_precision="no", save_formats=["kohya", "diffusers"])


# --- the project ---------------------------------------------------------------------------------
def _now() -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%S")


@dataclass
class Project:
    """A project folder and its `project.json`. Create with `Project.create`, reopen with `Project.open`."""

    root: Path
    data: dict = field(default_factory=dict)

    # -- construction --------------------------------------------------------------------------
    @classmethod
    def create(cls, path: str | os.PathLike, *, family: str = "sd15", language: str | None = None,
               pretrained_model: str | None = None, config_overrides: dict | None = None) -> Project:
        """Make (or update) the project at `path`: project.json plus a config.toml for `family`.

        Re-running 00_setup on an existing project keeps its steps and config and only changes
        what is passed (family, language, base model, overrides). No `language`: the project's own on a
        re-run, else the current one (`set_language`, $LORA_NB_LANG, else English).
        """
        if family not in FAMILIES:
            raise LoraNbError(f"family {family!r} -> use one of {', '.join(FAMILIES)}")
        language = normalize_language(language) if language else None
        root = Path(path).expanduser()
        if root.exists() and not root.is_dir():
            raise LoraNbError(f"{root} is a file -> choose a folder path for the project")
        if (root / PROJECT_FILE).is_file():
            proj = cls.open(root, apply_language=False)
            cfg = proj.config()
            changed_family = cfg.family != family
        else:
            root.mkdir(parents=True, exist_ok=True)
            proj = cls(root, {"version": FORMAT_VERSION, "name": root.name, "created": _now(), "steps": {},
                              "config": CONFIG_FILE})
            cfg, changed_family = Config(), True
        changes: dict = {"family": family}
        if changed_family:  # a new family brings its native resolution and reference model (any hub id or
            f = facts(family)  # local folder works in their place)
            changes.update(resolution=f.resolution, max_bucket_reso=max(f.resolution * 2, cfg.min_bucket_reso),
                           pretrained_model=f.base_model)
        if pretrained_model:
            changes["pretrained_model"] = str(pretrained_model)
        changes.update(config_overrides or {})
        if cfg.output_dir == "output":  # the Config default: put runs inside the project
            changes.setdefault("output_dir", f"runs/{cfg.output_name or 'lora'}")
        proj.data.update(family=family, language=language or proj.data.get("language") or get_language())
        proj.save_config(cfg.replace(**changes))
        proj.record("setup", "")
        proj._apply_language()
        return proj

    @classmethod
    def open(cls, path: str | os.PathLike, apply_language: bool = True) -> Project:
        """Open the project at `path`; a friendly error when there is none (00_setup not run).

        The project's language becomes the current one unless $LORA_NB_LANG says otherwise.
        """
        root = Path(path).expanduser()
        f = root / PROJECT_FILE
        if not f.is_file():
            raise LoraNbError(t("project.missing", path=root))
        try:
            data = json.loads(f.read_text(encoding="utf-8"))
        except json.JSONDecodeError as e:
            raise LoraNbError(f"{f} is not valid JSON ({e}) -> fix it, or run 00_setup again to rewrite it") from None
        if not isinstance(data, dict) or not isinstance(data.get("steps", {}), dict):
            raise LoraNbError(f"{f} is not a lora-nb project file -> run 00_setup again to rewrite it")
        data.setdefault("steps", {})
        proj = cls(root, data)
        if apply_language:
            proj._apply_language()
        return proj

    def _apply_language(self) -> None:
        """The project's language for this session, unless $LORA_NB_LANG overrides it."""
        if not os.environ.get(ENV_VAR):
            set_language(self.language)

    # -- plain properties ----------------------------------------------------------------------
    @property
    def name(self) -> str:
        return self.data.get("name") or self.root.name

    @property
    def family(self) -> str:
        return self.data.get("family", "sd15")

    @property
    def language(self) -> str:
        return self.data.get("language", "en")

    @language.setter
    def language(self, lang: str) -> None:
        self.data["language"] = normalize_language(lang)
        self.save()
        set_language(self.data["language"])

    @property
    def config_path(self) -> Path:
        return self.resolve(self.data.get("config") or CONFIG_FILE)

    # -- paths ---------------------------------------------------------------------------------
    def resolve(self, p: str | os.PathLike) -> Path:
        """A stored path: relative ones are inside the project folder."""
        q = Path(p).expanduser()
        return q if q.is_absolute() else self.root / q

    def _store(self, p: str | os.PathLike) -> str:
        q = Path(p).expanduser()
        try:
            return q.resolve().relative_to(self.root.resolve()).as_posix() if q.is_absolute() else q.as_posix()
        except ValueError:
            return str(q)

    def default_output(self, step: str) -> Path:
        """Where `step` writes by default (a new folder inside the project)."""
        return self.root / STEPS[step][1]

    def output(self, step: str) -> Path | None:
        """The output folder recorded by `step`, or None when the step has not been run."""
        rec = self.data["steps"].get(step)
        return self.resolve(rec["output"]) if rec and rec.get("output") else None

    def require(self, step: str) -> Path:
        """The output of an earlier step, or a friendly 'run 01_collect first' error."""
        notebook, default, what = STEPS[step]
        out = self.output(step)
        if out is None or not out.exists():
            raise LoraNbError(t("project.need_step", notebook=notebook, what=t(what),
                                path=out or self.default_output(step)))
        return out

    def training_data(self) -> Path:
        """The newest dataset along collect -> crop -> caption -> clean (what training should read)."""
        for step in DATA_STEPS:
            out = self.output(step)
            if out is not None and out.is_dir():
                return out
        return self.require("collect")  # raises: nothing collected yet

    def step_info(self, step: str) -> dict:
        return dict(self.data["steps"].get(step, {}))

    def done_steps(self) -> list[str]:
        return [s for s in STEPS if s in self.data["steps"]]

    def next_notebook(self) -> str | None:
        done = set(self.done_steps())
        for step, (nb, _, _) in STEPS.items():
            if step not in done:
                return nb
        return None

    # -- config --------------------------------------------------------------------------------
    def config(self, **overrides):
        """The project's training Config (config.toml), with `overrides` applied.

        Folder fields stored relative to the project (portable between machines and Drive
        mounts) come back as absolute paths, so the trainer finds them from any working folder.
        """
        cfg = Config.load(self.config_path, **overrides)
        paths = {k: str(self.resolve(getattr(cfg, k))) for k in PATH_FIELDS if getattr(cfg, k)}
        return cfg.replace(**paths) if paths else cfg

    @property
    def advised(self) -> dict:
        """The values the advisor last put into the config (05_train): not the user's, so they follow the
        dataset (`lora_nb.planning.starting.user_set`)."""
        return dict(self.data.get("advised") or {})

    @advised.setter
    def advised(self, values: dict) -> None:
        self.data["advised"] = dict(values)
        self.save()

    def save_config(self, config) -> Path:
        """Write config.toml atomically; folders inside the project are stored relative to it."""
        config.validate()
        paths = {k: self._store(getattr(config, k)) for k in PATH_FIELDS if getattr(config, k)}
        path = (config.replace(**paths) if paths else config).save(self.config_path)
        self.data["family"] = config.family
        self.save()
        return path

    def new_run(self, config: Config) -> Config:
        """`config` for a new training run (05_train's Train): when its output_dir already holds a run, a
        new run folder beside it (runs/lora -> runs/lora-2), said in one line. Runs never mix, and the new
        folder goes into config.toml with `save_config` (so resume = 'latest' continues the newest run) and
        into project.json when the run is recorded (06_evaluate reads that). resume and overwrite keep it."""
        out = Path(config.output_dir)
        if config.resume or config.overwrite or not previous_run(out, (config.output_name,)):
            return config
        new = next_run_dir(out)
        print(t("train.new_run", old=self._store(out), new=self._store(new)))
        return config.replace(output_dir=str(new))

    # -- recording -----------------------------------------------------------------------------
    def record(self, step: str, output: str | os.PathLike | None, summary: str = "", **info) -> None:
        """Note that `step` ran and wrote `output`; `info` must be JSON-serialisable."""
        if step not in STEPS:
            raise KeyError(f"unknown step {step!r}; steps: {', '.join(STEPS)}")
        rec = {"output": self._store(output) if output else "", "done": _now()}
        if summary:
            rec["summary"] = summary
        rec.update(info)
        self.data["steps"][step] = rec
        self.save()

    def save(self) -> Path:
        self.data["version"] = FORMAT_VERSION
        self.data["updated"] = _now()
        self.data.setdefault("name", self.root.name)
        return atomic_write_text(self.root / PROJECT_FILE, json.dumps(self.data, indent=2, ensure_ascii=False))

    def status(self) -> str:
        """A few lines for the top of each notebook: project, steps done, what to open next."""
        lines = [t("project.opened", name=self.name, family=self.family, path=self.root),
                 t("project.done_steps", steps=", ".join(STEPS[s][0] for s in self.done_steps()) or "-")]
        nxt = self.next_notebook()
        if nxt:
            lines.append(t("project.next", notebook=nxt))
        return "\n".join(lines)


def open_project(name_or_path: str | os.PathLike = "", *, create: bool = False, **create_kwargs) -> Project:
    """What each notebook's first cell calls: the project by name (under `projects_root()`) or path.

    An empty name uses $LORA_NB_PROJECT or 'my_lora'. `create=True` (00_setup) makes it if missing.
    """
    name = os.fspath(name_or_path) or os.environ.get("LORA_NB_PROJECT", "") or "my_lora"
    path = project_dir(name)
    if create:
        return Project.create(path, **create_kwargs)
    return Project.open(path)
