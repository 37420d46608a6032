"""Every error is JSON: `{"detail", "code", "request_id"}`, never a traceback."""

from __future__ import annotations

import logging

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException

from preloved.pipeline import BadQueryError

logger = logging.getLogger(__name__)

_CODES = {400: "bad_request", 401: "unauthorized", 403: "forbidden", 404: "not_found",
          405: "method_not_allowed", 408: "timeout", 413: "body_too_large", 415: "unsupported_media_type",
          422: "invalid_request",
          429: "too_many_requests", 503: "not_ready", 504: "timeout"}


def request_id(request: Request) -> str | None:
    return request.scope.get("state", {}).get("request_id")


def error_response(request: Request, status: int, detail: str, code: str | None = None,
                   errors: list[dict] | None = None, headers: dict[str, str] | None = None) -> JSONResponse:
    body: dict[str, object] = {"detail": detail, "code": code or _CODES.get(status, "error"),
                               "request_id": request_id(request)}
    if errors is not None:
        body["errors"] = errors
    return JSONResponse(body, status_code=status, headers=headers)


def _loc(loc: tuple | list) -> str:
    parts = [str(p) for p in loc if p not in ("body", "query", "path")]
    return ".".join(parts) or "body"


def _clean(error: dict) -> dict:
    # Keep where and why; never echo the input back (it can be 10 MB, or a script).
    return {"loc": [str(p) for p in error.get("loc", ())], "msg": str(error.get("msg", "")),
            "type": str(error.get("type", ""))}


async def _validation(request: Request, exc: RequestValidationError) -> JSONResponse:
    errors = [_clean(e) for e in exc.errors()][:20]
    first = errors[0] if errors else {"loc": [], "msg": "invalid request"}
    detail = f"{_loc(first['loc'])}: {first['msg']}"
    if first.get("type") == "json_invalid":
        detail = "the body is not valid JSON"
    return error_response(request, 422, detail, errors=errors)


async def _http(request: Request, exc: HTTPException) -> JSONResponse:
    return error_response(request, exc.status_code, str(exc.detail), headers=getattr(exc, "headers", None))


async def _bad_query(request: Request, exc: Exception) -> JSONResponse:
    return error_response(request, 422, str(exc), code="bad_query")


def install_error_handlers(app: FastAPI) -> None:
    from qu.extractor import QueryError
    from retrieval.errors import EmptyQueryError

    app.add_exception_handler(RequestValidationError, _validation)
    app.add_exception_handler(HTTPException, _http)
    # The stages' own "this query cannot be answered" errors (e.g. a query of only stop words).
    for error in (BadQueryError, QueryError, EmptyQueryError):
        app.add_exception_handler(error, _bad_query)
