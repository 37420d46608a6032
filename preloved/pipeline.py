"""The whole search flow: qu -> retrieval -> rerank, timed per stage."""

from __future__ import annotations

import time
from collections.abc import Collection, Mapping
from concurrent.futures import Future
from dataclasses import dataclass, field, replace
from typing import Literal

from qu.extractor import without_negations
from qu.lexicon import is_written, written_words
from qu.types import Extractor, ParsedQuery
from rerank.types import Reranker
from retrieval.types import Hit

Stages = Literal["bm25", "dense", "hybrid", "rerank"]
STAGES: tuple[str, ...] = ("bm25", "dense", "hybrid", "rerank")


def models_read(query: str, parsed: ParsedQuery) -> str:
    """The text the query encoder and the reranker read: the query as qu and the catalogue's spelling read it
    (`extra["read_as"]`: slips written right, words run together spaced, "jewerly" as "jewelry"), without what
    it does not want ("black" in "dress not black" would read as wanted)."""
    return without_negations(parsed.extra.get("read_as") or query, parsed.extra.get("negated"))


class BadQueryError(ValueError):
    """The request cannot be answered as asked (empty query, k out of range, unknown stage...)."""


@dataclass(frozen=True)
class SearchResult:
    query: str
    parsed: ParsedQuery
    hits: list[Hit]
    listings: list[dict]  # listing fields for each hit, same order
    timings_ms: dict[str, float]
    applied_filters: Mapping[str, object] = field(default_factory=dict)
    relaxed_filters: tuple[str, ...] = ()
    rerank_depth: int | None = None  # the hits the reranker was given at most; None when it did not run

    def results(self, debug: bool = False) -> list[dict]:
        """One dict per hit: listing fields, `id`, `score`; per-stage scores and matches when debug."""
        out = []
        for hit, listing in zip(self.hits, self.listings, strict=True):
            row = {k: v for k, v in listing.items() if v is not None and k != "metadata"}
            row.update(listing.get("metadata") or {})
            row["id"], row["score"] = hit.id, round(float(hit.score), 6)
            if debug:
                row["scores"] = {k: round(float(v), 6) for k, v in hit.scores.items()}
                row["matched"] = list(hit.matched)
            out.append(row)
        return out


