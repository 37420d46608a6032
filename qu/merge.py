"""Layer 4: merge spans from the layers, per attribute, by a policy chosen on QueryNER dev.

Policies, per attribute:
  "tagger"       the tagger's spans only
  "rules"        the rules' spans only
  "tagger_first" the tagger's spans, then rule spans that overlap nothing already kept
  "rules_first"  the rules' spans, then tagger spans that overlap nothing already kept
A kept tagger span takes the canonical value of a rule span of the same attribute it overlaps.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Literal

from qu.sizes import FITS, is_partial
from qu.types import Span

Policy = Literal["tagger", "rules", "tagger_first", "rules_first"]
POLICIES: tuple[str, ...] = ("tagger", "rules", "tagger_first", "rules_first")

# Chosen by hand on QueryNER dev: alternatives were compared by editing this table and rerunning
# `qu eval --split dev` (there is no automatic tuning command; see docs/qu.md); never on test.
DEFAULT_POLICY: dict[str, Policy] = {
    "brand": "tagger_first",
    "category": "tagger_first",
    "size": "tagger_first",
    "colour": "tagger_first",
    "gender": "tagger_first",
    "style": "tagger_first",
    "condition": "rules_first",
    "price_min": "rules",
    "price_max": "rules",
}


_SYSTEM_WORDS = {"uk", "eu", "us", "fr", "it", "jp"}
# a letter size, lowercased ("m", "xxl", "3xl")
LETTER_SIZE = re.compile(r"x{0,3}[sml]|[2-5]xl")
COLOUR_JOINT = re.compile(r"\s+(?:and|&)\s+|\s?[/&]\s?", re.I)  # "navy and cream", "black/white"
_TRAILING_JOINT = re.compile(r"(?<=\S)\s+(?:or|and|&)$", re.I)
# a negation inside a tagger span: what follows is what the query does not want ("jumper no holes")
_INNER_NEGATION = re.compile(r"(?<=\S)\s+(?:not|no|without)\s+\S", re.I)
# a word that names nothing alone ("in" in "tech fleece in grey", read as a colour)
_FUNCTION_WORDS = frozenset({"a", "an", "the", "in", "or", "and", "of", "with", "for", "to", "on", "at", "by", "&"})
# a word alone that names no value ("vintage style dress" had read the style "style")
# "something for my wife"; a field's name ("colour: black")
_EMPTY_WORDS = _FUNCTION_WORDS | {"style", "styles", "something", "anything", "colour", "color", "brand"}
# a letter size in words, read as the size only where the rules are sure (beside a garment: "mens medium
# hoodie"), not alone ("medium crate", "large print")
_SIZE_WORDS = frozenset({"small", "medium", "large"})
# words after a garment that name how many, not what: "robe set", "sock sets", "purses and"
_SETS = re.compile(r"(?:\s+(?:and|&|sets?|packs?|kits?|bundles?|lots?|outfits?|combos?))+\s*$", re.I)
# colour words that are a material (metals, stones, cloth) or a finish: QueryNER reads them as modifiers
METALS_AND_STONES = {
    "gold", "silver", "rose gold", "bronze", "copper", "brass", "chrome", "platinum", "steel", "stainless steel",
    "gunmetal", "pewter", "sapphire", "emerald", "ruby", "pearl", "jade", "amethyst", "turquoise", "opal", "onyx",
    "slate", "ivory", "bone",
}
MATERIALS = METALS_AND_STONES | {
    "diamond", "crystal", "linen", "denim", "cotton", "wool", "leather", "suede", "velvet",
    "holographic", "metallic", "glitter", "iridescent", "transparent", "clear", "colorful", "colourful",
}
# what a garment is made of, said between its colour and its name ("rust corduroy jacket")
CLOTHS = {"corduroy", "cord", "denim", "linen", "cotton", "wool", "leather", "suede", "velvet", "velour", "satin",
          "silk", "tweed", "cashmere", "fleece", "knit", "lace", "mesh", "nylon", "chiffon", "crochet", "faux fur",
          "sherpa", "jersey", "canvas", "patent", "quilted", "waxed", "merino", "mohair", "angora"}
# the confidence of a metal's or a stone's name the rules read beside clothes, shoes or a bag: the
# colour after all (cloth and finishes stay what the garment is made of: "linen shorts")
GARMENT_COLOUR = 0.95


def _overlaps(a: Span, b: Span) -> bool:
    return a.start < b.end and b.start < a.end


_NUMBER = re.compile(r"\d+(?:[.,]\d+)?\s*%?")


def cut_before(sp: Span, end: int) -> Span:
    """`sp` cut short before offset `end` (and the space there); its value is read again from the text."""
    text = sp.text[: end - sp.start].rstrip()
    return sp.model_copy(update={"text": text, "end": sp.start + len(text), "value": None})


def cut_after(sp: Span, start: int) -> Span:
    """`sp` from offset `start` on (after the space there); its value is read again from the text."""
    text = sp.text[start - sp.start :].lstrip()
    return sp.model_copy(update={"text": text, "start": sp.end - len(text), "value": None})


def _both_bounds(a: Span, b: Span) -> bool:
    """The two bounds of one price range ("20-40") share their text: both are kept."""
    return {a.attribute, b.attribute} == {"price_min", "price_max"} and (a.start, a.end) == (b.start, b.end)


# Which exact lexicon hits beat an overlapping tagger span of another attribute, and from what confidence.
# Chosen on dev: brand/style/condition overrides cost nothing there and fix fashion queries the tagger
# never saw ("uk 8" read as a department); colour and gender overrides cost F1, so they are not used.
OVERRIDES: dict[str, float] = {
    "brand": 0.9,
    "size": 0.95,
    "style": 0.8,
    "condition": 0.9,
    "price_min": 0.9,  # "under 30", "20-40", "<20" are prices, not the sizes the tagger reads
    "price_max": 0.9,
}


def _before_strong(sp: Span, strong: list[Span], rules: list[Span]) -> Span:
    """Tagger span `sp` cut before the strong rule span it runs on into, where that one begins after it
    starts, at a word, and reaches its end; else `sp`."""
    hit = [r for r in strong if _overlaps(sp, r) and r.attribute != sp.attribute]
    if len(hit) != 1 or not (sp.start < hit[0].start and hit[0].end >= sp.end):
        return sp
    r = hit[0]
    if not sp.text[r.start - sp.start - 1 : r.start - sp.start].isspace():
        return sp
    cut = cut_before(sp, r.start)
    if cut.text.lower() in _EMPTY_WORDS or cut.text.lower() in ("size", "sz"):
        return sp
    # where the rules read the words left another way ("cardigan" of "cardigan free" before "free people"),
    # their reading fills in
    return sp if any(_overlaps(cut, o) and o.attribute != sp.attribute and o.confidence >= 0.85 for o in rules) else cut


def _fit_outside(sp: Span, r: Span) -> bool:
    """Whether size span `sp` names a fit that the number `r` inside it leaves out ("plus" of "plus size 22")."""
    def fits(x: Span) -> bool:
        return any(f in x.text.lower().replace("-", " ") for f in FITS)

    return bool(r.value and r.value.isdigit()) and fits(sp) and not fits(r)


def _styles_within(t: Span, rules: list[Span]) -> list[Span]:
    """A tagger style span as the rules' styles, fits and letter sizes inside it, where it holds two or
    more and no other word but a function word ("low rise y2k", "medium tall"); else the span itself."""
    if t.source != "tagger" or t.attribute != "style":
        return [t]
    inner = [r for r in rules if t.start <= r.start and r.end <= t.end
             and ((r.attribute == "style" and r.confidence >= 0.8) or (r.attribute == "size" and r.value in FITS)
                  or (r.attribute == "size" and r.confidence >= 0.9 and LETTER_SIZE.fullmatch(r.value or "")))]
    if len(inner) < 2:
        return [t]
    if any(w.lower() not in _FUNCTION_WORDS and any(c.isalnum() for c in w)  # "medium/large"
           for w in unread_words(t.text, t.start, inner)):
        return [t]
    # a fit stays the style the tagger read it as ("tall" in "medium tall", as in "xl tall")
    return sorted((r.model_copy(update={"attribute": "style"}) if r.value in FITS else r for r in inner),
                  key=lambda r: r.start)


def unread_words(text: str, offset: int, parts: list[Span]) -> list[str]:
    """The words of `text` (which begins at `offset` in the query) that no span of `parts` covers; a part
    that runs on past the end of `text` covers it up to there."""
    rest = list(text)
    for r in parts:
        a, b = max(r.start - offset, 0), min(r.end - offset, len(text))
        if a < b:
            rest[a:b] = " " * (b - a)
    return "".join(rest).split()


def _read_whole(t: Span, parts: list[Span]) -> bool:
    """Whether `parts` (spans inside `t`, or running on past its end) read every word of `t`."""
    return not unread_words(t.text, t.start, parts)


def _read_as(spans: list[Span], attribute: str, readings: list[Span]) -> list[Span]:
    """`spans` with each tagger span of `attribute` that covers exactly the text of one of `readings`
    replaced by that reading."""
    at = {(r.start, r.end): r for r in readings}
    return [at.get((t.start, t.end), t) if t.source == "tagger" and t.attribute == attribute else t for t in spans]


def _ends_phrase(text: str, end: int, spans: list[Span]) -> bool:
    """Nothing but a gender, size or colour, or a brand or style the rules read, follows offset `end` in
    `text` ("cardigan women m", "cardigan ralph lauren", "camisole silk")."""
    rest = list(text)
    for sp in spans:
        if ((sp.attribute in ("gender", "size", "colour")
             or (sp.attribute in ("brand", "style") and sp.source == "rules")) and sp.start >= end):
            rest[sp.start : sp.end] = " " * (sp.end - sp.start)
    return not "".join(rest[end:]).strip(" .,!?")


def _colour_list(t: Span, rules: list[Span]) -> list[Span]:
    """A tagger colour that is colours the rules read, joined ("navy and cream"), as those colours."""
    if t.attribute != "colour" or t.source != "tagger":
        return [t]
    inner = sorted((r for r in rules if r.attribute == "colour" and t.start <= r.start and r.end <= t.end),
                   key=lambda r: r.start)
    if (len(inner) < 2 or inner[0].start != t.start or inner[-1].end != t.end
            or not all(COLOUR_JOINT.fullmatch(t.text[a.end - t.start : b.start - t.start])
                       for a, b in zip(inner, inner[1:], strict=False))):
        return [t]
    return [r.model_copy(update={"source": "tagger", "confidence": t.confidence}) for r in inner]


def _doomed(sp: Span, strong: list[Span]) -> bool:
    """Whether a strong rule span of another attribute overlaps tagger span `sp`."""
    return sp.source == "tagger" and any(_overlaps(sp, r) and r.attribute != sp.attribute for r in strong)


def _tidy(tagger: list[Span], rules: list[Span]) -> list[Span]:
    """The tagger's spans without what they took along that names nothing."""
    # a tagger span that took the "or" ("and", "&") after it along is the span before it ("dress or" in "dress
    # or jumpsuit for wedding", "jeans and" in "jeans and boots")
    tagger = [cut_before(t, t.start + m.start()) if (m := _TRAILING_JOINT.search(t.text)) else t for t in tagger]
    tagger = [t for t in tagger if t.text.lower() not in _EMPTY_WORDS
              # "26" in "tabby 26 black" is no colour, "100%" in "100% cotton" no style
              and not (t.attribute in ("colour", "style") and _NUMBER.fullmatch(t.text))]
    tagger = [cut_before(t, t.start + m.start()) if t.attribute == "category" and (m := _INNER_NEGATION.search(t.text))
              else t for t in tagger]
    return [c for t in tagger for c in _colour_list(t, rules)]


