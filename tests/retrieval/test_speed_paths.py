"""The fast paths of a search at catalogue scale give the same results as the plain computations.

BM25 top-k with MaxScore pruning against scoring every posting; cached, table-based attribute masks
against np.isin; the HNSW's own vector storage against vectors.npy; prefaulted loading and the
query path without the torch model.
"""

from __future__ import annotations

import gc

import numpy as np
import pytest

from retrieval.attributes import AttributeColumns, Constraint
from retrieval.bm25 import SparseBM25
from retrieval.bm25 import top_k as plain_top_k
from retrieval.types import Listing

WORDS = [f"w{i}" for i in range(60)]


def zipf_corpus(n: int, seed: int = 0) -> list[list[str]]:
    """Documents whose words follow a steep Zipf law: a few words are in most documents, as
    "men", "women" and "shirt" are in a fashion catalogue, and short lengths give many ties."""
    rng = np.random.default_rng(seed)
    p = 1.0 / np.arange(1, len(WORDS) + 1) ** 1.3
    p /= p.sum()
    return [list(rng.choice(WORDS, size=int(rng.integers(1, 7)), p=p)) for _ in range(n)]


def full_top_k(bm: SparseBM25, terms, k, mask=None):
    rows, vals = bm.scores(terms)
    if mask is not None and len(rows):
        keep = mask[rows]
        rows, vals = rows[keep], vals[keep]
    return plain_top_k(rows, vals, k)


@pytest.fixture(scope="module")
def zipf_bm25():
    bm = SparseBM25.build(zipf_corpus(6000))
    bm.PRUNE_MIN_POSTINGS = 0  # prune at this small size too
    return bm


def test_pruned_top_k_equals_scoring_every_posting(zipf_bm25):
    bm = zipf_bm25
    rng = np.random.default_rng(1)
    n = bm.n_docs
    masks = [None, rng.random(n) < 0.5, rng.random(n) < 0.2, rng.random(n) < 0.02]
    pruned = 0
    for i in range(300):
        # a common word or two with rarer ones, sometimes repeated (query counts weigh)
        terms = list(rng.choice(WORDS[:4], size=int(rng.integers(1, 3))))
        terms += list(rng.choice(WORDS[4:], size=int(rng.integers(0, 4))))
        if i % 7 == 0:
            terms.append(terms[0])
        k = int(rng.choice([5, 10, 50, 200]))
        mask = masks[i % len(masks)]
        want_rows, want_vals = full_top_k(bm, terms, k, mask)
        got_rows, got_vals = bm.top_k(terms, k, mask)
        assert got_rows.tolist() == want_rows.tolist(), terms
        assert got_vals.tolist() == want_vals.tolist(), terms  # the same floats, not just close
        parts = bm._terms(terms)
        pruned += len(parts) > 1 and bm._top_k_pruned(parts, k, mask) is not None
    assert pruned > 50  # the pruned path was taken, not only the fallback


def test_row_scores_equal_every_posting_scores(zipf_bm25):
    bm = zipf_bm25
    terms = ["w0", "w1", "w7", "w7", "w30", "unknown"]
    rows, vals = bm.scores(terms)
    full = np.zeros(bm.n_docs)
    full[rows] = vals
    ask = np.asarray([5, 0, 5, bm.n_docs - 1, *rows[:50].tolist(), 17])
    assert bm.row_scores(terms, ask).tolist() == full[ask].tolist()
    assert bm.row_scores(["unknown"], ask).tolist() == [0.0] * len(ask)


def test_scores_reuse_scratch_buffers_cleanly(zipf_bm25):
    bm = zipf_bm25
    first = bm.scores(["w0", "w3", "w9"])
    bm.scores(["w1", "w2"])
    again = bm.scores(["w0", "w3", "w9"])
    assert first[0].tolist() == again[0].tolist() and first[1].tolist() == again[1].tolist()
    acc, touched = bm._scratch.acc
    assert not acc.any() and not touched.any()
    assert (bm._scratch.slots == -1).all()


def attribute_listings(n: int) -> list[Listing]:
    rng = np.random.default_rng(2)
    cats = ["T-Shirts", "Shirts", "Jeans", "Shoes", "Casual Shoes", None]
    genders = ["Men", "Women", "Unisex", "Boys", None]
    return [
        Listing(
            id=str(i),
            title=f"item {i}",
            category=cats[int(rng.integers(len(cats)))],
            gender=genders[int(rng.integers(len(genders)))],
            price=None if i % 9 == 0 else float(rng.integers(1, 200)),
        )
        for i in range(n)
    ]


