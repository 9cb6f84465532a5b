"""With ``--state sqlite:///...``, a write that was answered survives ``kill -9`` of the
server (every process of it, at once, right after the 200): restarted on the same
file, the device keeps its last state, the token issued before is still valid, the
clock keeps its offset and the journal goes on from the last sequence number."""

from __future__ import annotations

import os
import signal

import requests

from emulator.testing import Admin, ServerProcess

CLIENT = ("lightify-ci", "demo@lightify.test")


def test_an_answered_sqlite_write_survives_kill_9(tmp_path):
    state = f"sqlite:///{tmp_path / 'state.db'}"
    server = ServerProcess("--state", state, "--workers", "2").start()
    try:
        admin = Admin(server.url, "durable")
        admin.freeze(2_000_000_000)
        token = admin.issue_token("lightify", *CLIENT)["access_token"]
        auth = {"Authorization": f"Bearer {token}"}
        base = admin.url("lightify")
        with requests.Session() as http:
            for level in range(1, 31):
                resp = http.patch(f"{base}/v4/devices/123456-d01",
                                  json={"brightness": level}, headers=auth)
                assert resp.status_code == 200
        os.killpg(server.proc.pid, signal.SIGKILL)    # no shutdown, nothing flushed
        server.proc.wait(10)
    finally:
        server.stop()
    with ServerProcess("--state", state) as again:
        admin = Admin(again.url, "durable")
        resp = requests.get(f"{admin.url('lightify')}/v4/devices/123456-d01", headers=auth)
        assert resp.status_code == 200 and resp.json()["brightness"] == 30
        assert admin.now() == 2_000_000_000
        assert [e["seq"] for e in admin.journal()][-1] == 31   # the GET after 30 PATCHes