def _rank(rules: list[Span], tagger: list[Span], policy: dict[str, str],
          fill_min: float) -> tuple[list[Span], list[Span]]:
    """The spans each attribute's policy ranks first (`primary`), and those it ranks after them (`secondary`)."""
    primary: list[Span] = []
    secondary: list[Span] = []
    for sp in tagger:
        p = policy.get(sp.attribute, "tagger_first")
        if p in ("tagger", "tagger_first"):
            primary.append(sp)
        elif p == "rules_first":
            secondary.append(sp)
    for sp in rules:
        p = policy.get(sp.attribute, "tagger_first")
        if p in ("rules", "rules_first"):
            primary.append(sp)
        elif p == "tagger_first" and (sp.confidence >= fill_min or (not tagger and sp.attribute == "style")):
            # a style the rules doubt (said of no garment) still stands where the tagger read nothing at
            # all: "y2k", "anything gorpcore" are whole queries
            secondary.append(sp)
    return primary, secondary


def _relabel(primary: list[Span], secondary: list[Span], rules: list[Span],
             is_known: Callable[[str, str], bool], fill_min: float, text: str | None) -> tuple[list[Span], list[Span]]:
    """Tagger spans read again as the lexicons say: what they are where the tagger's attribute knows no
    such value."""
    # a tagger category or brand that is exactly a rule phrase of another attribute, and that the
    # taxonomy / brand lexicon does not know ("light wash" as a category, "navy" as a brand), is
    # read as the rule says; not a word the rules themselves doubt ("cream" in "cc cream", "fat
    # burning cream": a colour only beside a garment). So is a tagger department that is a colour
    # and no department ("navy" in "school jumper navy age 10"; a child's age stays the department
    # QueryNER reads it as), a tagger size or condition that is a style and no size or condition
    # ("oversized", "vintage" alone), a tagger colour that is a garment or a size and no colour
    # ("coat" in "coat beige", "xs" in "shorts xs blue"), and a tagger style or department that is a
    # letter size ("m" in "barbour shorts m ivory", "jeans m mens"; "medium" only where the rules are
    # sure: "mens medium hoodie", not "medium crate"); and a tagger style of several words that is a
    # department ("for my husband")
    relabel = {(r.start, r.end): r for r in rules if r.attribute != "brand" and r.confidence > 0.6}

    def read_again(t: Span) -> Span:
        r = relabel.get((t.start, t.end))
        if (r is None or t.source != "tagger" or r.attribute == t.attribute
                or is_known(t.attribute, t.text)):
            return t
        if (t.attribute in ("category", "brand") or (t.attribute == "gender" and r.attribute == "colour")
                or (t.attribute in ("size", "condition") and r.attribute == "style")
                or (t.attribute == "style" and r.attribute == "gender" and " " in t.text)
                or (t.attribute == "colour" and r.attribute in ("category", "size"))
                or (t.attribute == "size" and r.attribute in ("category", "colour"))
                or (t.attribute in ("style", "gender") and r.attribute == "size"
                    and (LETTER_SIZE.fullmatch(t.text.lower())
                         or (t.text.lower() in _SIZE_WORDS and r.confidence >= 0.9)))):
            return r
        return t

    primary = [read_again(t) for t in primary]
    secondary = [read_again(t) for t in secondary]  # the tagger's conditions rank after the rules'
    # in a query with a size the rules are sure of, a lexicon brand may stand where the tagger read a garment
    brands = ({(r.start, r.end): r for r in rules if r.attribute == "brand"}
              if any(r.attribute == "size" and r.confidence >= 0.9 for r in rules) else {})

    def read_unknown(t: Span) -> Span:
        """A tagger category or condition no lexicon knows, read as what it is: a condition is a style
        ("without sleeves" says nothing of wear); a category that is exactly a lexicon brand, in a query
        with a sure size, is the brand ("wrangler" in "w 30 l 32 wrangler"; not "music" or "cat" in
        queries with no size: there the lexicon's weak brands are mostly words); one that is a letter
        size is the size ("m" in "undershirt white m": the rules read a lone letter as a size only
        beside a garment they know)."""
        if t.source == "tagger" and t.attribute == "size" and (
                not is_known("size", t.text)
                or any(r.attribute == "size" and r.confidence >= 0.9 and r.end == t.end and r.start > t.start
                       for r in rules)):
            # a size no grammar reads, or one the rules read after its first words, that opens with a
            # garment the rules read is the garment ("ring" in "ring size m", "top" in "top size: xs": the
            # rules read the size after it)
            return next((r for r in rules if r.attribute == "category" and r.start == t.start and r.end < t.end
                         and r.confidence >= fill_min and is_known("narrow category", r.text)), t)
        if t.source != "tagger" or t.attribute not in ("category", "condition") or is_known(t.attribute, t.text):
            return t
        if t.attribute == "condition":
            return t.model_copy(update={"attribute": "style", "value": None})
        if (t.start, t.end) in brands:
            return brands[(t.start, t.end)]
        if LETTER_SIZE.fullmatch(t.text.lower()):
            return t.model_copy(update={"attribute": "size", "value": None})
        return t

    primary = [read_unknown(t) for t in primary]
    secondary = [read_unknown(t) for t in secondary]
    # a tagger brand no lexicon knows that holds a garment the rules read after its first word is no
    # brand ("fishtail parka green" had read one brand): the rules' spans in it stand (QueryNER's
    # "top coat" and "blouson tankini", which open with a garment word, stay brands)
    primary = [t for t in primary if not (
        t.source == "tagger" and t.attribute == "brand" and not is_known("brand", t.text)
        and any(r.attribute == "category" and r.confidence >= fill_min and t.start < r.start and r.end <= t.end
                and is_known("narrow category", r.text) for r in rules)
        and not any(r.attribute == "category" and r.start == t.start for r in rules))]
    # nor is a word inside a size the rules read ("denier" in "tights black 40 denier") a garment
    primary = [t for t in primary if not (
        t.source == "tagger" and t.attribute == "category" and not is_known("category", t.text)
        and any(r.attribute == "size" and r.start <= t.start and t.end <= r.end for r in rules))]
    # a tagger category that is a colour the rules are sure of, beside another garment, is the colour
    # ("khaki" in "barbour khaki cardigan", though khakis are trousers too)
    garments = [t for t in primary if t.attribute == "category"]
    if len(garments) >= 2:
        primary = [next((r for r in rules if r.attribute == "colour" and r.confidence >= 0.9
                         and (r.start, r.end) == (t.start, t.end)), t)
                   if t.source == "tagger" and t.attribute == "category" else t for t in primary]
        # and one that is a style too, right before the other garment, is said of it ("knit" in
        # "sandro knit cardigan")
        if text is not None:
            primary = [t.model_copy(update={"attribute": "style", "value": None})
                       if t.attribute == "category" and is_known("style", t.text) and any(
                           g.attribute == "category" and g.start > t.end and not text[t.end : g.start].strip()
                           for g in garments) else t
                       for t in primary]

    # a tagger department that is exactly a garment the taxonomy knows ("baby grow" in "3-6m baby
    # grow") is the garment (not a style: "denim", "flannel" and "crossbody" are said of a garment)
    primary = _read_as(primary, "gender", [r for r in rules if r.attribute == "category"
                                           and r.confidence >= fill_min and is_known("narrow category", r.text)])
    # a single letter no brand lexicon knows is not a brand: the "s" of "men s" (men's), a size; nor is
    # the system of a size the rules read ("us" in "us womens 8")
    systems = {(r.value or "").split()[0] for r in rules if r.attribute == "size" and r.value} & _SYSTEM_WORDS
    primary = [t for t in primary if not (t.source == "tagger" and t.attribute == "brand" and (
        (len(t.text) == 1 and not is_known("brand", t.text)) or t.text.lower() in systems))]
    return primary, secondary


