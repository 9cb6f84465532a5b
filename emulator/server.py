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
from typing import Any, NamedTuple

from .affinity import count_fork
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


class Answer(NamedTuple):
    """What the check found: why the app cannot be built (or None), the vendors' host
    names, and the file its built world was saved to (None: not cached)."""

    problem: str | None
    hosts: list[str]
    built: str | None = None


def _try_app(settings: Settings, answer=None, parent: int = 0) -> Answer:
    """Whether the app builds (``Answer``), sent through ``answer`` when given (a
    child forked by ``parent``, gone once it answered, or with its parent). Building
    it builds the world, and saves it for the workers to map (``core/worldcache.py``)."""
    if answer is not None:
        from .core import worldcache
        worldcache.die_with_parent(parent)
        worldcache.leave_to_exit()
    from .app import VENDORS, create_app
    from .core.world import WorldError

    hosts = [h for v in VENDORS for h in v.hosts]
    try:
        app = create_app(settings)
    except (WorldError, ValueError) as exc:
        out = Answer(str(exc), hosts)
    else:
        path = app.world_base.path
        app.store.close()
        out = Answer(None, hosts, str(path) if path else None)
    if answer is not None:
        answer.send(out)
    return out


class _Check:
    """``_try_app`` in a forked child (this process lives as long as the server:
    neither the world nor the app's imports stay with it): started here, its answer
    taken by ``result``."""

    def __init__(self, settings: Settings) -> None:
        import multiprocessing

        ctx = multiprocessing.get_context("fork")
        self._conn, theirs = ctx.Pipe(duplex=False)
        self._child = ctx.Process(target=_try_app, args=(settings, theirs, os.getpid()))
        self._child.start()
        theirs.close()

    def result(self) -> Answer:
        try:
            answer = self._conn.recv()
        except EOFError:                    # it died: its traceback went to stderr
            answer = Answer("checking the world and the state failed", [])
        self._child.join()
        return answer

    def stop(self) -> None:
        """End the child if it still runs (the server stopped before its answer)."""
        if self._child.is_alive():
            self._child.terminate()
        self._child.join()


def _forks() -> bool:
    import multiprocessing

    return "fork" in multiprocessing.get_all_start_methods()


def _check_app(settings: Settings) -> Answer:
    """Whether the app can be built (a bad world or state URL is the answer's
    problem): found out in a forked child where the platform has fork, else here."""
    return _Check(settings).result() if _forks() else _try_app(settings)


# set in serve's process while a big world is checked beside the starting server (see
# ``_alongside``): the gate its workers, forked from it, wait on, and where the check
# saved the built world (``checked_world``)
_GATE: Any = None


def _alongside(settings: Settings) -> bool:
    """Whether the world is checked while the server starts (its workers import the
    app meanwhile and wait for the check's answer before they build it), rather than
    before: for a big world (``worldcache.AUTO_BYTES`` or more: its check takes
    seconds, the workers' imports a second), when granian forks its workers from this
    process (what carries the gate to them), and without ``--tls`` (its certificate
    names the hosts the check answers). A small world is checked first, so a bad one
    stops the server before it binds anything."""
    import multiprocessing

    from .core.worldcache import AUTO_BYTES
    if settings.tls or not _forks() or multiprocessing.get_start_method() != "fork":
        return False
    try:
        return Path(settings.world).stat().st_size >= AUTO_BYTES
    except OSError:
        return False                    # the check says why the file cannot be read


def checked_world() -> None:
    """In a server's worker: when serve checks the world beside the start
    (``_alongside``), the app takes its world from that check, waiting for it once
    everything else is built (``worldcache.checked_elsewhere``); else nothing. Nothing
    waits when the check fails: serve stops the server, its workers with it. A worker
    whose server went away (its parent changed) exits."""
    if _GATE is None:
        return
    from .core import worldcache

    gate, built = _GATE
    parent = os.getppid()

    def wait() -> str | None:
        while not gate.wait(1.0):
            if os.getppid() != parent:
                os._exit(1)
        return built.value.decode() or None

    worldcache.checked_elsewhere(wait)


def _listening(settings: Settings) -> None:
    from .core.redis_store import shown

    scheme = "https" if settings.tls else "http"
    host = f"[{settings.host}]" if ":" in settings.host else settings.host
    print(f"mockcloud listening on {scheme}://{host}:{settings.port} "
          f"(state {shown(settings.state)}, {settings.workers} worker(s))", flush=True)


def run(settings: Settings) -> int:
    problem = check(settings)
    if problem:
        print(f"mockcloud: {problem}", file=sys.stderr)
        return 2
    from .core.loopback import binds_loopback
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
    if _alongside(settings):
        return _serve_alongside(settings)
    problem, hosts, _built = _check_app(settings)
    if problem:
        print(f"mockcloud: {problem}", file=sys.stderr)
        return 2
    cert = key = None
    if settings.tls:
        from .core import tls
        cert, key = (Path(p) for p in tls.ensure_certificate(settings, hosts))
    os.environ.update(settings.to_env())
    _listening(settings)
    _granian(settings, cert, key).serve()
    return 0


def _granian(settings: Settings, cert: Path | None = None, key: Path | None = None) -> Any:
    from granian import Granian
    from granian.constants import Interfaces

    # a worker forked by granian keeps this process's signal handlers (granian's, on
    # its server object here) until it sets its own, once the app is built: a SIGTERM
    # from granian stopping it meanwhile would be lost and granian wait for it for ever
    os.register_at_fork(before=count_fork, after_in_child=_worker_signals)
    return Granian(
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


def _worker_signals() -> None:
    """In a process forked from serve's: stopped by SIGTERM, deaf to SIGINT (a Ctrl-C
    reaches serve, which stops its workers), until granian sets its own handlers."""
    import signal

    signal.signal(signal.SIGTERM, signal.SIG_DFL)
    signal.signal(signal.SIGINT, signal.SIG_IGN)


def _serve_alongside(settings: Settings) -> int:
    """Serve while the check runs (``_alongside``): once granian has bound the address
    and set its signal handlers, a thread takes the check's answer; a pass opens the
    gate the workers wait on, a failure is reported and stops the server (SIGTERM, as
    an operator would: granian stops its workers) with status 2."""
    import multiprocessing
    import signal
    import threading

    global _GATE
    check = _Check(settings)
    os.environ.update(settings.to_env())
    server = _granian(settings)
    ctx = multiprocessing.get_context("fork")
    gate, built = ctx.Event(), ctx.Array("c", 4096, lock=False)
    _GATE = gate, built
    failed: list[str] = []

    def answer() -> None:
        out = check.result()
        if out.problem:
            failed.append(out.problem)
            print(f"mockcloud: {out.problem}", file=sys.stderr, flush=True)
            os.kill(os.getpid(), signal.SIGTERM)
            return
        path = (out.built or "").encode()
        if len(path) < len(built):      # else the workers find it themselves
            built.value = path
        _listening(settings)
        gate.set()

    server.on_startup(lambda: threading.Thread(target=answer, daemon=True).start())
    try:
        server.serve()
    finally:
        check.stop()
        _GATE = None
    return 2 if failed else 0
