"""The load test's plot and capacity figures are drawn from its own report (no server needed)."""

from __future__ import annotations

import importlib.util
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def _load_test():
    spec = importlib.util.spec_from_file_location("load_test", ROOT / "bench" / "load_test.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_the_load_report_is_plotted(tmp_path):
    load_test = _load_test()
    cells = [{"stages": s, "concurrency": c, "throughput_rps": t, "p50_ms": p, "p95_ms": 1.5 * p, "p99_ms": 2 * p}
             for s, rows in {"rerank": [(1, 20, 40), (4, 50, 70)], "hybrid": [(1, 70, 13), (4, 110, 34)]}.items()
             for c, t, p in rows]
    report = {"cells": cells, "machine": {"cpus": 2}, "result_cache": False}
    out = tmp_path / "load.png"
    load_test.plot(report, out, {"rerank": (4, 150.0), "hybrid": (16, 50.0)})
    assert out.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and out.stat().st_size > 10_000


def test_capacity_is_the_busiest_cell_within_the_target_and_without_errors():
    load_test = _load_test()
    cells = [{"stages": "hybrid", "concurrency": c, "throughput_rps": t, "p95_ms": p95, "errors": e}
             for c, t, p95, e in [(1, 90, 16, 0), (4, 135, 43, 0), (8, 150, 49, 2), (16, 187, 107, 0)]]
    cells.append({"stages": "rerank", "concurrency": 4, "throughput_rps": 63, "p95_ms": 84, "errors": 0})
    # 8 clients kept p95 within 50 ms but had errors; 16 served more but over it: 4 clients is the capacity
    assert load_test.capacity(cells, "hybrid", 50.0) == {"throughput_rps": 135, "concurrency": 4, "p95_ms": 43,
                                                         "target_p95_ms": 50.0}
    assert load_test.capacity(cells, "hybrid", 10.0) is None
    assert load_test.capacity(cells, "rerank", 150.0)["throughput_rps"] == 63
