"""Types of the query-understanding stage: what an extractor returns, and the protocol it follows."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Literal, Protocol, runtime_checkable

from pydantic import BaseModel, ConfigDict, Field

Attribute = Literal[
    "brand", "category", "size", "colour", "style", "gender", "condition", "price_min", "price_max"
]
ATTRIBUTES: tuple[str, ...] = (
    "brand",
    "category",
    "size",
    "colour",
    "style",
    "gender",
    "condition",
    "price_min",
    "price_max",
)
# Which layer produced a value: the merge policy records it per span and per attribute.
Layer = Literal["rules", "tagger", "llm", "user"]

Value = str | list[str] | None


class Span(BaseModel):
    """One piece of the query read as an attribute. `text == query[start:end]` always holds."""

    model_config = ConfigDict(frozen=True)

    attribute: Attribute
    text: str
    start: int
    end: int
    value: str | None = None  # the canonical value this span normalises to, when it has one
    source: Layer = "rules"
    confidence: float = 1.0


class ParsedQuery(BaseModel):
    """Normalised attributes of one query; the `qu` CLI prints `contract()` of this."""

    model_config = ConfigDict(frozen=True)

    query: str
    brand: Value = None
    category: Value = None
    size: Value = None
    colour: Value = None
    style: Value = None
    gender: Value = None
    condition: Value = None
    price_min: float | None = None
    price_max: float | None = None
    spans: list[Span] = Field(default_factory=list)
    residual: str = ""  # the text no attribute explained, for lexical matching
    confidence: dict[str, float] = Field(default_factory=dict)  # per attribute, 0..1
    sources: dict[str, Layer] = Field(default_factory=dict)  # per attribute, the layer that set it
    extra: dict[str, object] = Field(default_factory=dict)  # e.g. category path, size system

    def contract(self) -> dict:
        """The public JSON shape: the attribute keys, `query` and `spans`, plus the rest."""
        return self.model_dump(mode="json")

    def without(self, attributes: Iterable[str]) -> ParsedQuery:
        """A copy without the given attributes, their spans, confidences, sources and negated values.

        "price" stands for both bounds (a removed price chip on the demo page)."""
        drop = {b for a in attributes for b in (("price_min", "price_max") if a == "price" else (a,))}
        drop &= set(ATTRIBUTES)
        if not drop:
            return self
        update: dict[str, object] = {a: None for a in drop}
        update["spans"] = [s for s in self.spans if s.attribute not in drop]
        update["confidence"] = {k: v for k, v in self.confidence.items() if k not in drop}
        update["sources"] = {k: v for k, v in self.sources.items() if k not in drop}
        negated = self.extra.get("negated")
        if isinstance(negated, dict) and drop & set(negated):  # "not black" goes with the colour
            kept = {k: v for k, v in negated.items() if k not in drop}
            extra = {k: v for k, v in self.extra.items() if k != "negated"}
            update["extra"] = {**extra, "negated": kept} if kept else extra
        return self.model_copy(update=update)

    def values(self, attribute: str) -> list[str]:
        """The attribute's values as a list (empty when unset)."""
        v = getattr(self, attribute)
        if v is None:
            return []
        return [v] if isinstance(v, str) else list(v)


@runtime_checkable
class Extractor(Protocol):
    """Turns free text into a ParsedQuery."""

    def parse(self, query: str) -> ParsedQuery: ...
