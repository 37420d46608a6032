"""Running blocking model and index work off the event loop, bounded in number and in time."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import TypeVar

from fastapi import HTTPException

from service._state import ServiceState

T = TypeVar("T")


async def run_limited(state: ServiceState, route: str, fn: Callable[[], T]) -> T:
    """Run `fn` in one of the app's worker threads (`state.workers`: at most `max_concurrent_searches`
    at once, the rest queued in order), within the request timeout.

    On timeout the client gets a 504 at once: a queued call is dropped; a running one finishes in
    the background (Python cannot stop a thread), still holding its worker, so overload sheds load.
    A thread pool's queue costs a search about half what anyio's limiter and cancel scope did.
    """
    timeout = state.settings.request_timeout_s
    try:
        return await asyncio.wait_for(asyncio.wrap_future(state.workers.submit(fn)), timeout)
    except TimeoutError:
        state.metrics.timeouts.labels(route=route).inc()
        raise HTTPException(504, f"the request took longer than the {timeout:g} s limit") from None
