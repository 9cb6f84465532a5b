"""``mockcloud serve`` refusing what it cannot serve, and the one server launcher
(:mod:`emulator.launcher`): busy ports, bad ports, an open control plane, a chatty
server, the process group."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest
import requests

from emulator.launcher import ServerError, ServerProcess

BUSY = "address already in use"


def serve(*args: str, env: dict[str, str] | None = None,
          timeout: float = 60) -> subprocess.CompletedProcess:
    """``mockcloud serve ARGS`` expected to give up (a server that starts would hang)."""
    full_env = {k: v for k, v in os.environ.items() if k != "MOCKCLOUD_ADMIN_TOKEN"}
    full_env.update(env or {})
    return subprocess.run([sys.executable, "-m", "emulator.cli", "serve", *args],
                          capture_output=True, text=True, timeout=timeout, env=full_env)


def port_of(url: str) -> int:
    return int(url.rsplit(":", 1)[1])


# ------------------------------------------------------------------ busy ports

def test_a_second_server_on_a_busy_port_is_refused():
    with ServerProcess() as first:
        port = port_of(first.url)
        second = serve("--port", str(port))
        assert second.returncode == 2, second.stdout + second.stderr
        assert f"mockcloud: cannot listen on 127.0.0.1:{port}: {BUSY}" in second.stderr
        assert "listening" not in second.stdout
        # the wildcard address overlaps the first server's: refused as well
        wildcard = serve("--host", "0.0.0.0", "--port", str(port), "--admin-token", "t")
        assert wildcard.returncode == 2 and BUSY in wildcard.stderr
        # and the first server is still the only one answering there
        assert requests.get(first.url + "/_mockcloud/health", timeout=10).ok


def test_a_port_held_by_another_program_is_refused():
    with socket.socket() as other:
        other.bind(("127.0.0.1", 0))
        other.listen()
        port = other.getsockname()[1]
        proc = serve("--port", str(port))
    assert proc.returncode == 2
    assert f"cannot listen on 127.0.0.1:{port}: {BUSY}" in proc.stderr


def test_a_bound_but_idle_port_is_refused():
    with socket.socket() as other:  # bound, not listening yet: still not ours to take
        other.bind(("127.0.0.1", 0))
        port = other.getsockname()[1]
        proc = serve("--port", str(port))
    assert proc.returncode == 2 and BUSY in proc.stderr


def test_an_address_not_on_this_machine_is_refused():
    proc = serve("--host", "192.0.2.1", "--port", "8080", "--admin-token", "t")
    assert proc.returncode == 2
    assert "cannot listen on 192.0.2.1:8080: cannot assign requested address" in proc.stderr


# ------------------------------------------------------------------- bad ports

@pytest.mark.parametrize("port", ["99999", "65536", "-1"])
def test_a_port_out_of_range_is_a_clear_error(port):
    proc = serve("--port", port)
    assert proc.returncode == 2
    assert proc.stderr.strip() == (f"mockcloud: --port must be from 0 to 65535 (0 picks a "
                                   f"free port), not {port}")


def test_a_port_out_of_range_from_the_environment_is_a_clear_error():
    proc = serve(env={"MOCKCLOUD_PORT": "70000"})
    assert proc.returncode == 2 and "--port must be from 0 to 65535" in proc.stderr
    proc = serve(env={"MOCKCLOUD_PORT": "http"})
    assert proc.returncode == 2
    assert "MOCKCLOUD_PORT: expected an integer, got 'http'" in proc.stderr
    assert "Traceback" not in proc.stderr


def test_a_port_that_is_no_number_is_a_usage_error():
    proc = serve("--port", "eighty")
    assert proc.returncode == 2
    assert "invalid int value: 'eighty'" in proc.stderr and "Traceback" not in proc.stderr


# --------------------------------------------------- an open control plane

@pytest.fixture
def bad_world(tmp_path: Path) -> str:
    # the server stops right after the address checks, before it binds anything: the
    # warning is seen without opening a port to the network
    path = tmp_path / "bad.yaml"
    path.write_text("lightify: {users: 3}\n")
    return str(path)


def test_a_non_loopback_address_without_admin_token_warns(bad_world):
    proc = serve("--host", "0.0.0.0", "--port", "0", "--world", bad_world)
    assert "WARNING: listening on 0.0.0.0 without an admin token" in proc.stderr
    assert "MOCKCLOUD_ADMIN_TOKEN" in proc.stderr
    assert "users must be a list" in proc.stderr  # it went on, to the world file


@pytest.mark.parametrize("args,env", [
    (["--host", "0.0.0.0", "--admin-token", "s3cret"], {}),
    (["--host", "0.0.0.0"], {"MOCKCLOUD_ADMIN_TOKEN": "s3cret"}),
    (["--host", "127.0.0.1"], {}),
    (["--host", "localhost"], {}),
    (["--host", "::1"], {}),
])
def test_no_warning_with_a_token_or_on_loopback(bad_world, args, env):
    if "::1" in args and not socket.has_ipv6:
        pytest.skip("no IPv6")
    proc = serve(*args, "--port", "0", "--world", bad_world, env=env)
    if "cannot listen" in proc.stderr:
        pytest.skip(proc.stderr.strip())  # e.g. IPv6 switched off on this machine
    assert "WARNING" not in proc.stderr
    assert "users must be a list" in proc.stderr


# ----------------------------------------------------------------- the launcher

CHATTY = """
import os, pathlib, threading, time

