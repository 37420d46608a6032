"""Layer 1: lexicons, the size grammar and price patterns. Pure Python, tens of microseconds a query.

Longest match over word n-grams (up to 4 words) against the gazetteers, then the size grammar and
price patterns on the raw text. Every span carries its canonical value.
"""

from __future__ import annotations

import re
from collections import Counter
from dataclasses import dataclass, field

from qu._data import load_split
from qu.lexicon import Lexicon, _loose, dictionary_words, get_lexicon, key, short_words, spelt_right
from qu.merge import COLOUR_JOINT, GARMENT_COLOUR, METALS_AND_STONES, unread_words
from qu.sizes import SIZE_WORD, find_sizes
from qu.taxonomy import GARMENT_ROOTS, Taxonomy, get_taxonomy
from qu.types import Span

__all__ = ["PriceBounds", "RuleMatcher", "find_price"]

# accessories worn like clothes: their colour is said as a garment's ("cream scarf", "silver beanie"); a
# ring's or a watch's metal is what it is made of (gloves left out: "deer skin leather gloves")
WORN_ACCESSORIES = frozenset({"hats", "scarves", "belts", "ties", "hair accessories", "sunglasses"})

_SLIP = 0.55  # the confidence of a brand read a slip of the keys away from a name (`Lexicon.near_brand`)
_TOKEN = re.compile(r"[\w][\w'&.+\-]*[\w+]|[\w]", re.UNICODE)
_CUR = r"(?:£|\$|€|gbp|usd|euros?|eur|pounds?|dollars?|quid|bucks)"
_AMOUNT = rf"{_CUR}?\s?(\d{{1,5}}(?:\.\d{{1,2}})?)\s?{_CUR}?"
_PRICE_PATTERNS = [
    (
        "max",
        re.compile(
            rf"(?:under|below|less than|cheaper than|up to|upto|no more than|budget(?: of)?|<=?|≤|"
            # "sub £50", "around £25", "about 30 quid": a budget only with its currency (checked below)
            rf"(?:sub|around|about|roughly|approx(?:imately)?|~)(?=\s*{_CUR}|\s*\d+\s?{_CUR})|"
            rf"max(?:imum)?(?=\s*{_CUR}))\s*{_AMOUNT}",
            re.I,
        ),
    ),
    # the bound after the amount: "£15 or less", "20 quid max", "30 and under"
    ("max", re.compile(rf"{_AMOUNT}\s*(?:or less|or under|or below|and under)\b", re.I)),
    ("max", re.compile(rf"(?:{_CUR}\s?(\d{{1,5}})|(\d{{1,5}})\s?{_CUR})\s*max(?:imum)?\b", re.I)),  # "20 quid max"
    ("max", re.compile(r"(?<![\d.])(\d{2,5})\s*max(?:imum)?(?=\W*$)", re.I)),  # ending the query: "jeans 30 max"
    (  # "jeans max 25"; not "air max 90", "max 10 lbs"
        "max",
        re.compile(
            rf"(?<!air )\bmax(?:imum)?\s+(\d{{2,5}})(?:\s?{_CUR}(?!\w)|\b"
            r"(?![\d%.]|\s?(?:lbs?|kg|g|oz|mm|cm|in|inch|ft|gb|tb|w|watts?|mph|psi|v|ml|l|x|pcs|pack)\b))",
            re.I,
        ),
    ),
    (
        "min",
        re.compile(
            rf"(?:over|above|more than|at least|from|>=?|≥|min(?:imum)?(?=\s*{_CUR}))\s*{_AMOUNT}", re.I
        ),
    ),
    (
        "range",
        re.compile(rf"(?:between\s+)?{_CUR}\s?(\d{{1,5}})\s?(?:-|to|and)\s?{_CUR}?\s?(\d{{1,5}})\b", re.I),
    ),
    ("range", re.compile(r"\bbetween\s+(\d{1,5})\s?(?:-|to|and)\s?(\d{1,5})\b", re.I)),  # "between 50 and 100"
    (
        "range",
        re.compile(rf"\b(\d{{2,5}})\s?(?:-|to)\s?(\d{{2,5}})\s?{_CUR}(?!\w)", re.I),
    ),
    # a bare "20-40" is read as a price range when no size word or unit is next to it
    (
        "range",
        re.compile(
            r"(?<![\w.\-/])(?<!size )(?<!uk )(?<!eu )(?<!us )(\d{2,4})\s?-\s?(\d{2,4})(?![\w.\-/])"
            r"(?!\s?(?:in|inch|mm|cm|"
            r"months?|years?|yrs?|y|m|oz|ft)\b)",
            re.I,
        ),
    ),
    ("max", re.compile(r"(?:under|below|less than|up to)\s+a\s+(tenner|fiver)\b", re.I)),  # UK slang: 10, 5
    # an amount in words: "jeans under twenty", "less than fifty quid"
    ("max", re.compile(r"(?:under|below|less than|up to)\s+((?:twenty|thirty|forty|fifty)(?:[\s-]five)?|ten|fifteen"
                       r"|sixty|seventy|eighty|ninety|(?:a|one)\s+hundred)(?:\s+(?:pounds|quid|dollars|euros|bucks))?\b",
                       re.I)),
    # a bare amount with its currency sign is the shopper's budget: "dress £10", "$25 jeans", "£30ish";
    # so is one with a word only money is counted in ("jacket 25 quid"; not "pounds", a weight too)
    ("max", re.compile(r"(?:[£$€]\s?(\d{1,5}(?:\.\d{1,2})?)|\b(\d{1,5}(?:\.\d{1,2})?)\s?[£€])(?:ish)?(?![\w.])", re.I)),
    ("max", re.compile(r"\b(\d{1,5})(?:ish)?\s?(?:quid|euros?|dollars?|bucks)(?:ish)?\b", re.I)),
]
_SLANG_AMOUNTS = {"tenner": 10.0, "fiver": 5.0, "ten": 10.0, "fifteen": 15.0, "twenty": 20.0, "thirty": 30.0,
                  "forty": 40.0, "fifty": 50.0, "sixty": 60.0, "seventy": 70.0, "eighty": 80.0, "ninety": 90.0,
                  "hundred": 100.0}


