from __future__ import annotations

import json
import shutil

import pytest

from qu.types import ParsedQuery
from retrieval import EmptyQueryError, Index, IndexFormatError, IndexNotFoundError, Listing, Retrieved, SearchConfig


@pytest.mark.parametrize("stage", ["bm25", "dense", "hybrid"])
def test_each_stage_finds_the_obvious_listing(tiny_index, stage):
    r = tiny_index.search("black nike air max trainers", k=5, stage=stage)
    assert isinstance(r, Retrieved)
    assert r.hits[0].id == "1"
    assert stage.replace("hybrid", "fused") in r.hits[0].scores
    assert any(m.startswith(("bm25#", "dense#")) for m in r.hits[0].matched)
    scores = [h.score for h in r.hits]
    assert scores == sorted(scores, reverse=True)


def test_hybrid_hits_carry_both_stage_scores(tiny_index):
    hit = tiny_index.search("levis jeans", k=3, stage="hybrid").hits[0]
    assert set(hit.scores) == {"bm25", "dense", "fused"}
    assert hit.scores["bm25"] > 0 and hit.scores["dense"] > 0


def test_get_and_len(tiny_index):
    assert len(tiny_index) == 20
    assert tiny_index.get("7").title.startswith("Dr. Martens")
    assert tiny_index.get("7").metadata == {"seller": "user1"}
    assert tiny_index.get("nope") is None


@pytest.mark.parametrize("query", ["", "   ", "the and of", "!!! ???", "-- ..."])
def test_queries_with_nothing_to_search_raise(tiny_index, query):
    with pytest.raises(EmptyQueryError, match="nothing to search for"):
        tiny_index.search(query)


def test_bad_arguments(tiny_index):
    with pytest.raises(ValueError, match="allowed are brand, category"):
        tiny_index.search("shoes", filters={"material": "leather"})
    with pytest.raises(ValueError, match="unknown stage 'rerank'"):
        tiny_index.search("shoes", stage="rerank")
    with pytest.raises(ValueError, match="needs a non-empty text value"):
        tiny_index.search("shoes", filters={"brand": ""})
    with pytest.raises(ValueError, match="price_min 50.0 is above price_max 10.0"):
        tiny_index.search("shoes", filters={"price_min": 50, "price_max": 10})


def test_explicit_filters_are_hard_and_explained(tiny_index):
    r = tiny_index.search("shoes", k=10, filters={"brand": "NIKE", "gender": ["women"]})
    assert [h.id for h in r.hits] == ["2"]
    assert r.applied_filters == {"brand": "NIKE", "gender": "women"}
    assert "brand=NIKE (filter)" in r.hits[0].matched
    # brands are an open vocabulary: one with no listings finds nothing; explicit filters never relax
    assert tiny_index.search("shoes", filters={"brand": "gucci"}).hits == []


@pytest.mark.parametrize(
    ("filters", "words"),
    [
        ({"colour": "blurple"}, "filter 'colour': unknown value 'blurple' matches no colour; values in this index"),
        ({"gender": "martian"}, "filter 'gender': unknown value 'martian'"),
        ({"size": "enormous"}, "filter 'size': unknown value 'enormous'"),
        ({"condition": "smelly"}, "filter 'condition': unknown value 'smelly'"),
        ({"category": "spaceships"}, "filter 'category': unknown value 'spaceships'"),
        ({"gender": ["women", "wimmin"]}, "unknown value 'wimmin'"),  # one bad value in a list
    ],
)
def test_unknown_closed_filter_values_raise(tiny_index, filters, words):
    with pytest.raises(ValueError) as e:
        tiny_index.search("shoes", filters=filters)
    assert words in str(e.value)
    if "colour" in filters:  # a few of the index's own values are listed
        assert "black, blue, brown" in str(e.value)