def _chatter():
    flag = pathlib.Path(os.environ["CHATTY_DIR"])
    while not (flag / "go").exists():
        time.sleep(0.02)
    line = "x" * 1023 + "\\n"
    for _ in range(1024):  # 1 MiB: far past what an unread pipe holds (64 KiB)
        os.write(1, line.encode())
    (flag / f"done-{os.getpid()}").write_text("ok")

if os.environ.get("CHATTY_DIR"):
    threading.Thread(target=_chatter, daemon=True).start()
"""


def test_a_server_that_writes_a_lot_does_not_stall(tmp_path):
    """The server writes 1 MiB after it started (as a debug log would): nothing blocks,
    since its output goes to a file, not to a pipe nobody reads."""
    (tmp_path / "sitecustomize.py").write_text(CHATTY)
    path = os.pathsep.join(p for p in (str(tmp_path), os.environ.get("PYTHONPATH")) if p)
    env = {"CHATTY_DIR": str(tmp_path), "PYTHONPATH": path}
    with ServerProcess("--log-level", "debug", env=env) as server:
        (tmp_path / "go").touch()
        deadline = time.monotonic() + 30
        while not list(tmp_path.glob("done-*")) and time.monotonic() < deadline:
            time.sleep(0.05)
        assert list(tmp_path.glob("done-*")), "the server's writes blocked"
        for _ in range(50):
            assert requests.get(server.url + "/_mockcloud/health", timeout=10).ok
        assert server.log_path is not None and server.log_path.stat().st_size > 1 << 20


def test_the_launcher_reports_why_a_server_did_not_start(tmp_path):
    bad = tmp_path / "w.yaml"
    bad.write_text("lightify: {users: 3}\n")
    with pytest.raises(ServerError, match="exited with status 2") as info:
        ServerProcess("--world", str(bad)).start()
    assert "users must be a list" in str(info.value)


def test_the_launcher_gives_a_temporary_home_and_sends_the_admin_token(tmp_path):
    server = ServerProcess("--tls", admin_token="tok-123")
    with server:
        assert server.url.startswith("https://")
        assert server.headers == {"Authorization": "Bearer tok-123"}
        log = server.log_path
        assert log is not None and log.exists()
        home = log.parent / "home"
        assert (home / "tls" / "cert.pem").exists()  # not in ~/.mockcloud
    assert not log.exists() and not home.exists()  # both removed by stop


def live_members(group: int) -> list[str]:
    """Processes of a process group that are not zombies (from /proc)."""
    found = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except (OSError, IndexError):
            continue
        if int(fields[2]) == group and fields[0] != "Z":  # state, ppid, pgrp, ...
            found.append(stat.parent.name)
    return found


@pytest.mark.skipif(not Path("/proc/self/stat").exists(), reason="needs /proc")
@pytest.mark.parametrize("pause", [0.0, 0.5])
def test_stop_ends_the_whole_process_group(tmp_path, pause):
    # stopped at once (granian may still be spawning its second worker) or after a while
    server = ServerProcess("--state", f"sqlite:///{tmp_path}/w.db", "--workers", "2")
    with server:
        assert server.proc is not None
        group = server.proc.pid
        assert os.getpgid(group) == group  # the server leads its own group
        time.sleep(pause)
        began = time.monotonic()
    assert live_members(group) == []  # no orphan granian worker left
    assert time.monotonic() - began < 8
