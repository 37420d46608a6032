"""Writes: API key, bulk upsert (JSON array or JSON lines), fetch, delete; read-your-writes."""

from __future__ import annotations

import json

NEW = [{"id": "n1", "title": "Stone Island Men Olive Overshirt", "brand": "stone island", "colour": "green",
        "category": "shirts", "price": 120.0, "seller": "u9"},
       {"id": "n2", "title": "Arc'teryx Beta Jacket Orange Gorpcore", "brand": "arc'teryx", "price": 250}]


def search_ids(client, q: str, k: int) -> list[str]:
    r = client.get("/search", params={"q": q, "k": k, "stages": "hybrid"})
    assert r.status_code == 200, r.text
    return [x["id"] for x in r.json()["results"]]


def test_writes_need_the_api_key(client):
    assert client.put("/listings", json=NEW).status_code == 401
    assert client.put("/listings", json=NEW, headers={"X-API-Key": "wrong"}).status_code == 401
    assert client.delete("/listings/1").status_code == 401
    assert client.get("/listings/n1").status_code == 404  # nothing was written
    assert client.get("/listings/1").status_code == 200  # reads are open


def test_bearer_token_is_accepted(client):
    r = client.delete("/listings/1", headers={"Authorization": "Bearer test-key"})
    assert r.status_code == 200, r.text


def test_upsert_json_array_then_search_and_get(client, auth):
    r = client.put("/listings", json=NEW, headers=auth)
    assert r.status_code == 200, r.text
    assert r.json()["upserted"] == 2 and r.json()["index_size"] == 22
    got = client.get("/listings/n1").json()
    assert got["title"] == NEW[0]["title"] and got["metadata"] == {"seller": "u9"}
    assert search_ids(client, "stone island overshirt", 3)[0] == "n1"


def test_upsert_json_lines(client, auth):
    body = "\n".join(json.dumps(x) for x in NEW) + "\n"
    r = client.put("/listings", content=body, headers={**auth, "Content-Type": "application/x-ndjson"})
    assert r.status_code == 200, r.text
    assert r.json()["ids"] == ["n1", "n2"]


def test_upsert_reads_other_names_for_the_fields(client, auth):
    row = {"id": "n3", "name": "Carhartt WIP Detroit Jacket", "color": "brown", "designer": "carhartt"}
    r = client.put("/listings", json=[row], headers=auth)
    assert r.status_code == 200, r.text
    got = client.get("/listings/n3").json()
    assert (got["title"], got["colour"], got["brand"]) == ("Carhartt WIP Detroit Jacket", "brown", "carhartt")


def test_upsert_reads_what_a_marketplace_api_writes_as_the_file_reader_does(client, auth):
    row = {"id": 77, "title": "Nike Air Max 90", "brand": {"id": 53, "title": "Nike"}, "size": {"name": "UK 9"},
           "colour": ["White", "Grey"], "price": "£45.00"}
    r = client.put("/listings", json=[row], headers=auth)
    assert r.status_code == 200, r.text
    got = client.get("/listings/77").json()
    assert (got["brand"], got["size"], got["colour"], got["price"]) == ("Nike", "UK 9", "White, Grey", 45.0)
    bad = {"id": 78, "title": "t", "brand": {"id": 53}, "price": "about 45"}  # no text, no number: refused
    r = client.put("/listings", json=[bad], headers=auth)
    assert r.status_code == 422 and "2 invalid listing field(s)" in r.text and "brand" in r.text


def test_upsert_replaces_a_listing(client, auth):
    r = client.put("/listings", json=[{"id": "9", "title": "Zara Women Red Floral Maxi Dress", "price": 5}],
                   headers=auth)
    assert r.status_code == 200
    assert client.get("/listings/9").json()["price"] == 5
    assert client.get("/readyz").json()["index_size"] == 20


