"""Lexicons: brands (canonical names, aliases, misspellings), colours, gender, condition, style words.

Built once from data/lexicons/*.json plus data/vocab (catalogue brand candidates, catalogue base
colours, CSS colour names). Only the QueryNER *train* split is ever read here, never dev or test.
"""

from __future__ import annotations

import csv
import json
import re
from dataclasses import dataclass, field
from functools import cached_property, lru_cache
from pathlib import Path

from qu._data import LEXICONS, ROOT, VOCAB

BRANDS_PATH = LEXICONS / "brands.json"
ATTRIBUTES_PATH = LEXICONS / "attributes.json"

__all__ = ["Lexicon", "canonical_brand", "canonical_colour", "get_lexicon", "key"]

# Catalogue "brand candidates" that are generic words, not brands worth matching in queries.
_BRAND_STOP = {
    "w",
    "mr.",
    "basics",
    "myntra",
    "ant",
    "id",
    "span",
    "diva",
    "shree",
    "genesis",
    "free authority",
    "doodle",
    "turtle",
    "maxima",
    "portia",
    "alma",
    "estelle",
    "mineral",
    "york",
    "helix",
    "revv",
    "ivory tag",
    "just natural",
    "status quo",
    "senorita",
    "mother earth",
    "gas",
    "coolers",
    "police",
    "little miss",
    "red rose",
    "palm tree",
    "f sports",
    "force 10",
    "inc 5",
    "inc. 5",
    "parx",
    "spinn",
    "urban yoga",
    "sepia",
    "idee",
    "facit",
    "and",
    "the",
    "for",
    "with",
    "new",
    "kids",
    "men",
    "women",
    "girls",
    "boys",
    "baby",
    "black",
    "white",
    "red",
    "blue",
    "classic",
    "elegant",
    "global",
    "premium",
    "style",
    "fashion",
    "trendy",
    "united",
    "casual",
    "party",
}


_NOT_KEY = re.compile(r"[^a-z0-9&'.+\- ]+")
_SPACES = re.compile(r"\s+")


def key(text: str) -> str:
    """Lookup key: lowercase, curly quotes straightened, punctuation other than & ' . + - dropped."""
    t = text.lower().replace("\u2019", "'").replace("\u2018", "'")
    return _SPACES.sub(" ", _NOT_KEY.sub(" ", t)).strip(" .-'")


_JOINING_WORDS = frozenset({"and", "&", "or", "with", "for", "in", "of", "to", "on", "at", "by"})


def _loose(text: str) -> str:
    """Looser key for fuzzy matching: letters and digits only."""
    return re.sub(r"[^a-z0-9]+", "", key(text))


