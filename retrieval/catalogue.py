"""Reading catalogue files (JSON lines, a JSON array or an object holding one, CSV or TSV, any of
them gzipped) into validated `Listing`s."""

from __future__ import annotations

import csv
import gzip
import io
import json
import math
import re
from collections.abc import Iterable
from pathlib import Path
from typing import IO

from retrieval.errors import CatalogueError
from retrieval.types import Listing

_KNOWN = set(Listing.model_fields) - {"metadata"}
_TEXT_FIELDS = ("brand", "category", "colour", "size", "gender", "condition", "description")
# other names catalogues give the same fields (US spelling, marketplace exports such as Vinted's
# "brand_title" and "size_title", Amazon's ESCI columns), read when the row lacks our own; the key as
# written stays in `metadata`. Not "status": a condition in some exports, "active" or "sold" in others
ALIASES = {
    "id": ("product_id", "item_id", "listing_id", "sku", "handle"),
    "title": ("name", "product_title", "product_name", "item_title", "listing_title", "item_name"),
    "colour": ("color", "product_color", "product_colour", "color_1", "colour_1", "color1", "colour1"),
    "brand": ("product_brand", "designer", "vendor", "brand_name", "brand_title", "manufacturer"),
    "description": ("product_text", "product_description", "product_bullet_point", "details",
                    "item_description", "listing_description", "body_html"),
    "category": ("product_type", "article_type", "articletype", "product_category", "item_category",
                 "category_name", "catalog_title", "type"),
    "size": ("size_label", "size_title", "size_name", "product_size", "item_size"),
    "gender": ("department", "sex"),
    "condition": ("item_condition", "product_condition"),
    "price": ("product_price", "listing_price", "item_price", "variant_price", "sale_price", "price_amount"),
}
# a price as sellers' exports write it: "£12.50", "15 EUR", "$1,200", "12,50 €", "1.200,50 €"
_PRICE = re.compile(
    r"\s*(?:[£$€]|gbp|usd|eur)?\s*"
    r"(?:(\d{1,3}(?:,\d{3})+|\d+)(\.\d+)?|(\d{1,3}(?:\.\d{3})+|\d+),(\d{1,2}))"  # 1,200.50 | 1.200,50
    r"\s*(?:[£$€]|gbp|usd|eur)?\s*",
    re.I,
)


_OPTION_NAME = re.compile(r"option_?\d+_name")


def _column(name: str) -> str:
    """A column's name as matched against ours and `ALIASES`: "Item ID", "item-id" and "item_id" alike."""
    return re.sub(r"[^a-z0-9]+", "_", name.strip().lower()).strip("_")


def with_aliases(row: dict) -> dict:
    """`row` with the fields it gives under another name (`ALIASES`, matched whatever the case and
    separators: "Title", "Item ID") also under ours; our own name wins, then the first alias given."""
    columns: dict[str, str] = {}
    for k in row:
        if isinstance(k, str):
            columns.setdefault(_column(k), k)
    found = {}
    # a shop export's variant options ("Option1 Name" = "Size", "Option1 Value" = "W32 L32"), as Shopify writes them
    for col, k in columns.items():
        value_key = columns.get(col.removesuffix("name") + "value") if _OPTION_NAME.fullmatch(col) else None
        if value_key and isinstance(row[k], str) and row[value_key] not in (None, ""):
            canon = {"size": "size", "colour": "colour", "color": "colour"}.get(row[k].strip().lower())
            if canon and canon not in row:
                found.setdefault(canon, row[value_key])
    for canon, names in ALIASES.items():
        if canon in row:
            continue
        for name in (canon, *names):
            k = columns.get(name)
            if k is not None and row[k] not in (None, ""):
                found[canon] = row[k]
                break
    return {**found, **row}


