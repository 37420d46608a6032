"""`create_app`: the FastAPI application, its routers, middleware and lifespan."""

from __future__ import annotations

import logging
import threading
from collections.abc import AsyncIterator, Callable
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
the `X-API-Key` header; with no key configured they answer 401 (unless settings.allow_open_writes).
Errors are JSON: `{"detail", "code", "request_id"}`.
"""


def create_app(settings: Settings | None = None, pipeline: SearchPipeline | None = None,
               loader: Callable[[Settings], SearchPipeline] | None = None) -> FastAPI:
    """Build the app. Given a `pipeline`, it is ready once started. Without one, the app answers
    `/healthz` at once and loads one in a background thread at startup (`loader`, default:
    `load_pipeline(settings, settings.index_dir)`); until it is loaded (and warmed up), `/readyz` and
    the routes that need it answer 503, and with the error when loading failed."""
    settings = settings or get_settings()
    state = ServiceState(settings)
    if pipeline is not None:
        state.attach(pipeline)
    loading: threading.Thread | None = None

    def load() -> None:
        logger.info("loading models and index", extra={"index_dir": str(settings.index_dir)})
        try:
            if loader is None:
                from preloved.pipeline import load_pipeline

                loaded = load_pipeline(settings, settings.index_dir)
            else:
                loaded = loader(settings)
            if settings.warm_up:
                logger.info("warmed up", extra={"warm_up_ms": round(loaded.warm_up(), 1)})
        except Exception as e:  # the process stays up and says why, on /readyz and in the log
            state.load_error = f"{type(e).__name__}: {e}"
            logger.exception("loading the models and index failed")
            return
        state.attach(loaded)
        logger.info("ready", extra={"index_size": int(state.index_size())})

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        nonlocal loading
        state.open()
        if settings.api_key is None:
            if settings.allow_open_writes:
                logger.warning("no API key configured and allow_open_writes: write endpoints are open to anyone")
            else:
                logger.warning("no API key configured (PRELOVED_API_KEY): write endpoints answer 401")
        if state.pipeline is not None:
            if settings.warm_up:
                ms = await anyio.to_thread.run_sync(state.pipeline.warm_up)
                logger.info("warmed up", extra={"warm_up_ms": round(ms, 1)})
            logger.info("ready", extra={"index_size": int(state.index_size())})
        elif loading is None:  # once per app, however often it is started
            loading = threading.Thread(target=load, name="preloved-load", daemon=True)
            loading.start()
        try:
            yield
        finally:
            state.close()

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
