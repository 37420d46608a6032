"""Build the demo catalogue (data/catalogue/) from the Fashion Product Images styles.csv.

Real fields: id, title, brand (the name's leading words matched against a brand list), category
(articleType mapped into qu's taxonomy; boots, loafers and the like by their title), gender,
colour, season, usage. The source has no size, condition or price: those are generated with a
fixed seed and listed in `synthetic_fields` of the data card; no benchmark ever uses them as labels.
"""

from __future__ import annotations

import csv
import json
import logging
import random
import re
from collections.abc import Iterator
from pathlib import Path

logger = logging.getLogger(__name__)

KEEP_MASTER = ("Apparel", "Footwear", "Accessories")
SYNTHETIC_FIELDS = ("size", "condition", "price")
SEED = 20261128
CONDITIONS = ("new with tags", "new without tags", "used - excellent", "used - good", "used - fair")
CONDITION_WEIGHTS = (0.12, 0.13, 0.35, 0.3, 0.1)
LETTER_SIZES = ("xs", "s", "m", "l", "xl", "xxl")
# bump when the builder writes different listings from the same source; `preloved serve` warns
# about a demo catalogue an older builder wrote (2: brands by exact alias lookup, "Basics" is not Asics;
# 3: footwear filed under another type is what its title says)
BUILDER_VERSION = 3
# the source files boots, loafers, boat shoes and ballerinas under "Casual Shoes", "Sports Shoes",
# "Flats", "Formal Shoes" or "Heels" (its own "Booties" are infants'): where such a title names one,
# the listing is that. Not "boot lace", "boot sauce", "bootcut"; not sandals, which are flats or
# heels too, nor "slippers", which in the source's English are flip flops
_FOOTWEAR_TYPES = {"Casual Shoes", "Sports Shoes", "Formal Shoes", "Flats", "Heels"}
_TITLE_FOOTWEAR = re.compile(r"\b(boots?|loafers?|moccasins?|boat shoes?|brogues?|ballerinas?)\b"
                             r"(?!\s*(?:laces?|sauce|cream|polish|cut)\b)", re.I)


def _brand_matcher(brand_csv: Path):
    """Longest-prefix matcher over the candidate brand list (names are "Brand Gender Colour Type")."""
    with open(brand_csv, newline="") as f:
        names = [row["brand_candidate"] for row in csv.DictReader(f)]
    by_words = sorted(({tuple(n.lower().split()): n for n in names}).items(), key=lambda kv: -len(kv[0]))

    def match(title: str) -> str | None:
        words = tuple(title.lower().split())
        for key, name in by_words:
            if words[: len(key)] == key:
                return name
        return None

    return match


def _normalisers():
    """qu's canonical brand and category names, so catalogue values compare with parsed queries.
    Brands by exact alias lookup: the fuzzy matching meant for shoppers' typos would make the
    brand "Basics" Asics."""
    from qu.lexicon import get_lexicon
    from qu.taxonomy import category_for_article_type, category_path, normalise_category

    def brand(name: str) -> str | None:
        return get_lexicon().brand(name, fuzzy=False)

    return brand, category_for_article_type, category_path, normalise_category


def _synthetic(rng: random.Random, master: str, sub: str, gender: str) -> dict:
    if master == "Footwear":
        base = 3 if gender in ("Women", "Girls") else 6
        size = f"uk {rng.randint(base, base + 5)}"
    elif sub == "Bottomwear" and gender in ("Men", "Boys"):
        size = f"w{rng.choice((28, 30, 31, 32, 33, 34, 36))} l{rng.choice((30, 32, 34))}"
    elif master == "Apparel" and gender in ("Women", "Girls"):
        size = rng.choice(("uk 6", "uk 8", "uk 10", "uk 12", "uk 14", "xs", "s", "m", "l"))
    elif master == "Apparel":
        size = rng.choice(LETTER_SIZES)
    else:
        size = "one size"
    condition = rng.choices(CONDITIONS, CONDITION_WEIGHTS)[0]
    price = round(rng.lognormvariate(2.9, 0.6), 0)
    return {"size": size, "condition": condition, "price": float(max(price, 3.0))}


def iter_listings(styles_csv: Path, brand_csv: Path, seed: int = SEED) -> Iterator[dict]:
    match_brand = _brand_matcher(brand_csv)
    canonical_brand, category_for_article_type, category_path, normalise_category = _normalisers()
    rng = random.Random(seed)
    with open(styles_csv, newline="") as f:
        for row in csv.DictReader(f):
            if row["masterCategory"] not in KEEP_MASTER or not row["productDisplayName"].strip():
                continue
            title = " ".join(row["productDisplayName"].split())
            raw_brand = match_brand(title)
            brand = (canonical_brand(raw_brand) or raw_brand.lower()) if raw_brand else None
            category = category_for_article_type(row["articleType"])
            if row["articleType"] in _FOOTWEAR_TYPES and (m := _TITLE_FOOTWEAR.search(title)):
                category = normalise_category(m.group(1)) or category
            path = category_path(category) if category else ()
            listing = {
                "id": row["id"],
                "title": title,
                "brand": brand,
                "category": category or row["articleType"].lower(),
                "gender": row["gender"].lower() or None,
                "colour": row["baseColour"].lower() or None,
                "season": row["season"].lower() or None,
                "usage": row["usage"].lower() or None,
                "article_type": row["articleType"],
                "category_path": " > ".join(path) or None,
            }
            listing.update(_synthetic(rng, row["masterCategory"], row["subCategory"], row["gender"]))
            yield listing


def builder_version(out_dir: Path) -> int | None:
    """The builder version of the demo catalogue in out_dir (1 for one written before versions were
    recorded), or None where there is none."""
    try:
        return json.loads((out_dir / "card.json").read_text()).get("builder_version", 1)
    except (OSError, ValueError):
        return None


def build_catalogue(data_dir: Path, out_dir: Path) -> Path:
    """Write `catalogue.jsonl` and `README.md` (the data card) into out_dir; returns the JSONL path."""
    styles = data_dir / "fashion-product-images" / "styles.csv"
    brands = data_dir / "vocab" / "fpi_brand_candidates.csv"
    out_dir.mkdir(parents=True, exist_ok=True)
    out = out_dir / "catalogue.jsonl"
    tmp = out.with_suffix(".jsonl.tmp")
    n = with_brand = 0
    with open(tmp, "w") as f:
        for listing in iter_listings(styles, brands):
            n += 1
            with_brand += listing["brand"] is not None
            f.write(json.dumps(listing, ensure_ascii=False) + "\n")
    tmp.replace(out)
    card = {"source": str(styles.relative_to(data_dir)), "listings": n, "with_brand": with_brand,
            "seed": SEED, "synthetic_fields": list(SYNTHETIC_FIELDS), "builder_version": BUILDER_VERSION}
    (out_dir / "card.json").write_text(json.dumps(card, indent=2) + "\n")
    logger.info("wrote %d listings (%d with a brand) to %s", n, with_brand, out)
    return out
