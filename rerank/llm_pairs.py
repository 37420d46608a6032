"""LLM-judged training pairs: an LLM grades (query, product) pairs on the ESCI scale, through qu's
LLM backends (an OpenAI-compatible server, the in-process GGUF model, or the fake one for tests).

    # how well does the judge agree with people? ESCI dev's human labels, a seeded sample
    python -m rerank.llm_pairs agreement --backend openai --url http://127.0.0.1:8080/v1 --limit 200
    # extra pairs for `preloved train-reranker`: the mined hybrid candidates of ESCI train that no person judged
    python -m rerank.llm_pairs judge --backend openai --url ... --candidates 8 --out .cache/rerank/llm_pairs.jsonl

The prompt is a versioned file in prompts/ (`judge_relevance.v1.txt` and its few-shot examples). The
answer must be JSON {"label": "E" | "S" | "C" | "I"}; anything else counts as malformed and grades
nothing. Answers are cached on disk by (prompt, model, query and product text). Written pairs carry
the ESCI gain of the label (E 1.0, S 0.1, C 0.01, I 0.0), the scale the trainer's `extra_pairs` take.
Measure the agreement first: a judge that does not agree with people teaches the reranker its errors.
"""

from __future__ import annotations

import argparse
import json
import logging
import random
import sys
import time
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

from qu.llm.prompts import read_examples
from rerank._data import GAIN, read_esci
from rerank._text import listing_text

logger = logging.getLogger(__name__)

ROOT = Path(__file__).resolve().parents[1]
PROMPTS = ROOT / "prompts"
LABELS = tuple(GAIN)  # E, S, C, I
SCHEMA = {
    "type": "object",
    "properties": {"label": {"type": "string", "enum": list(LABELS)}},
    "required": ["label"],
    "additionalProperties": False,
}


@dataclass(frozen=True)
class JudgePrompt:
    id: str
    template: str
    examples: tuple[tuple[str, str, str], ...]  # (query, product text, label)

    def render(self, query: str, listing: str) -> str:
        shots = "\n".join(
            f"Query: {q}\nProduct: {t}\nJSON: {json.dumps({'label': lab})}\n" for q, t, lab in self.examples
        )
        one_line = lambda s: " ".join(s.split())  # noqa: E731  data stays on its line
        return (self.template.replace("{examples}", shots).replace("{query}", one_line(query))
                .replace("{listing}", one_line(listing)))


def load_judge_prompt(prompt_id: str = "judge_relevance.v1", directory: Path = PROMPTS) -> JudgePrompt:
    """The prompt file and its examples; an unknown id, a missing placeholder or a bad example raises."""
    path = directory / f"{prompt_id}.txt"
    if not path.is_file():
        known = sorted(p.stem for p in directory.glob("judge_*.txt"))
        raise ValueError(f"unknown judge prompt {prompt_id!r}; available: {', '.join(known) or 'none'}")
    template = path.read_text(encoding="utf-8")
    for placeholder in ("{examples}", "{query}", "{listing}"):
        if placeholder not in template:
            raise ValueError(f"judge prompt {prompt_id!r} lacks the {placeholder} placeholder")
    examples = []
    ex = directory / f"{prompt_id}.examples.jsonl"
    if ex.is_file():
        for n, row in read_examples(ex, {"query", "listing", "label"}):
            if row["label"] not in GAIN:
                raise ValueError(f"{ex.name} line {n}: label {row['label']!r} is not one of {', '.join(LABELS)}")
            examples.append((row["query"], row["listing"], row["label"]))
    return JudgePrompt(prompt_id, template, tuple(examples))


class Judge:
    """Grades (query, product text) pairs with an LLM client; never raises for a bad answer."""

    def __init__(self, client, prompt: JudgePrompt, cache_dir: Path | None = None, timeout_s: float = 30.0):
        from qu.llm.cache import DiskCache

        self.client, self.prompt, self.timeout_s = client, prompt, timeout_s
        self.cache = DiskCache(Path(cache_dir)) if cache_dir else None
        self.counts: Counter = Counter()
        self.seconds: list[float] = []

    def grade(self, query: str, text: str) -> str | None:
        """E, S, C or I; None when the backend failed or answered something else (counted)."""
        model = getattr(self.client, "model", "unknown")
        key = f"{query}\n{text}"
        answer = self.cache.get(self.prompt.id, model, key) if self.cache else None
        if answer is not None:
            self.counts["cache_hits"] += 1
        else:
            t = time.perf_counter()
            try:
                answer = self.client.complete(self.prompt.render(query, text), SCHEMA, self.timeout_s)
            except Exception as e:  # a server down, slow or broken: counted, and the pair is not graded
                self.counts["failures"] += 1
                logger.warning("judge call failed for %r: %s", query, e)
                return None
            self.counts["calls"] += 1
            self.seconds.append(time.perf_counter() - t)
            if self.cache:
                self.cache.put(self.prompt.id, model, key, answer)
        try:
            label = json.loads(answer)["label"]
        except (ValueError, KeyError, TypeError):
            label = None
        if label not in GAIN:
            self.counts["malformed"] += 1
            return None
        return label


