import pytest

from qu.product_lines import ProductLines, get_product_lines
from qu.taxonomy import get_taxonomy

ATTRS = ("brand", "category", "size", "colour", "style", "gender", "condition")


@pytest.mark.parametrize(
    "query,garment",
    [("lululemon align leggings size 6", "leggings"), ("sweaty betty power leggings xs", "leggings"),
     ("hunter original short boots 5", "boots"), ("westwood pearl choker", "choker")],
)
def test_the_garment_a_lines_name_ends_with_is_read_as_the_garment(extractor, query, garment):
    # QueryNER labels the garment noun of a product's name as its type ("power" is the line, "leggings" the thing)
    p = extractor.parse(query)
    assert [s.text for s in p.spans if s.attribute == "category"] == [garment]
    assert p.category == p.extra["product_lines"][0]["category"]
    assert garment not in p.residual.split()


@pytest.mark.parametrize(
    "query,expected",
    [
        # the tagger read "old" as a style and "skool" as a category, "gazelle" as a category
        ("vans old skool", {"brand": "vans", "category": "trainers"}),
        ("adidas gazelle", {"brand": "adidas", "category": "trainers"}),
        # the line names its brand when the query does not
        ("samba uk 6", {"brand": "adidas", "category": "trainers", "size": "uk 6"}),
        ("yeezy 350", {"brand": "adidas", "category": "trainers"}),
        # a bare 35-48 after a footwear line is its EU size; a letter size after a line is the size
        ("birkenstock arizona 39", {"brand": "birkenstock", "category": "sandals", "size": "eu 39"}),
        ("north face nuptse 700 xl", {"brand": "the north face", "category": "jackets", "size": "xl"}),
        # the query's own category wins over the line's
        ("carhartt detroit jacket", {"brand": "carhartt", "category": "jackets"}),
        ("stan smith white", {"brand": "adidas", "category": "trainers", "colour": "white"}),
    ],
)
def test_a_product_line_implies_its_brand_and_category(extractor, query, expected):
    p = extractor.parse(query)
    assert {a: getattr(p, a) for a in ATTRS} == {a: expected.get(a) for a in ATTRS}
    (line,) = p.extra["product_lines"]
    assert line["text"] in p.residual  # the name stays for lexical matching
    # implied values carry no span: no word of the query was read as them
    assert not any(s.start < line["end"] and line["start"] < s.end for s in p.spans if s.attribute != "brand")


@pytest.mark.parametrize(
    "query", ["arizona iced tea", "550 size 9 bolts", "kelly green dress", "boston red sox cap", "alma mater hoodie"]
)
def test_a_common_word_or_number_is_a_line_only_beside_its_brand(extractor, query):
    p = extractor.parse(query)
    assert "product_lines" not in p.extra
    assert p.brand not in {"birkenstock", "new balance", "hermes", "louis vuitton"}


def test_lines_do_not_overlap_and_the_longest_wins():
    lines = get_product_lines()
    found = lines.find("nike air max 90 and air force 1", {"nike"})
    assert [(f.text, f.start) for f in found] == [("air max 90", 5), ("air force 1", 20)]
    assert lines.find("levis 501", set()) == []  # "501" needs its brand
    assert [f.text for f in lines.find("levis 501", {"levi's"})] == ["501"]


def test_every_line_names_a_taxonomy_leaf_and_a_valid_pattern():
    leaves = get_taxonomy().parents
    lines = ProductLines.load()
    for _rx, brand, category, _needs in lines._entries:
        assert brand and (category is None or category in leaves), (brand, category)


@pytest.mark.parametrize(
    "query,size",
    [
        ("salomon xt6 black 42", "eu 42"),  # ends a footwear query: 35-48 are EU
        ("white nike af1 6", "6"),  # 1-15 keep no system
        ("birkenstock arizona 39 black", "eu 39"),  # right after a footwear line
        ("trainers 8", "8"),
        ("asics gel kayano 14 silver", None),  # part of the line's name
        ("nike air max 90", None),
        ("trainers pack of 2", None),
        ("jumper 8", "8"),  # clothing: a whole number ending the query, kept as written
        ("petite trousers 6", ["petite", "6"]),  # a fit range does not stop the number
        ("fred perry polo 40", "40"),
        ("jumper 8 blue", "8"),  # right after the garment, only a colour follows
        ("jumper 2 pack blue", None),  # clothing: otherwise only a number that ends the query
        ("dr martens 6", "6"),  # a brand that sells only shoes says what the number is
        ("golden goose 39 white", "eu 39"),
        ("timberland 6 inch", None),
        ("jeans 60", None),  # no clothing size
        ("dress 10.5", None),
        ("bracelet 8", None),  # accessories: no size read from a bare number
        ("lv speedy 25", "25"),  # bags: a width in cm, after a bag line or ending the query
        ("tote bag 100", None),
    ],
)
def test_a_bare_number_ending_a_footwear_or_clothing_query_is_its_size(extractor, query, size):
    # the rules alone: the tagger reads some of these numbers as sizes by itself
    assert extractor.parse(query, layers=("rules",)).size == size


def test_a_bare_number_read_as_a_style_gives_way_to_the_size(extractor):
    from qu.types import Span

    text = "petite trousers 6"
    spans = [
        Span(attribute="style", text="petite", start=0, end=6, source="tagger", confidence=0.8),
        Span(attribute="category", text="trousers", start=7, end=15, source="tagger", confidence=0.8),
        Span(attribute="style", text="6", start=16, end=17, source="tagger", confidence=0.8),
    ]
    out = extractor._bare_size(text, spans, [])
    assert [(sp.attribute, sp.text) for sp in out] == [("style", "petite"), ("category", "trousers"), ("size", "6")]
    # a span that reaches past the number is the tagger's reading of more than a size: it stays
    wider = [*spans[:2], Span(attribute="style", text="trousers 6", start=7, end=17, source="tagger", confidence=0.8)]
    assert extractor._bare_size(text, wider, []) == wider


def test_a_department_that_took_the_size_along_is_cut_short(extractor):
    from qu.types import Span

    text = "hoka clifton 9 mens 11"
    lines = extractor.product_lines.find(text, lambda: {"hoka"})
    spans = [
        Span(attribute="brand", text="hoka", start=0, end=4, source="tagger", confidence=0.8),
        Span(attribute="gender", text="mens 11", start=15, end=22, source="tagger", confidence=0.8),
    ]
    out = extractor._bare_size(text, spans, lines)
    assert [(sp.attribute, sp.text, sp.end) for sp in out] == [
        ("brand", "hoka", 4), ("gender", "mens", 19), ("size", "11", 22)
    ]
