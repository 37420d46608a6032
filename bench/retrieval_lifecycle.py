"""Lifecycle timings on a built index: upsert, delete, visibility, compaction.

    .venv/bin/python bench/retrieval_lifecycle.py bench/results/tmp/speed/index_100000

Works on a copy of the index folder; writes bench/results/retrieval_lifecycle.json.
"""

from __future__ import annotations

import json
import os
import shutil
import sys
import time
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from retrieval import Index, Listing  # noqa: E402


def main() -> None:
    import torch

    torch.set_num_threads(1)  # as the speed bench: 2 threads on the shared 2 cores thrash (10x slower)
    src = Path(sys.argv[1])
    work = ROOT / "bench" / "results" / "tmp" / "lifecycle"
    shutil.rmtree(work, ignore_errors=True)
    shutil.copytree(src, work)
    index = Index.load(work)
    index.search("warm up", k=10)
    out: dict[str, object] = {"listings": len(index)}
    times = []
    for i in range(20):
        t = time.perf_counter()
        index.upsert(
            [Listing(id=f"new{i}", title=f"Vintage Acne Studios pink mohair scarf {i}", brand="acne")]
        )
        times.append(time.perf_counter() - t)
    out["upsert_one_ms_median"] = round(sorted(times)[10] * 1000, 1)
    found = [h.id for h in index.search("acne studios pink mohair scarf", k=20, stage="hybrid").hits]
    out["new_listings_in_top20"] = sum(x.startswith("new") for x in found)
    victim = index.search("shirt", k=1, stage="bm25").hits[0].id
    t = time.perf_counter()
    index.delete([victim])
    out["delete_one_ms"] = round((time.perf_counter() - t) * 1000, 1)
    out["deleted_visible_after"] = victim in [h.id for h in index.search("shirt", k=100).hits]
    t = time.perf_counter()
    Index.load(work)
    out["load_with_log_replay_s"] = round(time.perf_counter() - t, 2)
    t = time.perf_counter()
    index.compact()
    out["compact_s"] = round(time.perf_counter() - t, 1)
    out["after_compaction"] = {"listings": len(index), "pending": index.pending_changes}
    print(json.dumps(out, indent=1))
    (ROOT / "bench" / "results" / "retrieval_lifecycle.json").write_text(json.dumps(out, indent=1))
    shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
