"""`create_app`: the FastAPI application, its routers, middleware and lifespan."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import anyio
from fastapi import FastAPI
from fastapi.staticfiles import StaticFiles

from preloved.pipeline import SearchPipeline
from preloved.settings import Settings, get_settings
from service._errors import install_error_handlers
from service._middleware import RequestContextMiddleware
from service._state import ServiceState
from service.routers import health, listings, page, search

logger = logging.getLogger(__name__)

DESCRIPTION = """Search second-hand fashion listings: query understanding, hybrid retrieval, reranking.

Reads are open. Writes (`PUT /listings`, `DELETE /listings/{id}`) need the API key from settings in
the `X-API-Key` header when one is configured. Errors are JSON: `{"detail", "code", "request_id"}`.
"""


def create_app(settings: Settings | None = None, pipeline: SearchPipeline | None = None) -> FastAPI:
    """Build the app. With no `pipeline`, the lifespan loads one from `settings.index_dir`."""
    settings = settings or get_settings()
    state = ServiceState(settings)
    if pipeline is not None:
        state.attach(pipeline)

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        if state.pipeline is None:
            from preloved.pipeline import load_pipeline

            logger.info("loading models and index", extra={"index_dir": str(settings.index_dir)})
            state.attach(await anyio.to_thread.run_sync(load_pipeline, settings, settings.index_dir))
        if settings.warm_up and state.pipeline is not None:
            ms = await anyio.to_thread.run_sync(state.pipeline.warm_up)
            logger.info("warmed up", extra={"warm_up_ms": round(ms, 1)})
        if settings.api_key is None:
            logger.warning("no API key configured (PRELOVED_API_KEY): write endpoints are open")
        logger.info("ready", extra={"index_size": int(state.index_size())})
        yield

    app = FastAPI(title="preloved", version="0.1.0", description=DESCRIPTION, lifespan=lifespan)
    app.state.service = state
    install_error_handlers(app)
    app.add_middleware(RequestContextMiddleware, metrics=state.metrics,
                       max_body_bytes=settings.max_body_bytes)
    app.include_router(search.router)
    app.include_router(listings.router)
    app.include_router(health.router)
    app.include_router(page.router)
    app.mount("/static", StaticFiles(directory=page.STATIC_DIR), name="static")
    return app
