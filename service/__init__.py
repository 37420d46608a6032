"""The HTTP service: the search API, the demo page, health checks and metrics.

`create_app(settings, pipeline)` builds the FastAPI app; `serve(...)` runs it under uvicorn while
the pipeline loads in the background (what `preloved serve` calls). `create_app` is imported on
first use, so that `serve` can cap the numeric libraries' threads before they load.
"""

from __future__ import annotations

from service.serve import serve

__all__ = ["create_app", "serve"]


def __getattr__(name: str):
    if name == "create_app":
        from service.app import create_app

        return create_app
    raise AttributeError(f"module 'service' has no attribute {name!r}")
