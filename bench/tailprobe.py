"""What a served worker's requests spend inside the app: for ``bench/tail.py``.

A WSGI wrapper served by granian in place of the app it wraps (``emulator`` is
``emulator.wsgi:app``, as ``mockcloud serve`` loads it, threads on one CPU;
``hello`` is ``bench.hello:pinned``), put inside the serving wrapper that pins the
threads and yields the CPU after each request. For each request it keeps the wall time and the
thread's CPU time from the call to the app's return (the answer is whole then: the
emulator and the hello-world both return a list), and for each cycle collection its
generation and wall time. ``GET /_tailprobe`` answers what was kept since the last
such call, as JSON, and starts again; the probe answers it itself.

The wall time minus the CPU time is what the request waited for inside the app: the
GIL (another thread ran), the request body (granian's ``wsgi.input.read`` lets go of
the GIL and waits for its I/O thread), or the CPU (another process ran). What the
client sees beyond the wall time is outside the app: queued in granian, waiting for
the GIL before the app is called, sockets, the load generator.
"""

from __future__ import annotations

import gc
import json
import threading
import time

_walls: list[float] = []
_cpus: list[float] = []
_gcs: list[tuple[int, float]] = []
_gc_started: dict[int, float] = {}


def _on_gc(phase: str, info: dict) -> None:
    if phase == "start":
        _gc_started[threading.get_ident()] = time.perf_counter()
        return
    began = _gc_started.pop(threading.get_ident(), None)
    if began is not None:
        _gcs.append((info["generation"], time.perf_counter() - began))


gc.callbacks.append(_on_gc)


def _quantile(xs: list[float], q: float) -> float:
    return xs[min(len(xs) - 1, int(len(xs) * q))] * 1000 if xs else 0.0


def summary() -> dict:
    """Milliseconds: the app's wall and CPU time per request (mean, p50, p99, p99.9,
    max); per collector generation: count, total, max."""
    walls, cpus, gcs = sorted(_walls), sorted(_cpus), list(_gcs)
    _walls.clear(), _cpus.clear(), _gcs.clear()
    out: dict = {"requests": len(walls)}
    for name, xs in (("wall", walls), ("cpu", cpus)):
        out[name] = {"mean": sum(xs) / len(xs) * 1000 if xs else 0.0,
                     "p50": _quantile(xs, .5), "p99": _quantile(xs, .99),
                     "p999": _quantile(xs, .999), "max": xs[-1] * 1000 if xs else 0.0}
    out["gc"] = {str(g): {"count": len(d), "total_ms": sum(d) * 1000,
                          "max_ms": max(d, default=0.0) * 1000}
                 for g in (0, 1, 2) for d in [[s for gg, s in gcs if gg == g]]}
    return out


def probe(app):
    def probed(environ, start_response):
        if environ.get("PATH_INFO") == "/_tailprobe":
            body = json.dumps(summary()).encode()
            start_response("200 OK", [("Content-Type", "application/json"),
                                      ("Content-Length", str(len(body)))])
            return [body]
        wall, cpu = time.perf_counter(), time.thread_time()
        try:
            return app(environ, start_response)
        finally:
            _cpus.append(time.thread_time() - cpu)
            _walls.append(time.perf_counter() - wall)
    return probed


def _inside(app):
    """The probe inside the serving wrapper (``emulator.affinity.Pinned``), around
    the app itself: the CPU the thread gives up after each request is not the app's."""
    from emulator.affinity import Pinned

    if isinstance(app, Pinned):
        app.app = probe(app.app)
        return app
    return probe(app)


def _emulator():
    from emulator.wsgi import app
    return _inside(app)


def _hello():
    from bench.hello import pinned
    return _inside(pinned)


def __getattr__(name: str):   # a target is built only when granian asks for it
    if name == "emulator":
        return _emulator()
    if name == "hello":
        return _hello()
    raise AttributeError(name)
