"""Answers remembered while what they were read from stays the same.

A read endpoint (Netatmo's ``homestatus``, ``getmeasure`` ...) computes its body from
documents and the instant. ``Answers.get_or_compute`` runs the computation with the
request's store seen through a :class:`Recording`: every ``Store.snapshot`` it makes
is noted as a dependency (tenant, kind, key and the very document object answered),
and any other store call (a ``get``, a ``list``, a write) makes the answer one that is
not kept. The answer is kept under the caller's key (endpoint, tenant, user,
parameters, instant) with its dependencies; it is handed out again only while every
dependency's snapshot is still *the same object*, which ``Store.snapshot`` guarantees
exactly while the stored bytes are unchanged (a store that sees every write, the
MemoryStore, first answers a cheaper question: no write at all to the kinds read). So
a write to any document the answer read, in any worker sharing the store, makes the
next request compute afresh, and no invalidation list has to be kept by hand.

Values are shared: keep them immutable (callers store serialised bytes). With
``MOCKCLOUD_CHECK_SNAPSHOTS=1`` (the test suite sets it) every hit is also computed
afresh and compared, so a dependency read some other way is caught by the tests.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Hashable
from typing import Any, TypeVar

from .context import Ctx
from .memo import LRU
from .store import Store

V = TypeVar("V")
Dep = tuple[str, str, str, Any]


class Recording:
    """A store seen through: snapshots recorded, anything else marks the read impure.
    With a store that has ``generation`` (MemoryStore), each kind's generation is
    noted before its first snapshot."""

    def __init__(self, store: Store) -> None:
        self._store = store
        self.deps: list[Dep] = []
        self.gens: dict[tuple[str, str], object] = {}
        self._gen = getattr(store, "generation", None)
        self.pure = True

    def snapshot(self, tenant: str, kind: str, key: str) -> Any:
        if self._gen is not None and (tenant, kind) not in self.gens:
            self.gens[(tenant, kind)] = self._gen(tenant, kind)
        doc = self._store.snapshot(tenant, kind, key)
        self.deps.append((tenant, kind, key, doc))
        return doc

    def __getattr__(self, name: str) -> Any:
        self.pure = False
        return getattr(self._store, name)


class Answers:
    """A bounded LRU of answers with the snapshots they were computed from."""

    def __init__(self, name: str, size: int) -> None:
        self._lru: LRU[tuple[tuple[Dep, ...], tuple[tuple[str, str, object], ...], Any]] \
            = LRU(name, size)
        self._check = os.environ.get("MOCKCLOUD_CHECK_SNAPSHOTS", "") not in ("", "0")

    @staticmethod
    def _holds(store: Store, deps: tuple[Dep, ...],
               gens: tuple[tuple[str, str, object], ...]) -> bool:
        """Every dependency still the same: no write to any kind read since (the
        quick test), else each snapshot still the same object."""
        gen = getattr(store, "generation", None)
        if gen is not None and gens and all(gen(t, k) is g for t, k, g in gens):
            return True
        return all(store.snapshot(t, k, i) is doc for t, k, i, doc in deps)

    def get_or_compute(self, ctx: Ctx, key: Hashable, compute: Callable[[], V]) -> V:
        hit = self._lru.get(key)
        if hit is not None and self._holds(ctx.store, hit[0], hit[1]):
            if self._check:
                fresh = self._run(ctx, key, compute)
                if fresh != hit[2]:
                    raise AssertionError(f"a remembered answer for {key!r} went stale: "
                                         "it depends on something read without "
                                         "Store.snapshot")
            return hit[2]
        return self._run(ctx, key, compute)

    def _run(self, ctx: Ctx, key: Hashable, compute: Callable[[], V]) -> V:
        real = ctx.store
        seen = ctx.store = Recording(real)       # type: ignore[assignment]
        try:
            value = compute()
        finally:
            ctx.store = real
        if seen.pure:
            gens = tuple((t, k, g) for (t, k), g in seen.gens.items())
            self._lru.put(key, (tuple(seen.deps), gens, value))
        return value

    def clear(self) -> None:
        self._lru.clear()
