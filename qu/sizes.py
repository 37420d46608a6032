"""Size grammar: find sizes in a query, normalise them to a value and a system, convert between systems.

Systems: "letter" (XXS..5XL), "uk"/"eu"/"us" (clothing or shoe, read from context), "waist"
(W32, W32 L30), "one size", "age" (kids: 3T, 2-3 years, 12 months), "measure" (12 inch, 38mm),
"numeric" (size 8 with no system), "leg fit" (a size with its leg: "28 short", "14 long"),
"collar" (15.5 collar, 16.5 neck; a US dress shirt's "16 34/35", neck then sleeve),
"hat" (a fitted cap: "7 1/4"), "suit" (a chest and fit: "42r"), "bra" (band and cup: "34dd"),
"ring" (a UK ring size: "size n"), "chest"/"bust"/"hip" (a measure in inches: "38 chest", "bust 34"),
"length" (a leg alone in a query about trousers: "34l", "l32"), "leg" (a leg length in words: "34 leg",
"inside leg 32"), "letter pair" ("s/m": two sizes),
"numeric pair" ("8-10": two UK dress sizes), "jp"/"cm" (shoes: "jp 26", "cm 27"); a unisex shoe's
"m9 w11" is its men's US size ("us 9").
Shoe conversion uses data/vocab/sizes/shoe_size_tables.json
(`blitzResults`: half sizes UK 0-15 with EU, US, cm, JP), women's dress conversion by UK = EU - 28 = US + 4.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from functools import lru_cache

from qu._data import VOCAB

__all__ = ["SizeMatch", "convert_dress_size", "convert_shoe_size", "find_sizes", "normalise_size"]

_LETTERS = {
    "xxs": "xxs",
    "2xs": "xxs",
    "xs": "xs",
    "x-small": "xs",
    "x small": "xs",
    "extra small": "xs",
    "xsmall": "xs",
    "xx small": "xxs",
    "xx-small": "xxs",
    "xxsmall": "xxs",
    "extra extra small": "xxs",
    "s": "s",
    "small": "s",
    "sm": "s",
    "m": "m",
    "medium": "m",
    "med": "m",
    "l": "l",
    "large": "l",
    "lg": "l",
    "xl": "xl",
    "x-large": "xl",
    "x large": "xl",
    "extra large": "xl",
    "xlarge": "xl",
    "xxl": "xxl",
    "2xl": "xxl",
    "xx-large": "xxl",
    "xx large": "xxl",
    "xxlarge": "xxl",
    "2x large": "xxl",
    "2x-large": "xxl",
    "extra extra large": "xxl",
    "3x large": "3xl",
    "3x-large": "3xl",
    "xxx large": "3xl",
    "4x large": "4xl",
    "4x-large": "4xl",
    "5x large": "5xl",
    "5x-large": "5xl",
    "2x": "xxl",
    "xxxl": "3xl",
    "3xl": "3xl",
    "3x": "3xl",
    "xxx-large": "3xl",
    "4xl": "4xl",
    "4x": "4xl",
    "xxxxl": "4xl",
    "5xl": "5xl",
    "5x": "5xl",
    # shoppers' spellings: "meduim hoodie", "xtra large", "xlg"
    "meduim": "m",
    "mediun": "m",
    "medum": "m",
    "smal": "s",
    "larg": "l",
    "lrg": "l",
    "xtra small": "xs",
    "xtra large": "xl",
    "xtra-large": "xl",
    "xlg": "xl",
    "xxlg": "xxl",
}
_LETTER_RE = "|".join(sorted((re.escape(k) for k in _LETTERS), key=len, reverse=True))
# "size" as European marketplaces write it too: "taille 38", "talla m", "taglia 42", "größe 40", "maat 38"
SIZE_WORD = r"(?:size|taille|talla|taglia|gr(?:ö|oe?)(?:ss|ß)e|maat)"
_HALF = r"\s1/2|\s(?:and\s)?a\shalf"  # "8 1/2", "7 and a half": US shoppers write half sizes so
_NUM = rf"\d{{1,3}}(?:\.5|{_HALF})?"
DEPARTMENT = r"(?:(?:wo)?men'?s|ladies|boys|girls|kids)"  # a department between a size's system and number
_MEN = r"(?:men'?s?|mens')(?:\s+(?:us\s+)?size)?"  # the words of a unisex shoe's two sizes
_WOMEN = r"(?:wom[ae]n'?s?|womens'|ladies)(?:\s+(?:us\s+)?size)?"
_UNITS = r"(?:inch(?:es)?|in|\"|mm|cm|oz|ml|ft|feet|foot|m|l|lb|lbs|kg|g|qt|gallon|gal|denier)"

# a child's height in cm (European sizes) -> the age it fits, in qu's size values
_HEIGHT_AGES = {
    "50": "0-1 months", "56": "0-3 months", "62": "2-4 months", "68": "4-6 months", "74": "6-9 months",
    "80": "9-12 months", "86": "12-18 months", "92": "18-24 months", "98": "age 2-3", "104": "age 3-4",
    "110": "age 4-5", "116": "age 5-6", "122": "age 6-7", "128": "age 7-8", "134": "age 8-9", "140": "age 9-10",
    "146": "age 10-11", "152": "age 11-12", "158": "age 12-13", "164": "age 13-14", "170": "age 14-15",
    "176": "age 15-16",
}

# Ordered: the first pattern that matches a stretch of text wins it.
_PATTERNS: list[tuple[str, re.Pattern]] = [
    ("one size", re.compile(r"\b(?:one[\s-]size(?:[\s-]fits[\s-](?:all|most))?|onesize|os|osfa|osfm)\b", re.I)),
    # a unisex shoe's US sizes, men's then women's (Crocs, Converse, Vans): "m9 w11", "M8/W9.5" (see find_sizes)
    # in words or women's first too: "mens 6.5 womens 8", "w8 m6.5", "womens 8 / mens 6.5"
    ("unisex shoe", re.compile(rf"\b(?:m|{_MEN})\s?(1?\d(?:\.5)?)\s?[/,-]?\s?(?:w|{_WOMEN})\s?(1?\d(?:\.5)?)\b", re.I)),
    ("unisex shoe", re.compile(rf"\b(?:w|{_WOMEN})\s?(?P<w>1?\d(?:\.5)?)\s?[/,-]?\s?(?:m|{_MEN})\s?(1?\d(?:\.5)?)\b",
                               re.I)),
    # an EU shoe size in thirds, as adidas makes them: "38 2/3", "eu 42 1/3"
    ("eu third", re.compile(r"\b(?:eur?\s?)?(3[4-9]|4\d|5[0-2])\s([12])/3(?![\d/])", re.I)),
    # a waist is 22-48 inches ("85w" is a power, "w10" a women's shoe size)
    ("waist", re.compile(r"\bw\s?(2[2-9]|3\d|4[0-8])(?:\s*[/x]?\s*l\s?(\d{2}))?\b", re.I)),
    ("waist", re.compile(r"\b(2[2-9]|3\d|4[0-8])\s?w(?:\s*[/x]?\s*(\d{2})\s?l)?\b", re.I)),
    ("waist", re.compile(r"\b(\d{2})\s?x\s?(\d{2})\b", re.I)),
    # in words: "28 waist", "32in waist 30 leg", "waist 34" (not "waist trainer": no number)
    (
        "waist",
        re.compile(
            r"\b([2-4]\d)\s?(?:\"|in(?:ch(?:es)?)?)?\s?waist\b(?!\s?trainer)"
            r"(?:\s*(?:[/x,]|and)?\s*([2-3]\d)\s?(?:\"|in(?:ch(?:es)?)?)?\s?(?:inside\s)?(?:leg|length|inseam)\b)?",
            re.I,
        ),
    ),
    (
        "waist",
        re.compile(r"\bwaist\s?(?:size\s?)?([2-4]\d)\b(?:\s?(?:\"|in(?:ch(?:es)?)?)(?!\w))?"
                   r"(?:\s*(?:[/x,]|and)?\s*(?:inside\s)?(?:leg|length|inseam)\s?([2-3]\d)\b)?", re.I),
    ),
    # a US dress shirt's neck, then its sleeve: "16 34/35", "15.5 32-33" (see find_sizes: a query about shirts)
    ("neck sleeve", re.compile(r"\b(1[3-9](?:\.5)?)\s+(3[0-7])\s?[/-]\s?(3[0-8])\b", re.I)),
    # a waist, then a leg with its "l": "34 36l", "levis 501 32 34l" (a pack's "36l" stands alone)
    ("waist", re.compile(r"\b(2[4-9]|3\d|4[0-4])\s(2[6-9]|3[0-8])\s?l\b", re.I)),
    # "30/32": jeans waist / leg, only in waist and leg ranges ("36/38" stays an EU dress size pair)
    ("waist", re.compile(r"\b(2[4-9]|3\d|4[0-4])\s?/\s?(2[6-9]|3[0-6])\b")),
    # "jeans 30 32": the same with a space, only in a query about trousers (see find_sizes)
    ("waist leg", re.compile(r"\b(2[4-9]|3\d|4[0-4])\s(2[6-9]|3[0-6])\b(?!\s?(?:[-/.]|to\b|x\b))")),
    # a range in one system: "uk 8-10", "eu 38/40" (two sizes, each in the system)
    (
        "system pair",
        re.compile(r"\b(?:size\s+|sz\s*)?(uk|eu|eur|us|usa|fr|it)\s?(\d{1,2})\s?(?:-|/|to|or)\s?(\d{1,2})\b", re.I),
    ),
    ("system", re.compile(rf"\b(?:size\s+|sz\s*)?(uk|eu|eur|us|usa|fr|it|jp)\s?(?:size\s?)?({_NUM})\b", re.I)),
    # a range with its system after it: "size 10-12 uk" (two sizes, each in the system)
    (
        "pair system",
        re.compile(r"\b(?:size\s+|sz\.?\s*)?(\d{1,2})\s?(?:-|/|to)\s?(\d{1,2})\s?(uk|eu|eur|us|usa)\b"
                   r"(?!\s?(?:\d|dollars?|\$))", re.I),
    ),
    # the system, the department, then the number: "us womens 8" (the size is the number, in that system)
    (
        "system gender",
        re.compile(rf"\b(uk|eu|us)\s{DEPARTMENT}\s(?:size\s)?({_NUM})\b", re.I),
    ),
    ("system", re.compile(r"\b(cm)\s?(2\d(?:\.5)?)\b", re.I)),  # a shoe's length: "cm 27" (27cm is a measure)
    ("system", re.compile(rf"\b({_NUM})\s?(uk|eu|eur|us|usa)\b(?!\s?(?:\d|dollars?|\$))", re.I)),  # "42 eu"
    ("system", re.compile(r"\b([3-5]\d)\s?(fr|it)\b(?!\s?\d)", re.I)),  # "jacket 48 it", in their clothes' range
    # a shirt's collar: "15.5 collar", "collar 16"
    ("collar", re.compile(r"\b(1[3-9](?:\.5)?)\s?(?:\"|in(?:ch)?)?\s?(?:collar|neck)\b", re.I)),  # "16.5 neck"
    ("collar", re.compile(r"\bcollar\s?(?:size\s?)?(1[3-9](?:\.5)?)\b", re.I)),
    # a suit or blazer's chest with its fit, in a query about tailoring (see find_sizes): "42r", "38 s", "40l"
    ("suit", re.compile(r"\b(3[4-9]|4\d|5[0-4])\s?([rsl])\b", re.I)),
    # a size with its leg fit, in a query about trousers (see find_sizes): "jeans 28 short", "trousers 14 long"
    ("leg fit", re.compile(r"\b(\d{1,2})\s?(short|long|regular|reg)\b(?:\s(?:in\s)?(?:the\s)?leg\b)?", re.I)),
    # a leg length alone, in a query about trousers (see find_sizes): "tall jeans 34l", "chinos l32"
    ("length", re.compile(r"\b(2[6-9]|3[0-8])\s?l\b|\bl\s?(2[6-9]|3[0-8])\b", re.I)),
    # in words: "34 leg", "32in inside leg", "leg 30", "inside leg 31", "inseam 30", "30 inch inseam"
    ("leg", re.compile(r"\b(2[6-9]|3[0-8])\s?(?:\"|in(?:ch(?:es)?)?)?\s?(?:(?:inside\s)?leg|inseam)\b"
                          r"|\b(?:(?:inside\s)?leg|inseam)\s?(?:length\s?)?(2[6-9]|3[0-8])\b(?!\s?(?:\"|in|cm|mm))",
                          re.I)),
    # a garment's width at the chest, armpit to armpit, as second-hand sellers measure it: "pit to pit 22",
    # "p2p 21 inches", "ptp 56cm" (no listing's size says it; the words stay in the lexical match)
    ("pit", re.compile(r"\b(?:(?:arm)?pit\s?(?:to|2)\s?(?:arm)?pit|p2p|ptp)\s?:?\s?(?:((?:1[5-9]|2\d|3[0-5])(?:\.5)?)"
                       r"\s?(?:\"|in(?:ch(?:es)?)?)?(?![\w.])|([4-7]\d)\s?cm)\b", re.I)),
    # Barbour's chest in inches, in a query about jackets (see find_sizes): "beaufort c40", "bedale c36"
    ("barbour chest", re.compile(r"\bc\s?(3[0-9]|4\d|5[0-4])\b", re.I)),
    # a chest: "32 chest", "chest 40", "38in chest"
    ("chest", re.compile(r"\b([2-5]\d)\s?(?:\"|in(?:ch(?:es)?)?)?\s?chest\b", re.I)),
    ("chest", re.compile(r"\bchest\s?(?:size\s?)?([2-5]\d)\b(?!\s?(?:cm|mm))", re.I)),
    # a bust or hip measure in inches: "dress bust 34", "trousers hip 38", "36in bust"
    ("bust", re.compile(r"\b([2-5]\d)\s?(?:\"|in(?:ch(?:es)?)?)?\s?(bust|hips?)\b", re.I)),
    ("bust", re.compile(r"\b(bust|hips?)\s?(?:size\s?)?([2-5]\d)\b(?!\s?(?:cm|mm))", re.I)),
    # two neighbouring letter sizes: "s/m", "xs / s", "m-l", "s or m" (each a size of its own)
    ("letter pair",
     re.compile(r"\b(xxs|xs|s|m|l|xl|xxl)(?:\s?[/-]\s?|\s+or\s+)(xs|s|m|l|xl|xxl|xxxl|3xl)\b(?!-)", re.I)),
    (
        "age",
        re.compile(
            r"\b(?:age[sd]?\s*)?(\d{1,2})\s?(?:-|to)\s?(\d{1,2})\s?(years?|yrs?|y|months?|mths?|mos?|m)\b", re.I
        ),
    ),
    ("age", re.compile(r"\b(?:age[sd]?\s*)?(\d{1,2})\s?(years?|yrs?|months?|mths?|mos?)(?:\s+old)?\b", re.I)),
    # a baby's months as labels print them, in a query about babies or children (see find_sizes): "24m"
    ("months", re.compile(r"(?<![\w.])(3|6|9|12|18|24)(m)\b")),
    ("age", re.compile(r"\bage[sd]?\s+(\d{1,2})\s?(?:-|to)\s?(\d{1,2})\b", re.I)),  # "age 7-8"
    ("age", re.compile(r"\bage[sd]?\s+(\d{1,2})\b", re.I)),
    ("age", re.compile(r"\b(\d)\s?t\b", re.I)),
    # a number right after a children's department is its size: "toddler 9 crocs", "youth 6 jordan 4",
    # "junior 3 football boots" (not a count: "boys 3 pack", "kids 2 in 1", "toddler 3 wheel scooter")
    (
        "department number",
        re.compile(r"\b(?:toddlers?|youths?|juniors?|infants?|kids?|boys|girls)\s(?:size\s)?(1?\d(?:\.5)?)"
                   r"(?![\w.%/-])(?!\s?(?:-|to\b|x\b|&|and\b|or\b|packs?\b|pk\b|pcs?\b|pieces?\b|in\s?1\b|"
                   r"wheels?\b|years?\b|yrs?\b|months?\b|mths?\b|seater\b|tier\b|layer\b|ply\b))", re.I),
    ),
    # US children's shoe sizes: "8c" (toddler), "5y" / "5.5y" (youth, "gs"), kept as written; the letter
    # in front too, in a query about children's shoes (see find_sizes): "kids trainers c10" is "10c"
    # or by the grade, as sneaker shops write it: "gs 6.5" (grade school: 6.5y), "ps 13" (pre-school:
    # 13c; 1-3 are youth sizes), "td 8" (toddler: 8c); the number first too ("6.5 gs")
    ("grade", re.compile(r"\b(gs|ps|td)\s(1?\d(?:\.5)?)(?![\w.])(?!\s(?:ps|gs|td)\b)"
                         r"|\b(1?\d(?:\.5)?)y?\s(gs)\b(?!\s\d)", re.I)),
    ("kids shoe", re.compile(r"\b(1?\d(?:\.5)?)\s?([cy])\b", re.I)),
    ("kids shoe", re.compile(r"\b([cyj])\s?(1?\d(?:\.5)?)\b", re.I)),  # Crocs' "j2" (junior) is youth 2
    # a child's height in cm, as European shops size children's clothes, in a query about children (see
    # find_sizes): "kids 128 jacket", "baby 68", "116 cm dress girls" read as the age ("age 7-8")
    ("height", re.compile(rf"(?<![\d.])({'|'.join(_HEIGHT_AGES)})(?:\s?cm)?(?![\w.%/-])", re.I)),
    # a bra's band and cup, in a query about bras or swimwear (see find_sizes): "34dd", "36 b", "32ff"
    ("bra", re.compile(r"\b(2[8-9]|3\d|4[0-8])\s?(aa|a|b|c|ddd|dd|d|e|ff|f|gg|g|hh|h|jj|j|k)\b", re.I)),
    # a fitted cap's size, in a query about hats (see find_sizes): "new era 7 1/4", "7 3/8 fitted"
    ("hat", re.compile(r"\b([67])\s([1357]/8|1/4|3/4|1/2)(?![\w/])", re.I)),
    # a bare pair: UK dress sizes "8-10", "12/14" (two sizes); kids' ages "7-8", "10-12" (see find_sizes)
    (
        "pair",
        # not the "1/2" of a half size ("13 1/2")
        re.compile(rf"(?<![\w.£$€/-])(?<!\d\s)(\d{{1,2}})(?:\s?[-/]\s?|\s(?:to|or)\s)(\d{{1,2}})(?![\w.%/-])"
                   rf"(?!\s?{_UNITS}(?![a-z]))", re.I),
    ),
    # a UK ring size is a letter, in a query about rings (see find_sizes): "ring size n", "size p 1/2"
    ("ring", re.compile(r"\b(?:size|sz\.?)\s([a-z](?:\s?1/2)?)(?![\w/])", re.I)),
    # "size: m" (not "true to size m": the letter alone is the size there)
    ("letter", re.compile(rf"\b(?:(?<!true to ){SIZE_WORD}(?:\s*:\s*|\s+)|sz\.?\s*:?\s*)({_LETTER_RE})\b", re.I)),
    ("numeric", re.compile(rf"\b(?:{SIZE_WORD}|sz\.?)(?:\s*:?\s*|\s+[-–—]\s+)({_NUM}(?:\s?(?:-|/)\s?{_NUM})?)\b",
                           re.I)),  # "size 10", "sz.8", "size: 10", "size - 10"
    ("letter", re.compile(r"\b(plus[\s-]size|petite|tall)\b", re.I)),
    # ("medium wash" is a denim's colour, "small logo" a style; "runs small" and "fits large" say how a thing
    # fits, not its size)
    (
        "letter",
        re.compile(
            r"\b([2-5]x[\s-]large|xxx[\s-]large|extra extra large|extra extra small|xx[\s-]small|xxsmall|xsmall|"
            r"xxs|2xs|xs|xl|xxl|2xl|xxxl|3xl|4xl|5xl|xxxxl|x-small|x-large|xx-large|"
            r"x small|x large|xx large|xlarge|xxlarge|extra small|extra large|"
            r"(?<!runs )(?<!fits )(?:small|large)|medium|"
            r"meduim|mediun|medum|smal|larg|lrg|xtra[\s-](?:small|large)|x?xlg|(?<=\w\s)lg)\b(?![\s-]*(?:wash|logo))",
            re.I,
        ),
    ),
    # (not the "2 in" of "2 in 1", a thing that is two things)
    ("measure", re.compile(rf"\b({_NUM}(?:\s?(?:-|x)\s?{_NUM})?)\s?({_UNITS})(?![a-z])(?!(?<=in)\s?1\b)", re.I)),
]


def _needs_digit(pattern: re.Pattern) -> bool:
    """Whether every match of `pattern` holds a digit, read from the parsed pattern (Python's own
    parser, `re._parser`): then a query without one need not be searched. Conservative: anything
    it does not know (lookarounds, back-references) counts as needing none."""
    from re import _constants as c
    from re import _parser

    def digits_only(items) -> bool:  # a character class that matches digits alone
        return all((op is c.LITERAL and chr(av) in "0123456789")
                   or (op is c.RANGE and "0" <= chr(av[0]) <= chr(av[1]) <= "9")
                   or (op is c.CATEGORY and av is c.CATEGORY_DIGIT) for op, av in items)

    def needs(seq) -> bool:
        for op, av in seq:
            if ((op is c.LITERAL and chr(av) in "0123456789") or (op is c.IN and digits_only(av))
                    or (op is c.SUBPATTERN and needs(av[-1])) or (op is c.ATOMIC_GROUP and needs(av))
                    or (op in (c.MAX_REPEAT, c.MIN_REPEAT, c.POSSESSIVE_REPEAT) and av[0] >= 1 and needs(av[2]))
                    or (op is c.BRANCH and all(needs(b) for b in av[1]))):
                return True
        return False

    return needs(_parser.parse(pattern.pattern, pattern.flags))


_DIGIT = re.compile(r"\d")
# 47 of the 53 patterns need a digit, and 85% of QueryNER train/dev queries have none
_NEEDS_DIGIT = [_needs_digit(pat) for _, pat in _PATTERNS]


@dataclass(frozen=True)
class SizeMatch:
    start: int
    end: int
    text: str
    value: str  # canonical, e.g. "uk 8", "w32 l30", "xl", "one size", "age 3", "12 inch"
    system: str


def _fmt(num: str) -> str:
    f = float(_halves(num))
    return str(int(f)) if f == int(f) else str(f)


def _halves(num: str) -> str:
    """A half written out as a decimal: "8 1/2" and "7 and a half" -> "8.5", "7.5"."""
    return re.sub(_HALF, ".5", num, flags=re.I)


def _system(name: str) -> str:
    """A size system's canonical name: "EUR" -> "eu", "usa" -> "us", "UK" -> "uk"."""
    return {"eur": "eu", "usa": "us"}.get(name.lower(), name.lower())