def test_known_filter_values_without_listings_find_nothing(tiny_index):
    # known to qu's vocabularies (or the gender synonyms) but on no listing of the tiny catalogue
    for filters in ({"colour": "purple"}, {"size": "xl"}, {"condition": "refurbished"}, {"category": "dungarees"}):
        assert tiny_index.search("shoes", filters=filters, stage="bm25").hits == [], filters
    # the index's own values pass even when qu does not know them ("used - excellent")
    r = tiny_index.search("jacket", k=20, filters={"condition": "used excellent", "gender": "mens"})
    assert r.hits and all(tiny_index.get(h.id).condition == "used - excellent" for h in r.hits)
    # a value qu reads from the query is never an error: it is relaxed or boosts instead
    r = tiny_index.search(
        "jacket", parsed=parsed("jacket", colour="blurple"), config=SearchConfig(filter_attributes=ALL)
    )
    assert r.hits


def test_unisex_matches_men_and_price_range(tiny_index):
    ids = {h.id for h in tiny_index.search("shoes", k=20, filters={"gender": "men"}).hits}
    assert {"7", "13", "18"} <= ids and "2" not in ids
    ids = {h.id for h in tiny_index.search("shoes", k=20, filters={"price_max": 30}).hits}
    assert ids == {"1", "2", "3"}


def parsed(query, conf=0.9, **attrs):
    return ParsedQuery(query=query, confidence={a: conf for a in attrs}, **attrs)


ALL = ("brand", "category", "colour", "size", "gender", "condition", "price")


def test_confident_parsed_attributes_filter_and_relax_in_order(tiny_index):
    cfg = SearchConfig(min_results=1, filter_attributes=ALL)
    r = tiny_index.search("levis w31", k=10, parsed=parsed("levis w31", brand="levis", size="w31"), config=cfg)
    assert r.relaxed_filters == ("size",)  # no W31 in stock: keep Levi's, drop the size
    assert {h.id for h in r.hits} == {"4", "5"}
    assert r.applied_filters == {"brand": "levis"}
    # relaxed size stays a boost, and the hit says which attribute matched how
    assert any("brand=levis (filter, from query)" in m for m in r.hits[0].matched)


def test_default_parsed_brand_boosts_and_size_relaxes(tiny_index):
    r = tiny_index.search("levis w31", k=5, parsed=parsed("levis w31", brand="levis", size="w31"))
    assert r.relaxed_filters == ("size",) and r.applied_filters == {}
    assert {h.id for h in r.hits[:2]} == {"4", "5"}
    assert "brand=levis (boost)" in r.hits[0].matched


def test_relaxed_size_still_boosts_a_near_match(tiny_index):
    cfg = SearchConfig(min_results=1, filter_attributes=ALL)
    r = tiny_index.search("levis w32", k=10, parsed=parsed("levis w32", brand="levis", size="w32"), config=cfg)
    assert r.relaxed_filters == ()
    assert [h.id for h in r.hits] == ["4"]
    assert "size=w32 (filter, from query)" in r.hits[0].matched


def test_the_brand_is_relaxed_before_the_category(tiny_index):
    # no Carhartt boots in stock: show boots (Carhartt boosted), not Carhartt's jacket
    cfg = SearchConfig(min_results=1, filter_attributes=ALL)
    q = "carhartt boots"
    r = tiny_index.search(q, k=5, parsed=parsed(q, brand="carhartt", category="boots"), config=cfg)
    assert r.relaxed_filters == ("brand",) and r.applied_filters == {"category": "boots"}
    assert [h.id for h in r.hits] == ["7"]


