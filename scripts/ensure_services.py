#!/usr/bin/env python3
"""Make sure the system services the tests need are on this machine.

One line per service: ``found``, ``installed`` or ``MISSING`` and why. A missing
service is installed from Debian packages when this runs as root, ``apt-get`` is
there and ``MOCKCLOUD_INSTALL_SERVICES`` is not ``0``: ``apt-get update`` once, then
``apt-get install -y --no-install-recommends <packages>``, non-interactive and
bounded in time. A daemon (dockerd) is then started when it is not running, detached,
logging to a file (``NOT RUNNING`` and the daemon's error when it cannot). Tests that
need a missing service skip with the reason, unless ``MOCKCLOUD_REQUIRE_SERVICES=1``
(CI), where they fail; this script then exits 1 too, so the run stops at the cause
rather than at the first test that needed it.

Standard library only: it runs before the virtualenv exists. A new service is one
more entry in SERVICES.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass

UPDATE_TIMEOUT = 300      # seconds for `apt-get update`
INSTALL_TIMEOUT = 1200    # seconds for one `apt-get install`
LOCK_TIMEOUT = 120        # seconds apt waits for another apt/dpkg to let go of its lock


@dataclass(frozen=True)
class Service:
    name: str
    needed_by: str
    executables: tuple[str, ...]   # absolute paths or names looked up on PATH, in order
    packages: tuple[str, ...]      # the Debian packages that provide it
    default: bool = True           # False: only when named (`ensure_services.py wrk`)
    also: tuple[str, ...] = ()     # further executables it needs, each (names or paths)
    # a daemon to have running once installed: None when it runs, else why it does not
    start: Callable[[], str | None] | None = None

    def find(self) -> str | None:
        found = _which(self.executables)
        if found and all(_which((exe,)) for exe in self.also):
            return found
        return None


def _which(executables: Sequence[str]) -> str | None:
    for exe in executables:
        if os.path.isabs(exe):
            if os.path.isfile(exe) and os.access(exe, os.X_OK):
                return exe
        elif found := shutil.which(exe):
            return found
    return None


DOCKERD_LOG = "/var/log/mockcloud-dockerd.log"
DOCKERD_READY = 60        # seconds a dockerd start may take
# dockerd's options, tried in turn until one runs: the defaults (overlay2, a bridge with
# iptables), then the vfs storage driver, then without iptables too (VMs whose kernel
# lacks overlayfs or netfilter)
DOCKERD_TRIES = ((), ("--storage-driver=vfs",), ("--storage-driver=vfs", "--iptables=false"))


def _docker_info() -> str | None:
    """None when a daemon answers Debian's client (or the one on PATH), else why not."""
    client = _which(("/usr/bin/docker", "docker"))
    if client is None:
        return "no docker client"
    try:
        done = subprocess.run([client, "version", "--format", "{{.Server.Version}}"],
                              stdin=subprocess.DEVNULL, capture_output=True, text=True,
                              timeout=30, check=False)
    except subprocess.TimeoutExpired:
        return f"`{client} version` took over 30 s"
    return None if done.returncode == 0 else (done.stderr or done.stdout).strip()[-300:]


def start_dockerd() -> str | None:
    """dockerd running (started detached, logging to DOCKERD_LOG, when it is not)."""
    if _docker_info() is None:
        return None
    if not hasattr(os, "geteuid") or os.geteuid() != 0:
        return "dockerd is not running and starting it needs root"
    dockerd = _which(("/usr/sbin/dockerd", "dockerd"))
    if dockerd is None:
        return "no dockerd"
    why = ""
    for options in DOCKERD_TRIES:
        with open(DOCKERD_LOG, "ab") as log:
            log.write(f"--- {time.ctime()}: {dockerd} {' '.join(options)}\n".encode())
            log.flush()
            offset = log.tell()
            proc = subprocess.Popen([dockerd, *options], stdin=subprocess.DEVNULL,
                                    stdout=log, stderr=subprocess.STDOUT,
                                    start_new_session=True)
        deadline = time.monotonic() + DOCKERD_READY
        while time.monotonic() < deadline and proc.poll() is None:
            if _docker_info() is None:
                print(f"docker: started {' '.join([dockerd, *options])} (pid {proc.pid}, "
                      f"log {DOCKERD_LOG})", flush=True)
                return None
            time.sleep(0.5)
        if proc.poll() is None:
            proc.terminate()
            proc.wait(timeout=30)
        with open(DOCKERD_LOG, "rb") as log:
            log.seek(offset)
            lines = log.read().decode(errors="replace").splitlines()
        tail = [line for line in lines if "failed to start daemon" in line
                or "level=fatal" in line] or [line for line in lines if "level=error" in line]
        why = f"dockerd {' '.join(options) or '(defaults)'}: " + (
            tail[-1] if tail else f"exited {proc.returncode}" if proc.returncode is not None
            else f"no answer within {DOCKERD_READY} s")
    return f"dockerd does not start here; last try: {why} (log {DOCKERD_LOG})"


