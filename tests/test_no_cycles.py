"""A vendor request leaves no reference cycle behind (issue 11, the tail).

Whatever a request makes is freed when the answer is done, by reference counting. A
cycle per request (the environ holding the request's context, which holds the environ)
kept every request's objects alive until the cycle collector came, every ~150 requests,
with pauses of 0.3-0.7 ms in the served worker. Here each kind of request is called
straight on the WSGI app, as granian calls it (a fresh environ, a body to read), with
the collector keeping what it finds (``gc.DEBUG_SAVEALL``): it must find nothing.
"""

from __future__ import annotations

import gc
import io
import json
import urllib.parse

import pytest
from werkzeug.test import Client

from emulator.app import create_app
from emulator.settings import Settings

NETATMO_HOME, NETATMO_ROOM = "5e5c7a1b2d3e4f50617283a0", "3100000001"   # the default world's
QIVIVO_TH = "/api/v2/devices/thermostats/2b3f3c2e-1d2a-4c55-9a51-1f7a6e0c9b01"
FORM = "application/x-www-form-urlencoded"


def _call(app, method: str, path: str, body: bytes = b"", ctype: str | None = None,
          token: str | None = None) -> tuple[str, bytes]:
    environ = {"REQUEST_METHOD": method, "PATH_INFO": path, "QUERY_STRING": "",
               "SCRIPT_NAME": "", "SERVER_NAME": "127.0.0.1", "SERVER_PORT": "8080",
               "SERVER_PROTOCOL": "HTTP/1.1", "REMOTE_ADDR": "127.0.0.1",
               "HTTP_HOST": "127.0.0.1:8080", "wsgi.url_scheme": "http",
               "wsgi.input": io.BytesIO(body), "wsgi.errors": io.StringIO(),
               "wsgi.version": (1, 0), "wsgi.multithread": True,
               "wsgi.multiprocess": False, "wsgi.run_once": False,
               "wsgi.input_terminated": True, "CONTENT_LENGTH": str(len(body))}
    if ctype:
        environ["CONTENT_TYPE"] = ctype
    if token:
        environ["HTTP_AUTHORIZATION"] = f"Bearer {token}"
    answer: list = []
    data = b"".join(app(environ, lambda status, headers, exc=None: answer.append(status)))
    return answer[0], data


@pytest.fixture(scope="module")
def served():
    app = create_app(Settings(state="memory"))
    admin = Client(app)
    tokens = {}
    # Lightify's through its real flow (lightify-ci is approved without a login)
    r = admin.get("/lightify/oauth2/authorize", query_string={
        "client_id": "lightify-ci", "redirect_uri": "https://example.com/callback",
        "state": "s", "response_type": "code"})
    code = urllib.parse.parse_qs(urllib.parse.urlsplit(r.headers["Location"]).query)["code"][0]
    r = admin.post("/lightify/oauth2/access_token", data={
        "grant_type": "authorization_code", "client_id": "lightify-ci",
        "client_secret": "lightify-ci-secret", "code": code,
        "redirect_uri": "https://example.com/callback"})
    assert r.status_code == 200, r.get_data(as_text=True)
    tokens["lightify"] = r.get_json()
    for vendor, client_id, user, scope in (
            ("netatmo", "netatmo-ci", "dev@netatmo.test",
             "read_station read_thermostat write_thermostat"),
            ("qivivo", "qivivo-ci", "demo@qivivo.test",
             "read_devices read_thermostats update_programmation")):
        r = admin.put(f"/_mockcloud/quotas/{vendor}", json={"enabled": False, "rules": []})
        assert r.status_code == 200, r.get_data(as_text=True)
        r = admin.post("/_mockcloud/tokens", json={"vendor": vendor, "client_id": client_id,
                                                   "user": user, "scope": scope})
        assert r.status_code in (200, 201), r.get_data(as_text=True)
        tokens[vendor] = r.get_json()
    return app, tokens


def _lightify_refresh(app, tokens):
    body = urllib.parse.urlencode({
        "grant_type": "refresh_token", "client_id": "lightify-ci",
        "client_secret": "lightify-ci-secret",
        "refresh_token": tokens["lightify"]["refresh_token"]}).encode()
    status, data = _call(app, "POST", "/lightify/oauth2/access_token", body, FORM)
    if status.startswith("200"):   # the next refresh uses the rotated token
        tokens["lightify"] = json.loads(data)
    return status


