"""Out-of-order cells: a NameError in a course notebook names the cell to run first.

A notebook run from the middle (a fresh kernel, or a cell skipped) used to stop with a raw
`NameError: name 'form' is not defined`. Kernels cannot tell which notebook they run (Colab has no
notebook path), so `CELLS` lists, per notebook, each name its cells define and the cell that defines
it (its section and a piece of its code); `tests/test_cellhints.py` re-derives the list from the
notebooks and fails when it is out of date. The notebook is the one whose names the kernel already
holds the most of (its parameters cell, at least). Kept light (no torch, no widgets): it is
installed when `lora_nb` is imported in a kernel.
"""

from __future__ import annotations

import re

from ..errors import LoraNbError
from ..i18n import t

# notebook -> name -> where it is defined: "section · a piece of the defining cell's code"
CELLS: dict[str, dict[str, str]] = {
    '00_setup': {
        'PROJECT': '0. Install and parameters · `PROJECT = "my_lora"`',
        'USE_DRIVE': '0. Install and parameters · `USE_DRIVE = True`',
        'FAMILY': '0. Install and parameters · `FAMILY = "sd15"`',
        'LANGUAGE': '0. Install and parameters · `LANGUAGE = ""`',
        'BASE_MODEL': '0. Install and parameters · `BASE_MODEL = ""`',
        'RUN_SELFTEST': '0. Install and parameters · `RUN_SELFTEST = True`',
        'selftest': '1. Where are we running? · `from lora_nb import selftest, ui`',
        'ui': '1. Where are we running? · `from lora_nb import selftest, ui`',
        'report': '2. Self-test · `report = selftest.run_selftest() if RUN_SELF…`',
        'mode_overrides': '3. Your project · `from lora_nb import mode_overrides, ui`',
        'project': '3. Your project · `project = ui.notebook_start(PROJECT, use_dri…`',
        'config': 'Summary · `config = project.config()`',
    },
    '01_collect': {
        'PROJECT': '0. Install and parameters · `PROJECT = "my_lora"`',
        'USE_DRIVE': '0. Install and parameters · `USE_DRIVE = True`',
        'SOURCES': '0. Install and parameters · `SOURCES = []`',
        'CONCEPT': '0. Install and parameters · `CONCEPT = ""`',
        'REPEATS': '0. Install and parameters · `REPEATS = None`',
        'MIN_SIDE': '0. Install and parameters · `MIN_SIDE = 256`',
        'DEDUPE': '0. Install and parameters · `DEDUPE = "report"`',
        'KIND': '0. Install and parameters · `KIND = "object"`',
        'ui': '0. Install and parameters · `from lora_nb import ui`',
        'project': '0. Install and parameters · `project = ui.notebook_start(PROJECT, use_dri…`',
        'mode_sources': '1. Import · `from lora_nb import mode_sources`',
        'CollectOptions': '1. Import · `from lora_nb import CollectOptions`',
        'form': '1. Import · `form = ui.options_form(CollectOptions(concep…`',
        'collect': '1. Import · `from lora_nb import collect`',
        'report': '1. Import · `report = collect(SOURCES, project.default_ou…`',
        'audit': '2. Audit · `from lora_nb import audit, plot_balance, ren…`',
        'plot_balance': '2. Audit · `from lora_nb import audit, plot_balance, ren…`',
        'render_audit': '2. Audit · `from lora_nb import audit, plot_balance, ren…`',
        'sample_audit_note': '2. Audit · `from lora_nb import audit, plot_balance, ren…`',
        'a': '2. Audit · `a = audit(project.require("collect"), kind=K…`',
    },
    '02_crop': {
        'PROJECT': '0. Install and parameters · `PROJECT = "my_lora"`',
        'USE_DRIVE': '0. Install and parameters · `USE_DRIVE = True`',
        'MODE': '0. Install and parameters · `MODE = "focus"`',
        'RESOLUTION': '0. Install and parameters · `RESOLUTION = 0`',
        'UPSCALE': '0. Install and parameters · `UPSCALE = False`',
        'FOCUS': '0. Install and parameters · `FOCUS = "auto"`',
        'REMOVE_BACKGROUND': '0. Install and parameters · `REMOVE_BACKGROUND = False`',
        'BACKGROUND': '0. Install and parameters · `BACKGROUND = "white"`',
        'CropOptions': '0. Install and parameters · `from lora_nb import CropOptions, ui`',
        'ui': '0. Install and parameters · `from lora_nb import CropOptions, ui`',
        'project': '0. Install and parameters · `project = ui.notebook_start(PROJECT, use_dri…`',
        'sample': '1. Crop · `sample = bool(project.step_info("collect").g…`',
        'form': '1. Crop · `form = ui.options_form(CropOptions(mode=MODE…`',
        'crop_folder': '1. Crop · `from lora_nb import crop_folder, render_crop…`',
        'render_crop_preview': '1. Crop · `from lora_nb import crop_folder, render_crop…`',
        'report': '1. Crop · `report = crop_folder(project.require("collec…`',
    },
    '03_caption': {
        'PROJECT': '0. Install and parameters · `PROJECT = "my_lora"`',
        'USE_DRIVE': '0. Install and parameters · `USE_DRIVE = True`',
        'CAPTIONER': '0. Install and parameters · `CAPTIONER = "florence2"`',
        'MODEL': '0. Install and parameters · `MODEL = ""`',
        'THRESHOLD': '0. Install and parameters · `THRESHOLD = 0.6`',
        'OVERWRITE': '0. Install and parameters · `OVERWRITE = False`',
        'PREFIX': '0. Install and parameters · `PREFIX = ""`',
        'BATCH_SIZE': '0. Install and parameters · `BATCH_SIZE = 8`',
        'ui': '0. Install and parameters · `from lora_nb import ui`',
        'project': '0. Install and parameters · `project = ui.notebook_start(PROJECT, use_dri…`',
        'CaptionOptions': '1. Settings · `from lora_nb import CaptionOptions`',
        'form': '1. Settings · `form = ui.options_form(CaptionOptions(backen…`',
        'caption_folder': '2. Caption · `from lora_nb import caption_folder, mode_cap…`',
        'mode_captioner': '2. Caption · `from lora_nb import caption_folder, mode_cap…`',
        'folder': '2. Caption · `folder = project.require("crop")`',
        'report': '2. Caption · `report = caption_folder(folder, form.options…`',
        'caption_editor': '3. Review by hand · `from lora_nb import caption_editor`',
    },
    '04_clean_tags': {
        'PROJECT': '0. Install and parameters · `PROJECT = "my_lora"`',
        'USE_DRIVE': '0. Install and parameters · `USE_DRIVE = True`',
        'TRIGGER': '0. Install and parameters · `TRIGGER = "auto"`',
        'TEMPLATE': '0. Install and parameters · `TEMPLATE = ""`',
        'REMOVE': '0. Install and parameters · `REMOVE = []`',
        'BLACKLIST': '0. Install and parameters · `BLACKLIST = ["watermark", "signature", "text…`',
        'REPLACE': '0. Install and parameters · `REPLACE = ""`',
        'DEDUPE': '0. Install and parameters · `DEDUPE = True`',
        'SORT': '0. Install and parameters · `SORT = ""`',
        'KEEP_TOKENS': '0. Install and parameters · `KEEP_TOKENS = 1`',
        'UNDERSCORES': '0. Install and parameters · `UNDERSCORES = True`',
        'COUNT_TOKENS': '0. Install and parameters · `COUNT_TOKENS = True`',
        'ui': '0. Install and parameters · `from lora_nb import ui`',
        'project': '0. Install and parameters · `project = ui.notebook_start(PROJECT, use_dri…`',
        'CleanOptions': '0. Install and parameters · `from lora_nb import CleanOptions, caption_st…`',
        'caption_stats': '0. Install and parameters · `from lora_nb import CleanOptions, caption_st…`',
        'clean_folder': '0. Install and parameters · `from lora_nb import CleanOptions, caption_st…`',
        'plot_tag_frequency': '0. Install and parameters · `from lora_nb import CleanOptions, caption_st…`',
        'sample_clean_settings': '0. Install and parameters · `from lora_nb import CleanOptions, caption_st…`',
        'src': '0. Install and parameters · `src = project.output("caption") or project.r…`',
        'sample': '0. Install and parameters · `sample = TRIGGER == "auto" and project.step_…`',
        'given': '0. Install and parameters · `given = sample_clean_settings(src) if sample…`',
        'form': '1. Settings · `form = ui.options_form(CleanOptions(**given,…`',
        'report': '3. Clean · `report = clean_folder(src, form.options, out…`',
        'tokenizer': '4. Statistics · `tokenizer = project.config().pretrained_mode…`',
        'stats': '4. Statistics · `stats = caption_stats(project.require("clean…`',
    },
    '05_train': {
        'PROJECT': '0. Install and parameters · `PROJECT = "my_lora"`',
        'USE_DRIVE': '0. Install and parameters · `USE_DRIVE = True`',
        'RANK': '0. Install and parameters · `RANK = None`',
        'ALPHA': '0. Install and parameters · `ALPHA = None`',
        'LEARNING_RATE': '0. Install and parameters · `LEARNING_RATE = None`',
        'MAX_TRAIN_STEPS': '0. Install and parameters · `MAX_TRAIN_STEPS = None`',
        'SAVE_EVERY_N_STEPS': '0. Install and parameters · `SAVE_EVERY_N_STEPS = None`',
        'SAMPLE_PROMPTS': '0. Install and parameters · `SAMPLE_PROMPTS = None`',
        'CONFIG_OVERRIDES': '0. Install and parameters · `CONFIG_OVERRIDES = {}`',
        'GPU': '0. Install and parameters · `GPU = "detect"`',
        'PURPOSE': '0. Install and parameters · `PURPOSE = "object"`',
        'BACKGROUND': '0. Install and parameters · `BACKGROUND = True`',
        'LIVE_EVERY': '0. Install and parameters · `LIVE_EVERY = 10`',
        'ui': '0. Install and parameters · `from lora_nb import ui`',
        'project': '0. Install and parameters · `project = ui.notebook_start(PROJECT, use_dri…`',
        'train_settings': '0. Install and parameters · `from lora_nb import train_settings`',
        'mode': '0. Install and parameters · `mode = train_settings()`',
        'params': '1. Settings · `params = dict(rank=RANK, alpha=ALPHA, learni…`',
        'config': '1. Settings · `config = ui.start_config(project, params, CO…`',
        'form': '1. Settings · `form = ui.config_form(config)`',
        'plan': '2. Plan · `from lora_nb import plan, render_figures, re…`',
        'render_figures': '2. Plan · `from lora_nb import plan, render_figures, re…`',
        'render_markdown': '2. Plan · `from lora_nb import plan, render_figures, re…`',
        'the_plan': '2. Plan · `the_plan = plan(config, purpose=PURPOSE, gpu…`',
        'figs': '2. Plan · `figs = render_figures(the_plan)`',
        'live': '3. Train · `live = ui.LiveTrainDisplay(every=LIVE_EVERY)`',
        'job': '3. Train · `job = ui.start_training(config, live, backgr…`',
        'result': '4. Result · `result = job.wait()`',
        'loss_figure': 'Summary · `from lora_nb import loss_figure, samples_grid`',
        'samples_grid': 'Summary · `from lora_nb import loss_figure, samples_grid`',
    },
    '06_evaluate': {
        'PROJECT': '0. Install and parameters · `PROJECT = "my_lora"`',
        'USE_DRIVE': '0. Install and parameters · `USE_DRIVE = True`',
        'PROMPTS': '0. Install and parameters · `PROMPTS = []`',
        'STRENGTHS': '0. Install and parameters · `STRENGTHS = None`',
        'SEEDS': '0. Install and parameters · `SEEDS = [42]`',
        'STEPS': '0. Install and parameters · `STEPS = None`',
        'CFG': '0. Install and parameters · `CFG = None`',
        'CELL_SIZE': '0. Install and parameters · `CELL_SIZE = 256`',
        'PANEL_COLUMNS': '0. Install and parameters · `PANEL_COLUMNS = 2`',
        'EVAL_SEEDS': '0. Install and parameters · `EVAL_SEEDS = [0, 1, 2, 3]`',
        'CLIP_MODEL': '0. Install and parameters · `CLIP_MODEL = "openai/clip-vit-base-patch32"`',
        'DINO_MODEL': '0. Install and parameters · `DINO_MODEL = "facebook/dinov2-small"`',
        'ui': '0. Install and parameters · `from lora_nb import ui`',
        'project': '0. Install and parameters · `project = ui.notebook_start(PROJECT, use_dri…`',
        'evaluate_settings': '0. Install and parameters · `from lora_nb import evaluate_settings`',
        'mode': '0. Install and parameters · `mode = evaluate_settings(project.config())`',
        'SCORERS': '0. Install and parameters · `EVAL_SEEDS, CLIP_MODEL, DINO_MODEL, SCORERS …`',
        'SampleSettings': '1. Which checkpoint, which strength? Then the XY grid · `from lora_nb import SampleSettings, forgetti…`',
        'forgetting_check': '1. Which checkpoint, which strength? Then the XY grid · `from lora_nb import SampleSettings, forgetti…`',
        'xy_grid': '1. Which checkpoint, which strength? Then the XY grid · `from lora_nb import SampleSettings, forgetti…`',
        'run': '1. Which checkpoint, which strength? Then the XY grid · `run, config = project.require("train"), proj…`',
        'config': '1. Which checkpoint, which strength? Then the XY grid · `run, config = project.require("train"), proj…`',
        'prompts': '1. Which checkpoint, which strength? Then the XY grid · `prompts = PROMPTS or config.sample_prompts[:…`',
        'form': '1. Which checkpoint, which strength? Then the XY grid · `form = ui.options_form(SampleSettings(seeds=…`',
        'evaluate_run': '1. Which checkpoint, which strength? Then the XY grid · `from lora_nb import evaluate_run`',
        'report': '1. Which checkpoint, which strength? Then the XY grid · `report = evaluate_run(run, base=config.pretr…`',
        'grid': '1. Which checkpoint, which strength? Then the XY grid · `grid = report.frame(xy_grid(config.pretraine…`',
        'path': '1. Which checkpoint, which strength? Then the XY grid · `path = grid.save(project.default_output("eva…`',
        'final': '2. Forgetting check · `final = project.step_info("train")["files"][…`',
        'check': '2. Forgetting check · `check = forgetting_check(config.pretrained_m…`',
    },
}

