"""Reference client of Netatmo Connect: its OAuth server and every ``/api/<method>`` of
``contracts/openapi/netatmo.yaml``.

Only the base URL changes between the real cloud (``NetatmoClient(id, secret)``, i.e.
``https://api.netatmo.com``) and mockcloud (``NetatmoClient(id, secret,
"http://127.0.0.1:PORT/netatmo")``); the paths are the cloud's (``/oauth2/authorize``,
``/oauth2/token``, ``/api/homesdata`` ...).

OAuth (on :class:`clients.base.OAuth2Session`, Authlib):

* ``authorization_url(redirect_uri, state=, scope=)``: ``scope`` a list or a
  space-separated string (sent space-separated). No PKCE by default: Netatmo documents
  none (``pkce=True`` sends an S256 challenge; mockcloud verifies it when sent).
* ``fetch_token(code, redirect_uri)``, ``refresh()``, and ``password_login(username,
  password, scope)`` for apps that still have the ``password`` grant Netatmo removed in
  July 2023. Every new token pair reaches ``on_token``: Netatmo rotates refresh tokens,
  the previous refresh token is dead once a refresh succeeded (reusing it is
  ``invalid_grant``), so persist each one. Token answers carry ``scope`` as a JSON
  array, ``expires_in`` and ``expire_in``; the dict is kept as Netatmo sent it (plus
  ``expires_at`` on the client's clock), ``scopes`` gives the list either way.
* Client credentials go in the form body (``client_auth="basic"`` for HTTP Basic).

API calls: every method POSTs a form, as pyatmo and lnetatmo do (Netatmo answers GET and
POST alike); ``setstate``, ``synchomeschedule`` and ``createnewhomeschedule`` send JSON
bodies (``synchomeschedule`` keeps ``home_id``, ``schedule_id`` and ``name`` in the
query string, as pyatmo does). Booleans travel as ``"true"``/``"false"``, numbers as
strings, lists comma-separated (``person_ids`` as a JSON array), instants as epoch
seconds (a ``datetime`` is converted). Parameters left at None are not sent. Reads
return the envelope's ``body``; writes return the whole envelope (``{"status": "ok",
"time_server": ...}``, plus ``body.errors`` for setstate's partial failures and
``schedule_id`` for createnewhomeschedule).

Webhooks: ``addwebhook(url, app_types)`` / ``dropwebhook()``; :class:`WebhookReceiver`
runs a small receiver in a thread (``url``, ``pushes``, ``wait(count)``, ``answer(500,
...)`` to make deliveries fail) for tests and examples.

Errors: ``{"error": {"code", "message"}}`` becomes :class:`ApiError` with ``status``,
``error`` (the code as text), ``code`` (the number) and ``description`` (the message);
token-endpoint errors (flat ``{"error": "invalid_grant"}``) are :class:`AuthError`.
Code 26 (usage limit; status 429 since 2025, 403 before) is retried after
``Retry-After`` (capped at ``max_retry_wait``, through the injectable ``sleep``) up to
``max_retries`` times, then :class:`RateLimitError`; a 429 of any code (code 11, the
concurrency limiter) is retried the same way. An access token the API calls expired
(code 3) or invalid (code 2) triggers one refresh and one retry.
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from datetime import datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Literal

import requests

from .base import (
    ApiError,
    AuthError,
    OAuth2Session,
    RateLimitError,
    TokenDict,
    _json_or_none,
)

__all__ = ["API", "LEGACY_API", "ApiError", "AuthError", "NetatmoClient", "RateLimitError",
           "THROTTLED", "TOKEN_EXPIRED", "TOKEN_INVALID", "WebhookReceiver"]

API = "https://api.netatmo.com"
LEGACY_API = "https://api.netatmo.net"  # old scripts' host

TOKEN_INVALID, TOKEN_EXPIRED, THROTTLED = 2, 3, 26

Json = dict[str, Any]
Instant = int | float | datetime
Scale = Literal["max", "30min", "1hour", "3hours", "1day", "1week", "1month"]
ThermMode = Literal["schedule", "away", "hg", "off"]
RoomMode = Literal["manual", "max", "home"]


# ----------------------------------------------------------------- encoding

def _text(value: Any) -> str:
    """A parameter as Netatmo expects it: "true"/"false", numbers and ids as text."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, datetime):
        return str(int(value.timestamp()))
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    if isinstance(value, str | int | float):
        return str(value)
    if isinstance(value, Iterable) and not isinstance(value, Mapping):
        return ",".join(_text(v) for v in value)
    raise TypeError(f"cannot send {type(value).__name__} {value!r} as a Netatmo parameter")