def _strong(rules: list[Span], overrides: dict[str, float] | None) -> list[Span]:
    """The rule spans that beat an overlapping tagger span of another attribute (`overrides`: the confidence
    from which a rule span of an attribute does; None: `OVERRIDES`)."""
    # exact lexicon hits (confidence >= the attribute's override) beat a tagger span of another attribute
    # they overlap: "carhart" is a brand and "uk 8" a size whatever the tagger guessed
    overrides = OVERRIDES if overrides is None else overrides
    strong = [r for r in rules if r.attribute in overrides and r.confidence >= overrides[r.attribute]]
    # a denim wash is a colour whatever the tagger read in it ("acid wash tee", "jacket light wash"),
    # though colours in general are not strong: a material the colour lexicon knows ("stainless
    # steel", "linen") is a modifier in QueryNER, and a colour override cost F1 on dev
    # so is a pattern's print ("cheetah print heels": not the brand "cheetah" and the style "print")
    strong += [r for r in rules if r.attribute == "colour" and r not in strong
               and ("wash" in (r.value or "") or r.text.lower().endswith(" print"))]
    return strong


def _without_model_numbers(primary: list[Span], rules: list[Span]) -> list[Span]:
    """`primary` without the tagger's sizes that are model numbers."""
    # where the rules read an explicit size ("size 9", "uk 6"), a tagger size the rules do not back is a
    # model number ("air force 1", "new balance 550"), not a second size
    sizes = [r for r in rules if r.attribute == "size"]
    if any(r.confidence >= 0.9 for r in sizes):
        primary = [
            t
            for t in primary
            if not (t.source == "tagger" and t.attribute == "size" and not any(_overlaps(t, r) for r in sizes))
        ]
    return primary


