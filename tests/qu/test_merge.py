"""merge_spans on hand-made spans: each policy, the overrides, relabelling, value borrowing."""

import pytest

from qu.merge import DEFAULT_POLICY, POLICIES, merge_spans
from qu.types import Span

Q = "carhart navy jacket light blue"


def sp(attribute, text, source, confidence=1.0, value=None):
    start = Q.index(text)
    return Span(
        attribute=attribute,
        text=text,
        start=start,
        end=start + len(text),
        value=value,
        source=source,
        confidence=confidence,
    )


def got(spans):
    return [(s.attribute, s.text, s.source) for s in spans]


def test_tagger_and_rules_policies_keep_one_layer():
    rules = [sp("category", "jacket", "rules", 0.9, "jackets")]
    tagger = [sp("category", "navy jacket", "tagger", 0.8)]
    assert got(merge_spans(rules, tagger, {"category": "tagger"})) == [("category", "navy jacket", "tagger")]
    assert got(merge_spans(rules, tagger, {"category": "rules"})) == [("category", "jacket", "rules")]
    # "tagger" ignores a rule span even where the tagger found nothing
    assert merge_spans(rules, [], {"category": "tagger"}) == []


def test_tagger_first_fills_gaps_with_confident_rules_only():
    tagger = [sp("colour", "navy", "tagger", 0.7)]
    confident = sp("colour", "light blue", "rules", 0.9, "light blue")
    weak = sp("colour", "light blue", "rules", 0.5, "light blue")
    overlapping = sp("colour", "navy", "rules", 0.9, "navy blue")
    out = merge_spans([confident, overlapping], tagger, {"colour": "tagger_first"})
    assert got(out) == [("colour", "navy", "tagger"), ("colour", "light blue", "rules")]
    # the tagger span borrows the canonical value and the higher confidence of the rule span it covers
    assert (out[0].value, out[0].confidence) == ("navy blue", 0.9)
    assert got(merge_spans([weak], tagger, {"colour": "tagger_first"})) == [("colour", "navy", "tagger")]
    assert got(merge_spans([weak], tagger, {"colour": "tagger_first"}, fill_min=0.4))[1:] == [
        ("colour", "light blue", "rules")
    ]


def test_rules_first_keeps_rules_and_fills_with_tagger():
    rules = [sp("condition", "light blue", "rules", 0.5, "used")]
    tagger = [sp("condition", "blue", "tagger", 0.9), sp("condition", "navy", "tagger", 0.9)]
    out = merge_spans(rules, tagger, {"condition": "rules_first"}, overrides={})
    assert got(out) == [("condition", "navy", "tagger"), ("condition", "light blue", "rules")]


def test_overrides_let_exact_lexicon_hits_beat_another_attribute():
    rules = [sp("brand", "carhart", "rules", 0.95, "carhartt")]
    tagger = [sp("style", "carhart", "tagger", 0.9)]
    out = merge_spans(rules, tagger)  # default overrides: brand from 0.9
    assert got(out) == [("brand", "carhart", "rules")] and out[0].value == "carhartt"
    # without overrides the tagger's reading stands (brand is tagger_first; the rule span overlaps)
    assert got(merge_spans(rules, tagger, overrides={})) == [("style", "carhart", "tagger")]
    # below the override threshold the tagger's reading stands too
    assert got(merge_spans(rules, tagger, overrides={"brand": 0.99})) == [("style", "carhart", "tagger")]


def test_unknown_tagger_category_is_relabelled_by_the_rules():
    rules = [sp("colour", "light blue", "rules", 0.8, "light blue")]
    tagger = [sp("category", "light blue", "tagger", 0.9)]
    assert got(merge_spans(rules, tagger)) == [("category", "light blue", "tagger")]
    out = merge_spans(rules, tagger, is_known=lambda attribute, text: False)
    assert got(out) == [("colour", "light blue", "rules")]
    assert got(merge_spans(rules, tagger, is_known=lambda attribute, text: True)) == [
        ("category", "light blue", "tagger")
    ]


