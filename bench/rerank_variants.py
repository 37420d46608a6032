"""Build the folders bench/rerank_speed.py compares, from the trained model and the shipped artefact.

    HF_HUB_OFFLINE=1 .venv/bin/python bench/rerank_variants.py

- .cache/rerank/runs/default-onnx-fp32: the trained model as fp32 ONNX (no quantisation)
- .cache/rerank/runs/l{3,2}-cut-onnx: its first 3 / 2 layers, int8 (speed of fewer layers; not
  re-trained or distilled, so their quality is not the student's)
Fusion weights are copied from models/reranker (tuned on dev for the shipped model).
"""

from __future__ import annotations

import json
import shutil
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
RUNS = ROOT / ".cache" / "rerank" / "runs"


def main() -> int:
    from sentence_transformers.cross_encoder import CrossEncoder

    from rerank.export import export

    src, shipped = RUNS / "default", ROOT / "models" / "reranker"
    weights = json.loads((shipped / "preloved_reranker.json").read_text())["fusion_weights"]
    fp32 = export(src, RUNS / "default-onnx-fp32", keep_fp32=True)
    c = json.loads((fp32 / "preloved_reranker.json").read_text())
    c.update({"onnx_file": "onnx/model.onnx", "fusion_weights": weights})
    (fp32 / "preloved_reranker.json").write_text(json.dumps(c, indent=2))
    for n in (3, 2):
        cut = RUNS / f"l{n}-cut"
        shutil.rmtree(cut, ignore_errors=True)
        m = CrossEncoder(str(src), device="cpu")
        enc = m.model.base_model.encoder
        enc.layer = enc.layer[:n]
        m.model.config.num_hidden_layers = n
        m.save_pretrained(str(cut))
        shutil.copy2(src / "preloved_reranker.json", cut / "preloved_reranker.json")
        out = export(cut, RUNS / f"l{n}-cut-onnx")
        c = json.loads((out / "preloved_reranker.json").read_text())
        c["fusion_weights"] = weights
        (out / "preloved_reranker.json").write_text(json.dumps(c, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
