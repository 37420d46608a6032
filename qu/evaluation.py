"""`qu eval`: strict-span precision/recall/F1 per attribute on QueryNER, per layer combination.

Scoring is the same as checks/score.py: a predicted (attribute, norm(text)) pair is a true positive
when the gold spans of that query hold the same pair (sets per query, so duplicates count once).
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path

from qu._data import LABEL_TO_ATTRIBUTE, SCORED, load_split, norm

__all__ = ["LAYERS", "LAYER_SETS", "Scores", "evaluate", "gold_sets", "layer_set", "plot", "score_sets"]

LAYERS: tuple[str, ...] = ("rules", "tagger", "llm")

LAYER_SETS: dict[str, tuple[str, ...]] = {
    "rules": ("rules",),
    "tagger": ("tagger",),
    "rules+tagger": ("rules", "tagger"),
    "rules+tagger+llm": ("rules", "tagger", "llm"),
}


@dataclass
class Scores:
    per: dict[str, tuple[int, int, int]]

    @staticmethod
    def _prf(tp: int, fp: int, fn: int) -> dict[str, float]:
        p = tp / (tp + fp) if tp + fp else 0.0
        r = tp / (tp + fn) if tp + fn else 0.0
        f = 2 * tp / (2 * tp + fp + fn) if tp else 0.0
        # 6 decimals: a table printed to 3 from 4 rounded twice (0.66850 -> 0.6685 -> 0.668), where
        # checks/score.py, printing the exact value, says 0.669
        return {
            "precision": round(p, 6),
            "recall": round(r, 6),
            "f1": round(f, 6),
            "tp": tp,
            "fp": fp,
            "fn": fn,
        }

    def micro(self) -> dict[str, float]:
        return self._prf(*(sum(v[i] for v in self.per.values()) for i in range(3)))

    def table(self) -> dict[str, dict[str, float]]:
        return {a: self._prf(*v) for a, v in self.per.items()}


def layer_set(spec: str) -> str:
    """The canonical name of a layer combination given in any order: "tagger,rules" -> "rules+tagger"."""
    parts = [x.strip() for x in spec.replace("+", ",").split(",") if x.strip()]
    bad = [x for x in parts if x not in LAYERS]
    if bad or not parts:
        raise ValueError(f"unknown layer(s) {', '.join(map(repr, bad or [spec]))}; choose from {', '.join(LAYERS)}")
    return "+".join(x for x in LAYERS if x in parts)


def gold_sets(rows: list[dict]) -> list[set[tuple[str, str]]]:
    return [
        {
            (LABEL_TO_ATTRIBUTE[s["label"]], norm(s["text"]))
            for s in r["spans"]
            if LABEL_TO_ATTRIBUTE.get(s["label"]) in SCORED
        }
        for r in rows
    ]


def score_sets(pred: list[set], gold: list[set]) -> Scores:
    per = {a: [0, 0, 0] for a in SCORED}
    for p, g in zip(pred, gold, strict=False):
        for a in SCORED:
            gs = {x for x in g if x[0] == a}
            ps = {x for x in p if x[0] == a}
            per[a][0] += len(gs & ps)
            per[a][1] += len(ps - gs)
            per[a][2] += len(gs - ps)
    return Scores({a: tuple(v) for a, v in per.items()})


def pred_sets(parsed) -> list[set]:
    return [{(s.attribute, norm(s.text)) for s in p.spans if s.attribute in SCORED} for p in parsed]


def evaluate(extractor, split: str = "test", layer_sets: list[str] | None = None, limit: int | None = None) -> dict:
    """Scores of each layer combination on one QueryNER split (and its fashion subset when it has one).

    `layer_sets` name combinations in any order ("tagger+rules", "rules,llm"); `limit` scores only the
    first N queries of each split (quick checks; published figures use whole splits)."""
    out: dict = {"split": split, "layers": {}}
    names = [split] + ([f"fashion_{split}"] if not split.startswith("fashion_") else [])
    for name in names:
        rows = load_split(name)[:limit] if limit else load_split(name)
        gold = gold_sets(rows)
        queries = [r["query"] for r in rows]
        res = {}
        default = ["rules", "tagger", "rules+tagger"] + (["rules+tagger+llm"] if extractor.llm is not None else [])
        for ls in map(layer_set, layer_sets or default):
            t0 = time.perf_counter()
            parsed = extractor.parse_batch(queries, layers=tuple(ls.split("+")))
            secs = time.perf_counter() - t0
            sc = score_sets(pred_sets(parsed), gold)
            res[ls] = {
                "micro": sc.micro(),
                "per_attribute": sc.table(),
                "queries": len(rows),
                "seconds": round(secs, 3),
            }
        out["layers"][name] = res
    return out


def plot(res: dict, path: str | Path) -> None:
    """Strict-span F1 per attribute (and micro) for each layer combination, one panel per split: what
    each layer adds, at a glance."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    names = list(res["layers"])
    fig, axes = plt.subplots(1, len(names), figsize=(6.4 * len(names), 3.6), squeeze=False, sharey=True)
    attrs = ["micro", *SCORED]
    for ax, name in zip(axes[0], names, strict=True):
        per = res["layers"][name]
        width = 0.8 / max(1, len(per))
        for j, (ls, v) in enumerate(per.items()):
            f1 = [v["micro"]["f1"] if a == "micro" else v["per_attribute"][a]["f1"] for a in attrs]
            xs = [i + (j - (len(per) - 1) / 2) * width for i in range(len(attrs))]
            ax.bar(xs, f1, width, label=ls)
            ax.text(xs[0], f1[0] + 0.01, f"{f1[0]:.3f}", ha="center", fontsize=7)
        ax.set_xticks(range(len(attrs)), attrs)
        ax.set_ylim(0, 1)
        ax.set_title(f"{name} ({next(iter(per.values()))['queries']} queries)")
        ax.grid(axis="y", alpha=0.3)
    axes[0][0].set_ylabel("strict-span F1")
    axes[0][-1].legend(fontsize=8, loc="lower right")
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
