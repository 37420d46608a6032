"""Product lines shoppers search by name: "adidas gazelle", "vans old skool", "levis 501", "nuptse".

A line's name is neither a brand nor a category, but it implies both. The tagger, trained on
Amazon queries, reads such names as whatever they resemble ("gazelle" and "skool" as categories,
"old" as a condition, "nuptse" and "chuck taylor" as brands), so the extractor drops the fast
layers' spans over a line's name (a known brand among them stays, and so does the garment the name ends
with: "leggings" of "align leggings") and fills an empty brand or category from the line, with no span:
the rest of the name stays in the residual for lexical matching.
The lines live in data/lexicons/product_lines.json.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

from qu._data import LEXICONS

PRODUCT_LINES_PATH = LEXICONS / "product_lines.json"
IMPLIED_CONFIDENCE = 0.85  # a line's brand or category: a filter, relaxed like any other


@dataclass(frozen=True)
class ProductLine:
    text: str
    start: int
    end: int
    brand: str
    category: str | None

    def as_dict(self) -> dict[str, object]:
        return {"text": self.text, "start": self.start, "end": self.end, "brand": self.brand, "category": self.category}


class ProductLines:
    def __init__(self, entries: list[dict]):
        self._entries = []
        for e in entries:
            rx = re.compile(rf"(?<![\w'-])(?:{e['pattern']})(?![\w'-])")
            self._entries.append((rx, e["brand"], e.get("category"), bool(e.get("needs_brand"))))
        # one pass over the query says whether any line is named at all (most queries name none)
        self._any = re.compile(r"\b(?:" + "|".join(e["pattern"] for e in entries) + ")")

    @classmethod
    def load(cls, path: Path = PRODUCT_LINES_PATH) -> ProductLines:
        return cls(json.loads(path.read_text(encoding="utf-8"))["lines"])

    def find(self, text: str, brands: set[str] | Callable[[], set[str]]) -> list[ProductLine]:
        """The lines named in `text` (not overlapping, the earliest and longest first). `brands`:
        the canonical brands the query names (or a function giving them, called only when the
        query may name a line); a `needs_brand` line counts only beside its own."""
        low = text.lower()
        if not self._any.search(low):
            return []
        if callable(brands):
            brands = brands()
        found: list[ProductLine] = []
        for rx, brand, category, needs_brand in self._entries:
            if needs_brand and brand not in brands:
                continue
            for m in rx.finditer(low):
                found.append(ProductLine(text[m.start() : m.end()], m.start(), m.end(), brand, category))
        found.sort(key=lambda p: (p.start, p.start - p.end))
        out: list[ProductLine] = []
        for p in found:
            if not out or p.start >= out[-1].end:
                out.append(p)
        return out


@lru_cache(maxsize=1)
def get_product_lines() -> ProductLines:
    return ProductLines.load()
