"""`qu eval` scores exactly as the independent checks/score.py does (its norm and its set arithmetic)."""

import importlib.util
from pathlib import Path

import pytest

from qu._data import load_split, norm
from qu.evaluation import gold_sets, pred_sets, score_sets

SCORE = Path(__file__).resolve().parents[3] / "shared" / "checks" / "score.py"


@pytest.fixture(scope="module")
def score_module():
    if not SCORE.exists():
        pytest.skip("shared/checks/score.py not present")
    spec = importlib.util.spec_from_file_location("score", SCORE)
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


@pytest.mark.parametrize(
    "s", ["Men's", "levi’s 501", "  T-Shirt!! ", "w32/l30", "Dr. Martens", "ÉLAN", "size 8"]
)
def test_norm_is_the_scorers(score_module, s):
    assert norm(s) == score_module.norm(s)


def test_scores_agree_on_dev_sample(extractor, score_module):
    rows = load_split("dev")[:150]
    parsed = extractor.parse_batch([r["query"] for r in rows])
    ours = score_sets(pred_sets(parsed), gold_sets(rows)).micro()
    per = {a: [0, 0, 0] for a in score_module.MAP.values()}  # the scorer's own loop, on our CLI contract
    for r, o in zip(rows, [p.contract() for p in parsed], strict=False):
        gold = {
            (score_module.MAP[s["label"]], score_module.norm(s["text"]))
            for s in r["spans"]
            if s["label"] in score_module.MAP
        }
        pred = {
            (s.get("attribute"), score_module.norm(s.get("text", "")))
            for s in o.get("spans", [])
            if s.get("attribute") in per
        }
        for a in per:
            g = {x for x in gold if x[0] == a}
            p = {x for x in pred if x[0] == a}
            per[a][0] += len(g & p)
            per[a][1] += len(p - g)
            per[a][2] += len(g - p)
    tp, fp, fn = (sum(v[i] for v in per.values()) for i in range(3))
    assert (ours["tp"], ours["fp"], ours["fn"]) == (tp, fp, fn)
