"""Types of the reranking stage."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol

from retrieval.types import Hit, Listing


class Reranker(Protocol):
    """Reorders retrieved hits for a query; each returned hit carries `scores["rerank"]`."""

    def rerank(self, query: str, hits: Sequence[Hit], listings: Sequence[Listing]) -> list[Hit]: ...