def _form(**params: Any) -> dict[str, str]:
    return {k: _text(v) for k, v in params.items() if v is not None}


def _instant(value: Instant | None) -> int | None:
    if value is None:
        return None
    if isinstance(value, datetime):
        return int(value.timestamp())
    return int(value)


def _schedule(zones: Sequence[Mapping[str, Any]], timetable: Sequence[Mapping[str, Any]],
              hg_temp: float, away_temp: float) -> Json:
    return {"zones": [dict(z) for z in zones], "timetable": [dict(t) for t in timetable],
            "hg_temp": hg_temp, "away_temp": away_temp}


# ------------------------------------------------------------------- client

class NetatmoClient(OAuth2Session):
    AUTHORIZE_PATH = "/oauth2/authorize"
    TOKEN_PATH = "/oauth2/token"
    REVOKE_PATH = None  # Netatmo documents no revocation endpoint
    API_PATH = "/api"

    def __init__(self, client_id: str, client_secret: str, base_url: str = API,
                 **kwargs: Any) -> None:
        """``token``: a token dict saved from ``on_token`` (or at least
        ``access_token``/``refresh_token``); ``on_token``: called with every new token
        dict. Other keyword arguments: :class:`clients.base.OAuth2Session`'s
        (``now``, ``sleep``, ``max_retries``, ``max_retry_wait``, ``client_auth`` ...)."""
        super().__init__(client_id, client_secret, base_url, **kwargs)

    # -- OAuth ----------------------------------------------------------------------

    def authorization_url(self, redirect_uri: str, state: str | None = None,
                          scope: str | Iterable[str] | None = None,
                          pkce: bool = False) -> tuple[str, str, str | None]:
        """(URL to send the user to, state, code_verifier or None). ``scope``: names
        as a list or one space-separated string; None: the app's default scope."""
        if scope is not None and not isinstance(scope, str):
            scope = " ".join(scope)
        return super().authorization_url(redirect_uri, state, scope, pkce)

    def password_login(self, username: str, password: str,
                       scope: str | Iterable[str] | None = None) -> TokenDict:
        """The legacy ``password`` grant (only apps Netatmo still allowed it; others
        get ``unauthorized_client``)."""
        if scope is not None and not isinstance(scope, str):
            scope = " ".join(scope)
        extra = {"scope": scope} if scope else {}
        token = super(OAuth2Session, self).fetch_token(
            grant_type="password", username=username, password=password, **extra)
        self._report(token)
        return token

    @property
    def scopes(self) -> list[str]:
        """The token's scopes (Netatmo answers a JSON array; a string is split)."""
        scope = self.token.get("scope") if self.token else None
        if scope is None:
            return []
        return scope.split() if isinstance(scope, str) else [str(s) for s in scope]

    # -- errors ---------------------------------------------------------------------

    def error_code(self, resp: requests.Response) -> int | None:
        body = _json_or_none(resp)
        err = body.get("error") if isinstance(body, Mapping) else None
        code = err.get("code") if isinstance(err, Mapping) else None
        if isinstance(code, bool):
            return None
        if isinstance(code, int):
            return code
        try:
            return int(code) if code is not None else None
        except (TypeError, ValueError):
            return None

    def is_rate_limited(self, resp: requests.Response) -> bool:
        """429 (code 26 "Maximum api usage reached", or 11 from the concurrency
        limiter), or the older 403 with code 26 ("User usage reached")."""
        if resp.status_code == 429:
            return True
        return resp.status_code == 403 and self.error_code(resp) == THROTTLED

    def is_token_error(self, resp: requests.Response) -> bool:
        """Netatmo says 403 (401 in one table) with code 3 (expired) or 2 (invalid)."""
        return resp.status_code in (401, 403) and \
            self.error_code(resp) in (TOKEN_INVALID, TOKEN_EXPIRED)

    # -- plumbing -------------------------------------------------------------------

    def _send(self, method: str, params: Mapping[str, str] | None = None,
              json_body: Any = None, query: Mapping[str, str] | None = None) -> Json:
        kwargs: dict[str, Any] = {"params": dict(query or {})}
        if json_body is not None:
            kwargs["json"] = json_body
        else:
            kwargs["data"] = dict(params or {})
        envelope = self.call("POST", f"{self.API_PATH}/{method}", **kwargs)
        if not isinstance(envelope, Mapping) or envelope.get("status") != "ok":
            raise ApiError(200, "bad_envelope",
                           f"{method} answered no status ok: {str(envelope)[:200]}")
        return dict(envelope)

    def _read(self, method: str, **params: Any) -> Any:
        return self._send(method, _form(**params)).get("body")

    def _write(self, method: str, **params: Any) -> Json:
        return self._send(method, _form(**params))

    # -- weather stations, home coach ----------------------------------------------

    def getstationsdata(self, device_id: str | None = None,
                        get_favorites: bool | None = None) -> Json:
        """``{"devices": [NAMain with its modules], "user": {...}}``."""
        return self._read("getstationsdata", device_id=device_id,
                          get_favorites=get_favorites)

    def getmeasure(self, device_id: str, scale: Scale, type: str | Sequence[str], *,
                   module_id: str | None = None, date_begin: Instant | None = None,
                   date_end: Instant | None = None, limit: int | None = None,
                   optimize: bool | None = None, real_time: bool | None = None) -> Any:
        """Measures of a station, module or energy device. ``type``: names (a list or
        a comma list). ``optimize`` true (the cloud's default): ``[{"beg_time",
        "step_time", "value": [[...], ...]}]``; false: ``{"<epoch>": [...]}``."""
        return self._read("getmeasure", device_id=device_id, module_id=module_id,
                          scale=scale, type=type, date_begin=_instant(date_begin),
                          date_end=_instant(date_end), limit=limit, optimize=optimize,
                          real_time=real_time)

    def getpublicdata(self, lat_ne: float, lon_ne: float, lat_sw: float, lon_sw: float,
                      *, required_data: str | None = None,
                      filter: bool | None = None) -> list[Json]:
        """Public stations inside the box (latitudes -85..85, longitudes -180..180)."""
        return self._read("getpublicdata", lat_ne=lat_ne, lon_ne=lon_ne, lat_sw=lat_sw,
                          lon_sw=lon_sw, required_data=required_data, filter=filter)

    def gethomecoachsdata(self, device_id: str | None = None) -> Json:
        """``{"devices": [NHC ...], "user": {...}}``."""
        return self._read("gethomecoachsdata", device_id=device_id)

    # -- energy: reads --------------------------------------------------------------

    def homesdata(self, home_id: str | None = None,
                  gateway_types: Sequence[str] | None = None) -> Json:
        """``{"homes": [...], "user": {...}}``: rooms, modules, schedules."""
        return self._read("homesdata", home_id=home_id, gateway_types=gateway_types)

    def homestatus(self, home_id: str, device_types: Sequence[str] | None = None) -> Json:
        """``{"home": {"id", "modules", "rooms"}, "errors"?: [{"code": 6, "id"}]}``."""
        return self._read("homestatus", home_id=home_id, device_types=device_types)

    def getroommeasure(self, home_id: str, room_id: str, scale: Scale,
                       type: str | Sequence[str], *, date_begin: Instant | None = None,
                       date_end: Instant | None = None, limit: int | None = None,
                       optimize: bool | None = None,
                       real_time: bool | None = None) -> Any:
        """A room's history: ``temperature``, ``sp_temperature``, ``min_temp`` ..."""
        return self._read("getroommeasure", home_id=home_id, room_id=room_id, scale=scale,
                          type=type, date_begin=_instant(date_begin),
                          date_end=_instant(date_end), limit=limit, optimize=optimize,
                          real_time=real_time)

    def getthermostatsdata(self, device_id: str | None = None) -> Json:
        """The legacy thermostat read (relays with their thermostats)."""
        return self._read("getthermostatsdata", device_id=device_id)

    # -- energy: writes -------------------------------------------------------------

    def setthermmode(self, home_id: str, mode: ThermMode | str, *,
                     endtime: Instant | None = None,
                     schedule_id: str | None = None) -> Json:
        """The home's mode; ``endtime`` for away/hg, ``schedule_id`` with schedule."""
        return self._write("setthermmode", home_id=home_id, mode=mode,
                           endtime=_instant(endtime), schedule_id=schedule_id)

    def setroomthermpoint(self, home_id: str, room_id: str, mode: RoomMode | str, *,
                          temp: float | None = None,
                          endtime: Instant | None = None) -> Json:
        """A room's set point: ``manual`` (with ``temp``), ``max``, or ``home`` (back
        to what the home's mode says); ``endtime`` defaults to the home's
        ``therm_setpoint_default_duration`` from now."""
        return self._write("setroomthermpoint", home_id=home_id, room_id=room_id,
                           mode=mode, temp=temp, endtime=_instant(endtime))

    def switchhomeschedule(self, home_id: str, schedule_id: str) -> Json:
        return self._write("switchhomeschedule", home_id=home_id, schedule_id=schedule_id)

    def synchomeschedule(self, home_id: str, *, zones: Sequence[Mapping[str, Any]],
                         timetable: Sequence[Mapping[str, Any]], hg_temp: float,
                         away_temp: float, schedule_id: str | None = None,
                         name: str | None = None) -> Json:
        """Replace a schedule's zones and timetable (default: the selected schedule).
        ``timetable``: ``[{"zone_id", "m_offset"}]`` (minutes since Monday 00:00 in the
        home's time zone, sorted, starting at 0); ``zones``: ``[{"id", "name", "type",
        "rooms": [{"id", "therm_setpoint_temperature"}]}]``."""
        return self._send("synchomeschedule",
                          query=_form(home_id=home_id, schedule_id=schedule_id, name=name),
                          json_body=_schedule(zones, timetable, hg_temp, away_temp))

    def createnewhomeschedule(self, home_id: str, name: str, *,
                              zones: Sequence[Mapping[str, Any]],
                              timetable: Sequence[Mapping[str, Any]], hg_temp: float,
                              away_temp: float) -> Json:
        """A new schedule (not selected). The new id is ``schedule_id`` in the
        envelope's ``body`` or at its top level (sources disagree): see
        :meth:`new_schedule_id`."""
        body = {"home_id": home_id, "name": name,
                **_schedule(zones, timetable, hg_temp, away_temp)}
        return self._send("createnewhomeschedule", json_body=body)

    @staticmethod
    def new_schedule_id(envelope: Mapping[str, Any]) -> str:
        """The id a ``createnewhomeschedule`` answer gives, wherever it put it."""
        body = envelope.get("body")
        if isinstance(body, Mapping) and body.get("schedule_id"):
            return str(body["schedule_id"])
        if envelope.get("schedule_id"):
            return str(envelope["schedule_id"])
        raise ApiError(200, "bad_envelope", "createnewhomeschedule gave no schedule_id")

    def deletehomeschedule(self, home_id: str, schedule_id: str) -> Json:
        """Delete a schedule (not the selected one)."""
        return self._write("deletehomeschedule", home_id=home_id, schedule_id=schedule_id)

    def renamehomeschedule(self, home_id: str, schedule_id: str, name: str) -> Json:
        return self._write("renamehomeschedule", home_id=home_id, schedule_id=schedule_id,
                           name=name)

    def setstate(self, home_id: str, *, rooms: Sequence[Mapping[str, Any]] | None = None,
                 modules: Sequence[Mapping[str, Any]] | None = None) -> Json:
        """JSON ``{"home": {"id", "rooms"?, "modules"?}}``. Rooms: ``{"id",
        "therm_setpoint_mode", "therm_setpoint_temperature",
        "therm_setpoint_end_time"}``. Partial failures come back with HTTP 200 in
        ``body.errors`` of the returned envelope."""
        home: Json = {"id": home_id}
        if rooms is not None:
            home["rooms"] = [dict(r) for r in rooms]
        if modules is not None:
            home["modules"] = [dict(m) for m in modules]
        return self._send("setstate", json_body={"home": home})

    # -- security (cameras, persons, events) ----------------------------------------

    def gethomedata(self, home_id: str | None = None, size: int | None = None) -> Json:
        """The legacy security read: homes with cameras, persons and recent events."""
        return self._read("gethomedata", home_id=home_id, size=size)

    def getevents(self, home_id: str, *, device_types: Sequence[str] | None = None,
                  event_id: str | None = None, person_id: str | None = None,
                  device_id: str | None = None, module_id: str | None = None,
                  offset: int | None = None, size: int | None = None,
                  locale: str | None = None) -> Json:
        return self._read("getevents", home_id=home_id, device_types=device_types,
                          event_id=event_id, person_id=person_id, device_id=device_id,
                          module_id=module_id, offset=offset, size=size, locale=locale)

    def geteventsuntil(self, home_id: str, event_id: str) -> Json:
        """The events newer than ``event_id``."""
        return self._read("geteventsuntil", home_id=home_id, event_id=event_id)

    def getnextevents(self, home_id: str, event_id: str, size: int | None = None) -> Json:
        """The ``size`` events before ``event_id``."""
        return self._read("getnextevents", home_id=home_id, event_id=event_id, size=size)

    def getlasteventof(self, home_id: str, person_id: str,
                       offset: int | None = None) -> Json:
        """The events from now back to ``person_id``'s latest."""
        return self._read("getlasteventof", home_id=home_id, person_id=person_id,
                          offset=offset)

    def getcamerapicture(self, image_id: str, key: str) -> bytes:
        """The JPEG of an event's snapshot or vignette, or of a face."""
        resp = self.request("POST", f"{self.API_PATH}/getcamerapicture",
                            data=_form(image_id=image_id, key=key))
        if not resp.ok:
            self._raise(resp, ApiError)
        return resp.content

    def addwebhook(self, url: str, app_types: str | Sequence[str] | None = None) -> Json:
        """Register this app's webhook for the user: a ``webhook_activation`` push
        follows, then every event (:class:`WebhookReceiver` collects them)."""
        return self._write("addwebhook", url=url, app_types=app_types)

    def dropwebhook(self, app_types: str | Sequence[str] | None = "app_security") -> Json:
        """Forget this app's webhook (pyatmo sends ``app_types=app_security``)."""
        return self._write("dropwebhook", app_types=app_types)

    def setpersonsaway(self, home_id: str, person_id: str | None = None) -> Json:
        """One person away, or (no ``person_id``) the whole home empty."""
        return self._write("setpersonsaway", home_id=home_id, person_id=person_id)

    def setpersonshome(self, home_id: str, person_ids: Sequence[str]) -> Json:
        """Persons at home; ``person_ids`` travel as a JSON array."""
        return self._send("setpersonshome", {"home_id": home_id,
                                             "person_ids": json.dumps(list(person_ids))})


