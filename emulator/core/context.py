"""The per-request context: which tenant, its clock and store, the settings.

Set by the app for every request and reachable as ``current()``; code below the
routes gets what it needs passed in, this only bridges Flask's request to it.
``CURRENT`` holds it while the app serves the request (a context variable: one per
thread, and the app puts back what it held before once the request is answered);
``current()`` reads it there, or, outside the app's own call (a Flask request context
made by hand), in the request's environ.
"""

from __future__ import annotations

import math
from contextvars import ContextVar
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from flask import request

from . import clock as _clock
from . import tenancy
from .clock import KEY as CLOCK_KEY
from .clock import KIND as CLOCK_KIND
from .clock import Clock
from .store import Store

if TYPE_CHECKING:  # pragma: no cover
    from ..settings import Settings


@dataclass(slots=True)
class Ctx:
    store: Store
    tenant: str
    settings: Settings
    vendor: str | None = None
    # the request's WSGI environ, when the app made this context (Flask's
    # ``request.environ``, without the look-up through its proxy)
    environ: dict | None = field(default=None, repr=False)
    # a vendor's request: the prefix its base URL ends with (made from the environ
    # when asked: ``base``)
    prefix: str | None = field(default=None, repr=False)
    _now: float | None = field(default=None, repr=False)
    headers: list[tuple[str, str]] = field(default_factory=list)  # added to the response
    _base: str | None = field(default=None, repr=False)

    @property
    def base(self) -> str:
        """The vendor's base URL as this request's client used it (scheme, host, port,
        the tenant's path, the vendor's prefix; no trailing slash), for links in
        answers; "" outside a vendor's request. Made on first use."""
        if self._base is None:
            self._base = tenancy.client_base(self.environ, self.tenant, self.prefix) \
                if self.prefix is not None and self.environ is not None else ""
        return self._base

    @property
    def clock(self) -> Clock:
        return Clock(self.store, self.tenant)

    def now(self) -> float:
        """Virtual now, read once per request so a request sees one instant (the
        clock's state document read as ``Clock.now`` reads it, without a Clock)."""
        if self._now is None:
            self._now = _clock.now_of(self.store.get(self.tenant, CLOCK_KIND, CLOCK_KEY),
                                      _clock.real_time())
        return self._now

    def whole_second(self) -> float:
        """From here on, the request happens at the whole second of its instant (a
        vendor whose time is whole seconds, e.g. its ``time_server``)."""
        self._now = float(math.floor(self.now()))
        return self._now


CURRENT: ContextVar[Ctx | None] = ContextVar("mockcloud.ctx", default=None)


def current() -> Ctx:
    """The request's context: ``CURRENT`` (a context variable read in well under a
    tenth of the time of ``flask.request``'s proxy: the token endpoint asks four times
    a refresh), else the environ's."""
    ctx = CURRENT.get()
    return ctx if ctx is not None else request.environ["mockcloud.ctx"]
