"""A bounded, thread-safe LRU for memoising pure computations in-process.

The cache only remembers what a pure function computed from its key; state stays in
the store. A key must therefore hold everything the value depends on (a digest of the
documents it was computed from, the seed, the instant ...), so an entry is right in
any worker, for any store and tenant, and a stale entry can only be unused, never
wrong. Values must be treated as read-only by every caller (they are shared).

A racing pair of threads may both compute a missing value; the second store wins, and
both are equal (the function is pure). Reads take no lock (writes do); the ``hits`` and
``misses`` counts are statistics, which a racing pair may leave one short.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Callable, Hashable
from typing import Generic, TypeVar

V = TypeVar("V")
_MISSING = object()


class LRU(Generic[V]):
    """At most ``size`` entries; the least recently used falls out."""

    def __init__(self, name: str, size: int) -> None:
        self.name, self.size = name, size
        self._data: OrderedDict[Hashable, V] = OrderedDict()
        self._lock = threading.Lock()
        self.hits = self.misses = 0

    def get(self, key: Hashable) -> V | None:
        # no lock: a read is two C steps of the OrderedDict, each whole under the GIL
        # (an entry another thread evicts in between is a hit all the same); a lock
        # taken on every read made request threads queue behind one preempted holder
        value = self._data.get(key, _MISSING)
        if value is _MISSING:
            self.misses += 1
            return None
        self.hits += 1
        try:
            self._data.move_to_end(key)
        except KeyError:     # evicted meanwhile: still the value computed for the key
            return value  # type: ignore[return-value]
        return value  # type: ignore[return-value]

    def put(self, key: Hashable, value: V) -> V:
        with self._lock:
            self._data[key] = value
            self._data.move_to_end(key)
            while len(self._data) > self.size:
                self._data.popitem(last=False)
        return value

    def get_or_compute(self, key: Hashable, compute: Callable[[], V]) -> V:
        value = self.get(key)
        return self.put(key, compute()) if value is None else value

    def clear(self) -> None:
        with self._lock:
            self._data.clear()
            self.hits = self.misses = 0

    def __len__(self) -> int:
        return len(self._data)