def test_footwear_climbs_to_shoes_before_the_gender_goes(tmp_path, embedder):
    # the only boots are infants': "mens boots" lists men's shoes, not infants' booties
    listings = [
        Listing(id="b1", title="Infant boys white booties", brand="madagascar", category="boots", gender="boys"),
        Listing(id="b2", title="Infant girls pink booties", brand="madagascar", category="boots", gender="girls"),
        Listing(id="s1", title="Men black leather ankle shoes", brand="homme", category="formal shoes", gender="men"),
        Listing(id="s2", title="Men brown desert shoes", brand="clarks", category="trainers", gender="men"),
        Listing(id="h1", title="Men black hat", brand="homme", category="hats", gender="men"),
    ]
    idx = Index.build(listings, tmp_path / "i", embedder=embedder, show_progress=False)
    cfg = SearchConfig(min_results=2, filter_attributes=ALL)
    q = "mens boots"
    r = idx.search(q, parsed=parsed(q, category="boots", gender="men"), config=cfg)
    assert r.applied_filters == {"gender": "men", "category": "shoes"} and r.relaxed_filters == ("category",)
    assert {h.id for h in r.hits} == {"s1", "s2"}
    # accessories do not climb: "mens gloves" drops the gender, not the garment
    listings.append(Listing(id="g1", title="Women wool gloves", brand="homme", category="gloves", gender="women"))
    listings.append(Listing(id="g2", title="Girls knitted gloves", brand="homme", category="gloves", gender="girls"))
    idx = Index.build(listings, tmp_path / "j", embedder=embedder, show_progress=False)
    q = "mens gloves"
    r = idx.search(q, parsed=parsed(q, category="gloves", gender="men"), config=cfg)
    assert r.applied_filters == {"category": "gloves"} and r.relaxed_filters == ("gender",)
    # the climb is taken back when a later step finds enough in the category asked for: no Baggit
    # shoes either, so other brands' boots, not other brands' shoes
    q = "baggit boots"
    listings.append(Listing(id="x1", title="Baggit tote", brand="baggit", category="bags"))
    idx = Index.build(listings, tmp_path / "k", embedder=embedder, show_progress=False)
    r = idx.search(q, parsed=parsed(q, brand="baggit", category="boots"), config=cfg)
    assert r.applied_filters == {"category": "boots"} and set(r.relaxed_filters) == {"brand"}
    assert {h.id for h in r.hits} == {"b1", "b2"}


def test_a_colour_widens_to_its_family_before_it_goes(tmp_path, embedder):
    # no burgundy dress in stock: red and maroon ones come before dresses of any colour
    listings = [
        Listing(id="r1", title="Red wrap dress", category="dresses", colour="red"),
        Listing(id="m1", title="Maroon velvet dress", category="dresses", colour="maroon"),
        Listing(id="k1", title="Black slip dress", category="dresses", colour="black"),
        Listing(id="b1", title="Burgundy knit jumper", category="jumpers", colour="burgundy"),
    ]
    idx = Index.build(listings, tmp_path / "i", embedder=embedder, show_progress=False)
    cfg = SearchConfig(min_results=2, filter_attributes=ALL)
    q = "burgundy dress"
    r = idx.search(q, parsed=parsed(q, category="dresses", colour="burgundy"), config=cfg)
    assert r.relaxed_filters == ("colour",) and r.applied_filters["category"] == "dresses"
    assert "burgundy" in r.applied_filters["colour"] and "red" in r.applied_filters["colour"]
    assert {h.id for h in r.hits} == {"r1", "m1"}
    # with too few in the family too, the colour goes, and the category stays
    cfg = SearchConfig(min_results=3, filter_attributes=ALL)
    r = idx.search(q, parsed=parsed(q, category="dresses", colour="burgundy"), config=cfg)
    assert r.relaxed_filters == ("colour",) and r.applied_filters == {"category": "dresses"}
    assert {h.id for h in r.hits} == {"r1", "m1", "k1"}
    # black has no family: it goes at once
    q = "black jumper"
    cfg = SearchConfig(min_results=1, filter_attributes=ALL)
    r = idx.search(q, parsed=parsed(q, category="jumpers", colour="black"), config=cfg)
    assert r.relaxed_filters == ("colour",) and r.applied_filters == {"category": "jumpers"}


def test_a_parsed_value_no_listing_has_is_relaxed_at_once(tmp_path, embedder):
    # a value no listing has would keep only the listings that lack the field (a category here),
    # so it is relaxed before counting
    listings = [
        Listing(id="a", title="Brown leather bag", brand="baggit", category="bags"),
        Listing(id="b", title="Black tote bag", category="bags"),
        Listing(id="c", title="Red silk scarf", brand="gucci", category="scarves"),
    ]
    idx = Index.build(listings, tmp_path / "i", embedder=embedder, show_progress=False)
    cfg = SearchConfig(min_results=1, filter_attributes=ALL)
    q = "prada bag"
    r = idx.search(q, parsed=parsed(q, brand="prada", category="bags"), config=cfg)
    assert r.relaxed_filters == ("brand",) and r.applied_filters == {"category": "bags"}
    assert {h.id for h in r.hits} == {"a", "b"}
    # a model name read as a category ("gucci horsebit"): the category goes, the brand stays
    q = "gucci horsebit"
    r = idx.search(q, parsed=parsed(q, brand="gucci", category="horsebit"), config=cfg)
    assert r.relaxed_filters == ("category",) and r.applied_filters == {"brand": "gucci"}
    assert [h.id for h in r.hits] == ["c"]  # b lacks a brand: not evidence of gucci
    # the API's explicit filters are never relaxed, known or not
    assert idx.search("bag", filters={"brand": "prada"}).applied_filters == {"brand": "prada"}