@dataclass
class Lexicon:
    brand_alias: dict[str, str] = field(default_factory=dict)  # key -> canonical brand
    brand_curated: set[str] = field(
        default_factory=set
    )  # keys from the curated list (high precision in queries)
    brand_loose: dict[str, str] = field(default_factory=dict)  # loose key -> canonical, for fuzzy matching
    fuzzy_brands: list[str] = field(default_factory=list)  # loose keys eligible for fuzzy matching
    footwear_brands: set[str] = field(default_factory=set)  # canonical brands that sell (nearly) only shoes
    # loose keys of curated brand names of several words, by their words' first letters ("nb": newbalance)
    fuzzy_phrases: dict[str, list[str]] = field(default_factory=dict)
    colour_alias: dict[str, str] = field(default_factory=dict)
    colour_words: dict[str, str] = field(default_factory=dict)  # patterns/washes: surface -> canonical
    gender_alias: dict[str, str | list[str]] = field(default_factory=dict)
    condition_alias: dict[str, str] = field(default_factory=dict)
    style_alias: dict[str, str] = field(default_factory=dict)
    # canonical colour -> the colours of its families, itself first ("turquoise blue" -> blue, navy blue, teal)
    colour_family: dict[str, tuple[str, ...]] = field(default_factory=dict)
    # (key length, cutoff) -> the fuzzy brands that can reach the cutoff (`_near_length`), filled as asked
    _by_length: dict[tuple[int, float], list[str]] = field(default_factory=dict, repr=False, compare=False)

    @classmethod
    def load(cls, brands_path: Path = BRANDS_PATH, attributes_path: Path = ATTRIBUTES_PATH) -> Lexicon:
        lex = cls()
        raw = json.loads(Path(brands_path).read_text(encoding="utf-8"))
        if raw.get("format_version") != 1:
            raise ValueError(f"{brands_path}: expected format_version 1, got {raw.get('format_version')!r}")
        curated: list[str] = []
        for canon, aliases in raw["brands"].items():
            canon = canon.lower()
            for a in [canon, *aliases]:
                lex.brand_alias.setdefault(key(a), canon)
                lex.brand_loose.setdefault(_loose(a), canon)
                lex.brand_curated.add(key(a))
                if " " in key(a) and len(_loose(a)) >= 8:
                    lex.fuzzy_phrases.setdefault("".join(w[0] for w in key(a).split()), []).append(_loose(a))
            curated.append(canon)
        lex.footwear_brands = {b.lower() for b in raw.get("footwear", ())}
        if unknown := lex.footwear_brands - set(curated):
            raise ValueError(f"{brands_path}: footwear names brands it does not list: {sorted(unknown)}")
        with open(VOCAB / "fpi_brand_candidates.csv", encoding="utf-8") as f:
            for row in csv.DictReader(f):
                name = row["brand_candidate"].strip()
                if int(row["n_products"]) < 5 or key(name) in _BRAND_STOP or len(_loose(name)) < 2:
                    continue
                k = key(name)
                if _loose(name) in lex.brand_loose:
                    lex.brand_alias.setdefault(k, lex.brand_loose[_loose(name)])
                    continue
                lex.brand_alias.setdefault(k, k)
                lex.brand_loose.setdefault(_loose(name), k)
        lex.fuzzy_brands = sorted({lk for lk in lex.brand_loose if len(lk) >= 4})
        attrs = json.loads(Path(attributes_path).read_text(encoding="utf-8"))
        if attrs.get("format_version") != 1:
            raise ValueError(f"{attributes_path}: expected format_version 1")
        base = json.loads((VOCAB / "fpi_attribute_values.json").read_text(encoding="utf-8"))["baseColour"]
        for name, _n in base:
            if name != "NA":
                lex.colour_alias[key(name)] = name.lower()
        for canon, aliases in attrs["colours"].items():
            lex.colour_alias.setdefault(key(canon), canon)
            for a in aliases:
                lex.colour_alias.setdefault(key(a), canon)
        css = json.loads((VOCAB / "colours" / "css-color-names.json").read_text(encoding="utf-8"))
        for name in css:
            lex.colour_alias.setdefault(key(name), attrs["css_to_base"].get(name, name.lower()))
        for canon, aliases in attrs["patterns"].items():
            for a in [canon, *aliases]:
                lex.colour_words[key(a)] = canon
        for members in attrs.get("colour_families", {}).values():
            for c in members:
                have = lex.colour_family.setdefault(c, (c,))
                lex.colour_family[c] = have + tuple(m for m in members if m not in have)
        for canon, aliases in attrs["gender"].items():
            value: str | list[str] = canon.split("+") if "+" in canon else canon
            for a in aliases:
                lex.gender_alias[key(a)] = value
        for canon, aliases in attrs["condition"].items():
            for a in [canon, *aliases]:
                lex.condition_alias[key(a)] = canon
        for canon, aliases in attrs["styles"].items():
            for a in [canon, *aliases]:
                lex.style_alias[key(a)] = canon
        return lex

    def brand(self, text: str, fuzzy: bool = True, cutoff: float = 88.0) -> str | None:
        k = key(text)
        if not k:
            return None
        if k in self.brand_alias:
            return self.brand_alias[k]
        other = k.replace(" and ", " & ") if " and " in k else k.replace(" & ", " and ")  # "dooney and bourke"
        if other in self.brand_alias:
            return self.brand_alias[other]
        lk = _loose(text)
        if lk in self.brand_loose:
            return self.brand_loose[lk]
        if not fuzzy or len(lk) < 5:
            return None
        from rapidfuzz import fuzz, process

        if len(lk) >= 6 and " " not in k and not spelt_right(k):
            cutoff = min(cutoff, 85.0)  # a word no dictionary holds, one letter off a brand: "supream"
        hit = process.extractOne(lk, self._near_length(len(lk), cutoff), scorer=fuzz.ratio, score_cutoff=cutoff)
        # a word spelt right is a brand misspelt only from its first letter on ("channel", "rebook"):
        # "basics" is no asics
        if hit and " " not in k and hit[0][:1] != lk[:1] and spelt_right(k):
            return None
        return self.brand_loose[hit[0]] if hit else None

    def _near_length(self, n: int, cutoff: float) -> list[str]:
        """The fuzzy brands whose length lets them reach `cutoff` against a key of length `n` (fuzz.ratio is
        at most 100 * (1 - |n - m| / (n + m))), in their sorted order: the same best match, found sooner."""
        got = self._by_length.get((n, cutoff))
        if got is None:
            slack = 1 - cutoff / 100
            got = self._by_length[(n, cutoff)] = [b for b in self.fuzzy_brands
                                                  if abs(n - len(b)) <= slack * (n + len(b)) + 1e-9]
        return got

    def near_brand(self, text: str, slips: int | None = None) -> str | None:
        """The one brand a name read as a brand (by the tagger) is a slip of the keys away from: a letter
        dropped, added, changed or two swapped ("leis", "gnni", "sexane"), two in a name of 8 letters or more
        ("nrth fase"), from the same first letter; not a word spelt right ("lacrosse" socks). None where two
        brands are as near, or none is. `slips` caps the edits whatever the length."""
        lk = _loose(text)
        if len(lk) < 4 or lk.isdigit() or all(spelt_right(w) for w in key(text).split()):
            return None
        from rapidfuzz import process
        from rapidfuzz.distance import DamerauLevenshtein

        most = min(1 if len(lk) < 8 else 2, slips or 2)
        names = [b for b in self._near_length(len(lk), 100 * (1 - most / 8)) if b[0] == lk[0]]
        hits = process.extract(lk, names, scorer=DamerauLevenshtein.distance, score_cutoff=most, limit=2)
        if not hits or (len(hits) == 2 and hits[1][1] == hits[0][1]
                        and self.brand_loose[hits[1][0]] != self.brand_loose[hits[0][0]]):
            return None
        return self.brand_loose[hits[0][0]]

    def brand_phrase(self, text: str, cutoff: float = 88.0) -> str | None:
        """A curated brand of several words, misspelt: "new balence", "ralf lauren". Only names of
        8 letters or more whose words begin as the brand's do, so that two short words cannot drift
        into a brand ("dog essentials" is not "fog essentials"), and with a word no dictionary holds
        ("how universe works" is spelt right, and not Universal Works)."""
        lk = _loose(text)
        words = key(text).split()
        # (nor one that opens with a joining word: "and waders" in "boots and waders" is no "and wander")
        if len(lk) < 8 or all(spelt_right(w) for w in words) or words[0] in _JOINING_WORDS:
            return None
        from rapidfuzz import fuzz, process

        names = self.fuzzy_phrases.get("".join(w[0] for w in key(text).split()))
        hit = process.extractOne(lk, names, scorer=fuzz.ratio, score_cutoff=cutoff) if names else None
        return self.brand_loose[hit[0]] if hit else None

    def colour(self, text: str) -> str | None:
        """The canonical colour, pattern or wash a phrase names; a colour with "-ish" is the colour ("greenish",
        "reddish", "bluish": green, red, blue)."""
        k = key(text)
        found = self.colour_alias.get(k) or self.colour_words.get(k)
        if found is None and k.endswith("ish") and len(k) >= 6:
            stem = k[:-3]
            for name in (stem, stem[:-1] if stem[-1] == stem[-2] else None, stem + "e"):
                if name and (found := self.colour_alias.get(name)):
                    break
        return found

    def misspelt_colour(self, text: str) -> str | None:
        """The colour a misspelt word names: a one-word colour, pattern or wash name of 4 letters or more,
        beginning with the same letter, with two neighbouring letters swapped, one dropped or one doubled
        ("gery", "balck", "blak", "navvy", "biege", "cammo"), one changed to its neighbour on the keyboard's
        row ("blsck", "pibk") or, in a name of 6 letters or more, to any ("lavendar"). Only a word no
        dictionary holds (`spelt_right`), so a real word ("slack", "prey", "wavy") is never read as one; a
        name shorter than 6 letters with some other letter changed is more often a brand ("broan", "tfal")."""
        name = self.colour_spelt(text)
        return self.colour(name) if name else None

    def colour_spelt(self, text: str) -> str | None:
        """The colour name a misspelt word is one slip from ("balck" -> "black"), as `misspelt_colour` reads it."""
        return _slip_of(self._colour_slips, text)

    def department_spelt(self, text: str) -> str | None:
        """The department word a misspelt word is one slip from ("womes", "wommens", "ladeis", "mems" ->
        "womens", "womens", "ladies", "mens"), under the rules of `misspelt_colour`; English words only (a
        slip from "donna" or "heren" is as often a name)."""
        return _slip_of(self._department_slips, text)

    def prepare(self) -> Lexicon:
        """Build the slip tables now (about 50 ms), not when the first query with a misspelt word needs them
        (a fresh server's first "north face jaket" had spent 45 ms in qu, 3 ms after)."""
        for table in ("_colour_slips", "_department_slips"):
            getattr(self, table)  # a cached property: built once, here
        return self

    @cached_property
    def _department_slips(self) -> dict[str, str]:
        return _slips(_SLIPPED_DEPARTMENTS, set(self.gender_alias))

    @cached_property
    def _colour_slips(self) -> dict[str, str]:
        """Every one-slip spelling of every one-word colour, pattern or wash name ("balck", "cammo"), to the
        name (one dict lookup a word)."""
        names = self.colour_alias.keys() | self.colour_words.keys()
        return _slips(names, names)


