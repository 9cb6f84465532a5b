"""A background thread of one process that does a round of work now and then: the
webhook deliveries (``core/webhooks.py``), the idle-tenant sweep (``core/idle.py``).

Started by the app with its first request, never at import, so a forking server
starts one per worker process. It runs ``work`` every ``every`` seconds, or at once
when woken (``wake``), until ``stop``. A round that fails does not end the thread:
the next one tries again; a store that is down is logged once while it stays down,
anything else with its traceback.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from typing import Any

from .store import unavailable

log = logging.getLogger("mockcloud")


class Rounds:
    def __init__(self, name: str, every: float, work: Callable[[], Any], store: Any,
                 what: str) -> None:
        """``name``: the thread's; ``what``: the rounds' in the log ("webhook rounds")."""
        self.name, self.every, self.work, self.store, self.what = name, every, work, store, what
        self._wake = threading.Event()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._lock = threading.Lock()
        self._down = False          # the last round found the store down

    @property
    def started(self) -> bool:
        return self._thread is not None

    def start(self) -> None:
        with self._lock:
            if self._thread is None:
                self._thread = threading.Thread(target=self._loop, daemon=True,
                                                name=self.name)
                self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        self._wake.set()

    def wake(self) -> None:
        self._wake.set()

    def wait(self, seconds: float) -> bool:
        """Sleep ``seconds`` unless stopped first (then True)."""
        return self._stop.wait(seconds)

    def _loop(self) -> None:
        while not self._stop.is_set():
            self._wake.wait(self.every)
            self._wake.clear()
            if self._stop.is_set():
                break
            try:
                self.work()
            except Exception as exc:  # the thread never dies; the next round tries again
                why = unavailable(self.store, exc)
                if why is None:
                    log.exception("%s: a round failed", self.what)
                elif not self._down:  # one line while it stays down
                    log.warning("%s wait for the store: %s", self.what, why)
                self._down = why is not None
            else:
                self._down = False
