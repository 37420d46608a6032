"""`/search`, `/parse`, `/rerank`: the read side of the API."""

from __future__ import annotations

import math
import time
from collections import Counter
from concurrent.futures import Future
from typing import Annotated

from fastapi import APIRouter, HTTPException, Query, Request
from fastapi.exceptions import RequestValidationError
from pydantic import ValidationError

from preloved.pipeline import SearchPipeline, SearchResult
from retrieval.types import Hit, Listing
from service._errors import request_id
from service._state import ServiceState
from service._worker import run_limited
from service.deps import PipelineDep, StateDep
from service.routers.listings import to_listing
from service.schemas import (
    MAX_K,
    ErrorResponse,
    ParseRequest,
    RerankedItem,
    RerankListingIn,
    RerankRequest,
    RerankResponse,
    SearchRequest,
    SearchResponse,
    Stages,
)

router = APIRouter(tags=["search"], responses={422: {"model": ErrorResponse}, 504: {"model": ErrorResponse}})

FACET_FIELDS = ("brand", "category", "colour", "size", "gender", "condition")


def _finite(value):
    """JSON has no NaN or infinity: a non-finite score or price goes out as null, not as a 500."""
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, dict):
        return {k: _finite(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_finite(v) for v in value]
    return value


def _facets(results: list[dict]) -> dict[str, dict[str, int]]:
    out: dict[str, dict[str, int]] = {}
    for name in FACET_FIELDS:
        counts = Counter(str(r[name]) for r in results if r.get(name) not in (None, ""))
        if counts:
            out[name] = dict(counts.most_common())
    return out


def _run_search(state: ServiceState, pipeline: SearchPipeline, req: SearchRequest, stages: str,
                queued_at: float, use_cache: bool = True, shallow: int | None = None,
                query_vector: Future | None = None) -> tuple[SearchResult, float, int]:
    waited = (time.perf_counter() - queued_at) * 1000
    drop = set(req.exclude) | set(req.filters)
    with state.lock.read():
        generation = state.cache.generation  # read under the lock: no delete can land mid-search
        result = pipeline.search(req.query, k=req.offset + req.k, stages=stages,
                                 rerank_depth=shallow or req.rerank_depth, filters=dict(req.filters) or None,
                                 use_parsed=req.use_parsed, exclude=drop, use_cache=use_cache,
                                 query_vector=query_vector)
    return result, waited, generation


def _cache_key(req: SearchRequest, stages: str, generation: int) -> tuple:
    filters = tuple(sorted((k, tuple(v) if isinstance(v, list) else v) for k, v in req.filters.items()))
    # the results up to the page's end: the pages of one search share it
    return (generation, req.query, req.offset + req.k, stages, req.rerank_depth, req.use_parsed, filters,
            tuple(sorted(set(req.exclude))))


async def _search(request: Request, state: ServiceState, pipeline: SearchPipeline,
                  req: SearchRequest) -> SearchResponse:
    start = time.perf_counter()
    stages = req.stages or state.settings.default_stages
    if stages == "rerank" and pipeline.reranker is None:
        stages = "hybrid"
    use_cache = "no-cache" not in request.headers.get("cache-control", "").lower()
    cached = state.cache.get(_cache_key(req, stages, state.cache.generation)) if use_cache else None
    if cached is not None:
        state.metrics.cache.labels(result="hit").inc()
        result = cached
        lookup = round((time.perf_counter() - start) * 1000, 3)
        timings = {"cache": lookup, "total": lookup}
    else:
        # Under load the reranker reads fewer hits: while `rerank_busy_at` reranked searches or more wait
        # or run (this one included), one that names no depth reranks the top `rerank_depth_busy`. The
        # reranker's cost is linear in the depth, so searches stop queueing behind it.
        settings, shallow = state.settings, None
        if stages == "rerank":
            state.reranking += 1
            busy_depth = settings.rerank_depth_busy
            if (state.reranking >= settings.rerank_busy_at and busy_depth is not None
                    and req.rerank_depth is None and busy_depth < pipeline.rerank_depth):
                shallow = busy_depth
                state.metrics.shallow.inc()
        # the query's embedding starts now, not when a worker is free: those waiting are encoded together
        qvec = pipeline.start_embedding(req.query, stages, use_cache)
        try:
            result, waited, generation = await run_limited(
                state, "/search", lambda: _run_search(state, pipeline, req, stages, start, use_cache, shallow, qvec))
        finally:
            if stages == "rerank":
                state.reranking -= 1
        if use_cache:
            state.metrics.cache.labels(result="miss").inc()
            if shallow is None:  # a shallow answer is not kept: the next caller may get the whole one
                state.cache.put(_cache_key(req, stages, generation), result)
        state.metrics.observe_stages(result.timings_ms)
        timings = {**result.timings_ms, "wait": round(waited, 3)}
    results = [_finite(row) for row in result.results(debug=req.debug)[req.offset:]]
    timings["server"] = round((time.perf_counter() - start) * 1000, 3)
    return SearchResponse(
        query=result.query, parsed=result.parsed.contract(), results=results, timings_ms=timings,
        filters=dict(req.filters), excluded=list(req.exclude),
        applied_filters={k: v for k, v in result.applied_filters.items()},
        relaxed_filters=list(result.relaxed_filters), facets=_facets(results), stages=stages, k=req.k,
        offset=req.offset,
        rerank_depth=result.rerank_depth,
        cached=cached is not None, request_id=request_id(request))


def _query_error(msg: str) -> RequestValidationError:
    return RequestValidationError([{"loc": ("query", "filter"), "type": "value_error", "msg": msg}])


def _filters_from_query(items: list[str]) -> dict[str, object]:
    filters: dict[str, object] = {}
    for item in items:
        name, sep, value = item.partition(":")
        if not sep or not name or not value:
            raise _query_error(f"filter {item!r} should look like name:value, e.g. brand:nike")
        name = name.strip()
        if name in ("price_min", "price_max"):
            try:
                filters[name] = float(value)
            except ValueError:
                raise _query_error(f"filter {name} takes a number, got {value!r}") from None
        elif name in filters:
            prev = filters[name]
            filters[name] = [*prev, value] if isinstance(prev, list) else [prev, value]
        else:
            filters[name] = value
    return filters


@router.get("/search", response_model=SearchResponse, summary="Search (query string)")
async def search_get(
    request: Request,
    state: StateDep,
    pipeline: PipelineDep,
    q: Annotated[str, Query(min_length=1, max_length=10_000, description="What to search for")],
    k: Annotated[int, Query(ge=1, le=MAX_K)] = 10,
    offset: Annotated[int, Query(ge=0, le=MAX_K - 1, description="results to skip first: the next page")] = 0,
    filter: Annotated[list[str] | None, Query(max_length=20, description="name:value, repeatable")] = None,
    exclude: Annotated[list[str] | None, Query(max_length=20, description="attributes to ignore")] = None,
    stages: Stages | None = None,
    rerank_depth: Annotated[int | None, Query(ge=1, le=1000)] = None,
    debug: bool = False,
) -> SearchResponse:
    try:
        req = SearchRequest(query=q, k=k, offset=offset, filters=_filters_from_query(filter or []),
                            exclude=exclude or [], stages=stages, rerank_depth=rerank_depth, debug=debug)
    except ValidationError as e:
        raise RequestValidationError([{**err, "loc": ("query", *err["loc"])} for err in e.errors()]) from None
    return await _search(request, state, pipeline, req)


@router.post("/search", response_model=SearchResponse, summary="Search (JSON body)")
async def search_post(request: Request, state: StateDep, pipeline: PipelineDep,
                      body: SearchRequest) -> SearchResponse:
    return await _search(request, state, pipeline, body)


@router.post("/parse", summary="Query understanding only: the attributes read from a query")
async def parse(state: StateDep, pipeline: PipelineDep, body: ParseRequest) -> dict:
    pipeline.check_query(body.query)
    parsed = await run_limited(state, "/parse", lambda: pipeline.extractor.parse(body.query))
    return parsed.contract()


@router.post("/rerank", response_model=RerankResponse, summary="Score given candidates for a query")
async def rerank(state: StateDep, pipeline: PipelineDep, body: RerankRequest) -> RerankResponse:
    pipeline.check_query(body.query)
    if (body.ids is None) == (body.listings is None):
        raise HTTPException(422, "send exactly one of `ids` (indexed listings) or `listings` (given in full)")
    if pipeline.reranker is None:
        raise HTTPException(422, "no reranker is loaded in this server")

    def work() -> tuple[list[Hit], float, dict[str, str]]:
        if body.ids is not None:
            with state.lock.read():
                listings = []
                for id_ in dict.fromkeys(body.ids):
                    found = _get_listing(pipeline, id_)
                    if found is None:
                        raise HTTPException(404, f"no listing with id {id_!r} in the index")
                    listings.append(found)
        else:
            first: dict[str, RerankListingIn] = {}
            for x in body.listings:
                first.setdefault(x.id, x)  # a repeated id keeps its first
            try:
                listings = [to_listing(x) for x in first.values()]
            except ValueError as e:
                raise HTTPException(422, str(e)) from None
        hits = [Hit(id=x.id, score=0.0) for x in listings]
        t = time.perf_counter()
        out = pipeline.reranker.rerank(body.query, hits, listings)
        return out, (time.perf_counter() - t) * 1000, {x.id: x.title for x in listings}

    hits, ms, titles = await run_limited(state, "/rerank", work)
    state.metrics.observe_stages({"rerank": ms})
    return RerankResponse(query=body.query, timings_ms={"rerank": round(ms, 3)},
                          results=[RerankedItem(id=h.id, score=_finite(round(float(h.score), 6)),
                                                title=titles.get(h.id)) for h in hits])


def _get_listing(pipeline: SearchPipeline, id_: str) -> Listing | None:
    try:
        return pipeline.index.get(id_)
    except (KeyError, LookupError):
        return None
