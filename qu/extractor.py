"""The query-understanding extractor: rules + tagger (+ LLM when configured), merged into a ParsedQuery."""

from __future__ import annotations

import logging
import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from qu.lexicon import Lexicon, get_lexicon, key, short_slip, short_words, spelt_right
from qu.merge import GARMENT_COLOUR, LETTER_SIZE, cut_after, cut_before, merge_spans
from qu.product_lines import IMPLIED_CONFIDENCE, ProductLine, ProductLines, get_product_lines
from qu.rules import AMBIGUOUS_COLOURS, RuleMatcher
from qu.sizes import DEPARTMENT, convert_dress_size, convert_shoe_size, is_partial, normalise_size, waist_leg
from qu.taxonomy import GARMENT_ROOTS, Taxonomy, get_taxonomy
from qu.types import ATTRIBUTES, ParsedQuery, Span

if TYPE_CHECKING:
    from preloved.settings import Settings
    from qu.llm import LLMLayer
    from qu.tagger import Tagger

logger = logging.getLogger(__name__)

__all__ = ["QueryError", "QUExtractor", "build_extractor", "without_negations"]

_HTML = re.compile(r"<[^<>]{0,200}>|&[a-z]{2,8};|&#\d{1,6};", re.I)
LIST_ATTRS = ("brand", "category", "size", "colour", "style", "gender", "condition")


TAGGER_KINDS = ("auto", "spacy", "minilm", "ensemble")
# Chosen on QueryNER dev: the MiniLM reads category and brand boundaries better, spaCy the rest;
# where picked spans overlap, the earlier attribute keeps its span.
ENSEMBLE_PICK = {"category": "minilm", "brand": "minilm"}
ENSEMBLE_PRIORITY = ("category", "brand", "gender", "size", "colour")


class QueryError(ValueError):
    """A query qu cannot read (empty or blank)."""


_AGE = re.compile(r"age [\d-]+|[\d-]+ months")  # a size value that is a child's age
_SIZE_WORD_BEFORE = re.compile(rf"\b(?:size|sz|uk|eu|us)\s*(?:{DEPARTMENT}\s+)?(?:size\s+)?$", re.I)
_SIZE_WORD_AFTER = re.compile(r"^\s*(?:uk|eu|us)\b", re.I)
_JOINT = re.compile(r"\s+(?:or|to)\s+", re.I)


# a shopper's request around the query ("looking for a ...", "anyone selling ...", "iso ...", "anything y2k",
# "... please"): it names no attribute, and a listing has nothing to match it with
_REQUEST = re.compile(
    r"^\s*(?:(?:(?:hi|hey|hello)\b[\s,!.]*)?(?:(?:i'?m|i am)\s+)?"
    r"(?:looking\s+for|searching\s+for|in\s+search\s+of|iso|wtb|lf|want(?:ed|\s+to\s+buy)|seeking"
    r"|(?<=i'm\s)after|(?<=im\s)after|(?<=i\sam\s)after"
    r"|(?:i\s+)?(?:need|want)(?!\s+for\b)|(?:does\s+)?any\s?(?:one|body)\s+(?:selling|sell|got|have|has)"
    r"|anything(?:\s+(?:in|from|by))?|any(?=\s)(?!\s+(?:colou?rs?|sizes?|brands?|conditions?|styles?)\b)"
    r"|(?:(?:can|could)\s+you\s+)?(?:find|show)\s+me(?=\s+\S)"
    r"|(?:do\s+)?you\s+have|have\s+you\s+got)\b[\s:!,.-]*(?:(?:a(?!\s+bathing\s+ape\b)|an|the|some|any)\s+)?)?"
    r"(?:(?:a\s+)?pairs?\s+of\s+)?",
    re.I,
)
# "in" before the size that ends the query ("north face puffer in xs", "blazers in 12?"; not "3 in 1")
_IN_SIZE = re.compile(r"(?<![\d.])(?<!\d\s)\bin(?=\s+(?:size\s+|uk\s+|eu\s+|us\s+)?(?:\d{1,2}(?:\.5)?|xxs|xs|s|m|l|xl"
                      r"|xxl|xxxl|[2-5]xl|small|medium|large)\s*[?!.]*\s*$)", re.I)
# the shopper speaking of themself before a size or a height ("i'm 5'4 petite jeans 8", "im a size 12")
_SELF = re.compile(r"^\s*(?:i'?m|i\s+am)(?:\s+an?)?(?=\s+(?:size\b|uk\b|us\b|eu\b|\d|petite\b|tall\b|plus\b))", re.I)
# "fits" before the size ("top fits uk 8-10", "dress fits like a 10"): the size stays
_FITS_SIZE = re.compile(r"\bfits(?:\s+like\s+an?)?(?=\s+(?:size\s+|uk\s+|eu\s+|us\s+)?\d)", re.I)
_THANKS = re.compile(r"[\s,!.?]*\b(?:please|pls|plz|thanks|thank\s+you|asap)\b[\s!.?]*$", re.I)
# the price a seller paid ("rrp £45", "rrp 45", "retail $120", "was £30") is no budget
_CURRENCY = r"(?:[£$€]|gbp|usd|euros?|eur|pounds?|quid|dollars?)"
_RRP = re.compile(
    rf"\brrp\s*:?\s*[£$€]?\s*\d+(?:[.,]\d+)?(?:\s*{_CURRENCY})?"  # after "rrp" a bare number too
    r"|\b(?:retail(?:ed)?(?:\s+(?:price|for|at))?|was|orig(?:inal(?:ly)?)?(?:\s+price)?|paid)\s*:?\s*"
    rf"(?:[£$€]\s*\d+(?:[.,]\d+)?|\d+(?:[.,]\d+)?\s*{_CURRENCY})",
    re.I,
)
# a shop the shopper bought from sells every brand: "jd sports tracksuit" is no brand "jd"
_SHOPS = re.compile(r"(?:\b(?:from|at)\s+)?\b(?:jd\s?sports|sports\s?direct|t\.?[kj]\.?\s?maxx)\b", re.I)
# no constraint ("any colour"), and the seller's terms, which a listing's fields do not hold: free postage, and
# what a price includes ("nike hoodie £15 posted", "jeans under £20 inc postage", "coat £30 + postage")
_ANY = re.compile(r"\bany\s+(?:colou?rs?|sizes?|brands?|conditions?|styles?)\b"
                  r"|(?:\b(?:free|inc(?:l|luding)?\.?|plus|with)\s+|\+\s*)(?:postage|shipping|delivery|p\s?&\s?p)(?![\w&])"
                  r"|\b(?:posted|(?:postage|delivery|shipping)\s+inc(?:l|luded)?\.?)(?!\w)", re.I)


# the shopper's height, no size: "dress for tall women 5'10", "jeans for 5ft 4"
_HEIGHT = re.compile(r"(?<![\w.])[4-6]\s?(?:'|ft|foot|feet)\s?(?:[0-9]|1[01])(?:\"|''|in(?:ch(?:es)?)?)?(?![\w.'])",
                     re.I)
