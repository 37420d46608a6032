"""Attribute columns of a segment and the filter/boost plan built from qu's output and API filters.

Values are compared folded and case-insensitively. A listing that lacks a field is not
excluded by that field's filter (ESCI products have no category), except the brand's
(`NAMED_ONLY`: no brand is not evidence of the brand asked for). Rules per attribute:
brand, colour, size, condition: equal, or every word of the asked value is a word of the
listing's ("w31" matches "W31 L32", "nike" matches "Nike SB"), or the same canonical value
by qu's lexicons and size grammar ("TNF" is "the north face", "Gray" is "grey", "Medium" is "m",
"32x30" has "w32"); a condition both sides name by qu's lexicons matches its kinds only ("new" is "new with
tags", "used" is "used - good", "new" is not "used - like new"); gender: synonym groups, and
"unisex" listings match men and women; category: through `qu.taxonomy.category_path` when qu is
importable (the asked path is a prefix of the listing's, or of a kind a shop's pair or path names), else
words with plurals folded.
"""

from __future__ import annotations

import json
import logging
import math
import re
import threading
from collections import OrderedDict
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from functools import lru_cache
from pathlib import Path

import numpy as np

from retrieval.text import _TOKEN, fold
from retrieval.types import LISTING_FIELDS, Listing

logger = logging.getLogger(__name__)

FILTER_NAMES: tuple[str, ...] = (*LISTING_FIELDS, "price_min", "price_max")
# qu's attributes that may become filters (a price phrase filters as price_min and price_max)
QU_FILTER_ATTRIBUTES: tuple[str, ...] = (*LISTING_FIELDS, "price")
# Attributes with a closed vocabulary: an explicit filter value that no listing has and that qu's
# canonicalisation does not know either is a mistake ("colour=blurple"), and raises rather than
# returning nothing. Brands are open: a brand with no listings just finds nothing.
CLOSED_ATTRIBUTES: tuple[str, ...] = ("category", "colour", "size", "gender", "condition")
# Attributes whose filter a listing lacking the field does not pass. A listing with no brand is
# not evidence of the brand asked for: a seller who knows the brand names it, and an unbranded
# listing let through a brand filter crowds out that brand's other listings ("gray vans for
# women" kept its colour filter because brandless grey dresses passed the brand one). Without
# any brand in the index the filter is relaxed before counting (`Plan.relax_unknown`), as for
# any value no listing has. Every other field's absence passes: ESCI products have no category,
# many garments no gender.
NAMED_ONLY: tuple[str, ...] = ("brand",)
# Parsed (qu) filters are dropped in this order while too few results remain. What a listing is
# (its category) outlasts who made it: "tommy hilfiger jeans" with no Tommy jeans in stock shows
# other jeans, Tommy's boosted, not Tommy watches; ESCI's judges grade it so too (a substitute
# of another brand is partly relevant, another kind of product is not).
# "category^": the category asked for climbs once to a family of substitutes (footwear) before the gender goes
# ("mens boots" where the only boots are infants' lists men's shoes); `Plan.with_leaf` takes it back
# when a later step finds enough in the category asked for.
DEFAULT_RELAX_ORDER: tuple[str, ...] = (
    "size", "colour", "condition", "category^", "gender", "price", "brand", "category",
)

_GENDER = {
    "men": "men",
    "man": "men",
    "mens": "men",
    "male": "men",
    "gents": "men",
    "women": "women",
    "woman": "women",
    "womens": "women",
    "female": "women",
    "ladies": "women",
    "lady": "women",
    "boys": "boys",
    "boy": "boys",
    "girls": "girls",
    "girl": "girls",
    "kids": "kids",
    "kid": "kids",
    "children": "kids",
    "child": "kids",
    "unisex": "unisex",
    # as marketplaces name their departments
    "menswear": "men",
    "womenswear": "women",
    "ladieswear": "women",
    "kidswear": "kids",
}
_GENDER_MATCH = {
    "men": {"men", "unisex"},
    "women": {"women", "unisex"},
    "boys": {"boys", "kids"},
    "girls": {"girls", "kids"},
    "kids": {"kids", "boys", "girls"},
    "unisex": {"unisex"},
}