def _price(value: object) -> float:
    """A price as a number; raises ValueError or TypeError when it is none."""
    if not isinstance(value, str):
        return float(value)  # type: ignore[arg-type]
    m = _PRICE.fullmatch(value)
    if m is None:
        return float(value)
    if m.group(1) is not None:
        return float(m.group(1).replace(",", "") + (m.group(2) or ""))
    return float(m.group(3).replace(".", "") + "." + m.group(4))


_NAME_KEYS = ("title", "name", "value", "label", "text")  # where an object given for a text field keeps its text


def _scalar(v: object) -> bool:
    return isinstance(v, str | int | float) and not isinstance(v, bool)


def coerce_fields(row: dict) -> dict:
    """`row` (`with_aliases`) with what exports write for our fields read as ours where it can be: a text field
    given as a list of values as them joined by commas ("size": ["S", "M"]), as an object by its `title`,
    `name`, `value`, `label` or `text` ({"id": 53, "title": "Nike"}); a price as an object by its `amount`, as
    text with its currency ("£12.50") as the number. What cannot be read stays as given, for the caller to
    refuse. The catalogue reader and `PUT /listings` read listings through it."""
    row = with_aliases(row)
    out = dict(row)
    for key in _TEXT_FIELDS:
        v = row.get(key)
        if isinstance(v, dict):  # {"title": "Nike", "id": 53}, as marketplace APIs write a brand or a size
            v = next((v[k] for k in _NAME_KEYS if _scalar(v.get(k)) and str(v[k]).strip()), v)
        if isinstance(v, list) and v and all(_scalar(x) for x in v):  # "size": ["S", "M"]: either
            v = ", ".join(str(x).strip() for x in v if str(x).strip())
        if v is not row.get(key):
            out[key] = v
    price = row.get("price")
    if isinstance(price, dict):  # {"amount": "12.50", "currency": "GBP"}, as shop APIs write it
        price = next((price[k] for k in ("amount", "value", "price") if k in price), price)
    if isinstance(price, str) and price.strip():
        try:
            price = _price(price)
        except ValueError:
            pass
    if price is not row.get("price"):
        out["price"] = price
    return out


def listing_from_dict(row: dict, *, path: str | None = None, line: int | None = None) -> Listing:
    """One catalogue row to a `Listing`; unknown keys go into `metadata`. Raises CatalogueError."""
    if not isinstance(row, dict):
        raise CatalogueError(f"expected a JSON object, got {type(row).__name__}", path=path, line=line)
    row = coerce_fields(row)
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
        if not _scalar(v):
            raise CatalogueError(f"listing {rid!r}: '{key}' must be text, got {v!r}", path=path, line=line)
        data[key] = str(v).strip()
    price = row.get("price")
    if price is not None and price != "":
        try:
            p = _price(price)
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
    """Read a catalogue: JSON lines (any other suffix), a JSON array or an object holding one list of
    listings (`.json`), or a table with a header row (`.csv`, `.tsv`; an empty cell is a missing
    field); any of them may be gzipped (`.jsonl.gz`). `id` and `title` are required (also read from
    the names in `ALIASES`); ids must be unique. A text field given as a list of values is read as
    them joined by commas, and one given as an object by its `title`, `name`, `value`, `label` or `text`; a price
    may be an object with an `amount`.

    Raises CatalogueError naming the line (the array's item for `.json`) for bytes that are not
    UTF-8, bad JSON, a missing id or title, or a duplicate id. Blank lines are skipped.
    """
    path = Path(path)
    if not path.is_file():
        raise CatalogueError("no such file", path=str(path))
    out: list[Listing] = []
    seen: dict[str, int] = {}
    for n, row in _rows(path):
        listing = listing_from_dict(row, path=str(path), line=n)
        if listing.id in seen:
            raise CatalogueError(f"duplicate id {listing.id!r} (first on line {seen[listing.id]})", path=str(path),
                                 line=n)
        seen[listing.id] = n
        out.append(listing)
    return out


_SPREADSHEETS = (".xlsx", ".xls", ".xlsm", ".ods", ".numbers", ".parquet")


