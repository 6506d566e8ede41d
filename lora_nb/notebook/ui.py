"""Notebook widgets: the Config form, the live training display, image grids and friendly errors.

Core ipywidgets only (sliders, dropdowns, text boxes, tabs, buttons, progress bars), so every
widget renders in Colab without enabling custom widget managers. The form is built from the
Config fields' metadata (peft-style ``help``/``group``/``choices``/``min``/``max``), so a new
Config field appears in the form, in the TOML file and on the command line at once.

Functions here display nothing by themselves except `LiveTrainDisplay` and `notebook_start`;
the rest return widgets, Grids or Figures that a notebook cell shows by ending with them.
"""

from __future__ import annotations

import contextvars
import copy
import html
import io
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Sequence

import ipywidgets as widgets

from ..config import GROUPS, Config
from ..training.data import suggest_prompts  # noqa: F401  (notebooks: ui.suggest_prompts)
from ..errors import ConfigError, LoraNbError
from ..i18n import field_help, field_label, get_language, group_title, t

LR_FIELDS = ("learning_rate", "unet_lr", "text_encoder_lr")
RESOLUTION_FIELDS = ("resolution", "min_bucket_reso", "max_bucket_reso")  # sliders in steps of 64
SLIDER_MAX_SPAN = 1024  # wider integer ranges (seeds, step counts) get a text box instead of a slider
_DESC_WIDTH = "190px"
_FIELD_WIDTH = "560px"


# ===============================================================================================
# advice: lr follows rank
# ===============================================================================================
def default_advisor() -> Callable[[Config], float | None] | None:
    """Flux LoRA guide's lr-by-rank rule (`advice.lr_for_rank`, adjusted for the optimizer) as
    `advisor(config) -> lr`."""
    try:
        from ..planning.advice.rates import lr_for_rank
    except ImportError:  # pragma: no cover - advice is part of the kit
        return None
    return lambda config: lr_for_rank(config.rank, config.optimizer)


# ===============================================================================================
# the Config form
# ===============================================================================================
def set_tooltip(w: widgets.Widget, text: str) -> widgets.Widget:
    """Hover help on any widget: `tooltip` in ipywidgets 8, `description_tooltip` in 7 (Colab's
    preinstalled version), so the form works with either."""
    if w.has_trait("tooltip"):
        w.tooltip = text
    elif w.has_trait("description_tooltip"):
        w.description_tooltip = text
    return w


def _field_widget(info: dict, value: Any, lang: str) -> widgets.Widget:
    """One widget for one Config field, chosen from its type and metadata; its help is the tooltip."""
    w = _make_field_widget(info, value, lang)
    return set_tooltip(w, field_help(info["name"], lang))


def _make_field_widget(info: dict, value: Any, lang: str) -> widgets.Widget:
    name, tp = info["name"], info["type"]
    common = dict(description=field_label(name, lang), style={"description_width": _DESC_WIDTH},
                  layout=widgets.Layout(width=_FIELD_WIDTH))
    lo, hi = info.get("min"), info.get("max")
    if "choices" in info:
        return widgets.Dropdown(options=list(info["choices"]), value=value, **common)
    if tp is bool:
        return widgets.Checkbox(value=value, indent=True, **common)
    if tp is int:
        if name in RESOLUTION_FIELDS:  # FluxTrainer walkthrough, Kohya practice guide: sides are multiples of 64
            return widgets.IntSlider(value=value, min=64, max=hi, step=64, continuous_update=False, **common)
        if lo is not None and hi is not None and hi - lo <= SLIDER_MAX_SPAN:
            return widgets.IntSlider(value=value, min=lo, max=hi, step=1, continuous_update=False, **common)
        return widgets.BoundedIntText(value=value, min=lo if lo is not None else -2**31,
                                      max=hi if hi is not None else 2**63, **common)
    if tp is float:
        if name in LR_FIELDS or hi is None or hi > 50:
            # step None: any value is valid in the browser's number box (1e-4, 8.9e-5, ...)
            return widgets.BoundedFloatText(value=value, min=lo or 0.0, max=hi if hi is not None else 1e9,
                                            step=None, **common)
        step = 0.01 if hi <= 1 else (0.1 if hi <= 10 else 0.5)
        return widgets.FloatSlider(value=value, min=lo or 0.0, max=hi, step=step, continuous_update=False,
                                   readout_format=".2f" if hi <= 1 else ".1f", **common)
    if tp is list:
        if info.get("sep") == "|":  # prompts contain commas: one per line
            return widgets.Textarea(value=_to_widget(info, value), placeholder=t("form.lines_hint", lang),
                                    rows=3, **common)
        return widgets.Text(value=_to_widget(info, value), placeholder=t("form.list_hint", lang), **common)
    return widgets.Text(value=str(value), **common)