def test_attribute_masks_match_isin_and_are_cached(tmp_path):
    cols = AttributeColumns.build(attribute_listings(3000))
    cols.save(tmp_path)
    loaded = AttributeColumns.load(tmp_path)  # memory-mapped columns
    rows = np.asarray([0, 5, 9, 2999, 17, 5])
    for c in (
        Constraint("category", ("shoes",)),
        Constraint("category", ("Shirts", "jeans")),
        Constraint("gender", ("men",)),
        Constraint("gender", ("nobody",)),
    ):
        for a in (cols, loaded):
            codes = np.asarray(a.codes[c.attr])
            want = np.isin(codes, a.matching_codes(c.attr, c.values)) | (codes < 0)
            m = a.mask(c)
            assert m.dtype == bool and m.tolist() == want.tolist()
            assert a.mask(c) is m and not m.flags.writeable  # cached, shared read-only
            ok = np.isin(codes[rows], a.matching_codes(c.attr, c.values))
            assert a.row_matches(c, rows).tolist() == np.where(codes[rows] < 0, 0, np.where(ok, 1, -1)).tolist()
    # case and spacing of the asked value do not make a second mask
    assert cols.mask(Constraint("category", ("SHOES",))) is cols.mask(Constraint("category", ("shoes",)))
    p = cols.mask(Constraint("price", price_min=10, price_max=50))
    assert p.tolist() == (np.isnan(cols.price) | ((cols.price >= 10) & (cols.price <= 50))).tolist()
    for lo in range(AttributeColumns.MASK_CACHE + 5):  # the cache stays bounded
        cols.mask(Constraint("price", price_min=float(lo)))
    assert len(cols._masks) == AttributeColumns.MASK_CACHE


def test_value_lookup_tables_are_shared_across_spellings_and_bounded():
    cols = AttributeColumns.build(attribute_listings(300))
    lut = cols.matching_codes("category", ("shoes",))
    for spelling in ("SHOES", " shoes ", "Shoes"):  # the same table, found by the spelling next time
        assert cols.matching_codes("category", (spelling,)).tolist() == lut.tolist()
        assert cols._lut("category", (spelling,)) is cols._lut("category", ("shoes",))
    assert cols.knows("category", "SHOES") and not cols.knows("category", "hats")
    for i in range(5000):  # a caller sending endless spellings of one value cannot grow the cache
        cols.knows("category", "shoes" + " " * (i % 50) + "." * (i // 50))
    assert len(cols._luts) <= 4096


def test_hnsw_vectors_are_the_stored_rows_and_keep_the_index_alive():
    from retrieval.dense import VectorSearch, hnsw_vectors

    rng = np.random.default_rng(3)
    v = rng.normal(size=(3000, 16)).astype(np.float32)
    v /= np.linalg.norm(v, axis=1, keepdims=True)
    view = hnsw_vectors(VectorSearch.build_hnsw(v))
    gc.collect()  # the index object is referenced only through the view now
    assert view.shape == v.shape and np.array_equal(view, v)
    assert not view.flags.writeable


def test_ann_index_holds_vectors_once_and_searches_the_same(tmp_path, embedder, tiny_listings):
    from retrieval import Index

    out = tmp_path / "ann"
    Index.build(tiny_listings, out, embedder=embedder, show_progress=False, ann_threshold=1)
    fast = Index.load(out, embedder=embedder)
    cold = Index.load(out, embedder=embedder, prefault=False)
    seg = fast._state.main
    assert seg.vectors.hnsw is not None
    # the segment's vectors are the HNSW's storage, not a second (memory-mapped) copy
    assert not isinstance(seg.vectors.vectors, np.memmap)
    base = seg.vectors.vectors
    while base is not None:
        assert not isinstance(base, np.memmap)
        base = getattr(base, "base", None)
    gen = out / fast.manifest["generation"]
    assert np.array_equal(seg.vectors.vectors, np.load(gen / "vectors.npy"))
    for q, f in [("black nike trainers", None), ("levis jeans", {"price_max": 60}), ("boots", {"gender": "women"})]:
        for stage in ("bm25", "dense", "hybrid"):
            a, b = fast.search(q, k=10, stage=stage, filters=f), cold.search(q, k=10, stage=stage, filters=f)
            assert a == b


def test_query_path_does_not_load_the_torch_model(tiny_index_dir):
    from retrieval import Index

    index = Index.load(tiny_index_dir)  # no embedder given: the index makes its own, lazily
    index.search("black nike trainers", k=5, stage="hybrid")
    assert index.embedder._model is None  # queries went through the ONNX encoder only