def _open(path: Path) -> IO[bytes]:
    """The file's bytes, decompressed where it is gzipped (`.gz`)."""
    return gzip.open(path, "rb") if path.suffix.lower() == ".gz" else path.open("rb")


def _bytes(path: Path) -> bytes:
    with _open(path) as f:
        return f.read()


def _rows(path: Path) -> Iterable[tuple[int, object]]:
    """(line number, row) for each row of a catalogue file, by its suffix (under a `.gz`)."""
    suffix = (path.with_suffix("") if path.suffix.lower() == ".gz" else path).suffix.lower()
    if suffix in _SPREADSHEETS:
        raise CatalogueError(f"a {suffix} file is not read here: save it as CSV (UTF-8), or as JSON lines",
                             path=str(path))
    if suffix in (".csv", ".tsv"):
        text = _utf8(_bytes(path), path)
        reader = csv.DictReader(io.StringIO(text, newline=""), delimiter="\t" if suffix == ".tsv" else _delimiter(text))
        if not reader.fieldnames:
            return
        for row in reader:
            extra = [v for v in row.get(None) or () if v.strip()]  # cells past the header's last column
            if extra:
                cells, delimiter = len(reader.fieldnames) + len(row[None]), reader.reader.dialect.delimiter
                raise CatalogueError(
                    f"{cells} cells where the header has {len(reader.fieldnames)} (the extra ones start "
                    f"{extra[0][:40]!r}): a value with a {delimiter!r} in it must be quoted, or the columns shift",
                    path=str(path), line=reader.line_num)
            if any(v not in (None, "") for k, v in row.items() if k is not None):
                yield reader.line_num, {k: v for k, v in row.items() if k is not None}
        return
    if suffix == ".json":
        try:
            items = json.loads(_utf8(_bytes(path), path))
        except json.JSONDecodeError as e:
            raise CatalogueError(f"bad JSON ({e.msg} at line {e.lineno}, column {e.colno})", path=str(path)) from None
        if isinstance(items, dict):  # {"products": [...]}, as a shop's API exports it: the one list inside
            lists = [v for v in items.values() if isinstance(v, list) and v and all(isinstance(x, dict) for x in v)]
            if len(lists) == 1:
                items = lists[0]
        if not isinstance(items, list):
            raise CatalogueError(f"expected a JSON array of listings (or an object holding one), got "
                                 f"{type(items).__name__}", path=str(path))
        yield from enumerate(items, start=1)
        return
    with _open(path) as f:
        for n, data in enumerate(f, start=1):
            raw = _utf8(data, path, n)
            if not raw.strip():
                continue
            try:
                yield n, json.loads(raw)
            except json.JSONDecodeError as e:
                raise CatalogueError(f"bad JSON ({e.msg} at column {e.colno})", path=str(path), line=n) from None


def _delimiter(text: str) -> str:
    """A CSV's delimiter, read from its header row: a comma, or the semicolon spreadsheets write where a
    comma is the decimal point, or a tab or bar."""
    header = text.split("\n", 1)[0]
    counts = {d: header.count(d) for d in (",", ";", "\t", "|")}
    best = max(counts, key=counts.get)  # type: ignore[arg-type]
    return best if counts[best] > counts[","] else ","


def _utf8(data: bytes, path: Path, line: int | None = None) -> str:
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as e:
        if line is None:  # a whole file: say which line
            line = data.count(b"\n", 0, e.start) + 1
            column = e.start - (data.rfind(b"\n", 0, e.start) + 1) + 1
        else:
            column = e.start + 1
        raise CatalogueError(f"not valid UTF-8 (byte {data[e.start]:#04x} at column {column}); save the file as "
                             "UTF-8", path=str(path), line=line) from None


def check_unique(listings: Iterable[Listing]) -> None:
    """Raise CatalogueError when two listings share an id."""
    seen: set[str] = set()
    for i, listing in enumerate(listings):
        if listing.id in seen:
            raise CatalogueError(f"duplicate id {listing.id!r} at position {i}")
        seen.add(listing.id)
