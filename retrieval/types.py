"""Types of the retrieval stage: listings, hits and the retriever protocol."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Literal, Protocol

from pydantic import BaseModel, ConfigDict, Field

if TYPE_CHECKING:
    from qu.types import ParsedQuery

Stage = Literal["bm25", "dense", "hybrid"]
LISTING_FIELDS = ("brand", "category", "colour", "size", "gender", "condition")


class Listing(BaseModel):
    """One catalogue entry. Unknown keys of the input line are kept in `metadata`."""

    model_config = ConfigDict(frozen=True)

    id: str
    title: str
    brand: str | None = None
    category: str | None = None
    colour: str | None = None
    size: str | None = None
    gender: str | None = None
    condition: str | None = None
    price: float | None = None
    description: str | None = None
    metadata: dict[str, object] = Field(default_factory=dict)


@dataclass(frozen=True)
class Hit:
    """A retrieved listing id with its score, per-stage scores and the attributes it matched."""

    id: str
    score: float
    scores: Mapping[str, float] = field(default_factory=dict)  # e.g. {"bm25": .., "dense": .., "rerank": ..}
    matched: tuple[str, ...] = ()  # e.g. ("brand=nike (filter)", "colour=black (boost)")


@dataclass(frozen=True)
class Retrieved:
    """What a retriever returns: the hits, and which attribute filters it applied or had to relax."""

    hits: list[Hit]
    applied_filters: Mapping[str, object] = field(default_factory=dict)
    relaxed_filters: tuple[str, ...] = ()  # attributes dropped, in the order they were relaxed


class Retriever(Protocol):
    """Turns a query (and what qu read from it) into ranked hits."""

    def search(
        self,
        query: str,
        k: int = 100,
        stage: Stage = "hybrid",
        parsed: ParsedQuery | None = None,
        filters: Mapping[str, object] | None = None,
    ) -> Retrieved: ...
