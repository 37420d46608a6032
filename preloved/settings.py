"""One settings object for the whole stack, read from PRELOVED_* environment variables."""

from __future__ import annotations

import logging
import os
import sys
from functools import lru_cache
from pathlib import Path
from typing import Literal

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict

ROOT = Path(__file__).resolve().parents[1]


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="PRELOVED_", env_file=None)

    # data and artefacts
    data_dir: Path = ROOT / "data"
    index_dir: Path = ROOT / "data" / "index" / "demo"  # the demo catalogue's index, built on first serve
    catalogue_path: Path = ROOT / "data" / "catalogue" / "catalogue.jsonl"
    reranker_path: Path = ROOT / "models" / "reranker"  # the shipped fine-tuned cross-encoder
    cache_dir: Path = ROOT / ".cache"

    # pipeline defaults
    max_k: int = 100
    max_query_chars: int = 512
    rerank_depth: int = 50
    # under load, rerank fewer hits: while `rerank_busy_at` reranked searches or more run at once, a search
    # that names no depth reranks the top `rerank_depth_busy` (None: always `rerank_depth`). On ESCI dev the
    # top 20 score as the top 50 (0.8010 against 0.8003; test 0.7892 against 0.7928) at about half the
    # CPU, and on 2 cores 4 clients get p95 136 instead of 293 ms (bench/rerank_depth.py, docs/service.md)
    rerank_depth_busy: int | None = Field(20, ge=1, le=1000)
    rerank_busy_at: int = Field(2, ge=1)
    # tokens per (query, listing) pair; None: the model folder's (32). 24 brings a top-50 rerank under
    # 100 ms p95 on 2 cores for 0.8 dev NDCG@10 points (docs/rerank.md).
    rerank_max_length: int | None = Field(None, ge=8, le=512)
    # let the reranker's idle ONNX threads spin between operators: about 20 ms faster a rerank when one
    # search runs at a time, but under concurrent searches the spinning takes the cores the others
    # need (bench/load_test.py, every cache off, 4 clients: 145 against 162 ms of CPU per reranked
    # search, 13.3 against 12.2 searches a second; docs/service.md)
    rerank_spin_threads: bool = False
    warm_up: bool = True  # `serve` runs one search through every stage before it reports ready
    # The stages a search runs when the caller names none: rerank, because the shipped reranker beats
    # hybrid on ESCI test (+1.99 NDCG@10 points, p=0.0025) and dev (+2.2, p=0.031) (docs/rerank.md).
    default_stages: Literal["bm25", "dense", "hybrid", "rerank"] = "rerank"

    # retrieval (defaults chosen on ESCI dev: docs/retrieval.md)
    fusion: Literal["rrf", "minmax", "zscore"] = "rrf"
    fusion_dense_weight: float = 0.55  # bm25 gets 1 - this
    retrieval_min_results: int = 10  # relax qu's filters while fewer listings than this pass them
    filter_confidence: float = 0.8  # qu attributes at least this confident filter; less confident ones boost
    qu_filter_attributes: tuple[str, ...] = ("category", "size", "gender", "condition", "price")
    ann_threshold: int = 250_000  # listings from which an index gets an HNSW graph (below: exact search)
    # HNSW links per node and build-time candidate list, set when an index is built, and the per-query
    # candidate list, set at load: at 1M real title vectors, M=32/200 with efSearch 768 gives recall@100
    # 0.975 at p95 4.6 ms on one thread (M=16/128 at efSearch 1024: 0.953 at 5.8 ms; docs/retrieval.md)
    hnsw_m: int = 32
    hnsw_ef_construction: int = 200
    hnsw_ef_search: int = 768
    auto_compact_at: int = 20_000  # pending upserts and deletes that start a background compaction

    # query understanding: LLM layer is off unless a backend is named
    llm_backend: str | None = None  # e.g. "openai" or "gguf"
    llm_url: str | None = None
    llm_model: str | None = None
    llm_timeout_s: float = 2.0
    qu_tagger: str = "auto"  # spacy | minilm | ensemble | auto (minilm when the MiniLM export exists, else spacy)
    qu_tagger_path: Path = ROOT / "models" / "qu" / "tagger"  # the trained spaCy NER (`qu train-tagger`)
    qu_minilm_path: Path = ROOT / "models" / "qu" / "minilm"  # the int8 ONNX MiniLM tagger (`qu export-tagger`)
    qu_llm_policy: str = "residual"  # when qu asks the LLM: never | always | residual (query under-explained)
    qu_llm_min_residual_words: int = 2  # "residual": unexplained words that trigger a call
    qu_llm_prompt: str = "extract_attributes.v1"  # prompts/<id>.txt

    # service
    host: str = "127.0.0.1"
    port: int = 8000
    # the key write endpoints (PUT /listings, DELETE /listings/{id}) require; with none set, writes are
    # refused (401) unless allow_open_writes, which opens them to anyone (local experiments only)
    api_key: str | None = None
    allow_open_writes: bool = False
    max_body_bytes: int = 10_000_000
    request_timeout_s: float = 10.0
    max_concurrent_searches: int | None = None  # searches run at once in worker threads; None = cores
    search_cache_size: int = 2048  # cached search results, emptied by every write; 0 = off

    # compute
    threads: int | None = None  # model threads (torch, the reranker's ONNX session); None = library default
    # numpy/BLAS/OpenMP (faiss, torch) threads inside one search when serving; searches already run side
    # by side, and idle OpenMP/BLAS pools spin on the cores other requests need. None = library default
    library_threads: int | None = 1  # 0 or None: leave the libraries' defaults


_THREAD_VARS = ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS")


def limit_library_threads(n: int | None) -> None:
    """Cap numpy's BLAS and OpenMP (faiss, torch) at `n` threads for this process, unless the
    environment already says otherwise. Only the environment reaches threads started later (each
    server worker thread), and only before those libraries load: call it first thing. Once they are
    loaded it also caps what threadpoolctl can reach, and warns. A second call (`preloved serve`
    calls it before building the demo index, then `serve` again) finds the environment set and
    does nothing: the libraries read it when they loaded."""
    if not n:
        return
    fresh = "OMP_NUM_THREADS" not in os.environ
    for var in _THREAD_VARS:
        os.environ.setdefault(var, str(n))
    loaded = [m for m in ("numpy", "torch", "faiss") if m in sys.modules]
    if fresh and loaded:
        from threadpoolctl import threadpool_limits

        threadpool_limits(limits=n)
        logging.getLogger(__name__).warning(
            "library threads limited after %s loaded: server worker threads may keep the default", ", ".join(loaded)
        )


@lru_cache
def get_settings() -> Settings:
    return Settings()