def _unisex(m: re.Match) -> tuple[str, str]:
    """A unisex shoe size's men's and women's numbers, in either order ("w8 m6.5" names the women's first)."""
    return (m.group(2), m.group(1)) if "w" in m.re.groupindex else (m.group(1), m.group(2))


def _value(kind: str, m: re.Match) -> tuple[str, str]:
    g = [x for x in m.groups() if x is not None] if m.groups() else []
    if kind in ("collar", "neck sleeve"):  # the sleeve is a detail no listing's size says
        return f"collar {_fmt(g[0])}", "collar"
    if kind in ("length", "leg"):
        return f"l{g[0]}", kind
    if kind == "hat":
        return f"{g[0]} {g[1]}", "hat"
    if kind == "suit":
        return f"{g[0]}{g[1].lower()}", "suit"
    if kind == "leg fit":
        return f"{int(g[0])} {'regular' if g[1].lower() == 'reg' else g[1].lower()}", "leg fit"
    if kind in ("chest", "barbour chest"):
        return f"chest {g[0]}", "chest"
    if kind == "bust":
        part, n = (g[1], g[0]) if g[0].isdigit() else (g[0], g[1])
        part = part.lower().rstrip("s")
        return f"{part} {n}", part
    if kind == "pit":
        return (f"p2p {g[0]}" if m.group(1) else f"p2p {g[0]}cm"), "chest"
    if kind == "eu third":
        return f"eu {g[0]} {g[1]}/3", "eu"
    if kind == "height":
        return _HEIGHT_AGES[g[0]], "age"
    if kind == "grade":
        grade, num = (g[0], g[1]) if g[0].isalpha() else (g[1], g[0])
        youth = grade.lower() == "gs" or (grade.lower() == "ps" and float(num) < 4)
        return f"{_fmt(num)}{'y' if youth else 'c'}", "us kids"
    if kind == "kids shoe":
        num, letter = (g[1], g[0]) if g[0].isalpha() else (g[0], g[1])
        return f"{_fmt(num)}{'y' if letter.lower() == 'j' else letter.lower()}", "us kids"
    if kind == "ring":
        return re.sub(r"\s", "", g[0].lower()).replace("1/2", " 1/2"), "ring"
    if kind == "bra":
        return f"{g[0]}{g[1].lower()}", "bra"
    if kind == "unisex shoe":  # the men's size names it: a unisex shoe is made in men's sizes
        return f"us {_fmt(_unisex(m)[0])}", "us"
    if kind == "one size":
        return "one size", "one size"
    if kind == "waist":
        return (f"w{g[0]} l{g[1]}" if len(g) > 1 else f"w{g[0]}"), "waist"
    if kind == "system":
        if g[0][0].isdigit():  # "42 eu"
            g = [g[1], g[0]]
        sys_ = _system(g[0])
        return f"{sys_} {_fmt(g[1])}", sys_
    if kind == "age":
        unit = g[-1].lower() if len(g) > 1 and not g[-1].isdigit() else "years"
        unit = "months" if unit.startswith("m") else "years"
        if m.re.pattern.endswith(r"t\b"):
            return f"age {g[0]}", "age"
        nums = [x for x in g if x.isdigit()]
        return f"{'-'.join(nums)} {unit}" if unit == "months" else f"age {'-'.join(nums)}", "age"
    if kind == "letter":
        word = re.sub(r"\s+", " ", g[0].lower()).replace("-", " ") if g else m.group(0).lower()
        if word in FITS:
            return word, "fit"
        return _LETTERS.get(word, _LETTERS.get(word.replace(" ", "-"), word)), "letter"
    if kind == "numeric":
        return re.sub(r"\s+", "", _halves(g[0])), "numeric"
    unit = g[1].lower()
    unit = {"in": "inch", '"': "inch", "inches": "inch", "feet": "ft", "foot": "ft", "lbs": "lb"}.get(
        unit, unit
    )
    return f"{re.sub(r'[ ]+', '', _halves(g[0]))} {unit}", "measure"