def _from_widget(info: dict, value: Any) -> Any:
    if info["type"] is list:
        if info.get("sep") == "|":
            return [ln.strip() for ln in str(value).splitlines() if ln.strip()]
        return [p.strip() for p in str(value).split(",") if p.strip()]
    return value


def _to_widget(info: dict, value: Any) -> Any:
    if info["type"] is list:
        return "\n".join(value) if info.get("sep") == "|" else ", ".join(value)
    return value


class ConfigForm:
    """Widgets bound to a Config in both directions.

    `widget` is the form (one tab per Config group, inline validation below each field and a
    summary at the bottom); `config` is the Config the widgets currently describe (ConfigError
    while a value is invalid); `set_config(cfg)` moves the widgets to `cfg`. With an advisor,
    the learning rate follows the rank until the user edits it.
    """

    def __init__(self, config: Config, lang: str | None = None,
                 advisor: Callable[[Config], float | None] | None | str = "default", show_help: bool = True):
        self.lang = lang or get_language()
        self.advisor = default_advisor() if advisor == "default" else advisor
        self._infos = {i["name"]: i for i in Config.field_info()}
        self._values: dict[str, Any] = config.to_dict()
        self._config = Config.from_dict(self._values)
        self._updating = False
        self._listeners: list[Callable[["ConfigForm"], None]] = []
        self.problems: list[str] = []
        self.widgets: dict[str, widgets.Widget] = {}
        self.messages: dict[str, widgets.HTML] = {}  # per-field validation message
        self.lr_follows_rank = self._matches_advice(self._config)

        rows_by_group: dict[str, list[widgets.Widget]] = {g: [] for g in GROUPS}
        for name, info in self._infos.items():
            w = _field_widget(info, self._values[name], self.lang)
            w.observe(lambda ch, n=name: self._on_widget(n, ch["new"]), names="value")
            self.widgets[name] = w
            msg = widgets.HTML(layout=widgets.Layout(display="none", margin="0 0 0 200px"))
            self.messages[name] = msg
            parts: list[widgets.Widget] = [self._with_extras(name, w)]
            if show_help:
                parts.append(widgets.HTML(f"<div style='margin-left:200px;color:#666;font-size:smaller;"
                                          f"line-height:1.3'>{html.escape(field_help(name, self.lang))}</div>"))
            parts.append(msg)
            rows_by_group.setdefault(info["group"], []).append(widgets.VBox(parts))
        groups = [g for g in rows_by_group if rows_by_group[g]]
        self.tabs = widgets.Tab(children=[widgets.VBox(rows_by_group[g]) for g in groups])
        for i, g in enumerate(groups):  # set_title works in ipywidgets 7 and 8
            self.tabs.set_title(i, group_title(g, self.lang))
        self.summary = widgets.HTML()
        self.widget = widgets.VBox([self.tabs, self.summary])
        self._refresh_advice()
        self._validate()

    # -- extras beside fields: the advisor's suggestions --------------------------------------------
    def _with_extras(self, name: str, w: widgets.Widget) -> widgets.Widget:
        if name == "learning_rate":
            self.lr_advice = widgets.HTML()
            self.lr_apply = set_tooltip(widgets.Button(description=t("form.apply", self.lang),
                                                       layout=widgets.Layout(width="auto")),
                                        t("form.lr_follows", self.lang))
            self.lr_apply.on_click(lambda _: self.follow_rank())
            return widgets.HBox([w, widgets.VBox([self.lr_advice, self.lr_apply])])
        if name == "alpha":
            self.alpha_advice = widgets.HTML()
            return widgets.HBox([w, self.alpha_advice])
        return w

    def suggested_lr(self, config: Config | None = None) -> float | None:
        """The advisor's learning rate for the current values (None without an advisor, or when
        the values are too broken to advise on: the validation message says why)."""
        if self.advisor is None:
            return None
        try:
            return self.advisor(config or self._candidate())
        except (LoraNbError, ValueError, TypeError):
            return None

    def _matches_advice(self, config: Config) -> bool:
        return _close(config.learning_rate, self.suggested_lr(config))

    def follow_rank(self) -> None:
        """Let the learning rate follow the rank again (the 'Use suggestion' button)."""
        self.lr_follows_rank = True
        self._apply_advice()
        self._validate()

    def _apply_advice(self) -> None:
        lr = self.suggested_lr()
        if self.lr_follows_rank and lr is not None and lr != self._values["learning_rate"]:
            self._set_widget("learning_rate", lr)
        self._refresh_advice()

    def _refresh_advice(self) -> None:
        if not hasattr(self, "lr_advice"):
            return
        lr = self.suggested_lr()
        rank = self._values["rank"]
        if lr is None:
            self.lr_advice.value, self.lr_apply.layout.display = "", "none"
        else:
            state = t("form.lr_follows" if self.lr_follows_rank else "form.lr_manual", self.lang)
            self.lr_advice.value = (f"<span style='color:#555;font-size:smaller'>"
                                    f"{html.escape(t('form.suggest_lr', self.lang, rank=rank, lr=lr))}<br>"
                                    f"{html.escape(state)}</span>")
            self.lr_apply.layout.display = "none" if self.lr_follows_rank else ""
        self.alpha_advice.value = (f"<span style='color:#555;font-size:smaller'>"
                                   f"{html.escape(t('form.alpha_hint', self.lang, alpha=rank / 2))}</span>")

    # -- widget -> config -------------------------------------------------------------------------
    def _set_widget(self, name: str, value: Any) -> None:
        """Change a widget from code (advice, set_config) without counting it as a user edit."""
        was, self._updating = self._updating, True
        try:
            self.widgets[name].value = _to_widget(self._infos[name], value)
            self._values[name] = value
        finally:
            self._updating = was

    def _on_widget(self, name: str, new: Any) -> None:
        self._values[name] = _from_widget(self._infos[name], new)
        if self._updating:
            return
        if name == "learning_rate":  # typing the suggested value keeps following; anything else is manual
            self.lr_follows_rank = _close(self._values[name], self.suggested_lr())
        if name in ("rank", "optimizer", "family", "learning_rate"):
            self._apply_advice()
        self._validate()

    def _candidate(self) -> Config:
        """A Config holding the current widget values, not validated (for problems() and advice)."""
        cfg = copy.copy(self._config)
        for k, v in self._values.items():
            setattr(cfg, k, list(v) if isinstance(v, list) else v)
        return cfg

    def _validate(self) -> None:
        self.problems = self._candidate().problems()
        by_field: dict[str, list[str]] = {}
        for p in self.problems:
            name, _, msg = p.partition(": ")
            by_field.setdefault(name if name in self.messages else "", []).append(msg or p)
        for name, box in self.messages.items():
            msgs = by_field.get(name)
            box.value = ("<span style='color:#b00020'>⚠ " + "<br>⚠ ".join(map(html.escape, msgs)) + "</span>"
                         if msgs else "")
            box.layout.display = "" if msgs else "none"
        if self.problems:
            self.summary.value = (f"<div style='color:#b00020'><b>{html.escape(t('form.problems', self.lang))}</b><ul>"
                                  + "".join(f"<li>{html.escape(p)}</li>" for p in self.problems) + "</ul></div>")
        else:
            self._config = Config.from_dict(self._values)
            self.summary.value = f"<div style='color:#1b7f3b'>{html.escape(t('form.valid', self.lang))}</div>"
        for fn in self._listeners:
            fn(self)

    # -- public API -------------------------------------------------------------------------------
    @property
    def valid(self) -> bool:
        return not self.problems

    @property
    def config(self) -> Config:
        """The Config the widgets show; ConfigError (with every problem) while one is invalid."""
        if self.problems:
            raise ConfigError("the form has invalid values: " + "; ".join(self.problems))
        return self._config

    def set_config(self, config: Config) -> None:
        """Show `config` in the widgets (the reverse direction of the binding)."""
        config.validate()
        was, self._updating = self._updating, True
        try:
            for name, value in config.to_dict().items():
                self._set_widget(name, value)
        finally:
            self._updating = was
        self._config = Config.from_dict(self._values)
        self.lr_follows_rank = self._matches_advice(self._config)
        self._refresh_advice()
        self._validate()

    def observe(self, fn: Callable[["ConfigForm"], None]) -> None:
        """Call `fn(form)` after every change (valid or not)."""
        self._listeners.append(fn)

    def _ipython_display_(self):
        from IPython.display import display

        display(self.widget)