def test_less_confident_attributes_only_boost(tiny_index):
    p = parsed("jacket", conf=0.5, colour="blue")
    r = tiny_index.search("jacket", k=20, parsed=p)
    assert r.applied_filters == {}
    assert len(r.hits) == 20
    top = r.hits[0]
    assert top.id == "19" and "colour=blue (boost)" in top.matched


def test_category_filter_with_words(tiny_index):
    r = tiny_index.search("black", k=20, filters={"category": "shoes"})
    got = {h.id for h in r.hits}
    assert {"2", "18"} <= got  # running shoes, casual shoes (word match)
    assert not got & {"5", "10", "14"}  # black jeans, jacket, track pants
    try:
        from qu.taxonomy import category_path  # noqa: F401  (with qu's taxonomy: trainers, boots too)
    except ImportError:
        return
    assert {"1", "7"} <= got


def test_missing_field_is_not_excluded(tmp_path, embedder):
    listings = [
        Listing(id="a", title="Denim jacket", colour="blue", gender="women"),
        Listing(id="b", title="Denim jacket"),
        Listing(id="c", title="Denim jacket", colour="black", gender="men"),
    ]
    idx = Index.build(listings, tmp_path / "i", embedder=embedder, show_progress=False)
    for filters in ({"colour": "blue"}, {"gender": "women"}):
        r = idx.search("denim jacket", filters=filters)
        assert {h.id for h in r.hits} == {"a", "b"}
        hb = next(h for h in r.hits if h.id == "b")
        attr, value = next(iter(filters.items()))
        assert f"{attr}={value} (filter; listing has no {attr})" in hb.matched


def test_a_listing_without_a_brand_does_not_pass_a_brand_filter(tmp_path, embedder):
    """No brand is not evidence of the brand asked for ("gray vans for women" listed brandless grey
    dresses, which kept the colour filter in place of the other Vans)."""
    listings = [
        Listing(id="a", title="Blue denim jacket", brand="levis"),
        Listing(id="b", title="Blue denim jacket"),
        Listing(id="c", title="Blue denim jacket", brand="wrangler"),
    ]
    idx = Index.build(listings, tmp_path / "i", embedder=embedder, show_progress=False)
    assert [h.id for h in idx.search("denim jacket", filters={"brand": "levis"}).hits] == ["a"]
    # as a boost it ranks the brand first and keeps the rest
    q = "denim jacket"
    r = idx.search(q, parsed=parsed(q, conf=0.5, brand="levis"))
    assert r.hits[0].id == "a" and {h.id for h in r.hits} == {"a", "b", "c"}
    # parsed, it counts only listings with the brand: too few, so it is relaxed to a boost
    r = idx.search(q, parsed=parsed(q, brand="levis"), config=SearchConfig(min_results=2, filter_attributes=ALL))
    assert r.relaxed_filters == ("brand",) and r.hits[0].id == "a" and len(r.hits) == 3


def test_a_listing_with_the_filtered_value_ranks_above_one_missing_it(tmp_path, embedder):
    """A filter lets through a listing that does not say its colour; one that has the colour asked
    for ranks above it where the text scores them alike."""
    listings = [
        Listing(id="bare", title="Denim jacket, cropped"),
        Listing(id="coloured", title="Denim jacket, oversized", colour="blue"),
        *(Listing(id=str(i), title=t) for i, t in enumerate(["Red wool scarf", "Black leather boots",
                                                              "Green silk dress", "Grey cotton hoodie"])),
    ]
    idx = Index.build(listings, tmp_path / "i", embedder=embedder, show_progress=False)
    # the colour is part of the listing's text, so alone the shorter text scores higher
    assert [h.id for h in idx.search("denim jacket", stage="bm25").hits][:2] == ["bare", "coloured"]
    r = idx.search("denim jacket", stage="bm25", filters={"colour": "blue"})
    assert [h.id for h in r.hits][:2] == ["coloured", "bare"]


