"""The exported BERT graph without its run-time shape arithmetic: the same outputs, fewer operators.

`torch.onnx.export` writes every reshape of the attention heads with a target shape computed at
run time (Shape -> Gather -> Unsqueeze -> Concat), and the padding mask as a 30-operator index
construction. For a tagger reading one short query (about 7 tokens) those small operators are a
tenth of the forward pass. `simplify` replaces each computed target shape with a constant (0 keeps
the input's dimension, -1 takes the rest) where symbolic shape inference proves it, removes
reshapes to the shape they already have, builds the mask from `attention_mask` directly (the same
0 / -inf values, broadcast over the query positions instead of expanded), and drops what is left
unused. No arithmetic on the data changes, so the outputs are bit-identical; `verified` checks it on
padded batches before a simplified graph is written (`qu export-tagger`).
"""

from __future__ import annotations

import numpy as np


def simplify(model) -> int:
    """Simplify `model` (an `onnx.ModelProto` exported from a BERT-family model) in place; returns how
    many nodes it removed."""
    from onnx import helper, numpy_helper
    from onnxruntime.tools.symbolic_shape_infer import SymbolicShapeInference

    g = model.graph
    before = len(g.node)
    inferred = SymbolicShapeInference.infer_shapes(model, auto_merge=True)
    dims = {v.name: [d.dim_param or d.dim_value for d in v.type.tensor_type.shape.dim]
            for v in (*inferred.graph.value_info, *inferred.graph.input, *inferred.graph.output)}
    inits = {t.name for t in g.initializer}
    wanted = {o.name for o in g.output}
    consts = {n.output[0]: numpy_helper.to_array(n.attribute[0].t) for n in g.node
              if n.op_type == "Constant" and len(n.attribute) == 1 and n.attribute[0].name == "value"}
    added, same = [], {}

    for n in g.node:  # reshapes to a shape computed at run time
        if n.op_type != "Reshape" or n.input[1] in inits or n.input[1] in consts:
            continue
        src, dst = dims.get(n.input[0]), dims.get(n.output[0])
        if not src or not dst or not all(dst):
            continue
        if src == dst:
            if n.output[0] not in wanted:
                same[n.output[0]] = same.get(n.input[0], n.input[0])
            continue
        shape = [d if isinstance(d, int) else 0 if j < len(src) and src[j] == d else -1 for j, d in enumerate(dst)]
        if shape.count(-1) <= 1:
            added.append(numpy_helper.from_array(np.array(shape, dtype=np.int64), f"{n.output[0]}/shape"))
            n.input[1] = added[-1].name

    masks = [n for n in g.node if n.op_type == "Cast" and n.input[0] == "attention_mask"]
    expanded = {n.output[0] for n in g.node if n.op_type == "Expand"}
    for n in list(g.node):  # the mask: Where(keys kept, 0, -inf), over the keys alone, not expanded
        if (len(masks) != 1 or n.op_type != "Where" or n.input[0] not in expanded or n.input[1] not in consts
                or n.input[2] not in consts):
            continue
        zero, inf = consts[n.input[1]], consts[n.input[2]]
        if zero.size == 1 and inf.size == 1 and zero.item() == 0 and np.isneginf(inf.item()):
            added.append(numpy_helper.from_array(np.array([1, 2], dtype=np.int64), f"{n.output[0]}/axes"))
            keys = helper.make_node("Unsqueeze", [masks[0].output[0], added[-1].name], [f"{n.output[0]}/keys"])
            n.input[0] = keys.output[0]
            g.node.insert(list(g.node).index(n), keys)

    for n in g.node:
        n.input[:] = [same.get(x, x) for x in n.input]
    keep = [n for n in g.node if not (n.op_type == "Reshape" and n.output[0] in same)]
    while True:  # drop what nothing reads any more
        read = wanted | {x for n in keep for x in n.input}
        alive = [n for n in keep if any(o in read for o in n.output)]
        if len(alive) == len(keep):
            break
        keep = alive
    del g.node[:]
    g.node.extend(keep)
    read = {x for n in g.node for x in n.input}
    live = [t for t in (*g.initializer, *added) if t.name in read]
    del g.initializer[:]
    g.initializer.extend(live)
    return before - len(g.node)


def verified(original: bytes, simplified: bytes, vocab_size: int, seed: int = 0) -> bool:
    """Whether two serialised graphs give bit-identical outputs on padded batches of several shapes."""
    import onnxruntime as ort

    so = ort.SessionOptions()
    so.intra_op_num_threads = 1
    a, b = (ort.InferenceSession(m, so, providers=["CPUExecutionProvider"]) for m in (original, simplified))
    rng = np.random.default_rng(seed)
    for batch, length in ((1, 1), (1, 7), (3, 5), (4, 19)):
        ids = rng.integers(1, vocab_size, (batch, length))
        mask = np.ones_like(ids)
        for row in range(1, batch):  # rows after the first are padded
            mask[row, rng.integers(1, length + 1):] = 0
        given = {"input_ids": ids * mask, "attention_mask": mask, "token_type_ids": np.zeros_like(ids)}
        feed = {i.name: given[i.name] for i in a.get_inputs()}
        if not all(np.array_equal(x, y) for x, y in zip(a.run(None, feed), b.run(None, feed), strict=True)):
            return False
    return True
