"""Fusion of ranked lists, checked against scores worked out by hand."""

from __future__ import annotations

import math

import numpy as np
import pytest

from retrieval.fusion import FUSION_METHODS, fuse, fuse_arrays

# bm25 ranks a, b, c; dense ranks b, d: a and c only bm25 found, d only dense
LISTS = {"bm25": (["a", "b", "c"], np.array([3.0, 2.0, 1.0])), "dense": (["b", "d"], np.array([0.9, 0.5]))}


def test_rrf_sums_reciprocal_ranks():
    got = fuse(LISTS, method="rrf", rrf_k=60)
    assert got == pytest.approx({"a": 1 / 61, "b": 1 / 62 + 1 / 61, "c": 1 / 63, "d": 1 / 62})
    assert list(got) == ["a", "b", "c", "d"]  # first seen first: ordering is the caller's job


def test_rrf_weights_and_k():
    got = fuse(LISTS, method="rrf", weights={"bm25": 0.45, "dense": 0.55}, rrf_k=1)
    assert got == pytest.approx({"a": 0.45 / 2, "b": 0.45 / 3 + 0.55 / 2, "c": 0.45 / 4, "d": 0.55 / 3})


def test_minmax_gives_a_missing_id_the_lists_lowest_score():
    # bm25 3, 2, 1 -> 1, 0.5, 0; dense 0.9, 0.5 -> 1, 0; a, c missing from dense get 0, d from bm25 0
    got = fuse(LISTS, method="minmax")
    assert got == pytest.approx({"a": 1.0, "b": 1.5, "c": 0.0, "d": 0.0})
    got = fuse(LISTS, method="minmax", weights={"bm25": 0.2, "dense": 0.8})
    assert got == pytest.approx({"a": 0.2, "b": 0.1 + 0.8, "c": 0.0, "d": 0.0})


def test_zscore_uses_the_population_deviation():
    # bm25 3, 2, 1: mean 2, sd sqrt(2/3) -> +-sqrt(1.5), 0; dense 0.9, 0.5: mean 0.7, sd 0.2 -> 1, -1
    z = math.sqrt(1.5)
    got = fuse(LISTS, method="zscore")
    assert got == pytest.approx({"a": z - 1, "b": 0 + 1, "c": -z - 1, "d": -z - 1})
    got = fuse(LISTS, method="zscore", weights={"bm25": 0.5})  # a stage not named keeps weight 1
    assert got == pytest.approx({"a": 0.5 * z - 1, "b": 1.0, "c": -0.5 * z - 1, "d": -0.5 * z - 1})


def test_ties_within_a_list():
    tied = {"bm25": (["a", "b"], np.array([2.0, 2.0])), "dense": (["b", "a"], np.array([0.7, 0.3]))}
    # equal scores: min-max has no range (every id 1), z-score no spread (every id 0)
    assert fuse(tied, method="minmax") == pytest.approx({"a": 1.0 + 0.0, "b": 1.0 + 1.0})
    assert fuse(tied, method="zscore") == pytest.approx({"a": 0.0 - 1.0, "b": 0.0 + 1.0})
    # rrf reads ranks only: a and b swap ranks between the lists and tie exactly
    got = fuse(tied, method="rrf")
    assert got["a"] == got["b"] == pytest.approx(1 / 61 + 1 / 62)


@pytest.mark.parametrize("method", FUSION_METHODS)
def test_empty_lists_and_one_retriever(method):
    assert fuse({}, method=method) == {}
    assert fuse({"bm25": ([], np.empty(0)), "dense": ([], np.empty(0))}, method=method) == {}
    only = {"bm25": ([], np.empty(0)), "dense": (["x", "y"], np.array([0.8, 0.4]))}
    expected = {
        "rrf": {"x": 1 / 61, "y": 1 / 62},
        "minmax": {"x": 1.0, "y": 0.0},
        "zscore": {"x": 1.0, "y": -1.0},
    }[method]
    assert fuse(only, method=method) == pytest.approx(expected)  # the empty list adds nothing


def test_unknown_method_lists_the_choices():
    with pytest.raises(ValueError, match="unknown fusion method 'sum': choose from rrf, minmax, zscore"):
        fuse(LISTS, method="sum")


@pytest.mark.parametrize("method", FUSION_METHODS)
def test_fuse_arrays_on_integer_keys_gives_the_same_scores_in_first_seen_order(method):
    # the index fuses integer row keys; the same lists under string ids must give the same floats
    keys = {"bm25": (np.array([7, 3, 11]), np.array([3.0, 2.0, 1.0])),
            "dense": (np.array([3, 5]), np.array([0.9, 0.5]))}
    ids, fused = fuse_arrays(keys, method=method)
    assert ids.tolist() == [7, 3, 11, 5]
    by_name = fuse({s: ([f"k{k}" for k in ks.tolist()], sc) for s, (ks, sc) in keys.items()}, method=method)
    assert dict(zip([f"k{i}" for i in ids.tolist()], fused.tolist(), strict=True)) == by_name
