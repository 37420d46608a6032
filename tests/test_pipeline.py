"""The whole flow over the 20-listing corpus with the real models: qu -> retrieval -> rerank."""

from __future__ import annotations

import pytest

from preloved.pipeline import BadQueryError, SearchPipeline, load_pipeline
from preloved.settings import Settings


@pytest.fixture(scope="module")
def pipeline(tmp_path_factory, tiny_catalogue_path) -> SearchPipeline:
    from retrieval import Index, read_catalogue

    out = tmp_path_factory.mktemp("pipe") / "idx"
    Index.build(read_catalogue(tiny_catalogue_path), out, show_progress=False)
    return load_pipeline(Settings(), index_dir=out)


def test_every_stage_runs_and_is_timed(pipeline):
    res = pipeline.search("black nike trainers", k=5, stages="rerank")
    assert set(res.timings_ms) == {"qu", "retrieval", "rerank", "total"}
    assert res.parsed.values("brand") == ["nike"]
    assert "black" in res.parsed.values("colour")
    top = res.results(debug=True)
    assert top[0]["id"] in {"1", "2"} and top[0]["brand"] == "nike"
    assert "rerank" in top[0]["scores"]  # the cross-encoder really scored it
    assert [r["score"] for r in top] == sorted((r["score"] for r in top), reverse=True)


def test_stages_differ(pipeline):
    q = "warm puffer for winter"
    ids = {s: [h.id for h in pipeline.search(q, k=5, stages=s).hits] for s in ("bm25", "dense", "rerank")}
    assert ids["dense"][0] == "10"  # The North Face Nuptse puffer: found by meaning and by word
    assert len({tuple(v) for v in ids.values()}) > 1  # the stages are not pass-throughs of each other


def test_an_embedding_started_ahead_gives_the_same_search(pipeline):
    """The server starts a query's embedding as the request arrives and hands it to `search`."""
    q = "white converse high tops size 6"
    for stages in ("dense", "hybrid", "rerank"):
        ahead = pipeline.search(q, k=5, stages=stages, use_cache=False,
                                query_vector=pipeline.start_embedding(q, stages, use_cache=False))
        plain = pipeline.search(q, k=5, stages=stages, use_cache=False)
        assert [h.id for h in ahead.hits] == [h.id for h in plain.hits]
        assert [h.score for h in ahead.hits] == pytest.approx([h.score for h in plain.hits], abs=1e-5)
    # nothing to embed for BM25, or for a query search would refuse
    assert pipeline.start_embedding(q, "bm25") is None
    assert pipeline.start_embedding("  ", "hybrid") is None
    assert pipeline.start_embedding("x" * 5000, "hybrid") is None


@pytest.mark.parametrize(("query", "k", "stages", "message"), [
    ("", 10, "hybrid", "empty"),
    ("   \t", 10, "hybrid", "empty"),
    ("x" * 513, 10, "hybrid", "512"),
    ("jeans", 0, "hybrid", "out of range"),
    ("jeans", 101, "hybrid", "out of range"),
    ("jeans", 10, "bm42", "unknown stages"),
])
def test_bad_requests_raise_clear_errors(pipeline, query, k, stages, message):
    with pytest.raises(BadQueryError, match=message):
        pipeline.search(query, k=k, stages=stages)


def test_warm_up_runs_every_loaded_stage(pipeline):
    assert pipeline.warm_up() > 0


def test_an_index_can_choose_its_own_filter_attributes(tmp_path, tiny_catalogue_path):
    """`preloved index --filter-attributes` stores the catalogue's choice; the pipeline applies it
    unless the settings name their own."""
    from retrieval import Index, read_catalogue

    listings = read_catalogue(tiny_catalogue_path)
    with pytest.raises(ValueError, match="unknown filter attribute.*vibe"):
        Index.build(listings, tmp_path / "bad", show_progress=False, filter_attributes=["brand", "vibe"])
    assert not (tmp_path / "bad").exists()
    out = tmp_path / "idx"
    Index.build(listings, out, show_progress=False, filter_attributes=["brand", "category"])
    own = load_pipeline(Settings(retrieval_min_results=1), index_dir=out, with_reranker=False)
    assert own.index.config.filter_attributes == ("brand", "category")
    res = own.search("nike trainers", k=10, stages="hybrid")
    assert res.applied_filters.get("brand") and {x["brand"] for x in res.listings} == {"nike"}
    explicit = load_pipeline(Settings(qu_filter_attributes=("size",)), index_dir=out, with_reranker=False)
    assert explicit.index.config.filter_attributes == ("size",)
    Index.build(listings, out, show_progress=False)  # a rebuild without the flag keeps the choice
    assert Index.load(out).manifest["filter_attributes"] == ["brand", "category"]


