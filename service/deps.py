"""FastAPI dependencies: the app's state, the loaded pipeline, write access."""

from __future__ import annotations

import secrets
from typing import Annotated

from fastapi import Depends, Header, HTTPException, Request

from preloved.pipeline import SearchPipeline
from service._state import ServiceState


async def get_state(request: Request) -> ServiceState:
    return request.app.state.service


StateDep = Annotated[ServiceState, Depends(get_state)]


async def get_pipeline(state: StateDep) -> SearchPipeline:
    if state.pipeline is None:
        if state.load_error is not None:
            raise HTTPException(503, f"the models and index failed to load: {state.load_error}")
        raise HTTPException(503, "the models and index are still loading; retry shortly (GET /readyz says "
                                 "when they are ready)", headers={"Retry-After": "1"})
    return state.pipeline


PipelineDep = Annotated[SearchPipeline, Depends(get_pipeline)]


async def require_api_key(
    state: StateDep,
    x_api_key: Annotated[str | None, Header(description="The API key (or a bearer token)")] = None,
    authorization: Annotated[str | None, Header(include_in_schema=False)] = None,
) -> None:
    """Write endpoints: the key from settings must come in `X-API-Key` or as a bearer token. With no
    key configured, writes are refused, unless settings.allow_open_writes opens them to anyone."""
    expected = state.settings.api_key
    if expected is None:
        if state.settings.allow_open_writes:  # local experiments only (serve warns at startup)
            return
        raise HTTPException(401, "writes are disabled: this server has no API key configured; set "
                                 "PRELOVED_API_KEY (then send it in X-API-Key), or PRELOVED_ALLOW_OPEN_WRITES=1 "
                                 "to open writes to anyone (local experiments only)",
                            headers={"WWW-Authenticate": "Bearer"})
    given = x_api_key
    if given is None and authorization and authorization[:7].lower() == "bearer ":
        given = authorization[7:].strip()
    if not given or not secrets.compare_digest(given.encode("utf-8", "replace"), expected.encode("utf-8")):
        raise HTTPException(401, "this endpoint needs the API key, in the X-API-Key header",
                            headers={"WWW-Authenticate": "Bearer"})


WriteAccess = Depends(require_api_key)
