from pathlib import Path

import pytest

from qu.types import ParsedQuery
from rerank.catalogue_pairs import build, grade, main
from retrieval.types import Listing

TINY = Path(__file__).resolve().parents[1] / "data" / "tiny_catalogue.jsonl"


def parsed(**attrs):
    return ParsedQuery(query="q", confidence={a: 0.9 for a in attrs}, **attrs)


def test_a_listing_is_graded_by_the_attributes_it_shares_with_the_query():
    p = parsed(brand="nike", category="trainers", colour="black")
    assert grade(p, Listing(id="1", title="t", brand="Nike", category="trainers", colour="black")) == "exact"
    # the kind agrees, the brand does not: a substitute (ESCI's S)
    assert grade(p, Listing(id="2", title="t", brand="Adidas", category="trainers", colour="black")) == "substitute"
    # another kind of product is irrelevant, whatever else agrees
    assert grade(p, Listing(id="3", title="t", brand="Nike", category="hoodies", colour="black")) == "irrelevant"
    # a field the listing lacks is not held against it; no category: nothing to grade by
    assert grade(p, Listing(id="4", title="t", category="trainers")) == "exact"
    assert grade(p, Listing(id="5", title="t", brand="Nike")) is None
    # the taxonomy: a query for shoes takes trainers as exact
    assert grade(parsed(category="shoes"), Listing(id="6", title="t", category="trainers")) == "exact"


@pytest.fixture(scope="module")
def index(tmp_path_factory):
    from retrieval import Embedder, Index, read_catalogue

    out = tmp_path_factory.mktemp("pairs") / "index"
    return Index.build(read_catalogue(TINY), out, embedder=Embedder(device="cpu"), show_progress=False)


def test_pairs_from_real_queries_over_a_real_index(index):
    from qu import load_extractor

    queries = ["black nike trainers", "zara dress", "something with no category at all"]
    rows = build(queries, index, load_extractor(), depth=10, show_progress=False)
    by_q = {}
    for r in rows:
        by_q.setdefault(r["query"], []).append(r)
    assert set(by_q) == {"black nike trainers", "zara dress"}  # no category read: skipped
    nike = {r["listing_id"]: r["label"] for r in by_q["black nike trainers"]}
    assert nike["1"] == 1.0  # Nike Men Black Air Max Trainers
    assert all(lab in (0.0, 0.1, 1.0) for lab in nike.values())
    assert any(lab == 0.0 for lab in nike.values())  # other kinds of product are the negatives
    assert {r["listing_id"] for r in by_q["zara dress"] if r["label"] == 1.0} == {"9"}
    assert all(r["text"] and r["query"] for r in rows)


def test_the_cli_takes_only_train_queries(tmp_path, capsys):
    assert main(["--out", str(tmp_path / "p.jsonl"), "--split", "test"]) == 2
    assert "use a train split" in capsys.readouterr().err
    assert not (tmp_path / "p.jsonl").exists()