def words(value: object) -> tuple[str, ...]:
    return tuple(_TOKEN.findall(fold(str(value))))


def _department_of(category: str | None) -> str | None:
    """The department a shop's category path opens with ("Women > Shoes > Boots": women), which a listing that
    names no gender of its own is filtered by; None where it opens with none ("Coats & Jackets")."""
    ws = words(category) if category else ()
    return ws[0] if ws and ws[0] in _GENDER else None


def _singular(w: str) -> str:
    return w[:-1] if len(w) > 3 and w.endswith("s") and not w.endswith("ss") else w


def _gender_key(ws: tuple[str, ...]) -> str:
    """The gender a value's words name: as a whole ("women s" is "women"), else by the first word that names one
    ("Girls' clothing", "Baby Boys"); else the words joined."""
    joined = "".join(ws)
    if joined in _GENDER:
        return _GENDER[joined]
    return next((_GENDER[w] for w in ws if w in _GENDER), joined)


def _colour_family(value: str) -> tuple[str, ...]:
    """qu's colour families of a canonical colour, itself first (just itself without qu, or with no family)."""
    try:
        from qu.lexicon import get_lexicon
    except ImportError:
        return (value,)
    lex = get_lexicon()
    canon = lex.colour(value) or value
    return lex.colour_family.get(canon, (value,))


def _category_path(value: str) -> tuple[str, ...] | None:
    """The taxonomy path of a category, given as stored or folded into words ("t shirts" is the
    node "t-shirts"), or None."""
    try:
        from qu.taxonomy import category_path
    except ImportError:  # qu's taxonomy is optional here: fall back to word matching
        return None
    for name in dict.fromkeys((value, value.replace(" ", "-"))):
        try:
            path = category_path(name)
        except (KeyError, ValueError):
            continue
        return tuple(p.lower() for p in path) if path else None
    return None


@lru_cache(maxsize=4096)
def known_value(attr: str, value: str) -> bool:
    """Whether `value` is a known `attr` (one of CLOSED_ATTRIBUTES) by qu's canonicalisation
    (taxonomy, colour and condition lexicons, size patterns) or this module's gender synonyms,
    whether or not any listing has it now. Without qu only gender can be judged: others pass."""
    if attr == "gender" and _gender_key(words(value)) in _GENDER_MATCH:
        return True
    try:
        from qu.lexicon import get_lexicon, key
        from qu.sizes import normalise_size
        from qu.taxonomy import normalise_category
    except ImportError:
        return attr != "gender"
    if attr == "category":
        return normalise_category(value) is not None
    if attr == "colour":
        return get_lexicon().colour(value) is not None
    if attr == "size":  # "m" or "42" alone are sizes only after the word "size"
        return normalise_size(value) is not None or normalise_size(f"size {value}") is not None
    if attr == "gender":
        return key(value) in get_lexicon().gender_alias
    if attr == "condition":
        return key(value) in get_lexicon().condition_alias
    return True


_COMPANY = re.compile(r"(?<=\S)(?:\s+(?:inc|ltd|llc|co|corp|corporation|company|gmbh|ag|plc|limited|group))+$")


@lru_cache(maxsize=65_536)
def _canonical(attr: str, value: str) -> str | None:
    """qu's canonical brand, colour, size or condition for a value, by exact lookup (no fuzzy
    matching: a seller's "Basics" is not Asics), or None (unknown, or qu not importable)."""
    try:
        from qu.lexicon import get_lexicon, key
        from qu.sizes import normalise_size
    except ImportError:
        return None
    lex = get_lexicon()
    if attr == "brand":  # a company's form of its name is the brand: "Levi Strauss & Co.", "Marks and Spencer plc"
        return lex.brand(value, fuzzy=False) or lex.brand(_COMPANY.sub("", value), fuzzy=False)
    if attr == "colour":
        return lex.colour(value)
    if attr == "size":  # "Medium" is "m", "32x30" is "w32 l30"; a bare "8" stays "8"
        return normalise_size(value) or normalise_size(f"size {value}")
    if attr == "condition":
        names = {" ".join(words(c)): c for c in lex.condition_alias.values()}
        return lex.condition_alias.get(key(value)) or names.get(value) or _grade(value)
    return None