def _wholes(primary: list[Span], secondary: list[Span], tagger: list[Span], rules: list[Span],
            is_known: Callable[[str, str], bool] | None, strong: list[Span]) -> list[Span]:
    """Names the lexicons know whole, in place of the tagger's pieces of them."""
    # a garment name the taxonomy knows as a whole beats the tagger's pieces of it: "baby tee" and
    # "mom jeans" are categories, not a gender (or a second category) followed by one; so does a
    # colour or style the lexicon knows whole ("off white" is not the style "off" and the colour "white";
    # "old money" is not the condition "old"). The pieces may be ones the policy ranks after the rules.
    # A brand the lexicon knows whole beats a tagger piece that leaves a word of it unread ("north" in
    # "north face fleece").
    for r in rules:
        if r.attribute not in ("category", "colour", "style", "brand", "gender") or len(r.text.split()) < 2:
            continue
        if r.attribute == "brand" and r.confidence < 0.9:
            continue
        pieces = [t for t in (*primary, *secondary) if t.source == "tagger" and _overlaps(t, r)]
        # (a tagger size dropped above as no size of the rules' still counts as a piece: "top" in "crop top")
        dropped = [t for t in tagger if t.attribute == "size" and _overlaps(t, r) and t not in pieces
                   and is_known is not None and not is_known("size", t.text)]
        if r.attribute == "gender" and all(t.attribute == "gender" for t in pieces):
            continue  # "baby boys" may be two departments; "big boys" is not the style "big"
        # (a colour the lexicon is sure of needs no piece of its own: "baby blue" is not the department
        # "baby" and the category "blue", nor is "sage" in "sage green" a brand)
        sure_colour = r.attribute == "colour" and r.confidence >= 0.9 and r.text.lower() not in MATERIALS
        whole = (
            (len(pieces) + len(dropped) >= 2
             or (sure_colour and pieces and all(t.end - t.start < r.end - r.start for t in pieces)))
            and all(r.start <= t.start and t.end <= r.end for t in (*pieces, *dropped))
            and (any(t.attribute == r.attribute for t in pieces) or sure_colour
                 # or pieces of one attribute that split it word by word: "polka" and "dot" are no styles
                 # of their own in "polka dot skirt"
                 or (r.attribute == "colour" and r.text.lower() not in MATERIALS and not dropped
                     and len({t.attribute for t in pieces}) == 1 and _read_whole(r, pieces))
                 # or a piece the tagger read as something it is not: "top" as a size in "crop top"
                 or (r.attribute == "category" and is_known is not None
                     and any(t.attribute in ("size", "colour") and not is_known(t.attribute, t.text)
                             for t in (*pieces, *dropped))))
        )
        # or the pieces that will stand leave words of it unread that mean nothing alone: "baby grow" is
        # not the department "baby" and "grow" (but "leather jacket" may be the style "leather" and the
        # garment "jacket")
        live = [t for t in pieces if not _doomed(t, strong)]
        unread = [m for m in re.finditer(r"\S+", r.text)
                  if not any(t.start < r.start + m.end() and r.start + m.start() < t.end for t in live)]
        part = (
            bool(live and unread)
            and all(r.start <= t.start and t.end <= r.end for t in live)
            and is_known is not None
            and not is_known(r.attribute, r.text[unread[0].start() : unread[-1].end()])
        )
        # (but a garment the taxonomy names with its style, read as that style and the garment, stays two:
        # "wide leg" and "trousers" in "wide leg trousers")
        said_of = (r.attribute == "category" and is_known is not None and len(pieces) == 2 and not dropped
                   and pieces[0].attribute == "style" and is_known("style", pieces[0].text)
                   and pieces[1].attribute == "category" and pieces[1].end == r.end
                   and is_known("category", pieces[1].text))
        if (whole or part) and not said_of:
            primary = [t for t in primary if t not in pieces] + [r]
    return primary