class SearchPipeline:
    """Holds the loaded components; `search` runs the stages asked for and times each."""

    def __init__(self, extractor: Extractor, index, reranker: Reranker | None, *, max_k: int = 100,
                 max_query_chars: int = 512, rerank_depth: int = 50):
        self.extractor = extractor
        self.index = index
        self.reranker = reranker
        self.max_k = max_k
        self.max_query_chars = max_query_chars
        self.rerank_depth = rerank_depth

    def warm_up(self, query: str = "black nike trainers") -> float:
        """Run one search through every loaded stage, so the first shopper does not pay for paging in the
        index and the models' first calls (seconds on a cold start). Returns the milliseconds it took."""
        t = time.perf_counter()
        self.search(query, k=10, stages="rerank" if self.reranker is not None else "hybrid")
        return (time.perf_counter() - t) * 1000

    def start_embedding(self, query: str, stages: str = "rerank", use_cache: bool = True) -> Future | None:
        """The query's embedding on its way, for `search(query_vector=...)`, or None where the stages
        need none (or the query is not one `search` would take). The server asks for it as a request
        arrives; it is encoded when `search` starts, together with the queries of the requests that
        wait for a worker then (`retrieval.dense.QueryBatcher`)."""
        try:
            self.check_query(query)
        except BadQueryError:
            return None
        if stages not in ("dense", "hybrid", "rerank"):
            return None
        return self.index.embed_query_async(query, use_cache, now=False)

    def check_query(self, query: str) -> str:
        if not isinstance(query, str) or not query.strip():
            raise BadQueryError("query is empty: send some text to search for")
        if len(query) > self.max_query_chars:
            raise BadQueryError(f"query has {len(query)} characters; at most {self.max_query_chars} are allowed")
        return query

    def _respelt(self, query: str, parsed: ParsedQuery) -> ParsedQuery:
        """`parsed` with `extra["read_as"]` holding the query as read with the catalogue's spelling
        (`Index.spell`) where a word of it (or of qu's reading) is in no listing and is not one people write
        (`qu.lexicon.is_written`: a dictionary's, or a name qu reads, such as a brand the catalogue lacks)."""
        spelt = self.index.spell(parsed.extra.get("read_as") or query, is_written)
        return parsed if spelt is None else parsed.model_copy(update={"extra": {**parsed.extra, "read_as": spelt}})

    def search(self, query: str, k: int = 10, stages: str = "rerank", rerank_depth: int | None = None,
               filters: Mapping[str, object] | None = None, use_parsed: bool = True,
               exclude: Collection[str] = (), use_cache: bool = True,
               query_vector: Future | None = None) -> SearchResult:
        """Run qu, then retrieval (`stages` bm25, dense or hybrid), then the reranker when `stages` is
        "rerank". `filters` are the caller's own; `exclude` names attributes qu read that should not
        be used (a removed chip); `use_parsed=False` ignores everything qu read; `use_cache=False`
        computes the query vector and the reranker's scores afresh (HTTP `Cache-Control: no-cache`);
        `query_vector` is the query's embedding already on its way (`start_embedding`)."""
        self.check_query(query)
        if not 1 <= k <= self.max_k:
            raise BadQueryError(f"k={k} is out of range: choose 1..{self.max_k}")
        if stages not in STAGES:
            raise BadQueryError(f"unknown stages {stages!r}: choose from {', '.join(STAGES)}")
        depth = self.rerank_depth if rerank_depth is None else rerank_depth
        if stages == "rerank" and not 1 <= depth <= 1000:
            raise BadQueryError(f"rerank_depth={depth} is out of range: choose 1..1000")
        if stages == "rerank" and self.reranker is None:
            raise BadQueryError("no reranker is loaded: choose stages bm25, dense or hybrid")

        timings: dict[str, float] = {}
        stage = "hybrid" if stages == "rerank" else stages
        # the query's embedding does not depend on what qu reads: compute it while qu parses
        qvec = query_vector if query_vector is not None else self.start_embedding(query, stages, use_cache)
        if qvec is not None:
            self.index.need_query_vector(qvec)
        t = time.perf_counter()
        parsed = self.extractor.parse(query)
        if exclude:
            parsed = parsed.without(exclude)
        if use_parsed:
            parsed = self._respelt(query, parsed)
        timings["qu"] = (time.perf_counter() - t) * 1000
        # the models read the query as read (BM25 matches those words too); rare: the vector started above
        # is then not used
        wanted = models_read(query, parsed) if use_parsed else query
        if wanted != query and qvec is not None:
            qvec = self.index.embed_query_async(wanted, use_cache)

        t = time.perf_counter()
        n = max(k, depth) if stages == "rerank" else k
        try:
            retrieved = self.index.search(query, k=n, stage=stage, parsed=parsed if use_parsed else None,
                                          filters=filters, use_cache=use_cache,
                                          query_vector=None if qvec is None else qvec.result())
        except ValueError as e:  # nothing to search for, or a filter that cannot apply: the caller's to fix
            raise BadQueryError(str(e)) from e
        hits = list(retrieved.hits)
        timings["retrieval"] = (time.perf_counter() - t) * 1000

        # a listing deleted while this search ran has no record any more: drop its hit
        found = [(h, listing) for h in hits if (listing := self.index.get(h.id)) is not None]
        if stages == "rerank" and found:
            t = time.perf_counter()
            head, tail = found[:depth], found[depth:]
            reranked = self.reranker.rerank(wanted, [h for h, _ in head], [x for _, x in head], use_cache=use_cache)
            by_id = {h.id: x for h, x in head}
            found = [(h, by_id[h.id]) for h in reranked] + tail
            timings["rerank"] = (time.perf_counter() - t) * 1000
        found = found[:k]
        hits = [h for h, _ in found]
        listings = [x.model_dump() for _, x in found]
        timings["total"] = sum(timings.values())
        return SearchResult(query=query, parsed=parsed, hits=hits, listings=listings,
                            timings_ms={k_: round(v, 3) for k_, v in timings.items()},
                            applied_filters=dict(retrieved.applied_filters),
                            relaxed_filters=tuple(retrieved.relaxed_filters),
                            rerank_depth=depth if stages == "rerank" else None)


def index_options(settings) -> dict:
    """The settings that shape an index when it is built or rewritten (compaction)."""
    return {"ann_threshold": settings.ann_threshold, "hnsw_m": settings.hnsw_m,
            "ef_construction": settings.hnsw_ef_construction, "auto_compact_at": settings.auto_compact_at}


def load_pipeline(settings=None, index_dir=None, with_reranker: bool = True) -> SearchPipeline:
    """Load qu, the index at `index_dir` (default: settings.index_dir) and the reranker, once."""
    from preloved.settings import get_settings
    from qu import load_extractor
    from retrieval import Index, SearchConfig

    settings = settings or get_settings()
    config = SearchConfig(fusion=settings.fusion, dense_weight=settings.fusion_dense_weight,
                          min_results=settings.retrieval_min_results, filter_confidence=settings.filter_confidence,
                          filter_attributes=tuple(settings.qu_filter_attributes), ef_search=settings.hnsw_ef_search)
    index = Index.load(index_dir or settings.index_dir, config=config, **index_options(settings))
    own = index.manifest.get("filter_attributes")  # the catalogue's choice, set by `preloved index`
    if own is not None and "qu_filter_attributes" not in settings.model_fields_set:
        index.config = replace(config, filter_attributes=tuple(own))
    reranker = None
    if with_reranker:
        from rerank import load_reranker

        reranker = load_reranker(settings)
    written_words()  # read now (60 ms), not by the first query with a word no listing has (`_respelt`)
    return SearchPipeline(load_extractor(settings), index, reranker, max_k=settings.max_k,
                          max_query_chars=settings.max_query_chars, rerank_depth=settings.rerank_depth)