# a used item's grade as marketplaces write it in a listing (Vinted's "Very good", "Good", "Satisfactory"): not
# qu's aliases, where "good" alone is no condition of a query ("good boy t shirt")
_GRADES = {"excellent": "used - like new", "very good": "used - good", "good": "used - good",
           "satisfactory": "used - fair", "fair": "used - fair", "poor": "used - fair"}


def _grade(value: str) -> str | None:
    """A listing's grade, also after "used" (Depop's "Used - Excellent") or before what it says of the wear
    ("Good - some signs of wear"), as qu's canonical condition; None where the value opens with no grade."""
    ws = value.split()
    ws = ws[1:] if ws[:1] == ["used"] else ws
    return next((g for n in (2, 1) if (g := _GRADES.get(" ".join(ws[:n])))), None)


@lru_cache(maxsize=4096)
def _category_parts(value: str) -> tuple[tuple[str, ...], ...]:
    """The taxonomy paths of the categories named among the words of a category the taxonomy does not read
    whole: a shop's pair ("coats jackets", from "Coats & Jackets") or path ("women shoes boots", from "Women >
    Shoes > Boots"), the longest names first ("t shirts" before "shirts"); () where it names none."""
    ws, out, i = value.split(), [], 0
    while i < len(ws):
        for n in (3, 2, 1):
            path = _category_path(" ".join(ws[i : i + n])) if i + n <= len(ws) else None
            if path:
                out.append(path)
                break
        i += n if path else 1
    return tuple(out)


@lru_cache(maxsize=65_536)
def value_matches(attr: str, asked: str, have: str) -> bool:
    """Whether a listing value `have` satisfies an asked value (both given as space-joined words)."""
    a, h = tuple(asked.split()), tuple(have.split())
    if not a:
        return False
    if a == h or "".join(a) == "".join(h):
        return True
    # another name for the same value: "North Face", "TNF" and "the north face"; "Gray" and "grey";
    # "Medium" and "m"; "32x30" and "w32" (the asked words among the listing's, as above)
    if attr in ("brand", "colour", "size", "condition"):
        ca, ch = _canonical(attr, asked), _canonical(attr, have)
        if ca is not None and ch is not None:
            if ca == ch or (attr == "size" and set(words(ca)) <= set(words(ch))):
                return True
            # a condition and the kinds of it: "new" is new with tags too, "used" every grade of used; but "used
            # - like new" is no "new", whatever words the two share
            if attr == "condition":
                return words(ch)[: len(words(ca))] == words(ca)
    if attr == "gender":
        return _gender_key(h) in _GENDER_MATCH.get(_gender_key(a), {_gender_key(a)})
    if attr == "category":
        pa, ph = _category_path(asked), _category_path(have)
        if pa and ph:
            return ph[: len(pa)] == pa
        # a shop's pair or path the taxonomy does not read whole is each kind it names, and what holds them
        # ("Coats & Jackets" is outerwear, "Men > Jeans > Straight" trousers)
        if pa and any(p[: len(pa)] == pa for p in _category_parts(have)):
            return True
        return {_singular(w) for w in a} <= {_singular(w) for w in h}
    return set(a) <= set(h)