def test_load_missing_index_names_folder(tmp_path):
    with pytest.raises(IndexNotFoundError, match=str(tmp_path / "nope")):
        Index.load(tmp_path / "nope")
    assert issubclass(IndexNotFoundError, FileNotFoundError)


def test_manifest_has_format_version(tiny_index_dir):
    man = json.loads((tiny_index_dir / "manifest.json").read_text())
    assert man["format_version"] == 1 and man["count"] == 20


@pytest.mark.parametrize(
    ("change", "words"),
    [
        ({"format_version": 2}, "has format_version 2; this version reads 1: rebuild the index with `preloved index`"),
        ({"format_version": None}, "has format_version None; this version reads 1"),
        ({"format": "faiss"}, "is not a preloved retrieval index (format 'faiss')"),
    ],
)
def test_an_index_of_another_format_version_is_refused(tmp_path, tiny_index_dir, embedder, change, words):
    out = tmp_path / "index"
    shutil.copytree(tiny_index_dir, out)
    man = json.loads((out / "manifest.json").read_text())
    (out / "manifest.json").write_text(json.dumps({**man, **change}))
    with pytest.raises(IndexFormatError) as e:
        Index.load(out, embedder=embedder)
    assert str(e.value).startswith(f"{out / 'manifest.json'} ") and words in str(e.value)


def test_a_query_vector_embedded_ahead_gives_the_same_answer(tiny_index):
    """What SearchPipeline does: embed in a worker thread while qu parses, then pass the vector."""
    q = "black running trainers"
    vec = tiny_index.embed_query_async(q, use_cache=False).result()
    assert vec == pytest.approx(tiny_index.embed_query(q, use_cache=False), abs=1e-6)
    # from many threads at once (the server's waiting requests): each gets its own query's vector
    from concurrent.futures import ThreadPoolExecutor

    queries = [f"{c} running trainers size {n}" for c in ("black", "white", "red") for n in range(4, 9)]
    with ThreadPoolExecutor(8) as pool:
        vecs = list(pool.map(lambda x: tiny_index.embed_query_async(x, use_cache=False).result(), queries))
    for x, v in zip(queries, vecs, strict=True):
        assert v == pytest.approx(tiny_index.embedder.encode_query(x), abs=1e-5)
    for stage in ("dense", "hybrid"):
        ahead = tiny_index.search(q, k=5, stage=stage, query_vector=vec)
        plain = tiny_index.search(q, k=5, stage=stage, use_cache=False)
        assert [(h.id, h.score) for h in ahead.hits] == [(h.id, h.score) for h in plain.hits]


def test_bm25_leaves_out_the_letters_and_bare_numbers_of_a_fashion_querys_size():
    from qu.types import Span
    from retrieval.index import _without_size_marks
    from retrieval.text import tokenize

    def p(query, sizes, fashion=True):
        spans = [Span(attribute="size", text=t, start=query.index(t), end=query.index(t) + len(t), value=v)
                 for t, v in sizes]
        extra = {"category_path": ["shoes", "heels"]} if fashion else {}
        return ParsedQuery(query=query, spans=spans, extra=extra)

    def terms(query, sizes, fashion=True):
        return _without_size_marks(tokenize(query), p(query, sizes, fashion))

    # "5" and "s"/"m" match brands as words ("Inc 5", "s.Oliver"): the size filter has them
    assert terms("womens black heels 5", [("5", "5")]) == ["women", "black", "heel"]
    assert terms("hoodie s/m", [("s", "s"), ("m", "m")]) == ["hoodie"]
    # waist, system sizes, measures and long numbers stay; so does everything outside fashion
    assert terms("levis w32 l30", [("w32 l30", "w32 l30")]) == ["levi", "w32", "l30"]
    assert terms("uk 8 dress", [("uk 8", "uk 8")]) == ["uk", "8", "dress"]
    assert terms("necklace 925", [("925", "925")]) == ["necklace", "925"]
    assert terms("pixel 3 xl stand", [("xl", "xl")], fashion=False) == ["pixel", "3", "xl", "stand"]
    # a query that is only its size keeps it
    assert terms("xl", [("xl", "xl")]) == ["xl"]