_NAME = re.compile(r"name '([^']+)' is not defined")


def _guess_notebook(user_ns: dict) -> str | None:
    """The notebook whose defined names the kernel holds the most of (None: nothing to go by, or a tie)."""
    scores = {nb: sum(1 for k in names if k in user_ns) for nb, names in CELLS.items()}
    top = max(scores.values())
    best = [nb for nb, n in scores.items() if n == top]
    return best[0] if top and len(best) == 1 else None


def where_defined(name: str, user_ns: dict | None = None) -> str | None:
    """The cell that defines `name` in the running notebook, or None when no course cell does."""
    nb = _guess_notebook(user_ns or {})
    if nb is not None and name in CELLS[nb]:
        return CELLS[nb][name]
    places = {cells[name] for cells in CELLS.values() if name in cells}
    if len(places) == 1:
        return places.pop()
    if places:  # several notebooks define it differently and none is recognisably running
        return " / ".join(f"{nb}: {cells[name]}" for nb, cells in CELLS.items() if name in cells)
    return None


def hint(error: NameError, user_ns: dict | None = None, lang: str | None = None) -> str | None:
    """One line for a NameError of a course notebook, or None when the name is not the course's."""
    m = _NAME.search(str(error))
    name = getattr(error, "name", None) or (m.group(1) if m else None)
    cell = where_defined(name, user_ns) if name else None
    return t("nb.run_first", lang, name=name, cell=cell) if cell else None


def handler(shell, etype, value, tb, tb_offset=None):
    """IPython custom exception handler: a LoraNbError as its one-line message; a NameError of a course
    name as the cell to run first; anything else as IPython shows it. The cell still fails (headless
    runs stop there)."""
    if issubclass(etype, LoraNbError):
        line = f"\x1b[1;31m{etype.__name__}\x1b[0m: {value}"
    elif issubclass(etype, NameError) and (text := hint(value, getattr(shell, "user_ns", None))):
        line = f"\x1b[1;31m{etype.__name__}\x1b[0m: {text}"
    else:
        stb = shell.InteractiveTB.structured_traceback(etype, value, tb, tb_offset=tb_offset)
        shell._showtraceback(etype, value, stb)
        return stb
    shell._showtraceback(etype, value, [line])
    return [line]


def install(enable: bool = True) -> bool:
    """Register `handler` in the running IPython kernel. Returns whether there was one."""
    try:
        from IPython import get_ipython
    except ImportError:
        return False
    ip = get_ipython()
    if ip is None:
        return False
    if enable:
        ip.set_custom_exc((LoraNbError, NameError), handler)
    else:
        ip.set_custom_exc((), None)
    return True