class AttributeColumns:
    """Per attribute: a vocabulary of folded values and an int32 code per row (-1: missing)."""

    # whole-column masks kept per constraint (N bytes each): a catalogue's queries repeat a few
    # categories, genders and price bands, and a mask costs a pass over N rows to compute
    MASK_CACHE = 32

    def __init__(self, vocabs: dict[str, list[str]], codes: dict[str, np.ndarray], price: np.ndarray):
        self.vocabs = vocabs
        self.codes = {a: np.asarray(c) for a, c in codes.items()}  # views, not np.memmap: quicker to index
        self.price = np.asarray(price)
        self._lookup = {a: {v: i for i, v in enumerate(vs)} for a, vs in vocabs.items()}
        self._luts: dict[tuple[str, tuple[str, ...]], np.ndarray] = {}
        self._masks: OrderedDict[tuple, np.ndarray] = OrderedDict()
        self._masks_lock = threading.Lock()
        self._value_words: dict[str, frozenset[str]] = {}

    @classmethod
    def build(cls, listings: Sequence[Listing]) -> AttributeColumns:
        vocabs: dict[str, list[str]] = {}
        codes: dict[str, np.ndarray] = {}
        for attr in LISTING_FIELDS:
            lookup: dict[str, int] = {}
            arr = np.full(len(listings), -1, dtype=np.int32)
            for r, listing in enumerate(listings):
                v = getattr(listing, attr)
                if v is None and attr == "gender":
                    v = _department_of(listing.category)
                if v is None:
                    continue
                key = " ".join(words(v))
                if not key:
                    continue
                c = lookup.get(key)
                if c is None:
                    c = lookup[key] = len(lookup)
                arr[r] = c
            vocabs[attr] = list(lookup)
            codes[attr] = arr
        price = np.array([np.nan if x.price is None else x.price for x in listings], dtype=np.float64)
        return cls(vocabs, codes, price)

    def save(self, folder: Path) -> None:
        (folder / "attr_vocabs.json").write_text(json.dumps(self.vocabs, ensure_ascii=False), encoding="utf-8")
        for attr, arr in self.codes.items():
            np.save(folder / f"attr_{attr}.npy", arr)
        np.save(folder / "attr_price.npy", self.price)

    @classmethod
    def load(cls, folder: Path, *, mmap: bool = True) -> AttributeColumns:
        mode = "r" if mmap else None
        vocabs = json.loads((folder / "attr_vocabs.json").read_text(encoding="utf-8"))
        codes = {a: np.load(folder / f"attr_{a}.npy", mmap_mode=mode) for a in LISTING_FIELDS}
        return cls(vocabs, codes, np.load(folder / "attr_price.npy", mmap_mode=mode))

    def value_words(self, attr: str) -> frozenset[str]:
        """The words of this segment's values of `attr`, folded ("the north face": the, north, face)."""
        got = self._value_words.get(attr)
        if got is None:
            got = self._value_words[attr] = frozenset(w for v in self.vocabs.get(attr, ()) for w in v.split())
        return got

    def knows(self, attr: str, value: str) -> bool:
        """Whether some value in this segment's vocabulary of `attr` matches `value` (the vocabulary
        keeps the values of listings deleted since the segment was written)."""
        return bool(self._lut(attr, (value,))[:-1].any())

    def matching_codes(self, attr: str, values: Sequence[str]) -> np.ndarray:
        return np.flatnonzero(self._lut(attr, values)[:-1]).astype(np.int32)

    def _lut(self, attr: str, values: Sequence[str]) -> np.ndarray:
        """Per code of `attr`'s vocabulary whether it matches `values`, plus a last entry (code -1,
        the field missing: True but for `NAMED_ONLY`): `lut[codes]` is the filter mask. Cached:
        vocabularies are fixed."""
        raw = (attr, tuple(values))
        if (lut := self._luts.get(raw)) is not None:  # as asked: no need to normalise the words again
            return lut
        key = (attr, tuple(" ".join(words(v)) for v in values))
        lut = self._luts.get(key)
        if lut is None:
            vocab = self.vocabs[attr]
            lut = np.zeros(len(vocab) + 1, dtype=bool)
            for i, have in enumerate(vocab):
                lut[i] = any(value_matches(attr, a, have) for a in key[1])
            lut[-1] = attr not in NAMED_ONLY
            lut.setflags(write=False)
        if len(self._luts) >= 4096:  # bounded, whatever spellings of a value callers send
            self._luts.clear()
        self._luts[key] = self._luts[raw] = lut
        return lut

    def mask(self, c: Constraint) -> np.ndarray:
        """Rows allowed by a constraint: matching, or missing the field (not a brand). Read-only (shared, cached)."""
        if c.attr == "price":
            return self._cached(("price", c.price_min, c.price_max), lambda: self._price_mask(c))
        # a lookup per row (code -1 picks the table's last entry: missing passes but for a brand)
        return self._cached((c.attr, self._folded(c)), lambda: np.take(self._lut(c.attr, c.values), self.codes[c.attr]))

    def without(self, c: Constraint) -> np.ndarray:
        """Rows an exclusion keeps: those without a value matching `c` (a listing missing the field
        stays). Read-only (shared, cached)."""
        def keep() -> np.ndarray:
            lut = ~self._lut(c.attr, c.values)
            lut[-1] = True
            return np.take(lut, self.codes[c.attr])

        return self._cached(("not", c.attr, self._folded(c)), keep)

    @staticmethod
    def _folded(c: Constraint) -> tuple[str, ...]:
        return tuple(" ".join(words(v)) for v in c.values)

    def _price_mask(self, c: Constraint) -> np.ndarray:
        p = self.price
        lo = -math.inf if c.price_min is None else c.price_min
        hi = math.inf if c.price_max is None else c.price_max
        return np.isnan(p) | ((p >= lo) & (p <= hi))

    def _cached(self, key: tuple, compute: Callable[[], np.ndarray]) -> np.ndarray:
        """The mask under `key`, computed once and kept among the last `MASK_CACHE`, read-only."""
        with self._masks_lock:
            m = self._masks.get(key)
            if m is not None:
                self._masks.move_to_end(key)
                return m
        m = compute()
        m.setflags(write=False)
        with self._masks_lock:
            self._masks[key] = m
            while len(self._masks) > self.MASK_CACHE:
                self._masks.popitem(last=False)
        return m

    def row_matches(self, c: Constraint, rows: np.ndarray) -> np.ndarray:
        """Per row: 1 matched, 0 missing the field, -1 has another value."""
        if c.attr == "price":
            p = self.price[rows]
            lo = -math.inf if c.price_min is None else c.price_min
            hi = math.inf if c.price_max is None else c.price_max
            return np.where(np.isnan(p), 0, np.where((p >= lo) & (p <= hi), 1, -1))
        codes = np.asarray(self.codes[c.attr][rows])
        ok = np.take(self._lut(c.attr, c.values), codes)
        return np.where(codes < 0, 0, np.where(ok, 1, -1))


