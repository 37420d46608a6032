"""Bounded load test of the search API on 127.0.0.1: real QueryNER fashion queries against the
demo catalogue, at several client concurrencies, with and without the reranker.

Each cell sends a fixed number of searches (default 2,000) or stops at a time limit, whichever
comes first; nothing runs unbounded and nothing leaves the machine. By default the script starts
its own server (`service.serve`) on a free loopback port and stops it at the end.

    HF_HUB_OFFLINE=1 .venv/bin/python bench/load_test.py                      # full run
    HF_HUB_OFFLINE=1 .venv/bin/python bench/load_test.py --requests 200 --concurrency 1,4

Prints a table and writes bench/results/load.json (throughput, p50/p95/p99, errors per cell,
and the highest throughput that keeps p95 under the target with the reranker on).
"""

from __future__ import annotations

import argparse
import http.client
import json
import os
import platform
import random
import socket
import statistics
import subprocess
import sys
import threading
import time
from pathlib import Path
from urllib.parse import urlparse

ROOT = Path(__file__).resolve().parents[1]
QUERY_FILES = sorted((ROOT / "data" / "queryner").glob("fashion_*.jsonl"))
LOOPBACK = {"127.0.0.1", "localhost", "::1"}


def query_pool() -> list[str]:
    """The distinct QueryNER fashion queries (train, dev and test), in file order."""
    seen: dict[str, None] = {}
    for path in QUERY_FILES:
        with open(path, encoding="utf-8") as f:
            for line in f:
                q = json.loads(line)["query"].strip()
                if q and len(q) <= 512:
                    seen.setdefault(q, None)
    if not seen:
        raise SystemExit(f"no queries found in {ROOT / 'data' / 'queryner'}/fashion_*.jsonl")
    return list(seen)


def draw(pool: list[str], n: int, seed: str) -> list[str]:
    """`n` searches drawn with replacement, reproducibly, from `pool`."""
    rng = random.Random(seed)
    return [rng.choice(pool) for _ in range(n)]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def percentile(values: list[float], p: float) -> float:
    if not values:
        return float("nan")
    values = sorted(values)
    i = (len(values) - 1) * p / 100
    lo, hi = int(i), min(int(i) + 1, len(values) - 1)
    return values[lo] + (values[hi] - values[lo]) * (i - lo)


def cpu_seconds(pid: int | None) -> float | None:
    """User + system CPU time of a process (Linux /proc), or None when unknown."""
    if pid is None:
        return None
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
    except (OSError, IndexError, ValueError):
        return None