_POUNDS = re.compile(r"(\d{1,4}(?:\.\d{2})?)\s?pounds?", re.I)  # an amount in pounds: a weight, or a price
# how many, not what size: "pack of 3", "set of 2", "x2", "3 pack", "5 pairs" (QueryNER labels them quantities)
_QUANTITY = re.compile(r"(?:(?:pack|set|box|lot|bundle|case)s? of \d+|x\d+|\d+ ?(?:pack|pk|pcs|pieces|count|ct|pairs?)"
                       r"|\d+-pack)", re.I)
# a football season is no size ("arsenal away kit 22/23", "2019/20 home shirt", "home kit 05/06"); a kids' age
# ends by 16 and is not written with a leading zero
_SEASON = re.compile(r"((?:19|20)\d{2}|0\d|1[7-9]|[2-9]\d)\s?[/-]\s?(\d{2}|(?:19|20)\d{2})")
# "dress not black", "trainers no white", "hoodie without nike", "trousers not jeans": the colour, brand,
# style or garment after it is one the shopper does not want; so are those listed after it ("not black or navy")
_NEGATION_WORDS = {"not", "no", "non", "without", "except", "excluding", "anything but", "other than", "isnt", "isn't",
                   "arent", "aren't"}
_NEGATION = re.compile(r"\b(?:" + "|".join(w.replace(" ", r"\s+") for w in sorted(_NEGATION_WORDS)) + r")\W*$", re.I)
_NEGATION_LIST = re.compile(r"\W*(?:\b(?:or|nor|and)\b)?\W*", re.I)
_NEGATABLE = ("colour", "brand", "style", "category")


def without_negations(query: str, negated: dict[str, list[str]] | None) -> str:
    """`query` without the phrases that name what it does not want ("dress not black" -> "dress";
    "trainers not white or grey" -> "trainers"), for a model that reads the words but not the
    negation (the reranker would rank black dresses first). `negated`: `ParsedQuery.extra["negated"]`."""
    words = {w for vals in (negated or {}).values() for v in vals for w in key(str(v)).split()}
    if not words:
        return query
    value = "|".join(map(re.escape, sorted(words, key=len, reverse=True)))
    phrase = re.compile(rf"\b(?:{'|'.join(sorted(_NEGATION_WORDS))})\b(?:[\s,/]+(?:or|nor|and|{value})\b)+", re.I)
    out = re.sub(r"\s+", " ", phrase.sub(" ", query)).strip()
    return out or query


_WETSUIT = re.compile(r"\bwet ?suits?\b", re.I)
_THICKNESS = re.compile(r"[2-7]\s?/\s?[1-6](?:\s?/\s?[1-5])?\s?(?:mm)?", re.I)
_FOOTBALL = re.compile(r"\b(?:kits?|shirts?|jerseys?|tops?|home|away|third|football|soccer|footy|season)\b", re.I)


def _age_in(department: str) -> str | None:
    """The child's age a department phrase ends with ("baby girl 0-3 months", "for boys age 4-7"), if any."""
    words = department.split()
    for i in range(1, len(words)):
        if _AGE.fullmatch(normalise_size(" ".join(words[i:])) or ""):
            return " ".join(words[i:])
    return None


# a brand named as a reference, not as the maker: "chanel inspired tweed jacket", "ugg style boots",
# "skims dupe", "dress similar to reformation" (no filter on the brand: the shopper wants the look)
_REFERENCE_WORDS = r"(?:inspired|style|esque|dupes?|look[\s-]?alikes?|alternatives?)\b"
_REFERENCE_PHRASES = r"(?:similar\s+to|dupes?\s+(?:of|for)|alternatives?\s+to|inspired\s+by|in\s+the\s+style\s+of)\s+"
_REFERENCE_AFTER = re.compile(rf"[\s-]*{_REFERENCE_WORDS}", re.I)
_REFERENCE_BEFORE = re.compile(rf"\b{_REFERENCE_PHRASES}$", re.I)
_REFERENCE_HEAD = re.compile(_REFERENCE_PHRASES, re.I)
_REFERENCE_TAIL = re.compile(rf"\S[\s-]+{_REFERENCE_WORDS}$", re.I)


def _references(text: str, spans: list[Span], lexicon: Lexicon) -> list[Span]:
    """The spans with a brand named as a reference read as a style with the words that say so."""
    out = list(spans)
    for sp in spans:
        if sp.attribute != "brand":
            continue
        # the tagger may have taken the words into the brand ("similar to reformation", "miu miu-inspired"),
        # unless they are the brand's own name ("in the style")
        inside = (key(sp.text) not in lexicon.brand_alias
                  and (_REFERENCE_HEAD.match(sp.text) or _REFERENCE_TAIL.search(sp.text)))
        after = None if inside else _REFERENCE_AFTER.match(text, sp.end)
        before = None if inside or after else _REFERENCE_BEFORE.search(text, 0, sp.start)
        if not (inside or after or before):
            continue
        start, end = (sp.start, sp.end) if inside else (sp.start, after.end()) if after else (before.start(), sp.end)
        out = [o for o in out if o is not sp and not (start <= o.start and o.end <= end)]
        out.append(Span(attribute="style", text=text[start:end], start=start, end=end,
                        value=text[start:end].lower(), source=sp.source, confidence=sp.confidence))
    return sorted(out, key=lambda x: x.start)


def _season_or_thickness(text: str, sp: Span) -> bool:
    """A football season ("2003/04 home shirt") or a wetsuit's thickness in mm ("wetsuit 3/2 womens 10",
    "5/4/3mm"): not a size."""
    if _WETSUIT.search(text) and _THICKNESS.fullmatch(sp.text.strip()):
        return True
    m = _SEASON.fullmatch(sp.text.strip())
    return bool(m and int(m.group(2)[-2:]) == (int(m.group(1)[-2:]) + 1) % 100 and _FOOTBALL.search(text))


# sentence punctuation, read as a space: "?" and "!" anywhere, and a ",", ";", ":" or "." that ends a word ("black
# dress, size 10", "colour: black", "nike hoodie xl."); not a decimal point or comma ("6.5", "42,5"), an
# abbreviation's dot ("dr. martens", "a.p.c.", "no. 21") or an HTML entity's ";"
_STOPS = re.compile(r"[!?\u00a1\u00bf]+|[,;:]+(?=\s|$)|\.+(?=\s|$)")
_QUOTES = str.maketrans("\u2018\u2019\u201c\u201d\u00b4", "''\"\"'")  # typographic quotes: "levi\u2019s"
_HALF = re.compile(r"(?<![\d,.])(\d{1,2}),5(?![\d,])")  # a half size with a decimal comma: "eu 38,5"
_ABBREVIATIONS = {"dr", "st", "no", "nr", "mr", "mrs", "ms", "jr", "sr", "vs", "co", "in"}  # "3/8 in. od"