@dataclass(frozen=True)
class Constraint:
    """One attribute condition: a filter (hard when the API asked for it) or a boost."""

    attr: str  # a listing field, or "price"
    values: tuple[str, ...] = ()
    price_min: float | None = None
    price_max: float | None = None
    source: str = "parsed"  # "parsed" (qu) or "filter" (the API's explicit filters)
    confidence: float = 1.0

    def label(self) -> str:
        if self.attr == "price":
            return f"price={self.price_min if self.price_min is not None else ''}..{self.price_max or ''}"
        return f"{self.attr}={'|'.join(self.values)}"


def _broader(c: Constraint) -> Constraint | None:
    """A parsed category one level up qu's taxonomy; a parsed colour widened to its families ("baby
    blue" in a shop with no turquoise cardigans finds blue and navy ones before any colour); or None
    (at the top, a colour with no family or already widened, not in the taxonomy)."""
    if c.source != "parsed" or len(c.values) != 1:
        return None
    if c.attr == "colour":
        family = _colour_family(c.values[0])
        return replace(c, values=family) if len(family) > 1 else None
    if c.attr != "category":
        return None
    path = _category_path(" ".join(words(c.values[0])))
    return replace(c, values=(path[-2],)) if path and len(path) >= 2 else None


def _substitutes(category: str) -> bool:
    """Whether the kinds in a category stand in for one another before the gender goes: footwear.
    Shoes of another gender or age cannot be worn, and shops file boots, loafers and heels under
    each other's names (the demo's men's boots are "casual shoes"). Clothing's families are not
    (a t-shirt for "guess shirts for men", other departments' earrings for "diamond earrings for men"
    read worse on the demo, where "category^" went to tops, trousers and jewellery too)."""
    return category == "shoes"


