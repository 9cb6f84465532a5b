"""Virtual clock, one per tenant, kept in the store so every worker agrees.

Virtual time is either real time plus an offset, or frozen at an instant. This module
is the only place in mockcloud that reads the real time.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass
from email.utils import formatdate
from typing import Any

from .store import Store

KIND = "clock"
KEY = "state"


@dataclass(frozen=True)
class ClockState:
    offset: float = 0.0          # virtual - real, seconds, while running
    frozen_at: float | None = None

    def now(self, real: float) -> float:
        return self.frozen_at if self.frozen_at is not None else real + self.offset

    def to_doc(self) -> dict[str, Any]:
        return {"offset": self.offset, "frozen_at": self.frozen_at}


def real_time() -> float:
    return time.time()


def now_of(doc: dict[str, Any] | None, real: float) -> float:
    """``ClockState(**doc).now(real)`` without making the state (every request asks)."""
    if not doc:
        return real
    frozen = doc.get("frozen_at")
    return frozen if frozen is not None else real + doc.get("offset", 0.0)


class Clock:
    """The virtual clock of one tenant."""

    def __init__(self, store: Store, tenant: str) -> None:
        self.store = store
        self.tenant = tenant

    def state(self) -> ClockState:
        doc = self.store.get(self.tenant, KIND, KEY)
        return ClockState(**doc) if doc else ClockState()

    def now(self) -> float:
        return now_of(self.store.get(self.tenant, KIND, KEY), real_time())

    def _set(self, fn) -> ClockState:
        def apply(doc):
            st = ClockState(**doc) if doc else ClockState()
            new = fn(st, real_time())
            check_instant(new.now(real_time()))
            return new.to_doc()

        return ClockState(**self.store.update(self.tenant, KIND, KEY, apply))

    def freeze(self, at: float | None = None) -> ClockState:
        return self._set(lambda st, real: ClockState(st.offset, at if at is not None
                                                      else st.now(real)))

    def resume(self) -> ClockState:
        return self._set(lambda st, real: ClockState(st.now(real) - real, None))

    def advance(self, seconds: float) -> ClockState:
        def fn(st: ClockState, real: float) -> ClockState:
            if st.frozen_at is not None:
                return ClockState(st.offset, st.frozen_at + seconds)
            return ClockState(st.offset + seconds, None)

        return self._set(fn)

    def set(self, at: float) -> ClockState:
        def fn(st: ClockState, real: float) -> ClockState:
            if st.frozen_at is not None:
                return ClockState(st.offset, at)
            return ClockState(at - real, None)

        return self._set(fn)

    def describe(self) -> dict[str, Any]:
        st, real = self.state(), real_time()
        now = st.now(real)
        return {
            "now": now,
            "iso": iso(now),
            "frozen": st.frozen_at is not None,
            "offset": round(now - real, 6),
        }


EARLIEST, LATEST = 0.0, 253402300799.0    # 1970-01-01 .. 9999-12-31T23:59:59Z


def check_instant(ts: float) -> float:
    """Virtual time must stay a real, printable date (HTTP Date headers, ISO)."""
    if not math.isfinite(ts) or not EARLIEST <= ts <= LATEST:
        raise ValueError("the clock must stay between 1970-01-01 and 9999-12-31 "
                         "(and be a finite number)")
    return ts


def iso(ts: float) -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(ts))


def http_date(ts: float) -> str:
    return formatdate(ts, usegmt=True)


def parse_instant(value: Any) -> float:
    """An epoch number or an ISO-8601 instant (``2026-01-01T00:00:00Z``)."""
    if isinstance(value, bool):
        raise ValueError("expected a number of seconds or an ISO-8601 instant")
    if isinstance(value, int | float):
        return check_instant(float(value))
    if isinstance(value, str):
        from datetime import datetime

        try:
            return check_instant(float(value))
        except ValueError:
            pass
        try:
            dt = datetime.fromisoformat(value.replace("Z", "+00:00"))
        except ValueError as exc:
            raise ValueError(f"not an ISO-8601 instant: {value!r}") from exc
        if dt.tzinfo is None:
            raise ValueError(f"instant {value!r} needs a time zone (e.g. Z)")
        return check_instant(dt.timestamp())
    raise ValueError("expected a number of seconds or an ISO-8601 instant")
