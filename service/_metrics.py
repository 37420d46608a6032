"""Prometheus metrics, one registry per app (no process-wide globals)."""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest
from prometheus_client.core import CounterMetricFamily, Metric
from prometheus_client.registry import Collector

CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"
_LATENCY_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.075, 0.1, 0.15, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)


class _LLMCollector(Collector):
    """Reads LLM call and cache-hit counts from the extractor at scrape time."""

    def __init__(self, stats: Callable[[], Mapping[str, float]]) -> None:
        self._stats = stats

    def collect(self) -> Iterator[Metric]:
        stats = self._stats()
        calls = CounterMetricFamily("preloved_llm_calls", "Calls to the LLM layer of query understanding")
        calls.add_metric([], float(stats.get("calls") or 0))
        hits = CounterMetricFamily("preloved_llm_cache_hits", "LLM answers served from the cache")
        hits.add_metric([], float(stats.get("cache_hits") or 0))
        failures = CounterMetricFamily("preloved_llm_failures", "LLM calls that fell back to the fast layers",
                                       labels=["kind"])
        for kind in ("timeouts", "errors", "malformed"):
            failures.add_metric([kind], float(stats.get(kind) or 0))
        yield calls
        yield hits
        yield failures


class Metrics:
    """Request counts, errors, latency per route and per pipeline stage, index size, LLM use."""

    def __init__(self, index_size: Callable[[], float], llm_stats: Callable[[], Mapping[str, float]]) -> None:
        self.registry = CollectorRegistry(auto_describe=True)
        r = self.registry
        self.requests = Counter("preloved_http_requests", "HTTP requests answered",
                                ["method", "route", "status"], registry=r)
        self.errors = Counter("preloved_http_errors", "HTTP requests answered with a 4xx or 5xx status",
                              ["route", "status"], registry=r)
        self.latency = Histogram("preloved_http_request_duration_seconds", "Time to answer a request",
                                 ["route"], buckets=_LATENCY_BUCKETS, registry=r)
        self.stage = Histogram("preloved_stage_duration_seconds", "Time spent in each search stage",
                               ["stage"], buckets=_LATENCY_BUCKETS, registry=r)
        self.writes = Counter("preloved_listing_writes", "Listings upserted or deleted", ["op"], registry=r)
        self.timeouts = Counter("preloved_request_timeouts", "Requests that ran past the time limit",
                                ["route"], registry=r)
        self.cache = Counter("preloved_search_cache", "Search answers served from (hit) or computed for "
                             "(miss) the result cache", ["result"], registry=r)
        self.shallow = Counter("preloved_rerank_shallow", "Reranked searches that read fewer hits because "
                               "the server was busy (settings.rerank_depth_busy)", registry=r)
        self._stages: dict[str, Histogram] = {}
        size = Gauge("preloved_index_listings", "Listings in the loaded index", registry=r)
        size.set_function(index_size)
        r.register(_LLMCollector(llm_stats))

    def observe_stages(self, timings_ms: Mapping[str, float]) -> None:
        for stage, ms in timings_ms.items():
            if (child := self._stages.get(stage)) is None:  # `labels` looks the child up under a lock
                child = self._stages[stage] = self.stage.labels(stage=stage)
            child.observe(ms / 1000.0)

    def render(self) -> bytes:
        return generate_latest(self.registry)
