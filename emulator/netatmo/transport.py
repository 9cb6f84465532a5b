"""What every ``/api/<method>`` endpoint shares: request in, envelope out.

* Methods: GET (parameters in the query) and POST (form body plus query string) on
  every endpoint, with whatever Content-Type real clients send: pyatmo POSTs a form
  Content-Type with an empty body, lnetatmo GETs with a form Content-Type and no body.
  A JSON object body is read too (its top-level keys are parameters); the endpoints
  registered with ``json_body`` (``setstate``, ``synchomeschedule``,
  ``createnewhomeschedule``) check it against their contract request schema.
* The token: ``Authorization: Bearer`` or an ``access_token`` parameter (form or query;
  the core's guard, ``AuthProfile.token_params``), then the scope: a token needs ANY of
  the endpoint's scopes (the contract's ``security`` blocks are alternatives), then the
  quotas.
* ``Params``: typed getters over the parameters, coercing the strings clients send
  (``temp="14"``, ``optimize="false"``); a missing required one is
  ``missing_argument`` "Missing <name>" (400/10), a bad one ``invalid_argument`` (400/21)
  naming it.
* The success envelope ``{"body", "status": "ok", "time_exec", "time_server"}`` with
  ``Content-Type: application/json``; ``time_server`` is the virtual clock, ``time_exec``
  the real seconds the answer took (a float, as in every sample). A view returning None
  (a write) gets the envelope without ``body``; an ``Answer`` adds top-level fields.

A view is ``def view(params: Params, token: oauth.Token, ctx: Ctx) -> body | None``,
registered with ``@endpoint(bp, api, "homesdata", READ_HOME)``.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

import orjson
from flask import Blueprint, request

from ..core.answers import Answers
from ..core.api import VendorAPI
from ..core.bodies import BODY, FORM_TYPE, buffered_form
from ..core.context import Ctx
from ..core.errors import MockcloudError
from ..core.flaskapp import MockResponse
from ..core.oauth import Token
from . import pushes

JSON_TYPE = "application/json"
TRUE, FALSE = ("true", "1", "yes", "on"), ("false", "0", "no", "off")

View = Callable[["Params", Token, Ctx], Any]


@dataclass(frozen=True)
class Answer:
    """A reply with fields beside ``body`` (e.g. a top-level ``schedule_id``)."""

    body: Any = None
    fields: dict[str, Any] = field(default_factory=dict)


def missing(name: str) -> MockcloudError:
    return MockcloudError("missing_argument", f"Missing {name}")


def invalid(name: str, why: str) -> MockcloudError:
    return MockcloudError("invalid_argument", f"Invalid {name}: {why}")


class Params:
    """The request's parameters: query, form and a JSON object body, in that order of
    precedence. Values are strings (query, form) or JSON values (body)."""

    __slots__ = ("_values", "_body", "_first")

    def __init__(self, values: dict[str, list[Any]], body: Any = None) -> None:
        self._values, self._body = values, body
        first: dict[str, Any] = {}          # each name's first value not None nor ""
        for name, given in values.items():
            for value in given:
                if value is not None and value != "":
                    first[name] = value
                    break
        self._first = first

    @classmethod
    def from_request(cls, body: Any = None, environ: dict[str, Any] | None = None
                     ) -> Params:
        """The request's parameters (``environ``: the request's, when the caller has
        it). Those of a small url-encoded body (and query) are read once per distinct
        request (``_PARSED``): the same query, Content-Type and body give the same
        values, and nothing changes a ``Params``."""
        if environ is None:
            environ = request.environ
        if body is None:
            raw = environ.get(BODY)
            if type(raw) is bytes and len(raw) <= PARSED_MAX:     # (a key: hashable)
                key = (environ.get("QUERY_STRING"), environ.get("CONTENT_TYPE"), raw)
                hit = _PARSED.get(key)
                if hit is None:
                    values, own = _values(environ, None)
                    hit = cls(values)
                    if own:             # split here, not by werkzeug's stream parser
                        if len(_PARSED) >= PARSED_KEPT:
                            _PARSED.clear()
                        _PARSED[key] = hit
                return hit
        return cls(_values(environ, body)[0], body)

    def __contains__(self, name: str) -> bool:
        return name in self._first

    def raw(self, name: str) -> Any:
        """The first value given for ``name``; None when absent or empty."""
        return self._first.get(name)

    def _need(self, name: str, required: bool) -> Any:
        value = self.raw(name)
        if value is None and required:
            raise missing(name)
        return value

    def str(self, name: str, required: bool = False, default: str | None = None
            ) -> str | None:
        value = self._first.get(name)
        if type(value) is str:
            return value
        if value is None:
            if required:
                raise missing(name)
            return default
        if isinstance(value, bool) or not isinstance(value, str | int | float):
            raise invalid(name, "expected a string")
        return value if isinstance(value, str) else str(value)

    def int(self, name: str, required: bool = False, default: int | None = None,
            lo: int | None = None, hi: int | None = None) -> int | None:
        value = self._need(name, required)
        if value is None:
            return default
        number = _number(name, value)
        if number != math.floor(number):
            raise invalid(name, f"{value!r} is not a whole number")
        return _bounded(name, int(number), lo, hi)

    def float(self, name: str, required: bool = False, default: float | None = None,
              lo: float | None = None, hi: float | None = None) -> float | None:
        value = self._need(name, required)
        if value is None:
            return default
        return _bounded(name, _number(name, value), lo, hi)

    def bool(self, name: str, default: bool = False) -> bool:
        value = self.raw(name)
        if value is None:
            return default
        if isinstance(value, bool):
            return value
        text = str(value).strip().lower()
        if text in TRUE:
            return True
        if text in FALSE:
            return False
        raise invalid(name, f"{value!r} is not true or false")

    def choice(self, name: str, options: Iterable[str], required: bool = False,
               default: str | None = None) -> str | None:
        value = self.str(name, required, default)
        options = tuple(options)
        if value is not None and value not in options:
            raise invalid(name, f"{value!r} is not one of {', '.join(options)}")
        return value

    def list(self, name: str, required: bool = False) -> list[Any] | None:
        """Comma-separated, repeated, or a JSON array (as text or in a JSON body)."""
        out: list[Any] = []
        for value in self._values.get(name, ()):
            if isinstance(value, list):
                out += value
            elif isinstance(value, str):
                text = value.strip()
                if text.startswith("["):
                    parsed = _json(name, text)
                    if not isinstance(parsed, list):
                        raise invalid(name, "expected a list")
                    out += parsed
                else:
                    out += [p.strip() for p in text.split(",") if p.strip()]
            elif value is not None:
                out.append(value)
        if not out:
            if required:
                raise missing(name)
            return None
        return out

    def json(self, name: str | None = None, required: bool = False) -> Any:
        """The JSON body (no name), or one parameter's JSON value (text is parsed)."""
        if name is None:
            if self._body is None and required:
                raise MockcloudError("invalid_request", "Send a JSON body.")
            return self._body
        value = self._need(name, required)
        return _json(name, value) if isinstance(value, str) else value