def agreement(pairs: list[tuple[str, str, str]], judge: Judge, show_progress: bool = True) -> dict:
    """The judge's labels against people's on (query, text, human label) pairs."""
    from tqdm.auto import tqdm

    confusion = {h: Counter() for h in LABELS}
    for q, text, human in tqdm(pairs, desc="judging", unit="pair", disable=not show_progress):
        confusion[human][judge.grade(q, text) or "none"] += 1
    graded = sum(c[lab] for c in confusion.values() for lab in LABELS)
    agree = sum(confusion[lab][lab] for lab in LABELS)
    majority = Counter(h for _, _, h in pairs).most_common(1)[0]
    # E against the rest: what the reranker most needs from a judge
    tp = confusion["E"]["E"]
    said_e = sum(c["E"] for c in confusion.values())
    return {
        "pairs": len(pairs), "graded": graded, "agreement": agree / graded if graded else 0.0,
        "majority_label": majority[0], "majority_share": majority[1] / len(pairs),
        "exact_precision": tp / said_e if said_e else 0.0,
        "exact_recall": tp / sum(confusion["E"].values()) if confusion["E"] else 0.0,
        "confusion (human -> judge)": {h: dict(c) for h, c in confusion.items()},
        "counts": dict(judge.counts),
        "seconds_per_call_p50": sorted(judge.seconds)[len(judge.seconds) // 2] if judge.seconds else None,
    }


def judge_pairs(candidates: dict[str, list[str]], texts: dict[str, str], judged: set[tuple[str, str]],
                judge: Judge, per_query: int, show_progress: bool = True) -> list[dict]:
    """Extra pairs: for each query, its first `per_query` candidates that no person judged, graded by
    the judge; a pair the judge could not grade is left out."""
    from tqdm.auto import tqdm

    rows = []
    for q, ids in tqdm(candidates.items(), desc="judging", unit="query", disable=not show_progress):
        for pid in [p for p in ids if (q, p) not in judged][:per_query]:
            label = judge.grade(q, texts[pid])
            if label is not None:
                rows.append({"query": q, "product_id": pid, "label": GAIN[label], "judge": label})
    return rows


def _client(args):
    from preloved.settings import get_settings
    from qu.llm.backends import make_client

    settings = get_settings()
    backend = args.backend or settings.llm_backend
    if not backend:
        raise ValueError("name a backend: --backend openai|gguf|fake (or PRELOVED_LLM_BACKEND)")
    return make_client(backend, url=args.url or settings.llm_url, model=args.model or settings.llm_model,
                       cache_dir=settings.cache_dir), settings


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m rerank.llm_pairs", description=__doc__.split("\n\n")[0])
    sub = ap.add_subparsers(dest="command", required=True)
    for name in ("agreement", "judge"):
        p = sub.add_parser(name)
        p.add_argument("--backend", default=None, help="openai | gguf | fake (default: settings.llm_backend)")
        p.add_argument("--url", default=None)
        p.add_argument("--model", default=None)
        p.add_argument("--prompt", default="judge_relevance.v1")
        p.add_argument("--timeout", type=float, default=30.0, help="seconds a call may take")
        p.add_argument("--esci", type=Path, default=ROOT / "data" / "esci")
    agree = sub.choices["agreement"]
    agree.add_argument("--limit", type=int, default=200, help="dev pairs to judge, a seeded sample")
    agree.add_argument("--seed", type=int, default=0)
    agree.add_argument("--out", type=Path, default=None, help="report JSON (default bench/results/llm_judge.json)")
    judge_p = sub.choices["judge"]
    judge_p.add_argument("--candidates", type=int, default=8, help="unjudged mined candidates a train query")
    judge_p.add_argument("--limit", type=int, default=None, help="train queries to use (default all)")
    judge_p.add_argument("--out", type=Path, required=True)
    args = ap.parse_args(argv)
    if args.limit is not None and args.limit < 1:
        ap.error("--limit must be at least 1")
    try:
        prompt = load_judge_prompt(args.prompt)
        client, settings = _client(args)
        dev_path, train_path = args.esci / "esci_us_dev.jsonl", args.esci / "esci_us_train.jsonl"
        dev, dev_products = read_esci(dev_path)
        train, train_products = read_esci(train_path)
    except (ValueError, ImportError, OSError) as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    judge = Judge(client, prompt, cache_dir=Path(settings.cache_dir) / "rerank_judge", timeout_s=args.timeout)

    if args.command == "agreement":
        pairs = [(j.query, listing_text(dev_products[j.product_id]), j.label) for j in dev]
        random.Random(args.seed).shuffle(pairs)
        report = {"prompt": prompt.id, "model": getattr(client, "model", "unknown"), "split": "dev",
                  **agreement(pairs[: args.limit], judge)}
        out = args.out or ROOT / "bench" / "results" / "llm_judge.json"
        out.parent.mkdir(parents=True, exist_ok=True)
        out.write_text(json.dumps(report, indent=2) + "\n")
        print(json.dumps({k: v for k, v in report.items() if k != "confusion (human -> judge)"}))
        return 0

    from rerank._candidates import mine
    from rerank._data import build_pool

    pool = build_pool([train_path, dev_path, args.esci / "esci_us_test.jsonl"])
    judged = {(j.query, j.product_id) for j in train}
    queries = sorted({j.query for j in train})[: args.limit]
    mined = mine(pool, queries, depth=50, cache_dir=Path(settings.cache_dir) / "rerank").hits
    candidates = {q: [h.id for h in mined[q]] for q in queries}
    texts = {pid: listing_text(pool[pid]) for ids in candidates.values() for pid in ids}
    rows = judge_pairs(candidates, texts, judged, judge, args.candidates)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    with args.out.open("w", encoding="utf-8") as f:
        for r in rows:
            f.write(json.dumps(r, ensure_ascii=False) + "\n")
    print(json.dumps({"queries": len(queries), "pairs": len(rows), "by_label": dict(Counter(r["judge"] for r in rows)),
                      "counts": dict(judge.counts), "out": str(args.out)}))
    return 0


if __name__ == "__main__":
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    raise SystemExit(main())
