import json

import pytest

from qu._data import VOCAB
from qu.taxonomy import category_for_article_type, category_matches, category_path, get_taxonomy, normalise_category


def test_every_apparel_footwear_accessory_article_type_maps():
    types = [t for t, _ in json.loads((VOCAB / "fpi_attribute_values.json").read_text())["articleType"]]
    beauty = {
        "Perfume and Body Mist",
        "Lip Gloss",
        "Kajal and Eyeliner",
        "Free Gifts",
        "Foundation and Primer",
        "Face Moisturisers",
        "Fragrance Gift Set",
        "Highlighter and Blush",
        "Compact",
        "Lip Liner",
        "Eyeshadow",
        "Face Wash and Cleanser",
        "Sunscreen",
        "Hair Colour",
        "Lip Care",
        "Basketballs",
        "Mascara",
        "Mask and Peel",
        "Water Bottle",
        "Concealer",
        "Footballs",
        "Eye Cream",
        "Nail Essentials",
        "Body Lotion",
        "Face Scrub and Exfoliator",
        "Toner",
        "Makeup Remover",
        "Lip Plumper",
        "Face Serum and Gel",
        "Cushion Covers",
        "Mens Grooming Kit",
        "Body Wash and Scrub",
        "Ipad",
    }
    for t in types:
        if t not in beauty:
            cat = category_for_article_type(t)
            assert cat is not None, t
            assert category_path(cat)[-1] == cat


@pytest.mark.parametrize(
    "article_type,leaf",
    [
        ("Tshirts", "t-shirts"),
        ("Casual Shoes", "trainers"),
        ("Jeans", "jeans"),
        ("Handbags", "handbags"),
        ("Heels", "heels"),
    ],
)
def test_article_types(article_type, leaf):
    assert category_for_article_type(article_type) == leaf


def test_paths_and_matching():
    assert category_path("t-shirts") == ("clothing", "tops", "t-shirts")
    assert category_path("trainers") == ("shoes", "trainers")
    assert category_matches("shoes", "trainers")
    assert category_matches("jeans", "jeans")
    assert not category_matches("dresses", "jeans")
    with pytest.raises(KeyError, match="unknown category"):
        category_path("spaceships")


@pytest.mark.parametrize(
    "text,leaf",
    [
        ("tee", "t-shirts"),
        ("Sneakers", "trainers"),
        ("black skinny jeans", "jeans"),
        ("hoodie", "hoodies"),
        ("puffer jacket", "jackets"),
        ("Doc boots", "boots"),
        # a garment's one-word name written as two words is that garment, not its last word's
        ("jump suit", "jumpsuits"),
        ("black swim suit", "swimwear"),
        ("sweat pants", "joggers"),
        ("wind breaker", "jackets"),
        ("dress shirt", "shirts"),  # no "dressshirt": its last word
    ],
)
def test_normalise_category(text, leaf):
    assert normalise_category(text) == leaf


@pytest.mark.parametrize(
    "word,leaf",
    [
        ("hoddie", "hoodies"),  # one letter changed
        ("jaket", "jackets"),  # one dropped
        ("troussers", "trousers"),  # one added
        ("skrit", "skirts"),  # two swapped
        ("sweatshrit", "sweatshirts"),
        ("knecklace", None),  # the first letter is kept: shoppers rarely miss it
        ("strainers", None),  # a word ("strainer"), not "trainers"
        ("shorter", None),  # a word
        ("boden", None),  # two edits from "boots"
        ("tee", None),  # too short to guess
    ],
)
def test_misspelt_garments(word, leaf):
    from qu.taxonomy import get_taxonomy

    assert get_taxonomy().misspelt(word) == leaf


def test_unknown_category_is_none():
    assert normalise_category("quantum flux capacitor") is None
    assert normalise_category("   ") is None


@pytest.mark.parametrize("word, roots, shortest, leaf", [
    ("shose", False, 5, None),  # a root's name only where the word is already read as a garment
    ("shose", True, 5, "shoes"),
    ("clothees", True, 5, "clothing"),
    ("dess", True, 4, "dresses"),
    ("dess", True, 5, None),
    ("boas", True, 4, None),  # as near "bras" as "botas"
    ("onesies", True, 5, None),  # a name in the plural is no slip
])
def test_misspelt_garments_read_as_garments(word, roots, shortest, leaf):
    assert get_taxonomy().misspelt(word, roots=roots, shortest=shortest) == leaf


def test_the_name_a_slip_is_from():
    assert get_taxonomy().corrected("sweaater") == "sweater"
    assert get_taxonomy().corrected("sweater") is None


@pytest.mark.parametrize("text, leaf", [("snow boot", "boots"), ("skinny jean", "jeans"), ("chelsea boot", "boots")])
def test_a_name_listed_in_the_plural_is_known_in_the_singular(text, leaf):
    assert get_taxonomy().exact(text) == leaf
