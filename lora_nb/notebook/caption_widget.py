"""A caption editor for notebooks: the image beside its editable caption, page by page.

Automatic captions need a human pass (FluxTrainer walkthrough §5: auto-captioning "needs manual review: delete
what is wrong or unwanted"). Core ipywidgets only (Image, Textarea, Button, Label, HBox/VBox),
so it renders in Colab without extra setup. Edits are kept while paging; Save writes the shown
caption atomically as UTF-8 (kohya reads captions as UTF-8).
"""

from __future__ import annotations

import io
import os
from pathlib import Path

import ipywidgets as widgets

from ..dataset.caption import load_image
from ..dataset.concepts import scan_concepts
from ..errors import DatasetError
from ..i18n import t
from ..textio import CAPTION_EXT, read_caption, write_caption


def _thumbnail_png(path: Path, size: int) -> bytes:
    try:
        im = load_image(path)
    except (OSError, ValueError):
        from PIL import Image, ImageDraw

        im = Image.new("RGB", (size, size), (200, 200, 200))
        ImageDraw.Draw(im).text((8, size // 2), "cannot read image", fill=(120, 0, 0))
    im.thumbnail((size, size))
    buf = io.BytesIO()
    im.save(buf, format="PNG")
    return buf.getvalue()


class CaptionEditor(widgets.VBox):
    """The editor widget; `caption_editor(folder)` builds one. Attributes are the parts
    (image, text, label, prev_button, next_button, save_button) for scripting and tests."""

    def __init__(self, folder: str | os.PathLike, ext: str = CAPTION_EXT, thumb_size: int = 384):
        self.folder = Path(folder)
        try:
            concepts = scan_concepts(self.folder)
        except (FileNotFoundError, NotADirectoryError):
            raise DatasetError(f"{self.folder}: not a folder -> pass the dataset folder") from None
        self.images = [img for c in concepts for img in c.images]
        if not self.images:
            raise DatasetError(f"{self.folder}: no images to caption -> check the folder")
        self.ext, self.thumb_size = ext, thumb_size
        self._read = read_caption
        self.index = 0
        self.pending: dict[Path, str] = {}  # edited but not saved, so paging never loses work

        self.image = widgets.Image(format="png", layout=widgets.Layout(width=f"{thumb_size}px"))
        self.text = widgets.Textarea(layout=widgets.Layout(width="100%", height=f"{thumb_size // 2}px"),
                                     placeholder=t("caption.placeholder"))
        self.label = widgets.Label()
        self.status = widgets.Label()
        self.prev_button = widgets.Button(description=t("caption.prev"), tooltip=t("caption.prev_tip"))
        self.next_button = widgets.Button(description=t("caption.next"), tooltip=t("caption.next_tip"))
        self.save_button = widgets.Button(description=t("caption.save"), button_style="success",
                                          tooltip=t("caption.save_tip"))
        self.prev_button.on_click(lambda _: self.show(self.index - 1))
        self.next_button.on_click(lambda _: self.show(self.index + 1))
        self.save_button.on_click(lambda _: self.save())
        self.text.observe(self._edited, names="value")
        self._loading = False
        right = widgets.VBox([self.label, self.text, widgets.HBox([self.prev_button, self.next_button,
                                                                   self.save_button]), self.status],
                             layout=widgets.Layout(width="100%"))
        super().__init__([widgets.HBox([self.image, right])])
        self.show(0)

    @property
    def current(self) -> Path:
        return self.images[self.index]

    def caption_file(self, image: Path | None = None) -> Path:
        return (image or self.current).with_suffix(self.ext)

    def saved_text(self, image: Path | None = None) -> str:
        cap = self.caption_file(image)
        return self._read(cap) if cap.is_file() else ""

    def show(self, index: int) -> None:
        """Show image `index` (clamped to the folder), with its pending edit or its saved caption."""
        self.index = max(0, min(index, len(self.images) - 1))
        img = self.current
        self._loading = True
        try:
            self.image.value = _thumbnail_png(img, self.thumb_size)
            try:
                text = self.pending.get(img, self.saved_text(img))
                problem = ""
            except DatasetError as e:
                text, problem = "", str(e)
            self.text.value = text
        finally:
            self._loading = False
        rel = img.relative_to(self.folder).as_posix()
        self.label.value = f"{self.index + 1}/{len(self.images)}  {rel}"
        self.prev_button.disabled = self.index == 0
        self.next_button.disabled = self.index == len(self.images) - 1
        self._status(problem)

    def _edited(self, change) -> None:
        if self._loading:
            return
        self.pending[self.current] = change["new"]
        self._status()

    def _status(self, problem: str = "") -> None:
        parts = [problem] if problem else []
        if self.current in self.pending:
            parts.append(t("caption.unsaved"))
        elif not self.caption_file().is_file():
            parts.append(t("caption.no_file"))
        others = len([p for p in self.pending if p != self.current])
        if others:
            parts.append(t("caption.others", n=others))
        self.status.value = " · ".join(parts)

    def save(self) -> Path:
        """Write the shown caption (as edited) to its sidecar file, atomically, as UTF-8."""
        path = write_caption(self.caption_file(), self.text.value)
        self.pending.pop(self.current, None)
        self._status()
        done = t("caption.saved", name=path.name)
        self.status.value = f"{self.status.value} · {done}" if self.status.value else done
        return path


def caption_editor(folder: str | os.PathLike, ext: str = CAPTION_EXT, thumb_size: int = 384) -> CaptionEditor:
    """An ipywidgets editor over every image of `folder` (top level and concept folders): the
    image, its caption in a text box, Prev/Next paging and Save. Display it in a notebook cell."""
    return CaptionEditor(folder, ext=ext, thumb_size=thumb_size)
