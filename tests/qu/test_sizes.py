import re

import pytest

import qu.sizes
from qu.sizes import (
    _NEEDS_DIGIT,
    _PATTERNS,
    _needs_digit,
    convert_dress_size,
    convert_shoe_size,
    find_sizes,
    normalise_size,
)


@pytest.mark.parametrize(
    "query,text,value,system",
    [
        ("vintage levis 501 w32 l30 light wash", "w32 l30", "w32 l30", "waist"),
        ("jeans 32x30", "32x30", "w32 l30", "waist"),
        ("tommy hilfiger jeans 30/32", "30/32", "w30 l32", "waist"),
        ("uk 8 dress", "uk 8", "uk 8", "uk"),
        ("adidas samba 38 2/3", "38 2/3", "eu 38 2/3", "eu"),  # adidas makes EU sizes in thirds
        ("toddler 9 crocs", "9", "9", "department"),  # the number after a children's department
        ("sz. 8 jeans", "sz. 8", "8", "numeric"),
        ("junior size 3 football boots", "3", "3", "department"),
        ("gazelle eu 42 1/3 white", "eu 42 1/3", "eu 42 1/3", "eu"),
        ("boots eu 38", "eu 38", "eu 38", "eu"),
        ("us 10 shoes", "us 10", "us 10", "us"),
        ("top xs", "xs", "xs", "letter"),
        ("x small dress", "x small", "xs", "letter"),  # not "small"
        ("xx large tshirt", "xx large", "xxl", "letter"),
        ("baby grow 9-12 mths", "9-12 mths", "9-12 months", "age"),
        ("hat one size", "one size", "one size", "one size"),
        ("size 8 heels", "size 8", "8", "numeric"),
        ("girls dress 3t", "3t", "age 3", "age"),
        ("kids coat 2-3 years", "2-3 years", "age 2-3", "age"),
        ("joggers age 7-8", "age 7-8", "age 7-8", "age"),
        ("38mm watch", "38mm", "38 mm", "measure"),
        ("plus size jeans", "plus size", "plus size", "fit"),
        ("XXL hoodie", "XXL", "xxl", "letter"),
        ("mens shirt 15.5 collar", "15.5 collar", "collar 15.5", "collar"),
        ("shirt collar 16", "collar 16", "collar 16", "collar"),
        ("wrangler jeans 28 waist", "28 waist", "w28", "waist"),
        ("chinos 32in waist 30 leg", "32in waist 30 leg", "w32 l30", "waist"),
        ("cords waist 34 length 32", "waist 34 length 32", "w34 l32", "waist"),
        ("jordan 4 toddler 8c", "8c", "8c", "us kids"),
        ("boys blazer 32 chest", "32 chest", "chest 32", "chest"),
        ("suit jacket chest 40", "chest 40", "chest 40", "chest"),
        ("nike dunk low gs 5.5Y", "5.5Y", "5.5y", "us kids"),
        ("oxford shirt 16.5 neck", "16.5 neck", "collar 16.5", "collar"),
        ("bootcut jeans 34L", "34L", "l34", "length"),
        ("chinos l32", "l32", "l32", "length"),
        ("mens jeans 34 leg", "34 leg", "l34", "leg"),
        ("prom suit 40r", "40r", "40r", "suit"),
        ("dress size: m", "size: m", "m", "letter"),
        # "size" as European marketplaces write it
        ("robe taille 38", "taille 38", "38", "numeric"),
        ("vestido talla m", "talla m", "m", "letter"),
        ("kleid größe 40", "größe 40", "40", "numeric"),
        ("navy blazer 38 s", "38 s", "38s", "suit"),
        ("jeans 32in inside leg", "32in inside leg", "l32", "leg"),
        ("chinos inside leg 30", "inside leg 30", "l30", "leg"),
        ("jeans 28 short", "28 short", "28 short", "leg fit"),
        ("uk size 8 dress", "uk size 8", "uk 8", "uk"),
        ("us womens 8 shoes", "8", "us 8", "us"),  # the department between stays a word of its own
        ("hat osfm", "osfm", "one size", "one size"),
        ("new era cap 7 1/4", "7 1/4", "7 1/4", "hat"),  # a fitted cap's size, only beside a hat word
        ("trousers 14 Reg", "14 Reg", "14 regular", "leg fit"),
        # half sizes written out, as US shoppers do
        ("size 8 1/2 womens", "size 8 1/2", "8.5", "numeric"),
        ("size 7 and a half trainers", "size 7 and a half", "7.5", "numeric"),
        ("nike uk 9 1/2", "uk 9 1/2", "uk 9.5", "uk"),
        ("kids shoes size 13 1/2", "size 13 1/2", "13.5", "numeric"),  # not the kids' age "1-2"
        ("5 1/2 inch heels", "5 1/2 inch", "5.5 inch", "measure"),
        ("tights 40 denier black", "40 denier", "40 denier", "measure"),  # a thickness, not a size 40
        # a bra's band and cup, beside a bra or swimwear word
        ("bralette 36b", "36b", "36b", "bra"),
        ("strapless bra 30FF", "30FF", "30ff", "bra"),
        ("bikini top 32 c", "32 c", "32c", "bra"),
        ("38 ddd push up bras", "38 ddd", "38ddd", "bra"),
        # a US kids' shoe size with its letter in front, in a query about children
        ("kids trainers c10", "c10", "10c", "us kids"),
        ("toddler crocs C8", "C8", "8c", "us kids"),
        ("crocs j2 pink", "j2", "2y", "us kids"),  # Crocs' junior sizes are youth sizes
        # by the grade, as sneaker shops write it (not "ps4")
        ("jordan 1 gs 6.5", "gs 6.5", "6.5y", "us kids"),
        ("jordan 4 ps 13", "ps 13", "13c", "us kids"),
        ("jordan 1 ps 2", "ps 2", "2y", "us kids"),
        ("dunk low td 8", "td 8", "8c", "us kids"),
        ("air force 1 5.5y gs", "5.5y gs", "5.5y", "us kids"),
        ("barbour beaufort c40", "c40", "chest 40", "chest"),  # Barbour's chest, in a query about its jackets
        # a child's height in cm (European sizes) is the age it fits, in a query about children
        ("kids 128 jacket", "128", "age 7-8", "age"),
        ('jeans 32"', '32"', "w32", "waist"),  # inches alone, in a query about trousers, are the waist
        ("tv 32 inch", "32 inch", "32 inch", "measure"),
        ("baby grow 62", "62", "2-4 months", "age"),
        ("girls dress 116cm", "116cm", "age 5-6", "age"),
        # a garment's width armpit to armpit, and the leg as an inseam
        ("barbour jacket pit to pit 22", "pit to pit 22", "p2p 22", "chest"),
        ("jumper p2p 21.5 inches", "p2p 21.5 inches", "p2p 21.5", "chest"),
        ("ptp 56cm", "ptp 56cm", "p2p 56cm", "chest"),
        ("levis 501 inseam 30", "inseam 30", "l30", "leg"),
        ("jeans 30 inch inseam", "30 inch inseam", "l30", "leg"),
        ("jeans waist 30 inches leg 32", "waist 30 inches leg 32", "w30 l32", "waist"),
        ("wrangler 32 waist 30 inseam", "32 waist 30 inseam", "w32 l30", "waist"),
        # a unisex shoe's two sizes in words, either first: the men's names it
        ("converse womens 8 mens 6.5", "womens 8 mens 6.5", "us 6.5", "us"),
        ("vans w8 m6.5", "w8 m6.5", "us 6.5", "us"),
        ("crocs men's size 7 women's size 9", "men's size 7 women's size 9", "us 7", "us"),
        # a UK ring size, beside a ring word
        ("ring size n", "size n", "n", "ring"),
        ("gold ring size P 1/2", "size P 1/2", "p 1/2", "ring"),
        # the leg after a leg fit is part of it
        ("trousers 12 long leg", "12 long leg", "12 long", "leg fit"),
    ],
)
def test_size_grammar(query, text, value, system):
    found = find_sizes(query)
    assert [(m.text, m.value, m.system) for m in found] == [(text, value, system)]
    m = found[0]
    assert query[m.start : m.end] == m.text


