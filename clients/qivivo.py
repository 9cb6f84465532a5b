"""Reference client of the Qivivo public API v2 (``contracts/openapi/qivivo.yaml``).

The real cloud (switched off in September 2020) had two hosts: the API on
``https://data.qivivo.com/api/v2`` and OAuth on ``https://account.qivivo.com``
(authorize at its root ``/``, tokens at ``/oauth/token``): ``QivivoClient(id,
secret)``. mockcloud serves both under one prefix: ``QivivoClient(id, secret,
"http://127.0.0.1:PORT/qivivo")`` (``auth_base_url`` defaults to ``base_url``).

OAuth (on :class:`clients.base.OAuth2Session`, Authlib), both styles the known
clients used:

* ``login(scope=None)``: the ``client_credentials`` grant (KiboOst, melecptp,
  Jeedom): a token for the app owner's account, with no refresh token. When it
  expires (on the client's clock, ``now``) or the API answers 401, the client logs
  in again by itself, once per call.
* ``authorization_url(redirect_uri, state=, scope=)`` -> ``fetch_token(code,
  redirect_uri)`` -> ``refresh()`` (LorkScorguar, rQivivo): refresh tokens rotate, so
  each new token dict goes to ``on_token``; an expired access token is refreshed
  before the call, and a 401 triggers one refresh and one retry. No PKCE by default
  (Qivivo documented none; ``pkce=True`` sends an S256 challenge).

Every new token dict, whatever the grant, reaches ``on_token``. Client credentials go
in the form body (``client_auth="basic"`` for HTTP Basic, as melecptp and rQivivo).

API calls send JSON bodies (a temperature always as a JSON float: the real server is
believed to have refused integers, see the API notes). Dates of an absence are the
house's local wall time, ``"YYYY-MM-DD HH:MM"``; a ``datetime`` is formatted so
(its own wall time; convert it to the house's time zone first). Reads return the
JSON object the API answers; writes return it too (``{"message": ...}``, plus ``id``
for a created program).

Errors: Laravel-shaped ``{"message", "errors"?, "hint"?}`` become :class:`ApiError`
(``error`` the status as text, ``description`` the message, with the hint when there
is one, and ``errors`` the per-field list of a 422); token-endpoint errors are
:class:`AuthError` (``error`` the OAuth code). A 429 (``Too Many Attempts.``, 1,000
calls per hour per client) is retried after ``Retry-After`` (capped at
``max_retry_wait``, through the injectable ``sleep``) up to ``max_retries`` times,
then :class:`RateLimitError`.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from datetime import datetime
from typing import Any, Literal
from urllib.parse import quote

import requests

from .base import ApiError, AuthError, OAuth2Session, RateLimitError, TokenDict, _json_or_none

__all__ = ["ACCOUNT", "DATA", "SCOPES", "ApiError", "AuthError", "QivivoClient",
           "RateLimitError"]

DATA = "https://data.qivivo.com"
ACCOUNT = "https://account.qivivo.com"
SCOPES = ("user_basic_information", "read_devices", "read_thermostats",
          "read_wireless_modules", "read_programmation", "update_programmation",
          "read_house_data", "update_house_settings")
DATE = "%Y-%m-%d %H:%M"

Json = dict[str, Any]
Setting = Literal["presence_temperature_1", "presence_temperature_2",
                  "presence_temperature_3", "presence_temperature_4", "night_temperature",
                  "absence_temperature", "frost_protection_temperature"]


def _scope(scope: str | Iterable[str] | None) -> str | None:
    if scope is None or isinstance(scope, str):
        return scope
    return " ".join(scope)


def _date(value: str | datetime) -> str:
    return value.strftime(DATE) if isinstance(value, datetime) else value


def _period(p: Mapping[str, Any]) -> Json:
    return {"period_start": p["period_start"], "period_end": p["period_end"],
            "temperature_setting": p["temperature_setting"]}


class QivivoClient(OAuth2Session):
    AUTHORIZE_PATH = "/"
    TOKEN_PATH = "/oauth/token"
    REVOKE_PATH = None  # Qivivo documented no revocation endpoint
    API_PATH = "/api/v2"

    def __init__(self, client_id: str, client_secret: str, base_url: str = DATA, *,
                 auth_base_url: str | None = None, **kwargs: Any) -> None:
        """``base_url``: the host of ``/api/v2`` (``https://data.qivivo.com``, or
        mockcloud's ``http://HOST:PORT/qivivo``); ``auth_base_url``: the OAuth host
        (``https://account.qivivo.com``; default: ``ACCOUNT`` with the real API,
        else ``base_url``). Other keyword arguments: :class:`OAuth2Session`'s
        (``token``, ``on_token``, ``now``, ``sleep``, ``max_retries``,
        ``max_retry_wait``, ``client_auth`` ...)."""
        if auth_base_url is None:
            auth_base_url = ACCOUNT if base_url.rstrip("/") == DATA else base_url
        self.grant: str | None = None
        self.login_scope: str | None = None
        super().__init__(client_id, client_secret, base_url, auth_base_url=auth_base_url,
                         **kwargs)
        if self.token.get("access_token") and not self.token.get("refresh_token"):
            self.grant = "client_credentials"

    # -- OAuth ----------------------------------------------------------------------

    def is_api_url(self, url: str) -> bool:
        """Only ``/api/v2`` sees the bearer (the token endpoint shares mockcloud's
        prefix)."""
        root = self.base_url + self.API_PATH
        return url == root or url.startswith(root + "/")

    def login(self, scope: str | Iterable[str] | None = None) -> TokenDict:
        """A token by the ``client_credentials`` grant (the app owner's account).
        ``scope``: names (a list or a space-separated string); None: the app's
        default. Called again by itself when the token has expired."""
        self.grant, self.login_scope = "client_credentials", _scope(scope)
        extra = {"scope": self.login_scope} if self.login_scope else {}
        token = super(OAuth2Session, self).fetch_token(grant_type="client_credentials",
                                                       **extra)
        self._report(token)
        return token

    def authorization_url(self, redirect_uri: str, state: str | None = None,
                          scope: str | Iterable[str] | None = None,
                          pkce: bool = False) -> tuple[str, str, str | None]:
        """(URL to send the user to, state, code_verifier or None)."""
        return super().authorization_url(redirect_uri, state, _scope(scope), pkce)

    def fetch_token(self, code: str, redirect_uri: str,
                    code_verifier: str | None = None) -> TokenDict:
        self.grant = "authorization_code"
        return super().fetch_token(code, redirect_uri, code_verifier)

    def ensure_active_token(self, token: Any = None) -> bool:
        if self.token_expired() and not self.refresh_token \
                and self.grant == "client_credentials":
            self.login(self.login_scope)
            return True
        return super().ensure_active_token(token)

    def request(self, method: str | bytes, url: str | bytes,
                withhold_token: bool = False, auth: Any = None,
                **kwargs: Any) -> requests.Response:
        """The base's call (429 retries; refresh when due and once on 401); a
        client-credentials session logs in again once on 401 instead."""
        resp = super().request(method, url, withhold_token, auth, **kwargs)
        full = self.api_url(url.decode() if isinstance(url, bytes) else url)
        if (self.grant == "client_credentials" and not self.refresh_token
                and auth is None and not withhold_token and self.is_api_url(full)
                and self.is_token_error(resp)):
            self.login(self.login_scope)
            resp = super().request(method, url, withhold_token, auth, **kwargs)
        return resp

    # -- errors ---------------------------------------------------------------------

    def parse_error(self, resp: requests.Response) -> tuple[str, str]:
        body = _json_or_none(resp)
        if isinstance(body, Mapping) and "error" not in body and "message" in body:
            text = str(body["message"])
            if body.get("hint"):
                text += f" ({body['hint']})"
            return str(resp.status_code), text
        return super().parse_error(resp)

    def is_token_error(self, resp: requests.Response) -> bool:
        """Qivivo (Laravel) answers 401 ``Unauthenticated.`` for any bad token."""
        return resp.status_code == 401

    @staticmethod
    def field_errors(exc: ApiError) -> dict[str, list[str]]:
        """A 422's ``errors`` (field -> messages), ``{}`` for other errors."""
        body = _json_or_none(exc.response) if exc.response is not None else None
        errors = body.get("errors") if isinstance(body, Mapping) else None
        return dict(errors) if isinstance(errors, Mapping) else {}

    # -- plumbing -------------------------------------------------------------------

    def _url(self, *parts: str | int) -> str:
        return self.API_PATH + "".join("/" + quote(str(p), safe="") for p in parts)

    def _get(self, *parts: str | int) -> Json:
        return self.call("GET", self._url(*parts))

    def _send(self, method: str, *parts: str | int, body: Json | None = None) -> Json:
        if body is None:
            return self.call(method, self._url(*parts))
        return self.call(method, self._url(*parts), json=body)

    def _th(self, uuid: str, *rest: str | int) -> tuple[str | int, ...]:
        return ("devices", "thermostats", uuid, *rest)

    def _wm(self, uuid: str, *rest: str | int) -> tuple[str | int, ...]:
        return ("devices", "wireless-modules", uuid, *rest)

    # -- devices --------------------------------------------------------------------

    def devices(self) -> list[Json]:
        """``[{"uuid", "type"}]``, ``type`` thermostat, gateway or wireless-module."""
        return self._get("devices")["devices"]

    def thermostat_uuid(self) -> str:
        """The first thermostat's uuid."""
        for dev in self.devices():
            if dev["type"] == "thermostat":
                return dev["uuid"]
        raise ApiError(404, "404", "this account has no thermostat")

    # -- thermostat: reads ------------------------------------------------------------

    def thermostat_info(self, uuid: str) -> Json:
        """``serial``, ``softwareVersion``, ``lastCommunicationDate`` ("YYYY-MM-DD
        HH:MM", Paris time), ``currentTimeBetweenCommunication`` (minutes),
        ``voltagePercentage``."""
        return self._get(*self._th(uuid, "info"))

    def thermostat_temperature(self, uuid: str) -> Json:
        """``{"temperature", "current_temperature_order"}``."""
        return self._get(*self._th(uuid, "temperature"))

    def thermostat_humidity(self, uuid: str) -> Json:
        return self._get(*self._th(uuid, "humidity"))

    def presence(self, uuid: str) -> Json:
        """``{"presence_detected": bool}``."""
        return self._get(*self._th(uuid, "presence"))

    def programs(self, uuid: str) -> Json:
        """``{"user_active_program_id", "user_programs": [{"id", "name", "program"}]}``;
        ids are 1..n in list order."""
        return self._get(*self._th(uuid, "programs"))

    # -- thermostat: writes -----------------------------------------------------------

    def set_temporary_instruction(self, uuid: str, temperature: float,
                                  duration: int = 120) -> Json:
        """A set point (°C, sent as a float) for ``duration`` minutes."""
        return self._send("POST", *self._th(uuid, "temperature", "temporary-instruction"),
                          body={"temperature": float(temperature), "duration": int(duration)})

    def cancel_temporary_instruction(self, uuid: str) -> Json:
        return self._send("DELETE", *self._th(uuid, "temperature", "temporary-instruction"))

    def set_absence(self, uuid: str, start: str | datetime, end: str | datetime) -> Json:
        """Frost protection from ``start`` to ``end`` (house-local wall times)."""
        return self._send("POST", *self._th(uuid, "absence"),
                          body={"start_date": _date(start), "end_date": _date(end)})

    def cancel_absence(self, uuid: str) -> Json:
        return self._send("DELETE", *self._th(uuid, "absence"))

    def set_arrival(self, uuid: str, duration: int = 30) -> Json:
        """Heat for an arrival in ``duration`` minutes (smart mode)."""
        return self._send("POST", *self._th(uuid, "arrival"), body={"duration": int(duration)})

    def cancel_arrival(self, uuid: str) -> Json:
        return self._send("DELETE", *self._th(uuid, "arrival"))

    def create_program(self, uuid: str, name: str,
                       program: Mapping[str, Sequence[Mapping[str, Any]]]) -> Json:
        """``program``: day name (``monday`` ...) -> periods ``{"period_start": "HH:MM",
        "period_end": "HH:MM", "temperature_setting": <setting name>}``. Answers
        ``{"message", "id"}``."""
        body = {"name": name, "program": {day: [_period(p) for p in periods]
                                          for day, periods in program.items()}}
        return self._send("POST", *self._th(uuid, "programs"), body=body)

    def activate_program(self, uuid: str, program_id: int) -> Json:
        return self._send("PUT", *self._th(uuid, "programs", int(program_id), "active"))

    def rename_program(self, uuid: str, program_id: int, new_name: str) -> Json:
        return self._send("PUT", *self._th(uuid, "programs", int(program_id), "name"),
                          body={"new_name": new_name})

    def update_program_day(self, uuid: str, program_id: int, day: str,
                           periods: Sequence[Mapping[str, Any]]) -> Json:
        return self._send("PUT", *self._th(uuid, "programs", int(program_id), "day", day),
                          body={"program_day_update": [_period(p) for p in periods]})

    def delete_program(self, uuid: str, program_id: int) -> Json:
        """Delete a program (not the active one); the later ids shift down by one."""
        return self._send("DELETE", *self._th(uuid, "programs", int(program_id)))

    # -- pilot-wire modules -----------------------------------------------------------

    def module_info(self, uuid: str) -> Json:
        return self._get(*self._wm(uuid, "info"))

    def module_temperature(self, uuid: str) -> Json:
        return self._get(*self._wm(uuid, "temperature"))

    def module_humidity(self, uuid: str) -> Json:
        return self._get(*self._wm(uuid, "humidity"))

    def pilot_wire_order(self, uuid: str) -> Json:
        """``{"current_pilot_wire_order"}``: comfort, comfort_minus_one,
        comfort_minus_two, eco, frost, off or monozone."""
        return self._get(*self._wm(uuid, "pilot-wire-order"))

    def module_programs(self, uuid: str) -> Json:
        return self._get(*self._wm(uuid, "programs"))

    def activate_module_program(self, uuid: str, program_id: int) -> Json:
        return self._send("PUT", *self._wm(uuid, "programs", int(program_id), "active"))

    def follow_thermostat_zone(self, uuid: str) -> Json:
        return self._send("PUT", *self._wm(uuid, "programs", "thermostat-zone"))

    # -- gateway, house -----------------------------------------------------------------

    def gateway_info(self, uuid: str) -> Json:
        return self._get("devices", "gateways", uuid, "info")

    def last_presence(self) -> Json:
        """``{"last_presence_recorded_time": "YYYY-MM-DD HH:MM"}``."""
        return self._get("habitation", "data", "last-presence")

    def settings(self) -> Json:
        """``{"settings": {<the seven temperatures>, "days_of_absence_before_alert"}}``."""
        return self._get("habitation", "data", "settings")

    def events(self) -> list[Json]:
        """The house's events, newest first."""
        return self._get("habitation", "data", "events")["events"]

    def define_temperature(self, setting: Setting | str, temperature: float) -> Json:
        return self._send("PUT", "habitation", "settings", "define_temperature",
                          body={"temperature_setting_name": setting,
                                "temperature": float(temperature)})

    def set_absence_alert(self, days: int) -> Json:
        return self._send("PUT", "habitation", "settings", "absence", "alert",
                          body={"new_nb_day": int(days)})
