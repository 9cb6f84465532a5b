"""Real Redis servers for the tests (a pytest plugin, named in conftest.py).

* ``redis_url``: ``MOCKCLOUD_TEST_REDIS_URL`` when set, else a ``redis-server`` started
  on a free port in a temporary folder, without persistence, for the session (each
  xdist worker has its own).
* ``redis_tls_url``: ``MOCKCLOUD_TEST_REDIS_TLS_URL`` when set, else a ``redis-server``
  speaking TLS only (a self-signed certificate) with a password, as
  ``rediss://:<password>@127.0.0.1:<port>/0?ssl_ca_certs=<the certificate>``.
* ``redis_cluster_url``: ``MOCKCLOUD_TEST_REDIS_CLUSTER_URL`` when set, else three
  ``redis-server --cluster-enabled yes`` joined by ``redis-cli --cluster create``
  (no replicas), as ``redis+cluster://127.0.0.1:<port>``.
* ``fresh_prefix(url)``: the URL with a key prefix of its own (``?prefix=``), so that
  tests sharing one Redis never see each other's keys.

Without ``redis-server`` (Debian's package ``redis-server``; scripts/ensure_services.py
installs it as root) these tests skip with the reason, or fail when
``MOCKCLOUD_REQUIRE_SERVICES=1`` (CI).
"""

from __future__ import annotations

import os
import random
import shutil
import socket
import ssl
import subprocess
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

READY_TIMEOUT = 20.0


def unavailable(reason: str) -> None:
    if os.environ.get("MOCKCLOUD_REQUIRE_SERVICES") == "1":
        pytest.fail(f"{reason} (required: MOCKCLOUD_REQUIRE_SERVICES=1)", pytrace=False)
    pytest.skip(reason)


def _need(exe: str) -> str:
    path = shutil.which(exe)
    if path is None:
        unavailable(f"{exe} not found: the Redis tests need Debian's redis-server package "
                    f"(run scripts/ensure_services.py as root, or apt-get install "
                    f"redis-server), or MOCKCLOUD_TEST_REDIS_URL")
    return path  # type: ignore[return-value]


def free_port(cluster: bool = False) -> int:
    """A free port; for a cluster node one of at most 55535 whose bus port (+10000) is
    free too (Redis refuses higher ones)."""
    while True:
        port = random.randint(20000, 55535) if cluster else 0
        try:
            with socket.socket() as s, socket.socket() as bus:
                s.bind(("127.0.0.1", port))
                if cluster:
                    bus.bind(("127.0.0.1", port + 10000))
                return s.getsockname()[1]
        except OSError:
            continue


def fresh_prefix(url: str) -> str:
    return f"{url}{'&' if '?' in url else '?'}prefix=t{uuid.uuid4().hex[:12]}"


class RedisServer:
    """One ``redis-server`` child on a free port, in its own folder."""

    def __init__(self, folder: Path, *extra: str, tls: tuple[Path, Path] | None = None
                 ) -> None:
        """``tls``: (certificate, key) PEM files: the port then speaks TLS only (the
        certificate is its own CA; clients show none)."""
        self.port = free_port(cluster="--cluster-enabled" in extra)
        self.folder = folder
        self.tls = tls
        folder.mkdir(parents=True, exist_ok=True)
        self.log = folder / "redis.log"
        self.extra = extra
        self.start()

    def start(self) -> None:
        """Start (or, after ``stop``, start again) on the same port and folder; later
        ``extra`` arguments win (``--appendonly yes`` keeps the data across a restart)."""
        ports = ["--port", str(self.port)] if self.tls is None else [
            "--port", "0", "--tls-port", str(self.port), "--tls-cert-file", str(self.tls[0]),
            "--tls-key-file", str(self.tls[1]), "--tls-ca-cert-file", str(self.tls[0]),
            "--tls-auth-clients", "no"]
        self.proc = subprocess.Popen(
            [_need("redis-server"), *ports, "--bind", "127.0.0.1",
             "--dir", str(self.folder), "--save", "", "--appendonly", "no",
             "--logfile", str(self.log), *self.extra],
            stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.STDOUT)
        self._wait()

    @property
    def url(self) -> str:
        scheme = "redis" if self.tls is None else "rediss"
        return f"{scheme}://127.0.0.1:{self.port}/0"

    def _wait(self) -> None:
        deadline = time.monotonic() + READY_TIMEOUT
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"redis-server exited: {self.log.read_text()[-2000:]}")
            try:
                with socket.create_connection(("127.0.0.1", self.port), 0.5) as raw:
                    s = raw if self.tls is None else ssl.create_default_context(
                        cafile=str(self.tls[0])).wrap_socket(raw, server_hostname="127.0.0.1")
                    s.sendall(b"PING\r\n")
                    if s.recv(64).startswith((b"+PONG", b"-NOAUTH")):  # (a password)
                        return
            except OSError:
                pass
            time.sleep(0.05)
        self.stop()
        raise RuntimeError(f"redis-server did not answer on port {self.port}")

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(5)


