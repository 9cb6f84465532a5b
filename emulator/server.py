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

SHARED_STATES = ("sqlite://", "redis://", "rediss://", "redis+cluster://", "rediss+cluster://")


def _free_port(host: str) -> int:
    with socket.socket(socket.AF_INET6 if ":" in host else socket.AF_INET) as s:
        s.bind((host, 0))
        return s.getsockname()[1]


def _hostport(host: str, port: int) -> str:
    return f"[{host}]:{port}" if ":" in host else f"{host}:{port}"


def _addresses(host: str, port: int) -> list[tuple[int, tuple]]:
    infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE)
    return [(family, addr) for family, _type, _proto, _name, addr in infos
            if family in (socket.AF_INET, socket.AF_INET6)]


def address_problem(host: str, port: int) -> str | None:
    """Why ``host:port`` cannot be listened on, or None.

    granian binds with SO_REUSEPORT, so a second server on a busy port would start and
    share it with the first (requests alternating between two unrelated in-memory
    clouds). So: something already answering there is refused, and so is an address a
    plain socket (SO_REUSEADDR for TIME_WAIT leftovers, never SO_REUSEPORT) cannot bind.
    """
    try:
        addresses = _addresses(host, port)
    except (socket.gaierror, UnicodeError) as exc:
        return f"unknown address ({exc})"
    if not addresses:
        return "no IPv4 or IPv6 address"
    for family, addr in addresses:
        with socket.socket(family, socket.SOCK_STREAM) as probe:
            probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            try:
                probe.bind(addr)
            except OSError as exc:
                reason = exc.strerror or str(exc)
                return reason[:1].lower() + reason[1:]
        if _listener_at(family, addr):
            return "address already in use"
    return None


def _listener_at(family: int, addr: tuple) -> bool:
    """Whether something accepts connections at addr (a wildcard address is tried on
    the loopback)."""
    if addr[1] == 0:
        return False
    target = list(addr)
    if target[0] in ("0.0.0.0", "::", ""):
        target[0] = "::1" if family == socket.AF_INET6 else "127.0.0.1"
    with socket.socket(family, socket.SOCK_STREAM) as s:
        s.settimeout(0.5)
        return s.connect_ex(tuple(target)) == 0


def check(settings: Settings) -> str | None:
    """A reason the settings cannot be served, or None."""
    port = settings.port
    if isinstance(port, bool) or not isinstance(port, int) or not 0 <= port <= 65535:
        return f"--port must be from 0 to 65535 (0 picks a free port), not {port!r}"
    if settings.workers < 1:
        return "--workers must be at least 1"
    if settings.threads < 1:
        return "--threads must be at least 1"
    if settings.workers > 1 and not settings.state.startswith(SHARED_STATES):
        return ("--workers > 1 needs a shared store: in-memory state lives in one process, "
                "so each worker would have its own world. Use --state sqlite:///path.db "
                "or --state redis://host:port/0 (or one worker).")
    if (settings.cert or settings.key) and not (settings.cert and settings.key):
        return "--cert and --key go together"
    return None


def _try_app(settings: Settings, answer=None) -> tuple[str | None, list[str]]:
    """(why the app cannot be built, or None; the vendors' host names), sent through
    ``answer`` when given. Building it builds the world, and saves it for the workers
    to map (``core/worldcache.py``)."""
    from .app import VENDORS, create_app
    from .core.world import WorldError

    hosts = [h for v in VENDORS for h in v.hosts]
    if answer is not None:      # a forked child, gone once it answered
        from .core import worldcache
        worldcache.leave_to_exit()
    try:
        create_app(settings).store.close()
    except (WorldError, ValueError) as exc:
        out: tuple[str | None, list[str]] = (str(exc), hosts)
    else:
        out = (None, hosts)
    if answer is not None:
        answer.send(out)
    return out


def _check_app(settings: Settings) -> tuple[str | None, list[str]]:
    """Why the app cannot be built (a bad world or state URL), or None, and the
    vendors' host names: found out in a forked child where the platform has fork (this
    process lives as long as the server: neither the world nor the app's imports stay
    with it), else here."""
    import multiprocessing

    if "fork" not in multiprocessing.get_all_start_methods():
        return _try_app(settings)
    ctx = multiprocessing.get_context("fork")
    mine, theirs = ctx.Pipe(duplex=False)
    child = ctx.Process(target=_try_app, args=(settings, theirs))
    child.start()
    theirs.close()
    try:
        answer = mine.recv()
    except EOFError:                    # it died: its traceback went to stderr
        answer = ("checking the world and the state failed", [])
    child.join()
    return answer


def run(settings: Settings) -> int:
    problem = check(settings)
    if problem:
        print(f"mockcloud: {problem}", file=sys.stderr)
        return 2
    from granian import Granian
    from granian.constants import Interfaces

    from .core import tls
    from .core.admin.lock import binds_loopback
    from .core.redis_store import shown
    busy = address_problem(settings.host, settings.port)  # port 0: the host only
    if not busy and settings.port == 0:
        settings.port = _free_port(settings.host)
    if busy:
        print(f"mockcloud: cannot listen on {_hostport(settings.host, settings.port)}: {busy}",
              file=sys.stderr)
        return 2
    if not settings.admin_token and not binds_loopback(settings.host):
        print(f"mockcloud: WARNING: listening on {settings.host} without an admin token: the "
              "control plane (/_mockcloud/: load worlds, read tokens, inject faults) is open "
              "to anyone who can reach this address. Set --admin-token or "
              "MOCKCLOUD_ADMIN_TOKEN.", file=sys.stderr, flush=True)
    # fail fast on a bad world or state URL, in a child process: building the app loads
    # the world, and this process lives as long as the server (a big world's memory
    # would stay with it, and with its workers had they been forked from it); the
    # child leaves the built world in the cache the workers map it from
    problem, hosts = _check_app(settings)
    if problem:
        print(f"mockcloud: {problem}", file=sys.stderr)
        return 2
    cert = key = None
    if settings.tls:
        cert, key = (Path(p) for p in tls.ensure_certificate(settings, hosts))
    os.environ.update(settings.to_env())
    scheme = "https" if settings.tls else "http"
    host = f"[{settings.host}]" if ":" in settings.host else settings.host
    print(f"mockcloud listening on {scheme}://{host}:{settings.port} "
          f"(state {shown(settings.state)}, {settings.workers} worker(s))", flush=True)
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