def _number(name: str, value: Any) -> float:
    if isinstance(value, bool):
        raise invalid(name, "expected a number")
    try:
        number = float(value)
    except (TypeError, ValueError):
        raise invalid(name, f"{value!r} is not a number") from None
    if not math.isfinite(number):
        raise invalid(name, f"{value!r} is not a finite number")
    return number


def _bounded(name: str, value: Any, lo: Any, hi: Any) -> Any:
    if (lo is not None and value < lo) or (hi is not None and value > hi):
        span = f"from {lo} to {hi}" if lo is not None and hi is not None else (
            f"at least {lo}" if lo is not None else f"at most {hi}")
        raise invalid(name, f"{value} is out of range (must be {span})")
    return value


def _values(environ: dict[str, Any], body: Any) -> tuple[dict[str, list[Any]], bool]:
    """The parameters (query, form, a JSON object body), and whether the form was
    split here rather than by werkzeug. A url-encoded body the app has already
    buffered (``mockcloud.body``) is split here, as werkzeug would (UTF-8, bad bytes
    replaced, blank values kept), without its stream parser; anything else goes to
    werkzeug. (The Content-Type clients send is compared as it is before werkzeug
    parses it; a body with nothing to unquote is only split, as ``parse_qsl`` would
    split it.)"""
    values: dict[str, list[Any]] = {}
    if environ.get("QUERY_STRING"):
        for key, value in request.args.items(multi=True):
            values.setdefault(key, []).append(value)
    fields = buffered_form(environ, lambda: request.mimetype, "replace", "replace")
    for key, value in request.form.items(multi=True) if fields is None else fields:
        values.setdefault(key, []).append(value)
    if isinstance(body, dict):
        for key, value in body.items():
            values.setdefault(key, []).append(value)
    return values, fields is not None


# the parameters of recent small url-encoded requests: (query, Content-Type, body) ->
# their Params (a client sends the same few forms again and again)
_PARSED: dict[tuple[Any, Any, bytes], Params] = {}
PARSED_KEPT, PARSED_MAX = 256, 2048     # entries; bytes of a body kept


