"""One CPU for a worker's Python threads (``serve --pin-threads``, the default).

A process runs Python on one thread at a time (the GIL). granian serves a worker's
requests on several threads (``serve --threads``), and the kernel spreads those over
the CPUs, so the GIL, and every object a request touches (reading an object writes
its reference count), keeps moving from one CPU's caches to another's. Measured in
the served worker on the 2-CPU machine (5 threads, 8 connections, ``bench/README.md``,
"One CPU for the Python threads"), a Netatmo set point spent 162-166 us of CPU in the
app against 113 us with one thread; with its threads on one CPU, 124-131 us, and the
p99s of every row fell from tens or hundreds of milliseconds to about ten.

So each thread that runs a request is pinned to the worker's CPU before its first
one (threads it starts, the webhook deliverer's, inherit it). granian's I/O threads
(Rust, no GIL) are not: they stay free on every CPU. On one CPU (all the
process may use) nothing is pinned, and the giving up below still applies; a
platform without ``sched_getaffinity`` is left alone.

Each thread gives the CPU up (``sched_yield``) as it finishes a request. On one CPU,
a thread whose request let go of the GIL midway (granian's ``wsgi.input.read`` does,
for every request with a body) waits for it behind a thread that takes it again
request after request without leaving the CPU, until the kernel ends that thread's
time slice: measured in the served worker (``bench/tail.py``, 8 connections), every
request with a body waited one or two slices inside the app (p99 6 ms, p99.9 12 ms,
for 0.2 ms of CPU). Given up after each request, the CPU goes to the waiting thread
at once: the wait's p99 fell to 0.2-0.3 ms, the client's p99 from 9 to 2.3-3.2 ms,
and the hello-world's (``bench/hello.py``'s ``pinned``) from 6 to 1.6 ms.

Which CPU: worker k (the k-th process serve forked) of the serve with pid P takes
the CPU (P + k) mod n of the n the process may use, so the workers of one server
take different CPUs, and several servers on a machine (a test suite's) spread over
them rather than all taking the first.
"""

from __future__ import annotations

import contextlib
import os
import threading
from typing import Any

_yield = getattr(os, "sched_yield", lambda: None)
_forks = 0   # in serve's process: forks so far; a worker sees its own number


def count_fork() -> None:
    """Registered in serve's process to run before each fork."""
    global _forks
    _forks += 1


def worker_cpu() -> int | None:
    """The CPU this worker's Python threads run on; None: no pinning here."""
    try:
        cpus = sorted(os.sched_getaffinity(0))
    except (AttributeError, OSError):
        return None
    if len(cpus) < 2:
        return None
    return cpus[(os.getppid() + _forks) % len(cpus)]


def serving(app: Any) -> Any:
    """``app`` as a worker serves it: its request threads on this worker's CPU
    (``worker_cpu``), each giving the CPU up after each request; on a machine that
    gives the process one CPU only, where they all run anyway, only the giving up;
    without ``sched_getaffinity``, ``app`` itself."""
    cpu = worker_cpu()
    if cpu is not None:
        return Pinned(app, cpu)
    try:
        alone = len(os.sched_getaffinity(0)) == 1
    except (AttributeError, OSError):
        return app
    return Pinned(app, None) if alone else app


class Pinned:
    """A WSGI app whose request threads each go to ``cpu`` before their first request
    (None: they share the process's one CPU already), and give the CPU up to the
    others after each one."""

    def __init__(self, app: Any, cpu: int | None) -> None:
        self.app, self.cpu = app, cpu
        self._threads = threading.local()

    def __call__(self, environ: dict[str, Any], start_response: Any) -> Any:
        local = self._threads
        if self.cpu is not None and not hasattr(local, "pinned"):
            local.pinned = True
            # (0: the calling thread; a CPU gone since, by hotplug or a cgroup change,
            # leaves it anywhere)
            with contextlib.suppress(OSError):
                os.sched_setaffinity(0, {self.cpu})
        try:
            return self.app(environ, start_response)
        finally:
            _yield()   # (lets go of the GIL too: the next request's thread runs now)

    def __getattr__(self, name: str) -> Any:
        return getattr(self.app, name)