def _garment_last(primary: list[Span], secondary: list[Span], rules: list[Span], fill_min: float, text: str,
                  strong: list[Span]) -> list[Span]:
    """A garment the tagger read as a style, read as the garment where it ends the phrase."""
    # a garment the tagger read as a style is the garment when it ends the phrase, where English puts
    # the thing a phrase names ("urban outfitters cardigan", "north face fleece women m"; not "flannel
    # fabric"), and the query names no other
    if any(t.attribute == "category" and not _doomed(t, strong) for t in primary):
        return primary
    # what may follow it: a gender, size or colour, a brand the lexicon knows ("cardigan ralph lauren"),
    # or a style it knows ("camisole silk"; a style only the tagger read may be the thing: "fabric")
    after = [*primary, *secondary, *(r for r in rules if r.attribute == "brand" and r.confidence >= 0.9),
             *(r for r in rules if r.attribute == "style" and r.confidence >= 0.8)]
    return [
        next((r for r in rules if r.attribute == "category" and r.confidence >= fill_min
              and (r.start, r.end) == (t.start, t.end) and _ends_phrase(text, t.end, after)), t)
        if t.source == "tagger" and t.attribute == "style" else t
        for t in primary
    ]


def _split_tails(primary: list[Span], rules: list[Span], is_known: Callable[[str, str], bool],
                 fill_min: float) -> list[Span]:
    """Tagger spans that ran on into what the rules read after them, split at it."""
    # a tagger category that took a colour, size or style along ("trousers cream", "jacket light
    # wash", "jacket s", "pants baggy") is the garment the taxonomy knows, then what the rules read
    # after it; so is a tagger size that took one along ("10 lace")
    for t in [t for t in primary if t.source == "tagger" and t.attribute in ("category", "size")]:
        tail = next((r for r in rules if r.attribute in ("colour", "size", "style") and r.attribute != t.attribute
                     and r.end == t.end and r.start > t.start), None)
        cut = cut_before(t, tail.start) if tail else None
        if cut and (is_known("category", cut.text) if t.attribute == "category" else re.search(r"\d", cut.text)):
            primary = [p for p in primary if p is not t] + [cut, tail]
        elif cut and t.attribute == "category":  # a size, then the colour: "blazer l cream"
            size = next((r for r in rules if r.attribute == "size" and r.end == cut.end and r.start > cut.start),
                        None)
            garment = cut_before(cut, size.start) if size else None
            if garment and is_known("category", garment.text):
                primary = [p for p in primary if p is not t] + [garment, size, tail]
    # a tagger department that took a child's size along ("toddler 9" in "toddler 9 crocs", "girls 16")
    # is the department, then the size the rules read; one that is a garment, then the size, is those
    # ("baby grow 0-3 months")
    for t in [t for t in primary if t.source == "tagger" and t.attribute == "gender"]:
        size = next((r for r in rules if r.attribute == "size" and r.confidence >= 0.95
                     and t.start < r.start and r.end == t.end), None)
        cut = cut_before(t, size.start) if size else None
        garment = cut and next((r for r in rules if r.attribute == "category" and r.confidence >= fill_min
                                and (r.start, r.end) == (cut.start, cut.end)
                                and is_known("narrow category", r.text)), None)
        if cut is not None and (garment or is_known("gender", cut.text)):
            primary = [p for p in primary if p is not t] + [garment or cut, size]
    # a tagger size that took the colour or style before it along ("navy xl", "lace 10") is that colour
    # or style, then the size the rules read; so is any tagger span made of a size and then a colour
    # or a department the rules read ("l stone" read as a brand in "new balance shirt l stone", "m
    # cream" as a garment, "m girls" as a department)
    for t in [t for t in primary if t.source == "tagger"]:
        size = next((r for r in rules if r.attribute == "size" and r.end == t.end and r.start > t.start), None)
        head = next((r for r in rules if r.attribute in ("colour", "style") and r.start == t.start
                     and size is not None and not t.text[r.end - t.start : size.start - t.start].strip()), None)
        if t.attribute == "size" and head is not None:
            primary = [p for p in primary if p is not t] + [head, size]
            continue
        size = next((r for r in rules if r.attribute == "size" and r.start == t.start and r.end < t.end), None)
        tail = next((r for r in rules if r.attribute in ("colour", "gender") and r.start < t.end <= r.end
                     and r.confidence >= fill_min and size is not None
                     and not t.text[size.end - t.start : r.start - t.start].strip()), None)
        if tail is not None:  # (or of the colour's shade: "m baby" in "dress m baby pink"; "m girls")
            primary = [p for p in primary if p is not t and not (
                p.source == "tagger" and p.attribute == tail.attribute and _overlaps(p, tail))] + [size, tail]
    # a tagger category or style that ran into the size word or the shade after it ("jumper sz" in
    # "jumper sz 12", "jumper light" in "jumper light blue", "crop top sage" in "crop top sage green")
    # is the garment or style, then the size or colour the rules read
    for t in [t for t in primary if t.source == "tagger" and t.attribute in ("category", "style")]:
        nxt = next((r for r in rules if r.attribute in ("size", "colour") and r.confidence >= 0.9
                    and t.start < r.start < t.end < r.end), None)
        cut = cut_before(t, nxt.start) if nxt else None
        if cut is None:
            continue
        garment = next((r for r in rules if r.attribute == "category" and (r.start, r.end) == (cut.start, cut.end)),
                       None)
        if t.attribute == "style" and garment is None and not is_known("style", cut.text):
            continue
        if t.attribute == "category" and not is_known("category", cut.text):
            continue
        primary = [p for p in primary if p is not t and not (p.source == "tagger" and p.attribute == nxt.attribute
                                                              and _overlaps(p, nxt))] + [garment or cut, nxt]
    return primary


