"""The token endpoint reads its form as werkzeug does (issue 11: the refresh path).

``core.oauth.FormRequest`` splits a buffered url-encoded body itself instead of going
through werkzeug's stream parser. These hold it to werkzeug's answers: field by field
against ``request.form`` for odd bodies (in process), and over HTTP for the ways real
clients send a token request (charset, case, query string, multipart, repeats, bad
bytes), where the answer must be the one werkzeug's form would give.
"""

from __future__ import annotations

import random

import pytest
from flask import Flask, request

from emulator.core.oauth import FormRequest
from tests.conftest import CI_APP

FORM = "application/x-www-form-urlencoded"
BODIES = [
    b"", b"a", b"a=", b"=b", b"&&", b"a=1&a=2&b", b"a=%41%42&b=%zz&c=%FF&d=%C3%A9",
    b"a+b=c+d&e=%2B", b"x=\xc3\xa9", b"x=\xff\xfe", b"a=1;b=2", b"%00=%00",
    "é=ü".encode(), b"a=%E2%82", b"grant_type=refresh_token&refresh_token=" + b"t" * 48,
]
TYPES = [FORM, FORM + "; charset=UTF-8", "Application/X-WWW-Form-Urlencoded",
         "application/json", "text/plain", "multipart/form-data; boundary=xyz"]


def _both(body: bytes, ctype: str, query: str = "",
          method: str = "POST") -> tuple[list, list, list, list]:
    """(FormRequest's form, werkzeug's form, Authlib's payload, werkzeug's values),
    each as sorted lists of (key, values)."""
    app = Flask(__name__)
    kw = {"method": method, "data": body, "content_type": ctype,
          "query_string": query}
    with app.test_request_context("/t", **kw):
        request.environ["mockcloud.body"] = body          # as the app buffers it
        ours = FormRequest(request._get_current_object())
        mine, payload = sorted(ours.form.lists()), sorted(ours.payload.data.lists())
    with app.test_request_context("/t", **kw):
        theirs, values = sorted(request.form.lists()), sorted(request.values.lists())
    return mine, theirs, payload, values


@pytest.mark.parametrize("ctype", TYPES)
@pytest.mark.parametrize("body", BODIES)
def test_form_is_werkzeugs(body, ctype):
    mine, theirs, payload, values = _both(body, ctype)
    assert mine == theirs
    assert payload == values


@pytest.mark.parametrize("method", ["GET", "POST", "PUT"])
def test_payload_is_werkzeugs_values_with_a_query(method):
    mine, theirs, payload, values = _both(b"a=1&b=2", FORM, "a=0&c=3", method)
    assert mine == theirs and payload == values


def test_random_bodies_read_as_werkzeug_reads_them():
    rnd = random.Random(2026)
    alphabet = b"ab=&%+;2F\xc3\xa9\xff "
    for _ in range(300):
        body = bytes(rnd.choice(alphabet) for _ in range(rnd.randrange(0, 24)))
        mine, theirs, payload, values = _both(body, FORM)
        assert (mine, payload) == (theirs, values), body


# -- over HTTP: what a client sees -------------------------------------------------------

def _post(lightify, body: bytes | dict, ctype: str | None = None, query: str = "",
          files=None):
    headers = {"Content-Type": ctype} if ctype else {}
    url = f"{lightify.base}/oauth2/access_token" + (f"?{query}" if query else "")
    return lightify.http.post(url, data=body, headers=headers, files=files)


def _form(refresh: str) -> bytes:
    return (f"grant_type=refresh_token&client_id={CI_APP[0]}&client_secret={CI_APP[1]}"
            f"&refresh_token={refresh}").encode()


@pytest.mark.parametrize("ctype", [FORM + "; charset=UTF-8",
                                   "APPLICATION/X-WWW-FORM-URLENCODED"])
def test_refresh_with_a_charset_or_upper_case_type(lightify, ctype):
    resp = _post(lightify, _form(lightify.login()["refresh_token"]), ctype)
    assert resp.status_code == 200, resp.text
    assert resp.json()["refresh_token"]


def test_refresh_as_multipart(lightify):
    tok = lightify.login()["refresh_token"]
    fields = {"grant_type": "refresh_token", "client_id": CI_APP[0],
              "client_secret": CI_APP[1], "refresh_token": tok}
    resp = _post(lightify, {}, files={k: (None, v) for k, v in fields.items()})
    assert resp.status_code == 200, resp.text


