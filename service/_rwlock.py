"""A writer-preferring readers-writer lock: many searches at once, one index write at a time."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager


class RWLock:
    """Searches hold the read side; deletes hold the write side.

    The pipeline searches the index, then fetches each hit's listing: a delete in between would
    leave a hit with no listing. (Upserts need no lock: the index swaps its state atomically and a
    replaced listing is still there to fetch.)

    A waiting writer blocks new readers, so a delete is never starved by a stream of searches,
    and a search that starts after a delete was acknowledged sees the index without it.
    """

    def __init__(self) -> None:
        self._cond = threading.Condition()
        self._readers = 0
        self._writer = False
        self._waiting_writers = 0

    @contextmanager
    def read(self) -> Iterator[None]:
        with self._cond:
            while self._writer or self._waiting_writers:
                self._cond.wait()
            self._readers += 1
        try:
            yield
        finally:
            with self._cond:
                self._readers -= 1
                if self._readers == 0:
                    self._cond.notify_all()

    @contextmanager
    def write(self) -> Iterator[None]:
        with self._cond:
            self._waiting_writers += 1
            try:
                while self._writer or self._readers:
                    self._cond.wait()
            finally:
                self._waiting_writers -= 1
            self._writer = True
        try:
            yield
        finally:
            with self._cond:
                self._writer = False
                self._cond.notify_all()
