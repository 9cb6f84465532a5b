"""MockcloudFlask: the route cache, the request-bound adapter, the lean response.

Each fast path must answer exactly as Flask and werkzeug do without it.
"""

from __future__ import annotations

import pytest
from flask import Flask, Response, jsonify, redirect, request
from werkzeug.routing import Rule
from werkzeug.test import Client

from emulator.core import flaskapp
from emulator.core.flaskapp import MockcloudFlask


def make(cls: type[Flask] = MockcloudFlask) -> Flask:
    app = cls("t")
    app.url_map.strict_slashes = False

    @app.get("/items/<ident>")
    def item(ident: str):
        return jsonify(id=ident, args=dict(request.view_args or {}))

    @app.route("/items/<ident>", methods=["PATCH"])
    def patch_item(ident: str):
        request.view_args["ident"] = "mutated"  # a view may change its own view_args
        return jsonify(id=ident)

    @app.get("/empty")
    def empty():
        return Response(status=204)

    @app.get("/go")
    def go():
        return redirect("/items/1")

    @app.get("/created")
    def created():
        return Response(b"{}", status=201, headers={"Content-Location": "/items/\u00e9"},
                        content_type="application/json")

    return app


def answers(app: Flask) -> list[tuple]:
    """What a set of requests answer: status, body, headers that matter."""
    c = Client(app)
    out = []
    for method, path, headers in [
        ("GET", "/items/a", {}), ("GET", "/items/a", {}), ("GET", "/items/b/", {}),
        ("PATCH", "/items/a", {}), ("PATCH", "/items/a", {}), ("GET", "/items/a", {}),
        ("HEAD", "/items/a", {}), ("GET", "/nope", {}), ("GET", "/nope", {}),
        ("DELETE", "/items/a", {}), ("DELETE", "/items/a", {}), ("GET", "/empty", {}),
        ("GET", "/go", {"Host": "example.com:8080"}), ("GET", "/created", {}),
        ("GET", "/items//a", {"Host": "Example.COM"}), ("GET", "/items//a", {}),
        ("GET", "/items//a", {"Host": "a" * 70 + ".com"}),
        ("GET", "/items/caf%C3%A9", {}), ("GET", "/items/%FF", {}),
    ]:
        r = c.open(path, method=method, headers=headers)
        keep = {k: v for k, v in r.headers.items()
                if k in ("Content-Length", "Location", "Content-Location", "Allow")}
        out.append((method, path, r.status_code, r.get_data(), keep))
    return out


def test_same_answers_as_flask():
    assert answers(make()) == answers(make(Flask))


def test_matches_are_remembered_and_copied():
    app = make()
    c = Client(app)
    assert c.get("/items/a").get_json() == {"id": "a", "args": {"ident": "a"}}
    assert ("/items/a", "GET") in app.url_map.matched
    c.patch("/items/a")
    c.patch("/items/a")  # the first PATCH's mutation of view_args did not stick
    assert app.url_map.matched[("/items/a", "PATCH")][1] == {"ident": "a"}
    assert c.get("/items/a").get_json()["id"] == "a"


def test_failed_matches_are_not_remembered():
    app = make()
    c = Client(app)
    for _ in range(2):
        assert c.get("/nope").status_code == 404
        assert c.delete("/items/a").status_code == 405
    assert not any(path in ("/nope",) or method == "DELETE"
                   for path, method in app.url_map.matched)


def test_the_table_is_bounded(monkeypatch):
    monkeypatch.setattr(flaskapp, "ROUTE_CACHE_SIZE", 10)
    app = make()
    c = Client(app)
    for i in range(35):
        assert c.get(f"/items/{i}").get_json()["id"] == str(i)
        assert len(app.url_map.matched) <= 10


def test_a_new_rule_empties_the_table():
    app = make()
    c = Client(app)
    c.get("/items/special")
    assert app.url_map.matched

    app.url_map.add(Rule("/items/special", endpoint="special", methods=["GET"]))
    app.view_functions["special"] = lambda: "special"
    assert not app.url_map.matched
    assert c.get("/items/special").get_data() == b"special"


def test_double_slash_redirect_names_the_host():
    c = Client(make())
    r = c.get("/items//a", headers={"Host": "Example.COM:8080"})
    assert r.status_code == 308
    assert r.headers["Location"] == "http://example.com:8080/items/a"
    assert c.get("/items//a", headers={"Host": "a" * 70 + ".com"}).status_code == 400


def test_lean_response_headers():
    c = Client(make())
    r = c.get("/items/a")
    assert r.headers["Content-Length"] == str(len(r.get_data()))
    head = c.head("/items/a")
    assert head.get_data() == b"" and head.headers["Content-Length"] == r.headers[
        "Content-Length"]
    assert "Content-Length" not in c.get("/empty").headers
    assert c.get("/go").headers["Location"] == "/items/1"  # as Flask leaves it


@pytest.mark.parametrize("body", [b"x", [b"a", b"b"], "text"])
def test_any_body_still_gets_a_length(body):
    app = MockcloudFlask("t")

    @app.get("/")
    def index():
        return Response(body)

    r = Client(app).get("/")
    assert r.headers["Content-Length"] == str(len(r.get_data()))


