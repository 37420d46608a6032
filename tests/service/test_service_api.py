"""The API's shape and behaviour over the real pipeline (20 listings)."""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient
from svc_support import free_port

from preloved.settings import Settings
from service import create_app


def test_get_search_returns_the_contract(needs_reranker, client):
    r = client.get("/search", params={"q": "black nike trainers", "k": 5, "stages": "rerank"})
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["query"] == "black nike trainers"
    assert body["k"] == 5 and body["stages"] == "rerank"
    assert 1 <= len(body["results"]) <= 5
    for row in body["results"]:
        assert {"id", "title", "score"} <= set(row)
    assert body["parsed"]["brand"] == "nike"
    assert body["parsed"]["spans"], "spans are returned"
    assert {"attribute", "text", "start", "end", "source"} <= set(body["parsed"]["spans"][0])
    for stage in ("qu", "retrieval", "rerank", "total"):
        assert body["timings_ms"][stage] >= 0
    assert r.headers["x-request-id"] == body["request_id"]
    default = client.get("/search", params={"q": "black nike trainers", "k": 5}).json()
    assert default["results"][0]["brand"] == "nike" and default["stages"] == "rerank"
    hybrid = client.get("/search", params={"q": "black nike trainers", "k": 5, "stages": "hybrid"}).json()
    assert hybrid["results"][0]["brand"] == "nike" and "rerank" not in hybrid["timings_ms"]
    assert default["rerank_depth"] == 50 and hybrid["rerank_depth"] is None  # one search at a time: full depth
    assert client.get("/search", params={"q": "nike", "rerank_depth": 7}).json()["rerank_depth"] == 7
    assert "preloved_rerank_shallow_total 0.0" in client.get("/metrics").text


def test_post_search_with_debug_returns_stage_scores(needs_reranker, client):
    r = client.post("/search", json={"query": "black nike trainers", "k": 3, "debug": True, "stages": "rerank"})
    assert r.status_code == 200, r.text
    row = r.json()["results"][0]
    assert {"bm25", "dense", "rerank"} <= set(row["scores"])
    assert isinstance(row["matched"], list)


def test_search_without_rerank(client):
    r = client.post("/search", json={"query": "denim jacket", "k": 4, "stages": "hybrid"})
    assert r.status_code == 200, r.text
    assert "rerank" not in r.json()["timings_ms"]


def test_facets_count_the_results(client):
    body = client.post("/search", json={"query": "jacket", "k": 20}).json()
    brands = {}
    for row in body["results"]:
        if row.get("brand"):
            brands[row["brand"]] = brands.get(row["brand"], 0) + 1
    assert body["facets"]["brand"] == brands


def test_pages_continue_one_another(client):
    def ids(**params):
        r = client.post("/search", json={"query": "jacket", "stages": "hybrid", **params},
                        headers={"Cache-Control": "no-cache"})
        assert r.status_code == 200, r.text
        assert r.json()["offset"] == params.get("offset", 0)
        return [row["id"] for row in r.json()["results"]]

    whole = ids(k=9)
    assert len(whole) == 9
    assert ids(k=4) + ids(k=3, offset=4) + ids(k=2, offset=7) == whole
    got = client.get("/search", params={"q": "jacket", "stages": "hybrid", "k": 3, "offset": 4}).json()
    assert [row["id"] for row in got["results"]] == whole[4:7] and got["offset"] == 4
    cached = client.get("/search", params={"q": "jacket", "stages": "hybrid", "k": 2, "offset": 7}).json()
    assert [row["id"] for row in cached["results"]] == whole[7:9]  # the page from the first 9, as cached
    assert ids(k=5, offset=30) == []  # past the last listing: an empty page, not an error


@pytest.mark.parametrize("params", [{"k": 10, "offset": 95}, {"offset": -1}, {"offset": 100}])
def test_a_page_past_the_deepest_result_is_a_clear_error(client, params):
    for r in (client.post("/search", json={"query": "jacket", **params}),
              client.get("/search", params={"q": "jacket", **params})):
        assert r.status_code == 422, r.text
        assert "offset" in r.json()["detail"]
    if params.get("offset") == 95:
        assert "offset + k is 105" in r.json()["detail"]
    assert client.post("/search", json={"query": "jacket", "offset": "2"}).status_code == 422  # JSON: a number