def _amount(word: str) -> float:
    """An amount in words or slang: "tenner" 10, "twenty five" 25, "a hundred" 100."""
    parts = re.split(r"[\s-]+", word.lower())
    return sum(_SLANG_AMOUNTS[p] if p != "five" else 5.0 for p in parts if p not in ("a", "one"))


# a shade before a colour is part of its name ("dark purple", "pale yellow", a wash: "washed black",
# "faded black"): the span takes it,
# the value stays the colour
_SHADES = {"dark", "light", "pale", "deep", "bright", "dusty", "dusky", "neon", "pastel", "muted",
           "vivid", "rich", "baby", "washed", "faded"}
# a pattern's name with "print" is one colour ("cheetah print"), as "leopard print" is in the lexicon
_PATTERN_VALUES = {"animal print", "floral", "camo", "check", "polka dot", "striped"}

# colour words that more often name something else ("fat burning cream", "steel toe", "blue print")
AMBIGUOUS_COLOURS = {
    "cream",
    "natural",
    "steel",
    "print",
    "printed",
    "logo",
    "graphic",
    "rose",
    "skin",
    "nude",
    "stone",
    "sand",
    "ash",
    "bone",
    "wine",
    "coffee",
    "chocolate",
    "lemon",
    "lime",
    "mint",
    "cherry",
    "sage",
    "plum",
    "grape",
    "midnight",
    "brick",
    "coral",
    "blush",
    "heather",
    "chrome",
    "copper",
    "bronze",
    "oat",
    "biscuit",
    "latte",
    "mushroom",
    "metallic",
    "clear",
    "transparent",
    "flower",
    "flowers",
    "dots",
    "stripe",
    "neon",
    "tan",
    "camel",
    "tobacco",
    "vanilla",
}


_SYSTEMS = {"uk", "eu", "us", "fr", "it", "jp", "cm", "waist", "one size", "collar", "chest", "bust", "hip", "us kids",
            "letter pair", "leg fit", "leg", "hat", "suit", "bra", "ring", "department"}
SIZE_IN_CONTEXT = 0.9  # a letter size beside a garment or a fashion brand: "nike hoodie xs", not "iphone xs"
SIZE_STRONG = 0.95  # beats the tagger's other reading: a letter size ending the query, a kids' age
_BARE_LETTERS = ("s", "m", "l")
_SAID_SIZE = re.compile(rf"(?:{SIZE_WORD}|sz)\b", re.I)
_POSSESSORS = {"men", "women", "boy", "boys", "girl", "girls", "kid", "kids", "child", "children"}  # "men s" is men's