def test_a_category_climbs_the_taxonomy_before_it_is_dropped(tmp_path, embedder):
    # listings typed "sweatshirts" (as the demo catalogue types hoodies) and "t-shirts"
    listings = [
        Listing(id="a", title="Grey hooded sweatshirt", category="sweatshirts"),
        Listing(id="b", title="Black zip hoodie", category="sweatshirts"),
        Listing(id="c", title="Grey hoodie print t-shirt", category="t-shirts"),
    ]
    idx = Index.build(listings, tmp_path / "i", embedder=embedder, show_progress=False)
    cfg = SearchConfig(min_results=1, filter_attributes=ALL)
    # no listing says "hoodies": its parent, sweatshirts, filters instead of nothing
    r = idx.search("grey hoodie", parsed=parsed("grey hoodie", category="hoodies"), config=cfg)
    assert r.applied_filters == {"category": "sweatshirts"} and r.relaxed_filters == ("category",)
    assert {h.id for h in r.hits} == {"a", "b"}
    # too few results: the category climbs one level at a time ("t-shirts" -> "tops" -> "clothing")
    cfg = SearchConfig(min_results=3, filter_attributes=ALL)
    r = idx.search("grey tee", parsed=parsed("grey tee", category="t-shirts"), config=cfg)
    assert r.applied_filters == {"category": "clothing"} and r.relaxed_filters == ("category",)
    assert len(r.hits) == 3


def test_a_listings_hyphenated_category_is_found_in_the_taxonomy():
    from retrieval.attributes import value_matches

    # listing values are folded into words: "t-shirts" is stored as "t shirts"
    assert value_matches("category", "tops", "t shirts")
    assert value_matches("category", "clothing", "t shirts")
    assert not value_matches("category", "shoes", "t shirts")


def test_a_shops_pair_or_path_of_categories_is_each_kind_it_names_and_what_holds_them(tmp_path, embedder):
    from retrieval.attributes import value_matches

    # "Coats & Jackets" and "Men > Jeans > Straight" are stored folded: "coats jackets", "men jeans straight"
    for asked in ("outerwear", "coats", "jackets", "clothing"):
        assert value_matches("category", asked, "coats jackets"), asked
    assert not value_matches("category", "dresses", "coats jackets")
    assert value_matches("category", "trousers", "men jeans straight")
    assert value_matches("category", "jeans", "men jeans straight")
    assert value_matches("category", "shoes", "women shoes boots")
    assert not value_matches("category", "trainers", "women shoes boots")
    assert not value_matches("category", "outerwear", "water bottle")  # names no category: words only, as before
    listings = [
        Listing(id="barbour", title="Barbour Beaufort wax jacket olive", category="Coats & Jackets"),
        Listing(id="carhartt", title="Carhartt Detroit jacket brown", category="Jackets"),
        Listing(id="jumper", title="Ralph Lauren cable knit jumper navy", category="Knitwear"),
        Listing(id="jeans", title="Levi's 501 straight jeans", category="Men > Jeans > Straight"),
    ]
    idx = Index.build(listings, tmp_path / "i", embedder=embedder, show_progress=False)
    cfg = SearchConfig(min_results=1, filter_attributes=ALL)
    r = idx.search("outerwear", parsed=parsed("outerwear", category="outerwear"), config=cfg)
    assert r.applied_filters == {"category": "outerwear"} and {h.id for h in r.hits} == {"barbour", "carhartt"}
    r = idx.search("trousers", parsed=parsed("trousers", category="trousers"), config=cfg)
    assert [h.id for h in r.hits] == ["jeans"]
    # relaxed to boosts (too few coats to filter on), a coat keeps every boost a sibling jacket gets, and one more
    r = idx.search("coats", parsed=parsed("coats", category="coats"), config=SearchConfig(filter_attributes=ALL))
    assert r.relaxed_filters == ("category",) and r.hits[0].id == "barbour"


