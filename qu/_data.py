"""Reading QueryNER and the shared scoring rules (the same `norm()` as checks/score.py)."""

from __future__ import annotations

import json
import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
DATA = ROOT / "data"
QUERYNER = DATA / "queryner"
VOCAB = DATA / "vocab"
LEXICONS = DATA / "lexicons"

# QueryNER label -> our attribute (the five scored ones, plus the rest that qu also reads).
LABEL_TO_ATTRIBUTE: dict[str, str] = {
    "creator": "brand",
    "color": "colour",
    "core_product_type": "category",
    "department": "gender",
    "UoM": "size",
    "condition": "condition",
    "modifier": "style",
    "material": "style",
    "shape": "style",
    "occasion": "style",
}
# Every QueryNER label, most frequent in train first.
QUERYNER_LABELS: tuple[str, ...] = (
    "core_product_type", "modifier", "creator", "department", "product_name", "content", "UoM",
    "color", "shape", "material", "occasion", "condition", "quantity", "price", "origin", "time",
    "product_number",
)
SCORED: tuple[str, ...] = ("brand", "colour", "category", "gender", "size")
SPLITS = ("train", "dev", "test", "fashion_train", "fashion_dev", "fashion_test")


def norm(s: str) -> str:
    """Span text normalisation used for strict matching (identical to checks/score.py)."""
    s = str(s).lower().replace("\u2019", "'")
    return re.sub(r"[^a-z0-9]+", " ", re.sub(r"'s\b", "s", s)).strip()


def load_split(name: str) -> list[dict]:
    if name not in SPLITS:
        raise ValueError(f"unknown QueryNER split {name!r}; choose from {', '.join(SPLITS)}")
    with open(QUERYNER / f"{name}.jsonl", encoding="utf-8") as f:
        return [json.loads(line) for line in f if line.strip()]


def char_spans(row: dict) -> list[tuple[str, int, int]]:
    """(label, start_char, end_char) of a QueryNER row; its query is its tokens joined by spaces."""
    offsets, pos = [], 0
    for tok in row["tokens"]:
        offsets.append((pos, pos + len(tok)))
        pos += len(tok) + 1
    return [(s["label"], offsets[s["start"]][0], offsets[s["end"] - 1][1]) for s in row["spans"]]
