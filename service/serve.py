"""`serve`: load the pipeline, then run the app under uvicorn (what `preloved serve` calls)."""

from __future__ import annotations

import logging
from pathlib import Path

from preloved.settings import Settings, get_settings, limit_library_threads

logger = logging.getLogger(__name__)


def serve(settings: Settings | None = None, host: str | None = None, port: int | None = None,
          index_dir: str | Path | None = None, log_level: str = "INFO") -> None:
    """Serve the API over the index at `index_dir` (default: settings.index_dir) until stopped.

    The pipeline loads before the port opens, so a missing index fails here with the loader's
    error (retrieval's IndexNotFoundError) instead of a server that answers 500s.
    """
    settings = settings or get_settings()
    limit_library_threads(settings.library_threads)  # before numpy, faiss and torch load
    import uvicorn

    from preloved.pipeline import load_pipeline
    from service._logging import configure_logging
    from service.app import create_app

    index_dir = Path(index_dir) if index_dir is not None else settings.index_dir
    if index_dir != settings.index_dir:
        settings = settings.model_copy(update={"index_dir": index_dir})
    configure_logging(log_level)
    logger.info("loading models and index", extra={"index_dir": str(index_dir)})
    pipeline = load_pipeline(settings, index_dir)
    app = create_app(settings, pipeline)
    uvicorn.run(app, host=host or settings.host, port=port or settings.port, log_config=None,
                access_log=False, timeout_graceful_shutdown=5, server_header=False)