def test_a_listing_with_no_gender_is_of_the_department_its_category_path_opens_with(tmp_path, embedder):
    listings = [
        Listing(id="w", title="Dr Martens 1460 cherry red boots", category="Women > Shoes > Boots"),
        Listing(id="m", title="Timberland 6 inch boots", category="Men - Shoes - Boots"),
        Listing(id="g", title="Hunter wellington boots", category="Boots", gender="Women"),  # its own gender
        Listing(id="x", title="Chelsea boots", category="Boots"),  # none at all: not filtered out by gender
    ]
    idx = Index.build(listings, tmp_path / "i", embedder=embedder, show_progress=False)
    cfg = SearchConfig(min_results=1, filter_attributes=ALL)
    r = idx.search("womens boots", parsed=parsed("womens boots", gender="women", category="boots"), config=cfg)
    assert r.applied_filters == {"gender": "women", "category": "boots"}
    assert {h.id for h in r.hits} == {"w", "g", "x"}  # the men's boots are filtered out by their path
    assert idx.get("w").gender is None  # the listing itself is kept as given


def test_a_brand_or_colour_under_another_name_matches_by_qus_lexicons(tmp_path, embedder):
    from retrieval.attributes import value_matches

    # sellers write brands and colours their own way; qu reads the query to canonical values
    assert value_matches("brand", "the north face", "tnf") and value_matches("brand", "the north face", "north face")
    assert value_matches("brand", "dr. martens", "doc martens")
    assert value_matches("colour", "grey", "gray") and value_matches("colour", "navy blue", "navy")
    assert value_matches("size", "m", "medium") and value_matches("size", "w32", "32x30")
    assert not value_matches("size", "m", "l") and not value_matches("size", "uk 8", "8")  # "8" names no system
    # a size in a fit is both: "12 petite" is not any 12, nor any petite
    assert value_matches("size", "12 petite", "12 petite") and value_matches("size", "12 petite", "uk 12 petite")
    assert not value_matches("size", "12 petite", "12") and not value_matches("size", "12 petite", "petite 8")
    assert value_matches("condition", "new with tags", "bnwt") and value_matches("condition", "used", "good condition")
    assert not value_matches("condition", "new", "used good")
    # a used item's grade as a marketplace writes it
    assert value_matches("condition", "used", "very good") and value_matches("condition", "used", "satisfactory")
    assert not value_matches("condition", "new", "very good")
    assert not value_matches("condition", "new with tags", "good")
    # ... also after "used" (Depop's "Used - Excellent") or before what it says of the wear; and a used item "like
    # new" is no "new", though the two share a word
    assert value_matches("condition", "used like new", "used excellent")
    assert value_matches("condition", "used", "good some signs of wear")
    assert not value_matches("condition", "new", "like new") and value_matches("condition", "used", "like new")
    assert value_matches("condition", "new", "new without tags")
    assert not value_matches("condition", "new with tags", "new")
    # departments as marketplaces name them, and a gender named by a value's first word that names one
    assert value_matches("gender", "women", "womenswear") and value_matches("gender", "men", "menswear")
    assert value_matches("gender", "girls", "girls clothing") and value_matches("gender", "boys", "baby boys")
    assert not value_matches("gender", "women", "menswear") and not value_matches("gender", "girls", "baby boys")
    # exact lookups only: the brand "Basics" is not a misspelt Asics
    assert not value_matches("brand", "asics", "basics")
    # a company's form of its name is its brand ("Levi Strauss & Co.", "Marks and Spencer plc", folded)
    assert value_matches("brand", "levi's", "levi strauss co")
    assert value_matches("brand", "marks & spencer", "marks and spencer plc")
    assert not value_matches("brand", "nike", "company")
    listings = [
        Listing(id="a", title="Nuptse puffer jacket", brand="TNF", colour="Gray"),
        Listing(id="b", title="Puffer jacket, black", brand="North Face", colour="Black"),
        Listing(id="c", title="Puffer jacket", brand="Basics", colour="Grey"),
    ]
    idx = Index.build(listings, tmp_path / "i", embedder=embedder, show_progress=False)
    cfg = SearchConfig(min_results=1, filter_attributes=ALL)
    q = "grey north face puffer"
    r = idx.search(q, parsed=parsed(q, brand="the north face", colour="grey"), config=cfg)
    assert r.applied_filters == {"brand": "the north face", "colour": "grey"}
    assert [h.id for h in r.hits] == ["a"]