def test_explicit_filters_override_what_was_read(client):
    body = client.post("/search", json={"query": "nike trainers", "k": 10,
                                        "filters": {"brand": "adidas"}}).json()
    assert body["results"], body
    assert {row["brand"] for row in body["results"]} == {"adidas"}
    assert body["parsed"]["brand"] is None  # the explicit filter replaced the read brand
    assert body["filters"] == {"brand": "adidas"}


def test_explicit_filters_add_to_what_was_read(service_settings, strict_pipeline):
    with TestClient(create_app(service_settings, strict_pipeline)) as c:
        read = c.post("/search", json={"query": "jackets", "k": 10}).json()
        added = c.post("/search", json={"query": "jackets", "k": 10, "filters": {"gender": "women"}}).json()
    assert read["applied_filters"].get("category") and "gender" not in read["applied_filters"]
    assert {row["id"] for row in read["results"]} == {"6", "10", "19"}  # the three jackets, men's and women's
    assert added["parsed"]["category"] == "jackets"  # the read category is kept, not overridden
    assert set(added["applied_filters"]) >= {"category", "gender"}
    assert [row["id"] for row in added["results"]] == ["19"]  # the only women's jacket: both filters hold


def test_get_search_takes_filters_as_name_value(client):
    r = client.get("/search", params=[("q", "jacket"), ("filter", "brand:carhartt"), ("k", "5")])
    assert r.status_code == 200, r.text
    assert {row["brand"] for row in r.json()["results"]} == {"carhartt"}


def test_excluding_a_read_attribute_drops_its_filter(service_settings, strict_pipeline):
    with TestClient(create_app(service_settings, strict_pipeline)) as c:
        kept = c.post("/search", json={"query": "black jackets", "k": 10}).json()
        dropped = c.post("/search", json={"query": "black jackets", "k": 10, "exclude": ["colour"]}).json()
    assert kept["parsed"]["colour"] == "black" and "colour" in kept["applied_filters"]
    assert {row["colour"] for row in kept["results"]} == {"black"}
    assert dropped["parsed"]["colour"] is None and "colour" not in dropped["applied_filters"]
    assert {row["colour"] for row in dropped["results"]} > {"black"}
    assert dropped["excluded"] == ["colour"]


def test_parse_returns_the_qu_contract(client):
    r = client.post("/parse", json={"query": "vintage levis 501 w32 l30"})
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["query"] == "vintage levis 501 w32 l30"
    assert body["brand"] == "levi's"
    for span in body["spans"]:
        assert body["query"][span["start"]:span["end"]] == span["text"]


def test_rerank_scores_indexed_candidates(needs_reranker, client):
    r = client.post("/rerank", json={"query": "black leather boots", "ids": ["1", "7", "9"]})
    assert r.status_code == 200, r.text
    results = r.json()["results"]
    assert sorted(x["id"] for x in results) == ["1", "7", "9"]
    scores = [x["score"] for x in results]
    assert scores == sorted(scores, reverse=True)


def test_rerank_scores_given_listings(needs_reranker, client):
    r = client.post("/rerank", json={"query": "red dress", "listings": [
        {"id": "a", "title": "Blue denim jeans"},
        {"id": "b", "title": "Red floral midi dress", "colour": "red"}]})
    assert r.status_code == 200, r.text
    assert [x["title"] for x in r.json()["results"]] != [None, None]
    assert sorted(x["id"] for x in r.json()["results"]) == ["a", "b"]


def test_rerank_answers_empty_lists_long_texts_and_repeated_ids(needs_reranker, client):
    for empty in ({"ids": []}, {"listings": []}):
        r = client.post("/rerank", json={"query": "boots", **empty})
        assert r.status_code == 200 and r.json()["results"] == [], r.text
    long_title = "Red floral midi dress " + "with a very long description " * 700  # ~20k characters
    r = client.post("/rerank", json={"query": "red dress", "listings": [
        {"id": "a", "title": "Blue denim jeans"},
        {"id": "b", "title": long_title},
        {"id": "a", "title": "Red floral midi dress"}]})  # a repeated id: the first one counts
    assert r.status_code == 200, r.text
    results = {x["id"]: x for x in r.json()["results"]}
    assert sorted(results) == ["a", "b"]
    assert results["a"]["title"] == "Blue denim jeans" and results["b"]["title"] == long_title
    assert results["b"]["score"] > results["a"]["score"]  # the long one was scored on its (cut) text
    r = client.post("/rerank", json={"query": "black leather boots", "ids": ["1", "7", "1"]})
    assert r.status_code == 200 and [x["id"] for x in r.json()["results"]].count("1") == 1