REQUESTS = {
    "lightify devices": lambda app, t: _call(
        app, "GET", "/lightify/v4/devices", token=t["lightify"]["access_token"])[0],
    "lightify patch": lambda app, t: _call(
        app, "PATCH", "/lightify/v4/devices/123456-d01", b'{"onOff":"on","brightness":42}',
        "application/json", t["lightify"]["access_token"])[0],
    "lightify refresh": _lightify_refresh,
    "netatmo homestatus": lambda app, t: _call(
        app, "POST", "/netatmo/api/homestatus", f"home_id={NETATMO_HOME}".encode(), FORM,
        t["netatmo"]["access_token"])[0],
    "netatmo setroomthermpoint": lambda app, t: _call(
        app, "POST", "/netatmo/api/setroomthermpoint",
        f"home_id={NETATMO_HOME}&room_id={NETATMO_ROOM}&mode=manual&temp=21".encode(), FORM,
        t["netatmo"]["access_token"])[0],
    "qivivo temperature": lambda app, t: _call(
        app, "GET", f"/qivivo{QIVIVO_TH}/temperature", token=t["qivivo"]["access_token"])[0],
    "qivivo temporary instruction": lambda app, t: _call(
        app, "POST", f"/qivivo{QIVIVO_TH}/temperature/temporary-instruction",
        b'{"temperature": 21.5, "duration": 60}', "application/json",
        t["qivivo"]["access_token"])[0],
    "an unknown path": lambda app, t: _call(app, "GET", "/lightify/v4/nothing-here")[0],
    "a bad token": lambda app, t: _call(app, "GET", "/lightify/v4/devices", token="nope")[0],
    "a method not allowed": lambda app, t: _call(
        app, "DELETE", "/lightify/v4/devices", token=t["lightify"]["access_token"])[0],
    "a spent refresh token": lambda app, t: _call(
        app, "POST", "/lightify/oauth2/access_token",
        b"grant_type=refresh_token&client_id=lightify-ci&client_secret=lightify-ci-secret"
        b"&refresh_token=spent", FORM)[0],
    "netatmo without its home": lambda app, t: _call(
        app, "POST", "/netatmo/api/homestatus", b"", FORM, t["netatmo"]["access_token"])[0],
    "netatmo bad json": lambda app, t: _call(
        app, "POST", "/netatmo/api/setroomthermpoint", b"{", "application/json",
        t["netatmo"]["access_token"])[0],
    "qivivo unknown thermostat": lambda app, t: _call(
        app, "GET", "/qivivo/api/v2/devices/thermostats/nope/temperature",
        token=t["qivivo"]["access_token"])[0],
    "qivivo bad body": lambda app, t: _call(
        app, "POST", f"/qivivo{QIVIVO_TH}/temperature/temporary-instruction", b"[1,",
        "application/json", t["qivivo"]["access_token"])[0],
}
ROUTING_ERRORS = ("an unknown path", "a method not allowed")


@pytest.mark.parametrize("what", REQUESTS)
def test_a_request_leaves_no_cycle(served, what):
    app, tokens = served
    send = REQUESTS[what]
    for _ in range(3):          # first calls fill memos and caches: not counted
        send(app, tokens)
    gc.collect()
    gc.set_debug(gc.DEBUG_SAVEALL)
    try:
        statuses = {send(app, tokens) for _ in range(20)}
        gc.collect()
        left = list(gc.garbage)
    finally:
        gc.set_debug(0)
        gc.garbage.clear()
    assert statuses, what
    kinds = sorted({type(o).__name__ for o in left})
    if what in ROUTING_ERRORS:
        # werkzeug's matcher, asked for a path it does not know, leaves its own
        # recursive closure (a function and its cells): so does any Flask app. Nothing
        # of the request's (environ, context, request, response) goes with it.
        names = {o.__qualname__ for o in left if type(o).__name__ == "function"}
        assert names <= {"StateMachineMatcher.match.<locals>._match"}, names
        assert set(kinds) <= {"cell", "function", "set", "tuple"}, kinds
        assert len(left) <= 8 * 20, len(left)
        return
    assert not left, f"{what} ({statuses}): {len(left)} objects in cycles: {kinds}"