# not "baby": "baby tee", "baby blue" and "baby pink" are not for children, and babies' sizes are months;
# "school" (uniform, shoes) is, "old school" is not
_KIDS = re.compile(r"\b(?:kids?|boys?|girls?|junior|juniors|child|children|childrens|toddlers?|(?<!old )school"
                   r"|(?<=my )(?:son|daughter|grandson|granddaughter)s?)\b",
                   re.I)


# babies' clothes are sized by months, in these ranges; "baby tee", "baby blue" and "baby pink" are not for babies
_BABY_MONTHS = {(0, 3), (3, 6), (6, 9), (6, 12), (9, 12), (12, 18), (18, 24), (0, 6), (12, 24)}
_BABIES = re.compile(r"\b(?:bab(?:y|ies)(?!\s(?:tees?|blue|pink|dolls?)\b)|newborns?|infants?|baby ?grows?"
                     r"|sleepsuits?|rompers?|onesies?|bodysuits?|carter'?s)\b", re.I)


_BARBOUR = re.compile(r"\b(?:barbour|wax(?:ed)?\s+jackets?|beaufort|bedale|ashby|border|liddesdale)\b", re.I)
# trainers whose children's sizes shops write by grade ("gs 6.5")
_SNEAKERS = re.compile(r"\b(?:jordans?|nike|dunks?|air\s?force|af-?1s?|yeezys?|adidas|new balance|trainers?|sneakers?"
                       r"|shoes?|vans|converse|asics|crocs|kicks)\b", re.I)
