"""Export a trained reranker folder to the shipped artefact: ONNX, int8 dynamic quantisation, model card.

    python -m rerank.export --src models/reranker-train/default --dst models/reranker

The destination holds no torch weights (too big to commit): the tokenizer, config, `onnx/model_qint8.onnx`
(about 23 MB for 6 layers), preloved_reranker.json (text format, max length, fusion weights), the model
card and the training log. It loads with `CrossEncoderReranker(dst)` (onnxruntime directly) or with
`CrossEncoder(dst, backend="onnx", model_kwargs={"file_name": "onnx/model_qint8.onnx"})`.

    python -m rerank.export --dequantise --src models/reranker --dst .cache/rerank/runs/gpu-student-l3

goes back: a torch folder whose weights are the int8 export's, dequantised, for further training
(a student fine-tuned at another length, or a teacher to distil from) where the original torch
weights were not kept.
"""

from __future__ import annotations

import argparse
import json
import logging
import shutil
import sys
from pathlib import Path

logger = logging.getLogger(__name__)
COPY = (
    "config.json",
    "tokenizer.json",
    "tokenizer_config.json",
    "special_tokens_map.json",
    "vocab.txt",
    "training_log.json",
    "config_sentence_transformers.json",
    "modules.json",
    "sentence_bert_config.json",
)


def cls_only_last_layer(model):
    """The same logits as a BERT `...ForSequenceClassification` `model`, with less work: the head
    reads only the [CLS] position of the last layer, so that layer computes keys and values for
    every token but the query, attention output and feed-forward for [CLS] alone. For the 3-layer
    student that is about a quarter of the multiply-adds. Exact in fp32; other architectures
    come back unchanged."""
    import torch
    from transformers.modeling_outputs import SequenceClassifierOutput

    bert = getattr(model, "bert", None)
    if bert is None or getattr(bert, "pooler", None) is None or not hasattr(model, "classifier"):
        return model

    class ClsOnly(torch.nn.Module):
        def __init__(self, m):
            super().__init__()
            self.m = m

        def forward(self, input_ids, attention_mask, token_type_ids):
            bert = self.m.bert
            h = bert.embeddings(input_ids=input_ids, token_type_ids=token_type_ids)
            masked = (1.0 - attention_mask[:, None, None, :].to(h.dtype)) * torch.finfo(h.dtype).min
            layers = bert.encoder.layer
            for i, layer in enumerate(layers):
                att, b = layer.attention.self, h.shape[0]
                heads, size = att.num_attention_heads, att.attention_head_size
                q_in = h[:, :1] if i == len(layers) - 1 else h
                q = att.query(q_in).view(b, -1, heads, size).transpose(1, 2)
                k = att.key(h).view(b, -1, heads, size).transpose(1, 2)
                v = att.value(h).view(b, -1, heads, size).transpose(1, 2)
                p = torch.softmax(q @ k.transpose(-1, -2) * att.scaling + masked, dim=-1)
                ctx = (p @ v).transpose(1, 2).reshape(b, -1, heads * size)
                a = layer.attention.output.LayerNorm(layer.attention.output.dense(ctx) + q_in)
                h = layer.output.LayerNorm(layer.output.dense(layer.intermediate(a)) + a)
            pooled = bert.pooler.activation(bert.pooler.dense(h[:, 0]))
            return SequenceClassifierOutput(logits=self.m.classifier(pooled))

    return ClsOnly(model).eval()


def export_onnx(src: Path, out_file: Path) -> Path:
    """fp32 ONNX graph of the cross-encoder's logits (last layer for [CLS] only), dynamic batch
    and sequence axes."""
    from sentence_transformers.cross_encoder import CrossEncoder

    from retrieval._onnx import export_onnx as export_graph

    model = CrossEncoder(str(src), device="cpu").model.eval()
    return export_graph(cls_only_last_layer(model), out_file, "logits")


def quantize_int8(fp32: Path, out_file: Path) -> Path:
    """Dynamic int8 quantisation (int8 weights, uint8 activations: VNNI kernels on AVX-512 CPUs)."""
    from onnxruntime.quantization import QuantType, quantize_dynamic

    quantize_dynamic(str(fp32), str(out_file), weight_type=QuantType.QInt8, per_channel=False)
    return out_file


def export(src: Path, dst: Path, *, keep_fp32: bool = False, config: Path | None = None) -> Path:
    from rerank.config import ROOT

    src, dst = Path(src), Path(dst)
    if not (src / "model.safetensors").is_file():
        raise FileNotFoundError(f"{src} has no model.safetensors: train one first (python -m rerank.train)")
    tmp = dst.parent / (dst.name + ".tmp")
    shutil.rmtree(tmp, ignore_errors=True)
    (tmp / "onnx").mkdir(parents=True)
    fp32 = export_onnx(src, tmp / "onnx" / "model.onnx")
    quantize_int8(fp32, tmp / "onnx" / "model_qint8.onnx")
    if not keep_fp32:
        fp32.unlink()
    for name in COPY:
        if (src / name).is_file():
            shutil.copy2(src / name, tmp / name)
    if (src / "preloved_reranker.json").is_file():
        cfg = json.loads((src / "preloved_reranker.json").read_text())
    else:  # a trainer checkpoint: text format and max length from the training config
        from rerank.config import load_config

        tc = load_config(config or ROOT / "rerank" / "configs" / "default.json")
        cfg = {
            "format_version": 1,
            "text_format": tc.text_format,
            "max_length": tc.max_length,
            "fusion_weights": {},
            "backend": "torch",
            "onnx_file": None,
        }
    cfg.update({"backend": "onnx", "onnx_file": "onnx/model_qint8.onnx", "exported_from": str(src)})
    (tmp / "preloved_reranker.json").write_text(json.dumps(cfg, indent=2) + "\n")
    card = (src / "README.md").read_text() if (src / "README.md").is_file() else "# preloved reranker\n"
    card += (
        "\n## Shipped form\n\nONNX export of the trained model, the last layer computed for [CLS] "
        "alone (exact in fp32), int8 dynamic quantisation (onnxruntime `quantize_dynamic`, QInt8 "
        "weights). Exported with `python -m rerank.export "
        f"--src {src.name if not src.is_absolute() else src} --dst {dst}`. Speed and the int8-vs-fp32 "
        "NDCG@10 are in docs/rerank.md and bench/results/rerank_speed.json.\n"
    )
    (tmp / "README.md").write_text(card)
    if dst.exists():
        old = dst.parent / (dst.name + ".old")
        shutil.rmtree(old, ignore_errors=True)
        dst.rename(old)
        tmp.rename(dst)
        shutil.rmtree(old)
    else:
        tmp.rename(dst)
    return dst


