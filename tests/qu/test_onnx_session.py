"""int8 models compute exact integer products on every CPU (qu.onnx_session)."""

from __future__ import annotations

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

from qu.onnx_session import int8_session, unsigned_weights


def _matmul_integer_model(path, b: np.ndarray) -> None:
    """y = (a - 0) @ (b - 0) with uint8 activations and int8 weights, as dynamic quantisation writes it."""
    k, n = b.shape
    graph = helper.make_graph(
        [helper.make_node("MatMulInteger", ["a", "b", "a_zp", "b_zp"], ["y"])],
        "mmi",
        [helper.make_tensor_value_info("a", TensorProto.UINT8, [None, k])],
        [helper.make_tensor_value_info("y", TensorProto.INT32, [None, n])],
        initializer=[
            numpy_helper.from_array(b.astype(np.int8), "b"),
            numpy_helper.from_array(np.array(0, dtype=np.uint8), "a_zp"),
            numpy_helper.from_array(np.array(0, dtype=np.int8), "b_zp"),
        ],
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)], ir_version=8)
    onnx.save(model, path)


def test_products_that_saturate_int16_pairs_are_exact(tmp_path):
    """255 * 127 + 255 * 127 overflows the int16 pair sums of AVX2's vpmaddubsw; the session gives
    the exact integer product on this CPU whichever kernel it has."""
    rng = np.random.default_rng(0)
    b = np.concatenate([np.full((64, 4), 127), np.full((64, 4), -128), rng.integers(-128, 128, (64, 8))], axis=1)
    a = np.concatenate([np.full((2, 64), 255), rng.integers(0, 256, (6, 64))]).astype(np.uint8)
    path = tmp_path / "mmi.onnx"
    _matmul_integer_model(path, b)
    exact = a.astype(np.int64) @ b.astype(np.int64)
    assert (int8_session(path).run(None, {"a": a})[0] == exact).all()
    assert (int8_session(path, exact=True).run(None, {"a": a})[0] == exact).all()


def test_unsigned_weights_shift_weights_and_zero_points(tmp_path):
    b = np.array([[-128, 0], [5, 127]])
    path = tmp_path / "mmi.onnx"
    _matmul_integer_model(path, b)
    model = onnx.load(path)
    assert unsigned_weights(model) == 2
    inits = {t.name: numpy_helper.to_array(t) for t in model.graph.initializer}
    assert inits["b"].dtype == np.uint8 and inits["b"].tolist() == [[0, 128], [133, 255]]
    assert inits["b_zp"].dtype == np.uint8 and int(inits["b_zp"]) == 128
    assert inits["a_zp"].dtype == np.uint8 and int(inits["a_zp"]) == 0  # activations untouched
    assert unsigned_weights(model) == 0  # already unsigned


def test_the_shipped_tagger_reads_the_same_with_exact_products():
    """The shipped tagger's logits with uint8 weights equal the session qu serves on this CPU: with
    VNNI both are exact; without it the served session is the uint8 one."""
    from qu.onnx_tagger import DEFAULT_ONNX_PATH, OnnxTagger

    tagger = OnnxTagger(DEFAULT_ONNX_PATH)
    exact = int8_session(DEFAULT_ONNX_PATH / "model.int8.onnx", exact=True)
    queries = ["navy ralph lauren jumper", "vintage levis 501 w32 l30 light wash", "y2k baby tee pink xs"]
    for q in queries:
        enc = tagger.tok.encode_batch([q.split()], is_pretokenized=True)[0]
        feed = {"input_ids": np.array([enc.ids]), "attention_mask": np.array([enc.attention_mask]),
                "token_type_ids": np.array([enc.type_ids])}
        np.testing.assert_array_equal(tagger.session.run(None, feed)[0], exact.run(None, feed)[0])