def _sizes_in_context(query: str, spans: list[Span], systems: dict[tuple[int, int], str]) -> list[Span]:
    """Sizes read with the rest of the query. A bare letter size ("xs", "large") is weak evidence
    alone (0.7: "iphone xs", "large print"), but beside a garment the rules know or a curated
    fashion brand it is the shopper's size. As the query's last word it is the size even against
    the tagger's reading, and "s", "m" and "l" count too: shoppers end a query with the size
    ("zara dress m", "north face puffer womens s"); mid-query they count right after a department or
    a garment ("joggers mens l grey"). A kids' age beside a garment ("joggers age 7-8")
    is the size too, not the department the tagger reads."""
    context = any(
        (sp.attribute == "category" and sp.confidence >= 0.85) or (sp.attribute == "brand" and sp.confidence >= 0.9)
        for sp in spans
    )
    if not context:
        # a size word right after a department or a fit is its size: "womens medium", "tall large"
        after = {sp.end + 1 for sp in spans if sp.attribute == "gender"
                 or (sp.attribute == "size" and sp.value in ("tall", "petite"))}
        return [sp.model_copy(update={"confidence": SIZE_IN_CONTEXT})
                if (sp.attribute == "size" and systems.get((sp.start, sp.end)) == "letter" and sp.start in after
                    and query[sp.start - 1].isspace() and len(sp.text) > 2)
                else sp for sp in spans]
    last = list(_TOKEN.finditer(query))[-1]  # a category or brand span means there are words

    def conf(sp: Span) -> float:
        system = systems.get((sp.start, sp.end)) if sp.attribute == "size" else None
        if system == "age":
            return SIZE_STRONG
        if system == "letter":
            return max(sp.confidence, SIZE_STRONG if sp.end == last.end() else SIZE_IN_CONTEXT)
        return sp.confidence

    out = [sp if conf(sp) == sp.confidence else sp.model_copy(update={"confidence": conf(sp)}) for sp in spans]
    toks = list(_TOKEN.finditer(query))
    for i, tok in enumerate(toks):
        word = tok.group(0).lower()
        if word not in _BARE_LETTERS or any(sp.start < tok.end() and tok.start() < sp.end for sp in spans):
            continue
        if tok.span() == last.span():
            out.append(Span(attribute="size", text=tok.group(0), start=tok.start(), end=tok.end(),
                            value=word, source="rules", confidence=SIZE_STRONG))
        elif i and any((sp.attribute in ("gender", "category")
                        or (sp.attribute in ("colour", "brand") and sp.confidence >= 0.85))
                       and sp.end == toks[i - 1].end() for sp in spans) and not (
            word == "s" and toks[i - 1].end() == tok.start() - 1 and toks[i - 1].group(0).lower() in _POSSESSORS
        ):
            # mid-query, right after a department, a garment, a colour or a brand: "joggers mens l grey
            # nike", "nuptse black m womens", "boxers calvin klein m 3 pack"
            out.append(Span(attribute="size", text=tok.group(0), start=tok.start(), end=tok.end(),
                            value=word, source="rules", confidence=SIZE_IN_CONTEXT))
    return out


# style words that name other things when no garment is said: "extension cord", "power cord", "tennis
# necklace", "horseshoe ring", "number 5 balloon"
_CLOTHES_ONLY_STYLES = frozenset({"cord", "carpenter", "tennis", "balloon", "horseshoe", "bow", "bows", "grandpa",
                                  "triangle"})

# between two brands the shopper would take either of: "levis or wrangler", "nike & adidas", "zara/mango"
_BRAND_JOINT = re.compile(r"\s+(?:or|and|&)\s+|\s?[/&]\s?", re.I)

# gender words often part of a title or a product ("wonder woman", "american girl doll", "baby shampoo")
_AMBIGUOUS_GENDER = {
    "girl",
    "woman",
    "man",
    "boy",
    "baby",
    "babies",
    "female",
    "male",
    "child",
    "adult",
    "adults",
    "teen",
    "her",
    "him",
    "lady",
    "guys",
    "junior",
    "juniors",
    "school",
    "tween",
    "tweens",
    "youth",
    "infant",
    "newborn",
    "kid",
}


@dataclass(frozen=True)
class PriceBounds:
    start: int
    end: int
    text: str
    low: float | None
    high: float | None


