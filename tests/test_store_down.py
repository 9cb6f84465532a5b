"""A state store that is down answers 503, never 500, and the server recovers by itself
(issue 11).

Redis: a real ``redis-server`` (with an append-only file, so its data survive) is
stopped under a running ``mockcloud serve``: every vendor's API and token endpoint
answers 503 in that vendor's envelope with ``Retry-After``, the admin API a JSON 503,
the health endpoint 503 "unhealthy", no body holds a traceback; Redis started again on
the same port, the same tokens work again with no restart of the emulator.

SQLite: another connection holds the database's write lock past the busy timeout
(``sqlite:///file.db?timeout=1``): a write answers the vendor's 503 and reads still
work; the lock released, writes work again.
"""

from __future__ import annotations

import sqlite3

import pytest
import requests

from emulator.testing import Admin, ServerProcess
from tests.redis_server import RedisServer

APPS = {"lightify": ("lightify-ci", "demo@lightify.test"),
        "netatmo": ("netatmo-ci", "dev@netatmo.test"),
        "qivivo": ("qivivo-ci", "demo@qivivo.test")}
# (vendor, method, path, with the vendor's token?, form): an API read, a token request
CALLS = [
    ("lightify", "GET", "/lightify/v4/devices", True, None),
    ("lightify", "POST", "/lightify/oauth2/access_token", False,
     {"grant_type": "client_credentials", "client_id": "x", "client_secret": "y"}),
    ("netatmo", "GET", "/netatmo/api/homesdata", True, None),
    ("netatmo", "POST", "/netatmo/oauth2/token", False,
     {"grant_type": "refresh_token", "refresh_token": "r", "client_id": "x"}),
    ("qivivo", "GET", "/qivivo/api/v2/devices", True, None),
    ("qivivo", "POST", "/qivivo/oauth/token", False,
     {"grant_type": "refresh_token", "refresh_token": "r", "client_id": "x"}),
]


def send(http: requests.Session, base: str, tokens: dict, call) -> requests.Response:
    vendor, method, path, bearer, form = call
    headers = {"Authorization": f"Bearer {tokens[vendor]}"} if bearer else {}
    return http.request(method, base + path, headers=headers, data=form, timeout=30)


def envelope_ok(vendor: str, body: dict) -> bool:
    """The vendor's own error shape (see each vendor's errors.py)."""
    if vendor == "lightify":
        return body.get("error") == "service_unavailable" and "error_description" in body
    if vendor == "netatmo":
        return isinstance(body.get("error"), dict) and body["error"].get("code") == 0
    return isinstance(body.get("message"), str)            # qivivo


def assert_unavailable(resp: requests.Response, what: str) -> None:
    assert resp.status_code == 503, f"{what}: {resp.status_code} {resp.text[:300]}"
    assert resp.headers.get("Retry-After") == "1", what
    assert resp.headers["Content-Type"].startswith("application/json"), what
    assert "Traceback" not in resp.text and "File \"" not in resp.text, what


@pytest.fixture
def redis(tmp_path):
    server = RedisServer(tmp_path / "redis", "--appendonly", "yes", "--appendfsync", "always")
    yield server
    server.stop()


def test_redis_down_answers_503_everywhere_then_recovers(redis):
    with ServerProcess("--state", redis.url, "--workers", "2") as srv, \
            requests.Session() as http:
        admin = Admin(srv.url)
        tokens = {v: admin.issue_token(v, *app)["access_token"] for v, app in APPS.items()}
        up = {call[2]: send(http, srv.url, tokens, call).status_code for call in CALLS}
        assert all(up[c[2]] == 200 for c in CALLS if c[3]), up
        assert all(400 <= up[c[2]] < 500 for c in CALLS if not c[3]), up

        redis.stop()
        for call in CALLS:
            for _ in range(2):  # a pooled connection Redis closed, then a refused one
                resp = send(http, srv.url, tokens, call)
                assert_unavailable(resp, f"{call[1]} {call[2]}")
                assert envelope_ok(call[0], resp.json()), resp.text
        health = http.get(f"{srv.url}/_mockcloud/health", timeout=30)
        assert_unavailable(health, "health")
        assert health.json()["status"] == "unhealthy"
        assert health.json()["state"] == "redis"
        clock = http.get(f"{srv.url}/_mockcloud/clock", timeout=30)
        assert_unavailable(clock, "admin clock")
        assert clock.json()["error"] == "store_unavailable"
        tenant = http.get(f"{srv.url}/_t/other/lightify/v4/devices", timeout=30,
                          headers={"Authorization": f"Bearer {tokens['lightify']}"})
        assert_unavailable(tenant, "a new tenant")

        redis.start()                  # same port, same append-only file
        assert http.get(f"{srv.url}/_mockcloud/health", timeout=30).json()["status"] == "ok"
        again = {call[2]: send(http, srv.url, tokens, call).status_code for call in CALLS}
        assert again == up
        assert admin.now() > 0
        log = srv.log_tail(200_000)
        assert "unhandled error" not in log and "Traceback" not in log, log
        assert "503 on GET /lightify/v4/devices" in log


def test_sqlite_locked_past_busy_timeout_answers_503_then_recovers(tmp_path):
    db = tmp_path / "state.db"
    with ServerProcess("--state", f"sqlite:///{db}?timeout=1") as srv, \
            requests.Session() as http:
        admin = Admin(srv.url)
        token = admin.issue_token("lightify", *APPS["lightify"])["access_token"]
        auth = {"Authorization": f"Bearer {token}"}
        patch = f"{srv.url}/lightify/v4/devices/123456-d01"      # the default world's
        assert http.get(patch, headers=auth, timeout=30).status_code == 200

        holder = sqlite3.connect(db, timeout=5, isolation_level=None)
        holder.execute("BEGIN EXCLUSIVE")     # the write lock, held past the timeout
        try:
            resp = http.patch(patch, json={"brightness": 42}, headers=auth, timeout=30)
            assert_unavailable(resp, "PATCH with the database locked")
            assert envelope_ok("lightify", resp.json())
            assert "locked" in resp.json()["error_description"]
            clock = http.post(f"{srv.url}/_mockcloud/clock/advance", json={"seconds": 5},
                              timeout=30)
            assert_unavailable(clock, "admin write")
            # reads go on (WAL): the light as it was
            read = http.get(patch, headers=auth, timeout=30)
            assert read.status_code == 200 and read.json()["brightness"] != 42
        finally:
            holder.execute("ROLLBACK")
            holder.close()
        resp = http.patch(patch, json={"brightness": 42}, headers=auth, timeout=30)
        assert resp.status_code == 200 and resp.json()["brightness"] == 42
        assert http.get(patch, headers=auth, timeout=30).json()["brightness"] == 42
        assert "unhandled error" not in srv.log_tail(200_000)