def test_values_the_query_does_not_want_are_excluded_and_never_relaxed(tmp_path, embedder):
    """qu's extra["negated"] ("dress not black") leaves out the listings with that value; a listing
    without a colour stays; the exclusion holds however few results remain, and BM25 does not
    rank on the word."""
    listings = [
        Listing(id="black", title="Black midi dress", colour="black", category="dresses"),
        Listing(id="blue", title="Blue midi dress", colour="blue", category="dresses"),
        Listing(id="bare", title="Midi dress", category="dresses"),
        Listing(id="titled", title="Black slip dress", category="dresses"),
        *(Listing(id=str(i), title=t) for i, t in enumerate(["Red wool scarf", "Green silk top",
                                                              "White linen shirt", "Grey cotton hoodie"])),
    ]
    idx = Index.build(listings, tmp_path / "i", embedder=embedder, show_progress=False)
    q = "dress not black"
    p = parsed(q, category="dresses").model_copy(update={"extra": {"negated": {"colour": ["black"]}}})
    r = idx.search(q, parsed=p, config=SearchConfig(min_results=10, filter_attributes=ALL))
    assert {"blue", "bare", "titled"} <= {h.id for h in r.hits} and "black" not in {h.id for h in r.hits}
    assert r.applied_filters["not_colour"] == "black" and "colour" not in r.relaxed_filters
    # the word "black" adds nothing to the black-titled listing that lacks a colour
    score = {h.id: h.score for h in idx.search(q, stage="bm25", parsed=p).hits}
    assert score["titled"] == pytest.approx(score["blue"])
    score = {h.id: h.score for h in idx.search(q, stage="bm25").hits}
    assert score["titled"] > score["blue"]  # (read without qu, it does)
    # an explicit colour filter from the API wins over the words
    r = idx.search(q, parsed=p, filters={"colour": "black"})
    assert r.hits[0].id == "black" and "blue" not in {h.id for h in r.hits}
    assert "not_colour" not in r.applied_filters


def test_bm25_matches_the_words_qu_read_where_the_shopper_ran_them_together(tmp_path, embedder):
    """qu's extra["read_as"] ("blackdress" read as "black dress") adds its words to BM25's terms; the words
    as typed stay (a seller may have written them so)."""
    listings = [Listing(id="d", title="Black midi dress"), Listing(id="s", title="Red silk scarf"),
                Listing(id="t", title="blackdress party top")]
    idx = Index.build(listings, tmp_path / "i", embedder=embedder, show_progress=False)
    q = "blackdress"
    plain = {h.id: h.score for h in idx.search(q, stage="bm25").hits}
    assert plain.get("d", 0.0) == 0.0 and plain["t"] > 0
    p = parsed(q).model_copy(update={"extra": {"read_as": "black dress"}})
    read = {h.id: h.score for h in idx.search(q, stage="bm25", parsed=p).hits}
    assert read["d"] > 0 and read["t"] > 0 and read.get("s", 0.0) == 0.0


@pytest.mark.parametrize(("word", "term"), [
    ("boots", "boot"), ("jeans", "jean"), ("dress", "dress"), ("dresses", "dress"), ("watches", "watch"),
    ("brushes", "brush"), ("boxes", "box"), ("glasses", "glass"), ("shoes", "shoe"), ("blouses", "blouse"),
    ("sizes", "size"), ("bus", "bus"),
])
def test_plurals_fold_to_the_singular_term(word, term):
    """A listing's "Red Dress" matches a query for "red dresses" ("dresses" had folded to "dresse")."""
    from retrieval.text import stem

    assert stem(word) == term