def find_price(query: str) -> list[PriceBounds]:
    out: list[PriceBounds] = []
    for kind, pat in _PRICE_PATTERNS:
        for m in pat.finditer(query):
            if any(m.start() < p.end and p.start < m.end() for p in out):
                continue
            text = m.group(0).strip()
            if kind in ("max", "min") and not re.search(
                rf"{_CUR}|<|>|≤|≥|under|below|over|above|less|more|up to|upto|max|min|cheaper|budget", text, re.I
            ):
                continue
            # a bare "over 50" needs a currency to count: "over 5" alone could be anything
            if (
                kind in ("max", "min")
                and kind == "min"
                and not re.search(_CUR, text, re.I)
                and not text.startswith((">", "≥"))
            ):
                continue
            nums = [float(g) if re.fullmatch(r"[\d.]+", g) else _amount(g) for g in m.groups() if g is not None]
            start = m.start() + len(m.group(0)) - len(m.group(0).lstrip())
            end = m.start() + len(m.group(0).rstrip())
            if kind == "max":
                out.append(PriceBounds(start, end, text, None, nums[0]))
            elif kind == "min":
                out.append(PriceBounds(start, end, text, nums[0], None))
            elif nums[1] > nums[0]:
                out.append(PriceBounds(start, end, text, nums[0], nums[1]))
    return out


def _common_words() -> set[str]:
    """Words shoppers use in QueryNER train mostly outside brand spans: never fuzzy-matched as brands."""
    inside, outside = Counter(), Counter()
    for r in load_split("train"):
        marks = ["O"] * len(r["tokens"])
        for s in r["spans"]:
            for i in range(s["start"], s["end"]):
                marks[i] = s["label"]
        for tok, lab in zip(r["tokens"], marks, strict=False):
            (inside if lab == "creator" else outside)[tok.lower()] += 1
    return {w for w, n in outside.items() if n >= 2 and n > inside[w]}


# places whose names begin with a condition or a colour word: "baseball cap new york" is no new cap
_PLACES = {"new york", "new jersey", "new zealand", "new england", "new orleans", "new mexico", "new hampshire",
           "new delhi", "new castle", "newcastle united", "orange county", "green bay", "red sox"}
_PLACE = ("place", "", 0.0)


