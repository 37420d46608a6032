"""Benchmark of query understanding: strict-span F1 per split and layer, fast-layer speed, LLM layer.

    HF_HUB_OFFLINE=1 OMP_NUM_THREADS=1 .venv/bin/python bench/qu_bench.py [--skip-llm] [--repeat 3]

Writes bench/results/qu.json and prints a table. Speed is measured on one thread: single queries
one at a time (p50/p95/p99 per query) and batch throughput (parse_batch); then batch throughput on
every core (parse_batch with one worker thread a core, as `qu --input` runs by default).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import sys
import time
from pathlib import Path

os.environ.setdefault("OMP_NUM_THREADS", "1")
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))


def _pct(xs: list[float], q: float) -> float:
    xs = sorted(xs)
    return xs[min(len(xs) - 1, int(round(q * (len(xs) - 1))))]


def speed(ext, queries: list[str], repeat: int) -> dict:
    """Per-query latency one query at a time: wall clock, and CPU time of this thread (the cost on
    one core, less sensitive to other jobs on a shared machine); batch throughput."""
    for q in queries[:50]:
        ext.parse(q)  # warm up
    wall, cpu = [], []
    for _ in range(repeat):
        for q in queries:
            t0, c0 = time.perf_counter(), time.thread_time()
            ext.parse(q, layers=("rules", "tagger"))
            cpu.append((time.thread_time() - c0) * 1000)
            wall.append((time.perf_counter() - t0) * 1000)
    rules_cpu = []
    for q in queries:
        c0 = time.thread_time()
        ext.parse(q, layers=("rules",))
        rules_cpu.append((time.thread_time() - c0) * 1000)
    t0, c0 = time.perf_counter(), time.thread_time()
    for _ in range(repeat):
        ext.parse_batch(queries, layers=("rules", "tagger"))
    n = repeat * len(queries)
    batch_wall, batch_cpu = n / (time.perf_counter() - t0), n / (time.thread_time() - c0)
    cores = os.cpu_count() or 1
    t1 = time.perf_counter()
    for _ in range(repeat):  # every core: the batch split over `cores` worker threads
        ext.parse_batch(queries, layers=("rules", "tagger"), workers=cores)
    return {
        "queries": n,
        "tagger": getattr(ext, "tagger_kind", "?"),
        "wall_p50_ms": round(_pct(wall, 0.50), 3),
        "wall_p95_ms": round(_pct(wall, 0.95), 3),
        "wall_p99_ms": round(_pct(wall, 0.99), 3),
        "cpu_p50_ms": round(_pct(cpu, 0.50), 3),
        "cpu_p95_ms": round(_pct(cpu, 0.95), 3),
        "cpu_p99_ms": round(_pct(cpu, 0.99), 3),
        "rules_only_cpu_p50_ms": round(_pct(rules_cpu, 0.50), 3),
        "rules_only_cpu_p99_ms": round(_pct(rules_cpu, 0.99), 3),
        "batch_queries_per_s_wall": round(batch_wall, 1),
        "batch_queries_per_s_cpu": round(batch_cpu, 1),
        "batch_workers": cores,
        "batch_all_cores_queries_per_s_wall": round(n / (time.perf_counter() - t1), 1),
    }


def llm_bench(ext, queries: list[str], tmp: Path) -> dict:
    """The LLM layer's machinery with the registered fake backend (no real model is installed here):
    call policy, validation, cache. A real backend's latency is the server's; see docs/qu.md."""
    from qu.llm import FakeClient, LLMLayer

    fake = FakeClient(lambda q: json.dumps({"style": [q.split()[-1]]}), model="fake-echo")
    ext.llm = LLMLayer(fake, cache_dir=tmp, timeout_s=2.0, policy="residual")
    try:
        t0 = time.perf_counter()
        ext.parse_batch(queries)
        first = time.perf_counter() - t0
        t0 = time.perf_counter()
        ext.parse_batch(queries)
        second = time.perf_counter() - t0
        st = ext.llm.stats()
    finally:
        ext.llm = None
    called = st.get("calls", 0)
    return {
        "backend": "fake (echo)",
        "queries": len(queries),
        "called_by_policy": called,
        "called_fraction": round(called / len(queries), 3),
        "cache_hit_rate_after_2_passes": st["cache_hit_rate"],
        "pass1_s": round(first, 2),
        "pass2_s": round(second, 2),
        "stats": st,
    }


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--skip-llm", action="store_true")
    ap.add_argument("--out", default=str(ROOT / "bench" / "results" / "qu.json"))
    args = ap.parse_args()
    import tempfile

    from preloved.settings import Settings
    from qu._data import load_split
    from qu.evaluation import evaluate
    from qu.extractor import build_extractor

    t0 = time.perf_counter()
    ext = build_extractor(Settings(llm_backend=None))
    load_s = time.perf_counter() - t0
    res: dict = {
        "machine": {
            "cpu": platform.processor() or platform.machine(),
            "cores_visible": os.cpu_count(),
            "threads": 1,
            "python": platform.python_version(),
            "load_average_1m_at_start": round(os.getloadavg()[0], 2),
            "tagger": getattr(ext, "tagger_kind", "?"),
        },
        "load_s": round(load_s, 2),
        "f1": {},
    }
    for split in ("dev", "test"):
        res["f1"][split] = evaluate(ext, split, ["rules", "tagger", "rules+tagger"])["layers"]
    test_q = [r["query"] for r in load_split("test")]
    res["speed"] = speed(ext, test_q, args.repeat)
    if not args.skip_llm:
        with tempfile.TemporaryDirectory() as tmp:
            res["llm"] = llm_bench(ext, test_q, Path(tmp))
    base = ROOT / ".cache" / "qu" / "minilm_tagger" / "scores.json"
    if base.exists():
        res["baseline_minilm"] = json.loads(base.read_text())
    for key, folder in (("tagger_training", "tagger"), ("minilm_training", "minilm")):
        report = ROOT / "models" / "qu" / folder / "training.json"
        if report.exists():
            res[key] = {k: v for k, v in json.loads(report.read_text()).items() if k != "history"}
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    Path(args.out).write_text(json.dumps(res, indent=2))

    attrs = ("brand", "colour", "category", "gender", "size")
    print(f"{'split':<14} {'layers':<14} {'micro-F1':>8} " + " ".join(f"{a:>8}" for a in attrs))
    for per_name in res["f1"].values():
        for name, per in per_name.items():
            for ls, v in per.items():
                pa = v["per_attribute"]
                print(
                    f"{name:<14} {ls:<14} {v['micro']['f1']:>8.3f} "
                    + " ".join(f"{pa[a]['f1']:>8.3f}" for a in attrs)
                )
    if "baseline_minilm" in res:
        for split, v in res["baseline_minilm"].items():
            if isinstance(v, dict) and "micro" in v:
                pa = v["per_attribute"]
                print(
                    f"{split:<14} {'MiniLM base':<14} {v['micro']['f1']:>8.3f} "
                    + " ".join(f"{pa[a]['f1']:>8.3f}" for a in attrs)
                )
    sp = res["speed"]
    print(
        f"\nfast layers ({sp['tagger']}), one thread, CPU time per query: p50 {sp['cpu_p50_ms']} ms, "
        f"p99 {sp['cpu_p99_ms']} ms (wall p50 {sp['wall_p50_ms']}, p99 {sp['wall_p99_ms']});"
        f" rules only CPU p99 {sp['rules_only_cpu_p99_ms']} ms;"
        f" batch {sp['batch_queries_per_s_cpu']} queries per CPU-second"
        f" ({sp['batch_queries_per_s_wall']} per wall second);"
        f" batch on all {sp['batch_workers']} cores {sp['batch_all_cores_queries_per_s_wall']} queries per second"
    )
    if "llm" in res:
        ll = res["llm"]
        print(
            f"LLM layer ({ll['backend']}): called for {ll['called_fraction']:.1%} of test queries "
            "by the residual policy;"
            f" cache hit rate after two passes {ll['cache_hit_rate_after_2_passes']}"
        )
    print(f"wrote {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