def test_rerank_unknown_id_is_404(needs_reranker, client):
    r = client.post("/rerank", json={"query": "boots", "ids": ["nope"]})
    assert r.status_code == 404 and "nope" in r.json()["detail"]


def test_health_ready_metrics(needs_reranker, client):
    assert client.get("/healthz").json() == {"status": "ok"}
    ready = client.get("/readyz").json()
    assert ready["status"] == "ready" and ready["index_size"] == 20 and ready["reranker"]
    client.get("/search", params={"q": "nike", "stages": "rerank"})
    client.get("/search", params={"q": ""})
    text = client.get("/metrics").text
    assert 'preloved_http_requests_total{method="GET",route="/search",status="200"}' in text
    assert 'preloved_http_errors_total{route="/search",status="422"}' in text
    assert 'preloved_stage_duration_seconds_bucket{le="0.15",stage="rerank"}' in text
    assert "preloved_index_listings 20.0" in text
    assert "preloved_llm_calls_total" in text and "preloved_llm_cache_hits_total" in text


def _poll_ready(c, timeout: float = 60.0):
    import time

    deadline = time.monotonic() + timeout
    while (r := c.get("/readyz")).status_code == 503 and r.json()["status"] == "loading":
        assert time.monotonic() < deadline, "still loading"
        time.sleep(0.05)
    return r


def test_readyz_is_503_while_loading_in_the_background_then_200(service_settings, pipeline):
    import threading

    release = threading.Event()

    def slow_loader(settings):  # the real pipeline, once the test lets it through
        assert release.wait(60)
        return pipeline

    with TestClient(create_app(service_settings, loader=slow_loader)) as c:
        assert c.get("/healthz").json() == {"status": "ok"}  # up before the models are
        r = c.get("/readyz")
        assert r.status_code == 503 and r.json() == {"status": "loading"}
        r = c.get("/search", params={"q": "black nike trainers"})
        assert r.status_code == 503 and r.json()["code"] == "not_ready" and "loading" in r.json()["detail"]
        release.set()
        r = _poll_ready(c)
        assert r.status_code == 200 and r.json()["status"] == "ready" and r.json()["index_size"] == 20
        r = c.get("/search", params={"q": "black nike trainers", "stages": "hybrid"})
        assert r.status_code == 200 and r.json()["results"][0]["brand"] == "nike"


def test_readyz_says_why_loading_failed(service_settings, tmp_path):
    settings = service_settings.model_copy(update={"index_dir": tmp_path / "nowhere"})
    with TestClient(create_app(settings)) as c:  # the default loader: load_pipeline(settings.index_dir)
        r = _poll_ready(c)
        assert r.status_code == 503 and r.json()["status"] == "failed"
        assert "IndexNotFoundError" in r.json()["error"] and "nowhere" in r.json()["error"]
        r = c.post("/search", json={"query": "nike"})
        assert r.status_code == 503 and "failed to load" in r.json()["detail"]
        assert c.get("/healthz").status_code == 200


def test_request_id_is_echoed_when_sane(client):
    assert client.get("/healthz", headers={"X-Request-ID": "abc-123"}).headers["x-request-id"] == "abc-123"
    rid = client.get("/healthz", headers={"X-Request-ID": "<bad id>"}).headers["x-request-id"]
    assert rid != "<bad id>" and len(rid) == 32


def test_docs_and_openapi(client):
    assert client.get("/docs").status_code == 200
    paths = client.get("/openapi.json").json()["paths"]
    assert {"/search", "/parse", "/rerank", "/listings", "/listings/{listing_id}", "/healthz", "/readyz",
            "/metrics"} <= set(paths)
    stages = client.get("/openapi.json").json()["components"]["schemas"]["SearchRequest"]["properties"]["stages"]
    assert f"({Settings.model_fields['default_stages'].default})" in stages["description"]  # rerank