def test_no_cache_runs_every_stage_afresh(pipeline):
    """use_cache=False (HTTP Cache-Control: no-cache) neither reads nor fills the query-vector and
    reranker score caches, and answers exactly what a cached search answers."""
    q = "red wool scarf for winter"
    fresh = pipeline.search(q, k=5, stages="rerank", use_cache=False)
    assert q.lower() not in pipeline.index._qcache
    assert not any(key[1] == q for key in pipeline.reranker._cache)
    cached = pipeline.search(q, k=5, stages="rerank")
    assert q.lower() in pipeline.index._qcache
    assert any(key[1] == q for key in pipeline.reranker._cache)
    again = pipeline.search(q, k=5, stages="rerank", use_cache=False)
    assert [(h.id, h.score) for h in fresh.hits] == [(h.id, h.score) for h in cached.hits]
    assert [(h.id, h.score) for h in again.hits] == [(h.id, h.score) for h in cached.hits]


def test_index_shape_settings_reach_the_index(tmp_path, tiny_catalogue_path):
    """ann_threshold and hnsw_m (PRELOVED_* in the environment) shape what `preloved index` builds;
    hnsw_ef_search and auto_compact_at what the pipeline loads."""
    import os
    import subprocess
    import sys
    from pathlib import Path

    from retrieval import Index

    out = tmp_path / "idx"
    env = {**os.environ, "PRELOVED_ANN_THRESHOLD": "10", "PRELOVED_HNSW_M": "8"}
    r = subprocess.run([str(Path(sys.executable).parent / "preloved"), "index", "--catalog", str(tiny_catalogue_path),
                        "--out", str(out), "--quiet"], env=env, capture_output=True, text=True, timeout=300)
    assert r.returncode == 0, r.stderr
    p = load_pipeline(Settings(hnsw_ef_search=40, auto_compact_at=7), index_dir=out, with_reranker=False)
    hnsw = p.index._state.main.vectors.hnsw
    assert hnsw is not None and hnsw.hnsw.nb_neighbors(1) == 8  # the graph was built, with M=8
    assert p.index._state.main.vectors.ef_search == 40 and p.index.auto_compact_at == 7
    assert Index.load(out)._state.main.vectors.hnsw is not None


def test_a_colour_the_query_does_not_want_is_excluded_and_unread_by_the_models(pipeline, monkeypatch):
    """"jeans not black": no black jeans in any stage, and the query encoder and the reranker read
    "jeans" (they would read "black" as wanted)."""
    seen: list[str] = []
    encode, rerank = pipeline.index.embed_query_async, pipeline.reranker.rerank
    monkeypatch.setattr(pipeline.index, "embed_query_async",
                        lambda q, *a, **kw: (seen.append(q), encode(q, *a, **kw))[1])
    monkeypatch.setattr(pipeline.reranker, "rerank", lambda q, *a, **kw: (seen.append(q), rerank(q, *a, **kw))[1])
    for stages in ("bm25", "hybrid", "rerank"):
        res = pipeline.search("jeans not black", k=5, stages=stages, use_cache=False)
        assert res.parsed.extra["negated"] == {"colour": ["black"]}
        assert "5" not in [h.id for h in res.hits] and res.hits[0].id == "4"  # the blue 501s, not the black skinnies
        assert res.applied_filters["not_colour"] == "black"
    assert seen[-1] == "jeans" and "jeans" in seen[:-1]  # the reranker, then the encoder (after the early one)


def test_the_models_read_the_query_as_qu_read_it(pipeline, monkeypatch):
    """A slip written right ("jeans not balck" -> "jeans not black") reaches the query encoder and the
    reranker as read, and without the phrase the query does not want; a query read as typed reaches them
    as typed."""
    seen: list[str] = []
    encode, rerank = pipeline.index.embed_query_async, pipeline.reranker.rerank
    monkeypatch.setattr(pipeline.index, "embed_query_async",
                        lambda q, *a, **kw: (seen.append(q), encode(q, *a, **kw))[1])
    monkeypatch.setattr(pipeline.reranker, "rerank", lambda q, *a, **kw: (seen.append(q), rerank(q, *a, **kw))[1])
    res = pipeline.search("blak nike trainers", k=3, stages="rerank", use_cache=False)
    assert res.parsed.extra["read_as"] == "black nike trainers"
    assert seen == ["blak nike trainers", "black nike trainers", "black nike trainers"]  # early, again, reranker
    assert res.hits[0].id == "1"  # the black Nike trainers
    seen.clear()
    pipeline.search("jeans not balck", k=3, stages="rerank", use_cache=False)
    assert seen[1:] == ["jeans", "jeans"]
    seen.clear()
    pipeline.search("blak nike trainers", k=3, stages="rerank", use_parsed=False, use_cache=False)
    assert seen == ["blak nike trainers", "blak nike trainers"]  # nothing qu read is used


def test_a_word_no_listing_has_is_read_with_the_catalogues_spelling(pipeline):
    """"chronogarph" is in no listing and no dictionary; "chronograph" is one slip away in listing 16. A
    brand qu knows stays as typed though no listing has it ("ganni")."""
    res = pipeline.search("fossil chronogarph", k=3, stages="rerank", use_cache=False)
    assert res.parsed.extra["read_as"] == "fossil chronograph"
    assert res.hits[0].id == "16"
    assert "read_as" not in pipeline.search("ganni dress", k=3, stages="hybrid").parsed.extra