def _slip_of(slips: dict[str, str], text: str) -> str | None:
    """The name `text` is a slip of in `slips` (from `_slips`), if it is a word of 4 letters or more that no
    dictionary holds, or of 3 (`_slips` holds a 3-letter slip only where `short_slip` allows it: "pik", "mns";
    not "god" or "mes")."""
    k = key(text)
    name = slips.get(k)
    return name if name is not None and (len(k) == 3 or not spelt_right(k)) else None


def short_slip(word: str, name: str) -> bool:
    """Whether a 3-letter `word` is the 4-letter `name` with a letter inside it dropped ("pik": pink, "tps": tops,
    "mns": mens), and no English word of its own (`short_words`: "bet" is no slip of "belt")."""
    words = short_words()
    return (len(word) == 3 and len(name) == 4 and word in (name[0] + name[2:], name[:2] + name[3])
            and bool(words) and word not in words)


def _slips(names, known) -> dict[str, str]:
    """Every one-slip spelling (`_one_slip_spellings`, same first letter; of 3 letters, `short_slip`) of each
    one-word name of 4 letters or more, to the name; not a spelling in `known`; where two names share a slip,
    the first in alphabetical order."""
    out: dict[str, str] = {}
    for name in sorted(names):
        if name.isalpha() and len(name) >= 4:
            for slip in _one_slip_spellings(name):
                # a slip of 3 letters only from inside a name: "ble" is blue's, not bleu's
                if slip[0] == name[0] and slip not in known and (len(slip) > 3 or short_slip(slip, name)):
                    out.setdefault(slip, name)
    return out


