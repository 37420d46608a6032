"""Reranking stage: a fine-tuned cross-encoder over the hybrid retriever's top hits."""

from rerank._text import listing_text
from rerank.reranker import CrossEncoderReranker, RerankerNotFoundError, load_reranker
from rerank.types import Reranker

__all__ = ["CrossEncoderReranker", "Reranker", "RerankerNotFoundError", "listing_text", "load_reranker"]
