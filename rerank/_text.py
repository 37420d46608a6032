"""The one function that turns a listing into the text the cross-encoder reads (training and serving)."""

from __future__ import annotations

import re
from typing import Literal

from retrieval.types import Listing

TextFormat = Literal["title", "title_brand_colour", "title_brand_colour_bullets"]
TEXT_FORMATS: tuple[str, ...] = ("title", "title_brand_colour", "title_brand_colour_bullets")
_WS = re.compile(r"\s+")


def _fold(text: str) -> str:
    return _WS.sub(" ", text.lower()).strip()


def listing_text(listing: Listing, fmt: TextFormat = "title_brand_colour") -> str:
    """Title, then brand and colour when the title does not already say them, then (optionally) bullets.

    The tokenizer truncates to the model's max length, so long descriptions cost nothing extra.
    """
    if fmt not in TEXT_FORMATS:
        raise ValueError(f"unknown text format {fmt!r}: choose from {', '.join(TEXT_FORMATS)}")
    title = _WS.sub(" ", listing.title or "").strip()
    parts = [title]
    if fmt != "title":
        low = _fold(title)
        for extra in (listing.brand, listing.colour):
            if extra and str(extra).strip() and _fold(str(extra)) not in low:
                parts.append(_WS.sub(" ", str(extra)).strip())
    text = " | ".join(parts)
    if fmt == "title_brand_colour_bullets" and listing.description:
        text += " | " + _WS.sub(" ", listing.description).strip()[:400]
    return text