def dequantise(src: Path, dst: Path) -> Path:
    """A torch folder (model.safetensors) rebuilt from an int8 export's `onnx/model_qint8.onnx`.

    Every weight comes from the ONNX initialisers: fp32 ones by name, int8 ones dequantised
    ((q - zero_point) * scale). The exporter renames the encoder's matmul weights
    (`onnx::MatMul_448`), so each is named after the bias its output is added to."""
    import numpy as np
    import onnx
    import torch
    from onnx import numpy_helper
    from safetensors.torch import save_file

    src, dst = Path(src), Path(dst)
    rc = src / "preloved_reranker.json"
    cfg = json.loads(rc.read_text()) if rc.is_file() else {}
    onnx_file = src / (cfg.get("onnx_file") or "onnx/model_qint8.onnx")
    if not onnx_file.is_file():
        raise FileNotFoundError(f"{src} has no {onnx_file.relative_to(src)}: not an exported reranker folder")
    graph = onnx.load(str(onnx_file)).graph
    inits = {i.name: numpy_helper.to_array(i) for i in graph.initializer}
    consumers: dict[str, list] = {}
    for node in graph.node:
        for name in node.input:
            consumers.setdefault(name, []).append(node)

    def bias_after(tensor: str) -> str:
        frontier, seen = [tensor], set()
        while frontier:
            nxt = []
            for t in frontier:
                for node in consumers.get(t, []):
                    if node.name in seen:
                        continue
                    seen.add(node.name)
                    if node.op_type == "Add":
                        bias = [x for x in node.input if x.startswith("m.") and x.endswith(".bias")]
                        if bias:
                            return bias[0]
                    nxt += list(node.output)
            frontier = nxt
        raise ValueError(f"{onnx_file}: no bias follows {tensor}, cannot name its weight")

    def torch_name(name: str) -> str:  # "m.m.bert.x" -> "bert.x": strip the export wrappers' prefixes
        while name.startswith("m."):
            name = name[2:]
        return name

    state = {}
    for name, arr in inits.items():
        if name.startswith("m.") and not name.endswith(("_scale", "_zero_point", "_quantized")):
            state[torch_name(name)] = torch.tensor(arr)
        elif name.endswith("_quantized"):
            base = name[: -len("_quantized")]
            zero, scale = inits[base + "_zero_point"].astype(np.float32), inits[base + "_scale"]
            w = (arr.astype(np.float32) - zero) * scale
            if base.startswith("m."):  # embeddings are stored as torch has them, linear weights transposed
                key = torch_name(base)
                state[key] = torch.tensor(w if ".embeddings." in key else w.T.copy())
            else:
                user = consumers[name][0]
                state[torch_name(bias_after(user.output[0]))[:-5] + ".weight"] = torch.tensor(w.T.copy())
    dst.mkdir(parents=True, exist_ok=True)
    for name in (*COPY, "README.md"):
        if (src / name).is_file():
            shutil.copy2(src / name, dst / name)
    save_file({k: v.contiguous() for k, v in state.items()}, str(dst / "model.safetensors"))
    cfg.update({"backend": "torch", "onnx_file": None, "dequantised_from": str(onnx_file)})
    (dst / "preloved_reranker.json").write_text(json.dumps(cfg, indent=2) + "\n")
    return dst


def main(argv: list[str] | None = None) -> int:
    from rerank.config import ROOT

    ap = argparse.ArgumentParser(prog="python -m rerank.export", description=__doc__.splitlines()[0])
    ap.add_argument("--src", default=str(ROOT / ".cache" / "rerank" / "runs" / "default"))
    ap.add_argument("--dst", default=str(ROOT / "models" / "reranker"))
    ap.add_argument(
        "--config", help="training config, for a checkpoint folder without preloved_reranker.json"
    )
    ap.add_argument("--keep-fp32", action="store_true", help="also keep onnx/model.onnx (fp32)")
    ap.add_argument(
        "--dequantise",
        action="store_true",
        help="the reverse: rebuild torch weights in --dst from the int8 export in --src",
    )
    args = ap.parse_args(argv)
    logging.basicConfig(level=logging.INFO)
    try:
        if args.dequantise:
            out = dequantise(Path(args.src), Path(args.dst))
            print(json.dumps({"dequantised": str(out)}))
            return 0
        out = export(
            Path(args.src),
            Path(args.dst),
            keep_fp32=args.keep_fp32,
            config=Path(args.config) if args.config else None,
        )
    except (FileNotFoundError, ValueError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    print(json.dumps({"exported": str(out)}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