_FOOTWEAR = re.compile(r"\b(?:trainers?|sneakers?|shoes?|boots?|heels|sandals|loafers|slippers|wellies|footwear|kicks"
                       r"|jordans?|nike|adidas|new balance|vans|converse|asics|crocs|docs)\b", re.I)
FITS = ("plus size", "petite", "tall")  # sizes that are a cut, not a measure
_PLUS_SIZE = re.compile(r"\s*plus[\s-]", re.I)  # "plus" before "size 22"
_HATS = re.compile(r"\b(?:hats?|caps?|fitted|new era|59fifty|snapback)\b", re.I)
_TAILORING = re.compile(r"\b(?:suits?|blazers?|jackets?|tux(?:edo)?s?|sports? ?coats?|waistcoats?)\b", re.I)
_SHIRTS = re.compile(r"\b(?:shirts?|button[\s-](?:down|up)s?|oxfords?)\b", re.I)
_BRAS = re.compile(r"\b(?:bras?|bralettes?|bikinis?|swim(?:suits?|wear)|lingerie|balconettes?|plunge|"
                   r"underwired|non[\s-]wired|strapless)\b", re.I)
_CROCS = re.compile(r"\bcrocs?\b", re.I)
_RINGS = re.compile(r"\brings?\b", re.I)
_LEGS = re.compile(r"\b(?:jeans?|trousers?|pants|chinos?|cords|cargos|joggers|slacks|leg)\b", re.I)