def start_cluster(folder: Path, nodes: int = 3) -> list[RedisServer]:
    cli = _need("redis-cli")
    servers: list[RedisServer] = []
    try:
        for i in range(nodes):
            servers.append(RedisServer(folder / f"node{i}", "--cluster-enabled", "yes",
                                       "--cluster-config-file", f"nodes-{i}.conf",
                                       "--cluster-node-timeout", "5000"))
        done = subprocess.run(
            [cli, "--cluster", "create", *(f"127.0.0.1:{s.port}" for s in servers),
             "--cluster-replicas", "0", "--cluster-yes"],
            stdin=subprocess.DEVNULL, capture_output=True, text=True, timeout=60, check=False)
        if done.returncode != 0:
            raise RuntimeError(f"redis-cli --cluster create failed: {done.stdout[-2000:]}"
                               f"{done.stderr[-2000:]}")
        deadline = time.monotonic() + READY_TIMEOUT
        for s in servers:
            while True:
                info = subprocess.run([cli, "-p", str(s.port), "cluster", "info"],
                                      capture_output=True, text=True, timeout=10).stdout
                if "cluster_state:ok" in info:
                    break
                if time.monotonic() > deadline:
                    raise RuntimeError(f"the cluster did not become ready: {info}")
                time.sleep(0.1)
    except BaseException:
        for s in servers:
            s.stop()
        raise
    return servers


def _served(variable: str, start) -> Iterator[str]:
    """The URL in ``variable``, else ``start()``'s servers (stopped afterwards)."""
    given = os.environ.get(variable)
    if given:
        yield given
        return
    _need("redis-server")
    servers, url = start()
    try:
        yield url
    finally:
        for s in servers:
            s.stop()


@pytest.fixture(scope="session")
def redis_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    def start():
        server = RedisServer(tmp_path_factory.mktemp("redis"))
        return [server], server.url

    yield from _served("MOCKCLOUD_TEST_REDIS_URL", start)


TLS_PASSWORD = "s3cret-for-tests"


@pytest.fixture(scope="session")
def redis_tls_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A ``redis-server`` on TLS only, with a password (``requirepass``), as a URL with
    both and the CA to trust (``?ssl_ca_certs=``); ``MOCKCLOUD_TEST_REDIS_TLS_URL``
    when set."""
    def start():
        from emulator.core.tls import write_self_signed

        folder = tmp_path_factory.mktemp("redis-tls")
        cert, key = folder / "cert.pem", folder / "key.pem"
        write_self_signed(cert, key, ["localhost"])
        server = RedisServer(folder, "--requirepass", TLS_PASSWORD, tls=(cert, key))
        return [server], (f"rediss://:{TLS_PASSWORD}@127.0.0.1:{server.port}/0"
                          f"?ssl_ca_certs={cert}")

    yield from _served("MOCKCLOUD_TEST_REDIS_TLS_URL", start)


@pytest.fixture(scope="session")
def redis_cluster_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    def start():
        servers = start_cluster(tmp_path_factory.mktemp("redis-cluster"))
        return servers, f"redis+cluster://127.0.0.1:{servers[0].port}"

    yield from _served("MOCKCLOUD_TEST_REDIS_CLUSTER_URL", start)