SERVICES: tuple[Service, ...] = (
    Service("chromium", "the browser tests (tests/test_browser_consent.py)",
            ("/usr/bin/chromium", "chromium", "chromium-browser"),
            ("chromium", "chromium-driver")),
    Service("wrk", "the benchmarks (make bench)", ("wrk",), ("wrk",), default=False),
    # redis-server depends on redis-tools, which brings redis-cli (cluster creation)
    Service("redis", "the Redis store tests (tests/redis_server.py: RedisStore, "
            "workers and servers on one Redis, Redis Cluster)",
            ("redis-server",), ("redis-server", "redis-tools")),
    # the client is Debian's /usr/bin/docker (a client on PATH may lack buildx); the
    # daemon is started when it is not running (start_dockerd)
    Service("docker", "the container test (tests/test_docker.py: the image built, "
            "docker/compose.yaml run; debootstrap makes its base where no registry is "
            "reachable)", ("/usr/sbin/dockerd", "dockerd"),
            ("docker.io", "docker-compose", "debootstrap"),
            also=("/usr/bin/docker", "docker-compose", "/usr/sbin/debootstrap"),
            start=start_dockerd),
)


class Apt:
    """apt-get, run non-interactively; `update` at most once per run."""

    def __init__(self) -> None:
        self.updated = False
        self.env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}

    def why_not(self) -> str | None:
        """Why this process cannot install packages, or None when it can."""
        if os.environ.get("MOCKCLOUD_INSTALL_SERVICES", "1") == "0":
            return "installing is turned off (MOCKCLOUD_INSTALL_SERVICES=0)"
        if shutil.which("apt-get") is None:
            return "there is no apt-get on this machine"
        if not hasattr(os, "geteuid") or os.geteuid() != 0:
            return "installing needs root"
        return None

    def _run(self, args: Sequence[str], timeout: int) -> str | None:
        """None on success, else the reason (with the tail of apt's output)."""
        cmd = ["apt-get", "-q", "-o", f"DPkg::Lock::Timeout={LOCK_TIMEOUT}", *args]
        try:
            done = subprocess.run(cmd, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                                  stderr=subprocess.STDOUT, text=True, env=self.env,
                                  timeout=timeout, check=False)
        except subprocess.TimeoutExpired:
            return f"`{' '.join(cmd)}` took over {timeout} s"
        if done.returncode != 0:
            tail = "\n".join("    " + line for line in done.stdout.splitlines()[-15:])
            return f"`{' '.join(cmd)}` exited {done.returncode}:\n{tail}"
        return None

    def install(self, packages: Sequence[str]) -> str | None:
        if not self.updated:
            failure = self._run(["update"], UPDATE_TIMEOUT)
            if failure:
                return failure
            self.updated = True
        return self._run(["install", "-y", "--no-install-recommends", *packages],
                         INSTALL_TIMEOUT)


def ensure(service: Service, apt: Apt) -> tuple[bool, str]:
    """(present now, and running if it is a daemon; the line to print)."""
    present, line = _install(service, apt)
    if present and service.start:
        why = service.start()
        if why:
            return False, f"{service.name}: NOT RUNNING: {why}; {service.needed_by} will skip"
        line += ", running"
    return present, line


def _install(service: Service, apt: Apt) -> tuple[bool, str]:
    path = service.find()
    if path:
        return True, f"{service.name}: found ({path})"
    hint = f"apt-get install {' '.join(service.packages)}"
    reason = apt.why_not()
    if reason:
        return False, (f"{service.name}: MISSING: {reason}; {service.needed_by} will skip. "
                       f"Install it with `{hint}`")
    print(f"{service.name}: not found, installing {' '.join(service.packages)} ...",
          flush=True)
    failure = apt.install(service.packages)
    path = service.find()
    if path:
        return True, f"{service.name}: installed ({path})"
    reason = failure or (f"{hint} succeeded but none of {', '.join(service.executables)} "
                         f"(with {', '.join(service.also) or 'nothing else'}) is there")
    return False, f"{service.name}: MISSING: could not install it: {reason}"


def main(argv: Sequence[str] = ()) -> int:
    """The default services, or the ones named on the command line."""
    unknown = set(argv) - {s.name for s in SERVICES}
    if unknown:
        print(f"unknown service(s): {', '.join(sorted(unknown))}; known: "
              f"{', '.join(s.name for s in SERVICES)}", file=sys.stderr)
        return 2
    apt = Apt()
    missing = []
    for service in (s for s in SERVICES if (s.name in argv if argv else s.default)):
        ok, line = ensure(service, apt)
        print(line, flush=True)
        if not ok:
            missing.append(service.name)
    if missing and os.environ.get("MOCKCLOUD_REQUIRE_SERVICES") == "1":
        print(f"MOCKCLOUD_REQUIRE_SERVICES=1 and missing: {', '.join(missing)}",
              file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
