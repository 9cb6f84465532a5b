"""``--state rediss://`` with a password (issue 11), against a real ``redis-server``
speaking TLS only, with ``requirepass`` (``redis_tls_url``): two servers on it act as
one; a user of Redis' ACLs (``rediss://user:password@``) too; a wrong password, or a
certificate the client cannot trust, stops ``serve`` with what is wrong and without
the password, never with a traceback."""

from __future__ import annotations

import subprocess
import sys
from urllib.parse import urlsplit

import requests

from emulator.launcher import ServerProcess
from emulator.testing import Admin
from tests.redis_server import TLS_PASSWORD, fresh_prefix

DEVICE = "/v4/devices/123456-d01"


def test_two_servers_on_a_tls_redis_with_a_password_act_as_one(redis_tls_url):
    url = fresh_prefix(redis_tls_url)
    with ServerProcess("--state", url, admin_token="t0k", timeout=120) as one, \
            ServerProcess("--state", url, admin_token="t0k", timeout=120) as two:
        lightify = Admin(one.url, "tls", token="t0k").vendor("lightify")
        patched = requests.patch(lightify.base_url + DEVICE, json={"brightness": 9},
                                 headers=lightify.headers, timeout=30)
        assert patched.status_code == 200, patched.text
        other = f"{two.url}/_t/tls/lightify"   # the token issued by one, used on two
        seen = requests.get(other + DEVICE, headers=lightify.headers, timeout=30)
        assert seen.status_code == 200 and seen.json()["brightness"] == 9
        health = requests.get(two.url + "/_mockcloud/health", headers=two.headers,
                              timeout=30).json()
        assert health["state"] == "redis"
        for server in (one, two):
            assert TLS_PASSWORD not in server.log_tail()
            assert "rediss://:***@" in server.log_tail()


def test_a_redis_acl_user_and_password(redis_tls_url):
    import redis

    admin = redis.Redis.from_url(redis_tls_url)
    admin.acl_setuser("mockcloud", enabled=True, passwords=["+acl-pw"], keys=["*"],
                      channels=["*"], commands=["+@all"])
    parts = urlsplit(redis_tls_url)
    url = fresh_prefix(parts._replace(netloc=f"mockcloud:acl-pw@{parts.hostname}:"
                                             f"{parts.port}").geturl())
    with ServerProcess("--state", url, admin_token="t0k", timeout=120) as server:
        lightify = Admin(server.url, "acl", token="t0k").vendor("lightify")
        assert requests.get(lightify.base_url + DEVICE, headers=lightify.headers,
                            timeout=30).status_code == 200
        assert "acl-pw" not in server.log_tail()


def _serve_fails(url: str) -> str:
    done = subprocess.run([sys.executable, "-m", "emulator.cli", "serve", "--port", "0",
                           "--state", url], capture_output=True, text=True, timeout=60,
                          stdin=subprocess.DEVNULL)
    out = done.stdout + done.stderr
    assert done.returncode != 0, out
    assert "Traceback" not in out and TLS_PASSWORD not in out and "wrong-pw" not in out, out
    return out


def test_a_wrong_password_stops_serve_clearly(redis_tls_url):
    out = _serve_fails(redis_tls_url.replace(f":{TLS_PASSWORD}@", ":wrong-pw@"))
    assert "cannot reach Redis at rediss://:***@" in out and "password" in out, out


def test_a_certificate_the_client_cannot_trust_stops_serve_clearly(redis_tls_url):
    out = _serve_fails(redis_tls_url.split("?")[0])     # no CA given: self-signed
    assert "cannot reach Redis" in out and "certificate verify failed" in out, out
    plain = redis_tls_url.split("?")[0].replace("rediss://", "redis://")
    out = _serve_fails(plain)                            # TLS port, plain client
    assert "cannot reach Redis at redis://:***@" in out, out
