"""Labelled image grids drawn with PIL: column headers, row headers, a title and stacked panels.

Shared by every step that shows pictures side by side: the XY plot of step 6 (checkpoints x
strengths), the trainer's sample sheets, before/after crops. Cells are pasted at full size
(or fitted into `cell_size`) and centred in equal slots, so a grid of mixed sizes still lines up;
`Grid.boxes` says where each cell landed, which lets tests and notebooks crop a cell back out.

Latin labels use PIL's default font (Aileron, scalable since Pillow 10.1); labels in another script
(the kit's Chinese labels, a Chinese LoRA name) get the CJK font `lora_nb.fonts` chooses, or pass
`font="path/to/font.ttc"` / set $LORA_NB_FONT. Tiny pictures (64 px toy samples) can be enlarged for
display (`show_at`), and the sheet then says so ("shown ×4, nearest").
"""

from __future__ import annotations

import math
import os
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from functools import lru_cache

from PIL import Image, ImageDraw, ImageFont

from .fonts import face_index, label_font_path
from .i18n import t

Box = tuple[int, int, int, int]  # left, top, right, bottom (PIL convention: right/bottom exclusive)

BACKGROUND = (255, 255, 255)
TEXT = (20, 20, 20)
EMPTY = (225, 225, 225)  # a slot with no image (a cell that failed or was skipped)
NEAREST_MAX = 128  # pictures up to this size are enlarged pixel for pixel (nearest): smoothing would blur them


@lru_cache(maxsize=32)
def get_font(size: int = 14, path: str | None = None) -> ImageFont.ImageFont:
    """A font of `size` pixels: `path` or $LORA_NB_FONT if given, else PIL's built-in default."""
    path = path or os.environ.get("LORA_NB_FONT") or None
    if path:
        return ImageFont.truetype(path, size, index=face_index(str(path)))
    try:
        return ImageFont.load_default(size=size)  # scalable Aileron (needs FreeType)
    except (TypeError, ImportError, OSError):  # Pillow built without FreeType: fixed bitmap font
        return ImageFont.load_default()


def fonts_for(size: int, path: str | None, texts: Iterable[str | None]):
    """(label font, title font) for `texts`: `path` if given, else the font `lora_nb.fonts` chooses for them."""
    path = path or label_font_path([x for x in texts if x])
    return get_font(size, path), get_font(round(size * 1.3), path)


def enlarge(img: Image.Image, factor: int) -> Image.Image:
    """`img` `factor` times larger: nearest for tiny pictures (crisp pixels), Lanczos for the others."""
    if factor <= 1:
        return img
    resample = Image.NEAREST if max(img.size) <= NEAREST_MAX else Image.LANCZOS
    return img.resize((img.width * factor, img.height * factor), resample)


def display_scale(width: int, height: int, show_at: int | None) -> tuple[int, str]:
    """The integer factor that brings the shorter side to at least `show_at` px, and the note saying so
    ("shown ×4, nearest"; empty when the pictures are shown at their own size)."""
    if not show_at or min(width, height) >= show_at:
        return 1, ""
    k = math.ceil(show_at / max(1, min(width, height)))
    return k, scale_note(k, max(width, height))


def scale_note(factor: int, side: int) -> str:
    """"shown ×4, nearest": how pictures of `side` px were enlarged (the method `enlarge` uses for them)."""
    method = t("grid.nearest") if side <= NEAREST_MAX else t("grid.lanczos")
    return t("grid.shown_scaled", factor=factor, method=method)


def auto_font_size(cell_w: int, cell_h: int) -> int:
    """Label size that stays readable next to the cells: ~1/20 of the cell side, 10 to 48 px."""
    return max(10, min(48, round(min(cell_w, cell_h) / 20)))


def text_size(text: str, font) -> tuple[int, int]:
    left, top, right, bottom = font.getbbox(text or " ")
    return right - left, bottom - top


