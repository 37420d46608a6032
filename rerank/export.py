"""Export a trained reranker folder to the shipped artefact: ONNX, int8 dynamic quantisation, model card.

    python -m rerank.export --src models/reranker-train/default --dst models/reranker

The destination holds no torch weights (too big to commit): the tokenizer, config, `onnx/model_qint8.onnx`
(about 23 MB for 6 layers), preloved_reranker.json (text format, max length, fusion weights), the model
card and the training log. It loads with `CrossEncoderReranker(dst)` (onnxruntime directly) or with
`CrossEncoder(dst, backend="onnx", model_kwargs={"file_name": "onnx/model_qint8.onnx"})`.
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


def export_onnx(src: Path, out_file: Path) -> Path:
    """fp32 ONNX graph of the cross-encoder's logits, dynamic batch and sequence axes."""
    from sentence_transformers.cross_encoder import CrossEncoder

    from retrieval._onnx import export_onnx as export_graph

    return export_graph(CrossEncoder(str(src), device="cpu").model, out_file, "logits")


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
        "\n## Shipped form\n\nONNX export of the trained model, int8 dynamic quantisation "
        "(onnxruntime `quantize_dynamic`, QInt8 weights). Exported with `python -m rerank.export "
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


def main(argv: list[str] | None = None) -> int:
    from rerank.config import ROOT

    ap = argparse.ArgumentParser(prog="python -m rerank.export", description=__doc__.splitlines()[0])
    ap.add_argument("--src", default=str(ROOT / ".cache" / "rerank" / "runs" / "default"))
    ap.add_argument("--dst", default=str(ROOT / "models" / "reranker"))
    ap.add_argument(
        "--config", help="training config, for a checkpoint folder without preloved_reranker.json"
    )
    ap.add_argument("--keep-fp32", action="store_true", help="also keep onnx/model.onnx (fp32)")
    args = ap.parse_args(argv)
    logging.basicConfig(level=logging.INFO)
    try:
        out = export(
            Path(args.src),
            Path(args.dst),
            keep_fp32=args.keep_fp32,
            config=Path(args.config) if args.config else None,
        )
    except FileNotFoundError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    print(json.dumps({"exported": str(out)}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
