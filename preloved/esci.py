"""The ESCI relevance benchmark: the product pool, the judged queries per split, as score.py builds them."""

from __future__ import annotations

import json
from pathlib import Path

from preloved.metrics import ESCI_GAIN

SPLITS = ("train", "dev", "test")


def _rows(data_dir: Path, split: str) -> list[dict]:
    if split not in SPLITS:
        raise ValueError(f"unknown ESCI split {split!r}: choose from {', '.join(SPLITS)}")
    with open(data_dir / "esci" / f"esci_us_{split}.jsonl", encoding="utf-8") as f:
        return [json.loads(line) for line in f]


def product_pool(data_dir: Path) -> list[dict]:
    """Every product judged in any split, as listings (id, title, brand, colour, description)."""
    pool: dict[str, dict] = {}
    for split in SPLITS:
        for r in _rows(data_dir, split):
            pool.setdefault(r["product_id"], {"id": r["product_id"], "title": r["product_title"],
                                              "brand": r["product_brand"], "colour": r["product_color"],
                                              "description": r["product_text"]})
    return list(pool.values())


def qrels(data_dir: Path, split: str) -> dict[str, dict[str, float]]:
    """query -> {product id: gain}, keeping queries with at least one positive gain."""
    out: dict[str, dict[str, float]] = {}
    for r in _rows(data_dir, split):
        out.setdefault(r["query"], {})[r["product_id"]] = ESCI_GAIN[r["label"]]
    return {q: v for q, v in out.items() if max(v.values()) > 0}
