"""`run_limited`: at most `max_concurrent_searches` calls at once, the rest queued in order; on timeout a
queued call is dropped and a running one finishes in the background, still holding its worker."""

from __future__ import annotations

import asyncio
import threading

import pytest
from fastapi import HTTPException

from preloved.settings import Settings
from service._state import ServiceState
from service._worker import run_limited


def test_calls_queue_for_the_workers_and_a_timed_out_queued_call_never_runs(tmp_path):
    state = ServiceState(Settings(max_concurrent_searches=1, request_timeout_s=0.3, cache_dir=tmp_path))
    release, ran = threading.Event(), []

    def slow():
        release.wait(5)
        ran.append("slow")
        return "slow"

    def queued():
        ran.append("queued")
        return "queued"

    async def main():
        first = asyncio.ensure_future(run_limited(state, "/search", slow))
        await asyncio.sleep(0.05)  # the one worker is busy now
        with pytest.raises(HTTPException) as err:
            await run_limited(state, "/search", queued)  # waits behind it past the limit
        assert err.value.status_code == 504
        with pytest.raises(HTTPException):
            await first  # the running call times out too, and keeps its worker
        release.set()
        assert await run_limited(state, "/search", lambda: "next") == "next"  # the worker is free again

    asyncio.run(main())
    assert ran == ["slow"]  # the queued call was dropped, never run
    assert 'preloved_request_timeouts_total{route="/search"} 2.0' in state.metrics.render().decode()
    state.workers.shutdown()


def test_at_most_max_concurrent_searches_run_at_once(tmp_path):
    state = ServiceState(Settings(max_concurrent_searches=2, request_timeout_s=5, cache_dir=tmp_path))
    lock, now, most = threading.Lock(), [0], [0]

    def work():
        with lock:
            now[0] += 1
            most[0] = max(most[0], now[0])
        threading.Event().wait(0.02)
        with lock:
            now[0] -= 1
        return True

    async def main():
        return await asyncio.gather(*(run_limited(state, "/search", work) for _ in range(12)))

    assert asyncio.run(main()) == [True] * 12
    assert most[0] == 2
    state.workers.shutdown()


def test_an_app_lets_its_workers_go_when_it_stops_and_gets_fresh_ones_when_started_again(service_settings, pipeline):
    from fastapi.testclient import TestClient

    from service import create_app

    app = create_app(service_settings, pipeline)
    state = app.state.service
    with TestClient(app) as c:
        assert c.post("/search", json={"query": "black jackets", "k": 3}).status_code == 200
        first = state.workers
        threads = list(first._threads)
        assert threads  # the search ran on one of them
    with pytest.raises(RuntimeError):  # stopped: no new work is taken
        first.submit(lambda: None)
    for t in threads:
        t.join(5)
        assert not t.is_alive()  # idle workers ended with the app, not at the interpreter's exit
    with TestClient(app) as c:  # the same app started again
        assert c.post("/search", json={"query": "black jackets", "k": 3}).status_code == 200
    assert state.workers is not first
