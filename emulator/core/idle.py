"""Tenants nobody uses go away (``--tenant-idle SECONDS``, issue 11).

A server shared by many pipelines (each test of the pytest plugin runs in a tenant of
its own) would otherwise keep every tenant it ever saw: its tokens, its changes over
the world, its journal. With ``tenant_idle`` set, a tenant that no request has named
and no webhook delivery has reached for that long (real time, not the tenant's virtual
clock; a delivery counts when its receiver accepted it: a sandbox that only listens to
its webhooks is in use, one whose receiver is gone is not) is deleted as
``DELETE /_mockcloud/tenant`` deletes one; a request naming it later starts it afresh
from the server's world, as a new tenant.

How: each process notes when it last saw a tenant (``seen``, called on every request
and by the webhook deliverer after each accepted delivery) in a document of the
system tenant (``tenancy.SYSTEM``: no request can name it), written at most once
every ``every`` seconds per tenant and process, so a busy tenant costs a dictionary
lookup a request. Every ``every`` seconds, each process's
sweeper thread (started with its first request) deletes the tenants whose note is
older than ``tenant_idle``. A tenant is taken by one sweeper only: the note is
updated (compare and set) to the sweep's time before the tenant is deleted, so two
processes never both delete it, and a request noted meanwhile keeps it. A deleted
tenant's note stays (marked ``swept``) until one more idle period has passed: a
tenant made again meanwhile by a process that had noted it a moment before (and so
did not note it again) is deleted in its turn once it is idle; a note with no tenant
behind it goes. The tenants nobody noted (from before the setting, or made by a
server without it) are noted at a process's first sweep and every tenth after it.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

from . import tenancy
from .clock import real_time
from .rounds import Rounds
from .store import LAYER_KIND
from .tenancy import SYSTEM

log = logging.getLogger("mockcloud")

KIND = "tenant.seen"           # documents of the _mockcloud tenant, by tenant name


class Idle:
    """The idle-tenant sweep of one process: ``seen`` on every request, ``rounds`` (the
    sweeper's thread), ``sweep`` (one round), ``forgotten`` (a tenant deleted here)."""

    NOTED_MAX = 100_000        # tenants remembered as noted (then forgotten at once)
    ADOPT_EVERY = 10           # rounds between two looks for tenants nobody noted

    def __init__(self, store: Any, idle: float, forget: Callable[[str], None]) -> None:
        if not idle > 0:
            raise ValueError(f"tenant_idle must be a positive number of seconds, not {idle!r}")
        self.store, self.idle, self.forget = store, float(idle), forget
        # how often a tenant's note is written (per process) and a sweep runs
        self.every = max(0.5, min(60.0, self.idle / 10))
        self._noted: dict[str, float] = {}
        self._rounds_to_adopt = 0   # rounds before the next look for tenants not noted
        # the sweeper (its thread): rounds.start(), rounds.stop()
        self.rounds = Rounds("mockcloud-idle-tenants", self.every, self._round, store,
                             "idle-tenant sweeps")

    # -- every request ---------------------------------------------------------

    def seen(self, tenant: str) -> None:
        now = real_time()
        last = self._noted.get(tenant)
        if last is not None and now - last < self.every:
            return
        if len(self._noted) >= self.NOTED_MAX:
            self._noted.clear()
        self._noted[tenant] = now
        self.store.put(SYSTEM, KIND, tenant, {"at": now})

    def forgotten(self, tenant: str) -> None:
        """``tenant`` was deleted by this process: its next request is noted at once."""
        self._noted.pop(tenant, None)

    # -- the sweeper -----------------------------------------------------------

    def _round(self) -> None:
        gone = self.sweep()
        if gone:
            log.info("mockcloud: deleted %d tenant(s) idle for %g s or more: %s",
                     len(gone), self.idle, ", ".join(gone[:20]))

    def sweep(self) -> list[str]:
        """One round: the tenants idle for ``idle`` seconds or more are deleted (the
        names this process deleted)."""
        now = real_time()
        notes = self.store.list(SYSTEM, KIND)
        if self._rounds_to_adopt <= 0:
            self._adopt(now, {t for t, _ in notes})
            self._rounds_to_adopt = self.ADOPT_EVERY
        self._rounds_to_adopt -= 1
        cutoff, gone = now - self.idle, []
        for tenant, note in notes:
            if not isinstance(note, dict) or note.get("at", 0) > cutoff:
                continue
            if not self._take(tenant, cutoff, now):
                continue
            if not self.store.count(tenant, LAYER_KIND):
                self.store.delete(SYSTEM, KIND, tenant)  # nothing behind it (deleted)
                continue
            self.forget(tenant)
            self._noted.pop(tenant, None)
            gone.append(tenant)
        return gone

    def _take(self, tenant: str, cutoff: float, now: float) -> bool:
        """Whether this process took the tenant's note (marked swept at ``now``); not
        when it was noted meanwhile, or taken by another process."""
        taken = [False]

        def take(doc: dict[str, Any] | None) -> dict[str, Any] | None:
            taken[0] = doc is not None and doc.get("at", 0) <= cutoff  # (may run again)
            return {"at": now, "swept": True} if taken[0] else None

        self.store.update(SYSTEM, KIND, tenant, take)
        return taken[0]

    def _adopt(self, now: float, noted: set[str]) -> None:
        """Note the tenants nobody noted (from before the setting, made by a server
        without it, or whose note went as it was made again): idle from now."""
        for tenant in self.store.tenants():
            if tenant not in noted and tenancy.valid(tenant):   # (not SYSTEM)
                self.store.update(SYSTEM, KIND, tenant,
                                  lambda doc: None if doc is not None else {"at": now})
