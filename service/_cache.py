"""A bounded LRU of search answers, emptied by every write.

Marketplace traffic repeats its head queries; an identical request (query, k, filters, stages,
...) against an unchanged index gets the same answer, so it is served from memory. Every upsert
or delete bumps the generation and empties the cache, so a cached answer never outlives a write.
A request with `Cache-Control: no-cache` bypasses it, and the query-vector and reranker score caches
too: every stage runs afresh (the load test measures both ways).
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Hashable


class ResultCache:
    def __init__(self, maxsize: int = 2048) -> None:
        self.maxsize = maxsize
        self._data: OrderedDict[Hashable, object] = OrderedDict()
        self._lock = threading.Lock()
        self.generation = 0
        self.hits = 0
        self.misses = 0

    def get(self, key: Hashable) -> object | None:
        if not self.maxsize:
            return None
        with self._lock:
            value = self._data.get(key)
            if value is None:
                self.misses += 1
                return None
            self._data.move_to_end(key)
            self.hits += 1
            return value

    def put(self, key: Hashable, value: object) -> None:
        if not self.maxsize:
            return
        with self._lock:
            self._data[key] = value
            self._data.move_to_end(key)
            while len(self._data) > self.maxsize:
                self._data.popitem(last=False)

    def invalidate(self) -> None:
        """A write happened: answers computed before it are stale."""
        with self._lock:
            self.generation += 1
            self._data.clear()

    def __len__(self) -> int:
        return len(self._data)