def _json(name: str, text: str) -> Any:
    try:
        return orjson.loads(text)
    except orjson.JSONDecodeError as exc:
        raise invalid(name, f"not valid JSON ({exc})") from None


def _body(api: VendorAPI, schema: str | None, environ: dict[str, Any] | None = None
          ) -> Any:
    """A JSON object body, if the request has one (checked against ``schema``)."""
    if environ is None:
        environ = request.environ
    if environ.get("CONTENT_TYPE") == FORM_TYPE:     # a form, as most are
        return None
    ctype = (request.mimetype or "").lower()
    if not (ctype == JSON_TYPE or ctype.endswith("+json")):
        return None
    raw = environ.get(BODY)
    if raw is None:
        raw = request.get_data(cache=True)
    if not raw.strip():
        return None
    return api.json_body(schema)


def envelope(result: Any, now: float, started: float) -> MockResponse:
    doc: dict[str, Any] = {}
    if result is None:              # a write
        pass
    elif isinstance(result, Answer):
        if result.body is not None:
            doc["body"] = result.body
        doc.update(result.fields)
    else:
        doc["body"] = result
    doc["status"] = "ok"
    doc["time_exec"] = round(time.perf_counter() - started, 6)
    doc["time_server"] = int(now)
    # the body as a one-item list: its Content-Length is set as the answer is sent
    # (MockResponse.get_wsgi_response), after the Content-Type, as set_data would
    return MockResponse([orjson.dumps(doc)], 200, content_type=JSON_TYPE)


# read answers, remembered while the snapshots they were computed from hold
ANSWERS = Answers("netatmo.answers", 256)


def rated(view: Callable[[], Any], status: int | None) -> Callable[[], Any]:
    """``view`` whose quota refusals answer ``status`` (``Settings.rate_limit_status``)
    unless the tenant's config gave one: for routes outside :func:`endpoint`."""
    def handler():
        try:
            return view()
        except MockcloudError as err:
            if err.reason == "rate_limited" and err.status is None:
                err.status = status
            raise

    return handler


def endpoint(bp: Blueprint, api: VendorAPI, name: str, scopes: Iterable[str], *,
             json_body: str | None = None, read: bool = False) -> Callable[[View], View]:
    """Register ``view`` at ``/api/<name>`` (GET and POST) behind the token, scope and
    quota checks; ``json_body``: the contract schema a JSON body must satisfy.

    Every view runs at the whole second of the virtual clock (``time_server``'s
    instant; the token's expiry is checked at the exact instant before). A view that
    is not ``read`` runs inside ``pushes.announcing``: the events it makes at that
    second are queued for the user's webhooks.

    ``read``: the view only reads, and reads the store through ``Store.snapshot``: its
    serialised body is remembered (``core.answers``) under the endpoint, the
    tenant, the caller, the parameters, that second and the base URL the client used
    (links in answers name it), for as long as the documents it read are unchanged."""
    scopes = tuple(scopes)
    guard = api.guard(list(scopes))
    status = getattr(api.settings, "rate_limit_status", None)

    def register(view: View) -> View:
        @guard
        def guarded(token: Token):
            started = time.perf_counter()
            ctx = api.ctx()
            environ = request.environ
            params = Params.from_request(_body(api, json_body, environ), environ)
            # Netatmo's time is whole seconds (time_server, every epoch it takes and
            # gives): past the token check, the request happens at its second
            now = ctx.whole_second()
            if not read:  # its events (set point, mode, persons, cameras) pushed
                pushing = pushes.announcing(ctx.store, ctx.tenant, [token.user_id], now)
                if pushing is pushes.QUIET:     # nobody listens
                    return envelope(view(params, token, ctx), now, started)
                with pushing:
                    result = view(params, token, ctx)
                return envelope(result, now, started)
            key = (name, ctx.tenant, token.user_id, token.client_id, now, ctx.base,
                   orjson.dumps(params._values, option=orjson.OPT_SORT_KEYS))
            body = ANSWERS.get_or_compute(
                ctx, key, lambda: orjson.dumps(view(params, token, ctx)))
            return envelope(orjson.Fragment(body), now, started)

        def handler():
            try:
                return guarded()
            except MockcloudError as err:
                if err.reason == "rate_limited" and err.status is None:
                    err.status = status  # the setting, unless the tenant's config says
                raise

        handler.scopes = scopes  # type: ignore[attr-defined]  # (tests read it)
        bp.add_url_rule(f"/api/{name}", name, handler, methods=["GET", "POST"])
        return view

    return register
