from __future__ import annotations

import numpy as np
import pytest

from retrieval.dense import EmbeddingCache, VectorSearch, content_hashes


def unit(rng, n, d=32):
    v = rng.normal(size=(n, d)).astype(np.float32)
    return v / np.linalg.norm(v, axis=1, keepdims=True)


def test_hnsw_matches_exact_search_with_and_without_a_mask():
    rng = np.random.default_rng(0)
    vecs, q = unit(rng, 2000), unit(rng, 1)[0]
    exact = VectorSearch(vecs)
    ann = VectorSearch(vecs, VectorSearch.build_hnsw(vecs), ef_search=256, exact_below=0)
    r_ex, s_ex = exact.search(q, 20)
    r_an, s_an = ann.search(q, 20)
    assert len(set(r_ex.tolist()) & set(r_an.tolist())) >= 18
    np.testing.assert_allclose(s_ex, vecs[r_ex] @ q, rtol=1e-5)
    mask = np.zeros(2000, dtype=bool)
    mask[::3] = True  # e.g. a filter, or deleted listings
    r_m, _ = ann.search(q, 20, mask)
    assert mask[r_m].all() and len(r_m) == 20
    r_me, _ = exact.search(q, 20, mask)
    assert len(set(r_m.tolist()) & set(r_me.tolist())) >= 18
    # a mask leaving few rows is scanned exactly
    few = np.zeros(2000, dtype=bool)
    few[[5, 7, 11]] = True
    r_f, _ = VectorSearch(vecs, ann.hnsw, exact_below=100).search(q, 20, few)
    assert sorted(r_f.tolist()) == [5, 7, 11]


@pytest.mark.parametrize("share", [0.0005, 0.01, 0.3, 0.9, 1.0])
def test_exact_search_under_a_mask_is_brute_force(share):
    """Masked rows are scored a block at a time (`_BLOCK` rows), whatever their number: the
    brute-force top k, in order."""
    rng = np.random.default_rng(2)
    vecs, q = unit(rng, 3000), unit(rng, 1)[0]
    mask = rng.random(3000) < share  # 3000 rows: three blocks and a part
    rows, sims = VectorSearch(vecs).search(q, 25, mask)
    keep = np.flatnonzero(mask)
    want = keep[np.argsort(-(vecs[keep] @ q), kind="stable")[:25]]
    assert rows.tolist() == want.tolist()
    np.testing.assert_allclose(sims, vecs[want] @ q, rtol=1e-5)


def test_embedding_cache_round_trip(tmp_path):
    rng = np.random.default_rng(1)
    h = content_hashes(["a", "b", "c"], "m")
    assert len(set(h.tolist())) == 3 and content_hashes(["a"], "other")[0] != h[0]
    v = unit(rng, 3, 8)
    EmbeddingCache(tmp_path).put(h[:2], v[:2])
    found, got = EmbeddingCache(tmp_path).get(h[[2, 1, 0]], 8)
    assert found.tolist() == [False, True, True]
    np.testing.assert_array_equal(got[1:], v[[1, 0]])


def test_query_vectors_from_onnx_equal_torch_vectors(tmp_path, embedder):
    """`encode_query` runs an fp32 ONNX export of the same weights: the vectors the index was built
    with, to float precision (exported once into `onnx_dir`)."""
    from retrieval import Embedder

    e = Embedder(device="cpu", onnx_dir=tmp_path)
    queries = ["black nike trainers", "vintage levis 501 w32 l30 light wash", "y2k baby tee 🩷 xs", "x" * 2000]
    torch_vecs = embedder.encode(queries)
    for q, ref in zip(queries, torch_vecs, strict=True):
        v = e.encode_query(q)
        assert v.dtype == np.float32 and v.shape == ref.shape
        assert float(v @ ref) > 0.99999
        assert abs(float(np.linalg.norm(v)) - 1.0) < 1e-5
    assert len(list(tmp_path.glob("embedder-*.onnx"))) == 1
    assert not list(tmp_path.glob(".*.tmp"))
    with pytest.raises(ValueError, match="query_backend"):
        Embedder(query_backend="tf")