# ------------------------------------------------------------------- webhooks

class WebhookReceiver:
    """A small webhook receiver: an HTTP server in a thread that collects the JSON
    pushes Netatmo POSTs (for tests and examples)::

        with WebhookReceiver() as hooks:          # 127.0.0.1, a free port
            client.addwebhook(hooks.url)
            hooks.wait(1)                          # the webhook_activation push
            print(hooks.push_types())

    ``pushes``: the JSON bodies in arrival order; ``posts``: each request (``path``,
    ``headers``, ``json``, ``code`` answered). ``answer(*codes)``: the statuses of the
    next requests (then 200), to make deliveries fail. ``wait(count, timeout)``: until
    at least ``count`` pushes arrived (True) or the timeout ran out (False).
    ``on_push``: called with each body as it arrives (``print`` for a demo)."""

    def __init__(self, host: str = "127.0.0.1", port: int = 0, path: str = "/hook",
                 on_push: Callable[[Any], None] | None = None) -> None:
        self.posts: list[Json] = []
        self.codes: list[int] = []
        self.path = path
        self.on_push = on_push
        self._arrived = threading.Condition()
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"     # kept alive, as the sender prefers
            disable_nagle_algorithm = True

            def do_POST(self) -> None:
                raw = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                code = receiver._received(self.path, dict(self.headers), raw)
                body = b'{"status":"ok"}'
                self.send_response(code)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer((host, port), Handler)
        self.server.daemon_threads = True
        self._thread = threading.Thread(target=self.server.serve_forever, daemon=True,
                                        name="netatmo-webhook-receiver")
        self._thread.start()

    @property
    def url(self) -> str:
        host, port = self.server.server_address[:2]
        return f"http://{host}:{port}{self.path}"

    def _received(self, path: str, headers: dict[str, str], raw: bytes) -> int:
        try:
            doc = json.loads(raw or b"null")
        except ValueError:
            doc = None
        with self._arrived:
            code = self.codes.pop(0) if self.codes else 200
            self.posts.append({"path": path, "headers": headers, "json": doc,
                               "code": code})
            self._arrived.notify_all()
        if self.on_push is not None:
            self.on_push(doc)
        return code

    @property
    def pushes(self) -> list[Any]:
        """Every JSON body received, failed deliveries (answered non-2xx) included."""
        with self._arrived:
            return [p["json"] for p in self.posts]

    def accepted(self) -> list[Any]:
        """The bodies answered 2xx."""
        with self._arrived:
            return [p["json"] for p in self.posts if 200 <= p["code"] < 300]

    def push_types(self) -> list[str]:
        return [p.get("push_type") for p in self.accepted() if isinstance(p, dict)]

    def answer(self, *codes: int) -> None:
        with self._arrived:
            self.codes = list(codes)

    def clear(self) -> None:
        with self._arrived:
            self.posts.clear()

    def wait(self, count: int, timeout: float = 10.0) -> bool:
        deadline = time.monotonic() + timeout
        with self._arrived:
            while len(self.posts) < count:
                left = deadline - time.monotonic()
                if left <= 0:
                    return False
                self._arrived.wait(left)
            return True

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()

    def __enter__(self) -> WebhookReceiver:
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()
