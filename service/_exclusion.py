"""Dropping attributes that query understanding read, for one request.

The demo page's chips and explicit filters need "search this query, but without the colour it
read" (a removed chip) or "with my brand instead of the one it read" (an explicit filter). The
pipeline parses the query itself, so the app wraps the pipeline's extractor once; a request
names the attributes to drop in a context variable, which reaches the worker thread the search
runs in (anyio copies the context).
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar

from qu.types import ParsedQuery

_dropped: ContextVar[frozenset[str]] = ContextVar("preloved_dropped_attributes", default=frozenset())

# A chip named "price" stands for both bounds.
_ALIASES = {"price": ("price_min", "price_max")}


def expand(attributes: Iterable[str]) -> frozenset[str]:
    out: set[str] = set()
    for a in attributes:
        out.update(_ALIASES.get(a, (a,)))
    return frozenset(out)


@contextmanager
def dropping(attributes: Iterable[str]) -> Iterator[None]:
    token = _dropped.set(expand(attributes))
    try:
        yield
    finally:
        _dropped.reset(token)


def drop_attributes(parsed: ParsedQuery, attributes: frozenset[str]) -> ParsedQuery:
    """A copy of `parsed` without the given attributes, their spans, confidences and sources."""
    present = {a for a in attributes if a in ParsedQuery.model_fields}
    if not present:
        return parsed
    update: dict[str, object] = {a: None for a in present}
    update["spans"] = [s for s in parsed.spans if s.attribute not in present]
    update["confidence"] = {k: v for k, v in parsed.confidence.items() if k not in present}
    update["sources"] = {k: v for k, v in parsed.sources.items() if k not in present}
    return parsed.model_copy(update=update)


class ExcludingExtractor:
    """Wraps an Extractor; drops the attributes the current request asked to drop."""

    def __init__(self, inner) -> None:
        self.inner = inner

    def parse(self, query: str) -> ParsedQuery:
        parsed = self.inner.parse(query)
        dropped = _dropped.get()
        return drop_attributes(parsed, dropped) if dropped else parsed

    def __getattr__(self, name: str):
        return getattr(self.inner, name)
