"""Spending a credential is one atomic step in every store: eight clients racing with
one refresh token (or one authorization code) get exactly one winner, every time, on
the in-memory store, on SQLite with one worker and on SQLite with two worker
processes, and on Redis with two worker processes. And a replayed code revokes what
was issued from it (RFC 6749 §4.1.2)."""

from __future__ import annotations

import threading
from collections import Counter
from urllib.parse import parse_qs, urlparse

import pytest
import requests

from emulator.testing import Admin, ServerProcess

CLIENT = {"client_id": "lightify-ci", "client_secret": "lightify-ci-secret"}
REDIRECT = "https://example.com/callback"
RACERS, ROUNDS = 8, 40


@pytest.fixture(scope="module", params=["memory", "sqlite-1", "sqlite-2", "redis-2"])
def server(request, mockcloud_server, tmp_path_factory):
    if request.param == "memory":
        yield mockcloud_server
        return
    if request.param == "redis-2":
        from tests.redis_server import fresh_prefix

        url = fresh_prefix(request.getfixturevalue("redis_url"))
        with ServerProcess("--state", url, "--workers", "2") as proc:
            yield proc.url
        return
    db = tmp_path_factory.mktemp("race") / "state.db"
    workers = request.param.split("-")[1]
    with ServerProcess("--state", f"sqlite:///{db}", "--workers", workers) as proc:
        yield proc.url


def code(base: str) -> str:
    resp = requests.get(f"{base}/oauth2/authorize", allow_redirects=False, params={
        "client_id": CLIENT["client_id"], "redirect_uri": REDIRECT, "response_type": "code",
        "state": "s"})
    assert resp.status_code == 302, resp.text
    return parse_qs(urlparse(resp.headers["Location"]).query)["code"][0]


def token_call(base: str, **form) -> requests.Response:
    return requests.post(f"{base}/oauth2/access_token", data={**CLIENT, **form})


def race(call) -> Counter:
    """Run ``call`` in RACERS threads released at once; count the statuses."""
    gate = threading.Barrier(RACERS)
    statuses: list[int] = []

    def run():
        with requests.Session() as http:
            gate.wait()
            statuses.append(call(http).status_code)

    threads = [threading.Thread(target=run) for _ in range(RACERS)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    return Counter(statuses)


def test_refresh_token_rotates_exactly_once(server, request):
    base = Admin(server, f"race-r-{request.node.callspec.id}").url("lightify")
    for _ in range(ROUNDS):
        pair = token_call(base, grant_type="authorization_code", code=code(base),
                          redirect_uri=REDIRECT).json()
        form = {**CLIENT, "grant_type": "refresh_token", "refresh_token": pair["refresh_token"]}
        counts = race(lambda http, form=form: http.post(f"{base}/oauth2/access_token",
                                                         data=form))
        assert counts == Counter({200: 1, 400: RACERS - 1}), counts


def test_code_is_exchanged_exactly_once(server, request):
    base = Admin(server, f"race-c-{request.node.callspec.id}").url("lightify")
    for _ in range(ROUNDS // 4):
        form = {**CLIENT, "grant_type": "authorization_code", "code": code(base),
                "redirect_uri": REDIRECT}
        counts = race(lambda http, form=form: http.post(f"{base}/oauth2/access_token",
                                                         data=form))
        assert counts == Counter({200: 1, 400: RACERS - 1}), counts


def test_replayed_code_revokes_the_whole_chain(mockcloud):
    base = mockcloud.url("lightify")
    the_code = code(base)
    first = token_call(base, grant_type="authorization_code", code=the_code,
                       redirect_uri=REDIRECT).json()
    second = token_call(base, grant_type="refresh_token",
                        refresh_token=first["refresh_token"]).json()
    devices = f"{base}/v4/devices"
    auth = {"Authorization": f"Bearer {second['access_token']}"}
    assert requests.get(devices, headers=auth).status_code == 200
    replay = token_call(base, grant_type="authorization_code", code=the_code,
                        redirect_uri=REDIRECT)
    assert replay.status_code == 400 and replay.json()["error"] == "invalid_grant"
    assert "revoked" in replay.json()["error_description"]
    assert requests.get(devices, headers=auth).status_code == 401
    again = token_call(base, grant_type="refresh_token", refresh_token=second["refresh_token"])
    assert again.status_code == 400
    states = {t["access_token"]: t["state"] for t in mockcloud.tokens(vendor="lightify")}
    assert states[first["access_token"]] == states[second["access_token"]] == "revoked"
    noted = [e for e in mockcloud.journal(vendor="lightify") if e["note"]]
    assert noted and "authorization code replayed" in noted[-1]["note"]
    assert noted[-1]["response"]["status"] == 400