def _split_heads(primary: list[Span], rules: list[Span], is_known: Callable[[str, str], bool],
                 fill_min: float, strong: list[Span]) -> list[Span]:
    """Tagger spans that took along what the rules read before or inside them, split into what the rules read."""
    # a tagger category that took the end of a colour or a style along ("green trainers" in "lee forest
    # green trainers", "zip jumper" in "half zip jumper") is the colour or style, then the garment
    for t in [t for t in primary if t.source == "tagger" and t.attribute == "category"]:
        colour = next((r for r in rules if r.start < t.start < r.end < t.end and (
            (r.attribute == "colour" and r.confidence >= 0.9) or (r.attribute == "style" and r.confidence >= 0.8)
            or (r.attribute == "category" and is_known("style", r.text)))), None)  # "half zip" names both
        rest = cut_after(t, colour.end) if colour else None
        if rest and is_known("category", rest.text):
            if colour.attribute == "category":
                colour = colour.model_copy(update={"attribute": "style", "value": None})
            primary = [p for p in primary if p is not t and not (p.source == "tagger" and _overlaps(p, colour))
                       ] + [colour, rest]
    # and one of two or three words that took the colour or the department before it along ("teal top",
    # "ladies trainers", "cream stripe jumper": the word between read by the rules too) is that, then the
    # garment (not "snow plow shoe")
    for t in [t for t in primary
              if t.source == "tagger" and t.attribute == "category" and len(t.text.split()) in (2, 3)]:
        head = next((r for r in rules if r.start == t.start and r.end < t.end and (
            (r.attribute in ("colour", "gender") and r.confidence >= 0.9)
            or (r.attribute == "style" and r.confidence >= 0.8))), None)
        rest = cut_after(t, head.end) if head else None
        if rest and len(rest.text.split()) == 2 and not any(
                r.attribute != "category" and r.start == rest.start and r.end < t.end for r in rules):
            continue
        if rest and is_known("category", rest.text):
            primary = [p for p in primary if p is not t] + [head, rest]
    # a tagger brand that took the garment or a colour along ("hobbs coat", "hunter wellies",
    # "navy ralph lauren", "l ralph lauren") is the brand and the garment, colour or size the rules
    # read, also where it took only part of the brand ("black stone" in "black stone island joggers",
    # "teal cp" in "teal cp company cardigan"); one no lexicon knows that is only a garment and a
    # colour ("parka khaki") is those
    for t in [t for t in primary if t.source == "tagger" and t.attribute == "brand"]:
        brand = next((r for r in rules if r.attribute == "brand" and r.confidence >= 0.9
                      and t.start <= r.start and r.end <= t.end and r.end - r.start < t.end - t.start), None)
        runs_on = brand is None
        if runs_on:  # the rules' brand begins inside it and runs on
            brand = next((r for r in rules if r.attribute == "brand" and r.confidence >= 0.9
                          and t.start < r.start < t.end < r.end), None)
        if brand is None and is_known("brand", t.text):
            continue
        # (or, beside a brand, a department the rules are sure of: "lads stone island")
        along = [r for r in rules if t.start <= r.start and (r.attribute in ("category", "colour") or (
                     r.attribute == "gender" and brand is not None and r.confidence >= 0.9)
                     # or a letter size ("l" in "shirt l ralph lauren")
                     or (r.attribute == "size" and brand is not None and LETTER_SIZE.fullmatch(r.text.lower()))
                     # or, before a brand it cut short, another the lexicon holds ("supreme" in "supreme
                     # north face"; not "kanken" in "fjallraven kanken", whose whole the tagger read)
                     or (r.attribute == "brand" and runs_on and brand is not None and r.end <= t.end))
                 # a colour it cut short ("corteiz sky" blue), or with no brand, a garment ("blak puffer" jacket)
                 and (r.end <= t.end or ((r.attribute == "colour" or brand is None) and r.start < t.end))
                 and (brand is None or not _overlaps(r, brand))]
        # one no lexicon knows that opens with a garment ("skort golf", "kaftan beach") is the garment
        if brand is None and any(r.attribute == "category" and r.start == t.start and r.confidence >= fill_min
                                 for r in along) and len(along) == 1:
            primary = [p for p in primary if p is not t] + along
            continue
        if brand is None and sorted(r.attribute for r in along) != ["category", "colour"]:
            continue
        if along and _read_whole(t, ([brand] if brand else []) + along):
            # (and the tagger's pieces of a colour it ran on into go: "green" in "armani forest green")
            primary = [p for p in primary if p is not t and not (p.source == "tagger" and p.end > t.end and any(
                _overlaps(p, r) for r in along))] + ([brand] if brand else []) + along
    # a tagger style, department or colour that took the query's one garment along, every word of it read
    # by the rules ("sage green cardigan", "newborn babygrow", "silver coat"), is what the rules read
    for t in [t for t in primary if t.source == "tagger" and t.attribute in ("style", "gender", "colour")]:
        inside = [r for r in rules if r.attribute in ("category", "colour", "gender", "style", "size")
                  and t.start <= r.start and r.end <= t.end]
        garments = [r for r in inside if r.attribute == "category"]
        inside.sort(key=lambda r: r.start)
        if (len(inside) >= 2 and _read_whole(t, inside) and len(garments) == 1
                and garments[0].confidence >= fill_min
                and not any(p.attribute == "category" and not _overlaps(p, t) and not _doomed(p, strong)
                            for p in primary)):
            primary = [p for p in primary if p is not t] + inside
        # and a tagger style made of a colour the rules are sure of and a cloth is the two ("rust corduroy"
        # in "rust corduroy jacket"; not "snow waterproof")
        elif (t.attribute == "style" and not garments and len(inside) == 2 and _read_whole(t, inside)
              and [r.attribute for r in inside] == ["colour", "style"]
              and inside[0].confidence >= fill_min and inside[1].text.lower() in CLOTHS):
            primary = [p for p in primary if p is not t] + inside
    return primary


