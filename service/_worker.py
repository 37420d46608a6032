"""Running blocking model and index work off the event loop, bounded in number and in time."""

from __future__ import annotations

from collections.abc import Callable
from typing import TypeVar

import anyio
from fastapi import HTTPException

from service._state import ServiceState

T = TypeVar("T")


async def run_limited(state: ServiceState, route: str, fn: Callable[[], T]) -> T:
    """Run `fn` in a worker thread, at most `search_limiter` at once, within the request timeout.

    On timeout the client gets a 504 at once; the thread finishes its work in the background
    (Python cannot stop a thread), still holding its worker slot, so overload sheds load.
    """
    timeout = state.settings.request_timeout_s
    try:
        with anyio.fail_after(timeout):
            return await anyio.to_thread.run_sync(fn, limiter=state.search_limiter, abandon_on_cancel=True)
    except TimeoutError:
        state.metrics.timeouts.labels(route=route).inc()
        raise HTTPException(504, f"the request took longer than the {timeout:g} s limit") from None