def test_a_denim_wash_is_the_colour_whatever_the_tagger_read_in_it():
    q = "cropped denim jacket light wash"
    rules = [_at(q, "colour", "light wash", "rules", "light wash", 0.7)]
    tagger = [_at(q, "style", "light wash", "tagger", confidence=0.8)]
    assert got(merge_spans(rules, tagger)) == [("colour", "light wash", "rules")]
    # whatever the tagger read in it: "acid wash tee" is not the style "acid" and the garment "wash tee"
    q = "acid wash tee"
    rules = [_at(q, "colour", "acid wash", "rules", "light wash", 0.7),
             _at(q, "category", "tee", "rules", "t-shirts", 0.85)]
    tagger = [_at(q, "style", "acid", "tagger"), _at(q, "category", "wash tee", "tagger")]
    assert got(merge_spans(rules, tagger)) == [("colour", "acid wash", "rules"), ("category", "tee", "rules")]
    # a material the colour lexicon also knows stays a style, as QueryNER reads it
    q = "stainless steel bottle"
    rules = [_at(q, "colour", "stainless steel", "rules", "silver", 0.7)]
    tagger = [_at(q, "style", "stainless steel", "tagger", confidence=0.8)]
    assert got(merge_spans(rules, tagger, is_known=lambda a, t: True)) == [("style", "stainless steel", "tagger")]


def test_invalid_policy_is_a_clear_error():
    assert set(DEFAULT_POLICY.values()) <= set(POLICIES)
    with pytest.raises(ValueError, match="merge policy for 'brand' is 'llm_first'; choose from tagger, rules"):
        merge_spans([], [], {"brand": "llm_first"})


def test_a_garment_name_beats_the_taggers_pieces_of_it():
    q = "y2k baby tee"

    def at(attribute, text, source, value=None):
        start = q.index(text)
        return Span(attribute=attribute, text=text, start=start, end=start + len(text), value=value,
                    source=source, confidence=0.85)

    rules = [at("style", "y2k", "rules", "y2k"), at("category", "baby tee", "rules", "t-shirts")]
    pieces = [at("gender", "baby", "tagger"), at("category", "tee", "tagger")]
    assert got(merge_spans(rules, pieces)) == [("style", "y2k", "rules"), ("category", "baby tee", "rules")]
    # one tagger span inside the phrase is not "pieces": the tagger's reading stands
    assert got(merge_spans(rules, pieces[1:])) == [("style", "y2k", "rules"), ("category", "tee", "tagger")]
    # a tagger span reaching past the phrase: the tagger's reading stands
    wider = [at("style", "y2k baby", "tagger"), at("category", "tee", "tagger")]
    assert got(merge_spans(rules, wider)) == [("style", "y2k baby", "tagger"), ("category", "tee", "tagger")]


def _at(q, attribute, text, source, value=None, confidence=0.9):
    start = q.index(text)
    return Span(attribute=attribute, text=text, start=start, end=start + len(text), value=value,
                source=source, confidence=confidence)


def test_a_colour_the_lexicon_knows_whole_beats_the_taggers_pieces():
    q = "off white tee"
    rules = [_at(q, "colour", "off white", "rules", "off white")]
    pieces = [_at(q, "style", "off", "tagger"), _at(q, "colour", "white", "tagger")]
    pieces.append(_at(q, "category", "tee", "tagger"))
    assert got(merge_spans(rules, pieces)) == [("colour", "off white", "rules"), ("category", "tee", "tagger")]


def test_a_tagger_size_over_a_pair_of_sizes_gives_way_to_both():
    q = "leggings uk 8-10"
    rules = [_at(q, "size", "uk 8", "rules", "uk 8", 0.95), _at(q, "size", "10", "rules", "uk 10", 0.95)]
    tagger = [_at(q, "category", "leggings", "tagger"), _at(q, "size", "8-10", "tagger")]
    assert got(merge_spans(rules, tagger)) == [
        ("category", "leggings", "tagger"), ("size", "uk 8", "rules"), ("size", "10", "rules")
    ]
    # two sizes not joined by "-" or "/" ("2xl tall", "40mm f/2.5"): the tagger's span stands
    q = "shirt 2xl tall"
    rules = [_at(q, "size", "2xl", "rules", "xxl"), _at(q, "size", "tall", "rules", "tall")]
    tagger = [_at(q, "size", "2xl tall", "tagger")]
    assert got(merge_spans(rules, tagger)) == [("size", "2xl tall", "tagger")]


