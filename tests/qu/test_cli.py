import json
import os
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
QU = [sys.executable, "-m", "qu.cli"]
ENV = {**os.environ, "HF_HUB_OFFLINE": "1", "TRANSFORMERS_OFFLINE": "1", "PRELOVED_LLM_BACKEND": ""}
KEYS = {
    "query",
    "brand",
    "category",
    "size",
    "colour",
    "style",
    "gender",
    "condition",
    "price_min",
    "price_max",
    "spans",
}


def run(args, stdin=None):
    return subprocess.run(
        [*QU, *args], input=stdin, capture_output=True, text=True, cwd=ROOT, env=ENV, timeout=120
    )


def test_help_is_instant():
    t0 = time.perf_counter()
    r = run(["--help"])
    assert r.returncode == 0 and "eval" in r.stdout
    assert time.perf_counter() - t0 < 3.0


def test_single_query_and_empty_query():
    r = run(["addidas trainers uk 8"])
    assert r.returncode == 0, r.stderr
    out = json.loads(r.stdout)
    assert KEYS <= set(out) and out["brand"] == "adidas" and out["size"] == "uk 8"
    for s in out["spans"]:
        assert out["query"][s["start"] : s["end"]] == s["text"]
    r = run([""])
    assert r.returncode == 2 and "empty" in r.stderr and "Traceback" not in r.stderr


def test_input_lines_stay_aligned():
    stdin = 'nike air max\n\n   \n{"query": "levis 501 w32"}\n{not json\nuk 8 dress\n'
    r = run(["--input", "-", "--workers", "2"], stdin)
    assert r.returncode == 0, r.stderr
    rows = [json.loads(line) for line in r.stdout.splitlines()]
    assert len(rows) == 6
    assert rows[0]["brand"] == "nike"
    assert "error" in rows[1] and rows[1]["brand"] is None and rows[1]["spans"] == []
    assert "error" in rows[2]
    assert rows[3]["query"] == "levis 501 w32" and rows[3]["brand"] == "levi's"
    assert rows[4]["query"] == "{not json"
    assert rows[5]["size"] == "uk 8"
    assert all(KEYS <= set(r) for r in rows)


def test_train_baseline_rejects_bad_options_before_training():
    r = run(["train-baseline", "--layers", "9", "--no-test"])
    assert r.returncode == 2 and "--layers must be in 1..6" in r.stderr and "Traceback" not in r.stderr
    r = run(["train-baseline", "--labels", "some"])
    assert r.returncode == 2 and "invalid choice" in r.stderr
    for splits in ("train,test", "fashion_test", ","):
        r = run(["train-baseline", "--train-splits", splits, "--no-test"])
        assert r.returncode == 2 and "--train-splits takes train and/or dev" in r.stderr


def test_export_tagger_names_a_missing_source(tmp_path):
    r = run(["export-tagger", "--source", str(tmp_path / "nope"), str(tmp_path / "nope2"),
             "--output", str(tmp_path / "out")])
    assert r.returncode == 2 and "no fine-tuned model at" in r.stderr and "Traceback" not in r.stderr
    assert not (tmp_path / "out").exists()


def test_bad_workers_is_a_usage_error():
    r = run(["--input", "-", "--workers", "0"], "nike\n")
    assert r.returncode == 2 and "--workers" in r.stderr and "Traceback" not in r.stderr
