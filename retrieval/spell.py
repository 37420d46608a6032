"""A query's words that no listing has, written as the catalogue's word one slip away ("jewerly" -> "jewelry",
"trouesrs" -> "trousers"): what a shopper meant, read from what the catalogue says."""

from __future__ import annotations

from collections.abc import Callable

from retrieval.text import _TOKEN, STOP_WORDS, fold, stem

# shorter words have too many neighbours one slip away: with 4-letter words ESCI train read 3 more queries
# otherwise, none toward what was meant ("liss" as "lists", "hado labo" as "labor"; session 31)
SHORTEST = 5
_ROWS = ("qwertyuiop", "asdfghjkl", "zxcvbnm")
_LETTERS = "".join(sorted("".join(_ROWS)))
# the keys around each key: beside it, and above and below it as the rows are staggered
_NEAR = {c: "".join(_ROWS[r2][j2] for r2, j2 in ((r, j - 1), (r, j + 1), (r - 1, j), (r - 1, j + 1),
                                                  (r + 1, j - 1), (r + 1, j))
                    if 0 <= r2 < 3 and 0 <= j2 < len(_ROWS[r2]))
         for r, row in enumerate(_ROWS) for j, c in enumerate(row)}


def one_slip(word: str) -> set[str]:
    """The words `word` may be one slip of the keys away from, its first letter kept: a letter dropped or
    doubled, two swapped, or one struck for a key beside it ("jewerly" from "jewelry", "trousrs" from
    "trousers", "jsans" from "jeans")."""
    head, rest = word[:1], word[1:]
    cuts = [(rest[:i], rest[i:]) for i in range(len(rest) + 1)]
    return {head + w for w in (
        {a + b[1:] for a, b in cuts if b}
        | {a + b[1] + b[0] + b[2:] for a, b in cuts if len(b) > 1}
        | {a + c + b[1:] for a, b in cuts if b for c in _NEAR.get(b[0], "")}
        | {a + c + b for a, b in cuts for c in _LETTERS})} - {word}


def respell(text: str, commonness: Callable[[str], float], is_word: Callable[[str], bool]) -> str | None:
    """`text` (folded) with each word of letters only, `SHORTEST` letters or more, that no listing has
    (`commonness` of its BM25 term is 0), is not a word people write (`is_word`), replaced by the word
    people write one slip away (`one_slip`): one the typed word lacks a letter of, if any ("handlrs" is
    "handlers" before "handles": a dropped letter is read first, the shopper's letters kept), then the one whose
    term the most listings have; None where no word changed.
    `commonness(term)`: how many listings have the term, or any number that orders terms alike, 0 for none;
    `is_word(word)`: whether people write the word (a dictionary holds it)."""
    out, changed = [], False
    for w in _TOKEN.findall(fold(text)):
        if len(w) >= SHORTEST and w.isalpha() and w not in STOP_WORDS and not is_word(w) \
                and not commonness(stem(w)):
            scored = [(len(c) > len(w), n, c) for c in sorted(one_slip(w)) if (n := commonness(stem(c))) and is_word(c)]
            if scored:  # the first in sorted order of the best
                w, changed = max(scored, key=lambda s: s[:2])[2], True
        out.append(w)
    return " ".join(out) if changed else None
