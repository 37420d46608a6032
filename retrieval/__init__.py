"""Hybrid retrieval for preloved: BM25 + MiniLM dense search, fused, shaped by attribute filters."""

from retrieval.catalogue import read_catalogue
from retrieval.dense import Embedder
from retrieval.errors import CatalogueError, EmptyQueryError, IndexFormatError, IndexNotFoundError
from retrieval.fusion import FUSION_METHODS
from retrieval.index import STAGES, Index, SearchConfig
from retrieval.types import Hit, Listing, Retrieved, Retriever, Stage

__all__ = [
    "FUSION_METHODS",
    "STAGES",
    "CatalogueError",
    "Embedder",
    "EmptyQueryError",
    "Hit",
    "Index",
    "IndexFormatError",
    "IndexNotFoundError",
    "Listing",
    "Retrieved",
    "Retriever",
    "SearchConfig",
    "Stage",
    "read_catalogue",
]
