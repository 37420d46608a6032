"""The load test's latency-throughput plot is drawn from its own report (no server needed)."""

from __future__ import annotations

import importlib.util
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def test_the_load_report_is_plotted(tmp_path):
    spec = importlib.util.spec_from_file_location("load_test", ROOT / "bench" / "load_test.py")
    load_test = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(load_test)
    cells = [{"stages": s, "concurrency": c, "throughput_rps": t, "p50_ms": p, "p95_ms": 1.5 * p, "p99_ms": 2 * p}
             for s, rows in {"rerank": [(1, 20, 40), (4, 50, 70)], "hybrid": [(1, 70, 13), (4, 110, 34)]}.items()
             for c, t, p in rows]
    report = {"cells": cells, "machine": {"cpus": 2}, "result_cache": False}
    out = tmp_path / "load.png"
    load_test.plot(report, out, {"rerank": (4, 150.0), "hybrid": (16, 50.0)})
    assert out.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and out.stat().st_size > 10_000
