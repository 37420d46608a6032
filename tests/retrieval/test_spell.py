"""The catalogue's spelling of a query's words that no listing has (`retrieval.spell`, `Index.spell`)."""

from __future__ import annotations

import pytest

from retrieval.spell import one_slip, respell

LISTED = {"jewelry": 40, "bracelet": 12, "trouser": 30, "black": 200, "dress": 90, "jean": 50, "billet": 3,
          "region": 9, "star": 20, "handle": 80, "handler": 3}
WORDS = {"jewelry", "bracelet", "trousers", "black", "dress", "dresses", "jeans", "billet", "region", "star",
         "positioner", "handles", "handlers"}


def spell(text: str) -> str | None:
    return respell(text, lambda term: LISTED.get(term, 0), lambda w: w in WORDS)


def test_one_slip_covers_the_slips_of_the_keys_and_keeps_the_first_letter():
    assert {"jewelry"} <= one_slip("jewerly")  # two swapped
    assert {"trousers"} <= one_slip("trousrs")  # one dropped
    assert {"dress"} <= one_slip("dresss")  # one doubled
    assert {"jeans"} <= one_slip("jsans")  # a key beside the one meant (e for s)
    assert "jeans" not in one_slip("jpans")  # p is nowhere near e
    assert "star" not in one_slip("vstar") and "black" not in one_slip("vlack")  # the first letter stands
    assert "jewerly" not in one_slip("jewerly")


@pytest.mark.parametrize(("typed", "read"), [
    ("travel themed jewerly", "travel themed jewelry"),
    ("Womens TROUESRS", "womens trousers"),
    ("black dreses", "black dresses"),  # the typed word lacks a letter of "dresses": read before "dress"
    ("handlrs", "handlers"),  # before "handles", a commoner term one key away
])
def test_a_word_no_listing_has_is_read_as_the_listed_word_one_slip_away(typed, read):
    assert spell(typed) == read


@pytest.mark.parametrize(("boat", "boot", "read"), [(5, 50, "boot"), (50, 5, "boat")])
def test_of_the_words_one_slip_away_the_one_more_listings_have_wins(boat, boot, read):
    assert respell("booat", {"boat": boat, "boot": boot}.get, {"boat", "boot"}.__contains__) == read


@pytest.mark.parametrize("typed", [
    "black jewelry",  # every word listed
    "jewerl",  # nothing listed one slip away
    "gillete",  # "billet" is a listed word, but two slips away with the first letter changed
    "relion",  # "region": r and g are not beside l
    "vstar",  # "star": the first letter is kept
    "positioner",  # no listing has it, but people write it
    "blak",  # shorter than 5 letters
    "501s jewerly2",  # not letters only
])
def test_words_listed_written_short_or_far_from_any_listed_word_stay(typed):
    assert spell(typed) is None


def test_the_index_spells_with_every_segment(writable_index):
    """`Index.spell` counts the main segment's listings and those upserted since (the delta)."""
    from retrieval import Listing

    def written(w: str) -> bool:
        return w in {"trainers", "bedale"}

    assert writable_index.spell("nike trainres", written) == "nike trainers"
    assert writable_index.spell("barbour bedlae", written) is None  # no listing says "bedale" yet
    writable_index.upsert([Listing(id="b1", title="Barbour Bedale wax jacket", brand="barbour")])
    assert writable_index.spell("barbour bedlae", written) == "barbour bedale"


def test_the_brands_the_catalogue_carries_are_words_people_write(writable_index):
    """A brand no dictionary holds is still written: a listing carries it ("oganifi" is read as "organifi"),
    in the main segment and in one upserted since; a brand word under 5 letters is not ("stoki" stays)."""
    from retrieval import Listing

    def written(w: str) -> bool:
        return w == "juice"

    assert writable_index.spell("carhat jacket", written) is None  # "carhartt" is two slips away
    assert writable_index.spell("pataognia fleece", written) == "patagonia fleece"  # the tiny catalogue's brand
    writable_index.upsert([Listing(id="o1", title="Organifi Green Juice", brand="Organifi"),
                           Listing(id="s1", title="Stok Gas Grill", brand="Stok")])
    assert writable_index.spell("oganifi green juice", written) == "organifi green juice"
    assert writable_index.spell("stoki grill", written) is None
