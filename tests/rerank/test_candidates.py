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

    def counting(pool_, parsed, depth, show_progress):
        mined.extend(parsed)
        return real(pool_, parsed, depth, show_progress)

    monkeypatch.setattr(_candidates, "_hits_preloved", counting)
    first = _candidates.mine(pool, queries, depth=5, cache_dir=tmp_path, show_progress=False,
                             retriever="preloved-hybrid")
    assert sorted(mined) == sorted(queries) and all(1 <= len(h) <= 5 for h in first.values())
    assert all(h.id in pool for hs in first.values() for h in hs)

    def ranked(hits):
        return {q: [(h.id, h.score, h.scores) for h in hs] for q, hs in hits.items()}

    mined.clear()  # same pool, same parses: everything comes from the cache, unchanged
    again = _candidates.mine(pool, queries, depth=5, cache_dir=tmp_path, show_progress=False,
                             retriever="preloved-hybrid")
    assert mined == [] and ranked(again) == ranked(first)

    real_parses = _candidates._parses

    def reread(qs):  # qu now reads "red dress" without its colour: only that query is mined again
        out = real_parses(qs)
        out["red dress"] = out["red dress"].without(["colour"])
        return out

    monkeypatch.setattr(_candidates, "_parses", reread)
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

    def no_qu(qs):
        raise ImportError("No module named 'spacy'")

    monkeypatch.setattr(_candidates, "_parses", no_qu)
    again = _candidates.mine(pool, queries, depth=5, cache_dir=tmp_path, show_progress=False,
                             retriever="preloved-hybrid")
    assert {q: [h.id for h in hs] for q, hs in again.items()} == {q: [h.id for h in hs] for q, hs in first.items()}
    with pytest.raises(RuntimeError, match="1 queries missing from the candidate cache.*'blue jeans'"):
        _candidates.mine(pool, [*queries, "blue jeans"], depth=5, cache_dir=tmp_path, show_progress=False,
                         retriever="preloved-hybrid")
