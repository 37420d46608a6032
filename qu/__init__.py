"""Query understanding: turn a shopper's query into normalised brand, category, size, colour, style,
gender, condition and price attributes, with the spans that carry them.

    from qu import load_extractor
    extractor = load_extractor()          # lexicons (n-gram gazetteer, regex size/price grammar) and the
                                          # trained tagger, loaded once
    parsed = extractor.parse("vintage levis 501 w32 l30 light wash")
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from qu.types import ATTRIBUTES, Extractor, ParsedQuery, Span

if TYPE_CHECKING:
    from preloved.settings import Settings

__all__ = ["ATTRIBUTES", "Extractor", "ParsedQuery", "Span", "load_extractor"]


def load_extractor(settings: Settings | None = None) -> Extractor:
    """The full query-understanding extractor (rules + tagger, + LLM when settings name a backend)."""
    from qu.extractor import build_extractor

    return build_extractor(settings)
