"""The HTTP service: the search API, the demo page, health checks and metrics.

`create_app(settings, pipeline)` builds the FastAPI app; `serve(...)` loads the pipeline and
runs it under uvicorn (what `preloved serve` calls).
"""

from service.app import create_app
from service.serve import serve

__all__ = ["create_app", "serve"]
