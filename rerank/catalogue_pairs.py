"""Catalogue-derived training pairs: real shopper queries matched on attributes against a catalogue.

    python -m rerank.catalogue_pairs --out .cache/rerank/catalogue_pairs.jsonl

For each query (default: QueryNER fashion train, real Amazon fashion queries) qu reads its
attributes, the hybrid retriever brings the catalogue's top `depth` listings (no filters, so that
they disagree in kind), and each listing is graded by the attributes it shares with the query, on
the ESCI gain scale the trainer uses: the query's category and every other attribute it names
(brand, colour, gender) agree: 1.0 (exact); the category agrees but another attribute does not:
0.1 (a substitute); the category does not: 0.0. A query qu reads no known category for is skipped,
and so is one with no exact listing. The lines are `extra_pairs` for `preloved train-reranker`:
{"query", "text", "label", "listing_id"}.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections import Counter
from pathlib import Path

from rerank._text import listing_text
from retrieval.attributes import value_matches, words
from retrieval.types import Listing

GRADES = {"exact": 1.0, "substitute": 0.1, "irrelevant": 0.0}
KEEP = {"exact": 3, "substitute": 2, "irrelevant": 3}  # per query, best-retrieved first


def _agrees(attr: str, asked, have) -> bool | None:
    """Whether a listing's value agrees with an asked one (any of a list); None: nothing to compare."""
    if not asked or not have:
        return None
    asked = asked if isinstance(asked, list) else [asked]
    h = " ".join(words(have))
    return any(value_matches(attr, " ".join(words(a)), h) for a in asked)


def grade(parsed, listing: Listing) -> str | None:
    """"exact", "substitute" or "irrelevant" for a listing against qu's reading of a query; None
    when the listing has no category to compare."""
    kind = _agrees("category", parsed.category, listing.category)
    if kind is None:
        return None
    if not kind:
        return "irrelevant"
    others = [_agrees(a, getattr(parsed, a), getattr(listing, a)) for a in ("brand", "colour", "gender")]
    return "substitute" if False in others else "exact"


def build(queries: list[str], index, extractor, *, depth: int = 30, show_progress: bool = True) -> list[dict]:
    from tqdm.auto import tqdm

    from qu.taxonomy import get_taxonomy

    taxonomy = get_taxonomy()
    rows: list[dict] = []
    parsed_all = extractor.parse_batch(queries)
    for q, p in tqdm(list(zip(queries, parsed_all, strict=True)), desc="catalogue pairs", unit="query",
                     disable=not show_progress):
        cats = p.category if isinstance(p.category, list) else [p.category]
        if not any(c in taxonomy.parents for c in cats if c):
            continue
        picked: dict[str, list[Listing]] = {g: [] for g in GRADES}
        for hit in index.search(q, k=depth, stage="hybrid").hits:
            listing = index.get(hit.id)
            g = grade(p, listing) if listing is not None else None
            if g is not None and len(picked[g]) < KEEP[g]:
                picked[g].append(listing)
        if not picked["exact"]:
            continue
        for g, listings in picked.items():
            rows += [
                {"query": q, "text": listing_text(lst), "label": GRADES[g], "listing_id": lst.id} for lst in listings
            ]
    return rows


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m rerank.catalogue_pairs", description=__doc__.split("\n\n")[0])
    ap.add_argument("--out", type=Path, required=True, help="JSONL file to write")
    ap.add_argument("--split", default="fashion_train", help="QueryNER split whose queries to use (train splits only)")
    ap.add_argument("--index", type=Path, default=None, help="index folder (default: settings.index_dir)")
    ap.add_argument("--depth", type=int, default=30, help="listings retrieved per query (default 30)")
    args = ap.parse_args(argv)
    if "train" not in args.split:
        print(f"error: --split {args.split!r}: catalogue pairs are training data; use a train split", file=sys.stderr)
        return 2

    from preloved.settings import get_settings
    from qu import load_extractor
    from qu._data import load_split
    from retrieval import Index

    settings = get_settings()
    queries = list(dict.fromkeys(" ".join(r["tokens"]) for r in load_split(args.split)))
    index = Index.load(args.index or settings.index_dir)
    rows = build(queries, index, load_extractor(settings), depth=args.depth)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    with args.out.open("w", encoding="utf-8") as f:
        for r in rows:
            f.write(json.dumps(r, ensure_ascii=False) + "\n")
    counts = Counter(r["label"] for r in rows)
    print(json.dumps({"queries": len({r["query"] for r in rows}), "of": len(queries), "pairs": len(rows),
                      "by_label": {str(k): v for k, v in sorted(counts.items())}, "out": str(args.out)}))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