def test_a_style_the_lexicon_knows_whole_beats_pieces_the_policy_ranks_later():
    # the tagger's condition "old" is ranked after the rules (condition is rules_first), but it is
    # still a piece of "old money"
    q = "old money knit polo"
    rules = [_at(q, "style", "old money", "rules", "quiet luxury", 0.8),
             _at(q, "category", "polo", "rules", "polo shirts")]
    tagger = [_at(q, "condition", "old", "tagger"), _at(q, "style", "money", "tagger"),
              _at(q, "category", "polo", "tagger")]
    assert got(merge_spans(rules, tagger)) == [("style", "old money", "rules"), ("category", "polo", "tagger")]


def test_a_tagger_category_that_took_a_colour_along_is_cut_before_it():
    q = "wide leg trousers cream"
    rules = [_at(q, "colour", "cream", "rules", "cream", 0.85)]
    tagger = [_at(q, "style", "wide leg", "tagger"), _at(q, "category", "trousers cream", "tagger")]
    known = lambda attribute, text: attribute == "category" and text == "trousers"  # noqa: E731
    out = merge_spans(rules, tagger, is_known=known)
    assert got(out) == [
        ("style", "wide leg", "tagger"), ("category", "trousers", "tagger"), ("colour", "cream", "rules")
    ]
    assert out[1].end == q.index("trousers") + len("trousers")
    # the rest is not a garment the taxonomy knows: the tagger's span stands
    assert got(merge_spans(rules, tagger, is_known=lambda a, t: False))[1] == ("category", "trousers cream", "tagger")
    # or a style: "pants baggy" is the garment, then the cut
    q = "cargo pants baggy"
    rules = [_at(q, "style", "baggy", "rules", "oversized", 0.8)]
    tagger = [_at(q, "style", "cargo", "tagger"), _at(q, "category", "pants baggy", "tagger")]
    known = lambda attribute, text: attribute == "category" and text == "pants"  # noqa: E731
    assert got(merge_spans(rules, tagger, is_known=known)) == [
        ("style", "cargo", "tagger"), ("category", "pants", "tagger"), ("style", "baggy", "rules")
    ]


def test_a_tagger_span_that_took_a_neighbour_along_gives_it_back():
    known = lambda attribute, text: attribute == "category" and text in ("jacket", "coat")  # noqa: E731
    # a category that took the size along: "jacket xs" is the garment, then the size
    q = "leather jacket xs"
    rules = [_at(q, "size", "xs", "rules", "xs", 0.85)]
    tagger = [_at(q, "category", "jacket xs", "tagger")]
    out = merge_spans(rules, tagger, is_known=known)
    assert got(out) == [("category", "jacket", "tagger"), ("size", "xs", "rules")]
    # a brand that took the garment along: "hobbs coat" is the brand, then the garment
    q = "hobbs coat 12"
    rules = [_at(q, "brand", "hobbs", "rules", "hobbs", 0.9), _at(q, "category", "coat", "rules", "coats", 0.85)]
    tagger = [_at(q, "brand", "hobbs coat", "tagger"), _at(q, "size", "12", "tagger")]
    assert got(merge_spans(rules, tagger, is_known=known)) == [
        ("brand", "hobbs", "rules"), ("category", "coat", "rules"), ("size", "12", "tagger")
    ]
    # a brand the lexicon only guesses at (0.6) is not enough to split the tagger's brand
    weak = [_at(q, "brand", "hobbs", "rules", "hobbs", 0.6), rules[1]]
    assert got(merge_spans(weak, tagger, is_known=known))[0] == ("brand", "hobbs coat", "tagger")
    # a brand that took a colour along before it: "navy ralph lauren" is the colour, then the brand
    q = "navy ralph lauren jumper"
    rules = [_at(q, "colour", "navy", "rules", "navy blue", 0.7), _at(q, "brand", "ralph lauren", "rules", None, 0.95)]
    tagger = [_at(q, "brand", "navy ralph lauren", "tagger"), _at(q, "category", "jumper", "tagger")]
    assert got(merge_spans(rules, tagger, is_known=known)) == [
        ("colour", "navy", "rules"), ("brand", "ralph lauren", "rules"), ("category", "jumper", "tagger")
    ]
    # a word of the tagger's brand the rules do not read: the tagger's span stands
    q = "old navy ralph lauren"
    rules = [_at(q, "colour", "navy", "rules", "navy blue", 0.7), _at(q, "brand", "ralph lauren", "rules", None, 0.95)]
    tagger = [_at(q, "brand", "old navy ralph lauren", "tagger")]
    assert got(merge_spans(rules, tagger, is_known=known)) == [("brand", "old navy ralph lauren", "tagger")]