def _squeeze(q: str) -> tuple[str, list[int] | None]:
    """`q` in lower case with straight quotes, sentence punctuation read as spaces, a decimal comma a point and each
    run of spaces one space (none at the ends), and where in `q` each of its characters is; `(q, None)` where that
    changes nothing (or leaves nothing)."""
    def stop(m: re.Match) -> str:
        word = q[: m.start()].rsplit(None, 1)[-1] if q[: m.start()].strip() else ""
        if m.group() == "." and ("." in word or word.lower() in _ABBREVIATIONS):
            return m.group()
        if m.group()[0] == ";" and word.startswith("&"):
            return m.group()
        return _blank(m)

    t = q.translate(_QUOTES)
    if len(low := t.lower()) == len(t):  # every layer reads lower case; the tagger's tokenizer lowers it anyway
        t = low
    t = _STOPS.sub(stop, _HALF.sub(r"\1.5", t))
    words = [(m.start(), m.end()) for m in re.finditer(r"\S+", t)]
    if not words:
        return q, None
    text = " ".join(t[a:b] for a, b in words)
    if text == q:
        return q, None
    at: list[int] = []
    for i, (a, b) in enumerate(words):
        if i:
            at.append(words[i - 1][1])  # the space between two words: the first blank after the first
        at.extend(range(a, b))
    return text, at


def _unsqueeze(parsed: ParsedQuery, query: str, at: list[int]) -> ParsedQuery:
    """`parsed`, read from `_squeeze(query)`, with its spans placed in `query`."""
    spans = [sp.model_copy(update={"start": (a := at[sp.start]), "end": (b := at[sp.end - 1] + 1), "text": query[a:b]})
             for sp in parsed.spans]
    return parsed.model_copy(update={"query": query, "spans": spans})


def _words(q: str) -> str:
    """A query written as a slug ("zara-dress-size-10", "nike_air_max", "zara/dress/10") with its words
    spaced; else q. (One "/" is a size or a colourway: "30/32", "white/green".) Trademark signs are
    spaces: "levi's® 501®"."""
    if " " not in q.strip() and (q.count("-") + q.count("_") >= 2 or q.count("/") >= 2):
        q = q.replace("-", " ").replace("_", " ").replace("/", " ")
    return q.translate(_MARKS) if "®" in q or "™" in q else q


_MARKS = str.maketrans("®™", "  ")


def _before_blanks(spans: list[Span], masked: str, words: str) -> list[Span]:
    """Tagger spans cut short where the mask blanked a word inside them: in "size 8 fits 10" the
    tagger reads "size 8 ... 10" over the blanked "fits", a span the shopper did not write, which is
    dropped later; its words before the blank are the size."""
    out = []
    for sp in spans:
        if masked[sp.start : sp.end] != words[sp.start : sp.end]:
            at = next(i for i in range(sp.start, sp.end) if masked[i] != words[i])
            while at > sp.start and masked[at - 1] in " ([{":  # "size 8 (fits 10)"
                at -= 1
            if not masked[sp.start : at].strip():
                continue
            sp = cut_before(sp, at)
        out.append(sp)
    return out


def _commas(query: str, text: str, at: list[int] | None) -> list[int]:
    """Where in `text`, `_squeeze(query)`, the shopper typed a "," or ";" between two words (read as a space)."""
    if at is None:
        return []
    return [i for i in range(1, len(text) - 1) if text[i] == " " and
            any(ch in ",;" for ch in query[at[i - 1] + 1 : at[i + 1]])]


_NEGATION_FIRST = re.compile(r"(?:not|no|without)\s", re.I)


def _at_commas(spans: list[Span], commas: list[int]) -> list[Span]:
    """Tagger spans cut where the shopper typed a comma: "tire drill, tire inflator" is two garments, not the
    one the tagger reads over the comma (a space to it)."""
    out = []
    for sp in spans:
        cuts = [c for c in commas if sp.start < c < sp.end]
        for a, b in zip([sp.start, *cuts], [*cuts, sp.end], strict=True):
            piece = sp if not cuts else cut_before(cut_after(sp, a), b)
            if piece.attribute == "category" and _NEGATION_FIRST.match(piece.text):
                continue  # "no holes" in "jumper, no holes" (without the comma, merge cuts it off)
            out.append(piece)
    return out


def _blank(m: re.Match) -> str:
    return " " * len(m.group(0))


def _mask(q: str) -> str:
    """Blank out HTML tags and entities, a request around the query, "any colour" (no constraint), a
    shop's name and a retail price with spaces, keeping every offset unchanged. A query written as a
    slug ("zara-dress-size-10") is read as its words."""
    q = _REQUEST.sub(_blank, _HTML.sub(_blank, _words(q)), count=1)
    q = _IN_SIZE.sub(_blank, _THANKS.sub(_blank, q, count=1), count=1)
    q = _HEIGHT.sub(_blank, _FITS_SIZE.sub(_blank, _SELF.sub(_blank, q, count=1)))
    return _RRP.sub(_blank, _SHOPS.sub(_blank, _ANY.sub(_blank, q)))