# department words whose slips are read as them ("wommens dress")
_SLIPPED_DEPARTMENTS = frozenset({"womens", "women", "woman", "womans", "ladies", "mens", "girl", "girls", "boys",
                                  "kids", "adult", "adults", "child", "children", "childrens", "toddler", "toddlers",
                                  "infant", "infants", "newborn", "babies", "junior", "juniors", "unisex"})


def _one_slip_spellings(name: str) -> set[str]:
    """`name` typed with one slip: two neighbouring letters swapped, a letter dropped or doubled, one changed
    to its neighbour on the keyboard's row ("blsck", "whire"), or (names of 6 letters or more) to any."""
    n = len(name)
    out = {name[:i] + name[i + 1] + name[i] + name[i + 2 :] for i in range(n - 1) if name[i] != name[i + 1]}
    out |= {name[:i] + name[i + 1 :] for i in range(n)}
    out |= {name[: i + 1] + name[i:] for i in range(n)}
    for i, ch in enumerate(name):
        near = "abcdefghijklmnopqrstuvwxyz" if n >= 6 else _KEY_NEIGHBOURS.get(ch, "")
        out |= {name[:i] + c + name[i + 1 :] for c in near if c != ch}
    return out - {name}


_KEY_NEIGHBOURS = {row[j]: row[max(j - 1, 0) : j] + row[j + 1 : j + 2]
                   for row in ("qwertyuiop", "asdfghjkl", "zxcvbnm") for j in range(len(row))}