@pytest.mark.parametrize(
    "q,rules,tagger,expected",
    [
        ("sage green cardigan", [("colour", "sage green", "green"), ("category", "cardigan", "cardigans")],
         [("style", "sage green cardigan")], [("colour", "sage green", "rules"), ("category", "cardigan", "rules")]),
        ("newborn babygrow", [("gender", "newborn", "boys+girls"), ("category", "babygrow", "jumpsuits")],
         [("gender", "newborn babygrow")], [("gender", "newborn", "rules"), ("category", "babygrow", "rules")]),
        # not where it holds two garments, nor where the query names another
        ("cardigan jacket sweaters", [("category", "cardigan", "cardigans"), ("category", "jacket", "jackets")],
         [("style", "cardigan jacket"), ("category", "sweaters")],
         [("style", "cardigan jacket", "tagger"), ("category", "sweaters", "tagger")]),
        ("short tight dresses", [("category", "short", "shorts"), ("style", "tight", "tight")],
         [("style", "short tight"), ("category", "dresses")],
         [("style", "short tight", "tagger"), ("category", "dresses", "tagger")]),
    ],
)
def test_a_style_or_department_that_took_the_garment_along_is_what_the_rules_read(q, rules, tagger, expected):
    rules = [_at(q, a, t, "rules", v, 0.9 if a != "category" else 0.85) for a, t, v in rules]
    tagger = [_at(q, a, t, "tagger") for a, t in tagger]
    assert got(merge_spans(rules, tagger, is_known=lambda attribute, text: True)) == expected


def test_a_tagger_style_that_is_a_colour_the_rules_are_sure_of_is_the_colour_unless_a_material():
    q = "oatmeal jumper"
    rules = [_at(q, "colour", "oatmeal", "rules", "cream", 0.9)]
    assert got(merge_spans(rules, [_at(q, "style", "oatmeal", "tagger")])) == [("colour", "oatmeal", "rules")]
    q = "gold hoop earrings"  # QueryNER reads metals, stones and cloth as modifiers
    rules = [_at(q, "colour", "gold", "rules", "gold", 0.9)]
    assert got(merge_spans(rules, [_at(q, "style", "gold", "tagger")])) == [("style", "gold", "tagger")]
    q = "tan leather belt"  # a colour word the rules are unsure of ("self tan")
    rules = [_at(q, "colour", "tan", "rules", "tan", 0.6)]
    assert got(merge_spans(rules, [_at(q, "style", "tan", "tagger")])) == [("style", "tan", "tagger")]


def test_a_tagger_category_the_taxonomy_reads_whole_borrows_no_rule_value():
    q = "mens dress socks"
    rules = [_at(q, "category", "dress", "rules", "dresses", 0.85), _at(q, "category", "socks", "rules", "socks", 0.85)]
    tagger = [_at(q, "category", "dress socks", "tagger")]
    # the extractor reads "dress socks" with the taxonomy (socks); the first rule value (dresses) was wrong
    out = merge_spans(rules, tagger, is_known=lambda attribute, text: True)
    assert [(s.text, s.value) for s in out] == [("dress socks", None)]
    # with no taxonomy reading, the garment it ends with lends its value
    out = merge_spans(rules, tagger, is_known=lambda attribute, text: False)
    assert [(s.text, s.value) for s in out] == [("dress socks", "socks")]


