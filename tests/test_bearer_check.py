"""The bearer check every authenticated call makes, held to Authlib's (issues 8, 10, 11).

``VendorAuthServer.bearer`` reads ``Authorization: Bearer <token>`` itself and hands
the token to the same validator; the scope check's answer is kept per (granted,
required). These compare both, in process, with what Authlib's ``ResourceProtector``
and ``TokenValidator.scope_insufficient`` answer for the same header and scopes, for
live, revoked, unknown and expired tokens; ``bodies.buffered_form``, the form split the
token endpoint and Netatmo's transport share, against ``parse_qsl`` as each caller
decodes.
"""

from __future__ import annotations

import itertools
import random
from urllib.parse import parse_qsl

import pytest
from authlib.oauth2.rfc6749 import TokenValidator
from authlib.oauth2.rfc6749.errors import MissingAuthorizationError, UnsupportedTokenTypeError

from emulator.app import create_app
from emulator.core import context
from emulator.core.bodies import FORM_TYPE, buffered_form
from emulator.core.clock import Clock
from emulator.core.context import Ctx
from emulator.core.errors import MockcloudError
from emulator.core.oauth import Tokens, _EnvironRequest, _scope_insufficient
from emulator.settings import Settings

SCHEMES = ["Bearer", "bearer", "BEARER", "BeArEr", "Basic", "Token", "Bearerx", "Bear", ""]
GAPS = [" ", "  ", "\t", " \t ", "\x0b", "\x85", "\xa0", ""]
SCOPES = [None, [], ["read_station"], ["write_thermostat"],
          ["read_station write_thermostat"], ["nope"], ["nope", "read_station"],
          ["read_station nope"], [" read_station "]]


def _outcome(call):
    try:
        return ("token", call().doc["access_token"])
    except MissingAuthorizationError:
        return ("missing",)
    except UnsupportedTokenTypeError:
        return ("malformed",)
    except MockcloudError as err:
        return {"token_missing": ("missing",), "token_malformed": ("malformed",)}.get(
            err.reason, ("refused", err.reason))


def _request(app) -> Ctx:
    """A new request's context (its own instant of the virtual clock), made current."""
    ctx = Ctx(store=app.store, tenant="bearer-check", settings=app.settings,
              vendor="netatmo")
    context.CURRENT.set(ctx)
    return ctx


@pytest.fixture
def netatmo_auth():
    app = create_app(Settings(state="memory"))
    held = context.CURRENT.get()
    try:
        ctx = _request(app)
        app.ensure_world(ctx.tenant, ctx.now())
        yield app, ctx, app.auth["netatmo"]
    finally:
        context.CURRENT.set(held)


def _headers(tokens):
    for scheme, gap, token, tail in itertools.product(SCHEMES, GAPS, tokens, ["", " ", "\t"]):
        yield f"{scheme}{gap}{token}{tail}"
        yield f"{gap}{scheme}{gap}{token}"


def test_bearer_is_authlibs_protector(netatmo_auth):
    app, ctx, server = netatmo_auth
    live = server.issue("netatmo-ci", "dev@netatmo.test", "read_station read_thermostat")
    dead = server.issue("netatmo-ci", "dev@netatmo.test", "read_station")
    Tokens(ctx, "netatmo").revoke(dead["access_token"])
    tokens = [live["access_token"], dead["access_token"], "nope", "a b"]
    checked = refused = 0
    for phase in ("now", "after expiry"):
        for header in _headers(tokens):
            environ = {"HTTP_AUTHORIZATION": header}
            if not header:
                continue   # no header: the token parameters, as before (not this path)
            for scopes in SCOPES:
                ours = _outcome(lambda s=scopes, e=environ: server.bearer(s, e))
                authlib = _outcome(lambda s=scopes, e=environ: server.resource
                                   .validate_request(s, _EnvironRequest(e)))
                assert ours == authlib, (phase, header, scopes)
                checked += 1
                refused += ours[0] == "refused"
        if phase == "now":
            Clock(app.store, ctx.tenant).advance(live["expires_in"] + 1)
            _request(app)
    assert checked > 5000 and refused > 1000
    # the outcomes are not all alike: every kind was met
    kinds = {_outcome(lambda h=h, s=s: server.bearer(s, {"HTTP_AUTHORIZATION": h}))
             for h in ("Bearer " + live["access_token"], "Basic x", "Bearer")
             for s in (["read_station"],)}
    assert kinds == {("refused", "token_expired"), ("malformed",)}


