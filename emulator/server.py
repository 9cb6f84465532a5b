"""Serve the emulator with granian (a Rust WSGI server).

Chosen by measurement (``bench/run.py --servers granian,gunicorn,waitress``): on the
2-core reference machine, a bare Flask hello-world at 8 connections answered
6,800-10,000 requests/s under granian (one worker) against about 3,500 under gunicorn
(one sync worker) and 3,300 under waitress (4 threads). Settings reach the worker
processes through MOCKCLOUD_* variables. ``--threads`` (granian's blocking threads)
defaults to 2 x CPUs + 1, the most granian calls sane for WSGI. Fewer threads are faster
on the hot path (one series at 8 connections: 1, 2 and 5 threads gave 9.3k, 8.4k and
6.8k PATCH/s), but several threads keep the server answering while ``latency_ms``
faults hold some of them, which is what a test injecting latency needs.
"""

from __future__ import annotations

import os
import socket
import sys
from pathlib import Path

from .settings import Settings


def _free_port(host: str) -> int:
    with socket.socket(socket.AF_INET6 if ":" in host else socket.AF_INET) as s:
        s.bind((host, 0))
        return s.getsockname()[1]


def check(settings: Settings) -> str | None:
    """A reason the settings cannot be served, or None."""
    if settings.workers < 1:
        return "--workers must be at least 1"
    if settings.threads < 1:
        return "--threads must be at least 1"
    if settings.workers > 1 and not settings.state.startswith("sqlite://"):
        return ("--workers > 1 needs a shared store: in-memory state lives in one process, "
                "so each worker would have its own world. Use --state sqlite:///path.db "
                "(or one worker).")
    if (settings.cert or settings.key) and not (settings.cert and settings.key):
        return "--cert and --key go together"
    return None


def run(settings: Settings) -> int:
    problem = check(settings)
    if problem:
        print(f"mockcloud: {problem}", file=sys.stderr)
        return 2
    from granian import Granian
    from granian.constants import Interfaces

    from .core import tls
    from .core.world import WorldError

    if settings.port == 0:
        settings.port = _free_port(settings.host)
    from .app import VENDORS, create_app

    cert = key = None
    if settings.tls:
        hosts = [h for v in VENDORS for h in v.hosts]
        cert, key = (Path(p) for p in tls.ensure_certificate(settings, hosts))
    # fail fast, in this process, on a bad world or state URL
    try:
        create_app(settings).store.close()
    except (WorldError, ValueError) as exc:
        print(f"mockcloud: {exc}", file=sys.stderr)
        return 2
    os.environ.update(settings.to_env())
    scheme = "https" if settings.tls else "http"
    host = f"[{settings.host}]" if ":" in settings.host else settings.host
    print(f"mockcloud listening on {scheme}://{host}:{settings.port} "
          f"(state {settings.state}, {settings.workers} worker(s))", flush=True)
    server = Granian(
        "emulator.wsgi:app",
        address=settings.host,
        port=settings.port,
        interface=Interfaces.WSGI,
        workers=settings.workers,
        blocking_threads=settings.threads,
        ssl_cert=cert,
        ssl_key=key,
        log_level=settings.log_level,
        log_access=False,
    )
    server.serve()
    return 0