_WAIST_LEG = dict(_PATTERNS)["waist leg"]


def waist_leg(text: str) -> SizeMatch | None:
    """Two bare numbers in `text` as a waist and a leg ("30 32" is "w30 l32"), for a query whose
    trousers are named by a product line, not a word ("levis 501 30 32", "wrangler texas 34 32")."""
    m = _WAIST_LEG.search(text)
    return SizeMatch(m.start(), m.end(), m.group(0), f"w{m.group(1)} l{m.group(2)}", "waist") if m else None


def _pair(query: str, m: re.Match) -> list[SizeMatch]:
    """A bare "a-b": in a query about babies one of their month ranges ("0-3", "6-12"), in a query about
    children a kids' age range (b - a <= 2, up to 16), else two UK dress sizes (even, b = a + 2, from
    4), or in a query about shoes two shoe sizes (b = a + 1). Anything else ("2-3 person tent") is not a size."""
    a, b = int(m.group(1)), int(m.group(2))
    if (a, b) in _BABY_MONTHS and _BABIES.search(query):  # "baby grow 3-6": months
        return [SizeMatch(m.start(), m.end(), m.group(0), f"{a}-{b} months", "age")]
    if (_KIDS.search(query) or re.search(r"\bage[sd]?\b", query, re.I)) and 0 < b - a <= 2 and b <= 16:
        return [SizeMatch(m.start(), m.end(), m.group(0), f"age {a}-{b}", "age")]
    # two UK dress sizes, or two shoe sizes side by side in a query about shoes ("size 7-8 trainers")
    if (a % 2 == 0 and b == a + 2 and 4 <= a <= 24) or (b == a + 1 and 1 <= a <= 13 and _FOOTWEAR.search(query)):
        return [
            SizeMatch(m.start(1), m.end(1), m.group(1), str(a), "numeric pair"),
            SizeMatch(m.start(2), m.end(2), m.group(2), str(b), "numeric pair"),
        ]
    return []