def test_request_hooks_still_run():
    app = make()
    seen = []

    @app.url_value_preprocessor
    def pre(endpoint, values):
        seen.append(("pre", endpoint))

    @app.before_request
    def before():
        seen.append(("before", request.path))
        if request.path == "/items/stop":
            return "stopped by hook"
        return None

    c = Client(app)
    assert c.get("/items/a").get_json()["id"] == "a"
    assert c.get("/items/stop").get_data() == b"stopped by hook"
    assert seen == [("pre", "item"), ("before", "/items/a"), ("pre", "item"),
                    ("before", "/items/stop")]


@pytest.mark.parametrize("cls", [Flask, MockcloudFlask])
def test_response_and_teardown_hooks_still_run(cls):
    """Without hooks the blueprint chain is not walked (issue 10); with them, after- and
    teardown-request hooks of the app, of a blueprint and of one request run as in
    Flask, and the teardown signal carries the view's exception either way."""
    from flask import Blueprint, after_this_request
    from flask.signals import request_tearing_down

    torn: list = []

    def on_teardown(sender, exc=None, **_):
        torn.append(type(exc).__name__ if exc else None)

    def with_boom(app):
        @app.get("/boom")
        def boom():
            raise KeyError("x")

        @app.get("/once")
        def once():
            after_this_request(lambda resp: resp.headers.set("X-Once", "1") or resp)
            return "once"
        return Client(app)

    request_tearing_down.connect(on_teardown)
    try:
        c = with_boom(make(cls))
        assert c.get("/items/a").status_code == 200
        assert c.get("/boom").status_code == 500
        assert torn == [None, "KeyError"]
        assert c.get("/once").headers.get("X-Once") == "1"
        assert "X-Once" not in c.get("/items/a").headers
        del torn[2:]

        app, seen = make(cls), []
        bp = Blueprint("bp", __name__)

        @bp.get("/bp")
        def in_bp():
            @after_this_request
            def once(resp):
                seen.append("this request")
                return resp
            return "bp"

        bp.after_request(lambda resp: seen.append("bp after") or resp)
        bp.teardown_request(lambda exc: seen.append("bp teardown"))
        app.register_blueprint(bp)
        app.after_request(lambda resp: seen.append("app after") or resp)
        app.teardown_request(lambda exc: seen.append(("app teardown", type(exc).__name__)))
        c = with_boom(app)
        assert c.get("/bp").get_data() == b"bp"
        assert seen == ["this request", "bp after", "app after", "bp teardown",
                        ("app teardown", "NoneType")]
        assert c.get("/boom").status_code == 500
        assert seen[-1] == ("app teardown", "KeyError")
        assert torn[2:] == [None, "KeyError"]
    finally:
        request_tearing_down.disconnect(on_teardown)


def _signal_trace(cls) -> list:
    """Every request and app-context signal, and the app's teardown_appcontext
    functions, as an app of ``cls`` sends and calls them for a good and a failing
    request (with receivers connected: the sends skipped without one still happen)."""
    from flask import signals

    names = ["request_started", "request_finished", "request_tearing_down",
             "got_request_exception", "appcontext_pushed", "appcontext_popped",
             "appcontext_tearing_down"]
    trace: list = []
    receivers = {}
    for name in names:
        def receive(sender, name=name, **kw):
            extra = kw.get("exc") or kw.get("exception")
            trace.append((name, type(extra).__name__ if extra else None,
                          kw["response"].status_code if "response" in kw else None))
        receivers[name] = receive
        getattr(signals, name).connect(receive)
    try:
        app = make(cls)
        app.teardown_appcontext(lambda exc: trace.append(("teardown_appcontext",
                                                          type(exc).__name__)))

        @app.get("/boom")
        def boom():
            raise KeyError("x")

        c = Client(app)
        assert c.get("/items/a").status_code == 200
        assert c.get("/boom").status_code == 500
        assert c.get("/nowhere").status_code == 404
    finally:
        for name, receive in receivers.items():
            getattr(signals, name).disconnect(receive)
    return trace


def test_signals_and_appcontext_teardown_as_flask():
    """The sends MockcloudFlask skips when nothing is connected (request_started,
    request_finished, the teardown signals, do_teardown_appcontext) happen, in Flask's
    order and with its arguments, as soon as something is."""
    ours = _signal_trace(MockcloudFlask)
    assert ours == _signal_trace(Flask)
    assert {t[0] for t in ours} >= {"request_started", "request_finished",
                                    "appcontext_tearing_down", "teardown_appcontext"}


def test_without_receivers_nothing_is_sent():
    """Nothing connected: the skipped sends leave no trace (and the app answers)."""
    from flask import signals

    sent: list = []
    original = signals.request_finished.send
    signals.request_finished.send = lambda *a, **k: sent.append(a) or original(*a, **k)
    try:
        c = Client(make(MockcloudFlask))
        assert c.get("/items/a").status_code == 200
    finally:
        del signals.request_finished.send
    assert sent == []


def test_sessions_are_empty_and_read_only():
    from flask import session

    app = make()

    @app.get("/session")
    def read():
        return jsonify(dict(session))

    @app.post("/session")
    def write():
        session["x"] = 1
        return "written"

    c = Client(app)
    assert c.get("/session").get_json() == {}
    assert c.post("/session").status_code == 500  # Flask: no secret key, no session
    assert c.get("/session").get_json() == {} and "Set-Cookie" not in c.get(
        "/session").headers