def config_form(config: Config, lang: str | None = None, advisor: Callable[[Config], float | None] | None | str
                = "default", show_help: bool = True) -> ConfigForm:
    """The training Config as a tabbed form (see `ConfigForm`); end a cell with it to show it."""
    return ConfigForm(config, lang=lang, advisor=advisor, show_help=show_help)


# ===============================================================================================
# images and figures
# ===============================================================================================
def figure_png(fig, dpi: int = 90) -> bytes:
    """A matplotlib Figure as PNG bytes (for display handles and image widgets)."""
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=dpi)
    return buf.getvalue()


def figure(fig, dpi: int = 90):
    """Show a matplotlib Figure inline as PNG (Figures made without pyplot have no inline display)."""
    from IPython.display import Image

    return Image(data=figure_png(fig, dpi), format="png")


def markdown(text: str):
    """Show Markdown text (e.g. `plan.render_markdown`) as formatted text in the notebook."""
    from IPython.display import Markdown

    return Markdown(text)


def config_table(config: Config, fields: Sequence[str] | None = None, lang: str | None = None):
    """Selected Config fields as a small table (label, value, help) for step summaries."""
    from IPython.display import HTML

    names = list(fields) if fields else [i["name"] for i in Config.field_info()]
    rows = "".join(f"<tr><td title='{html.escape(field_help(n, lang), quote=True)}'><b>"
                   f"{html.escape(field_label(n, lang))}</b></td><td><code>{html.escape(repr(getattr(config, n)))}"
                   f"</code></td></tr>" for n in names)
    return HTML(f"<table>{rows}</table>")