def line_height(font) -> int:
    """Height of one text line including descenders and a little leading."""
    _, top, _, bottom = font.getbbox("Hgjy|")
    return (bottom - top) + max(2, (bottom - top) // 4)


def wrap_text(text: str, font, max_width: int, max_lines: int | None = None) -> list[str]:
    """Greedy word wrap to `max_width` pixels; long words are broken; an ellipsis marks a cut."""
    lines: list[str] = []
    for paragraph in str(text).split("\n"):
        current = ""
        for word in paragraph.split(" "):
            candidate = f"{current} {word}" if current else word
            if text_size(candidate, font)[0] <= max_width:
                current = candidate
                continue
            if current:
                lines.append(current)
            while text_size(word, font)[0] > max_width and len(word) > 1:  # a word wider than the line
                cut = len(word) - 1
                while cut > 1 and text_size(word[:cut], font)[0] > max_width:
                    cut -= 1
                lines.append(word[:cut])
                word = word[cut:]
            current = word
        lines.append(current)
    if max_lines is not None and len(lines) > max_lines:
        lines = lines[:max_lines]
        last = lines[-1]
        while last and text_size(last + "…", font)[0] > max_width:
            last = last[:-1]
        lines[-1] = last + "…"
    return lines


def _draw_block(draw: ImageDraw.ImageDraw, lines: list[str], font, box: Box, fill=TEXT, align: str = "center"):
    """Draw wrapped `lines` vertically centred in `box`, each line centred (or left-aligned)."""
    left, top, right, bottom = box
    lh = line_height(font)
    y = top + max(0, (bottom - top - lh * len(lines)) // 2)
    for line in lines:
        w, _ = text_size(line, font)
        x = left + (right - left - w) // 2 if align == "center" else left
        draw.text((x, y - font.getbbox("H")[1] + 1), line, font=font, fill=fill)
        y += lh


def _fit(img: Image.Image, cell_size: int | tuple[int, int] | None) -> Image.Image:
    """Shrink (never enlarge) so the longer side fits `cell_size`; keeps the aspect ratio."""
    if cell_size is None:
        return img
    tw, th = (cell_size, cell_size) if isinstance(cell_size, int) else cell_size
    scale = min(tw / img.width, th / img.height, 1.0)
    if scale >= 1.0:
        return img
    return img.resize((max(1, round(img.width * scale)), max(1, round(img.height * scale))), Image.LANCZOS)


@dataclass
class Grid:
    """A drawn grid: the picture and where each cell was pasted ([row][col] -> box, None if empty)."""

    image: Image.Image
    boxes: list[list[Box | None]]
    scale_note: str = ""  # how the cells were enlarged ("shown ×4, nearest"), empty at their own size

    def _repr_png_(self) -> bytes:  # shown inline when a notebook cell ends with a Grid
        return _png_bytes(self.image)


def labelled_grid(
    cells: Sequence[Sequence[Image.Image | None]],
    *,
    col_labels: Sequence[str] | None = None,
    row_labels: Sequence[str] | None = None,
    title: str | None = None,
    col_title: str | None = None,
    row_title: str | None = None,
    cell_size: int | tuple[int, int] | None = None,
    font_size: int | None = None,
    font: str | None = None,
    pad: int | None = None,
    max_label_lines: int = 4,
    show_at: int | None = None,
    note_in_title: bool = True,
) -> Grid:
    """Draw `cells` (a list of rows) as one image with labelled rows and columns.

    `col_title`/`row_title` name the axes (e.g. "strength", "checkpoint") in the top-left corner;
    `cell_size` shrinks large cells (1024 px Flux images) so the sheet stays a sensible size;
    `show_at` enlarges small ones until their shorter side is at least that many px (the title says
    by how much, unless `note_in_title` is off: a sheet of several panels says it once, from `Grid.scale_note`).
    The title wraps and is never cut.
    Raises ValueError when the rows are ragged or a label list does not match the cell count.
    """
    rows = [list(r) for r in cells]
    n_rows = len(rows)
    n_cols = len(rows[0]) if rows else 0
    if n_rows == 0 or n_cols == 0:
        raise ValueError("labelled_grid needs at least one row and one column of cells")
    if any(len(r) != n_cols for r in rows):
        raise ValueError(f"every row needs {n_cols} cells; got row lengths {[len(r) for r in rows]}")
    if col_labels is not None and len(col_labels) != n_cols:
        raise ValueError(f"{len(col_labels)} column labels for {n_cols} columns")
    if row_labels is not None and len(row_labels) != n_rows:
        raise ValueError(f"{len(row_labels)} row labels for {n_rows} rows")

    fitted = [[_fit(im.convert("RGB"), cell_size) if im is not None else None for im in r] for r in rows]
    present = [im for r in fitted for im in r if im is not None]
    note = ""
    if present and show_at:
        k, note = display_scale(max(im.width for im in present), max(im.height for im in present), show_at)
        fitted = [[enlarge(im, k) if im is not None else None for im in r] for r in fitted]
        present = [im for r in fitted for im in r if im is not None]
        if note_in_title:
            title = f"{title} ({note})" if title and note else (title or note or None)
    if present:
        cw, ch = max(im.width for im in present), max(im.height for im in present)
    else:
        cw, ch = ((cell_size, cell_size) if isinstance(cell_size, int) else (cell_size or (64, 64)))
    fsize = font_size or auto_font_size(cw, ch)
    fnt, tfnt = fonts_for(fsize, font, [title, col_title, row_title, *(col_labels or []), *(row_labels or [])])
    pad = pad if pad is not None else max(2, fsize // 3)
    lh = line_height(fnt)

    # Row-label column: wide enough for the longest label, but never wider than ~1.5 cells.
    has_rows = bool(row_labels) or bool(row_title) or bool(col_title)
    # Axis names go in the top-left corner; ASCII only (the default font has no arrow glyphs).
    corner = [s for s in (f"x: {col_title}" if col_title else "", f"y: {row_title}" if row_title else "") if s]
    label_w = 0
    if has_rows:
        texts = [t for t in list(row_labels or []) + corner if t]
        widest = max((text_size(t, fnt)[0] for t in texts), default=0)
        label_w = min(max(widest + 2 * pad, cw // 2), max(cw * 2, 10 * fsize))
    # Header row: as tall as the most-wrapped column label.
    col_lines = [wrap_text(t, fnt, cw - 2 * pad, max_label_lines) for t in (col_labels or [])]
    header_h = (max(len(ls) for ls in col_lines) * lh + 2 * pad) if col_lines else 0
    if has_rows and corner:
        header_h = max(header_h, len(corner) * lh + 2 * pad)

    grid_w = label_w + n_cols * cw + (n_cols + 1) * pad
    title_lines = wrap_text(title, tfnt, grid_w - 2 * pad) if title else []  # wrapped, never cut
    title_h = len(title_lines) * line_height(tfnt) + 2 * pad if title_lines else 0
    grid_h = title_h + header_h + n_rows * ch + (n_rows + 1) * pad

    canvas = Image.new("RGB", (grid_w, grid_h), BACKGROUND)
    draw = ImageDraw.Draw(canvas)
    if title_lines:
        _draw_block(draw, title_lines, tfnt, (pad, pad, grid_w - pad, title_h - pad))
    top0 = title_h + header_h + pad
    left0 = label_w + pad
    if has_rows and corner:
        _draw_block(draw, [wrap_text(c, fnt, label_w - pad, 1)[0] for c in corner], fnt,
                    (pad, title_h, label_w, title_h + header_h), align="left")
    for c, lines in enumerate(col_lines):
        x = left0 + c * (cw + pad)
        _draw_block(draw, lines, fnt, (x, title_h, x + cw, title_h + header_h))
    boxes: list[list[Box | None]] = []
    for r, row in enumerate(fitted):
        y = top0 + r * (ch + pad)
        if row_labels:
            lines = wrap_text(row_labels[r], fnt, label_w - pad, max(1, min(max_label_lines * 2, ch // lh)))
            _draw_block(draw, lines, fnt, (pad, y, label_w, y + ch))
        row_boxes: list[Box | None] = []
        for c, im in enumerate(row):
            x = left0 + c * (cw + pad)
            if im is None:
                draw.rectangle((x, y, x + cw - 1, y + ch - 1), fill=EMPTY)
                row_boxes.append(None)
                continue
            ox, oy = x + (cw - im.width) // 2, y + (ch - im.height) // 2
            canvas.paste(im, (ox, oy))
            row_boxes.append((ox, oy, ox + im.width, oy + im.height))
        boxes.append(row_boxes)
    return Grid(canvas, boxes, note)


def stack_panels(panels: Sequence[Image.Image], captions: Sequence[str] | None = None, *, title: str | None = None,
                 font_size: int | None = None, font: str | None = None, gap: int | None = None,
                 columns: int = 1) -> Grid:
    """Lay out images in rows of `columns` (A1111's Z axis: one grid per prompt/seed), each under its caption;
    one column stacks them vertically. A row is as tall as its tallest panel, a column as wide as its widest.

    Returns a Grid whose `boxes[i][0]` is where panel i was pasted."""
    if not panels:
        raise ValueError("stack_panels needs at least one panel")
    if captions is not None and len(captions) != len(panels):
        raise ValueError(f"{len(captions)} captions for {len(panels)} panels")
    if columns < 1:
        raise ValueError(f"columns must be at least 1, got {columns}")
    columns = min(columns, len(panels))
    widths = [max(p.width for p in panels[c::columns]) for c in range(columns)]
    fsize = font_size or max(12, min(40, max(widths) // 50))
    fnt, tfnt = fonts_for(fsize, font, [title, *(captions or [])])
    gap = gap if gap is not None else fsize
    width = sum(widths) + gap * (columns - 1)
    blocks: list[tuple[list[str], object]] = []
    if title:
        blocks.append((wrap_text(title, tfnt, width - 2 * gap), tfnt))  # wrapped, never cut
    heights = [len(ls) * line_height(f) + gap for ls, f in blocks]
    cap_lines = [wrap_text(c, fnt, widths[i % columns] - 2 * gap, 3) if c else []
                 for i, c in enumerate(captions or [""] * len(panels))]
    cap_h = [len(cl) * line_height(fnt) for cl in cap_lines]
    rows = [range(i, min(i + columns, len(panels))) for i in range(0, len(panels), columns)]
    row_cap = [max(cap_h[i] for i in r) for r in rows]
    row_h = [max(panels[i].height for i in r) for r in rows]
    total = sum(heights) + sum(c + h + gap for c, h in zip(row_cap, row_h)) + gap
    canvas = Image.new("RGB", (width, total), BACKGROUND)
    draw = ImageDraw.Draw(canvas)
    y = gap // 2
    for (lines, f), h in zip(blocks, heights):
        _draw_block(draw, lines, f, (gap, y, width - gap, y + h - gap // 2))
        y += h
    boxes: list[list[Box | None]] = [[] for _ in panels]
    for r, c_h, p_h in zip(rows, row_cap, row_h):
        left = 0
        for i in r:
            w = widths[i % columns]
            if cap_lines[i]:
                _draw_block(draw, cap_lines[i], fnt, (left + gap, y, left + w - gap, y + cap_h[i]), align="left")
            p = panels[i]
            x, top = left + (w - p.width) // 2, y + c_h
            canvas.paste(p.convert("RGB"), (x, top))
            boxes[i] = [(x, top, x + p.width, top + p.height)]
            left += w + gap
        y += c_h + p_h + gap
    return Grid(canvas, boxes)


def image_row(images: Sequence[Image.Image], labels: Sequence[str] | None = None, **kwargs) -> Grid:
    """One labelled row, e.g. the sample images of one checkpoint."""
    return labelled_grid([list(images)], col_labels=labels, **kwargs)


def _png_bytes(img: Image.Image) -> bytes:
    import io

    buf = io.BytesIO()
    img.save(buf, format="PNG")
    return buf.getvalue()


# --- thumbnail grids with notes (audit, crop preview, notebooks) -----------------------------------
@dataclass
class Tile:
    """One grid cell: an image and text lines under it (each line may carry its own colour)."""

    image: Image.Image
    lines: list[str] = field(default_factory=list)
    colors: list[tuple[int, int, int]] = field(default_factory=list)


def _one_line(text: str, font, width: int) -> str:
    return wrap_text(text, font, width, max_lines=1)[0] if text else text


def _wrapped(tile: Tile, font, width: int, max_lines: int) -> Tile:
    """`tile` with each text line wrapped to `width` px (at most `max_lines` lines each, same colour)."""
    lines, colors = [], []
    for j, line in enumerate(tile.lines):
        color = tile.colors[j] if j < len(tile.colors) else (0, 0, 0)
        for piece in wrap_text(line, font, width, max_lines):
            lines.append(piece)
            colors.append(color)
    return Tile(tile.image, lines, colors)


def image_grid(tiles: Sequence[Tile], cols: int = 6, tile_size: int = 160, title: str | list[str] = "",
               font_size: int = 11, background=(255, 255, 255), enlarge_small: bool = False,
               wrap_lines: int = 1) -> Image.Image:
    """Thumbnails in rows of `cols`, each with its text lines below; `title` lines on top.

    A text line longer than the tile wraps onto up to `wrap_lines` lines (the last one cut with "…").
    `enlarge_small`: pictures smaller than the tile are enlarged by a whole factor to fill it (nearest
    for tiny ones) and a title line says so; otherwise they are only ever shrunk."""
    heads = [title] if isinstance(title, str) and title else list(title or [])
    k = 1
    if enlarge_small and tiles:
        side = max(max(x.image.size) for x in tiles)
        k = max(1, tile_size // side)  # a whole factor that still fits the tile
        if k > 1:
            heads.append(scale_note(k, side))
    font = get_font(font_size, label_font_path([*heads, *(ln for x in tiles for ln in x.lines)]))
    line_h = font_size + 3
    if wrap_lines > 1:
        tiles = [_wrapped(x, font, tile_size, wrap_lines) for x in tiles]
    n_lines = max((len(x.lines) for x in tiles), default=0)
    cols = max(1, min(cols, len(tiles) or 1))
    rows = (len(tiles) + cols - 1) // cols
    pad = 6
    cell_w, cell_h = tile_size + pad, tile_size + n_lines * line_h + pad
    width = max(cols * cell_w, 200) + pad
    titles = [wrapped for line in heads for wrapped in wrap_text(line, font, width - 2 * pad)]
    head = len(titles) * (line_h + 2) + (pad if titles else 0)
    grid = Image.new("RGB", (width, head + rows * cell_h + pad), background)
    draw = ImageDraw.Draw(grid)
    for i, line in enumerate(titles):
        draw.text((pad, pad + i * (line_h + 2)), line, fill=(0, 0, 0), font=font)
    for i, tile in enumerate(tiles):
        x, y = pad + (i % cols) * cell_w, head + pad + (i // cols) * cell_h
        thumb = enlarge(tile.image, k) if k > 1 else tile.image.copy()
        thumb.thumbnail((tile_size, tile_size))
        if thumb.mode == "RGBA":  # show transparency on a checkerboard
            board = Image.new("RGB", thumb.size, (200, 200, 200))
            d = ImageDraw.Draw(board)
            for yy in range(0, thumb.height, 8):
                for xx in range((yy // 8) % 2 * 8, thumb.width, 16):
                    d.rectangle((xx, yy, xx + 7, yy + 7), fill=(245, 245, 245))
            board.paste(thumb, mask=thumb.getchannel("A"))
            thumb = board
        grid.paste(thumb.convert("RGB"), (x + (tile_size - thumb.width) // 2, y + (tile_size - thumb.height) // 2))
        for j, line in enumerate(tile.lines):
            color = tile.colors[j] if j < len(tile.colors) else (0, 0, 0)
            draw.text((x, y + tile_size + 2 + j * line_h), _one_line(line, font, tile_size), fill=color,
                      font=font)
    return grid