@pytest.mark.parametrize(
    "q,garments,value",
    [
        ("ring light", [("ring", "rings")], None),  # the phrase ends with no garment: a ring light is no ring
        ("coat rack", [("coat", "coats")], None),
        ("shoe accessories", [("shoe", "shoes"), ("accessories", "accessories")], "shoes"),  # a department last
        ("robe set", [("robe", "nightwear")], "nightwear"),  # "set" says how many, not what
        ("scarf hat set", [("scarf", "scarves"), ("hat", "hats")], "hats"),
    ],
)
def test_a_tagger_garment_phrase_takes_the_value_of_the_garment_it_ends_with(q, garments, value):
    rules = [_at(q, "category", t, "rules", v, 0.85) for t, v in garments]
    narrow = {"rings", "coats", "shoes", "nightwear", "scarves", "hats"}
    known = {"ring": "rings", "coat": "coats", "shoe": "shoes", "accessories": "accessories", "robe": "nightwear",
             "scarf": "scarves", "hat": "hats", "shoe accessories": "accessories"}

    def is_known(attribute, text):
        return attribute == "narrow category" and known.get(text) in narrow

    out = merge_spans(rules, [_at(q, "category", q, "tagger")], is_known=is_known)
    assert [(s.text, s.value) for s in out] == [(q, value)]


def test_a_phrase_the_tagger_left_half_unread_is_the_rules():
    known = lambda attribute, text: attribute == "category" and text in ("jacket", "baby grow")  # noqa: E731
    # "baby grow": the tagger's department "baby" and, over the size, "grow 3-6 months", which the
    # size rule will take; "grow" alone means nothing, so the garment stands whole
    q = "baby grow 3-6 months"
    rules = [_at(q, "category", "baby grow", "rules", "jumpsuits", 0.85), _at(q, "size", "3-6 months", "rules",
                                                                                 "3-6 months", 0.95)]
    tagger = [_at(q, "gender", "baby", "tagger"), _at(q, "gender", "grow 3-6 months", "tagger")]
    assert got(merge_spans(rules, tagger, is_known=known)) == [
        ("category", "baby grow", "rules"), ("size", "3-6 months", "rules")
    ]
    # "leather jacket": the style "leather" leaves "jacket" unread, a garment of its own: the tagger stands
    q = "leather jacket"
    rules = [_at(q, "category", "leather jacket", "rules", "jackets", 0.85)]
    tagger = [_at(q, "style", "leather", "tagger"), _at(q, "category", "jacket", "tagger")]
    assert got(merge_spans(rules, tagger[:1], is_known=known)) == [("style", "leather", "tagger")]
    # "north face": a brand piece "north" and the category "face" the brand rule overrides
    q = "north face fleece"
    rules = [_at(q, "brand", "north face", "rules", "the north face", 0.9)]
    tagger = [_at(q, "brand", "north", "tagger"), _at(q, "category", "face", "tagger")]
    assert got(merge_spans(rules, tagger, is_known=known)) == [("brand", "north face", "rules")]


def test_a_garment_the_tagger_read_as_a_style_is_the_garment_where_it_ends_the_phrase():
    q = "urban outfitters cardigan"
    rules = [_at(q, "brand", "urban outfitters", "rules", "urban outfitters", 0.9),
             _at(q, "category", "cardigan", "rules", "cardigans", 0.85)]
    tagger = [_at(q, "style", "urban", "tagger"), _at(q, "category", "outfitters", "tagger"),
              _at(q, "style", "cardigan", "tagger")]
    assert got(merge_spans(rules, tagger, text=q)) == [
        ("brand", "urban outfitters", "rules"), ("category", "cardigan", "rules")
    ]
    # without the text the rule is off; and a garment word before the thing named stays a style
    assert ("style", "cardigan", "tagger") in got(merge_spans(rules, tagger))
    q = "flannel fabric"
    rules = [_at(q, "category", "flannel", "rules", "shirts", 0.85)]
    tagger = [_at(q, "style", "flannel", "tagger"), _at(q, "style", "fabric", "tagger")]
    assert got(merge_spans(rules, tagger, text=q))[0] == ("style", "flannel", "tagger")
