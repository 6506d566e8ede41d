"""The rendered grid: the labelled sheet, every cell at full size, each cell's settings; save and show."""

from __future__ import annotations

import json
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ..fileio import atomic_path
from ..grids import _png_bytes
from .axes import Axis


@dataclass
class XYResult:
    """A rendered grid: the labelled sheet, every cell at full size and how each cell was made."""

    image: Any  # PIL.Image.Image, the whole labelled sheet (all panels)
    cells: list[list[list[Any]]]  # [panel][row][col] -> PIL image at generation size
    x: Axis
    y: Axis
    panels: list[dict[str, str]]  # per panel: axis title -> value label ([{}] when there is one panel)
    params: list[list[list[dict]]]  # [panel][row][col] -> prompt, seed, steps, cfg, sampler, size, loras
    title: str = ""
    boxes: list[list[list[tuple[int, int, int, int]]]] = field(default_factory=list)  # where each cell sits on `image`

    def cell(self, row: int, col: int, panel: int = 0):
        return self.cells[panel][row][col]

    @property
    def shape(self) -> tuple[int, int, int]:
        """(panels, rows, cols)."""
        return len(self.cells), len(self.y), len(self.x)

    def info(self) -> dict:
        """JSON-friendly description: axes, panels, and every cell's settings."""
        return {"title": self.title,
                "x": {"axis": self.x.title, "labels": self.x.labels},
                "y": {"axis": self.y.title, "labels": self.y.labels},
                "panels": self.panels, "cells": self.params}

    def save(self, path: str | os.PathLike) -> Path:
        """Write the sheet as PNG (atomically), with `info()` stored in a `lora-nb` text chunk."""
        from PIL.PngImagePlugin import PngInfo

        path = Path(path)
        if path.suffix.lower() != ".png":
            path = path.with_suffix(".png")
        meta = PngInfo()
        meta.add_text("lora-nb", json.dumps(self.info(), ensure_ascii=False))
        with atomic_path(path) as tmp:
            self.image.save(tmp, format="PNG", pnginfo=meta)
        return path

    def save_cells(self, folder: str | os.PathLike) -> list[Path]:
        """Each cell as its own full-size PNG: p<panel>_r<row>_c<col>.png."""
        out = []
        for p, panel in enumerate(self.cells):
            for r, row in enumerate(panel):
                for c, im in enumerate(row):
                    path = Path(folder) / f"p{p}_r{r}_c{c}.png"
                    with atomic_path(path) as tmp:
                        im.save(tmp, format="PNG")
                    out.append(path)
        return out

    def show(self):
        """Display inline in Jupyter/Colab; outside a notebook, open the system image viewer."""
        try:
            from IPython import get_ipython
            from IPython.display import display

            if get_ipython() is not None:
                display(self.image)
                return
        except ImportError:
            pass
        self.image.show()

    def _repr_png_(self) -> bytes:
        return _png_bytes(self.image)
