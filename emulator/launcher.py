"""Start a real ``mockcloud serve`` in a child process: the one launcher of tests, scripts,
the benchmark and the pytest plugin.

::

    with ServerProcess("--state", "memory") as server:
        requests.get(server.url + "/lightify/v4/devices", ...)

What it does, so it works as well from an installed wheel as from a checkout:

* runs ``sys.executable -m emulator.cli serve --host 127.0.0.1 --port 0 ARGS...`` (the
  emulator package this process imported: a checkout is put on the child's PYTHONPATH),
  or another ``mockcloud`` command given as ``program``;
* the server's output goes to a log file (``log_path``; never an unread pipe, which
  would stall a server that logs more than the pipe holds);
* the child leads its own process group, and ``stop`` stops the whole group (granian
  has worker processes);
* ``MOCKCLOUD_HOME`` (where the self-signed TLS certificate is kept) is a temporary
  folder unless one is given (``home=`` or ``env={"MOCKCLOUD_HOME": ...}``);
* ``start`` waits for the "listening on" line, then for ``GET /_mockcloud/health`` to
  answer (with ``Authorization: Bearer <admin token>`` when the server has one); if the
  server exits or does not answer in time it raises :class:`ServerError` with the tail
  of the log.

The admin token is ``admin_token=`` if given (passed in ``MOCKCLOUD_ADMIN_TOKEN``), else
``--admin-token`` among the arguments, else ``MOCKCLOUD_ADMIN_TOKEN`` of the environment
the server gets; it is kept in ``admin_token`` for the caller.
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import tempfile
import time
import warnings
from collections.abc import Mapping, Sequence
from pathlib import Path
from types import TracebackType

__all__ = ["ServerError", "ServerProcess", "stop_process"]

READY_LINE = "listening on "


class ServerError(RuntimeError):
    """The server did not start (it exited, or did not answer in time); the message ends
    with the tail of its log."""


def stop_process(proc: subprocess.Popen | None, timeout: float = 10.0,
                 group: bool | None = None) -> None:
    """Stop a child we started: SIGTERM (again each second: granian drops one that
    arrives while it is still spawning its workers), then SIGKILL after ``timeout``
    seconds. When it leads its own process group (``group``; found out if None) the
    whole group is signalled, and any worker the leader leaves behind is killed."""
    if proc is None:
        return
    if group is None:
        group = _leads_group(proc)
    deadline = time.monotonic() + timeout
    while proc.poll() is None:
        left = deadline - time.monotonic()
        if left <= 0:
            _signal(proc, signal.SIGKILL, group)
            proc.wait(5)
            break
        _signal(proc, signal.SIGTERM, group)
        with contextlib.suppress(subprocess.TimeoutExpired):
            proc.wait(min(1.0, left))
    if group:  # the leader is gone: sweep what is left of its group
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(proc.pid, signal.SIGKILL)


def _leads_group(proc: subprocess.Popen) -> bool:
    if os.name != "posix" or proc.poll() is not None:
        return False
    try:
        return os.getpgid(proc.pid) == proc.pid
    except (ProcessLookupError, PermissionError):
        return False


def _signal(proc: subprocess.Popen, sig: int, group: bool) -> None:
    try:
        if group:
            os.killpg(proc.pid, sig)
        elif sig == signal.SIGTERM:
            proc.terminate()
        else:
            proc.kill()
    except (ProcessLookupError, PermissionError):
        pass


class ServerProcess:
    """A live ``mockcloud serve`` on a free port; a context manager."""

    def __init__(self, *args: str, env: Mapping[str, str] | None = None,
                 timeout: float = 30.0, host: str | None = "127.0.0.1",
                 admin_token: str | None = None, home: str | os.PathLike[str] | None = None,
                 log_path: str | os.PathLike[str] | None = None,
                 cwd: str | os.PathLike[str] | None = None,
                 base_env: Mapping[str, str] | None = None,
                 program: Sequence[str] | None = None) -> None:
        """``args`` follow ``serve --host HOST --port 0`` (a later ``--host`` wins);
        ``env`` is laid over ``base_env`` (default: this process's environment);
        ``log_path`` keeps the log there (its folder is created) instead of in a
        temporary folder removed by ``stop``; ``cwd`` is the server's working directory
        (default: ours, so relative paths in ``args`` mean what they mean here);
        ``program`` is the ``mockcloud`` command to run (default: this Python's
        ``-m emulator.cli``; e.g. ``["/venv/bin/mockcloud"]`` to try an installation)."""
        self.args = list(args)
        self.program = list(program) if program else None
        self.env = {**(os.environ if base_env is None else base_env), **(env or {})}
        self.timeout = timeout
        self.host = host
        self.cwd = cwd
        self.home = str(home) if home else (env or {}).get("MOCKCLOUD_HOME", "")
        self.admin_token = admin_token or _arg_value(self.args, "--admin-token") or \
            self.env.get("MOCKCLOUD_ADMIN_TOKEN") or None
        self._given_log = Path(log_path) if log_path else None
        self.log_path: Path | None = self._given_log
        self.proc: subprocess.Popen | None = None
        self.url = ""
        self._tmp: tempfile.TemporaryDirectory | None = None

    # ------------------------------------------------------------------ public
    @property
    def headers(self) -> dict[str, str]:
        """The headers the control plane wants (the admin token, when there is one)."""
        return {"Authorization": f"Bearer {self.admin_token}"} if self.admin_token else {}

    def command(self) -> list[str]:
        host = ["--host", self.host] if self.host else []
        program = self.program or [sys.executable, "-m", "emulator.cli"]
        return [*program, "serve", *host, "--port", "0", *self.args]

    def start(self) -> ServerProcess:
        if self.proc is not None:
            raise ServerError("this server was already started")
        try:
            self._spawn()
            deadline = time.monotonic() + self.timeout
            self._wait_listening(deadline)
            self._wait_healthy(deadline)
        except BaseException:
            self.stop()
            raise
        return self

    def stop(self) -> None:
        """Stop the server and its workers; remove the temporary folder (and with it the
        log, unless ``log_path`` was given)."""
        proc, self.proc = self.proc, None
        stop_process(proc, group=os.name == "posix")
        if self._tmp is not None:
            self._tmp.cleanup()
            self._tmp = None

    def log_tail(self, chars: int = 4000) -> str:
        """The end of the server's log ("" once it is gone)."""
        if self.log_path is None:
            return ""
        try:
            with open(self.log_path, "rb") as fh:
                fh.seek(0, os.SEEK_END)
                fh.seek(max(0, fh.tell() - chars))
                return fh.read().decode("utf-8", errors="replace")
        except OSError:
            return ""

    def __enter__(self) -> ServerProcess:
        return self.start()

    def __exit__(self, kind: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.stop()

    def __del__(self) -> None:  # a forgotten server must not outlive its owner
        proc = getattr(self, "proc", None)
        if proc is not None:
            with contextlib.suppress(Exception):
                stop_process(proc, group=os.name == "posix")

    # ---------------------------------------------------------------- internals
    def _spawn(self) -> None:
        self._tmp = tempfile.TemporaryDirectory(prefix="mockcloud-server-")
        env = dict(self.env)
        if self.home:
            env["MOCKCLOUD_HOME"] = self.home
        else:
            env["MOCKCLOUD_HOME"] = str(Path(self._tmp.name) / "home")
        if self.admin_token:
            env["MOCKCLOUD_ADMIN_TOKEN"] = self.admin_token
        env["PYTHONUNBUFFERED"] = "1"
        checkout = _checkout_root() if self.program is None else None
        if checkout:
            paths = [p for p in env.get("PYTHONPATH", "").split(os.pathsep) if p]
            if checkout not in paths:
                env["PYTHONPATH"] = os.pathsep.join([checkout, *paths])
        if self._given_log is None:
            self.log_path = Path(self._tmp.name) / "server.log"
        else:
            self._given_log.parent.mkdir(parents=True, exist_ok=True)
        assert self.log_path is not None
        with open(self.log_path, "wb") as log:
            self.proc = subprocess.Popen(
                self.command(), env=env, cwd=self.cwd, stdin=subprocess.DEVNULL, stdout=log,
                stderr=subprocess.STDOUT, start_new_session=os.name == "posix")

    def _fail(self, why: str) -> ServerError:
        tail = self.log_tail(3000).strip() or "(no output)"
        where = f" (log: {self.log_path})" if self._given_log else ""
        return ServerError(f"mockcloud {why}{where}; its last output:\n{tail}")

    def _wait_listening(self, deadline: float) -> None:
        assert self.proc is not None and self.log_path is not None
        while True:
            text = self._log_head()
            if READY_LINE in text:
                rest = text.split(READY_LINE, 1)[1]
                if "\n" in rest:  # the whole line is there
                    self.url = rest.split()[0]
                    return
            status = self.proc.poll()
            if status is not None:
                raise self._fail(f"exited with status {status} before listening")
            if time.monotonic() > deadline:
                raise self._fail(f"did not start within {self.timeout:.0f} s")
            time.sleep(0.05)

    def _log_head(self, size: int = 65536) -> str:
        assert self.log_path is not None
        try:
            with open(self.log_path, "rb") as fh:
                return fh.read(size).decode("utf-8", errors="replace")
        except OSError:
            return ""

    def _wait_healthy(self, deadline: float) -> None:
        import requests
        import urllib3

        assert self.proc is not None
        http = requests.Session()
        http.trust_env = False  # never through a proxy: the server is local
        http.verify = False     # the self-signed certificate of --tls
        try:
            while True:
                try:
                    with warnings.catch_warnings():
                        warnings.simplefilter("ignore", urllib3.exceptions.InsecureRequestWarning)
                        resp = http.get(self.url + "/_mockcloud/health", headers=self.headers,
                                        timeout=2)
                except requests.RequestException:
                    resp = None
                if resp is not None:
                    if resp.ok:
                        return
                    if resp.status_code in (401, 403):
                        raise self._fail(f"at {self.url} refused the admin token on "
                                         f"/_mockcloud/health (HTTP {resp.status_code})")
                status = self.proc.poll()
                if status is not None:
                    raise self._fail(f"exited with status {status} right after announcing "
                                     f"{self.url}")
                if time.monotonic() > deadline:
                    got = f"HTTP {resp.status_code}" if resp is not None else "no answer"
                    raise self._fail(f"at {self.url} did not answer /_mockcloud/health "
                                     f"within {self.timeout:.0f} s ({got})")
                time.sleep(0.05)
        finally:
            http.close()


def _arg_value(args: list[str], flag: str) -> str | None:
    value = None
    for i, arg in enumerate(args):
        if arg == flag and i + 1 < len(args):
            value = args[i + 1]
        elif arg.startswith(flag + "="):
            value = arg.split("=", 1)[1]
    return value


def _checkout_root() -> str | None:
    """The folder holding the ``emulator`` package when it is a checkout (not an
    installed site-packages), so the child imports the same code as this process."""
    root = Path(__file__).resolve().parents[1]
    if root.name in ("site-packages", "dist-packages"):
        return None
    return str(root)

