"""Images and figures for notebook cells: matplotlib Figures as PNG, Markdown, a Config table, image
grids and dataset contact sheets. Each returns something a cell shows by ending with it."""

from __future__ import annotations

import html
import io
from collections.abc import Sequence
from pathlib import Path

from ..config import Config
from ..dataset.caption import load_image
from ..dataset.concepts import caption_path, scan_concepts
from ..grids import Tile
from ..grids import image_grid as tile_grid
from ..i18n import field_help, field_label, t
from ..textio import read_caption


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
               title: str | None = None, enlarge_small: bool = False, wrap_lines: int = 1):
    """Images (paths or PIL images) in rows of `cols`, each with its label below; a PIL image.
    `enlarge_small`: pictures smaller than `cell_size` are shown enlarged (the title says by how much)."""
    from PIL import Image

    tiles = []
    for i, im in enumerate(images):
        if isinstance(im, (str, Path)):
            with Image.open(im) as f:
                im = f.convert("RGB")
        tiles.append(Tile(im, [labels[i]] if labels is not None and i < len(labels) else []))
    if not tiles:
        tiles = [Tile(Image.new("RGB", (cell_size, cell_size), (235, 235, 235)), [t("grid.empty")])]
    return tile_grid(tiles, cols=cols, tile_size=cell_size, title=title or "", enlarge_small=enlarge_small,
                     wrap_lines=wrap_lines)


def dataset_grid(folder: str | Path, max_images: int = 24, cols: int = 6, cell_size: int = 128,
                 captions: bool = True, title: str | None = None):
    """Thumbnails of a dataset folder (concept folders included), each with its file name and the
    start of its caption; returns a PIL image. Pictures smaller than `cell_size` (the CPU course's 64 px
    crops) are enlarged pixel for pixel, and the title says by how much."""
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
    return tile_grid(tiles, cols=cols, tile_size=cell_size, title=head, enlarge_small=True)