WORDPIECE_PATH = ROOT / "models" / "qu" / "minilm" / "tokenizer.json"
WORD_MIN_COUNT = 100  # pyspellchecker's English list counts words in a corpus; near its floor (50) are misspellings


@lru_cache(maxsize=1)
def dictionary_words() -> frozenset[str]:
    """English words of 4 letters or more: pyspellchecker's English word list (160k words with their
    counts in a large corpus; those counted 100 times or more) and the whole words of BERT's uncased
    WordPiece vocabulary (the shipped tagger's: well-known names too). A word in it is spelt right
    ("casino", "cooker", "stickers"), so it is never read as a misspelt brand or garment ("casio",
    "choker", "knickers"); "stussey", "hoddie" and "jaket" are not in it. Empty if neither source
    can be read, and then nothing counts as misspelt."""
    words: set[str] = set()
    try:
        vocab = json.loads(WORDPIECE_PATH.read_text(encoding="utf-8"))["model"]["vocab"]
        words.update(w for w in vocab if len(w) >= 4 and w.isalpha())
    except (OSError, KeyError, ValueError):
        pass
    words.update(_english_words()[1])
    return frozenset(words)


@lru_cache(maxsize=1)
def _english_words() -> tuple[frozenset[str], frozenset[str], frozenset[str]]:
    """pyspellchecker's English words counted `WORD_MIN_COUNT` times or more in its corpus, of 3 letters and of
    4 or more, and all its words of 5 letters or more whatever their count (one read of the list for the
    three); empty if it cannot be read."""
    import gzip
    from importlib import resources

    try:
        with resources.files("spellchecker").joinpath("resources", "en.json.gz").open("rb") as f:
            counts = json.loads(gzip.decompress(f.read()))
    except (ModuleNotFoundError, OSError, ValueError):
        return frozenset(), frozenset(), frozenset()
    common = [w for w, n in counts.items() if n >= WORD_MIN_COUNT and len(w) >= 3 and w.isalpha()]
    return (frozenset(w for w in common if len(w) == 3), frozenset(w for w in common if len(w) >= 4),
            frozenset(w for w in counts if len(w) >= 5 and w.isalpha()))


@lru_cache(maxsize=1)
def short_words() -> frozenset[str]:
    """English words of 3 letters that pyspellchecker's list counts 100 times or more ("bet", "cot", "mes"):
    such a word is never read as a slip of a longer name. Empty if the list cannot be read, and then no
    3-letter word is read as a slip."""
    return _english_words()[0]


def spelt_right(word: str) -> bool:
    """Whether a (lowercased) word counts as spelt right: the dictionary holds it, or no dictionary
    could be read, and then nothing counts as misspelt."""
    words = dictionary_words()
    return not words or word in words


@lru_cache(maxsize=1)
def written_words() -> frozenset[str]:
    """Words of 5 letters or more that someone writes: the dictionary's (`dictionary_words`), every word of
    pyspellchecker's list however rarely its corpus counts it ("shavers", "positioner", "edger"), and the
    words of the names qu reads (brands and their misspellings, colours, styles, departments, conditions,
    garments: "ganni", "stussy", "gorpcore"). A query's word in it is not a slip of another word
    (`retrieval.spell`)."""
    from qu.taxonomy import get_taxonomy

    lex = get_lexicon()
    names = [*lex.brand_alias, *lex.colour_alias, *lex.colour_words, *lex.style_alias, *lex.gender_alias,
             *lex.condition_alias, *get_taxonomy().synonyms]
    named = {w for name in names for w in re.findall(r"[a-z]+", name) if len(w) >= 5}
    return frozenset(w for w in dictionary_words() if len(w) >= 5) | _english_words()[2] | named


def is_written(word: str) -> bool:
    """Whether a (lowercased) word of 5 letters or more is one someone writes (`written_words`)."""
    return word in written_words()


@lru_cache(maxsize=2)
def get_lexicon() -> Lexicon:
    return Lexicon.load()


def canonical_brand(text: str) -> str | None:
    """Lowercase canonical brand for a surface form: "Levis" -> "levi's", "addidas" -> "adidas", else None."""
    return get_lexicon().brand(text)


def canonical_colour(text: str) -> str | None:
    """Canonical colour (catalogue base-colour vocabulary, lowercase) or pattern/wash, else None."""
    return get_lexicon().colour(text)
