"""How much what qu reads depends on how the shopper typed: the same query written another way, and brands
misspelt by one slip of the keys.

    HF_HUB_OFFLINE=1 .venv/bin/python bench/qu_robustness.py [--out bench/results/qu_robustness.json]

Queries: the QueryNER fashion train and dev queries and the shopper phrasings of the test suite
(tests/qu/shopper_queries.jsonl); test is not read.

- **Written another way:** each query in capitals, in title case, with its spaces doubled, with "!!" or "?"
  after it, with a comma after the first value it reads ("black dress size 10" as "black, dress size 10"; not
  inside a name: "coat, rack" is two things), with typographic apostrophes, and with the space before a
  garment missed where a colour, department or brand comes before it ("blackdress", "mensjeans"). A query
  "changes" when any of its nine attribute values differs from the plain query's. Lower is better; 0 is the
  goal.
- **One slip in a brand:** each query whose reading holds exactly one brand the lexicon lists, with its
  longest word (5 letters or more) misspelt once: a letter dropped, doubled, two swapped, or one changed to
  a neighbour on the keyboard's row, at a place drawn from the seed and the query. "Recovered" means the
  misspelt query reads the same brand.
- **One slip in a garment, a colour or a department:** the same for each query whose reading holds exactly
  one garment (colour, department), read from one word of 4 letters or more ("dress", "hoodie"; "black",
  "navy"; "womens", "girls"). "Recovered" means the same value.

Prints a table and writes JSON.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import random
import sys
import time
from collections.abc import Callable
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

def _comma_after_first_value(q: str, spans: list) -> str:
    ends = sorted(s.end for s in spans)
    return next((q[:e] + "," + q[e:] for e in ends if q[e : e + 1] == " " and q[e:].strip()), q)


def _space_missed(q: str, spans: list) -> str:
    """The space before the first one-word garment dropped where the word before it is read as a colour, a
    department or a brand ("black dress" -> "blackdress", "mens jeans" -> "mensjeans"); else q."""
    for g in sorted((s for s in spans if s.attribute == "category" and " " not in s.text), key=lambda s: s.start):
        if any(s.end == g.start - 1 and s.attribute in ("colour", "gender", "brand") and " " not in s.text
               for s in spans) and q[g.start - 1] == " ":
            return q[: g.start - 1] + q[g.start :]
    return q


# each takes the query and the spans of its plain reading
WRITTEN: dict[str, Callable[[str, list], str]] = {
    "capitals": lambda q, _: q.upper(),
    "title case": lambda q, _: q.title(),
    "spaces doubled": lambda q, _: q.replace(" ", "  "),
    "'!!' after": lambda q, _: q + "!!",
    "'?' after": lambda q, _: q + "?",
    "comma after the first value": _comma_after_first_value,
    "typographic apostrophes": lambda q, _: q.replace("'", "\u2019"),
    "a space missed before a garment": _space_missed,
}
SLIPS = ("dropped", "doubled", "swapped", "neighbour key")
_ROWS = "qwertyuiop asdfghjkl zxcvbnm".split()


def queries() -> list[str]:
    out = []
    for name in ("fashion_train", "fashion_dev"):
        with open(ROOT / "data" / "queryner" / f"{name}.jsonl", encoding="utf-8") as f:
            out += [json.loads(line)["query"] for line in f]
    with open(ROOT / "tests" / "qu" / "shopper_queries.jsonl", encoding="utf-8") as f:
        out += [json.loads(line)["query"] for line in f]
    return list(dict.fromkeys(out))


def slip(word: str, kind: str, seed: str) -> str:
    """`word` with one slip of `kind` at a place drawn from `seed` (the same for a query whatever else is measured)."""
    rng = random.Random(f"{seed}:{word}:{kind}")
    i = rng.randrange(1, len(word) - 1)
    if kind == "dropped":
        return word[:i] + word[i + 1 :]
    if kind == "doubled":
        return word[:i] + word[i] + word[i:]
    if kind == "swapped":
        return word[:i] + word[i + 1] + word[i] + word[i + 2 :]
    row = next((r for r in _ROWS if word[i] in r), None)
    if row is None:
        return word
    j = row.index(word[i])
    return word[:i] + rng.choice([row[k] for k in (j - 1, j + 1) if 0 <= k < len(row)]) + word[i + 1 :]


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--out", type=Path, default=ROOT / "bench" / "results" / "qu_robustness.json")
    ap.add_argument("--seed", type=int, default=7)
    args = ap.parse_args(argv)

    from tqdm import tqdm

    from preloved.settings import get_settings
    from qu import load_extractor
    from qu.lexicon import get_lexicon
    from qu.types import ATTRIBUTES

    ex = load_extractor(get_settings())
    known = set(get_lexicon().brand_alias.values())
    qs = queries()
    t0 = time.perf_counter()

    def reading(p) -> tuple:
        return tuple(json.dumps(getattr(p, a)) for a in ATTRIBUTES)

    parsed = {q: ex.parse(q) for q in tqdm(qs, desc="plain", unit="q")}  # each plain reading, once
    plain = {q: reading(p) for q, p in parsed.items()}
    written = {}
    for name, how in WRITTEN.items():
        other = {q: how(q, parsed[q].spans) for q in qs}
        changed = [q for q in tqdm(qs, desc=name, unit="q")
                   if other[q] != q and reading(ex.parse(other[q])) != plain[q]]
        tried = sum(other[q] != q for q in qs)
        written[name] = {"tried": tried, "changed": len(changed), "share": len(changed) / max(tried, 1),
                         "examples": changed[:10]}

    def word_slips(attribute: str, shortest: int = 4, one_word: bool = True, wanted=lambda value: True) -> dict:
        """Each query whose reading holds one span of `attribute` and one value (`wanted`), with the span's
        longest word (the span itself where `one_word`) misspelt once, if it is `shortest` letters or more."""
        out = {k: {"tried": 0, "recovered": 0, "missed": []} for k in SLIPS}
        for q in tqdm(qs, desc=attribute, unit="q"):
            p = parsed[q]
            spans = [s for s in p.spans if s.attribute == attribute]
            value = getattr(p, attribute)
            if len(spans) != 1 or not isinstance(value, str) or not wanted(value):
                continue
            sp = spans[0]
            words = sp.text.split()
            i = max(range(len(words)), key=lambda j: len(words[j]))
            if (one_word and len(words) != 1) or len(words[i]) < shortest or not words[i].isalpha():
                continue
            for kind in SLIPS:
                new = " ".join([*words[:i], slip(words[i].lower(), kind, f"{args.seed}:{q}"), *words[i + 1 :]])
                text = q[: sp.start] + new + q[sp.end :]
                got = getattr(ex.parse(text), attribute)
                out[kind]["tried"] += 1
                if got == value:
                    out[kind]["recovered"] += 1
                elif len(out[kind]["missed"]) < 10:
                    out[kind]["missed"].append([text, value, got])
        return out

    # a brand: one the lexicon lists, its longest word of 5 letters or more ("north face" -> "nroth face")
    slips = word_slips("brand", shortest=5, one_word=False, wanted=lambda value: value in known)
    garments, colours, departments = word_slips("category"), word_slips("colour"), word_slips("gender")
    for s in [*slips.values(), *garments.values(), *colours.values(), *departments.values()]:
        s["share"] = s["recovered"] / max(s["tried"], 1)

    print(f"\n{len(qs)} queries (QueryNER fashion train + dev, the shopper suite)\n")
    print(f"{'written another way':32} {'tried':>6} {'changed':>8} {'share':>7}")
    for name, r in written.items():
        print(f"{name:32} {r['tried']:6d} {r['changed']:8d} {r['share']:7.1%}")
    for what, table in (("listed brand", slips), ("garment", garments), ("colour", colours),
                        ("department", departments)):
        print(f"\n{'one slip in a ' + what:32} {'tried':>6} {'recovered':>9} {'share':>7}")
        for kind, r in table.items():
            print(f"{kind:32} {r['tried']:6d} {r['recovered']:9d} {r['share']:7.1%}")
    result = {
        "queries": len(qs),
        "written": written,
        "slips": slips,
        "garment slips": garments,
        "colour slips": colours,
        "department slips": departments,
        "seed": args.seed,
        "seconds": round(time.perf_counter() - t0, 1),
        "machine": {"cpu": platform.processor() or platform.machine(), "cores": os.cpu_count(),
                    "python": platform.python_version()},
    }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=1, ensure_ascii=False) + "\n", encoding="utf-8")
    print(f"\nwrote {args.out.relative_to(ROOT) if args.out.is_relative_to(ROOT) else args.out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
