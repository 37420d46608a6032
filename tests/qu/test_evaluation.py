"""`evaluate()` and `qu eval` on the first few QueryNER dev queries (the full splits are benchmarks)."""

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from qu._data import SCORED, load_split
from qu.evaluation import evaluate, layer_set

ROOT = Path(__file__).resolve().parents[2]
ENV = {**os.environ, "HF_HUB_OFFLINE": "1", "TRANSFORMERS_OFFLINE": "1", "PRELOVED_LLM_BACKEND": ""}


def run(args, env=None):
    return subprocess.run(
        [sys.executable, "-m", "qu.cli", *args],
        capture_output=True,
        text=True,
        cwd=ROOT,
        env={**ENV, **(env or {})},
        timeout=300,
    )


def test_layer_set_accepts_any_order_and_rejects_unknown_layers():
    assert layer_set("tagger,rules") == "rules+tagger"
    assert layer_set("llm, rules") == "rules+llm"
    assert layer_set("llm+tagger+rules") == "rules+tagger+llm"
    with pytest.raises(ValueError, match=r"unknown layer\(s\) 'spacy'; choose from rules, tagger, llm"):
        layer_set("rules,spacy")
    with pytest.raises(ValueError, match="unknown layer"):
        layer_set(" , ")


def test_evaluate_a_few_queries(extractor):
    res = evaluate(extractor, "dev", ["tagger+rules", "rules"], limit=12)
    assert set(res["layers"]) == {"dev", "fashion_dev"}
    dev = res["layers"]["dev"]
    assert set(dev) == {"rules+tagger", "rules"}
    for v in dev.values():
        assert v["queries"] == 12 and set(v["per_attribute"]) == set(SCORED)
        for sc in [v["micro"], *v["per_attribute"].values()]:
            tp, fp, fn = sc["tp"], sc["fp"], sc["fn"]
            assert sc["precision"] == (round(tp / (tp + fp), 6) if tp + fp else 0.0)
            assert sc["recall"] == (round(tp / (tp + fn), 6) if tp + fn else 0.0)
    gold = sum(len(s["spans"]) for s in load_split("dev")[:12])
    micro = dev["rules+tagger"]["micro"]
    assert 0 < micro["tp"] + micro["fn"] <= gold  # every gold span of the five attributes is counted once
    assert micro["f1"] > 0.3  # the tagger reads these queries (dev micro-F1 is about 0.7)


def test_eval_plots_f1_per_attribute_and_layer(extractor, tmp_path):
    from qu.evaluation import plot

    res = evaluate(extractor, "dev", ["rules", "tagger+rules"], limit=12)
    out = tmp_path / "qu_dev.png"
    plot(res, out)
    assert out.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and out.stat().st_size > 10_000


def test_cli_eval_layers_in_any_order_and_bad_layers():
    r = run(["eval", "--split", "dev", "--layers", "tagger,rules", "--limit", "5"])
    assert r.returncode == 0, r.stderr
    lines = r.stdout.splitlines()
    assert lines[0].split()[:6] == ["split", "layers", "attribute", "precision", "recall", "F1"]
    rows = [line.split() for line in lines[1:]]
    assert {(x[0], x[1]) for x in rows} == {("dev", "rules+tagger"), ("fashion_dev", "rules+tagger")}
    assert [x[2] for x in rows if x[0] == "dev"] == ["micro", *SCORED]
    r = run(["eval", "--split", "dev", "--layers", "rules,spacy", "--limit", "5"])
    assert r.returncode == 2 and "Traceback" not in r.stderr
    assert r.stderr.strip().splitlines() == ["qu eval: error: unknown layer(s) 'spacy'; choose from rules, tagger, llm"]
    r = run(["eval", "--layers", "rules,llm", "--limit", "5"])  # no backend configured
    assert r.returncode == 2 and "needs a backend" in r.stderr and "Traceback" not in r.stderr


def test_cli_eval_llm_before_rules_with_the_fake_backend(tmp_path):
    r = run(
        ["eval", "--split", "dev", "--layers", "llm,rules", "--llm-backend", "fake", "--limit", "3"],
        env={"PRELOVED_CACHE_DIR": str(tmp_path), "PRELOVED_QU_LLM_POLICY": "always"},
    )
    assert r.returncode == 0, r.stderr
    rows = [line.split() for line in r.stdout.splitlines()[1:] if not line.startswith("llm:")]
    assert {x[1] for x in rows} == {"rules+llm"} and len(rows) == 2 * (1 + len(SCORED))
    (llm,) = [json.loads(line[len("llm:") :]) for line in r.stdout.splitlines() if line.startswith("llm:")]
    assert llm["calls"] + llm.get("cache_hits", 0) == 6  # the LLM layer saw all 3 + 3 queries


def test_scores_print_as_the_scorer_prints_them():
    """Printed to 3 decimals from the exact value, as checks/score.py prints it: 1944/2908 = 0.668501 is 0.669
    (kept to 4 decimals first, it printed 0.668)."""
    from qu.evaluation import Scores

    assert f"{Scores._prf(972, 511, 453)['f1']:.3f}" == f"{2 * 972 / (2 * 972 + 511 + 453):.3f}" == "0.669"