@dataclass
class QUExtractor:
    rules: RuleMatcher
    tagger: Tagger | None = None
    llm: LLMLayer | None = None
    lexicon: Lexicon = field(default_factory=get_lexicon)
    taxonomy: Taxonomy = field(default_factory=get_taxonomy)
    product_lines: ProductLines = field(default_factory=get_product_lines)
    max_chars: int = 512
    policy: dict[str, str] | None = None
    tagger_kind: str = "spacy"

    # ---- public -------------------------------------------------------------------------------
    def parse(self, query: str, layers: tuple[str, ...] | None = None) -> ParsedQuery:
        return self.parse_batch([query], layers=layers)[0]

    def parse_batch(
        self,
        queries: list[str],
        layers: tuple[str, ...] | None = None,
        batch_size: int = 256,
        workers: int = 1,
    ) -> list[ParsedQuery]:
        """Parse many queries; `layers` picks a subset of ("rules", "tagger", "llm") for ablations.

        `workers` > 1 splits the queries into that many contiguous parts parsed in threads. The
        tagger reads one query per forward pass and onnxruntime releases the GIL while it runs, so
        two workers use both cores for the model. Results are the same, in the same order."""
        if workers > 1 and len(queries) > 1:
            from concurrent.futures import ThreadPoolExecutor

            size = -(-len(queries) // workers)
            parts = [queries[i : i + size] for i in range(0, len(queries), size)]
            with ThreadPoolExecutor(len(parts), thread_name_prefix="qu") as pool:
                done = pool.map(lambda part: self.parse_batch(part, layers, batch_size), parts)
                return [p for part in done for p in part]
        layers = layers or ("rules", "tagger", "llm")
        texts, squeezed, read_as = [], [], []
        for q in queries:
            if not isinstance(q, str):
                raise QueryError(f"query must be a string, got {type(q).__name__}")
            if not q.strip():
                raise QueryError("query is empty or only whitespace; give at least one word")
            plain = _squeeze(q)
            squeezed.append((q, *self._spelt(*plain)))
            read_as.append(squeezed[-1][1] if squeezed[-1][1] != plain[0] else None)
            texts.append(_mask(squeezed[-1][1][: self.max_chars]))
        rule_spans = [self.rules.spans(t) for t in texts] if "rules" in layers else [[] for _ in texts]
        if "tagger" in layers and self.tagger is not None:
            tag_spans = self.tagger.pipe(texts, batch_size=batch_size)
        else:
            tag_spans = [[] for _ in texts]
        use_tagger = "tagger" in layers and self.tagger is not None
        # without the tagger every attribute is read from the rules
        policy = self.policy if use_tagger else {a: "rules" for a in ATTRIBUTES}
        out = []
        for (original, q, at), read, t, rs, ts in zip(squeezed, read_as, texts, rule_spans, tag_spans, strict=False):
            words = _words(q)  # what the mask was made from; a slug's spans read its words
            ts = _at_commas(_before_blanks(ts, t, words), _commas(original, q, at))
            lines: list[ProductLine] = []
            if "rules" in layers:
                lines = self.product_lines.find(t, lambda rs=rs, ts=ts: self._named_brands([*rs, *ts]))
                if lines:
                    rs, ts = self._around_lines(rs, lines), self._around_lines(ts, lines)
            spans = merge_spans(rs, ts, policy, is_known=self._is_known, text=t)
            spans = [sp for sp in spans if not (sp.attribute == "size" and (_season_or_thickness(t, sp)
                                                                           or _QUANTITY.fullmatch(sp.text.strip())))]
            if "rules" in layers:
                spans = self._pounds(self._bare_size(t, spans, lines), lines)
                if any(ln.category in ("jeans", "trousers") for ln in lines):  # "levis 501 30 32"
                    spans = self._waist_leg(t, spans)
            # a span over blanked HTML ("<<< >>>" read as "<<   >>") is not the shopper's text: drop it
            # (a slug's spans keep the shopper's text)
            spans = [s if words is q else s.model_copy(update={"text": q[s.start : s.end]})
                     for s in spans if words[s.start : s.end] == s.text]
            spans = _references(t, spans, self.lexicon)
            spans, negated = self._negated(t, spans, rs)
            parsed = self._build(q, spans, truncated=len(q) > self.max_chars, masked=t, lines=lines)
            # what was read where the shopper slipped or ran words together: retrieval matches its words too
            more = {"negated": negated} if negated else {}
            if read is not None:
                more["read_as"] = read
            if more:
                parsed = parsed.model_copy(update={"extra": {**parsed.extra, **more}})
            if "llm" in layers and self.llm is not None:
                parsed = self.llm.refine(parsed, self)
            out.append(parsed if at is None else _unsqueeze(parsed, original, at))
        return out

    def _spelt(self, text: str, at: list[int] | None) -> tuple[str, list[int] | None]:
        """`text` (from `_squeeze`) with each garment, colour and department misspelt by a slip of the keys
        written right ("georgia sweaater", "moon neclkace", "pastl backpacks", "wommens dress": the tagger had
        read a brand over the unknown word), and where in the query each of its characters is (`at`, extended),
        so spans still point at the shopper's own text; and two names run together spaced (`_spaced`:
        "blackdress"). A garment's name of 7 letters or more, not a brand's slip
        ("doc mattens"); a colour's (`misspelt_colour`), a department's or a shorter garment's ("drss", "shos")
        only in a query that names something to wear or wear it, who it is for or a fashion brand ("blcak
        diamond ring", "whtie vans"; "broan range hood" is a brand, "maria mena" a singer, "morgan wallen" and
        "lisa jewell" names), a shorter garment's also beside a colour named right ("black drss")."""
        words = list(re.finditer(r"\S+", text))
        lex = self.lexicon
        # every slip below is a word of 4 letters or more that no dictionary holds, or a 4-letter name with a
        # letter dropped inside it ("pik", "mns", "tps": `short_slip`)
        slipped = [(i, m, w) for i, m in enumerate(words)
                   if (n := len(w := m.group().lower())) >= 3 and w.isalpha() and not spelt_right(w)
                   and (n > 3 or w not in short_words())]

        def garment(i: int, word: str) -> str | None:
            name = self.taxonomy.corrected(word, shortest=3, roots=True)
            if name is None or (len(word) == 3 and not short_slip(word, name)):
                return None
            # nor a brand's slip: "doc mattens" is no "doc mittens", "studo ghibli" no stud
            near = [" ".join(w.group() for w in words[a:b]) for a, b in ((i - 1, i + 1), (i, i + 2), (i, i + 1))]
            return name if all(lex.near_brand(n) is None for n in near if n) else None

        def known(word: str) -> bool:  # a name in its own right ("cami" is no slip of "camo")
            return (any(word in names for names in (lex.brand_alias, lex.style_alias, lex.gender_alias,
                                                     lex.condition_alias, lex.colour_alias, lex.colour_words))
                    or self.taxonomy.normalise(word) is not None)

        named = {m: (w, name) for i, m, w in slipped if (name := garment(i, w))}
        garments = {m: name for m, (w, name) in named.items() if len(w) >= 7}
        colours = {m: name for _, m, w in slipped if m not in garments and (name := lex.colour_spelt(w))}
        departments = {m: name for _, m, w in slipped if m not in garments and m not in colours
                       and (name := lex.department_spelt(w))}
        # a shorter garment's slip ("drss", "shos") after a colour's or a department's ("booys" is no "boots")
        taken = garments.keys() | colours.keys() | departments.keys()
        short = {m: name for m, (_, name) in named.items() if m not in taken}
        if short or colours or departments:  # said of something to wear, who it is for, its wear or a fashion brand?
            said = [*(m.group() for m in words), *garments.values()]
            cats = [c for w in said if (c := self.taxonomy.normalise(w))]
            if not (self.taxonomy.roots(cats) & (GARMENT_ROOTS | {"accessories"}) or any(
                    w in names for w in said for names in (lex.gender_alias, lex.condition_alias, lex.brand_curated))):
                colours = departments = {}
                # a shorter garment's slip beside a colour named right will do ("black drss", "pink slipers")
                if not any((w := m.group().lower()) in lex.colour_alias and w not in AMBIGUOUS_COLOURS for m in words):
                    short = {}
        fixes = {m: name for m, name in (garments | short | colours | departments).items()
                 if not known(m.group().lower())}
        # two names run together, one of them a garment ("blackdress", "mensjeans", "stussyhoodie")
        fixes |= {m: spaced for _, m, w in slipped
                  if m not in fixes and len(w) >= 6 and not known(w) and (spaced := self._spaced(w))}
        if not fixes:
            return text, at
        at = at if at is not None else list(range(len(text)))
        out, where, i = [], [], 0
        for m, name in sorted(fixes.items(), key=lambda f: f[0].start()):
            a, b = m.span()
            out.append(text[i:a] + name)
            if " " in name:  # spaced: each letter where it was, the space where the second name begins
                cut = a + name.index(" ")
                where += at[i:cut] + [at[cut]] + at[cut:b]
            else:  # a slip: the name's letters spread over the word's
                where += at[i:a] + [at[a + j * (b - a - 1) // max(len(name) - 1, 1)] for j in range(len(name))]
            i = b
        out.append(text[i:])
        where += at[i:]
        return "".join(out), where

    def _spaced(self, word: str) -> str | None:
        """`word` as the two names a shopper ran together ("blackdress" -> "black dress", "mensjeans",
        "stussyhoodie"): a garment and a colour, department, condition, listed brand or garment, each of 3
        letters or more, where exactly one place to split gives them ("blackstone" is no garment, "redwing" no
        name); else a name no dictionary holds before the longest garment name of 5 letters or more the word ends
        with ("ethikaunderwear" -> "ethika underwear"; not "trailblazer" or "overshoes"); else None."""
        lex, tax = self.lexicon, self.taxonomy

        def garment(part: str) -> bool:
            return tax.normalise(part) is not None

        def name(part: str) -> bool:
            return garment(part) or any(part in names for names in (lex.colour_alias, lex.colour_words,
                                                                      lex.gender_alias, lex.condition_alias,
                                                                      lex.brand_curated))

        splits = [(word[:i], word[i:]) for i in range(3, len(word) - 2)]
        found = [f"{a} {b}" for a, b in splits if (garment(a) or garment(b)) and name(a) and name(b)]
        if len(found) == 1:
            return found[0]
        # or a name no dictionary holds before a garment of 5 letters or more: "ethikaunderwear", "persolsunglasses"
        ends = [(a, b) for a, b in splits if len(b) >= 5 and garment(b)
                and not (spelt_right(a) if len(a) > 3 else a in short_words())]
        return f"{ends[0][0]} {ends[0][1]}" if not found and ends else None

    def _negated(self, text: str, spans: list[Span], rules: list[Span]) -> tuple[list[Span], dict[str, list[str]]]:
        """The spans without the colours, brands, styles and garments the query says it does not want ("dress not
        black": the dress stays, black goes to `extra["negated"]`, which retrieval excludes) and without a
        negation read as a value ("not" as a colour). A span that opens with the negation ("not white
        or grey" read as one style) gives way to the colours and brands the rules read in it."""
        kept: list[Span] = []
        negated: dict[str, list[str]] = {}
        after = -1  # the end of the last negated span: "not black or navy" negates both

        def negate(sp: Span, value: str | None) -> None:
            # a garment is not excluded where it is (or holds) the one asked for: "boots not wellies"
            # wants boots, though wellies are boots; its words are then a kind of it the query does not
            # want, as a style is ("dress not bodycon": dresses, and "bodycon" not matched)
            if not value:
                return
            wanted = [c for c in spans if c is not sp and c.attribute == "category" == sp.attribute]
            held = [c for c in wanted if value in (self.taxonomy.path(w) if (w := c.value or self.canonical(
                "category", c.text)) in self.taxonomy.parents else (w,))]
            if not held:
                negated.setdefault(sp.attribute, []).append(value)
            elif all(key(c.text).rstrip("s") != key(sp.text).rstrip("s") for c in held):
                negated.setdefault("style", []).append(sp.text.lower())

        for sp in sorted(spans, key=lambda x: x.start):
            if sp.text.lower() in _NEGATION_WORDS:
                continue
            inner = [r for r in rules if r.attribute in _NEGATABLE and r.confidence > 0.6
                     and sp.start < r.start and r.end <= sp.end]
            if inner and sp.text.split()[0].lower() in _NEGATION_WORDS:
                for r in inner:
                    negate(r, self._negated_value(r) or r.text)
                after = sp.end
                continue
            if sp.attribute in _NEGATABLE and (
                    _NEGATION.search(text[: sp.start])
                    or (after >= 0 and _NEGATION_LIST.fullmatch(text[after : sp.start]))):
                negate(sp, self._negated_value(sp))
                after = sp.end
                continue
            kept.append(sp)
        return kept, negated

    def _negated_value(self, sp: Span) -> str | None:
        """What `extra["negated"]` records of a span: the canonical value, which retrieval excludes; a
        style as written, since no listing field holds it and its words are what the lexical match and
        the reranker must not read ("not skinny", whose canonical value is "slim fit")."""
        if sp.attribute == "style":
            return sp.text.lower()
        return sp.value if sp.value is not None else self.canonical(sp.attribute, sp.text)

    def _named_brands(self, spans: list[Span]) -> set[str]:
        # misspelt or not: "supream box logo", "new balence 550" (asked only where a line needs its brand)
        return {b for sp in spans if sp.attribute == "brand"
                and (b := (sp.value if sp.source == "rules" else None) or self.lexicon.brand(sp.text))}

    def _around_lines(self, spans: list[Span], lines: list[ProductLine]) -> list[Span]:
        """A layer's spans with a product line's name in the query: spans over the name go (the
        line's own brand stays: "jordan" in "jordan 1"), and a letter size right after it is the
        size ("nuptse 700 xl"; after a line of jeans, "34l" is the leg)."""
        out = []
        for sp in spans:
            over = [ln for ln in lines if sp.start < ln.end and ln.start < sp.end]
            after_line = any(0 < sp.start - ln.end <= 1 for ln in lines)
            if over:
                end = max(ln.end for ln in over)
                tail = sp.text[end - sp.start :]
                if (sp.attribute == "size" and sp.source == "rules" and tail[:1].isspace()
                        and LETTER_SIZE.fullmatch(letter := tail.strip().lower())):
                    # the line took the number of a size the grammar read: the letter after it is the size
                    # ("700 l" in "nuptse 700 l black" is no 700 litres)
                    sp = sp.model_copy(update={"text": tail.strip(), "start": sp.end - len(letter),
                                               "value": normalise_size(letter), "confidence": 0.9})
                elif not ((sp.attribute == "brand" and self.lexicon.brand(sp.text, fuzzy=False) == over[0].brand)
                          # the garment the line's name ends with is that garment ("leggings" of "align leggings")
                          or (sp.attribute == "category" and sp.source == "rules" and sp.end == over[0].end
                              and sp.value is not None and sp.value == over[0].category)):
                    continue
            elif (sp.attribute != "size" and sp.source == "tagger" and after_line
                  and LETTER_SIZE.fullmatch(sp.text.lower())):
                # a letter right after a line, whatever the tagger read of it ("m" in "banda poppers m black")
                sp = sp.model_copy(update={"attribute": "size", "value": normalise_size(sp.text), "confidence": 0.9})
            elif sp.attribute == "size" and sp.source == "rules" and after_line:
                sp = sp.model_copy(update={"confidence": max(sp.confidence, 0.9)})
                # after a line of jeans or trousers "34l" is the leg, not litres ("levis 501 34l")
                legs = {"jeans", "trousers"} & {ln.category for ln in lines}
                if legs and (m := re.fullmatch(r"(2[6-9]|3[0-8]) l", sp.value or "")):
                    sp = sp.model_copy(update={"value": f"l{m.group(1)}"})
            elif sp.attribute != "brand" and (brand := self.lexicon.brand(sp.text, fuzzy=False)) in {
                ln.brand for ln in lines
            }:  # the line's brand read as something else: "wrangler" as a garment in "wrangler cowboy cut"
                sp = sp.model_copy(update={"attribute": "brand", "value": brand})
            elif (sp.attribute == "brand" and sp.source == "tagger" and lines
                  and all(ln.brand for ln in lines) and self.lexicon.brand(sp.text, fuzzy=False) is None):
                # a word the tagger took for a second, unknown brand: the colourway "zebra" in "yeezy 350 zebra"
                continue
            elif (sp.attribute == "colour" and sp.source == "rules"
                  and self.taxonomy.roots([ln.category for ln in lines if ln.category]) & GARMENT_ROOTS):
                # a metal's name, or a colour word that names other things too, beside a line of clothes,
                # shoes or bags is its colour ("asics gel-1130 silver", "gel 1130 cream 8"), as beside a
                # garment word (qu.rules)
                sp = sp.model_copy(update={"confidence": max(sp.confidence, GARMENT_COLOUR)})
            out.append(sp)
        return out

    @staticmethod
    def _waist_leg(text: str, spans: list[Span]) -> list[Span]:
        """After a line of jeans or trousers, two bare numbers are the waist and the leg, whatever the
        tagger read of them ("30 32" whole, or "32" alone in "wrangler texas 34 32")."""
        m = waist_leg(text)
        over = [sp for sp in spans if m and sp.start < m.end and m.start < sp.end]
        if m is None or not all(sp.attribute in ("size", "style") and m.start <= sp.start and sp.end <= m.end
                                for sp in over):
            return spans
        size = Span(attribute="size", text=m.text, start=m.start, end=m.end, value=m.value, source="rules",
                    confidence=0.9)
        return sorted([*(sp for sp in spans if sp not in over), size], key=lambda sp: sp.start)

    _BARE_NUMBER = re.compile(r"(?<![\w.£$€/-])(\d{1,2}(?:\.5)?)(?![\w.%/-])")

    def _bare_size(self, text: str, spans: list[Span], lines: list[ProductLine]) -> list[Span]:
        """A bare number that ends a footwear, clothing or bag query, or follows a footwear or bag
        line, is its size when nothing else in the query is: "salomon xt6 black 42" (eu 42), "white
        nike af1 6" (6), "birkenstock arizona 39 black" (eu 39), "petite trousers 6", "fred perry
        polo 40", "lv speedy 25". Shoes: UK/US 1-15 keep no system, 35-48 are EU. Clothing: whole
        numbers 0-56 (UK, US and EU dress sizes, waists, chests), ending the query, kept as written,
        since the number alone does not say which system. Bags: 15-50, a width in cm. A number the
        tagger read as a style, colour, brand or department ("trousers 6" as style "6", "vans old
        skool 7" as a department "7") gives way; a department that took the number along ("mens 11",
        "7 girls") is cut short. Right after a garment only a colour may follow too ("hunter wellington
        boots 6 green"), and a brand that sells only shoes counts as footwear ("dr martens 6")."""
        # a fit is a range and a leg length half a size: "petite trousers 6", "mom jeans 10 l30"
        partial = [sp for sp in spans if sp.attribute == "size" and is_partial((sp.value or sp.text).lower())]
        # a word the tagger read as a size that no size grammar reads is what the garment is like ("long" in
        # "prom dress long red 6"): the number is the size
        worded = [sp for sp in spans if sp.attribute == "size" and sp.source == "tagger" and sp not in partial
                  and not re.search(r"\d", sp.text) and normalise_size(sp.text) is None]
        # a bare number the tagger read as the size is read again here, with what the query says of it: in
        # "birkenstock arizona soft footbed 38" it is an EU shoe size
        bare = [sp for sp in spans if sp.attribute == "size" and sp.source == "tagger"
                and re.fullmatch(r"\d{1,2}(?:\.5)?", sp.text)]
        if not any(ch.isdigit() for ch in text) or any(
                sp.attribute == "size" and sp not in partial and sp not in worded and sp not in bare for sp in spans):
            return spans
        roots = self._roots(spans, lines)
        # a brand that sells only shoes says what the number is: "dr martens 6", "birkenstock 38"
        shoe_brands = [sp for sp in spans if sp.attribute == "brand" and sp.value in self.lexicon.footwear_brands]
        if not roots & GARMENT_ROOTS:
            if not shoe_brands:
                return spans
            roots = frozenset({"shoes"})
        numbers = [
            m
            for m in self._BARE_NUMBER.finditer(text)
            if not any(ln.start < m.end() and m.start() < ln.end for ln in lines)  # "gel kayano 14"
            and not re.search(r"\b(?:of|pack|set|pairs?|x)\s*$", text[: m.start()], re.I)  # "pack of 2"
        ]
        # the number ends the query, or only a price, a leg length or a department follows it ("dress 10
        # under 20", "timberland boots 9 mens")
        may_follow = [sp for sp in spans if sp.attribute in ("price_min", "price_max")
                      or (sp.attribute == "gender" and not re.search(r"\d", sp.text))] + partial
        # right after a garment, colours may follow too: "hunter wellington boots 6 green", "dress 10 red"
        garment_ends = [sp.end for sp in spans if sp.attribute == "category"]
        garment_ends += [sp.end for sp in shoe_brands] + [ln.end for ln in lines]
        colours = [sp for sp in spans if sp.attribute == "colour" and not re.search(r"\d", sp.text)]

        def only_after(m: re.Match, spans_: list) -> bool:
            spans_ = spans_ + [sp for sp in spans if sp.attribute == "gender" and sp.start == m.start()]  # "7 girls"
            return not "".join(" " if any(p.start <= i < p.end for p in spans_) else ch
                               for i, ch in enumerate(text) if i >= m.end()).strip()

        ending = [
            m for m in numbers
            if only_after(m, may_follow)
            or (any(e <= m.start() and not text[e : m.start()].strip() for e in garment_ends)
                and only_after(m, may_follow + colours))
        ]
        after_line = [
            m for m in numbers if any(ln.end <= m.start() and not text[ln.end : m.start()].strip() for ln in lines)
        ]
        for m in ending + after_line:
            n, value = float(m.group(1)), None
            if "shoes" in roots:
                value = f"eu {m.group(1)}" if 35 <= n <= 48 else m.group(1) if 1 <= n <= 15 else None
            elif "clothing" in roots and n == int(n) and n <= 56 and m in ending:
                value = m.group(1)
            elif "bags" in roots and n == int(n) and 15 <= n <= 50:  # a bag's width in cm: "speedy 25"
                value = m.group(1)
            if not value:
                continue
            over = [sp for sp in spans if sp.start < m.end() and m.start() < sp.end]
            # the tagger's department sometimes takes the size along: "mens 11" is "mens" and 11, "7 girls"
            # is 7 and "girls"
            before = [sp for sp in over if sp.attribute == "gender" and sp.start < m.start()]
            after = [sp for sp in over if sp.attribute == "gender" and sp.start == m.start() and sp.end > m.end()]
            if all(
                (sp in bare or sp.attribute in ("style", "colour", "brand", "gender"))
                and (sp.start, sp.end) == m.span()
                for sp in over
                if sp not in before and sp not in after
            ):
                size = Span(attribute="size", text=m.group(1), start=m.start(), end=m.end(), value=value,
                            source="rules", confidence=0.9)
                kept = [sp.model_copy(update={"attribute": "style", "value": None}) if sp in worded else sp
                        for sp in spans if sp not in over] + [cut_before(sp, m.start()) for sp in before]
                kept += [cut_after(sp, m.end()) for sp in after]
                return sorted([*kept, size], key=lambda sp: sp.start)
        return spans

    def _pounds(self, spans: list[Span], lines: list[ProductLine]) -> list[Span]:
        """An amount in pounds read as a size (a weight: "25 pounds dumbbell") is the price in a query about
        clothes, shoes or bags: "dress 25 pounds"."""
        weights = [sp for sp in spans if sp.attribute == "size" and _POUNDS.fullmatch(sp.text)]
        if (not weights or not self._roots(spans, lines) & GARMENT_ROOTS
                or any(sp.attribute == "price_max" for sp in spans)):
            return spans
        return [sp.model_copy(update={"attribute": "price_max", "value": str(float(_POUNDS.fullmatch(sp.text)[1])),
                                      "confidence": 0.9}) if sp in weights else sp for sp in spans]

    def _roots(self, spans: list[Span], lines: list[ProductLine]) -> set[str]:
        """The taxonomy roots of what the query names, by its product lines and its garment spans."""
        cats = [ln.category for ln in lines]
        cats += [sp.value or self.taxonomy.normalise(sp.text) for sp in spans if sp.attribute == "category"]
        return self.taxonomy.roots(cats)

    def _is_known(self, attribute: str, text: str) -> bool:
        if attribute == "category":
            return self.taxonomy.normalise(text) is not None
        if attribute == "narrow category":  # a kind of thing ("socks", "bags"), not a department ("accessories")
            c = self.taxonomy.normalise(text)
            return c is not None and (len(self.taxonomy.path(c)) >= 2 or c in GARMENT_ROOTS - {"clothing"})
        if attribute == "brand":
            return self.lexicon.brand(text, fuzzy=False) is not None
        if attribute == "style":
            return key(text) in self.lexicon.style_alias
        if attribute == "gender":
            return self.canonical("gender", text) is not None
        if attribute == "size":
            return normalise_size(text) is not None
        if attribute == "condition":
            return key(text) in self.lexicon.condition_alias
        if attribute == "colour":
            return self.lexicon.colour(text) is not None
        return True

    # ---- building a ParsedQuery -----------------------------------------------------------------
    def canonical(self, attribute: str, text: str) -> str | None:
        """The canonical value of a phrase read as `attribute` (used for tagger and LLM spans)."""
        lex, k = self.lexicon, key(text)
        if not k:
            return None
        if attribute == "brand":
            return lex.brand(text) or k
        if attribute == "colour":
            return lex.colour(text) or self._last_word(attribute, k) or k
        if attribute == "category":
            return self.taxonomy.normalise(text) or self.taxonomy.misspelt(text, roots=True, shortest=4) or k
        spaced = k.replace("-", " ")  # "slim-fit", "brand-new": the lexicons list them spaced
        if attribute == "gender":
            g = lex.gender_alias.get(k) or lex.gender_alias.get(spaced) or self._last_word(attribute, k)
            return ("+".join(g) if isinstance(g, list) else g) if g else None
        if attribute == "size":
            return normalise_size(text) or k
        if attribute == "condition":
            return lex.condition_alias.get(k) or lex.condition_alias.get(spaced) or k
        if attribute == "style":
            return lex.style_alias.get(k) or lex.style_alias.get(spaced) or k
        return k

    @staticmethod
    def _size_conversions(sizes: list[str], path: list[str] | None, genders: list[str]) -> dict[str, dict]:
        """UK/EU/US equivalents of system sizes: the shoe table when the category is footwear, the
        dress rule for women's clothing; nothing when the category does not say which applies."""
        out: dict[str, dict] = {}
        for value in sizes:
            m = re.fullmatch(r"(uk|eu|us|jp|cm) (\d{1,2}(?:\.5)?)", value)
            if not m:
                continue
            system, num = m.group(1), float(m.group(2))
            gender = "men" if "men" in genders and "women" not in genders else "women"
            if path and path[0] == "shoes":
                conv = {
                    dst: convert_shoe_size(num, system, dst, gender)
                    for dst in ("uk", "eu", "us", "cm")
                    if dst != system
                }
                conv = {k: v for k, v in conv.items() if v is not None}
                if conv:
                    out[value] = {"kind": f"shoe ({gender})", **conv}
                    continue
            dress = system in ("uk", "eu", "us") and num == int(num)
            if path and path[0] == "clothing" and gender == "women" and dress:
                conv = {
                    dst: convert_dress_size(int(num), system, dst)
                    for dst in ("uk", "eu", "us")
                    if dst != system
                }
                conv = {k: v for k, v in conv.items() if v is not None}
                if conv:
                    out[value] = {"kind": "women's clothing", **conv}
        return out

    def _last_word(self, attribute: str, k: str) -> str | list[str] | None:
        for w in reversed(k.split()):
            if attribute == "colour" and self.lexicon.colour(w):
                return self.lexicon.colour(w)
            if attribute == "gender" and w in self.lexicon.gender_alias:
                return self.lexicon.gender_alias[w]
        return None

    def _build(
        self,
        query: str,
        spans: list[Span],
        truncated: bool = False,
        masked: str | None = None,
        lines: Sequence[ProductLine] = (),
    ) -> ParsedQuery:
        values: dict[str, list[str]] = {}
        conf: dict[str, float] = {}
        sources: dict[str, str] = {}
        fixed: list[Span] = []
        ages: list[Span] = []  # a child's age, read as the department ("age 13-14 years") or the size
        price_min = price_max = None
        # a brand the tagger read in a query about something to wear, who it is for or its wear may be a known one
        # misspelt ("gnni dress", "levs jacket", "conveerse for men"); elsewhere a name a slip away from a fashion
        # brand is mostly another brand ("bose speaker", "asus laptop")
        worn = (bool(self._roots(spans, list(lines)) & (GARMENT_ROOTS | {"accessories"}))
                or any(sp.attribute in ("gender", "condition") and sp.source == "rules" for sp in spans))
        for sp in spans:
            if sp.attribute in ("price_min", "price_max"):
                v = float(sp.value) if sp.value is not None else None
                if sp.attribute == "price_min":
                    price_min = v
                else:
                    price_max = v
                fixed.append(sp)
                conf[sp.attribute], sources[sp.attribute] = sp.confidence, sp.source
                continue
            value = sp.value if sp.value is not None else self.canonical(sp.attribute, sp.text)
            if worn and sp.attribute == "brand" and sp.value is None and value == key(sp.text):
                value = self.lexicon.near_brand(sp.text) or value
            if value is None:
                # a span with no canonical value (a department such as "family") still explains its words
                fixed.append(sp)
                if sp.attribute == "gender" and _AGE.fullmatch(normalise_size(sp.text) or ""):
                    ages.append(sp)
                continue
            sp = sp if sp.value is not None else sp.model_copy(update={"value": value})
            fixed.append(sp)
            if sp.attribute == "gender" and (age := _age_in(sp.text)):  # "baby girl 0-3 months"
                ages.append(sp.model_copy(update={"text": age}))
            for v in value.split("+") if sp.attribute in ("gender", "colour") else [value]:  # "white+green"
                if v not in values.setdefault(sp.attribute, []):
                    values[sp.attribute].append(v)
            if sp.attribute == "size" and _AGE.fullmatch(value):  # "joggers age 7-8", "3-6m baby grow"
                ages.append(sp)
            if sp.confidence >= conf.get(sp.attribute, -1.0):
                conf[sp.attribute], sources[sp.attribute] = sp.confidence, sp.source
        # a department that names one gender narrows one that names both ("newborn baby girl", "kids
        # girls dress"): the shopper wants girls' things
        named = {sp.value for sp in fixed if sp.attribute == "gender" and sp.value and "+" not in sp.value
                 and sp.value != "unisex"}  # "unisex baby clothes" are still babies' clothes
        if named and "gender" in values:
            values["gender"] = [v for v in values["gender"] if v in named or v == "unisex"]
        if ages and "gender" not in values:  # and no other department: children's
            values["gender"] = ["boys", "girls"]
            conf["gender"], sources["gender"] = ages[0].confidence, ages[0].source
        # the first age read as a department is the size too, where none is read ("baby boy bundle 0-3 months")
        age_size = next((a for a in ages if a.attribute == "gender"), None)
        if age_size is not None and "size" not in values:
            values["size"] = [normalise_size(age_size.text)]
            conf["size"], sources["size"] = age_size.confidence, age_size.source
        extra: dict[str, object] = {}
        # a product line's brand and category, where the query names neither; of two lines, the last
        # is the thing named ("ugg mini tasman" is a Tasman)
        for ln in reversed(lines):
            for attr, v in (("brand", ln.brand), ("category", ln.category)):
                if v is not None and attr not in values:
                    values[attr] = [v]
                    conf[attr], sources[attr] = IMPLIED_CONFIDENCE, "rules"
        if lines:
            extra["product_lines"] = [ln.as_dict() for ln in lines]
        cats = [c for c in values.get("category", []) if c in self.taxonomy.parents]
        if cats:
            extra["category_path"] = list(self.taxonomy.path(cats[0]))
        conversions = self._size_conversions(
            values.get("size", []), extra.get("category_path"), values.get("gender", [])
        )
        if conversions:
            extra["size_conversions"] = conversions
        if truncated:
            extra["truncated_to"] = self.max_chars
        text = masked if masked is not None else query[: self.max_chars]
        covered = [False] * len(text)
        for sp in fixed:
            start, end = sp.start, min(sp.end, len(text))
            if sp.attribute == "size":  # "size" and the system beside a size are part of it: "dress size uk 8"
                while m := _SIZE_WORD_BEFORE.search(text[:start]):
                    start = m.start()
                while m := _SIZE_WORD_AFTER.match(text[end:]):
                    end += m.end()
            for i in range(start, end):
                covered[i] = True
        ordered = sorted(fixed, key=lambda sp: sp.start)
        for a, b in zip(ordered, ordered[1:], strict=False):  # "size 8 or 10", "dress or skirt": the "or" joins them
            if a.attribute == b.attribute and _JOINT.fullmatch(text[a.end : b.start]):
                covered[a.end : b.start] = [True] * (b.start - a.end)
        kept = "".join(" " if c else ch for ch, c in zip(text, covered, strict=True))
        residual = " ".join(w for w in kept.split() if any(ch.isalnum() for ch in w))  # no lone "/" or "-"
        fields = {a: (v[0] if len(v) == 1 else list(v)) for a, v in values.items()}
        return ParsedQuery(
            query=query,
            **fields,
            price_min=price_min,
            price_max=price_max,
            spans=fixed,
            residual=residual,
            confidence=conf,
            sources=sources,
            extra=extra,
        )


def build_extractor(settings: Settings | None = None, tagger_path: Path | None = None) -> QUExtractor:
    """Load lexicons, rules and the trained tagger once; add the LLM layer when settings name a backend."""
    from preloved.settings import get_settings
    from qu.onnx_tagger import DEFAULT_ONNX_PATH
    from qu.tagger import DEFAULT_TAGGER_PATH, Tagger, TaggerEnsemble

    settings = settings or get_settings()
    kind = getattr(settings, "qu_tagger", "spacy")
    if kind not in TAGGER_KINDS:
        raise ValueError(f"unknown tagger {kind!r}; choose from {', '.join(TAGGER_KINDS)}")
    minilm_path = Path(getattr(settings, "qu_minilm_path", None) or DEFAULT_ONNX_PATH)
    if kind == "auto":
        kind = "minilm" if (minilm_path / "model.int8.onnx").exists() else "spacy"
    tagger: object
    if kind in ("spacy", "ensemble"):
        tagger = Tagger(tagger_path or getattr(settings, "qu_tagger_path", None) or DEFAULT_TAGGER_PATH)
    if kind in ("minilm", "ensemble"):
        from qu.onnx_tagger import OnnxTagger

        minilm = OnnxTagger(minilm_path)
        tagger = (
            minilm
            if kind == "minilm"
            else TaggerEnsemble(
                {"spacy": tagger, "minilm": minilm}, ENSEMBLE_PICK, "spacy", ENSEMBLE_PRIORITY
            )
        )
    logger.info("qu tagger: %s", kind)
    ext = QUExtractor(rules=RuleMatcher.load(), tagger=tagger, max_chars=settings.max_query_chars)
    ext.tagger_kind = kind
    if settings.llm_backend:
        from qu.llm import LLMLayer

        ext.llm = LLMLayer.from_settings(settings)
    return ext