def test_invalid_listings_write_nothing(client, auth):
    bad = [NEW[0], {"id": "x"}, {"title": "no id"}, "not an object", {"id": "y", "title": "t", "price": -1}]
    r = client.put("/listings", json=bad, headers=auth)
    assert r.status_code == 422
    assert "item 1" in r.json()["detail"] and "nothing was written" in r.json()["detail"]
    assert client.get("/listings/n1").status_code == 404
    for body in (b"", b"   ", b"[]", b"{not json", b"[" * 50_000, b"\xff\xfe"):
        r = client.put("/listings", content=body, headers={**auth, "Content-Type": "application/json"})
        assert 400 <= r.status_code < 500, (body[:10], r.status_code, r.text)
    nested = [{"id": "z", "title": "t", "extra": {"a": {"b": 1}}}]
    assert client.put("/listings", json=nested, headers=auth).status_code == 422


def test_delete_then_search_never_returns_it(client, auth):
    before = search_ids(client, "black nike trainers", 20)
    assert "1" in before
    r = client.delete("/listings/1", headers=auth)
    assert r.status_code == 200 and r.json() == {"deleted": "1"}
    after = search_ids(client, "black nike trainers", 20)
    assert "1" not in after
    assert client.get("/listings/1").status_code == 404
    assert client.delete("/listings/1", headers=auth).status_code == 404
    if client.get("/readyz").json()["reranker"]:
        assert client.post("/rerank", json={"query": "nike", "ids": ["1"]}).status_code == 404


def test_writes_are_refused_when_no_key_is_configured(service_settings, pipeline):
    from fastapi.testclient import TestClient

    from service import create_app

    settings = service_settings.model_copy(update={"api_key": None})
    with TestClient(create_app(settings, pipeline)) as c:
        for r in (c.put("/listings", json=NEW), c.put("/listings", json=NEW, headers={"X-API-Key": "anything"}),
                  c.delete("/listings/1")):
            assert r.status_code == 401, r.text
            assert "PRELOVED_API_KEY" in r.json()["detail"] and "ALLOW_OPEN_WRITES" in r.json()["detail"]
        assert c.get("/listings/n1").status_code == 404 and c.get("/listings/1").status_code == 200
        assert c.get("/readyz").json()["writes_need_api_key"] is True


def test_open_writes_only_when_explicitly_allowed(service_settings, pipeline):
    from fastapi.testclient import TestClient

    from service import create_app

    settings = service_settings.model_copy(update={"api_key": None, "allow_open_writes": True})
    with TestClient(create_app(settings, pipeline)) as c:
        assert c.put("/listings", json=NEW).status_code == 200
        assert c.get("/readyz").json()["writes_need_api_key"] is False


def test_ids_with_a_slash_can_be_fetched_and_deleted(client, auth):
    listing = {"id": "shop/42/a b", "title": "Barbour Green Waxed Jacket", "brand": "barbour"}
    assert client.put("/listings", json=[listing], headers=auth).status_code == 200
    r = client.get("/listings/shop/42/a b")
    assert r.status_code == 200, r.text
    assert r.json()["id"] == "shop/42/a b" and r.json()["title"] == listing["title"]
    assert client.get("/listings/shop%2F42%2Fa%20b").json()["id"] == "shop/42/a b"  # encoded works too
    assert client.get("/listings/shop/42").status_code == 404  # a prefix is not the listing
    r = client.delete("/listings/shop/42/a b", headers=auth)
    assert r.status_code == 200 and r.json() == {"deleted": "shop/42/a b"}
    assert client.get("/listings/shop/42/a b").status_code == 404
    assert client.delete("/listings/shop/42/a b", headers=auth).status_code == 404


def test_upserting_the_same_listings_twice_is_idempotent(client, auth):
    for _ in range(3):
        r = client.put("/listings", json=NEW, headers=auth)
        assert r.status_code == 200, r.text
        assert r.json()["index_size"] == 22
    r = client.put("/listings", json=[{**NEW[0], "price": 99.0}, NEW[1]], headers=auth)
    assert r.status_code == 200, r.text
    assert client.get("/listings/n1").json()["price"] == 99.0
