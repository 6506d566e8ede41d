"""The first lora_nb cell of every notebook: friendly errors (a LoraNbError shows as its message, not
a traceback), Google Drive, the project opened and where things stand."""

from __future__ import annotations

from ..errors import LoraNbError
from ..i18n import t
from .modes import run_mode
from .project import mount_drive, open_project


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
    friendly_errors()
    if use_drive:
        mount_drive()
    proj = open_project(project, **create_kwargs)
    print(proj.status())
    mode = run_mode()
    if mode:
        print(t({"smoke": "env.smoke", "course": "env.course"}[mode]))
    return proj
