"""What one app holds: settings, the loaded pipeline, the index lock, metrics."""

from __future__ import annotations

import os
from collections.abc import Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field

from preloved.pipeline import SearchPipeline
from preloved.settings import Settings
from service._cache import ResultCache
from service._metrics import Metrics
from service._rwlock import RWLock


def _max_concurrent_searches(settings: Settings) -> int:
    # Searches are CPU-bound (torch); more at once than cores only adds queueing inside torch.
    configured = settings.max_concurrent_searches
    return max(1, int(configured or os.cpu_count() or 1))


@dataclass
class ServiceState:
    settings: Settings
    pipeline: SearchPipeline | None = None
    load_error: str | None = None  # why loading the pipeline failed (then /readyz and searches answer 503)
    lock: RWLock = field(default_factory=RWLock)
    metrics: Metrics = field(init=False)
    workers: ThreadPoolExecutor = field(init=False)  # searches, parses and reranks run here (`run_limited`)
    cache: ResultCache = field(init=False)
    reranking: int = 0  # reranked searches waiting for a worker or running; changed on the event loop only
    _closed: bool = field(default=False, init=False)  # the workers were let go (`close`)

    def __post_init__(self) -> None:
        self.metrics = Metrics(index_size=self.index_size, llm_stats=self.llm_stats)
        self.workers = self._new_workers()
        self.cache = ResultCache(self.settings.search_cache_size)

    def _new_workers(self) -> ThreadPoolExecutor:
        return ThreadPoolExecutor(_max_concurrent_searches(self.settings), thread_name_prefix="preloved-search")

    def open(self) -> None:
        """The app starts: fresh workers where a previous stop let them go (a test client entered twice)."""
        if self._closed:
            self.workers, self._closed = self._new_workers(), False

    def close(self) -> None:
        """The app stops: the worker threads end once idle, and calls still queued are dropped (a running
        one finishes on its own: Python cannot stop a thread)."""
        self.workers.shutdown(wait=False, cancel_futures=True)
        self._closed = True

    def attach(self, pipeline: SearchPipeline) -> None:
        """Take a loaded pipeline."""
        self.pipeline = pipeline

    def index_size(self) -> float:
        index = self.pipeline.index if self.pipeline else None
        if index is None:
            return 0.0
        try:
            return float(len(index))
        except TypeError:
            return float(getattr(index, "size", 0) or 0)

    def llm_stats(self) -> Mapping[str, float]:
        if self.pipeline is None:
            return {}
        extractor = self.pipeline.extractor
        llm = getattr(extractor, "llm", None)  # qu's LLMLayer, when configured
        stats = llm.stats() if llm is not None and callable(getattr(llm, "stats", None)) else {}
        return stats if isinstance(stats, Mapping) else {}