def run_cell(host: str, port: int, queries: list[str], concurrency: int, stages: str, k: int,
             time_limit: float, use_cache: bool = False, server_pid: int | None = None,
             rerank_depth: int | None = None) -> dict:
    """Send `len(queries)` searches from `concurrency` keep-alive clients; stop early at `time_limit`."""
    lock = threading.Lock()
    next_i = 0
    latencies: list[float] = []
    errors: dict[str, int] = {}
    stage_ms: dict[str, list[float]] = {}
    deadline = time.monotonic() + time_limit
    headers = {"Content-Type": "application/json"}
    if not use_cache:
        headers["Cache-Control"] = "no-cache"  # every search runs the whole pipeline, no cache at all
    cache_hits = 0

    def client() -> None:
        nonlocal next_i, cache_hits
        conn = http.client.HTTPConnection(host, port, timeout=30)
        while True:
            with lock:
                if next_i >= len(queries) or time.monotonic() > deadline:
                    break
                q = queries[next_i]
                next_i += 1
            request = {"query": q, "k": k, "stages": stages}
            if rerank_depth is not None and stages == "rerank":
                request["rerank_depth"] = rerank_depth
            body = json.dumps(request)
            t = time.perf_counter()
            try:
                conn.request("POST", "/search", body=body, headers=headers)
                resp = conn.getresponse()
                data = resp.read()
                ms = (time.perf_counter() - t) * 1000
                status = resp.status
            except (OSError, http.client.HTTPException) as e:
                ms, status, data = (time.perf_counter() - t) * 1000, type(e).__name__, b""
                conn.close()
                conn = http.client.HTTPConnection(host, port, timeout=30)
            with lock:
                if status == 200:
                    latencies.append(ms)
                    answer = json.loads(data)
                    cache_hits += bool(answer.get("cached"))
                    for stage, v in answer["timings_ms"].items():
                        stage_ms.setdefault(stage, []).append(v)
                elif status == 422:  # a query with nothing searchable in it: a correct answer, not an error
                    latencies.append(ms)
                    errors["422 (bad query, expected)"] = errors.get("422 (bad query, expected)", 0) + 1
                else:
                    errors[str(status)] = errors.get(str(status), 0) + 1
        conn.close()

    threads = [threading.Thread(target=client) for _ in range(concurrency)]
    load_before = os.getloadavg()[0]
    cpu_before = cpu_seconds(server_pid)
    start = time.perf_counter()
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    wall = time.perf_counter() - start
    cpu_after = cpu_seconds(server_pid)
    done = len(latencies)
    cpu_ms = None
    if cpu_before is not None and cpu_after is not None and done:
        cpu_ms = round((cpu_after - cpu_before) * 1000 / done, 2)
    real_errors = sum(v for key, v in errors.items() if not key.startswith("422"))
    return {
        "stages": stages, "rerank_depth": rerank_depth if stages == "rerank" else None,
        "concurrency": concurrency, "requested": len(queries), "completed": done,
        "stopped_by_time_limit": next_i < len(queries), "wall_s": round(wall, 2),
        "throughput_rps": round(done / wall, 2) if wall else 0.0,
        "p50_ms": round(percentile(latencies, 50), 1), "p95_ms": round(percentile(latencies, 95), 1),
        "p99_ms": round(percentile(latencies, 99), 1), "max_ms": round(max(latencies, default=0), 1),
        "errors": real_errors, "responses_by_kind": errors, "result_cache": use_cache,
        "cache_hit_fraction": round(cache_hits / done, 3) if done else 0.0,
        "server_stage_mean_ms": {s: round(statistics.fmean(v), 2) for s, v in stage_ms.items()},
        # the 1-minute load average of the whole machine: other work competing for the cores
        "loadavg_before_after": [round(load_before, 2), round(os.getloadavg()[0], 2)],
        # server CPU per answered search: independent of how busy the rest of the machine is;
        # 2,000 / this is what 2 dedicated cores could answer per second if nothing else ran
        "server_cpu_ms_per_request": cpu_ms,
        "two_core_rps_bound": round(2000 / cpu_ms, 1) if cpu_ms else None,
    }


def start_server(index_dir: str | None, port: int, log_path: Path) -> subprocess.Popen:
    code = ("import sys; from service import serve; "
            "serve(host='127.0.0.1', port=int(sys.argv[1]), index_dir=sys.argv[2] or None, "
            "log_level='WARNING')")
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "TRANSFORMERS_OFFLINE": "1"}
    log = open(log_path, "wb")  # noqa: SIM115 - the child owns it
    return subprocess.Popen([sys.executable, "-c", code, str(port), index_dir or ""], cwd=ROOT, env=env,
                            stdout=log, stderr=subprocess.STDOUT)


def wait_ready(host: str, port: int, proc: subprocess.Popen | None, timeout: float) -> dict:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc is not None and proc.poll() is not None:
            raise SystemExit(f"the server exited with status {proc.returncode}; see its log")
        try:
            conn = http.client.HTTPConnection(host, port, timeout=2)
            conn.request("GET", "/readyz")
            resp = conn.getresponse()
            body = resp.read()
            if resp.status == 200:
                return json.loads(body)
        except OSError:
            pass
        time.sleep(0.5)
    raise SystemExit("the server did not become ready in time")