def image_grid(images: Sequence, labels: Sequence[str] | None = None, cols: int = 6, cell_size: int = 160,
               title: str | None = None):
    """Images (paths or PIL images) in rows of `cols`, each with its label below; a PIL image."""
    from PIL import Image

    from ..grids import Tile, image_grid as tile_grid

    tiles = []
    for i, im in enumerate(images):
        if isinstance(im, (str, Path)):
            with Image.open(im) as f:
                im = f.convert("RGB")
        tiles.append(Tile(im, [labels[i]] if labels is not None and i < len(labels) else []))
    if not tiles:
        tiles = [Tile(Image.new("RGB", (cell_size, cell_size), (235, 235, 235)), [t("grid.empty")])]
    return tile_grid(tiles, cols=cols, tile_size=cell_size, title=title or "")


def dataset_grid(folder: str | Path, max_images: int = 24, cols: int = 6, cell_size: int = 128,
                 captions: bool = True, title: str | None = None):
    """Thumbnails of a dataset folder (concept folders included), each with its file name and the
    start of its caption; returns a PIL image."""
    from ..dataset.caption import load_image
    from ..dataset.concepts import caption_path, scan_concepts
    from ..grids import Tile, image_grid as tile_grid
    from ..textio import read_caption

    folder = Path(folder)
    tiles = []
    concepts = scan_concepts(folder)
    for c in concepts:
        for img in c.images:
            if len(tiles) >= max_images:
                break
            im = load_image(img)
            im.thumbnail((cell_size, cell_size))
            lines = [f"{c.folder.name}/{img.name}" if c.folder != folder else img.name]
            cap = caption_path(img)
            if captions and cap.is_file():
                lines.append(read_caption(cap))
            tiles.append(Tile(im, lines))
    n = sum(len(c.images) for c in concepts)
    head = title or f"{folder.name}: {n} images" + (f" (first {len(tiles)})" if n > len(tiles) else "")
    return tile_grid(tiles, cols=cols, tile_size=cell_size, title=head)


# ===============================================================================================
# friendly errors and the first cell of every notebook
# ===============================================================================================
def _friendly_handler(shell, etype, value, tb, tb_offset=None):
    """Show a LoraNbError as its message (what is wrong -> how to fix it), not a traceback wall.
    It is still a real error for the kernel: the cell fails and headless runs stop there."""
    stb = [f"\x1b[1;31m{etype.__name__}\x1b[0m: {value}"]
    shell._showtraceback(etype, value, stb)
    return stb