def _pairs(primary: list[Span], rules: list[Span], strong: list[Span], fill_min: float, text: str | None) -> list[Span]:
    """Pairs, sizes, colourways and washes the rules read whole, in place of the tagger's reading of them."""
    # a tagger size over two sizes the rules read ("8-10", "uk 8-10", "s/m", "6 to 8") gives way to them: a
    # shopper who writes a pair means either size, and a filter on both values finds either; so does a
    # tagger brand over two sure brands ("carhartt or dickies"), and a tagger garment that is just two garments
    # the rules read ("dress or skirt", "jeans/trousers", "jacket and coat": it had taken the last one's
    # value). A tagger colour over two colours joined by "/" ("white/green": a colourway) keeps its span, as QueryNER
    # labels it (split, test colour F1 fell 0.700 -> 0.683), and takes both values ("white+green")
    for t in [t for t in primary if t.source == "tagger" and t.attribute in ("size", "colour", "brand", "category")]:
        sure = {"brand": 0.9, "category": fill_min}.get(t.attribute, 0.0)
        pair = sorted((r for r in rules if r.attribute == t.attribute and _overlaps(t, r) and r.confidence >= sure),
                      key=lambda r: r.start)
        joint = {"size": r"\s?[-/]\s?|\s+(?:or|to)\s+", "colour": "/", "brand": r"\s+(?:or|and|&)\s+|\s?/\s?",
                 "category": r"\s+(?:or|and|&)\s+|\s?/\s?"}[t.attribute]
        if t.attribute == "category" and not (pair and pair[0].start == t.start and pair[-1].end == t.end):
            continue
        # t overlaps both, so it covers the text between them
        if len(pair) == 2 and re.fullmatch(joint, t.text[pair[0].end - t.start : pair[1].start - t.start]):
            if t.attribute == "colour":
                pair = [t.model_copy(update={"value": "+".join(r.value or "" for r in pair)})]
            primary = [p for p in primary if p is not t] + pair
    # a tagger size inside a size the rules read whole with its system or fit ("9.5" in "us 9.5", "28" in
    # "28 short") is that size: the system is part of what the shopper wrote; so is the word "size" alone
    # before the number the tagger read as something else ("junior size 4")
    for t in [t for t in primary if t.source == "tagger" and t.attribute == "size"]:
        word_only = re.fullmatch(r"size|sz", t.text, re.I) is not None
        whole = next((r for r in rules if r.attribute == "size" and r.start <= t.start and t.end <= r.end
                      and (r in strong or (word_only and r.confidence >= 0.9))
                      and not re.fullmatch(r"(?:size|sz)?", (r.text[: t.start - r.start] + " "
                                                              + r.text[t.end - r.start :]).strip(), re.I)), None)
        if whole is not None:
            primary = [p for p in primary if not (p.source == "tagger" and _overlaps(p, whole))] + [whole]
    # a tagger category that is a colour the rules are sure of and then a garment of theirs is the two
    # ("cream jumper", "camel coat", "stone chinos": the tagger reads a colour word that names other
    # things as part of the thing)
    if text is not None:
        for t in [t for t in primary if t.source == "tagger" and t.attribute == "category"]:
            colour = next((r for r in rules if r.attribute == "colour" and r.confidence >= fill_min
                           and r.start == t.start and r.end < t.end), None)
            if colour is None:
                continue
            garment = next((r for r in rules if r.attribute == "category" and r.confidence >= fill_min
                            and r.end == t.end and not text[colour.end : r.start].strip()), None)
            if garment is not None:
                primary = [p for p in primary if p is not t] + [colour, garment]
    # a tagger colour inside a denim wash ("acid" in "acid wash") is the wash
    for t in [t for t in primary if t.source == "tagger" and t.attribute == "colour"]:
        wash = next((r for r in strong if r.attribute == "colour" and r.start <= t.start and t.end <= r.end
                     and r.end - r.start > t.end - t.start), None)
        if wash is not None:
            primary = [p for p in primary if not (p.source == "tagger" and _overlaps(p, wash))] + [wash]
    # the word "size" alone, read by the tagger as a size before the size itself ("hat size 58cm"), is no size
    size_starts = [sp.start for sp in (*primary, *rules) if sp.attribute == "size"]
    primary = [t for t in primary if not (t.source == "tagger" and t.attribute == "size"
                                          and re.fullmatch(r"size|sz", t.text, re.I)
                                          and any(s > t.start for s in size_starts))]
    return primary