def plot(report: dict, path: Path, targets: dict[str, tuple[int, float]]) -> None:
    """Latency (p50, p95, p99) against throughput, one line a stages setting through its client
    counts, with each target as a marker line: the picture a fleet is sized from."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    modes = list(dict.fromkeys(c["stages"] for c in report["cells"]))
    fig, axes = plt.subplots(1, len(modes), figsize=(5.2 * len(modes), 3.8), squeeze=False)
    for ax, stages in zip(axes[0], modes, strict=True):
        cells = sorted((c for c in report["cells"] if c["stages"] == stages), key=lambda c: c["concurrency"])
        x = [c["throughput_rps"] for c in cells]
        for q, style in (("p50", ":"), ("p95", "-"), ("p99", "--")):
            ax.plot(x, [c[f"{q}_ms"] for c in cells], style, marker="o", label=q)
        for c in cells:
            ax.annotate(f"{c['concurrency']} client{'s' * (c['concurrency'] > 1)}", (c["throughput_rps"], c["p95_ms"]),
                        textcoords="offset points", xytext=(4, 6), fontsize=8)
        if stages in targets:
            clients, ms = targets[stages]
            ax.axhline(ms, color="grey", lw=0.8)
            ax.text(x[0], ms, f" target: p95 {ms:g} ms at {clients} clients", fontsize=8, va="bottom", color="grey")
        ax.set_xlabel("throughput (searches/s)")
        ax.set_ylabel("latency (ms)")
        ax.set_title(f"{stages}, {report['machine']['cpus']} CPUs, caches {'on' if report['result_cache'] else 'off'}")
        ax.set_ylim(bottom=0)
        ax.legend(fontsize=8, loc="upper left")
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def capacity(cells: list[dict], stages: str, target_p95_ms: float) -> dict | None:
    """The most searches a second of any `stages` cell that kept p95 within the target with no errors: what
    one instance serves at that latency, the number a marketplace sizes its fleet by; None where none did."""
    ok = [c for c in cells if c["stages"] == stages and c["p95_ms"] <= target_p95_ms and not c["errors"]]
    best = max(ok, key=lambda c: c["throughput_rps"], default=None)
    return None if best is None else {"throughput_rps": best["throughput_rps"], "concurrency": best["concurrency"],
                                      "p95_ms": best["p95_ms"], "target_p95_ms": target_p95_ms}


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--url", help="an already running server on 127.0.0.1 (default: start one)")
    p.add_argument("--index", help="index folder for the server this script starts (default: the demo index)")
    p.add_argument("--requests", type=int, default=2000, help="searches per cell (default 2000)")
    p.add_argument("--concurrency", default="1,4,16", help="client counts, comma-separated (default 1,4,16)")
    p.add_argument("--stages", default="rerank,hybrid", help="rerank (default) and/or hybrid (no reranker)")
    p.add_argument("--k", type=int, default=10)
    p.add_argument("--rerank-depth", type=int, help="hits the reranker rescores (default: the server's, 50)")
    p.add_argument("--time-limit", type=float, default=180.0,
                   help="seconds per cell before it stops (default 180)")
    p.add_argument("--warmup", type=int, default=30, help="unmeasured searches per stages setting")
    p.add_argument("--target-p95-ms", type=float, default=150.0, help="with rerank (default 150)")
    p.add_argument("--target-hybrid-p95-ms", type=float, default=50.0, help="without rerank (default 50)")
    p.add_argument("--use-cache", action="store_true",
                   help="let the server answer repeats from its result cache (default: no-cache)")
    p.add_argument("--seed", type=int, default=13)
    p.add_argument("--out", default=str(ROOT / "bench" / "results" / "load.json"),
                   help="the JSON report; a latency-throughput plot is written beside it (.png)")
    args = p.parse_args(argv)

    if args.requests < 1 or args.requests > 100_000:
        p.error("--requests must be 1..100000")
    if args.time_limit <= 0 or args.time_limit > 1800:
        p.error("--time-limit must be in (0, 1800] seconds")
    levels = [int(x) for x in args.concurrency.split(",")]
    if any(not 1 <= c <= 64 for c in levels):
        p.error("--concurrency values must be 1..64")
    modes = [s.strip() for s in args.stages.split(",")]

    proc = None
    if args.url:
        u = urlparse(args.url)
        if u.hostname not in LOOPBACK:
            p.error(f"--url must point at this machine (127.0.0.1), got {u.hostname!r}")
        host, port = u.hostname, u.port or 80
    else:
        host, port = "127.0.0.1", free_port()
        log_path = ROOT / "bench" / "results" / "tmp" / (Path(args.out).stem + ".server.log")  # gitignored
        log_path.parent.mkdir(parents=True, exist_ok=True)
        proc = start_server(args.index, port, log_path)
        print(f"started server pid {proc.pid} on {host}:{port} (log: {log_path})", flush=True)
    try:
        ready = wait_ready(host, port, proc, timeout=600)
        pool = query_pool()
        sent: set[str] = set()  # what the server has seen in this run: its caches may hold it
        cells = []
        for stages in modes:
            warm = draw(pool, args.warmup, f"{args.seed}-warmup-{stages}")
            if warm:
                run_cell(host, port, warm, 2, stages, args.k, time_limit=120, use_cache=args.use_cache,
                         rerank_depth=args.rerank_depth)
                sent.update(warm)
            for c in levels:
                measured = draw(pool, args.requests, f"{args.seed}-{stages}-{c}")
                cell = run_cell(host, port, measured, c, stages, args.k, args.time_limit, args.use_cache,
                                server_pid=proc.pid if proc is not None else None,
                                rerank_depth=args.rerank_depth)
                cell["distinct_queries"] = len(set(measured))
                cell["seen_earlier_in_run"] = round(sum(q in sent for q in measured) / len(measured), 3)
                sent.update(measured)
                cells.append(cell)
                late = "  (time limit)" if cell["stopped_by_time_limit"] else ""
                print(f"{stages:7s} c={c:<3d} {cell['completed']:5d} done  "
                      f"{cell['throughput_rps']:7.1f} req/s  p50 {cell['p50_ms']:7.1f}  "
                      f"p95 {cell['p95_ms']:7.1f}  p99 {cell['p99_ms']:7.1f} ms  "
                      f"errors {cell['errors']}{late}",
                      flush=True)
    finally:
        if proc is not None:
            proc.terminate()
            try:
                proc.wait(30)
            except subprocess.TimeoutExpired:
                proc.kill()

    targets = {"rerank": args.target_p95_ms, "hybrid": args.target_hybrid_p95_ms}
    report = {
        "command": " ".join([Path(sys.executable).name, *sys.argv]),
        "machine": {"cpus": os.cpu_count(), "platform": platform.platform(),
                    "python": platform.python_version(),
                    "processor": platform.processor() or platform.machine()},
        "date_utc": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "server": ready, "queries": [str(f.relative_to(ROOT)) for f in QUERY_FILES],
        "query_pool_distinct": len(pool), "k": args.k, "result_cache": args.use_cache,
        "cells": cells,
        **{f"capacity_{stages}": capacity(cells, stages, target) for stages, target in targets.items()},
    }
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(report, indent=1) + "\n")
    plot(report, out.with_suffix(".png"), {"rerank": (4, targets["rerank"]), "hybrid": (16, targets["hybrid"])})
    print()
    print(f"{'stages':8s}{'clients':>8s}{'done':>7s}{'req/s':>9s}{'p50':>9s}{'p95':>9s}{'p99':>9s}{'errors':>8s}"
          f"{'cpu ms/req':>12s}{'load':>7s}")
    for c in cells:
        cpu = c["server_cpu_ms_per_request"]
        print(f"{c['stages']:8s}{c['concurrency']:>8d}{c['completed']:>7d}{c['throughput_rps']:>9.1f}"
              f"{c['p50_ms']:>9.1f}{c['p95_ms']:>9.1f}{c['p99_ms']:>9.1f}{c['errors']:>8d}"
              f"{(f'{cpu:.1f}' if cpu else '-'):>12s}{c['loadavg_before_after'][1]:>7.1f}")
    print()
    for stages, target in targets.items():
        if stages not in modes:
            continue
        cap = report[f"capacity_{stages}"]
        print(f"capacity with {stages} at p95 <= {target:g} ms: {cap['throughput_rps']} req/s "
              f"({cap['concurrency']} clients)" if cap else f"no {stages} cell kept p95 <= {target:g} ms")
    print(f"wrote {out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