def friendly_errors(enable: bool = True) -> bool:
    """In IPython, print `LoraNbError`s as one clear message instead of a traceback. Returns
    whether a kernel was there to install it in."""
    try:
        from IPython import get_ipython
    except ImportError:
        return False
    ip = get_ipython()
    if ip is None:
        return False
    if enable:
        ip.set_custom_exc((LoraNbError,), _friendly_handler)
    else:
        ip.set_custom_exc((), None)
    return True


def notebook_start(project: str = "", use_drive: bool = True, **create_kwargs):
    """The first lora_nb cell of each notebook: friendly errors on, Google Drive mounted (Colab,
    `use_drive`), the project opened (00_setup passes `create=True` and the family/language) and
    where things stand printed. Returns the Project."""
    from .project import mount_drive, open_project, smoke_mode

    friendly_errors()
    if use_drive:
        mount_drive()
    proj = open_project(project, **create_kwargs)
    print(proj.status())
    if smoke_mode():
        print(t("env.smoke"))
    return proj


# ===============================================================================================
# live training display
# ===============================================================================================
def _in_notebook() -> bool:
    try:
        from IPython import get_ipython
    except ImportError:
        return False
    ip = get_ipython()
    return ip is not None and getattr(ip, "kernel", None) is not None


class _LiveTrainDisplay:
    """A TrainCallback for notebooks: progress bar, status line, a stop button, the loss plot
    (redrawn every `every` steps through a display handle) and the latest validation images.

    The stop button makes `should_stop()` true; the trainer then saves a checkpoint and stops
    (its contract). Clicks reach the kernel only while no cell is running, so `start_training`
    runs the trainer in a thread. Outside a notebook (`headless`) it prints one line every
    `every` steps instead.
    """

    def __init__(self, every: int = 10, lang: str | None = None, headless: bool | None = None,
                 family: str | None = None, smoothing: float = 0.9, sample_size: int = 256):
        self.every = max(1, int(every))
        self.lang = lang or get_language()
        self.headless = (not _in_notebook()) if headless is None else headless
        self.family, self.smoothing, self.sample_size = family, smoothing, sample_size
        self._stop = threading.Event()
        self.run = None
        self.result = None
        self.steps: list[int] = []
        self.loss: list[float] = []
        self.lr: list[float] = []
        self.checkpoints: list[tuple[int, str]] = []
        self.samples: list[tuple[int, list[str]]] = []
        self.plot_updates = 0
        self.messages: list[str] = []
        self.progress = widgets.IntProgress(value=0, min=0, max=1, layout=widgets.Layout(width="320px"))
        self.status = widgets.HTML()
        self.stop_button = set_tooltip(widgets.Button(description=t("train.stop", self.lang), button_style="danger",
                                                      icon="stop", layout=widgets.Layout(width="auto")),
                                       t("train.stop_tooltip", self.lang))
        self.stop_button.on_click(lambda _: self.request_stop())
        self.panel = widgets.VBox([widgets.HBox([self.progress, self.stop_button]), self.status])
        self._plot_handle = None
        self._sample_handle = None
        self._shown = False

    # -- display ----------------------------------------------------------------------------------
    def show(self) -> None:
        """Put the panel, the plot and the sample area in the current cell (once)."""
        if self._shown or self.headless:
            return
        from IPython.display import HTML, display

        display(self.panel)
        self._plot_handle = display(HTML(""), display_id=True)
        self._sample_handle = display(HTML(""), display_id=True)
        self._shown = True

    def _say(self, text: str) -> None:
        self.messages.append(text)
        if self.headless:
            print(text, flush=True)
        else:
            self.status.value = html.escape(text)

    def request_stop(self) -> None:
        """What the stop button does: ask the trainer to save a checkpoint and stop."""
        self._stop.set()
        self.stop_button.disabled = True
        self._say(t("train.stop_requested", self.lang))

    def should_stop(self) -> bool:
        return self._stop.is_set()

    def train_log(self):
        """What was seen so far as a `lossplot.TrainLog` (for `loss_figure`)."""
        from ..evaluate.lossplot import TrainLog

        log = TrainLog(path=Path("logs") / "train_log.jsonl", steps=list(self.steps), loss=list(self.loss),
                       lr=list(self.lr), epochs=[0] * len(self.steps), time=[0.0] * len(self.steps))
        log.checkpoints = list(self.checkpoints)
        log.samples = list(self.samples)
        return log

    def loss_figure(self):
        from ..evaluate.lossplot import loss_figure

        return loss_figure(self.train_log(), smoothing=self.smoothing, family=self.family,
                           title=t("train.loss_title", self.lang), figsize=(8.0, 3.6))

    def _update_plot(self) -> None:
        self.plot_updates += 1
        if self.headless or self._plot_handle is None:
            return
        from IPython.display import Image

        self._plot_handle.update(Image(data=figure_png(self.loss_figure()), format="png"))

    # -- TrainCallback ----------------------------------------------------------------------------
    def on_start(self, run) -> None:
        self.run = run
        self.show()
        self.progress.max = max(1, run.total_steps)
        self.progress.value = 0
        self._say(t("train.started", self.lang, total=run.total_steps, epochs=run.epochs, device=run.device))

    def on_step(self, step: int, logs: dict) -> None:
        self.steps.append(step)
        self.loss.append(float(logs.get("loss", float("nan"))))
        self.lr.append(float(logs.get("lr", float("nan"))))
        self.progress.value = min(step, self.progress.max)
        total = self.run.total_steps if self.run else step
        if step % self.every == 0 or step == total or step == 1:
            text = t("train.step", self.lang, step=step, total=total, loss=self.loss[-1], lr=self.lr[-1])
            if self.headless:
                print(text, flush=True)
            else:
                self.status.value = html.escape(text)
            self._update_plot()

    def on_checkpoint(self, step: int, files: dict) -> None:
        path = files.get("kohya") or next(iter(files.values()), "")
        self.checkpoints.append((step, str(path)))
        self._say(t("train.checkpoint", self.lang, step=step, path=path))

    def on_sample(self, step: int, paths: list) -> None:
        self.samples.append((step, [str(p) for p in paths]))
        if self.headless:
            print(t("train.samples", self.lang, step=step) + ": " + ", ".join(map(str, paths)), flush=True)
            return
        if self._sample_handle is not None and paths:
            grid = image_grid(paths, [f"#{i + 1}" for i in range(len(paths))], cols=len(paths),
                              cell_size=self.sample_size, title=t("train.samples", self.lang, step=step))
            self._sample_handle.update(grid)

    def on_end(self, result) -> None:
        self.result = result
        self.stop_button.disabled = True
        self._update_plot()
        files = ", ".join(str(p) for p in result.files.values()) or "-"
        if result.stopped_early:
            self._say(t("train.stopped", self.lang, step=result.steps))
        else:
            self._say(t("train.done", self.lang, steps=result.steps, loss=result.last_loss, files=files))


