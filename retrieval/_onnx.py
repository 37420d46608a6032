"""One fp32 ONNX export for the project's BERT-family models (the query encoder, the reranker)."""

from __future__ import annotations

import uuid
from pathlib import Path

INPUTS: tuple[str, ...] = ("input_ids", "attention_mask", "token_type_ids")


def export_onnx(model, path: Path, output: str) -> Path:
    """Write `model`'s `output` ("last_hidden_state" or "logits") as an opset-17 ONNX graph with
    inputs input_ids, attention_mask and token_type_ids, dynamic batch and sequence axes (logits:
    batch only). Written to a temporary name, then renamed: no half-written graph is ever read."""
    import torch

    class Output(torch.nn.Module):
        def __init__(self, m):
            super().__init__()
            self.m = m

        def forward(self, input_ids, attention_mask, token_type_ids):
            out = self.m(input_ids=input_ids, attention_mask=attention_mask, token_type_ids=token_type_ids)
            return getattr(out, output)

    axes = {n: {0: "batch", 1: "seq"} for n in INPUTS}
    axes[output] = {0: "batch"} if output == "logits" else {0: "batch", 1: "seq"}
    ids = torch.ones(2, 16, dtype=torch.long)
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{uuid.uuid4().hex[:8]}.tmp")
    try:
        with torch.no_grad():
            torch.onnx.export(
                Output(model.eval()),
                (ids, torch.ones_like(ids), torch.zeros_like(ids)),
                str(tmp),
                input_names=list(INPUTS),
                output_names=[output],
                dynamic_axes=axes,
                opset_version=17,
                dynamo=False,
            )
        tmp.replace(path)
    finally:
        tmp.unlink(missing_ok=True)
    return path