@pytest.mark.parametrize(
    "query", ["levis 501", "dr martens 1460", "nike air max 90", "iphone 12", "28 waist trainer for women", "v neck 14",
              "85w power adapter", "crocs w10", "dress 10 long",
              "all sizes",  # a waist is 22-48; a leg fit needs trousers; "sizes" is no "size s"
              "boys 3 pack boxers", "kids 2 in 1 scooter", "toddler 3 wheel bike",  # counts, not sizes
              "30a fuse", "tights 40d", "36c battery",  # a cup needs a bra or swimwear word
              "c4 vitamin", "nike c10", "j2 visa",  # a letter in front needs children (or Crocs, for a "j")
              "ring sizer",
              "ps4 controller", "ps 4 games", "td 8 bank",  # a grade needs trainers in the query
              "volvo c40", "kids tablet 128gb", "128 jacket"]  # a height needs children in the query
)
def test_model_numbers_are_not_sizes(query):
    assert find_sizes(query) == []


@pytest.mark.parametrize(
    "query,sizes",
    [
        ("champion hoodie s/m", [("s", "s"), ("m", "m")]),
        ("top XS / S", [("XS", "xs"), ("S", "s")]),
        ("l/xl tee", [("l", "l"), ("xl", "xl")]),
        ("s or m hoodie", [("s", "s"), ("m", "m")]),
    ],
)
def test_a_letter_pair_is_two_sizes(query, sizes):
    found = find_sizes(query)
    assert [(m.text, m.value) for m in found] == sizes
    assert all(query[m.start : m.end] == m.text and m.system == "letter pair" for m in found)


