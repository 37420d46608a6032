"""Searches while listings are upserted and deleted, over a real server: no crash, no error,
and a listing whose delete was acknowledged never shows up in a search that started later."""

from __future__ import annotations

import threading
import time

import httpx
import pytest
from svc_support import API_KEY

QUERIES = ["black nike trainers", "levis jeans", "jacket", "leather boots", "summer dress", "wool coat",
           "vintage denim", "white sneakers"]


def run_mixed_load(url: str, searchers: int, searches_each: int, batches: int) -> dict:
    errors: list[str] = []
    seen: list[tuple[float, list[str]]] = []  # (start time, result ids)
    deleted_at: dict[str, float] = {}
    lock = threading.Lock()

    def searcher(n: int) -> None:
        with httpx.Client(base_url=url, timeout=60) as c:
            for i in range(searches_each):
                q = QUERIES[(n + i) % len(QUERIES)]
                body = {"query": q, "k": 20} if i % 2 else {"query": q, "k": 20, "stages": "hybrid"}
                start = time.monotonic()
                r = c.post("/search", json=body)
                if r.status_code != 200:
                    errors.append(f"{r.status_code} {r.text[:200]}")
                    continue
                with lock:
                    seen.append((start, [x["id"] for x in r.json()["results"]]))

    def writer() -> None:
        with httpx.Client(base_url=url, timeout=60, headers={"X-API-Key": API_KEY}) as c:
            for b in range(batches):
                listings = [{"id": f"c{b}-{i}", "title": f"Vintage Denim Jacket Lot {b} No {i}",
                             "brand": "levi's", "colour": "blue", "price": 20 + i} for i in range(25)]
                r = c.put("/listings", json=listings)
                if r.status_code != 200:
                    errors.append(f"upsert {r.status_code} {r.text[:200]}")
                for gone in (f"c{b}-0", str(b % 20 + 1)):
                    r = c.delete(f"/listings/{gone}")
                    if r.status_code == 200:
                        with lock:
                            deleted_at[gone] = time.monotonic()
                    elif r.status_code != 404:
                        errors.append(f"delete {r.status_code} {r.text[:200]}")

    threads = [threading.Thread(target=searcher, args=(n,)) for n in range(searchers)]
    threads.append(threading.Thread(target=writer))
    for t in threads:
        t.start()
    for t in threads:
        t.join(300)
    stale = [(i, start) for start, ids in seen for i in ids if i in deleted_at and deleted_at[i] < start]
    return {"errors": errors, "stale": stale, "searches": len(seen), "deleted": len(deleted_at)}


def test_searches_during_upserts_and_deletes(live_server):
    out = run_mixed_load(live_server.url, searchers=3, searches_each=12, batches=6)
    assert not out["errors"], out["errors"][:5]
    assert not out["stale"], f"deleted listings returned by later searches: {out['stale'][:5]}"
    assert out["searches"] == 36 and out["deleted"] >= 6
    with httpx.Client(base_url=live_server.url) as c:
        for gone in ("c0-0", "c5-0", "1", "6"):
            assert c.get(f"/listings/{gone}").status_code == 404


@pytest.mark.slow
def test_searches_during_upserts_and_deletes_longer(live_server):
    out = run_mixed_load(live_server.url, searchers=8, searches_each=40, batches=20)
    assert not out["errors"], out["errors"][:5]
    assert not out["stale"], out["stale"][:5]
