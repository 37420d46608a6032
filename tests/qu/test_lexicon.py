import json

import pytest

from qu.lexicon import canonical_brand, canonical_colour, get_lexicon


@pytest.mark.parametrize(
    "text,brand",
    [
        ("addidas", "adidas"),
        ("carhart", "carhartt"),
        ("Levis", "levi's"),
        ("LEVI'S", "levi's"),
        ("levi’s", "levi's"),
        ("doc martens", "dr. martens"),
        ("Dr Martens", "dr. martens"),
        ("north face", "the north face"),
        ("ADIDAS Originals", "adidas"),
        ("nikey", "nike"),
        ("sketchers", "skechers"),
        ("H&M", "h&m"),
        ("Ralph Lauren", "ralph lauren"),
        ("United Colors of Benetton", "benetton"),
        ("supream", "supreme"),  # no dictionary word: one letter off is enough (ratio 86)
        ("channel", "chanel"),  # a word spelt right, misspelt from its first letter on
        ("johnston and murphy", "johnston & murphy"),  # "and" for "&", and the other way round
        ("pull & bear", "pull&bear"),
    ],
)
def test_brand_aliases_and_misspellings(text, brand):
    assert canonical_brand(text) == brand


@pytest.mark.parametrize("text", ["dress", "black", "", "the", "trainers", "xyzzyq",
                                  "basics"])  # a word spelt right is no brand a first letter off (asics)
def test_not_brands(text):
    assert canonical_brand(text) is None


@pytest.mark.parametrize("text, brand", [
    ("gnni", "ganni"), ("leis", "levi's"), ("sexane", "sezane"), ("meskhi", "meshki"), ("nrth fase", "the north face"),
    ("lacrosse", None),  # a word spelt right
    ("guotong", None),  # no brand near
])
def test_a_brand_a_slip_of_the_keys_away(text, brand):
    assert get_lexicon().near_brand(text) == brand


def test_a_phrase_opening_with_a_joining_word_is_no_misspelt_brand():
    lex = get_lexicon()
    assert lex.brand("and wander", fuzzy=False) == "and wander"  # the brand as written stands
    assert lex.brand_phrase("and waders") is None  # "boots and waders"


@pytest.mark.parametrize(
    "text,colour",
    [
        ("navy", "navy blue"),
        ("Gray", "grey"),
        ("off-white", "off white"),
        ("burgundy", "burgundy"),
        ("light wash", "light wash"),
        ("leopard print", "animal print"),
        ("multicolour", "multi"),
    ],
)
def test_colours(text, colour):
    assert canonical_colour(text) == colour


@pytest.mark.parametrize(
    "word,colour",
    [
        ("balck", "black"),  # neighbours swapped
        ("blak", "black"),  # a letter dropped
        ("blackk", "black"),  # a letter doubled
        ("gery", "grey"),
        ("navvy", "navy blue"),
        ("biege", "beige"),
        ("lavendar", "lavender"),  # a letter changed, in a long name
        ("purpel", "purple"),
        ("turqoise", "turquoise blue"),
        ("blsck", "black"),  # a letter changed to its neighbour on the keyboard's row, in a short name
        ("wgite", "white"),
        ("pibk", "pink"),
        ("cammo", "camo"),  # a pattern's name
        # real words, and brands a letter away from a short colour, are not misspelt colours
        ("slack", None),
        ("wavy", None),
        ("broan", None),
        ("cremo", None),
        ("tfal", None),
        ("stoner", None),
        ("red", None),  # too short to tell from a typo of another word
        # a 4-letter colour with a letter dropped inside it, no word of its own
        ("pik", "pink"),
        ("gld", "gold"),
        ("bue", "blue"),
        ("ble", "blue"),  # blue's slip, not bleu's: the last letter is never the one dropped
        ("blu", None),
        ("god", None),  # words
        ("gey", None),
        ("black", None),  # spelt right: the lexicon reads it, not this
    ],
)
def test_misspelt_colours(word, colour):
    assert get_lexicon().misspelt_colour(word) == colour


@pytest.mark.parametrize("word, name", [
    ("wommens", "womens"), ("womes", "womens"), ("ladeis", "ladies"), ("mems", "mens"), ("girsl", "girls"),
    ("toddelr", "toddler"),
    ("mena", "mens"),  # a slip; the extractor reads it only in a query about something to wear ("maria mena")
    ("mends", None),  # a word
    ("donne", None),  # no slip of an English department word ("donna")
    ("mns", "mens"), ("bys", "boys"), ("grl", "girl"),  # a letter dropped inside a 4-letter word
    ("mes", None), ("gil", None),  # words of their own
])
def test_misspelt_departments(word, name):
    assert get_lexicon().department_spelt(word) == name


def test_colour_families_hold_canonical_colours():
    lex = get_lexicon()
    assert lex.colour_family["turquoise blue"][0] == "turquoise blue"
    assert {"blue", "navy blue", "teal"} <= set(lex.colour_family["turquoise blue"])
    assert "black" not in lex.colour_family  # black stands alone: relaxed, not widened
    for colour, family in lex.colour_family.items():
        assert len(set(family)) == len(family) and all(lex.colour(c) == c for c in family), colour


@pytest.mark.parametrize("word", ["carharttt", "stusy", "supream", "hollester", "addidas", "patagoniaa", "bluetooth",
                                  "sweater", "ralf laurenn", "tommy hilfigger", "berghause", "rayban"])
def test_fuzzy_brand_candidates_by_length_find_what_the_whole_list_finds(word):
    from rapidfuzz import fuzz, process

    lex = get_lexicon()
    for cutoff in (85.0, 88.0):
        whole = process.extractOne(word.replace(" ", ""), lex.fuzzy_brands, scorer=fuzz.ratio, score_cutoff=cutoff)
        near = process.extractOne(word.replace(" ", ""), lex._near_length(len(word.replace(" ", "")), cutoff),
                                  scorer=fuzz.ratio, score_cutoff=cutoff)
        assert (whole and whole[:2]) == (near and near[:2])


def test_footwear_brands_are_curated_brands(tmp_path):
    from qu.lexicon import Lexicon

    assert {"dr. martens", "birkenstock", "golden goose"} <= Lexicon.load().footwear_brands
    bad = tmp_path / "brands.json"
    bad.write_text(json.dumps({"format_version": 1, "footwear": ["nobody"], "brands": {"nike": []}}))
    with pytest.raises(ValueError, match="nobody"):
        Lexicon.load(brands_path=bad)


@pytest.mark.parametrize("word, colour", [
    ("greenish", "green"), ("reddish", "red"), ("bluish", "blue"), ("blueish", "blue"), ("whitish", "white"),
    ("purplish", "purple"), ("rubbish", None), ("polish", None), ("spanish", None), ("finish", None),
])
def test_a_colour_with_ish_is_the_colour(word, colour):
    assert get_lexicon().colour(word) == colour


def test_the_slip_tables_are_built_when_the_rules_load():
    """A fresh server's first query with a misspelt word ("north face jaket") had built them: 45 ms in qu."""
    from qu.lexicon import Lexicon
    from qu.rules import RuleMatcher

    assert "_colour_slips" not in Lexicon.load().__dict__  # built lazily by the lexicon alone...
    lex = RuleMatcher.load().lexicon
    assert {"_colour_slips", "_department_slips"} <= lex.__dict__.keys()  # ...and at once by the rules
    assert lex.colour_spelt("balck") == "black" and lex.department_spelt("wommens") == "womens"