@pytest.mark.parametrize(
    "query,sizes",
    [
        ("jumper 8-10", [("8", "8", "numeric pair"), ("10", "10", "numeric pair")]),  # UK dress sizes
        ("black leggings uk 8-10", [("uk 8", "uk 8", "uk"), ("10", "uk 10", "uk")]),
        ("uk 6 or 7 trainers", [("uk 6", "uk 6", "uk"), ("7", "uk 7", "uk")]),
        ("age 9-10 or 10-11", [("age 9-10", "age 9-10", "age"), ("10-11", "age 10-11", "age")]),  # not a price
        ("eu 38/40 dress", [("eu 38", "eu 38", "eu"), ("40", "eu 40", "eu")]),
        ("dress size 10-12 uk", [("size 10", "uk 10", "uk"), ("12 uk", "uk 12", "uk")]),  # the system after
        ("gap hoodie kids 10-12", [("10-12", "age 10-12", "age")]),  # with children: an age
        ("boys joggers 7-8", [("7-8", "age 7-8", "age")]),
        ("school pinafore 6-7", [("6-7", "age 6-7", "age")]),  # school clothes are children's
        ("baby grow 3-6", [("3-6", "3-6 months", "age")]),  # babies' clothes: months
        ("infant coat 12-18", [("12-18", "12-18 months", "age")]),
        ("baby pink dress 6-8", [("6", "6", "numeric pair"), ("8", "8", "numeric pair")]),  # not for babies
        ("old school vans 6-8", [("6", "6", "numeric pair"), ("8", "8", "numeric pair")]),  # "old school" is not
        ("y2k baby tee 8-10", [("8", "8", "numeric pair"), ("10", "10", "numeric pair")]),  # not a child's
        ("asics jp 26", [("jp 26", "jp 26", "jp")]),
        ("nike cm 27", [("cm 27", "cm 27", "cm")]),
        ("sandals 38 EU womens", [("38 EU", "eu 38", "eu")]),  # the system after the number
        ("jacket 48 it", [("48 it", "it 48", "it")]),  # Italian and French sizes too, in their range
        ("dress 38 FR", [("38 FR", "fr 38", "fr")]),
        ("take 5 it", []),
        ("trainers 10 uk", [("10 uk", "uk 10", "uk")]),
        ("10 us dollars", []),
        ("2-3 person tent", []),  # neither a dress pair nor a kids' age
        ("20-40 dress", []),  # a price (qu.rules)
        ("table clock 6-8 inch", [("6-8 inch", "6-8 inch", "measure")]),
        ("crocs clog m9 w11", [("m9 w11", "us 9", "us")]),  # a unisex shoe: its men's US size
        ("converse M7.5/W9.5", [("M7.5/W9.5", "us 7.5", "us")]),
        ("m9 w20", []),  # women's sizes run 1.5-2 above men's: not a unisex shoe size
        ("levis 501 32 34l", [("32 34l", "w32 l34", "waist")]),  # a waist, then a leg with its "l"
        ("dress shirt 16 34/35", [("16 34/35", "collar 16", "collar")]),  # a US shirt's neck, then its sleeve
        ("jeans 16 32/34", [("32/34", "w32 l34", "waist")]),  # not about shirts: the waist and leg
        ("osprey backpack 36l", [("36l", "36 l", "measure")]),  # alone: a pack's volume
        ("jeans 30 32", [("30 32", "w30 l32", "waist")]),  # about trousers: a waist, then a leg
        ("mens trousers 34 30 black", [("34 30", "w34 l30", "waist")]),
        ("tee 30 32", []),  # not about trousers: no waist
        ("jeans 30 32/34", [("32/34", "w32 l34", "waist")]),  # a number before a pair is not its waist
    ],
)
def test_pairs_and_shoe_systems(query, sizes):
    found = find_sizes(query)
    assert [(m.text, m.value, m.system) for m in found] == sizes
    assert all(query[m.start : m.end] == m.text for m in found)