def find_sizes(query: str) -> list[SizeMatch]:
    """All non-overlapping size mentions, in order of position."""
    taken: list[tuple[int, int]] = []
    out: list[SizeMatch] = []
    digits = _DIGIT.search(query) is not None
    for (kind, pat), needs_digit in zip(_PATTERNS, _NEEDS_DIGIT, strict=True):
        if needs_digit and not digits:
            continue
        for m in pat.finditer(query):
            s, e = m.span()
            if any(s < te and ts < e for ts, te in taken):
                continue
            # "34l" is a rucksack's volume elsewhere; "l30" right after a number is a leg ("10 l30")
            # "38 regular" is a jacket's chest and length too ("blazer 38 regular", "suit 40 long")
            if ((kind == "leg fit" and not _LEGS.search(query) and not _TAILORING.search(query))
                    or (kind == "hat" and not _HATS.search(query))
                    or (kind == "suit" and not _TAILORING.search(query))
                    or (kind == "neck sleeve" and not _SHIRTS.search(query))
                    or (kind == "waist leg" and not _LEGS.search(query))
                    or (kind == "bra" and not _BRAS.search(query))
                    or (kind == "ring" and not _RINGS.search(query))
                    or (kind == "grade" and not _SNEAKERS.search(query))
                    or (kind == "height" and not (_KIDS.search(query) or _BABIES.search(query)))
                    or (kind == "months" and not (_KIDS.search(query) or _BABIES.search(query)))
                    or (kind == "barbour chest" and not _BARBOUR.search(query))
                    or (kind == "kids shoe" and m.group(1).isalpha()
                        and not (_KIDS.search(query) or (m.group(1).lower() == "j" and _CROCS.search(query))))):
                continue
            if kind == "length" and not _LEGS.search(query) and not (
                m.group(0)[0] in "lL" and re.search(r"\b\d{1,2}\s$", query[:s])
            ):
                continue
            if kind == "unisex shoe" and not 1 <= float((mw := _unisex(m))[1]) - float(mw[0]) <= 2:
                continue  # women's sizes run 1.5-2 above men's
            if kind == "pair":
                found = _pair(query, m)
                if found:
                    taken.append((s, e))
                    out += found
                continue
            if kind in ("system pair", "pair system"):  # "uk 8-10", "10-12 uk": two sizes, each in the system
                sg, a, b = (1, 2, 3) if kind == "system pair" else (3, 1, 2)
                sys_ = _system(m.group(sg))
                taken.append((s, e))
                out.append(SizeMatch(s, m.end(a), query[s : m.end(a)], f"{sys_} {int(m.group(a))}", sys_))
                out.append(SizeMatch(m.start(b), e, query[m.start(b) : e], f"{sys_} {int(m.group(b))}", sys_))
                continue
            if (
                kind == "measure"
                and m.group(2).lower() in ("m", "l", "g", "in")
                and not re.match(r"\d", m.group(0))
            ):
                continue
            taken.append((s, e))
            if kind == "letter pair":  # "s/m": small and medium, two sizes
                for i in (1, 2):
                    a, b = m.span(i)
                    out.append(SizeMatch(a, b, m.group(i), _LETTERS[m.group(i).lower()], "letter pair"))
                continue
            if kind == "waist leg":
                kind = "waist"
            if kind == "months":
                kind = "age"
            if (kind == "measure" and m.group(2).lower() in ('"', "in", "inch", "inches") and _LEGS.search(query)
                    and re.fullmatch(r"2[4-9]|3\d|4[0-4]", m.group(1))):  # "jeans 32\"": a waist in inches
                out.append(SizeMatch(s, e, query[s:e], f"w{m.group(1)}", "waist"))
                continue
            if kind == "system gender":  # "us womens 8": the size is the number, the department stays a word
                kind, s = "system", m.start(2)
            if kind == "department number":  # "toddler 9": the size is the number, the department stays a word
                out.append(SizeMatch(m.start(1), e, m.group(1), _fmt(m.group(1)), "department"))
                continue
            value, system = _value(kind, m)
            out.append(SizeMatch(s, e, query[s:e], value, system))
    return sorted(out, key=lambda x: x.start)