def test_queries_encoded_together_get_the_vectors_each_gets_alone(tmp_path):
    """`encode_queries` pads a batch to its longest text (texts of very different lengths run in
    separate groups): each row is the vector `encode_query` gives that text alone, in input order."""
    from retrieval import Embedder

    e = Embedder(device="cpu", onnx_dir=tmp_path)
    queries = ["nike", "vintage levis 501 w32 l30 light wash", "x" * 2000, "y2k baby tee 🩷 xs", "nike", " "]
    together = e.encode_queries(queries)
    assert together.dtype == np.float32 and together.shape == (len(queries), 384)
    for q, v in zip(queries, together, strict=True):
        np.testing.assert_allclose(v, e.encode_query(q), atol=1e-5)
    np.testing.assert_array_equal(together[0], together[4])


def test_the_query_batcher_encodes_waiting_queries_together_and_hands_each_its_own():
    """Queries submitted to wait (`now=False`) are encoded when one of them is needed, together and
    oldest first, up to `max_batch`, or once `max_batch` wait; every caller gets its own text's
    vector; an encoder error reaches each caller of that batch, and the thread goes on."""
    from retrieval.dense import QueryBatcher

    batches = []

    def encode(texts):
        batches.append(list(texts))
        if "boom" in texts:
            raise RuntimeError("encoder failed")
        return np.array([[float(len(t))] for t in texts])

    b = QueryBatcher(encode, max_batch=4)
    assert b.submit("a").result(5)[0] == 1.0  # now=True: at once, alone
    waiting = [b.submit("b" * n, now=False) for n in range(2, 5)]
    assert not any(f.done() for f in waiting) and batches == [["a"]]
    b.need(waiting[1])
    assert [f.result(5)[0] for f in waiting] == [2.0, 3.0, 4.0]
    assert batches[1:] == [["bb", "bbb", "bbbb"]]
    full = [b.submit("c" * n, now=False) for n in range(1, 6)]  # the fourth fills a batch
    assert [f.result(5)[0] for f in full[:4]] == [1.0, 2.0, 3.0, 4.0] and not full[4].done()
    b.need(full[4])
    b.need(full[4])  # needing one twice, or one already done, changes nothing
    b.need(full[0])
    assert full[4].result(5)[0] == 5.0 and len(batches) == 4
    with pytest.raises(RuntimeError, match="encoder failed"):
        b.submit("boom").result(5)
    assert b.submit("ok").result(5)[0] == 2.0


def test_an_interrupted_embedding_keeps_the_chunks_it_finished(tmp_path, embedder):
    """A big catalogue is embedded chunk by chunk, each chunk cached when done: a build that dies
    part-way leaves those chunks behind, and the next build embeds only the rest."""
    from retrieval.dense import embed_cached

    texts = [f"vintage levis 50{i} jeans w3{i % 10}" for i in range(10)]

    class DiesOnSecondChunk:
        name, dim, calls = embedder.name, embedder.dim, 0

        def encode(self, batch, **kw):
            self.calls += 1
            if self.calls == 2:
                raise KeyboardInterrupt("killed mid-build")
            return embedder.encode(batch, **kw)

    with pytest.raises(KeyboardInterrupt):
        embed_cached(DiesOnSecondChunk(), texts, EmbeddingCache(tmp_path), chunk_size=4)
    vecs, _, computed = embed_cached(embedder, texts, EmbeddingCache(tmp_path), chunk_size=4)
    assert computed == 6  # the first chunk of 4 survived the crash
    np.testing.assert_allclose(vecs, embedder.encode(texts), atol=1e-5)
    assert embed_cached(embedder, texts, EmbeddingCache(tmp_path))[2] == 0