def test_grant_type_in_the_query_refresh_token_in_the_body(lightify):
    tok = lightify.login()["refresh_token"]
    body = f"client_id={CI_APP[0]}&client_secret={CI_APP[1]}&refresh_token={tok}"
    resp = _post(lightify, body.encode(), FORM, query="grant_type=refresh_token")
    assert resp.status_code == 200, resp.text


def test_refresh_token_only_in_the_query_is_missing(lightify):
    """Authlib reads the refresh token from the form alone (RFC 6749 §6)."""
    tok = lightify.login()["refresh_token"]
    body = f"grant_type=refresh_token&client_id={CI_APP[0]}&client_secret={CI_APP[1]}"
    resp = _post(lightify, body.encode(), FORM, query=f"refresh_token={tok}")
    assert resp.status_code == 400
    assert resp.json()["error"] == "invalid_request"


def test_repeated_refresh_token_takes_the_first(lightify):
    tok = lightify.login()["refresh_token"]
    first_bad = _post(lightify, _form("nope") + f"&refresh_token={tok}".encode(), FORM)
    assert first_bad.status_code == 400 and first_bad.json()["error"] == "invalid_grant"
    first_good = _post(lightify, _form(tok) + b"&refresh_token=nope", FORM)
    assert first_good.status_code == 200, first_good.text


@pytest.mark.parametrize("body,error", [
    (b"grant_type=refresh_token&refresh_token=\xff\xfe", "unsupported_grant_type"),
    (b"grant_type=refresh_token&client_id=lightify-ci&client_secret=lightify-ci-secret"
     b"&refresh_token=%FF%FE", "invalid_grant"),
    (b"grant_type=refresh%5Ftoken&client_id=lightify-ci&client_secret=lightify-ci-secret"
     b"&refresh_token=", "invalid_grant"),      # an escaped grant type, a blank token
])
def test_odd_bytes_are_a_clear_400(lightify, body, error):
    resp = _post(lightify, body, FORM)
    assert resp.status_code == 400, resp.text
    assert resp.json()["error"] == error


# -- the form's and the headers' get, as werkzeug answers it -----------------------------

@pytest.mark.parametrize("body", BODIES)
def test_form_get_is_werkzeugs(body):
    """``get`` of a field sent, blank, repeated or missing, with and without ``type``."""
    app = Flask(__name__)
    names = ["a", "b", "c", "x", "é", "grant_type", "refresh_token", "scope", "", "\x00"]
    kw = {"method": "POST", "data": body, "content_type": FORM}
    with app.test_request_context("/t", **kw):
        request.environ["mockcloud.body"] = body
        form = FormRequest(request._get_current_object()).form
        mine = [(form.get(n), form.get(n, "dflt"), form.get(n, -1, type=int)) for n in names]
    with app.test_request_context("/t", **kw):
        theirs = [(request.form.get(n), request.form.get(n, "dflt"),
                   request.form.get(n, -1, type=int)) for n in names]
    assert mine == theirs


@pytest.mark.parametrize("headers", [
    {}, {"Authorization": "Basic bGlnaHRpZnktY2k6c2VjcmV0"}, {"Authorization": ""},
    {"X-Custom-Header": "1", "Content-Length": "12"},
])
def test_headers_get_is_werkzeugs(headers):
    app = Flask(__name__)
    names = ["Authorization", "authorization", "AUTHORIZATION", "Content-Type",
             "content-length", "Content_Length", "X-Custom-Header", "x_custom_header",
             "Host", "Missing"]
    kw = {"method": "POST", "data": b"a=1", "content_type": FORM, "headers": headers}
    with app.test_request_context("/t", **kw):
        got = FormRequest(request._get_current_object()).headers
        mine = [(got.get(n), got.get(n, "dflt"), got.get(n, -1, type=int)) for n in names]
        theirs = [(request.headers.get(n), request.headers.get(n, "dflt"),
                   request.headers.get(n, -1, type=int)) for n in names]
    assert mine == theirs


def test_token_reply_has_authlibs_headers_in_order(lightify):
    """The token answer's headers: Authlib's (JSON, no-store, no-cache) in its order,
    then its length (what werkzeug made of Authlib's list before issue 11's change)."""
    resp = _post(lightify, _form(lightify.login()["refresh_token"]), FORM)
    assert resp.status_code == 200, resp.text
    names = [n.lower() for n in resp.headers]
    mine = [n for n in names if n in ("content-type", "cache-control", "pragma",
                                      "content-length")]
    assert mine == ["content-type", "cache-control", "pragma", "content-length"]
    assert resp.headers["Content-Type"] == "application/json"
    assert resp.headers["Cache-Control"] == "no-store"
    assert resp.headers["Pragma"] == "no-cache"
