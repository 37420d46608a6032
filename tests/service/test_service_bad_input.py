"""Bad input gets a clear 4xx and a JSON body, never a 500 or a traceback."""

from __future__ import annotations

import json

import pytest

from service import create_app


def assert_clear_4xx(r, status: int | None = None):
    assert 400 <= r.status_code < 500, (r.status_code, r.text[:300])
    if status is not None:
        assert r.status_code == status, r.text[:300]
    body = r.json()
    assert body["detail"] and body["code"] and body["request_id"]
    assert "Traceback" not in r.text


@pytest.mark.parametrize("params", [
    {"q": ""}, {"q": "   "}, {"q": "\t\n"}, {}, {"q": "x" * 513}, {"q": "x" * 10_000}, {"q": "x" * 10_001},
    {"q": "nike", "k": 0}, {"q": "nike", "k": 101}, {"q": "nike", "k": 10**9}, {"q": "nike", "k": -1},
    {"q": "nike", "k": "ten"}, {"q": "nike", "filter": "bogus:1"}, {"q": "nike", "filter": "nocolon"},
    {"q": "nike", "filter": "price_min:cheap"}, {"q": "nike", "exclude": "bogus"},
    {"q": "nike", "stages": "magic"},
    {"q": "nike", "rerank_depth": 0}, {"q": "the of and"}, {"q": "!!!"},
])
def test_bad_get_search(client, params):
    assert_clear_4xx(client.get("/search", params=params))


def test_too_long_query_message_names_the_limit(client):
    r = client.get("/search", params={"q": "x" * 513})
    assert r.status_code == 422 and "512" in r.json()["detail"]


def test_style_is_not_a_filter_and_the_422_lists_the_valid_names(client):
    """qu reads a style (a boost), but listings have no style field to filter on."""
    for r in (client.post("/search", json={"query": "dress", "filters": {"style": "vintage"}}),
              client.get("/search", params={"q": "dress", "filter": "style:vintage"})):
        assert_clear_4xx(r, 422)
        detail = r.json()["detail"]
        assert r.json()["code"] == "invalid_request" and "'style'" in detail and "boost" in detail
        assert "brand, category, size, colour, gender, condition, price_min, price_max" in detail
    r = client.post("/search", json={"query": "vintage dress", "exclude": ["style"], "stages": "hybrid"})
    assert r.status_code == 200, r.text  # dropping the style read from a query (a chip) still works


@pytest.mark.parametrize("body", [
    {"query": ""}, {"query": " "}, {"query": "nike", "k": 0}, {"query": "nike", "k": 10**9},
    {"query": "nike", "k": 1.5}, {"query": "nike", "k": True}, {"query": 42}, {"query": None},
    {"query": ["a"]},
    {"query": "nike", "filters": {"bogus": "x"}}, {"query": "nike", "filters": {"brand": {"$gt": 1}}},
    {"query": "nike", "filters": {"brand": ""}}, {"query": "nike", "filters": {"price_min": "cheap"}},
    {"query": "nike", "filters": ["brand"]}, {"query": "nike", "surprise": 1}, {"k": 5}, [], "nike", 42, None,
    {"query": "nike", "exclude": ["bogus"]}, {"query": "x" * 10_000},
])
def test_bad_post_search(client, body):
    assert_clear_4xx(client.post("/search", json=body))


@pytest.mark.parametrize("raw", [
    b"", b"{", b"{\"query\": \"nike\"", b"\xff\xfe\xfd", b"{\"query\": \"\xff\xfe\"}", b"[" * 100_000,
    b"{\"a\":" * 50_000, b"{\"query\": \"nike\", \"filters\": " + b"[" * 100_000 + b"]" * 100_000 + b"}",
    b"null", b"\x00\x00",
])
def test_malformed_json_bodies(client, raw):
    assert_clear_4xx(client.post("/search", content=raw, headers={"Content-Type": "application/json"}))


def test_wrong_content_type_is_a_clear_4xx(client):
    assert_clear_4xx(client.post("/search", content=b"query=nike", headers={"Content-Type": "text/plain"}))


def test_invalid_utf8_in_the_query_string_is_answered(client):
    r = client.get("/search?q=%ff%fe%20nike")
    assert r.status_code in (200, 422), r.text  # decoded with replacement characters, then searched


@pytest.mark.parametrize("query", ["👟 nike trainers 🔥", "ナイキ スニーカー", "nike\u0000trainers",
                                   "\u202enike", "<script>alert(1)</script> nike",
                                   "'; DROP TABLE listings; --",
                                   "nike" + "\u0301" * 300, "%s%n%x", "{{7*7}} nike"])
def test_odd_but_valid_queries_are_searched(client, query):
    r = client.post("/search", json={"query": query, "k": 3})
    assert r.status_code in (200, 422), r.text  # 422 only when nothing searchable is left
    if r.status_code == 200:
        assert r.json()["query"] == query  # returned as data (JSON-escaped), never interpreted


def test_parse_and_rerank_bad_input(client):
    assert_clear_4xx(client.post("/parse", json={"query": ""}))
    assert_clear_4xx(client.post("/parse", json={"query": "x" * 600}))
    assert_clear_4xx(client.post("/parse", json={}))
    assert_clear_4xx(client.post("/rerank", json={"query": "nike"}))
    both = {"query": "nike", "ids": ["1"], "listings": [{"id": "a", "title": "t"}]}
    assert_clear_4xx(client.post("/rerank", json=both))
    assert_clear_4xx(client.post("/rerank", json={"query": "nike", "ids": ["x"] * 201}))
    assert_clear_4xx(client.post("/rerank", json={"query": "nike", "listings": [{"id": "a"}]}))


def test_unknown_paths_and_methods(client):
    assert_clear_4xx(client.get("/nope"), 404)
    assert_clear_4xx(client.delete("/search"), 405)
    assert_clear_4xx(client.get("/listings/" + "x" * 300), 422)


def test_body_over_the_limit_is_413(service_settings, pipeline):
    from fastapi.testclient import TestClient

    settings = service_settings.model_copy(update={"max_body_bytes": 1000})
    with TestClient(create_app(settings, pipeline)) as c:
        r = c.post("/search", content=json.dumps({"query": "x" * 2000}),
                   headers={"Content-Type": "application/json"})
        assert_clear_4xx(r, 413)

        def chunks():
            for _ in range(20):
                yield b"x" * 100

        r = c.put("/listings", content=chunks(), headers={"X-API-Key": "test-key"})
        assert_clear_4xx(r, 413)
        assert c.get("/healthz").status_code == 200


def test_request_timeout_is_504(service_settings, pipeline):
    from fastapi.testclient import TestClient

    settings = service_settings.model_copy(update={"request_timeout_s": 1e-6})
    with TestClient(create_app(settings, pipeline)) as c:
        r = c.get("/search", params={"q": "nike trainers"})
        assert r.status_code == 504 and "limit" in r.json()["detail"]
        assert "preloved_request_timeouts_total{route=\"/search\"} 1.0" in c.get("/metrics").text
