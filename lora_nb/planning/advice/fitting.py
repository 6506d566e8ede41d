"""Over- and under-fitting: how each shows in the XY grid, its causes and remedies (text in `lora_nb.i18n.plan`)."""

from __future__ import annotations

from ...i18n import t

FITTING_STATES = ("over", "under", "rank", "background")


def fitting_guide(lang: str | None = "en") -> list[dict]:
    """The guide in `lang` (None: the current language): state, xy_grid, causes, remedies, source."""
    return [dict(state=t(f"fit.{s}.state", lang), xy_grid=t(f"fit.{s}.grid", lang), causes=t(f"fit.{s}.causes", lang),
                 remedies=t(f"fit.{s}.remedies", lang).split("|"), source=t(f"fit.{s}.source", lang))
            for s in FITTING_STATES]


FITTING_GUIDE = fitting_guide("en")  # in the plan's data (JSON): English, like every key