def normalise_size(text: str) -> str | None:
    """Canonical value of a size phrase ("Size 8" -> "8", "UK8" -> "uk 8", "XL" -> "xl", "12 petite"
    -> "12 petite"), or None."""
    found = find_sizes(text)
    if not found:
        bare = re.fullmatch(rf"\s*({_NUM})\s*", text, re.I)  # a bare half size: "8 1/2" -> "8.5"
        return _fmt(bare.group(1)) if bare and re.search(r"\D", bare.group(1)) else None
    # a bare number beside a fit or a leg length completes it: UK shops sell "12 petite" and "10 l30";
    # beside a leg length, 24 and up is the waist ("32 l30" is w32 l30)
    if is_partial(found[0].value) and (n := re.search(r"(?<![\d.])\d{1,2}(?![\d.])", text)):
        if found[0].system in ("length", "leg") and int(n.group()) >= 24:
            return f"w{n.group()} {found[0].value}"
        return f"{n.group()} {found[0].value}"
    # a number, then its fit: "size 6 petite" is "6 petite", as "6 petite" is
    if len(found) == 2 and found[0].system == "numeric" and found[1].value in FITS:
        return f"{found[0].value} {found[1].value}"
    # and "plus size 22" is "22 plus size" (the grammar reads "size 22" first)
    if len(found) == 1 and found[0].system == "numeric" and _PLUS_SIZE.fullmatch(text[: found[0].start]):
        return f"{found[0].value} plus size"
    return found[0].value



