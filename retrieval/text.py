"""Text handling shared by the retrievers: tokenising, stop words, value normalisation."""

from __future__ import annotations

import re
import unicodedata

from retrieval.types import Listing

# Bumped whenever tokenize/lexical_text/dense_text change: an index built with another version
# must be rebuilt (Index.load says so).
TEXT_VERSION = 3

_TOKEN = re.compile(r"[a-z0-9]+")
_APOS = re.compile(r"['\u2019]s\b")

# A short English list: function words that carry no product meaning. Words a shopper uses to
# mean something ("men", "new", "top", "with" in "shirt with collar"...) are kept on purpose.
STOP_WORDS = frozenset(
    """a an the and or of for to in on at by from is are be it its this that as into
    i me my we our you your he she they them his her their""".split()
)


def fold(text: str) -> str:
    """Lowercase, strip accents, turn "levi's" into "levis"."""
    text = unicodedata.normalize("NFKD", text)
    text = "".join(c for c in text if not unicodedata.combining(c)).lower()
    return _APOS.sub("s", text)


def stem(token: str) -> str:
    """A light plural fold: "jeans" -> "jean", "boots" -> "boot", "dresses" -> "dress", "watches" -> "watch",
    "boxes" -> "box"; "dress" stays.

    Applied the same way to listings and queries, so "boot" finds "boots". Chosen on ESCI dev:
    +0.04 NDCG@10 for BM25 over no stemming; a fuller S-stemmer did no better. The "-es" after s, ch, sh
    and x (session 31; it had folded "dresses" to "dresse", which no "dress" matched): dev bm25 +0.26,
    hybrid +0.20, rerank +0.19 points (three queries: "sun dresses", "sunglasses", "patches").
    """
    if len(token) > 4 and token.endswith(("sses", "ches", "shes", "xes")):
        return token[:-2]
    if len(token) > 3 and token.endswith("s") and not token.endswith("ss"):
        return token[:-1]
    return token


def tokenize(text: str, *, stop_words: frozenset[str] = STOP_WORDS) -> list[str]:
    """BM25 terms of `text`: folded alphanumeric tokens, stop words removed, plurals folded."""
    return [stem(t) for t in _TOKEN.findall(fold(text)) if t not in stop_words]


def lexical_text(listing: Listing) -> str:
    """What BM25 indexes: the title, brand and colour when the title does not already say them,
    and the description (on ESCI dev the description adds +0.03 NDCG@10 to BM25)."""
    parts = [listing.title]
    low = fold(listing.title)
    for extra in (listing.brand, listing.colour):
        if extra and fold(extra) not in low:
            parts.append(extra)
    if listing.description:
        parts.append(listing.description)
    return " ".join(parts)


def dense_text(listing: Listing) -> str:
    """What the bi-encoder embeds: the title, the brand in front when the title lacks it, then the
    description (cut at the embedder's 128 tokens; +0.034 dense NDCG@10 on ESCI dev)."""
    text = listing.title
    if listing.brand and fold(listing.brand) not in fold(listing.title):
        text = f"{listing.brand} {text}"
    if listing.description:
        text = f"{text}. {listing.description}"
    return text