@dataclass
class Plan:
    filters: list[Constraint] = field(default_factory=list)  # applied now
    boosts: list[Constraint] = field(default_factory=list)
    excluded: list[Constraint] = field(default_factory=list)  # values the query does not want: never relaxed
    relaxed: list[str] = field(default_factory=list)
    climbed: Constraint | None = None  # the category asked for, while "category^" has it one level up

    def relax_unknown(self, known: Callable[[Constraint], bool]) -> None:
        """Relax the parsed filters whose value no listing has (`known` says): such a filter would
        only keep the listings that lack the field ("gucci bag" in a shop without Gucci would show
        unbranded bags), and a model name qu read as a category ("adidas gazelle") would empty
        the results until it is relaxed anyway. A category climbs the taxonomy until the index
        knows it: "hoodies" where listings say "sweatshirts" filters on sweatshirts."""
        while unknown := [c for c in self.filters if c.source == "parsed" and c.attr != "price" and not known(c)]:
            for c in unknown:
                self.relax(c)

    def relaxable(self, order: Sequence[str]) -> tuple[str, Constraint] | None:
        """The next parsed filter to relax, by `order`, with the step of the order that names it.
        "category^" names the category asked for, climbing once to its parent where that is a family
        whose members stand in for one another (`_substitutes`): "boots" to "shoes" before the gender
        goes ("mens boots" in a shop whose only boots are infants' lists men's shoes, not booties)."""
        for step in order:
            if step == "category^":
                for c in self.filters:
                    if c.attr == "category" and c.source == "parsed" and "category" not in self.relaxed \
                            and (up := _broader(c)) is not None and _substitutes(up.values[0]):
                        return step, c
                continue
            for c in self.filters:
                if c.attr == step and c.source == "parsed":
                    return step, c
        return None

    def relax(self, c: Constraint, climb: bool = False) -> None:
        """Drop a filter; it stays a boost. A parsed category gives way to its parent in the
        taxonomy ("jeans" to "trousers", "hoodies" to "sweatshirts"), dropped only at the top.
        `climb`: this is the "category^" step, which `with_leaf` can take back."""
        if climb:
            self.climbed = c
        self.filters.remove(c)
        if c.attr not in self.relaxed:
            self.relaxed.append(c.attr)
        self.boosts.append(c)
        broader = _broader(c)
        if broader is not None:
            self.filters.append(broader)

    def with_leaf(self) -> Plan | None:
        """This plan with the category asked for back in place of the parent it climbed to, or None
        when it has not climbed, or climbed further. After a later relaxation (the brand), the category
        asked for may find enough again: "carhartt boots" climbs to Carhartt shoes, then, with no
        Carhartt shoes either, lists other brands' boots rather than their shoes."""
        c = self.climbed
        up = _broader(c) if c is not None else None
        if up is None or up not in self.filters:
            return None
        return Plan(filters=[c if f == up else f for f in self.filters], boosts=[b for b in self.boosts if b != c],
                    excluded=self.excluded, relaxed=[a for a in self.relaxed if a != "category"])

    def applied(self) -> dict[str, object]:
        out: dict[str, object] = {}
        for c in self.filters:
            if c.attr == "price":
                if c.price_min is not None:
                    out["price_min"] = c.price_min
                if c.price_max is not None:
                    out["price_max"] = c.price_max
            else:
                out[c.attr] = list(c.values) if len(c.values) > 1 else c.values[0]
        for c in self.excluded:
            out[f"not_{c.attr}"] = list(c.values) if len(c.values) > 1 else c.values[0]
        return out


