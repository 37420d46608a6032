"""ESCI relevance data: judged pairs, the product pool and graded gains (the KDD Cup's)."""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

from retrieval.types import Listing

GAIN: dict[str, float] = {"E": 1.0, "S": 0.1, "C": 0.01, "I": 0.0}


class DataError(ValueError):
    """A training or evaluation file is missing, malformed, or has labels on the wrong scale."""


@dataclass(frozen=True)
class Judgment:
    query: str
    product_id: str
    label: str  # one of E, S, C, I

    @property
    def gain(self) -> float:
        return GAIN[self.label]


def read_jsonl(path: str | Path) -> list[dict]:
    path = Path(path)
    if not path.is_file():
        raise DataError(f"data file not found: {path}")
    rows = []
    with path.open(encoding="utf-8") as fh:
        for n, line in enumerate(fh, 1):
            if not line.strip():
                continue
            try:
                rows.append(json.loads(line))
            except json.JSONDecodeError as exc:
                raise DataError(f"{path}:{n}: not valid JSON ({exc.msg})") from exc
    return rows


def read_esci(path: str | Path) -> tuple[list[Judgment], dict[str, Listing]]:
    """Judged (query, product, E/S/C/I) rows and the listings they mention."""
    judgments: list[Judgment] = []
    products: dict[str, Listing] = {}
    for n, r in enumerate(read_jsonl(path), 1):
        missing = [k for k in ("query", "product_id", "product_title", "label") if k not in r]
        if missing:
            raise DataError(f"{path}:{n}: missing field(s) {', '.join(missing)}")
        if r["label"] not in GAIN:
            raise DataError(
                f"{path}:{n}: label {r['label']!r} is not on the ESCI scale; expected one of "
                f"{', '.join(GAIN)}"
            )
        judgments.append(Judgment(str(r["query"]), str(r["product_id"]), r["label"]))
        products.setdefault(
            str(r["product_id"]),
            Listing(
                id=str(r["product_id"]),
                title=r["product_title"],
                brand=r.get("product_brand"),
                colour=r.get("product_color"),
                description=r.get("product_text"),
            ),
        )
    return judgments, products


def build_pool(paths: Iterable[str | Path]) -> dict[str, Listing]:
    """All products of the given ESCI files, first occurrence wins (as checks/score.py builds it)."""
    pool: dict[str, Listing] = {}
    for p in paths:
        for pid, listing in read_esci(p)[1].items():
            pool.setdefault(pid, listing)
    return pool


def qrels(judgments: Sequence[Judgment], *, drop_unanswerable: bool = True) -> dict[str, dict[str, float]]:
    """query -> {product: gain}; queries whose best gain is 0 are dropped, as the scorer does."""
    out: dict[str, dict[str, float]] = {}
    for j in judgments:
        out.setdefault(j.query, {})[j.product_id] = j.gain
    if drop_unanswerable:
        out = {q: v for q, v in out.items() if max(v.values()) > 0}
    return out
