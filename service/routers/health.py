"""`/healthz`, `/readyz`, `/metrics`."""

from __future__ import annotations

from fastapi import APIRouter, Response
from fastapi.responses import JSONResponse

from service._metrics import CONTENT_TYPE
from service.deps import StateDep

router = APIRouter(tags=["operations"])


@router.get("/healthz", summary="The process is up")
async def healthz() -> dict:
    return {"status": "ok"}


@router.get("/readyz", summary="Models and index are loaded",
            responses={503: {"description": "still loading, or loading failed (with the error)"}})
def readyz(state: StateDep) -> Response:
    pipeline = state.pipeline
    if pipeline is None:
        if state.load_error is not None:
            return JSONResponse({"status": "failed", "error": state.load_error}, status_code=503)
        return JSONResponse({"status": "loading"}, status_code=503, headers={"Retry-After": "1"})
    extractor = pipeline.extractor
    return JSONResponse({
        "status": "ready",
        "index_size": int(state.index_size()),
        "extractor": type(extractor).__name__,
        "reranker": type(pipeline.reranker).__name__ if pipeline.reranker is not None else None,
        "writes_need_api_key": not (state.settings.api_key is None and state.settings.allow_open_writes),
    })


@router.get("/metrics", summary="Prometheus text format", response_class=Response,
            responses={200: {"content": {"text/plain": {}}}})
def metrics(state: StateDep) -> Response:
    return Response(state.metrics.render(), media_type=CONTENT_TYPE)
