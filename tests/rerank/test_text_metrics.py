"""The listing text builder and the metric (parity with the independent scorer)."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import pytest

from preloved.metrics import ndcg, paired_bootstrap
from rerank import listing_text
from retrieval.types import Listing


def test_listing_text_adds_brand_and_colour_once():
    lst = Listing(id="1", title="Nike Air Max 90", brand="Nike", colour="Black", description="Great shoe")
    assert listing_text(lst) == "Nike Air Max 90 | Black"
    assert listing_text(lst, "title") == "Nike Air Max 90"
    assert listing_text(lst, "title_brand_colour_bullets").endswith("| Great shoe")
    with pytest.raises(ValueError, match="choose from"):
        listing_text(lst, "html")


def test_ndcg_matches_the_independent_scorer():
    path = Path("/work/shared/checks/score.py")
    if not path.is_file():
        pytest.skip("checks/score.py not present")
    spec = importlib.util.spec_from_file_location("score", path)
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    rel = {"a": 1.0, "b": 0.1, "c": 0.01, "d": 0.0}
    for ranked in (["a", "b", "c"], ["x", "b", "a", "d", "c"], ["y"] * 12 + ["a"]):
        assert ndcg(ranked, rel) == pytest.approx(mod.ndcg(ranked, rel))


def test_paired_bootstrap_detects_a_gain():
    a = [0.5] * 50
    b = [0.6] * 25 + [0.55] * 25
    res = paired_bootstrap(a, b)
    assert res["mean_diff"] == pytest.approx(0.075)
    assert res["p"] == 0.0
