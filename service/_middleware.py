"""Per-request context: request id, access log, metrics, and a JSON 500 for anything unhandled."""

from __future__ import annotations

import json
import logging
import re
import time
import uuid

from starlette.datastructures import MutableHeaders
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from service._logging import request_id_var
from service._metrics import Metrics

access_log = logging.getLogger("service.access")
logger = logging.getLogger(__name__)

_GOOD_ID = re.compile(r"^[A-Za-z0-9._:-]{1,64}$")


def _route_label(scope: Scope) -> str:
    route = scope.get("route")
    path = getattr(route, "path", None)
    if path is not None:
        return path
    return "/static" if scope.get("path", "").startswith("/static/") else "unmatched"


class RequestContextMiddleware:
    """Pure ASGI (no BaseHTTPMiddleware): cheap, and safe with streaming bodies."""

    def __init__(self, app: ASGIApp, metrics: Metrics, max_body_bytes: int) -> None:
        self.app = app
        self.metrics = metrics
        self.max_body_bytes = max_body_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        given = dict(scope.get("headers") or ()).get(b"x-request-id", b"").decode("latin-1")
        rid = given if _GOOD_ID.match(given) else uuid.uuid4().hex
        scope.setdefault("state", {})["request_id"] = rid
        token = request_id_var.set(rid)
        start = time.perf_counter()
        status = 500
        started = False

        async def send_wrapper(message: Message) -> None:
            nonlocal status, started
            if message["type"] == "http.response.start":
                started = True
                status = message["status"]
                headers = MutableHeaders(scope=message)
                headers["x-request-id"] = rid
                headers["x-content-type-options"] = "nosniff"
                headers["x-response-time-ms"] = f"{(time.perf_counter() - start) * 1000:.1f}"
            await send(message)

        try:
            receive = await self._limit_body(scope, receive)
            if receive is None:
                await self._send_json(send_wrapper, 413, {
                    "detail": f"the body is larger than the {self.max_body_bytes} bytes allowed",
                    "code": "body_too_large", "request_id": rid})
                return
            await self.app(scope, receive, send_wrapper)
        except Exception:
            logger.exception("unhandled error", extra={"path": scope.get("path")})
            if not started:
                await self._send_json(send_wrapper, 500, {
                    "detail": "internal error; quote the request id when reporting it",
                    "code": "internal_error", "request_id": rid})
            status = 500
        finally:
            elapsed = time.perf_counter() - start
            route = _route_label(scope)
            self.metrics.requests.labels(method=scope["method"], route=route, status=str(status)).inc()
            self.metrics.latency.labels(route=route).observe(elapsed)
            if status >= 400:
                self.metrics.errors.labels(route=route, status=str(status)).inc()
            access_log.info("%s %s %d", scope["method"], scope.get("path", ""), status, extra={
                "request_id": rid, "method": scope["method"], "path": scope.get("path", ""), "route": route,
                "status": status, "duration_ms": round(elapsed * 1000, 2),
                "client": (scope.get("client") or ("", 0))[0]})
            request_id_var.reset(token)

    async def _limit_body(self, scope: Scope, receive: Receive) -> Receive | None:
        """None when the body is over the limit (413); else a `receive` that replays it if read here.

        A declared Content-Length is checked at once; a chunked body is read here, up to the limit.
        """
        headers = dict(scope.get("headers") or ())
        length = headers.get(b"content-length")
        if length is not None:
            try:
                return None if int(length) > self.max_body_bytes else receive
            except ValueError:
                return None
        if b"chunked" not in headers.get(b"transfer-encoding", b"").lower():
            return receive
        chunks, size = [], 0
        while True:
            message = await receive()
            if message["type"] != "http.request":
                return receive
            size += len(message.get("body", b""))
            if size > self.max_body_bytes:
                return None
            chunks.append(message.get("body", b""))
            if not message.get("more_body", False):
                break
        body, replayed = b"".join(chunks), False

        async def replay() -> Message:
            nonlocal replayed
            if replayed:
                return await receive()
            replayed = True
            return {"type": "http.request", "body": body, "more_body": False}

        return replay

    @staticmethod
    async def _send_json(send: Send, status: int, payload: dict) -> None:
        body = json.dumps(payload).encode()
        await send({"type": "http.response.start", "status": status,
                    "headers": [(b"content-type", b"application/json"),
                                (b"content-length", str(len(body)).encode())]})
        await send({"type": "http.response.body", "body": body})
