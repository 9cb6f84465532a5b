"""Drive a running mockcloud from Python: start a server, steer its control plane.

``ServerProcess`` starts ``mockcloud serve`` on a free port in a child process (a
real HTTP server, not Flask's test client); ``Admin`` wraps ``/_mockcloud/`` for
one tenant: clock, faults, journal, tokens, quotas, world, reset.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import requests


def stop_process(proc: subprocess.Popen | None) -> None:
    """Terminate a child politely, then for sure."""
    if proc and proc.poll() is None:
        proc.terminate()
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(5)


class ServerProcess:
    def __init__(self, *args: str, env: dict[str, str] | None = None,
                 timeout: float = 30.0) -> None:
        self.args = list(args)
        self.env = {**os.environ, **(env or {})}
        self.timeout = timeout
        self.proc: subprocess.Popen | None = None
        self.url = ""

    def start(self) -> ServerProcess:
        cmd = [sys.executable, "-m", "emulator.cli", "serve", "--port", "0", *self.args]
        self.proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                                     text=True, env=self.env,
                                     cwd=Path(__file__).resolve().parents[1])
        deadline = time.monotonic() + self.timeout
        assert self.proc.stdout is not None
        lines = []
        while time.monotonic() < deadline:
            line = self.proc.stdout.readline()
            if not line:
                break
            lines.append(line)
            if "listening on" in line:
                self.url = line.split("listening on ", 1)[1].split()[0]
                break
        if not self.url:
            self.stop()
            raise RuntimeError("mockcloud did not start:\n" + "".join(lines))
        self._wait_ready(deadline)
        return self

    def _wait_ready(self, deadline: float) -> None:
        while time.monotonic() < deadline:
            try:
                requests.get(self.url + "/_mockcloud/health", timeout=2, verify=False)
                return
            except requests.ConnectionError:
                time.sleep(0.05)
        raise RuntimeError(f"mockcloud at {self.url} never answered")

    def stop(self) -> None:
        stop_process(self.proc)

    def __enter__(self) -> ServerProcess:
        return self.start()

    def __exit__(self, *exc: Any) -> None:
        self.stop()


class AdminError(AssertionError):
    pass


class Admin:
    """The control plane of one tenant."""

    def __init__(self, base_url: str, tenant: str = "default",
                 session: requests.Session | None = None) -> None:
        self.base = base_url.rstrip("/")
        self.tenant = tenant
        self.http = session or requests.Session()
        self.http.verify = False

    def url(self, vendor: str = "") -> str:
        """Base URL of a vendor for this tenant, e.g. ``url('lightify')``."""
        return f"{self.base}/_t/{self.tenant}" + (f"/{vendor}" if vendor else "")

    def _call(self, method: str, path: str, **kw: Any) -> Any:
        resp = self.http.request(method, f"{self.url()}/_mockcloud{path}", timeout=30, **kw)
        if resp.status_code >= 400:
            raise AdminError(f"{method} {path}: {resp.status_code} {resp.text}")
        ctype = resp.headers.get("Content-Type", "")
        return resp.json() if "json" in ctype else resp.text

    # clock
    def now(self) -> float:
        return self._call("GET", "/clock")["now"]

    def freeze(self, at: float | str | None = None) -> dict:
        return self._call("POST", "/clock/freeze", json={} if at is None else {"at": at})

    def advance(self, seconds: float) -> dict:
        return self._call("POST", "/clock/advance", json={"seconds": seconds})

    def set_time(self, at: float | str) -> dict:
        return self._call("POST", "/clock/set", json={"at": at})

    def resume(self) -> dict:
        return self._call("POST", "/clock/resume", json={})

    # faults, quotas, journal, tokens, world
    def add_fault(self, **rule: Any) -> dict:
        return self._call("POST", "/faults", json=rule)["faults"][0]

    def clear_faults(self) -> None:
        self._call("DELETE", "/faults")

    def set_quotas(self, vendor: str, rules: list[dict], status: int | None = None,
                   enabled: bool = True) -> dict:
        return self._call("PUT", f"/quotas/{vendor}",
                          json={"enabled": enabled, "rules": rules, "status": status})

    def quotas(self) -> dict:
        return self._call("GET", "/quotas")

    def journal(self, **filters: Any) -> list[dict]:
        return self._call("GET", "/journal", params=filters)["entries"]

    def cassette(self, **filters: Any) -> str:
        return self._call("GET", "/journal/cassette", params=filters)

    def tokens(self, **filters: Any) -> list[dict]:
        return self._call("GET", "/tokens", params=filters)["tokens"]

    def revoke(self, token: str) -> dict:
        return self._call("POST", "/tokens/revoke", json={"token": token})

    def introspect(self, token: str) -> dict:
        return self._call("POST", "/tokens/introspect", json={"token": token})

    def load_world(self, text: str) -> dict:
        return self._call("PUT", "/world", data=text.encode())

    def export_world(self) -> dict:
        return self._call("GET", "/world")

    def reset(self) -> dict:
        return self._call("POST", "/reset")
