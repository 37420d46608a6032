"""onnxruntime sessions for int8 models that compute the same on every CPU.

Dynamic int8 quantisation multiplies uint8 activations by int8 weights. On x86 CPUs without VNNI
(AVX2 or AVX-512 without VNNI: AMD Zen 3 and older, Intel before Cascade Lake), onnxruntime's MLAS
kernels do that with `vpmaddubsw`, whose pairwise int16 sums saturate, so the same model reads
some inputs differently there than on a CPU with VNNI, whose products are exact. Measured on the
shipped qu tagger: QueryNER test F1 0.660 on a Zen 3 and 0.664 on a Zen 4, and two hand-written
shopper queries read differently. On such CPUs the weights are shifted to uint8 (w + 128, zero
point 128: the same integers) when the model is loaded, which MLAS multiplies exactly in 16 bits.
Both CPUs then compute the same integer products as the exact VNNI kernels; on this Zen 4 the
uint8 form gives bit-identical outputs to the int8 one (`tests/qu/test_onnx_session.py`).
"""

from __future__ import annotations

import platform
from functools import cache
from pathlib import Path

_X86 = {"x86_64", "amd64", "i386", "i686", "x86"}
_VNNI = {"avx512_vnni", "avx_vnni", "avx512vnni", "avxvnni"}


@cache
def signed_int8_saturates() -> bool:
    """Whether this CPU's int8 kernels saturate: x86 without VNNI (unknown flags count as without)."""
    if platform.machine().lower() not in _X86:
        return False  # Arm's dot-product and widening kernels are exact
    try:
        text = Path("/proc/cpuinfo").read_text()
    except OSError:
        return True
    flags = {f for line in text.splitlines() if line.startswith("flags") for f in line.split(":", 1)[1].split()}
    return not (flags & _VNNI)


def unsigned_weights(model) -> int:
    """Rewrite the int8 weights and zero points of a model's MatMulInteger nodes as uint8 + 128, in
    place (the same integer products, computed exactly by MLAS on any CPU); returns how many."""
    import numpy as np
    from onnx import TensorProto, numpy_helper

    inits = {t.name: t for t in model.graph.initializer}
    done = set()
    for node in model.graph.node:
        if node.op_type != "MatMulInteger":
            continue
        for name in node.input[1::2]:  # B and b_zero_point
            t = inits.get(name)
            if t is None or name in done or t.data_type != TensorProto.INT8:
                continue
            shifted = numpy_helper.to_array(t).astype(np.int16) + 128
            t.CopyFrom(numpy_helper.from_array(shifted.astype(np.uint8), name))
            done.add(name)
    return len(done)


def int8_session(path: str | Path, options=None, *, exact: bool | None = None):
    """An onnxruntime CPU session for an int8 model; with `exact` (default: where this CPU's int8
    kernels saturate) its weights are loaded as uint8 so the products are exact."""
    import onnxruntime as ort

    if exact is None:
        exact = signed_int8_saturates()
    source: str | bytes = str(path)
    if exact:
        import onnx

        model = onnx.load(str(path))
        if unsigned_weights(model):
            source = model.SerializeToString()
    return ort.InferenceSession(source, options, providers=["CPUExecutionProvider"])
