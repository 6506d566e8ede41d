"""The first lora_nb cell of every notebook: friendly errors (a LoraNbError shows as its message, not
a traceback; a NameError names the cell to run first), Google Drive, the project opened and where things stand."""

from __future__ import annotations

from ..i18n import t
from . import cellhints
from .modes import run_mode
from .project import mount_drive, open_project


def friendly_errors(enable: bool = True) -> bool:
    """In IPython, print `LoraNbError`s as one clear message instead of a traceback, and a NameError
    of a course name as the cell to run first (cellhints.py). Returns whether a kernel was there."""
    return cellhints.install(enable)


def notebook_start(project: str = "", use_drive: bool = True, **create_kwargs):
    """The first lora_nb cell of each notebook: friendly errors on, Google Drive mounted (Colab,
    `use_drive`), the project opened (00_setup passes `create=True` and the family/language) and
    where things stand printed. Returns the Project."""
    friendly_errors()
    if use_drive:
        mount_drive()
    proj = open_project(project, **create_kwargs)
    print(proj.status())
    mode = run_mode()
    if mode:
        print(t({"smoke": "env.smoke", "course": "env.course"}[mode]))
    return proj