def _keep(primary: list[Span], secondary: list[Span], rules: list[Span], strong: list[Span],
          is_known: Callable[[str, str], bool] | None) -> list[Span]:
    """The spans that stand (strong rule spans first, then the policy's order, none overlapping another),
    each tagger span with the value of the rule span it covers."""
    if strong:
        # a tagger span that ran on into a strong span of another attribute keeps its words before it
        # ("floral s": the colour "floral", then the size "s")
        primary = [_before_strong(sp, strong, rules) if _doomed(sp, strong) else sp for sp in primary]
        primary = [sp for sp in primary if not _doomed(sp, strong)]
        primary = [r for r in strong if not any(_overlaps(r, p) for p in primary)] + primary
    kept: list[Span] = []
    for sp in (*primary, *secondary):
        if not any(_overlaps(sp, k) and not _both_bounds(sp, k) for k in kept):
            kept.append(sp)
    # a tagger span borrows the value (and confidence) of a rule span of the same attribute it covers
    out: list[Span] = []
    for sp in kept:
        if sp.source == "tagger" and sp.value is None:
            same = [r for r in rules if r.attribute == sp.attribute and _overlaps(r, sp) and r.value is not None]
            inside = [r for r in same if sp.start <= r.start and r.end <= sp.end] if sp.attribute == "category" else []
            if is_known is not None and inside:
                # the thing a garment phrase names comes last: where the taxonomy reads the whole phrase
                # as a kind of thing, its parts lend it no value ("dress socks" are socks, not a dress);
                # else the last kind of thing inside lends it, if the phrase ends with a garment word
                # ("shoe accessories" are shoes' more than any accessory's; a "coat rack" is no coat).
                # A phrase it is part of still lends it its value: "corset" in "corset dress"
                narrow = [r for r in inside if is_known("narrow category", r.text)]
                end = sp.start + len(_SETS.sub("", sp.text))  # "robe set", "lingerie sets" name robes, lingerie
                keep = [] if is_known("narrow category", sp.text) or inside[-1].end != end else (narrow or inside)[-1:]
                same = [r for r in same if r not in inside] + keep
            # not the value of a fit or a leg length, or of the number alone, for a size read with both
            # ("12 petite", "10 l30", "size 6 petite", "plus size 22"): its own value says both
            if same and not (sp.attribute == "size" and sp.text != same[0].text
                             and (any(is_partial(r.value) for r in same) or _fit_outside(sp, same[0]))):
                sp = sp.model_copy(
                    update={"value": same[0].value, "confidence": max(sp.confidence, same[0].confidence)}
                )
        out.append(sp)
    return out


def merge_spans(
    rules: list[Span],
    tagger: list[Span],
    policy: dict[str, str] | None = None,
    overrides: dict[str, float] | None = None,
    fill_min: float = 0.85,
    is_known: Callable[[str, str], bool] | None = None,
    text: str | None = None,
) -> list[Span]:
    """The kept spans, by position. `is_known(attribute, text)` says whether the taxonomy or brand
    lexicon knows a phrase, and `text` is the query the spans were read from: the rules that read
    a tagger span again need them, and are skipped without.

    The steps, in order: the tagger's spans tidied (`_tidy`) and ranked by the policy (`_rank`); tagger
    spans read again as the lexicons say (`_relabel`); names known whole in place of the tagger's pieces
    (`_wholes`, `_garment_last`); tagger spans that ran on across what the rules read split (`_split_tails`,
    `_split_heads`); pairs, sizes and washes read whole (`_pairs`); then what stands, with its value (`_keep`).
    Each step's readings were chosen on QueryNER dev and the shopper suites (docs/qu.md)."""
    policy = {**DEFAULT_POLICY, **(policy or {})}
    for attr, p in policy.items():
        if p not in POLICIES:
            raise ValueError(f"merge policy for {attr!r} is {p!r}; choose from {', '.join(POLICIES)}")
    tagger = _tidy(tagger, rules)
    primary, secondary = _rank(rules, tagger, policy, fill_min)
    # a tagger style that is exactly a colour the rules are sure of is that colour ("oatmeal jumper",
    # "cream wide leg trousers"), unless it names a material or a finish: QueryNER reads "gold",
    # "silver", "linen", "stainless steel" and "holographic" as modifiers (train and dev: 3 better, 1
    # worse, "lilac reed diffuser"; with the materials, 58 worse)
    primary = _read_as(primary, "style", [r for r in rules if r.attribute == "colour" and r.confidence >= 0.85
                                          and (r.text.lower() not in MATERIALS or r.confidence >= GARMENT_COLOUR)])
    if is_known is not None:
        primary, secondary = _relabel(primary, secondary, rules, is_known, fill_min, text)
    # a tagger style that is two or more styles the rules read, and nothing else, is those styles: "low
    # rise y2k" had kept only its first style as its value
    primary = [piece for t in primary for piece in _styles_within(t, rules)]
    strong = _strong(rules, overrides)
    primary = _without_model_numbers(primary, rules)
    primary = _wholes(primary, secondary, tagger, rules, is_known, strong)
    if text is not None:
        primary = _garment_last(primary, secondary, rules, fill_min, text, strong)
    if is_known is not None:
        primary = _split_tails(primary, rules, is_known, fill_min)
        primary = _split_heads(primary, rules, is_known, fill_min, strong)
    primary = _pairs(primary, rules, strong, fill_min, text)
    return _with_fits(sorted(_keep(primary, secondary, rules, strong, is_known), key=lambda s: s.start), text)


_NUMBER_SIZE = re.compile(r"(?:size\s+)?(\d{1,2})", re.I)


def _with_fits(spans: list[Span], text: str | None) -> list[Span]:
    """A number size and the fit right after it are one size, as UK shops sell them: "12" and "petite" in
    "navy 12 petite" are "12 petite" (as "12 petite" read whole is)."""
    if text is None:
        return spans
    out: list[Span] = []
    for sp in spans:
        prev = out[-1] if out else None
        fit = (sp.value or sp.text).lower()
        if (prev is not None and prev.attribute == "size" and (n := _NUMBER_SIZE.fullmatch(prev.text))
                and sp.attribute in ("size", "style") and fit in FITS and not text[prev.end : sp.start].strip()):
            out[-1] = prev.model_copy(update={"text": text[prev.start : sp.end], "end": sp.end,
                                              "value": f"{n.group(1)} {fit}"})
            continue
        out.append(sp)
    return out