_live_class = None


def __getattr__(name: str):
    """`LiveTrainDisplay` subclasses the trainer's TrainCallback; the trainer imports torch, so the
    class is made on first use and `import lora_nb.notebook.ui` stays light for the data-preparation notebooks."""
    global _live_class
    if name == "LiveTrainDisplay":
        if _live_class is None:
            from ..training.trainer import TrainCallback

            _live_class = type("LiveTrainDisplay", (_LiveTrainDisplay, TrainCallback),
                               {"__module__": __name__, "__doc__": _LiveTrainDisplay.__doc__})
        return _live_class
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


# ===============================================================================================
# training in a thread, so the stop button works while the trainer runs
# ===============================================================================================
@dataclass
class TrainingJob:
    """A training run in a background thread. `wait()` returns the TrainResult (or raises the
    trainer's error). Interrupting `wait()` (the kernel's interrupt button) asks for a clean stop
    (checkpoint first) and keeps waiting for it; a second interrupt stops waiting."""

    thread: threading.Thread
    display: LiveTrainDisplay | None
    result: Any = None
    error: BaseException | None = None
    started: float = 0.0
    finished: float = 0.0
    stop_event: threading.Event = field(default_factory=threading.Event)

    @property
    def done(self) -> bool:
        return not self.thread.is_alive()

    def stop(self) -> None:
        """Ask the trainer to save a checkpoint and stop after the current step."""
        self.stop_event.set()
        if self.display is not None and not self.display.should_stop():
            self.display.request_stop()

    def wait(self, timeout: float | None = None):
        deadline = None if timeout is None else time.monotonic() + timeout
        while self.thread.is_alive():
            try:
                self.thread.join(0.2 if deadline is None else max(0.0, min(0.2, deadline - time.monotonic())))
            except KeyboardInterrupt:
                if self.stop_event.is_set():
                    raise  # second interrupt: stop waiting (the run still stops at the next step)
                self.stop()
                continue
            if deadline is not None and time.monotonic() >= deadline:
                break
        if self.thread.is_alive():
            raise TimeoutError("training is still running")
        if self.error is not None:
            raise self.error
        return self.result