@dataclass
class RuleMatcher:
    lexicon: Lexicon
    taxonomy: Taxonomy
    common: set[str] = field(default_factory=set)
    max_ngram: int = 4

    @classmethod
    def load(cls) -> RuleMatcher:
        # read now (0.2 s: one read of pyspellchecker's list serves both), not by the first query with a word to look up
        dictionary_words(), short_words()
        return cls(lexicon=get_lexicon().prepare(), taxonomy=get_taxonomy(), common=_common_words())

    def _lookup(self, phrase: str, n: int) -> tuple[str, str, float] | None:
        """(attribute, canonical value, confidence) for an n-gram, or None. A hyphenated word the
        lexicons list spaced is read spaced: "slim-fit", "faux-fur", "brand-new"."""
        found = self._lookup_phrase(phrase, n)
        if found is None and "-" in phrase:
            found = self._lookup_phrase(phrase.replace("-", " "), n)
        return found

    def _lookup_phrase(self, phrase: str, n: int) -> tuple[str, str, float] | None:
        k = key(phrase)
        lex = self.lexicon
        if k in _PLACES:
            return _PLACE
        if k in lex.gender_alias:
            v = lex.gender_alias[k]
            return (
                "gender",
                "+".join(v) if isinstance(v, list) else v,
                0.7 if k in _AMBIGUOUS_GENDER else 0.95,
            )
        if k in lex.condition_alias:
            return "condition", lex.condition_alias[k], 0.9
        if k in lex.colour_alias:
            return "colour", lex.colour_alias[k], 0.6 if k in AMBIGUOUS_COLOURS else 0.9
        if k in lex.colour_words:
            return "colour", lex.colour_words[k], 0.7
        if n == 2:
            first, _, second = k.partition(" ")
            if first in _SHADES and second in lex.colour_alias and second not in AMBIGUOUS_COLOURS:
                return "colour", lex.colour_alias[second], 0.9
            if second == "print" and (pattern := lex.colour(first)) in _PATTERN_VALUES:
                return "colour", pattern, 0.7
        cat = self.taxonomy.synonyms.get(k)
        if cat is None and n == 2:  # a garment's name written as two words: "jump suit", "wind breaker"
            cat = self.taxonomy.synonyms.get(k.replace(" ", ""))
        if cat is None and ("-" in k or "." in k):
            cat = self.taxonomy.exact(phrase)  # the taxonomy's own key: "t-shirt" is "t shirt"
        if cat is not None:
            return "category", cat, 0.85
        if k in lex.brand_alias:
            ambiguous = (n == 1 and k in self.common) or k not in lex.brand_curated
            return "brand", lex.brand_alias[k], 0.6 if ambiguous else 0.9
        if k in lex.style_alias:
            return "style", lex.style_alias[k], 0.8
        if n == 2 and not any(ch.isdigit() for ch in k):
            brand = lex.brand_phrase(phrase)
            if brand is not None:  # a name of several words, a letter or two off: as sure as the name itself
                return "brand", brand, 0.9
        if n == 1:
            cat = self.taxonomy.normalise(k) if k.endswith("s") else None
            if cat is not None:
                return "category", cat, 0.75
            cat = self.taxonomy.misspelt(k)
            if cat is not None:  # "hoddie", "jaket": a garment misspelt, no word of its own
                return "category", cat, 0.85
            colour = lex.misspelt_colour(k)
            if colour is not None:  # "balck", "gery": a colour misspelt, weak alone ("broan" is a brand)
                return "colour", colour, 0.6
            lk = _loose(phrase)
            if len(lk) >= 5 and k not in self.common and not lk.isdigit():
                brand = lex.brand(phrase, fuzzy=True)
                if brand is not None:
                    return "brand", brand, 0.6
                # or a slip of the keys away from one ("oakely", "satud"): kept only in a query about something
                # to wear (`_brands_in_context`)
                brand = lex.near_brand(phrase, slips=1)
                if brand is not None:
                    return "brand", brand, _SLIP
        return None

    def spans(self, query: str) -> list[Span]:
        out: list[Span] = []
        taken: list[tuple[int, int]] = []
        systems = {}
        for m in find_sizes(query):
            systems[(m.start, m.end)] = m.system
            conf = (
                0.95 if m.system in _SYSTEMS or _SAID_SIZE.match(m.text)  # "sz m": the shopper says it is the size
                else 0.9 if m.system not in ("letter", "measure", "fit") else 0.7
            )
            out.append(
                Span(
                    attribute="size",
                    text=m.text,
                    start=m.start,
                    end=m.end,
                    value=m.value,
                    source="rules",
                    confidence=conf,
                )
            )
            taken.append((m.start, m.end))
        for p in find_price(query):
            if any(p.start < e and s < p.end for s, e in taken):
                continue
            taken.append((p.start, p.end))
            for attribute, bound in (("price_min", p.low), ("price_max", p.high)):
                if bound is not None:
                    out.append(Span(attribute=attribute, text=query[p.start : p.end], start=p.start, end=p.end,
                                    value=str(bound), source="rules", confidence=0.9))
        toks = [(m.start(), m.end()) for m in _TOKEN.finditer(query)]
        i = 0
        while i < len(toks):
            if any(toks[i][0] < e and s < toks[i][1] for s, e in taken):
                i += 1
                continue
            hit = None
            for n in range(min(self.max_ngram, len(toks) - i), 0, -1):
                s, e = toks[i][0], toks[i + n - 1][1]
                if any(s < te and ts < e for ts, te in taken):
                    continue
                found = self._lookup(query[s:e], n)
                if found is not None:
                    hit = (n, s, e, found)
                    break
            if hit is None:
                i += 1
                continue
            n, s, e, found = hit
            if found is _PLACE:  # a place's name reads as no attribute, whatever its words
                taken.append((s, e))
                i += n
                continue
            attr, value, conf = found
            out.append(
                Span(
                    attribute=attr,
                    text=query[s:e],
                    start=s,
                    end=e,
                    value=value,
                    source="rules",
                    confidence=conf,
                )
            )
            taken.append((s, e))
            i += n
        out = self._brands_in_context(query, out)
        out = self._mint_in_context(query, out)
        out = self._wide_in_context(query, out)
        out = self._colours_in_context(query, out)
        out = self._styles_in_context(out)
        return sorted(_sizes_in_context(query, out, systems), key=lambda sp: sp.start)

    def _mint_in_context(self, query: str, spans: list[Span]) -> list[Span]:
        """"mint" just before a garment is its colour ("mint top", "mint cardigan"); elsewhere it is the
        condition ("mint condition", "nike tn mint")."""
        cats = [sp for sp in spans if sp.attribute == "category"]
        return [
            sp.model_copy(update={"attribute": "colour", "value": self.lexicon.colour("mint"), "confidence": 0.85})
            if sp.attribute == "condition" and key(sp.text) == "mint"
            and any(c.start > sp.end and not query[sp.end : c.start].strip() for c in cats)
            else sp
            for sp in spans
        ]

    def _wide_in_context(self, query: str, spans: list[Span]) -> list[Span]:
        """"wide" beside a shoe, or after its size, is its fitting ("size 9 wide trainers", "boots wide",
        "sneakers womens 7.5 wide"); elsewhere it says other things ("wide brim hat", "wide mouth jar")."""
        shoes = [sp for sp in spans if sp.attribute == "category" and "shoes" in self.taxonomy.roots([sp.value])]
        if not shoes:
            return spans
        out = list(spans)
        for m in re.finditer(r"\bwide\b", query, re.I):
            if any(sp.start < m.end() and m.start() < sp.end for sp in spans):
                continue
            if re.search(r"\d\s?$", query[: m.start()]) or any(
                    (c.start > m.end() and not query[m.end() : c.start].strip())
                    or (c.end < m.start() and not query[c.end : m.start()].strip()) for c in shoes):
                out.append(Span(attribute="style", text=m.group(0), start=m.start(), end=m.end(), value="wide fit",
                                source="rules", confidence=0.85))
        return out

    def _colours_in_context(self, query: str, spans: list[Span]) -> list[Span]:
        """A colour name that more often names something else ("cream", "stone", "camel") is weak
        evidence alone (0.6: "face cream"), but beside a garment, shoe, bag or an accessory worn like
        them (a hat, a scarf: not jewellery) the rules know it is the colour ("wide leg trousers
        cream", "camel scarf"): it then fills where the tagger read nothing. So is a misspelt colour
        ("balck dress", "gery hoodie"; alone, "broan" and "stoner" are names), and one joined to a colour that
        is sure ("navy and cream stripe jumper") is as sure. Patterns stay as they are ("cheetah" in "cheetah
        print wallet")."""
        cats = [sp.value for sp in spans if sp.attribute == "category" and sp.confidence >= 0.85]
        if not (self.taxonomy.roots(cats) & GARMENT_ROOTS or set(cats) & WORN_ACCESSORIES):
            return spans
        out = []
        for sp in spans:
            if sp.attribute == "colour" and sp.text.lower() in METALS_AND_STONES:
                # a metal's or a stone's name said of clothes, shoes or a bag is its colour ("silver sequin
                # top", "slate hoodie", "bronze heels"), not the material it is of a ring
                sp = sp.model_copy(update={"confidence": GARMENT_COLOUR})
            elif sp.attribute == "colour" and sp.confidence < 0.85 and (
                    (key(sp.text) in self.lexicon.colour_alias and sp.value not in self.lexicon.colour_words.values())
                    or self.lexicon.misspelt_colour(sp.text) is not None):  # "balck dress", "gery hoodie"
                sp = sp.model_copy(update={"confidence": 0.85})
            out.append(sp)
        sure = [o for o in out if o.attribute == "colour" and o.confidence >= 0.9]

        def joined(sp: Span) -> bool:  # "navy and cream", "cream/navy"
            return any(COLOUR_JOINT.fullmatch(query[a.end : b.start]) for o in sure
                       for a, b in ((o, sp), (sp, o)) if a.end <= b.start)

        return [sp.model_copy(update={"confidence": 0.9}) if sp.attribute == "colour" and sp.confidence == 0.85
                and joined(sp) else sp for sp in out]

    def _styles_in_context(self, spans: list[Span]) -> list[Span]:
        """A style word is said of something to wear: where the rules read no garment, accessory or
        fashion brand, it does not outweigh the tagger's reading ("pleated" in "pleated rv door", "party"
        in "party supplies": train and dev, 28 better, 7 worse). "cord" is corduroy only said of
        clothes ("cord skirt", "pinafore dress cord"; not "extension cord"), and "carpenter" a cut ("carpenter
        jeans"; not "carpenter pencil")."""
        cats = [sp.value for sp in spans if sp.attribute == "category" and sp.confidence >= 0.85]
        if "clothing" not in self.taxonomy.roots(cats):
            spans = [sp for sp in spans if not (sp.attribute == "style" and key(sp.text) in _CLOTHES_ONLY_STYLES)]
        if any((sp.attribute == "category" and sp.confidence >= 0.85)
               or (sp.attribute == "brand" and sp.confidence >= 0.9) for sp in spans):
            return spans
        return [sp.model_copy(update={"confidence": 0.75}) if sp.attribute == "style" else sp for sp in spans]

    def _misspelt(self, sp: Span) -> bool:
        """A word read as a curated brand by fuzzy matching, and no word of its own ("stussey")."""
        return key(sp.value or "") in self.lexicon.brand_curated and not spelt_right(key(sp.text))

    def _brands_in_context(self, query: str, spans: list[Span]) -> list[Span]:
        """A curated fashion brand that is also a common query word ("wrangler" is a Jeep in
        Amazon's queries, "coach" a bus) is weak evidence alone (0.6), but when it opens the query
        and a garment the rules know follows it, it is the brand: "wrangler jacket", "coach bag" (or
        follows it with only its styles, colours and department between: "wrangler western shirt",
        "wrangler mens jacket"); or a
        size the rules are sure of ("wrangler 30 32l"); or when it ends the query right after a garment
        ("jeans wrangler", "hoodie supreme"; not anywhere beside a garment: "lucky cat onesie", "nba starter
        jacket"). So is a misspelt one read by fuzzy matching, and no name the lexicon lists, anywhere in a
        query about something to wear or its wear: "stussey hoodie", "gym bag aidas", "nwob convese",
        "earrings swarovsky" (which QueryNER's train labels a modifier)."""
        # (not a costume: the word before it is the character, "cat costume", "puma costume")
        starts = {sp.start for sp in spans if (sp.attribute == "category" and sp.confidence >= 0.85
                                               and sp.value != "costumes")
                  or (sp.attribute == "size" and sp.confidence >= 0.95)}
        ends = {sp.end for sp in spans if sp.attribute == "category" and sp.confidence >= 0.85}
        said_of = [sp for sp in spans if sp.attribute in ("style", "colour", "gender") and sp.confidence >= 0.8]
        garments = {sp.start for sp in spans if sp.attribute == "category" and sp.confidence >= 0.85
                    and self.taxonomy.roots([sp.value]) & GARMENT_ROOTS}

        def between(a: int, b: int) -> bool:
            """Nothing but the styles, colours and department said of a garment between a and b ("western"
            in "wrangler western shirt", "mens" in "wrangler mens jacket")."""
            return not unread_words(query[a:b], a, [sp for sp in said_of if a <= sp.start and sp.end <= b])

        def first(sp: Span) -> bool:
            """Nothing before `sp`, or only a sure brand and "or" ("levis or wrangler jeans")."""
            return not query[: sp.start].strip() or any(
                b.attribute == "brand" and b.confidence >= 0.9 and not query[: b.start].strip()
                and _BRAND_JOINT.fullmatch(query[b.end : sp.start]) for b in spans)

        def sure(sp: Span) -> bool:
            curated = key(sp.text) in self.lexicon.brand_curated
            opens = (first(sp)
                     and any(c >= sp.end and (not query[sp.end : c].strip() or (c in garments and between(sp.end, c)))
                             for c in starts))  # before a garment
            closes = (not query[sp.end :].strip()
                      and any(e <= sp.start and not query[e : sp.start].strip() for e in ends))  # after one
            return (opens and (curated or self._misspelt(sp))) or (closes and curated) or (
                worn and self._misspelt(sp) and key(sp.text) not in self.lexicon.brand_alias)

        # anywhere in a query about something to wear, who it is for or its wear, a misspelt one ("gym bag aidas",
        # "vintage disny sweatshirt", "nwob convese", "cobverse for men")
        worn = any(sp.attribute == "category" and sp.confidence >= 0.85
                   and self.taxonomy.roots([sp.value]) & (GARMENT_ROOTS | {"accessories"})
                   or (sp.attribute in ("condition", "gender") and sp.confidence >= 0.9) for sp in spans)
        return [sp.model_copy(update={"confidence": 0.9})
                if sp.attribute == "brand" and sp.confidence < 0.9 and sure(sp) else sp for sp in spans
                if not (sp.attribute == "brand" and sp.confidence == _SLIP and not worn)]
