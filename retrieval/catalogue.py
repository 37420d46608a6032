"""Reading catalogue files (JSON lines) into validated `Listing`s."""

from __future__ import annotations

import json
import math
from collections.abc import Iterable
from pathlib import Path

from retrieval.errors import CatalogueError
from retrieval.types import Listing

_KNOWN = set(Listing.model_fields) - {"metadata"}
_TEXT_FIELDS = ("brand", "category", "colour", "size", "gender", "condition", "description")
# other names catalogues give the same fields (US spelling, marketplace exports, Amazon's ESCI
# columns), read when the row lacks our own; the key as written stays in `metadata`
ALIASES = {
    "title": ("name", "product_title", "product_name"),
    "colour": ("color", "product_color", "product_colour"),
    "brand": ("product_brand", "designer"),
    "description": ("product_text", "product_description"),
    "category": ("product_type", "article_type", "articleType"),
}


def with_aliases(row: dict) -> dict:
    """`row` with the fields it gives under another name (`ALIASES`) also under ours; the first
    alias given wins, and a field under our own name always does."""
    found = {canon: next((row[a] for a in names if row.get(a) not in (None, "")), None)
             for canon, names in ALIASES.items() if canon not in row}
    return {**{k: v for k, v in found.items() if v is not None}, **row}


def listing_from_dict(row: dict, *, path: str | None = None, line: int | None = None) -> Listing:
    """One catalogue row to a `Listing`; unknown keys go into `metadata`. Raises CatalogueError."""
    if not isinstance(row, dict):
        raise CatalogueError(f"expected a JSON object, got {type(row).__name__}", path=path, line=line)
    row = with_aliases(row)
    rid = row.get("id")
    if rid is None or (isinstance(rid, str) and not rid.strip()):
        raise CatalogueError("missing 'id'", path=path, line=line)
    if not isinstance(rid, str | int) or isinstance(rid, bool):
        raise CatalogueError(f"'id' must be a string or an integer, got {rid!r}", path=path, line=line)
    title = row.get("title")
    if not isinstance(title, str) or not title.strip():
        raise CatalogueError(f"listing {rid!r} has no 'title' (got {title!r}; also read from "
                             f"{', '.join(ALIASES['title'])})", path=path, line=line)
    data: dict[str, object] = {"id": str(rid).strip(), "title": title.strip()}
    for key in _TEXT_FIELDS:
        v = row.get(key)
        if v is None or (isinstance(v, str) and not v.strip()):
            continue
        if not isinstance(v, str | int | float) or isinstance(v, bool):
            raise CatalogueError(f"listing {rid!r}: '{key}' must be text, got {v!r}", path=path, line=line)
        data[key] = str(v).strip()
    price = row.get("price")
    if price is not None and price != "":
        try:
            p = float(price)
        except (TypeError, ValueError):
            raise CatalogueError(
                f"listing {rid!r}: 'price' must be a number, got {price!r}", path=path, line=line
            ) from None
        if not math.isfinite(p) or p < 0:
            raise CatalogueError(f"listing {rid!r}: 'price' must be >= 0, got {price!r}", path=path, line=line)
        data["price"] = p
    data["metadata"] = {k: v for k, v in row.items() if k not in _KNOWN and k != "metadata"}  # aliases too
    if isinstance(row.get("metadata"), dict):
        data["metadata"] = {**row["metadata"], **data["metadata"]}  # type: ignore[dict-item]
    return Listing(**data)  # type: ignore[arg-type]


def read_catalogue(path: str | Path) -> list[Listing]:
    """Read a JSONL catalogue. `id` and `title` are required; ids must be unique.

    Raises CatalogueError naming the line for bytes that are not UTF-8, bad JSON, a missing id or
    title, or a duplicate id. Blank lines are skipped.
    """
    path = Path(path)
    if not path.is_file():
        raise CatalogueError("no such file", path=str(path))
    out: list[Listing] = []
    seen: dict[str, int] = {}
    with path.open("rb") as f:
        for n, data in enumerate(f, start=1):
            try:
                raw = data.decode("utf-8")
            except UnicodeDecodeError as e:
                raise CatalogueError(
                    f"not valid UTF-8 (byte {data[e.start]:#04x} at column {e.start + 1})", path=str(path), line=n
                ) from None
            if not raw.strip():
                continue
            try:
                row = json.loads(raw)
            except json.JSONDecodeError as e:
                raise CatalogueError(f"bad JSON ({e.msg} at column {e.colno})", path=str(path), line=n) from None
            listing = listing_from_dict(row, path=str(path), line=n)
            if listing.id in seen:
                raise CatalogueError(
                    f"duplicate id {listing.id!r} (first on line {seen[listing.id]})", path=str(path), line=n
                )
            seen[listing.id] = n
            out.append(listing)
    return out


def check_unique(listings: Iterable[Listing]) -> None:
    """Raise CatalogueError when two listings share an id."""
    seen: set[str] = set()
    for i, listing in enumerate(listings):
        if listing.id in seen:
            raise CatalogueError(f"duplicate id {listing.id!r} at position {i}")
        seen.add(listing.id)
