"""The per-request context: which tenant, its clock and store, the settings.

Set by the app for every request and reachable as ``current()``; code below the
routes gets what it needs passed in, this only bridges Flask's request to it.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from flask import request

from .clock import Clock
from .store import Store

if TYPE_CHECKING:  # pragma: no cover
    from ..settings import Settings


@dataclass
class Ctx:
    store: Store
    tenant: str
    settings: Settings
    vendor: str | None = None
    _now: float | None = field(default=None, repr=False)
    headers: list[tuple[str, str]] = field(default_factory=list)  # added to the response
    # the vendor's base URL as this request's client used it (scheme, host, port, the
    # tenant's path, the vendor's prefix; no trailing slash), for links in answers
    base: str = ""

    @property
    def clock(self) -> Clock:
        return Clock(self.store, self.tenant)

    def now(self) -> float:
        """Virtual now, read once per request so a request sees one instant."""
        if self._now is None:
            self._now = self.clock.now()
        return self._now

    def whole_second(self) -> float:
        """From here on, the request happens at the whole second of its instant (a
        vendor whose time is whole seconds, e.g. its ``time_server``)."""
        self._now = float(math.floor(self.now()))
        return self._now


def current() -> Ctx:
    return request.environ["mockcloud.ctx"]