def test_demo_page_is_served_with_a_strict_csp(client):
    r = client.get("/")
    assert r.status_code == 200 and "<input id=\"q\"" in r.text
    assert "script-src 'self'" in r.headers["content-security-policy"]
    assert client.get("/static/app.js").status_code == 200
    script = client.get("/static/app.js").text
    assert "innerHTML" not in script and "insertAdjacentHTML" not in script and "document.write" not in script


def test_llm_calls_and_cache_hits_are_counted(service_settings, base_pipeline, tmp_path):
    """qu's LLM layer with its registered fake backend: the second identical query is a cache hit."""
    from svc_support import copy_pipeline_with

    from qu import load_extractor

    settings = service_settings.model_copy(update={"llm_backend": "fake", "cache_dir": tmp_path / "cache"})
    pipeline = copy_pipeline_with(base_pipeline, tmp_path / "index", extractor=load_extractor(settings))
    with TestClient(create_app(settings, pipeline)) as c:
        for _ in range(2):
            assert c.post("/search", json={"query": "zorblax quintessential gizmo thing", "k": 3,
                                           "stages": "hybrid"},
                          headers={"Cache-Control": "no-cache"}).status_code == 200  # past the result cache
        text = c.get("/metrics").text
    assert "preloved_llm_calls_total 1.0" in text
    assert "preloved_llm_cache_hits_total 1.0" in text


def test_serve_fails_clearly_on_a_missing_index(tmp_path):
    from retrieval import IndexNotFoundError
    from service import serve

    with pytest.raises(IndexNotFoundError, match="no preloved index"):
        serve(index_dir=tmp_path / "nowhere", port=free_port())


def test_access_log_is_json_with_the_request_id(client, caplog):
    import json
    import logging

    from service._logging import JsonFormatter

    with caplog.at_level(logging.INFO, logger="service.access"):
        client.get("/healthz", headers={"X-Request-ID": "log-me-1"})
    records = [r for r in caplog.records if r.name == "service.access"]
    line = json.loads(JsonFormatter().format(records[-1]))
    assert line["request_id"] == "log-me-1" and line["status"] == 200 and line["path"] == "/healthz"
    assert line["level"] == "info" and "duration_ms" in line


def test_repeated_searches_come_from_the_cache_until_a_write(client):
    body = {"query": "black nike trainers", "k": 5}
    first = client.post("/search", json=body).json()
    second = client.post("/search", json=body).json()
    assert not first["cached"] and second["cached"] and "cache" in second["timings_ms"]
    assert [x["id"] for x in first["results"]] == [x["id"] for x in second["results"]]
    assert not client.post("/search", json=body, headers={"Cache-Control": "no-cache"}).json()["cached"]
    assert not client.post("/search", json={**body, "k": 6}).json()["cached"]
    debug = client.post("/search", json={**body, "debug": True}).json()
    assert debug["cached"] and "scores" in debug["results"][0]
    gone = first["results"][0]["id"]
    assert client.delete(f"/listings/{gone}", headers={"X-API-Key": "test-key"}).status_code == 200
    after = client.post("/search", json=body).json()
    assert not after["cached"] and gone not in [x["id"] for x in after["results"]]
    assert 'preloved_search_cache_total{result="hit"} 2.0' in client.get("/metrics").text


def test_a_busy_server_reranks_fewer_hits(needs_reranker, client):
    """While `rerank_busy_at` reranked searches wait or run, one that names no depth reranks the top
    `rerank_depth_busy`; it is counted, and not kept in the result cache."""
    state = client.app.state.service
    body = {"query": "black nike trainers", "k": 5}
    state.reranking = 1  # another reranked search is in the server: this one makes two
    try:
        busy = client.post("/search", json=body).json()
        again = client.post("/search", json=body).json()
        own = client.post("/search", json={**body, "rerank_depth": 30}).json()
        hybrid = client.post("/search", json={**body, "stages": "hybrid"}).json()
    finally:
        state.reranking = 0
    assert busy["rerank_depth"] == 20 and not again["cached"]  # shallow answers are not kept
    assert own["rerank_depth"] == 30  # the caller's own depth stands
    assert hybrid["rerank_depth"] is None
    assert "preloved_rerank_shallow_total 2.0" in client.get("/metrics").text
    alone = client.post("/search", json=body).json()
    assert alone["rerank_depth"] == 50 and state.reranking == 0
    assert client.post("/search", json=body).json()["cached"]