def start_training(config: Config, display: LiveTrainDisplay | None = None, callbacks: Sequence = (),
                   background: bool = True) -> TrainingJob:
    """Train `config` with the live display. `background=True` returns at once (the cell ends, the
    stop button works, `job.wait()` later gives the result); `False` waits here (headless runs)."""
    from ..training.trainer import train

    from ..training.trainer import TrainCallback

    config.validate()
    if display is not None:
        display.family = display.family or config.family
        display.show()  # in this cell, before the thread starts
    job = TrainingJob(threading.Thread(target=lambda: None), display)

    class _JobStop(TrainCallback):  # job.stop() works with or without a display
        def should_stop(self) -> bool:
            return job.stop_event.is_set()

    cbs = ([display] if display is not None else []) + list(callbacks) + [_JobStop()]

    def run():
        try:
            job.result = train(config, callbacks=cbs)
        except BaseException as e:  # handed to wait()
            job.error = e
        finally:
            job.finished = time.time()

    ctx = contextvars.copy_context()  # outputs of the thread stay with this cell
    job.thread = threading.Thread(target=ctx.run, args=(run,), name="lora-nb-train", daemon=True)
    job.started = time.time()
    job.thread.start()
    if not background:
        job.wait()
    return job


# ===============================================================================================
# the parameters cell -> the Config
# ===============================================================================================
def _close(a: float, b: float | None) -> bool:
    return b is not None and abs(a - b) <= 1e-6 * max(abs(b), 1e-12)


def apply_params(config: Config, params: dict, advisor: Callable[[Config], float | None] | None | str = "default"
                 ) -> Config:
    """The notebook's parameters cell applied to the project's Config: values left at None keep
    the Config's; a new rank brings its learning rate (Flux LoRA guide's lr-by-rank rule) unless a
    learning rate is given or the Config's was set by hand (it differs from the rule's)."""
    adv = default_advisor() if advisor == "default" else advisor
    given = {k: v for k, v in params.items() if v is not None}
    follows = adv is not None and _close(config.learning_rate, adv(config))
    cfg = config.replace(**given) if given else config
    if adv is not None and follows and "learning_rate" not in given:
        lr = adv(cfg)
        if lr is not None and not _close(cfg.learning_rate, lr):
            cfg = cfg.replace(learning_rate=lr)
    return cfg


# ===============================================================================================
# one-line summaries after each step (translated)
# ===============================================================================================
def step_summary(step: str, report: Any, lang: str | None = None) -> str:
    """A short translated summary of a step's report (CollectReport, CropReport, CaptionReport,
    CleanReport, TrainResult, XYResult path)."""
    if step == "collect":
        return t("summary.collect", lang, n=len(report.imported), concepts=len(report.concept_folders),
                 rejected=len(report.rejected), dups=len(report.duplicates))
    if step == "crop":
        return t("summary.crop", lang, n=len(report.items), mode=report.mode, resolution=report.resolution,
                 skipped=len(report.skipped))
    if step == "caption":
        return t("summary.caption", lang, written=len(report.written), skipped=len(report.skipped))
    if step == "clean":
        trig = ", ".join(f"{k} -> {v}" for k, v in report.triggers.items()) or "-"
        return t("summary.clean", lang, changed=len(report.changes), triggers=trig)
    if step == "train":
        return t("summary.train", lang, steps=report.steps, loss=report.last_loss, ckpts=len(report.checkpoints),
                 path=report.output_dir)
    if step == "evaluate":
        return t("summary.evaluate", lang, path=report)
    raise KeyError(step)
