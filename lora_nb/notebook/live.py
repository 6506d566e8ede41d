"""The live training display: a TrainCallback for notebooks with a progress bar, a status line, a stop
button, the loss plot and the latest validation images (one printed line per step when headless).

It subclasses the trainer's TrainCallback, so importing this module imports torch."""

from __future__ import annotations

import html
import threading
from pathlib import Path

import ipywidgets as widgets

from ..evaluate.lossplot import TrainLog, loss_figure, sample_labels
from ..i18n import get_language, t
from ..training.trainer import TrainCallback
from .display import figure_png, image_grid
from .form import set_tooltip


def _in_notebook() -> bool:
    try:
        from IPython import get_ipython
    except ImportError:
        return False
    ip = get_ipython()
    return ip is not None and getattr(ip, "kernel", None) is not None


class LiveTrainDisplay(TrainCallback):
    """A TrainCallback for notebooks: progress bar, status line, a stop button, the loss plot
    (redrawn every `every` steps through a display handle) and the latest validation images.

    The stop button makes `should_stop()` true; the trainer then saves a checkpoint and stops
    (its contract). Clicks reach the kernel only while no cell is running, so `start_training`
    runs the trainer in a thread. Outside a notebook (`headless`) it prints one line every
    `every` steps instead.
    """

    shows_progress = True  # start_training then turns the other progress bars off (lora_nb.progress)

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
        self.val: list[dict] = []  # the trainer's val_loss records, as they come
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
        log = TrainLog(path=Path("logs") / "train_log.jsonl", steps=list(self.steps), loss=list(self.loss),
                       lr=list(self.lr), epochs=[0] * len(self.steps), time=[0.0] * len(self.steps))
        log.checkpoints = list(self.checkpoints)
        log.samples = list(self.samples)
        log.val_steps = [int(r["step"]) for r in self.val]
        log.val_loss = [float(r["val_loss"]) for r in self.val]
        log.train_eval_loss = [float(r["train_eval_loss"]) for r in self.val]
        return log

    def loss_figure(self):
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

    def on_validation(self, step: int, record: dict) -> None:
        self.val.append(record)
        self._say(t("train.val_loss", self.lang, step=step, val=record["val_loss"], train=record["train_eval_loss"]))
        if step:  # step 0 comes before the first loss point; the next step's redraw shows it
            self._update_plot()

    def on_sample(self, step: int, paths: list) -> None:
        self.samples.append((step, [str(p) for p in paths]))
        if self.headless:
            print(t("train.samples", self.lang, step=step) + ": " + ", ".join(map(str, paths)), flush=True)
            return
        if self._sample_handle is not None and paths:
            labels = sample_labels(Path(paths[0]).parent.parent, len(paths), self.lang)  # <run>/samples/*.png
            grid = image_grid(paths, labels, cols=len(paths), cell_size=self.sample_size, enlarge_small=True,
                              wrap_lines=3, title=t("train.samples", self.lang, step=step))
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
