"""`serve`: run the app under uvicorn, loading the pipeline in the background (what `preloved serve` calls)."""

from __future__ import annotations

import logging
from pathlib import Path

from preloved.settings import Settings, get_settings, limit_library_threads

logger = logging.getLogger(__name__)


def serve(settings: Settings | None = None, host: str | None = None, port: int | None = None,
          index_dir: str | Path | None = None, log_level: str = "INFO") -> None:
    """Serve the API over the index at `index_dir` (default: settings.index_dir) until stopped.

    The port opens at once (`/healthz` answers) and the app loads the pipeline in a background
    thread; `/readyz` answers 503 until it is loaded. A missing index still fails here, before the
    port opens, with retrieval's IndexNotFoundError, instead of a server that is never ready.
    """
    settings = settings or get_settings()
    limit_library_threads(settings.library_threads)  # before numpy, faiss and torch load
    import uvicorn

    from retrieval.store import read_manifest
    from service._logging import configure_logging
    from service.app import create_app

    index_dir = Path(index_dir) if index_dir is not None else settings.index_dir
    if index_dir != settings.index_dir:
        settings = settings.model_copy(update={"index_dir": index_dir})
    configure_logging(log_level)
    read_manifest(index_dir)  # cheap: the index is there and readable, or IndexNotFoundError now
    app = create_app(settings)  # loads the pipeline in the background once the server starts
    uvicorn.run(app, host=host or settings.host, port=port or settings.port, log_config=None,
                access_log=False, timeout_graceful_shutdown=5, server_header=False)
