import re

import pytest

from qu.rules import find_price


@pytest.mark.parametrize(
    "query,low,high",
    [
        ("dress under £30", None, 30.0),
        ("nike <20", None, 20.0),
        ("boots 20-40", 20.0, 40.0),
        ("leather jacket between 50 and 100", 50.0, 100.0),
        ("coat £20-£40", 20.0, 40.0),
        ("jacket over £50", 50.0, None),
        ("bag below 15 pounds", None, 15.0),
        ("dress £15 or less", None, 15.0),
        ("coat 30 and under", None, 30.0),
        ("trainers 20 quid max", None, 20.0),
        ("jeans max 25", None, 25.0),
        ("dress £10", None, 10.0),  # a bare amount with its sign is a budget
        ("$25 jeans", None, 25.0),
        ("jeans 25€", None, 25.0),
        ("tops under a tenner", None, 10.0),
        ("jeans under twenty", None, 20.0),  # amounts in words
        ("top under twenty five", None, 25.0),
        ("coat less than a hundred quid", None, 100.0),
        ("hoodie 20-30 quid", 20.0, 30.0),  # the currency word is part of the range
        ("max 50 euros coat", None, 50.0),
        ("budget 25 jacket", None, 25.0),
        ("sub £50 trainers", None, 50.0),
        ("around £25 jumper", None, 25.0),  # about that much: the budget, as a bare "£25" is
        ("about 30 quid coat", None, 30.0),
        ("jacket 25 quid", None, 25.0),  # a word only money is counted in
        ("dress 20 euros", None, 20.0),
        ("dress £30ish", None, 30.0),
    ],
)
def test_price_bounds(query, low, high):
    (p,) = find_price(query)
    assert (p.low, p.high) == (low, high)
    assert query[p.start : p.end] == p.text
    assert not re.search(r"quid|euros", query[p.end :])  # the currency word is read with the amount


@pytest.mark.parametrize(
    "query",
    ["size 10-12 dress", "baby 0-3 months", "6-12 months romper", "nike air max 90", "iphone 11 max case",
     "max 2 pack", "max 10 lbs", "20 pounds dumbbell",  # "pounds" without a sign may weigh
     "around 25 jumper", "sub 4 hour marathon shoes"],  # "around", "sub" count only with a currency
)
def test_sizes_and_ages_are_not_prices(query):
    assert find_price(query) == []


@pytest.mark.parametrize(
    "query,brand",
    [
        ("wrangler jacket", "wrangler"),  # a curated brand opening the query, before a garment
        ("coach  bag", "coach"),
        ("jeep wrangler floor mats", None),  # a car, not a garment
        ("lucky cat onesie", None),  # does not open the query
        ("wrangler", None),  # alone: weak
        ("stussey hoodie", "stussy"),  # misspelt, read by fuzzy matching: no word of its own
        ("hollester hoodie", "hollister"),
        ("wrangle jeans", None),  # "wrangle" is an English word
        ("casino dress", None),  # spelt right: a word, not "casio"
        ("basics tee", None),  # not "asics"
        ("new balence trainers", "new balance"),  # a name of two words, one misspelt
        ("how universe works", None),  # both words spelt right: not Universal Works
        ("dog essentials", None),  # not "fog essentials": the words begin otherwise
    ],
)
def test_a_common_word_or_misspelt_brand_before_a_garment_is_the_brand(query, brand):
    from qu.rules import RuleMatcher

    rules = RuleMatcher.load()
    strong = [sp.value for sp in rules.spans(query) if sp.attribute == "brand" and sp.confidence >= 0.9]
    assert strong == ([brand] if brand else [])


@pytest.mark.parametrize(
    "query,confident",
    [
        ("wide leg trousers cream", True),  # a colour name beside a garment
        ("camel wool coat", True),
        ("face cream", False),  # no garment: weak
        ("rimmel french rose nail polish", False),  # beauty is not a garment
        ("cheetah print wallet", False),  # a pattern stays as it was
    ],
)
def test_a_weak_colour_name_beside_a_garment_is_the_colour(query, confident):
    from qu.rules import RuleMatcher

    colours = [sp for sp in RuleMatcher.load().spans(query) if sp.attribute == "colour"]
    assert colours and all(sp.confidence >= 0.85 for sp in colours) == confident


@pytest.mark.parametrize(
    "query,size",
    [
        ("joggers mens l grey nike", "l"),  # mid-query, right after a department
        ("hoodie m black", "m"),  # right after a garment
        ("men s teva sandals", None),  # "men s" is men's
        ("s club 7 tshirt", None),  # nothing before it
    ],
)
def test_a_bare_letter_size_mid_query(query, size):
    from qu.rules import RuleMatcher

    rules = RuleMatcher.load()
    sizes = [sp.value for sp in rules.spans(query) if sp.attribute == "size"]
    assert sizes == ([size] if size else [])


def test_a_place_name_is_no_condition_or_colour():
    """"new york", "red sox": the words of a place or a team, not the condition new or the colour red."""
    from qu.rules import RuleMatcher

    rules = RuleMatcher.load()
    for q in ("baseball cap new york", "boston red sox hats"):
        assert [sp.attribute for sp in rules.spans(q) if sp.attribute in ("condition", "colour")] == []
    assert [sp.value for sp in rules.spans("new dress") if sp.attribute == "condition"] == ["new"]
