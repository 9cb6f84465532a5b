"""Pieces of the token refresh path made cheaper for issue 11, held to what they were.

The random tokens (``core.oauth.random_token``), the journal's request headers
(``core.journal.request_headers``) and the request context (``core.context.current``):
each against the plain way it was done before, in process.
"""

from __future__ import annotations

import io
import re
import string

import pytest
from flask import Flask, request

from emulator.app import create_app
from emulator.core import context
from emulator.core.journal import request_headers
from emulator.core.oauth import random_token
from emulator.settings import Settings

URLSAFE = re.compile(r"[A-Za-z0-9_-]*")


@pytest.mark.parametrize("length", [1, 2, 3, 4, 5, 16, 39, 40, 41, 48, 64, 100])
def test_random_token_is_url_safe_of_its_length(length):
    tokens = {random_token(length) for _ in range(200)}
    assert all(len(t) == length and URLSAFE.fullmatch(t) for t in tokens)
    if length >= 16:
        assert len(tokens) == 200
    # every character of the alphabet turns up: 6 random bits each, no padding
    if length == 48:
        seen = set("".join(random_token(48) for _ in range(200)))
        assert seen == set(string.ascii_letters + string.digits + "-_")


def _naive(environ):
    return [(k, v) for k, v in environ.items() if k.startswith("HTTP_") or k == "CONTENT_TYPE"]


def test_request_headers_are_the_environs_in_its_order():
    server = {"PATH": "/bin", "HOME": "/root", "REQUEST_METHOD": "POST", "wsgi.input": None}
    environs = [
        {**server, "HTTP_HOST": "h", "CONTENT_TYPE": "a/b", "HTTP_ACCEPT": "*/*"},
        {**server, "HTTP_HOST": "h2", "CONTENT_TYPE": "c/d", "HTTP_ACCEPT": "x"},
        {**server, "HTTP_ACCEPT": "x", "HTTP_HOST": "h"},                   # another order
        {**server, "HTTP_HOST": "h", "HTTP_AUTHORIZATION": "Bearer t", "CONTENT_TYPE": ""},
        {**server, "HTTPX": "no", "HTTP_": "empty name", "CONTENT_TYPES": "no"},
        dict(server),
        {"HTTP_A": "1", "HTTP_B": "2", **server},
    ]
    for _ in range(2):  # the second time, every set of keys is known
        for environ in environs:
            assert request_headers(environ) == _naive(environ)


def test_request_headers_of_many_kinds_of_environ():
    """More sets of keys than it remembers: still the environ's headers."""
    for i in range(600):
        environ = {"PATH": "/bin", f"HTTP_X_{i}": str(i), "CONTENT_TYPE": "t",
                   f"OTHER_{i % 7}": "o"}
        assert request_headers(environ) == _naive(environ)


def _environ(path: str, body: bytes = b"") -> dict:
    return {"REQUEST_METHOD": "GET", "PATH_INFO": path, "QUERY_STRING": "",
            "SERVER_NAME": "127.0.0.1", "SERVER_PORT": "80", "SERVER_PROTOCOL": "HTTP/1.1",
            "wsgi.url_scheme": "http", "wsgi.input": io.BytesIO(body),
            "HTTP_HOST": "127.0.0.1", "CONTENT_LENGTH": str(len(body))}


def test_current_is_the_requests_and_only_during_it():
    app = create_app(Settings(state="memory"))
    seen = []
    flask_app = app.vendor_apps["lightify"]
    flask_app.before_request(lambda: seen.append((context.current(),
                                                  request.environ["mockcloud.ctx"])))
    for tenant in ("t1", "t2"):
        environ = _environ("/lightify/v4/devices")
        environ["HTTP_X_MOCKCLOUD_TENANT"] = tenant
        status: list[str] = []
        b"".join(app(environ, lambda s, h, e=None, out=status: out.append(s)))
        assert status and status[0].startswith("401")     # no token: answered all the same
        assert context.CURRENT.get() is None                # nothing held after the answer
    assert [a.tenant for a, _ in seen] == ["t1", "t2"]
    assert all(a is b for a, b in seen)


def test_current_outside_the_app_reads_the_environ():
    """A Flask request context made by hand (no app call): the environ's context."""
    flask_app = Flask(__name__)
    marker = object()
    with flask_app.test_request_context("/", environ_base={"mockcloud.ctx": marker}):
        assert context.current() is marker
