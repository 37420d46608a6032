"""The exported tagger graph without its run-time shape arithmetic gives the same logits to the bit."""

from __future__ import annotations

import collections

import numpy as np
import onnx
import pytest

from qu.onnx_graph import simplify, verified
from qu.onnx_tagger import DEFAULT_ONNX_PATH, export_onnx


@pytest.fixture(scope="module")
def tiny_tagger(tmp_path_factory):
    """A real two-layer BERT token classifier (random weights, the shipped tagger's tokenizer)."""
    torch = pytest.importorskip("torch")
    from transformers import AutoTokenizer, BertConfig, BertForTokenClassification

    torch.manual_seed(0)
    tok = AutoTokenizer.from_pretrained(DEFAULT_ONNX_PATH)
    config = BertConfig(vocab_size=tok.vocab_size, hidden_size=32, num_hidden_layers=2, num_attention_heads=4,
                        intermediate_size=64, num_labels=5, id2label={i: f"L{i}" for i in range(5)})
    path = tmp_path_factory.mktemp("tiny_tagger")
    BertForTokenClassification(config).eval().save_pretrained(path)
    tok.save_pretrained(path)
    return path


@pytest.mark.parametrize("quantize", [True, False])
def test_the_simplified_export_gives_the_exported_logits(tiny_tagger, tmp_path, quantize):
    plain = export_onnx(tiny_tagger, tmp_path / "plain", quantize=quantize, simplify=False)
    simple = export_onnx(tiny_tagger, tmp_path / "simple", quantize=quantize)
    before, after = onnx.load(plain), onnx.load(simple)
    assert len(after.graph.node) < 0.7 * len(before.graph.node)
    # every reshape's target shape is a constant now
    computed = {o for n in after.graph.node if n.op_type != "Constant" for o in n.output}
    assert not [n for n in after.graph.node if n.op_type == "Reshape" and n.input[1] in computed]
    ops = collections.Counter(n.op_type for n in after.graph.node)
    assert ops["MatMulInteger" if quantize else "MatMul"] == collections.Counter(
        n.op_type for n in before.graph.node)["MatMulInteger" if quantize else "MatMul"]
    # bit-identical on padded batches of other shapes than `verified` tries
    import onnxruntime as ort

    a, b = (ort.InferenceSession(str(p), providers=["CPUExecutionProvider"]) for p in (plain, simple))
    rng = np.random.default_rng(1)
    for batch, length in ((2, 3), (5, 11), (1, 40)):
        ids = rng.integers(1, 30000, (batch, length))
        mask = (np.arange(length) < rng.integers(1, length + 1, (batch, 1))).astype(np.int64)
        feed = {"input_ids": ids * mask, "attention_mask": mask, "token_type_ids": np.zeros_like(ids)}
        np.testing.assert_array_equal(a.run(None, feed)[0], b.run(None, feed)[0])


def test_verified_tells_a_graph_that_computes_otherwise(tiny_tagger, tmp_path):
    path = export_onnx(tiny_tagger, tmp_path / "t", quantize=False, simplify=False)
    original = path.read_bytes()
    model = onnx.load_from_string(original)
    assert simplify(model) > 0
    assert verified(original, model.SerializeToString(), vocab_size=30000)
    bias = next(t for t in model.graph.initializer if t.name.endswith("classifier.bias"))
    bias.CopyFrom(onnx.numpy_helper.from_array(onnx.numpy_helper.to_array(bias) + 1e-3, bias.name))
    assert not verified(original, model.SerializeToString(), vocab_size=30000)


def test_the_shipped_tagger_is_simplified():
    model = onnx.load(DEFAULT_ONNX_PATH / "model.int8.onnx")
    assert simplify(model) == 0
