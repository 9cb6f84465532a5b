"""The token endpoint's own paths through Authlib (issue 11) answer as Authlib's.

``VendorAuthServer`` finds the grant, authenticates a client that posts its
credentials and makes the token pair without some of Authlib's calls; once a client
auth method or a token generator is registered it takes Authlib's own paths. Here
the same requests go to an app on the short paths and to one forced onto Authlib's
(the two switches set), and get the same answers; ``random_pair`` is two
``random_token``s.
"""

from __future__ import annotations

import base64
import re
import string
import urllib.parse

import pytest
from werkzeug.test import Client

from emulator.app import create_app
from emulator.core.oauth import random_pair
from emulator.settings import Settings

CLIENT_ID, SECRET = "lightify-ci", "lightify-ci-secret"
REDIRECT = "https://example.com/callback"
TOKEN = "/lightify/oauth2/access_token"
URLSAFE = re.compile(r"[A-Za-z0-9_-]*")


def _basic(client_id: str, secret: str) -> dict[str, str]:
    raw = base64.b64encode(f"{client_id}:{secret}".encode()).decode()
    return {"Authorization": f"Basic {raw}"}


def _client(authlib_paths: bool) -> Client:
    app = create_app(Settings(state="memory"))
    if authlib_paths:
        server = app.auth["lightify"]
        server._own_client_auth = server._own_generators = True
    return Client(app)


def _code(client: Client) -> str:
    query = urllib.parse.urlencode({"client_id": CLIENT_ID, "redirect_uri": REDIRECT,
                                    "state": "s", "response_type": "code"})
    resp = client.get(f"/lightify/oauth2/authorize?{query}")
    location = resp.headers["Location"]
    return urllib.parse.parse_qs(urllib.parse.urlsplit(location).query)["code"][0]


def _pair(client: Client) -> dict:
    resp = client.post(TOKEN, data={"grant_type": "authorization_code", "code": _code(client),
                                    "redirect_uri": REDIRECT, "client_id": CLIENT_ID,
                                    "client_secret": SECRET})
    assert resp.status_code == 200, resp.text
    return resp.get_json()


def _shape(resp) -> tuple:
    """What must match: status, headers but the Date, and the body with each token
    replaced by its length."""
    body = resp.get_json()
    if isinstance(body, dict):
        body = {k: len(v) if k in ("access_token", "refresh_token") else v
                for k, v in body.items()}
    headers = [(k, v) for k, v in resp.headers.items() if k != "Date"]
    if "access_token" in (body or {}):    # the length of a body with random tokens
        headers = [(k, v) for k, v in headers if k != "Content-Length"]
    return resp.status_code, headers, body


REFRESH_CASES = [
    ("post", lambda rt: {"data": {"grant_type": "refresh_token", "refresh_token": rt,
                                  "client_id": CLIENT_ID, "client_secret": SECRET}}),
    ("basic", lambda rt: {"data": {"grant_type": "refresh_token", "refresh_token": rt},
                          "headers": _basic(CLIENT_ID, SECRET)}),
    ("basic-wrong", lambda rt: {"data": {"grant_type": "refresh_token", "refresh_token": rt},
                                "headers": _basic(CLIENT_ID, "nope")}),
    ("basic-and-post", lambda rt: {"data": {"grant_type": "refresh_token",
                                            "refresh_token": rt, "client_id": CLIENT_ID,
                                            "client_secret": SECRET},
                                   "headers": _basic(CLIENT_ID, "nope")}),
    ("bearer-header", lambda rt: {"data": {"grant_type": "refresh_token",
                                           "refresh_token": rt, "client_id": CLIENT_ID,
                                           "client_secret": SECRET},
                                  "headers": {"Authorization": "Bearer x"}}),
    ("wrong-secret", lambda rt: {"data": {"grant_type": "refresh_token", "refresh_token": rt,
                                          "client_id": CLIENT_ID, "client_secret": "no"}}),
    ("unknown-client", lambda rt: {"data": {"grant_type": "refresh_token",
                                            "refresh_token": rt, "client_id": "nobody",
                                            "client_secret": "x"}}),
    ("no-secret", lambda rt: {"data": {"grant_type": "refresh_token", "refresh_token": rt,
                                       "client_id": CLIENT_ID}}),
    ("no-credentials", lambda rt: {"data": {"grant_type": "refresh_token",
                                            "refresh_token": rt}}),
    ("unknown-refresh", lambda rt: {"data": {"grant_type": "refresh_token",
                                             "refresh_token": rt + "x",
                                             "client_id": CLIENT_ID, "client_secret": SECRET}}),
    ("no-refresh", lambda rt: {"data": {"grant_type": "refresh_token",
                                        "client_id": CLIENT_ID, "client_secret": SECRET}}),
    ("scope-widened", lambda rt: {"data": {"grant_type": "refresh_token", "refresh_token": rt,
                                           "scope": "everything", "client_id": CLIENT_ID,
                                           "client_secret": SECRET}}),
    ("other-grant", lambda rt: {"data": {"grant_type": "client_credentials",
                                         "client_id": CLIENT_ID, "client_secret": SECRET}}),
    ("no-grant", lambda rt: {"data": {"client_id": CLIENT_ID, "client_secret": SECRET}}),
    ("in-query", lambda rt: {"query_string": {"grant_type": "refresh_token",
                                              "refresh_token": rt, "client_id": CLIENT_ID,
                                              "client_secret": SECRET}}),
]


@pytest.mark.parametrize("name,request_of", REFRESH_CASES, ids=[c[0] for c in REFRESH_CASES])
def test_a_refresh_is_answered_as_on_authlibs_paths(name, request_of):
    answers = []
    for authlib_paths in (False, True):
        client = _client(authlib_paths)
        first = _pair(client)
        resp = client.post(TOKEN, **request_of(first["refresh_token"]))
        answers.append(_shape(resp))
        if resp.status_code == 200:   # rotated: the old refresh token is spent
            again = client.post(TOKEN, **request_of(first["refresh_token"]))
            answers.append(_shape(again))
    half = len(answers) // 2
    assert answers[:half] == answers[half:]


def test_the_code_exchange_is_answered_as_on_authlibs_paths():
    shapes = []
    for authlib_paths in (False, True):
        client = _client(authlib_paths)
        code = _code(client)
        form = {"grant_type": "authorization_code", "code": code, "redirect_uri": REDIRECT,
                "client_id": CLIENT_ID, "client_secret": SECRET}
        shapes.append((_shape(client.post(TOKEN, data=form)),
                       _shape(client.post(TOKEN, data=form))))   # a replayed code
    assert shapes[0] == shapes[1]


@pytest.mark.parametrize("first,second", [(40, 48), (4, 8), (16, 16), (5, 7), (40, 41)])
def test_random_pair_is_two_random_tokens(first, second):
    pairs = {random_pair(first, second) for _ in range(200)}
    assert len(pairs) == 200
    for a, b in pairs:
        assert len(a) == first and len(b) == second
        assert URLSAFE.fullmatch(a) and URLSAFE.fullmatch(b)
    if (first, second) == (40, 48):   # 6 random bits a character, no padding
        seen = set("".join(a + b for a, b in pairs))
        assert seen == set(string.ascii_letters + string.digits + "-_")