def _as_values(name: str, value: object) -> tuple[str, ...]:
    vals = value if isinstance(value, list | tuple | set | frozenset) else [value]
    out = []
    for v in vals:
        if not isinstance(v, str | int | float) or isinstance(v, bool) or not words(v):
            raise ValueError(f"filter {name!r} needs a non-empty text value or a list of them; got {value!r}")
        out.append(str(v))
    if not out:
        raise ValueError(f"filter {name!r} got an empty list")
    return tuple(out)


def _as_price(name: str, value: object) -> float:
    try:
        p = float(value)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        raise ValueError(f"filter {name!r} needs a number; got {value!r}") from None
    if not math.isfinite(p) or p < 0:
        raise ValueError(f"filter {name!r} needs a number >= 0; got {value!r}")
    return p


def make_plan(
    parsed=None,
    filters: Mapping[str, object] | None = None,
    *,
    filter_confidence: float = 0.8,
    boost_confidence: float = 0.3,
    default_confidence: float = 0.5,
    filter_attributes: Sequence[str] = QU_FILTER_ATTRIBUTES,
) -> Plan:
    """Explicit filters are hard; qu's attributes with confidence >= filter_confidence are
    relaxable filters, those >= boost_confidence boosts, the rest ignored."""
    filters = dict(filters or {})
    unknown = sorted(set(filters) - set(FILTER_NAMES))
    if unknown:
        raise ValueError(f"unknown filter(s) {', '.join(map(repr, unknown))}: allowed are {', '.join(FILTER_NAMES)}")
    plan = Plan()
    for name in LISTING_FIELDS:
        if filters.get(name) is not None:
            plan.filters.append(Constraint(name, _as_values(name, filters[name]), source="filter"))
    pmin = _as_price("price_min", filters["price_min"]) if filters.get("price_min") is not None else None
    pmax = _as_price("price_max", filters["price_max"]) if filters.get("price_max") is not None else None
    if pmin is not None and pmax is not None and pmin > pmax:
        raise ValueError(f"price_min {pmin} is above price_max {pmax}")
    if pmin is not None or pmax is not None:
        plan.filters.append(Constraint("price", price_min=pmin, price_max=pmax, source="filter"))
    if parsed is None:
        return plan
    explicit = {c.attr for c in plan.filters}
    conf = getattr(parsed, "confidence", {}) or {}
    for name in LISTING_FIELDS:
        if name in explicit:
            continue
        vals = [v for v in parsed.values(name) if words(v)]
        if not vals:
            continue
        c = float(conf.get(name, default_confidence))
        con = Constraint(name, tuple(vals), source="parsed", confidence=c)
        if c >= filter_confidence and name in filter_attributes:
            plan.filters.append(con)
        elif c >= boost_confidence:
            plan.boosts.append(con)
    # "dress not black": qu's extra["negated"] excludes listings with the value (a listing without the
    # field stays), whatever `filter_attributes` says: an exclusion asked for in words is never a guess
    negated = (getattr(parsed, "extra", None) or {}).get("negated") or {}
    for name, vals in negated.items():
        vals = [str(v) for v in vals if words(v)]
        if name in LISTING_FIELDS and name not in explicit and vals:
            plan.excluded.append(Constraint(name, tuple(vals), source="parsed"))
    if "price" not in explicit and (parsed.price_min is not None or parsed.price_max is not None):
        c = max(float(conf.get("price_min", 0)), float(conf.get("price_max", 0))) or default_confidence
        if c >= filter_confidence and "price" in filter_attributes:
            plan.filters.append(
                Constraint(
                    "price",
                    price_min=parsed.price_min,
                    price_max=parsed.price_max,
                    source="parsed",
                    confidence=c,
                )
            )
    return plan
