"""The category taxonomy: canonical leaf names, their paths, and what shoppers call them.

The tree lives in data/lexicons/categories.json (hand-curated, informed by the Google Product
Taxonomy apparel branch). A query category and a listing category are comparable through their
paths: `category_matches("shoes", "trainers")` is true because "shoes" is on the path of "trainers".
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from functools import cached_property, lru_cache
from pathlib import Path

from rapidfuzz import process
from rapidfuzz.distance import DamerauLevenshtein

from qu._data import LEXICONS
from qu.lexicon import spelt_right

CATEGORIES_PATH = LEXICONS / "categories.json"
# the roots a marketplace's listings sit under: a query about one of them is a query for things to wear
GARMENT_ROOTS = frozenset({"clothing", "shoes", "bags"})

__all__ = [
    "Taxonomy",
    "category_for_article_type",
    "category_matches",
    "category_path",
    "get_taxonomy",
    "normalise_category",
]


_NOT_KEY = re.compile(r"[^a-z0-9&'+]+")
_SPACES = re.compile(r"\s+")


def _key(text: str) -> str:
    t = text.lower().replace("\u2019", "'")
    return _SPACES.sub(" ", _NOT_KEY.sub(" ", t)).strip()


@dataclass(frozen=True)
class Taxonomy:
    parents: dict[str, str | None]
    synonyms: dict[str, str]  # normalised surface form -> canonical leaf
    article_types: dict[str, str]

    @classmethod
    def load(cls, path: Path = CATEGORIES_PATH) -> Taxonomy:
        raw = json.loads(Path(path).read_text(encoding="utf-8"))
        if raw.get("format_version") != 1:
            raise ValueError(f"{path}: expected format_version 1, got {raw.get('format_version')!r}")
        parents = {name: node["parent"] for name, node in raw["nodes"].items()}
        for name, parent in parents.items():
            if parent is not None and parent not in parents:
                raise ValueError(f"{path}: node {name!r} has unknown parent {parent!r}")
        synonyms: dict[str, str] = {}
        for name, node in raw["nodes"].items():
            if name != "other":  # the catalogue's bin for what no node fits: no shopper's word for a thing
                synonyms.setdefault(_key(name), name)
            for syn in node["synonyms"]:
                synonyms.setdefault(_key(syn), name)
        # a name of several words listed in the plural is a name in the singular too: "snow boot", "skinny jean"
        for k, name in list(synonyms.items()):
            if " " in k and k.endswith("s") and not k.endswith("ss"):
                synonyms.setdefault(k[:-2] if k.endswith(("ches", "shes", "xes")) else k[:-1], name)
        for at, leaf in raw["article_types"].items():
            if leaf not in parents:
                raise ValueError(f"{path}: article type {at!r} maps to unknown category {leaf!r}")
        return cls(parents=parents, synonyms=synonyms, article_types=dict(raw["article_types"]))

    def path(self, category: str) -> tuple[str, ...]:
        if category not in self.parents:
            raise KeyError(f"unknown category {category!r}; see {CATEGORIES_PATH.name}")
        out: list[str] = []
        node: str | None = category
        while node is not None:
            out.append(node)
            node = self.parents[node]
        return tuple(reversed(out))

    def roots(self, categories) -> set[str]:
        """The taxonomy roots ("clothing", "shoes", ...) of the known categories among `categories`."""
        return {self.path(c)[0] for c in categories if c in self.parents}

    def misspelt(self, text: str, roots: bool = False, shortest: int = 5) -> str | None:
        """The garment a misspelt word names: one edit off (a letter added, dropped, changed, or two
        swapped) a one-word garment name that begins with the same letter ("hoddie", "jaket", "skrit",
        "troussers"). Only a word of `shortest` letters or more that no dictionary holds, nor its singular
        (`qu.lexicon.spelt_right`), so a real word ("shorter", "strainers") is never read as one. For a word
        already read as a garment, 4 letters ("dess") and `roots`: the roots' names too ("shose", "clothees";
        not for any word: "shoei" is a brand)."""
        name = self.corrected(text, shortest, roots)
        return self.synonyms[name] if name else None

    def corrected(self, text: str, shortest: int = 5, roots: bool = False) -> str | None:
        """The garment name a misspelt word is one slip from (`misspelt`): "sweaater" -> "sweater"; None where
        it is as near two garments."""
        k = _key(text)
        if not k.isalpha() or len(k) < shortest or spelt_right(k) or (k.endswith("s") and spelt_right(k[:-1])):
            return None
        if self.normalise(k) is not None:  # a name in the plural: "onesies"
            return None
        hits = process.extract(k, self._one_word_names[roots].get(k[0], []), scorer=DamerauLevenshtein.distance,
                               score_cutoff=1, limit=None)
        least = min((d for _, d, _ in hits), default=None)
        best = [name for name, d, _ in hits if d == least]
        # one garment, not two ("boas": "bras" or "botas")
        return best[0] if len({self.synonyms[n] for n in best}) == 1 else None

    @cached_property
    def _one_word_names(self) -> dict[bool, dict[str, list[str]]]:
        """One-word names of 4 letters or more of categories below a root ("hoodie", "jackets"), by their
        first letter; under True also the roots' names of 5 letters or more ("shoes", "clothes"; not "buty",
        which "butey" is a slip from)."""
        out: dict[bool, dict[str, list[str]]] = {False: {}, True: {}}
        for k in sorted(self.synonyms):
            root = self.parents.get(self.synonyms[k]) is None
            if k.isalpha() and len(k) >= (5 if root else 4):
                out[True].setdefault(k[0], []).append(k)
                if not root:
                    out[False].setdefault(k[0], []).append(k)
        return out

    def exact(self, text: str) -> str | None:
        """The category a phrase names as a whole ("t-shirt", "T Shirt" -> "t-shirts"), or None."""
        return self.synonyms.get(_key(text))

    def normalise(self, text: str) -> str | None:
        k = _key(text)
        if not k:
            return None
        if k in self.synonyms:
            return self.synonyms[k]
        # plural/singular and a trailing head noun: "black skinny jeans" -> "jeans"
        for cand in (k.rstrip("s"), k[:-1] if k.endswith("s") else "", k + "s", k[:-2] if k.endswith("es") else ""):
            if cand and cand in self.synonyms:
                return self.synonyms[cand]
        words = k.split()
        if len(words) >= 2 and (joined := self.synonyms.get(words[-2] + words[-1])):  # "jump suit", "wind breaker"
            return joined
        for n in range(len(words) - 1, 0, -1):
            tail = " ".join(words[-n:])
            if tail in self.synonyms:
                return self.synonyms[tail]
            if tail.rstrip("s") in self.synonyms:
                return self.synonyms[tail.rstrip("s")]
        return None


@lru_cache(maxsize=4)
def get_taxonomy(path: Path = CATEGORIES_PATH) -> Taxonomy:
    return Taxonomy.load(path)


def category_for_article_type(article_type: str) -> str | None:
    """The canonical category leaf for a Fashion Product Images `articleType` ("Tshirts" -> "t-shirts")."""
    tax = get_taxonomy()
    if article_type in tax.article_types:
        return tax.article_types[article_type]
    return tax.normalise(article_type)


def category_path(category: str) -> tuple[str, ...]:
    """Root..leaf path of a category, e.g. ("clothing", "tops", "t-shirts"); unknown raises KeyError."""
    return get_taxonomy().path(category)


def normalise_category(text: str) -> str | None:
    """The category a shopper's phrase names ("tee" -> "t-shirts", "sneakers" -> "trainers"), or None."""
    return get_taxonomy().normalise(text)


def category_matches(query_category: str, listing_category: str) -> bool:
    """True when the listing's category is the query's category or lies under it."""
    tax = get_taxonomy()
    if listing_category not in tax.parents or query_category not in tax.parents:
        return query_category == listing_category
    return query_category in tax.path(listing_category)