def is_partial(value: str | None) -> bool:
    """A size value that is only part of a size: a fit ("petite") or a leg length ("l30")."""
    return value in FITS or bool(value and re.fullmatch(r"l\d{2}", value))


@lru_cache(maxsize=1)
def _shoe_tables() -> dict:
    return json.loads((VOCAB / "sizes" / "shoe_size_tables.json").read_text(encoding="utf-8"))["blitzResults"]


def convert_shoe_size(size: float, src: str, dst: str, gender: str = "women") -> float | None:
    """Shoe size between systems (uk/eu/us/cm/jp/mx/in) by the shoe-size table; None when out of it."""
    table = _shoe_tables().get({"men": "men", "women": "women"}.get(gender, "women"))
    if table is None or src not in table or dst not in table:
        raise ValueError(
            f"unknown shoe size system {src!r}->{dst!r}; choose from {', '.join(sorted(table or {}))}"
        )
    for a, b in zip(table[src], table[dst], strict=False):
        if float(a) == float(size):
            return float(b)
    return None


def convert_dress_size(size: int, src: str, dst: str) -> int | None:
    """Women's clothing size between uk, eu and us (UK 8 = EU 36 = US 4)."""
    offset = {"uk": 0, "eu": 28, "us": -4}
    if src not in offset or dst not in offset:
        raise ValueError(f"unknown dress size system {src!r}->{dst!r}; choose from eu, uk, us")
    uk = size - offset[src]
    return uk + offset[dst] if 2 <= uk <= 32 else None
