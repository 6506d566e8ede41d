"""The training Config as a tabbed ipywidgets form, bound both ways and validated inline, the lr
advisor that lets the learning rate follow the rank, and the simpler form of a step's options.

Core ipywidgets only (sliders, dropdowns, text boxes, tabs, buttons), so every widget renders in
Colab without enabling custom widget managers. The form is built from the Config fields' metadata
(peft-style ``help``/``group``/``choices``/``min``/``max``), so a new Config field appears in the
form, in the TOML file and on the command line at once.
"""

from __future__ import annotations

import copy
import html
from collections.abc import Callable
from typing import Any

import ipywidgets as widgets

from ..config import GROUPS, Config
from ..errors import ConfigError, LoraNbError
from ..i18n import field_help, field_label, get_language, group_title, t
from ..options import Options, base_type, coerce
from ..planning.advice.rates import lr_for_rank

LR_FIELDS = ("learning_rate", "unet_lr", "text_encoder_lr")
RESOLUTION_FIELDS = ("resolution", "min_bucket_reso", "max_bucket_reso")  # sliders in steps of 64
SLIDER_MAX_SPAN = 1024  # wider integer ranges (seeds, step counts) get a text box instead of a slider
_DESC_WIDTH = "190px"
_FIELD_WIDTH = "560px"


# -- advice: lr follows rank ----------------------------------------------------------------------
def default_advisor() -> Callable[[Config], float | None]:
    """Flux LoRA guide's lr-by-rank rule (`advice.lr_for_rank`, adjusted for the optimizer) as
    `advisor(config) -> lr`."""
    return lambda config: lr_for_rank(config.rank, config.optimizer)


def lr_matches(lr: float, advised: float | None) -> bool:
    """Whether `lr` is the advised learning rate (None: no advice, so no)."""
    return advised is not None and abs(lr - advised) <= 1e-6 * max(abs(advised), 1e-12)


# -- the form -------------------------------------------------------------------------------------
def set_tooltip(w: widgets.Widget, text: str) -> widgets.Widget:
    """Hover help on any widget: `tooltip` in ipywidgets 8, `description_tooltip` in 7 (Colab's
    preinstalled version), so the form works with either."""
    if w.has_trait("tooltip"):
        w.tooltip = text
    elif w.has_trait("description_tooltip"):
        w.description_tooltip = text
    return w


def _field_widget(info: dict, value: Any, lang: str, help_text: str | None = None) -> widgets.Widget:
    """One widget for one field, chosen from its type and metadata; its help is the tooltip."""
    w = _make_field_widget(info, value, lang)
    return set_tooltip(w, help_text if help_text is not None else field_help(info["name"], lang))


def _make_field_widget(info: dict, value: Any, lang: str) -> widgets.Widget:
    name, (tp, nullable) = info["name"], base_type(info["type"])
    common = dict(description=field_label(name, lang), style={"description_width": _DESC_WIDTH},
                  layout=widgets.Layout(width=_FIELD_WIDTH))
    if nullable and "choices" not in info:  # empty box = None (the step decides, e.g. the family's size)
        return widgets.Text(value="" if value is None else str(_to_widget(info, value)), placeholder="auto", **common)
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
    if base_type(info["type"])[0] is list:
        if info.get("sep") == "|":
            return [ln.strip() for ln in str(value).splitlines() if ln.strip()]
        return [p.strip() for p in str(value).split(",") if p.strip()]
    return value


def _to_widget(info: dict, value: Any) -> Any:
    if base_type(info["type"])[0] is list:
        return "\n".join(value) if info.get("sep") == "|" else ", ".join(map(str, value))
    return value


class _Form:
    """What both forms share: `widget` (shown when a cell ends with the form), `problems` (every invalid
    value; empty when valid) and the value the widgets describe, refused while a value is invalid."""

    widget: widgets.Widget
    problems: list[str]

    @property
    def valid(self) -> bool:
        return not self.problems

    def _checked(self, value):
        if self.problems:
            raise ConfigError("the form has invalid values: " + "; ".join(self.problems))
        return value

    def _ipython_display_(self):
        from IPython.display import display

        display(self.widget)


class ConfigForm(_Form):
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
        self._listeners: list[Callable[[ConfigForm], None]] = []
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
        return lr_matches(config.learning_rate, self.suggested_lr(config))

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
            self.lr_follows_rank = lr_matches(self._values[name], self.suggested_lr())
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
    def config(self) -> Config:
        """The Config the widgets show; ConfigError (with every problem) while one is invalid."""
        return self._checked(self._config)

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

    def observe(self, fn: Callable[[ConfigForm], None]) -> None:
        """Call `fn(form)` after every change (valid or not)."""
        self._listeners.append(fn)


def config_form(config: Config, lang: str | None = None, advisor: Callable[[Config], float | None] | None | str
                = "default", show_help: bool = True) -> ConfigForm:
    """The training Config as a tabbed form (see `ConfigForm`); end a cell with it to show it."""
    return ConfigForm(config, lang=lang, advisor=advisor, show_help=show_help)


class OptionsForm(_Form):
    """A step's options (an `Options` dataclass) as a form: one widget per field, its help as tooltip
    and below it, checked on every change. `options` is what the widgets describe (ConfigError while
    a value is invalid). Fields that only Python can set (`cli=False`) keep the value given."""

    def __init__(self, options: Options, lang: str | None = None, show_help: bool = True):
        self.lang = lang or get_language()
        self._options = options
        infos = type(options).field_info()
        self._infos = {i["name"]: i for i in infos if i.get("cli", True)}
        self._values: dict[str, Any] = {n: getattr(options, n) for n in self._infos}
        self.problems: list[str] = []
        self.widgets: dict[str, widgets.Widget] = {}
        rows = []
        for name, info in self._infos.items():
            w = _field_widget(info, self._values[name], self.lang, info["help"])
            w.observe(lambda ch, n=name: self._on_widget(n, ch["new"]), names="value")
            self.widgets[name] = w
            rows.append(w)
            if show_help:
                rows.append(widgets.HTML(f"<div style='margin-left:200px;color:#666;font-size:smaller;"
                                         f"line-height:1.3'>{html.escape(info['help'])}</div>"))
        self.summary = widgets.HTML()
        self.widget = widgets.VBox([*rows, self.summary])
        self._validate()

    def _on_widget(self, name: str, new: Any) -> None:
        self._values[name] = _from_widget(self._infos[name], new)
        self._validate()

    def _validate(self) -> None:
        """Per-field text conversion, then the options' own checks on a copy holding the values."""
        candidate, self.problems = copy.copy(self._options), []
        for name, value in self._values.items():
            info = self._infos[name]
            try:
                setattr(candidate, name, coerce(name, info["type"], value, "form", info.get("sep", ",")))
            except ConfigError as e:
                self.problems.append(str(e).removeprefix("form: "))
        if not self.problems:
            self.problems = candidate.problems()
        if not self.problems:
            self._options = candidate
        self.summary.value = (
            "<div style='color:#b00020'>" + "<br>".join(f"⚠ {html.escape(p)}" for p in self.problems) + "</div>"
            if self.problems else f"<div style='color:#1b7f3b'>{html.escape(t('form.valid', self.lang))}</div>")

    @property
    def options(self) -> Options:
        """The options the widgets show; ConfigError (with every problem) while one is invalid."""
        return self._checked(self._options)


def options_form(options: Options, lang: str | None = None, show_help: bool = True) -> OptionsForm:
    """A step's options as a form (see `OptionsForm`); end a cell with it to show it."""
    return OptionsForm(options, lang=lang, show_help=show_help)