def test_expiry_and_revocation_take_effect_at_once(netatmo_auth):
    app, ctx, server = netatmo_auth
    pair = server.issue("netatmo-ci", "dev@netatmo.test", "read_station")
    environ = {"HTTP_AUTHORIZATION": f"Bearer {pair['access_token']}"}
    assert server.bearer(["read_station"], environ).doc["access_token"] == pair["access_token"]
    with pytest.raises(MockcloudError) as refused:
        server.bearer(["write_thermostat"], environ)
    assert refused.value.reason == "insufficient_scope"
    Tokens(ctx, "netatmo").revoke(pair["access_token"], "access")
    ctx = _request(app)
    with pytest.raises(MockcloudError) as refused:
        server.bearer(["read_station"], environ)
    assert refused.value.reason == "token_revoked"
    other = server.issue("netatmo-ci", "dev@netatmo.test", "read_station")
    environ = {"HTTP_AUTHORIZATION": f"bearer\t{other['access_token']}"}
    assert server.bearer(None, environ).doc["access_token"] == other["access_token"]
    assert server.bearer(None, environ).doc["access_token"] == other["access_token"]
    Clock(app.store, ctx.tenant).advance(other["expires_in"])
    _request(app)
    with pytest.raises(MockcloudError) as refused:
        server.bearer(None, environ)
    assert refused.value.reason == "token_expired"


def test_scope_check_is_authlibs():
    rng = random.Random(8)
    words = ["a", "b", "c", "read_station", "write_thermostat", ""]
    for _ in range(3000):
        granted = rng.choice([" ", "  ", "\t"]).join(rng.sample(words, rng.randint(0, 4)))
        required = tuple(" ".join(rng.sample(words, rng.randint(0, 3)))
                         for _ in range(rng.randint(1, 3)))
        for _ in range(2):     # asked again: the kept answer
            assert _scope_insufficient(granted, required) == \
                TokenValidator.scope_insufficient(granted, list(required)), (granted, required)


BODIES = [b"", b"a", b"a=", b"=b", b"&&", b"a=1&a=2&b", b"a=%41%42&b=%zz&c=%FF&d=%C3%A9",
          b"a+b=c+d&e=%2B", b"x=\xc3\xa9", b"x=\xff\xfe", b"x=%FF\xff", b"a=1;b=2",
          "é=ü".encode(), b"a=%E2%82", b"home_id=5e5c&temp=21.5&mode=manual"]


@pytest.mark.parametrize("body", BODIES)
def test_buffered_form_splits_as_parse_qsl(body):
    environ = {"mockcloud.body": body, "CONTENT_TYPE": FORM_TYPE}
    # the token endpoint's: strict UTF-8 (else no field), werkzeug's unquoting
    try:
        text = body.decode()
    except UnicodeDecodeError:
        strict = []
    else:
        strict = parse_qsl(text, keep_blank_values=True, errors="werkzeug.url_quote")
    assert buffered_form(environ, lambda: FORM_TYPE, "strict", "werkzeug.url_quote") == strict
    # Netatmo's: bad bytes replaced, then parse_qsl's own replacing
    loose = parse_qsl(body.decode("utf-8", "replace"), keep_blank_values=True)
    assert buffered_form(environ, lambda: FORM_TYPE, "replace", "replace") == loose


@pytest.mark.parametrize("ctype,parsed,is_form", [
    (FORM_TYPE, "unused", True),
    (FORM_TYPE + "; charset=UTF-8", FORM_TYPE, True),
    ("Application/X-WWW-Form-Urlencoded", "Application/X-WWW-Form-Urlencoded", True),
    ("application/json", "application/json", False),
    (None, "", False),
])
def test_buffered_form_only_for_a_form(ctype, parsed, is_form):
    environ = {"mockcloud.body": b"a=1"}
    if ctype is not None:
        environ["CONTENT_TYPE"] = ctype
    fields = buffered_form(environ, lambda: parsed, "strict", "strict")
    assert fields == ([("a", "1")] if is_form else None)
    assert buffered_form({"CONTENT_TYPE": FORM_TYPE}, lambda: FORM_TYPE,
                         "strict", "strict") is None     # nothing buffered: werkzeug's