def test_conversions():
    assert convert_shoe_size(8, "uk", "eu", "men") == 41.5
    assert convert_shoe_size(8, "uk", "us", "men") == 8.5
    assert convert_shoe_size(5, "uk", "us", "women") == 7
    assert convert_shoe_size(99, "uk", "eu", "men") is None
    assert convert_dress_size(8, "uk", "eu") == 36
    assert convert_dress_size(8, "uk", "us") == 4
    assert normalise_size("UK8") == "uk 8"
    with pytest.raises(ValueError, match="unknown"):
        convert_dress_size(8, "uk", "mars")


def test_a_leg_length_alone_needs_trousers_in_the_query():
    assert [(m.value, m.system) for m in find_sizes("hiking rucksack 34l")] == [("34 l", "measure")]


@pytest.mark.parametrize(
    "text,value",
    [("12 petite", "12 petite"), ("petite 12", "12 petite"), ("14 tall", "14 tall"), ("petite", "petite"),
     ("uk 12 petite", "uk 12"), ("1.5 tall", "tall"), ("size 6 petite", "6 petite"),
     # a leg length right after a number: a dress size below 24, the waist from 24
     ("10 l30", "10 l30"), ("32 l30", "w32 l30"), ("l30", None), ("rucksack 34l", "34 l")],
)
def test_a_bare_number_beside_a_fit_or_a_leg_length_completes_it(text, value):
    assert normalise_size(text) == value


@pytest.mark.parametrize("text,value", [("8 1/2", "8.5"), ("9 and a half", "9.5"), ("8", None), ("1/2", None)])
def test_a_bare_half_size_reads_as_a_decimal(text, value):
    """The tagger reads "womens boots 8 1/2" with a bare size; its value is the half size, not "8 1 2"."""
    assert normalise_size(text) == value


@pytest.mark.parametrize(("query", "values"), [
    ("carters pajamas 24m", ["24 months"]),
    ("12m romper", ["12 months"]),
    ("baby grow 6m", ["6 months"]),
    ("rope 24m", ["24 m"]),  # no baby in the query: a length
    ("3m particulate filters", ["3 m"]),
])
def test_a_babys_months_as_labels_print_them(query, values):
    assert [m.value for m in find_sizes(query)] == values


@pytest.mark.parametrize(("query", "values"), [
    ("size 7-8 trainers", ["7", "8"]),
    ("size 5 or 6 boots", ["5", "6"]),
    ("size 6 to 8 dress", ["6", "8"]),
    ("socks 7-8", []),  # not shoes: no pair of shoe sizes
    ("2 or 3 seater sofa", []),
])
def test_two_sizes_side_by_side(query, values):
    assert [m.value for m in find_sizes(query)] == values


@pytest.mark.parametrize("pattern, needs", [
    (r"a\d", True), (r"a\d?", False), (r"(?:x|\d)", False), (r"(?:1|2)", True), (r"[0-9]+", True),
    (r"[2-4]\d", True), (r"[^a]", False), (r"[0-9a]", False), (r"(?:\d{1,2})?x", False), (r"\bw\s?(3\d)", True),
    (r"(?<=\d)x", False),  # a lookaround says nothing of the match's own characters
])
def test_needs_digit_reads_the_pattern(pattern, needs):
    assert _needs_digit(re.compile(pattern)) is needs


def test_sizes_of_a_query_without_digits_skip_no_pattern_that_could_match(monkeypatch):
    # every pattern skipped for a query without a digit really needs one: on the phrasing suite, each such
    # pattern's matches all hold a digit, and every query reads the same with the skip as without it
    import json
    from pathlib import Path

    queries = [json.loads(line)["query"] for line in
               (Path(__file__).parent / "shopper_queries.jsonl").read_text().splitlines() if line.strip()]
    queries += ["one size", "xs/s", "petite", "size m", "plus size", "ring size n 1/2", "uk ８", "w٣٢"]
    for (kind, pat), needs in zip(_PATTERNS, _NEEDS_DIGIT, strict=True):
        if needs:
            assert all(any(ch.isdigit() for ch in m.group(0)) for q in queries for m in pat.finditer(q)), kind
    assert sum(_NEEDS_DIGIT) >= 40  # the skip is doing its work
    with_skip = [find_sizes(q) for q in queries]
    monkeypatch.setattr(qu.sizes, "_NEEDS_DIGIT", [False] * len(_PATTERNS))
    assert [find_sizes(q) for q in queries] == with_skip
