"""The candidate cache: mined once with preloved's own retriever, mined again when qu reads a query anew."""

from __future__ import annotations

from pathlib import Path

import pytest

from rerank import _candidates

TINY = Path(__file__).resolve().parents[1] / "data" / "tiny_catalogue.jsonl"


def test_cached_candidates_follow_what_qu_reads(tmp_path, monkeypatch):
    from retrieval import read_catalogue

    pool = {x.id: x for x in read_catalogue(TINY)}
    queries = ["black nike trainers", "red dress"]
    mined: list[str] = []
    real = _candidates._hits_preloved

    def counting(pool_, extractor, todo, depth, show_progress):
        mined.extend(todo)
        return real(pool_, extractor, todo, depth, show_progress)

    monkeypatch.setattr(_candidates, "_hits_preloved", counting)
    first = _candidates.mine(pool, queries, depth=5, cache_dir=tmp_path, show_progress=False,
                             retriever="preloved-hybrid")
    assert sorted(mined) == sorted(queries) and all(1 <= len(h) <= 5 for h in first.hits.values())
    assert all(h.id in pool for hs in first.hits.values() for h in hs)

    def ranked(hits):
        return {q: [(h.id, h.score, h.scores) for h in hs] for q, hs in hits.items()}

    mined.clear()  # same pool, same parses: everything comes from the cache, unchanged
    again = _candidates.mine(pool, queries, depth=5, cache_dir=tmp_path, show_progress=False,
                             retriever="preloved-hybrid")
    assert mined == [] and ranked(again.hits) == ranked(first.hits) and again.read == first.read

    real_extractor = _candidates._extractor

    class Rereading:  # qu now reads "red dress" without its colour: only that query is mined again
        def __init__(self):
            self.inner = real_extractor()

        def parse(self, q):
            parsed = self.inner.parse(q)
            return parsed.without(["colour"]) if q == "red dress" else parsed

    monkeypatch.setattr(_candidates, "_extractor", Rereading)
    _candidates.mine(pool, queries, depth=5, cache_dir=tmp_path, show_progress=False, retriever="preloved-hybrid")
    assert mined == ["red dress"]


def test_without_qu_the_cache_stands_and_a_gap_is_a_clear_error(tmp_path, monkeypatch):
    """A training-only machine (a lent GPU) lacks qu's spaCy and rapidfuzz: the cached lists are used as
    mined, and a query the cache does not hold fails before training, naming the way out."""
    from retrieval import read_catalogue

    pool = {x.id: x for x in read_catalogue(TINY)}
    queries = ["black nike trainers", "red dress"]
    first = _candidates.mine(pool, queries, depth=5, cache_dir=tmp_path, show_progress=False,
                             retriever="preloved-hybrid")

    def no_qu():
        raise ImportError("No module named 'spacy'")

    monkeypatch.setattr(_candidates, "_extractor", no_qu)
    again = _candidates.mine(pool, queries, depth=5, cache_dir=tmp_path, show_progress=False,
                             retriever="preloved-hybrid")

    def ids(mined):
        return {q: [h.id for h in hs] for q, hs in mined.hits.items()}

    assert ids(again) == ids(first)
    with pytest.raises(RuntimeError, match="1 queries missing from the candidate cache.*'blue jeans'"):
        _candidates.mine(pool, [*queries, "blue jeans"], depth=5, cache_dir=tmp_path, show_progress=False,
                         retriever="preloved-hybrid")


def test_the_lists_are_the_served_searches_and_record_what_the_models_read(tmp_path):
    """Mined lists are what the pipeline serves for the query (`stages="hybrid"`), and the text its query encoder
    and reranker read is recorded beside them: slips in the catalogue's spelling, without what is not wanted."""
    from preloved.pipeline import SearchPipeline
    from retrieval import Index, read_catalogue

    listings = read_catalogue(TINY)
    pool = {x.id: x for x in listings}
    queries = ["chronogrpah watch", "dress not red", "black nike trainers"]
    mined = _candidates.mine(pool, queries, depth=5, cache_dir=tmp_path, show_progress=False,
                             retriever="preloved-hybrid")
    assert mined.read == {"chronogrpah watch": "chronograph watch", "dress not red": "dress",
                          "black nike trainers": "black nike trainers"}
    Index.build(listings, tmp_path / "idx", show_progress=False)
    served = SearchPipeline(_candidates._extractor(), Index.load(tmp_path / "idx"), None)
    for q in queries:
        assert [(h.id, h.scores) for h in mined.hits[q]] == \
            [(h.id, h.scores) for h in served.search(q, k=5, stages="hybrid").hits]
    assert mined.hits["chronogrpah watch"][0].id == "16"
