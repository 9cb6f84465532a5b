"""The request to replay for a recorded exchange: a cassette's own request (ids mapped,
credentials the emulator's), or, for a sample (endpoint and answer only), the request
that asks the same question, derived from the sample, its file name and its notes.

A derivation answers a :class:`Call` or a :class:`Skip` with the reason.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any
from urllib.parse import parse_qsl, urlsplit

from contracts._sources import Exchange, header, parse_json

if TYPE_CHECKING:
    from .drift import Context

VENDOR_PREFIX = re.compile(r"^(?:/_t/[^/]+)?/(lightify|netatmo|qivivo)(?=/|$)")
TENANT = re.compile(r"^/_t/[^/]+(?=/|$)")
TOKEN_PATHS = {"lightify": "/oauth2/access_token", "netatmo": "/oauth2/token",
               "qivivo": "/oauth/token"}
WRITES = {"POST", "PUT", "PATCH", "DELETE"}


@dataclass
class Call:
    method: str
    path: str  # the vendor's own path (no tenant, no vendor prefix), ids mapped
    query: list[tuple[str, str]] = field(default_factory=list)
    form: list[tuple[str, str]] | None = None
    json_body: Any = None
    raw: str | None = None
    content_type: str | None = None
    auth: str = "header"  # header | param | none
    scope: str | None = None  # a token of this scope instead of the full one
    user: str | None = None  # the world's user to ask as (None: the exchange's owner)
    # device state set through the admin API for this call, dropped after it:
    # (device id, changes as PATCH /_mockcloud/devices/<vendor>/<id> takes them)
    overrides: list[tuple[str, dict[str, Any]]] = field(default_factory=list)
    exhaust_quota: bool = False  # asked with the vendor's quota spent (its quota error)


@dataclass
class Skip:
    reason: str


def vendor_path(url: str, hosts: dict[str, str]) -> tuple[str | None, str, str]:
    """(vendor, the vendor's path, query string) of a recorded URL or endpoint."""
    parts = urlsplit(url)
    vendor = hosts.get((parts.hostname or "").lower())
    path = parts.path if (parts.scheme or parts.netloc) else url.split("?")[0]
    match = VENDOR_PREFIX.match(path)
    if match:
        vendor = vendor or match.group(1)
        path = TENANT.sub("", path[match.end():])
    else:
        path = TENANT.sub("", path)
    return vendor, path or "/", parts.query


# ---- cassettes ------------------------------------------------------------------------------
def from_cassette(ex: Exchange, vendor: str, path: str, query: str, ctx: Context) -> Call | Skip:
    ids = ctx.ids[vendor]
    unknown = [p for p in path.split("/") if p in ids.recorded and p not in ids.forward]
    if unknown and (ex.status or 0) < 400:
        return Skip(f"no counterpart in the world for {unknown[0]}")
    method = (ex.method or "GET").upper()
    ctype = header(ex.request_headers, "Content-Type")
    call = Call(method, ids.path(path), content_type=ctype or None)
    pairs = parse_qsl(query, keep_blank_values=True)
    had_param = any(k == "access_token" for k, _ in pairs)
    call.query = [(k, ids.text(v)) for k, v in pairs if k != "access_token"]
    raw = ex.request_body
    if raw is not None and "json" in ctype.lower():
        try:
            call.json_body = ids.json(parse_json(raw))
        except ValueError:
            call.raw = raw
    elif raw is not None and "x-www-form-urlencoded" in ctype.lower():
        form = parse_qsl(raw, keep_blank_values=True)
        had_param = had_param or any(k == "access_token" for k, _ in form)
        call.form = [(k, ids.text(v)) for k, v in form if k != "access_token"]
    elif raw is not None:
        call.raw = raw
    if path.rstrip("/") == TOKEN_PATHS.get(vendor):
        return token_call(call, ctx, vendor)
    has_header = bool(header(ex.request_headers, "Authorization"))
    call.auth = "param" if had_param and not has_header else ("header" if has_header
                                                                    else "none")
    return call


def token_call(call: Call, ctx: Context, vendor: str) -> Call | Skip:
    """A recorded token request, made with the emulator's app and a fresh grant."""
    form = dict(call.form or [])
    grant = form.get("grant_type", "")
    app = ctx.apps[vendor]
    if grant == "refresh_token":
        form["refresh_token"] = ctx.fresh_pair(vendor)["refresh_token"]
    elif grant.startswith("client_credential"):
        pass
    else:
        return Skip(f"token request with grant {grant or '(none)'}: needs a login or a "
                    "single-use code, not replayable")
    form.update(client_id=app["client_id"], client_secret=app.get("client_secret", ""))
    call.form = list(form.items())
    call.auth = "none"
    return call


# ---- Netatmo samples ------------------------------------------------------------------------
NETATMO_WRITES = {"setroomthermpoint", "setthermmode", "setstate", "synchomeschedule",
                  "switchhomeschedule"}
NETATMO_SKIP = {
    "archive__too_many_connections.json": "a throttled token endpoint, status not "
    "recorded: the emulator throttles only past a quota; not replayed",
    "archive__public_data_error_mongo.json": "a backend failure of the real cloud (code 0) "
    "the emulator never has; not replayed",
    "archive__camera_data_empty.json": "an account with no security home at all; the "
    "world has one",
    "archive__camera_home_data_no_homes.json": "an account with no home; the world has one",
    "archive__home_data_empty.json": "an empty account; the world is not",
    "archive__home_data_no_homes.json": "an account with no home; the world has one",
    "archive__home_coach_no_devices.json": "an account with no home coach; the world has one",
    "archive__home_status_empty.json": "an empty answer body of the real cloud",
}
BAD_ID = "0123456789abcdef01234567"
# error samples: the request that makes the same error (file -> (method, params, scope))
NETATMO_ERRORS: dict[str, tuple[str, dict[str, str], str | None]] = {
    "archive__error_scope.json": ("homestatus", {"home_id": "HOME"}, "write_thermostat"),
    "archive__home_status_error_invalid_id.json": ("homestatus", {"home_id": BAD_ID}, None),
    "archive__home_status_error_missing_home_id.json": ("homestatus", {}, None),
    "archive__home_status_error_missing_parameters.json": ("homestatus", {}, None),
    "archive__home_status_error_mode_not_authorized.json": (
        "setthermmode", {"home_id": "HOME", "mode": "party"}, None),
    "home_status_error_invalid_schedule_id.json": (
        "setthermmode", {"home_id": "HOME", "mode": "schedule", "schedule_id": BAD_ID}, None),
    "home_status_error_mode_is_missing.json": ("setthermmode", {"home_id": "HOME"}, None),
}
SETSTATE = {
    "archive__camera_set_state_ok.json": ("NACamera", {"monitoring": "on"}),
    "archive__camera_set_state_error_already_on.json": ("NACamera", {"monitoring": "on"}),
    "archive__camera_set_state_error_wrong_parameter.json": ("NACamera", {"floodlight": "on"}),
    "archive__camera_set_state_error.json": (None, {"monitoring": "on"}),
}
HOME_IN_NAME = re.compile(r"[0-9a-f]{24}")
ENERGY_FILE = re.compile(r"getmeasure_energy_((?:[0-9a-f]{2}_){7}[0-9a-f]{2})\.json$")
ENERGY_TYPES = ",".join(["sum_energy_buy_from_grid"] + [f"sum_energy_buy_from_grid${i}"
                                                       for i in range(3)])


def netatmo_sample(ex: Exchange, path: str, ctx: Context, user: str) -> Call | Skip:
    name = ex.source
    if name in NETATMO_SKIP:
        return Skip(NETATMO_SKIP[name])
    method = path.rstrip("/").rsplit("/", 1)[-1]
    ids = ctx.ids["netatmo"]
    homes = ctx.homes(user)
    home = str(homes[0].get("id", "")) if homes else (ids.first("homes") or "")
    if path == "/oauth2/token":
        if ex.kind == "response":
            return token_call(Call("POST", path, form=[("grant_type", "refresh_token")]),
                              ctx, "netatmo")
        app = ctx.apps["netatmo"]
        return Call("POST", path, auth="none", form=[
            ("grant_type", "refresh_token"), ("refresh_token", "not-a-refresh-token"),
            ("client_id", app["client_id"]), ("client_secret", app.get("client_secret", ""))])
    if name in NETATMO_ERRORS:
        method, params, scope = NETATMO_ERRORS[name]
        params = {k: home if v == "HOME" else v for k, v in params.items()}
        return netatmo_call(method, params, scope)
    params: dict[str, Any] = {}
    body = ex.body if isinstance(ex.body, dict) else {}
    inner = body.get("body") if isinstance(body.get("body"), dict) else {}
    if method == "homestatus":
        # a body naming no home: the 24-hex id in the file name (pyatmo's
        # homestatus_<home id>.json), else the user's first home
        named = HOME_IN_NAME.search(name)
        recorded = (inner.get("home") or {}).get("id") or (named and named.group(0))
        params["home_id"] = ids.of(recorded, "homes") if recorded else home
        call = netatmo_call(method, params, None)
        for error in inner.get("errors") or []:
            if isinstance(error, dict) and error.get("code") == 6:  # unreachable
                module = unreachable(ctx, user, params["home_id"], str(error.get("id")))
                if module is None:
                    return Skip(f"no counterpart in the world for the unreachable module "
                                f"{error.get('id')}")
                call.overrides.append((module, {"reachable": False}))
        return call
    elif method == "getmeasure":
        return getmeasure(ex, ctx, user)
    elif method == "getpublicdata":
        params.update(lat_ne=48.95, lon_ne=2.5, lat_sw=48.75, lon_sw=2.2)
    elif method == "getevents":
        recorded = (inner.get("home") or {}).get("id")
        params["home_id"] = ids.of(recorded, "homes") if recorded else home
    elif method == "geteventsuntil":
        event = ctx.first_event(user)
        if event is None:
            return Skip("no event in the world's security home to read until")
        params.update(home_id=event[0], event_id=event[1])
    elif method == "getstationsdata":
        devices = [d for d in inner.get("devices") or [] if isinstance(d, dict)]
        if any(d.get("favorite") for d in devices):   # listed only when asked for
            params["get_favorites"] = "true"
        if "unreachable" in name:
            # the stations recorded unreachable, mapped; the first station only when
            # none maps (a world built from the sample has them unreachable already)
            down = [ids.forward[str(d.get("_id"))] for d in devices
                    if d.get("reachable") is False and str(d.get("_id")) in ids.forward]
            station = down or [ids.first("devices", "NAMain")]
            if station[0] is None:
                return Skip("no counterpart in the world: a weather station")
            call = netatmo_call(method, params, None)
            call.overrides += [(s, {"reachable": False}) for s in station]
            return call
    elif method == "setroomthermpoint":
        rooms = homes[0].get("rooms") if homes else None
        room = rooms[0].get("id") if rooms else ids.first("rooms")
        params.update(home_id=home, room_id=room or "", mode="manual", temp=21)
    elif method == "setstate":
        return setstate(name, ctx, user)
    elif ex.kind == "request":
        return Skip("a request body sample, with no recorded answer to compare")
    return netatmo_call(method, params, None)


def unreachable(ctx: Context, user: str, home_id: str, recorded: str) -> str | None:
    """The world's module standing for a recorded unreachable one (body.errors code 6):
    its mapped id, else the home's first module of its recorded type, else the home's
    first bridge (a relay or gateway: what a disconnection is most often)."""
    ids = ctx.ids["netatmo"]
    if recorded in ids.forward:
        return ids.forward[recorded]
    home = next((h for h in ctx.homes(user) if h.get("id") == home_id), None)
    modules = (home or {}).get("modules") or []
    kind = ids.role_of.get(recorded, ("", None))[1]
    bridges = {m.get("bridge") for m in modules}
    found = [m.get("id") for m in modules if kind and m.get("type") == kind] + \
        [m.get("id") for m in modules if m.get("id") in bridges]
    return found[0] if found else None


def netatmo_call(method: str, params: dict[str, Any], scope: str | None) -> Call:
    path = f"/api/{method}"
    pairs = [(k, str(v)) for k, v in params.items()]
    if method in NETATMO_WRITES:
        return Call("POST", path, form=pairs, scope=scope,
                    content_type="application/x-www-form-urlencoded")
    return Call("GET", path, query=pairs, scope=scope)


def getmeasure(ex: Exchange, ctx: Context, user: str) -> Call | Skip:
    ids = ctx.ids["netatmo"]
    now = int(ctx.now)
    match = ENERGY_FILE.search(ex.source)
    if match:
        recorded = match.group(1).replace("_", ":")
        module = ids.forward.get(recorded)
        found = ctx.module(module, user) if module else None
        if found is None:
            return Skip(f"no counterpart in the world: the energy meter {recorded}")
        lots = (ex.body or {}).get("body") or [{}]
        step = lots[0].get("step_time", 3600) if isinstance(lots[0], dict) else 3600
        scale = {1800: "30min", 3600: "1hour", 10800: "3hours", 86400: "1day"}.get(step,
                                                                                 "1hour")
        return netatmo_call("getmeasure", {
            "device_id": found.get("bridge", ""), "module_id": module, "scale": scale,
            "type": ENERGY_TYPES, "date_begin": now - 24 * step, "date_end": now}, None)
    station = ids.first("devices", "NAMain")
    if station is None:
        return Skip("no counterpart in the world: a weather station")
    return netatmo_call("getmeasure", {"device_id": station, "scale": "max",
                                       "type": "Temperature", "optimize": "false",
                                       "date_begin": now - 6 * 3600, "date_end": now}, None)


def setstate(name: str, ctx: Context, user: str) -> Call | Skip:
    kind, change = SETSTATE[name]
    homes = ctx.homes(user)
    module = next((m.get("id") for h in homes for m in h.get("modules") or []
                   if m.get("type") == kind), None) if kind else "12:34:56:00:f1:ff"
    home = ctx.home_of(module, user) if kind else (homes[0].get("id") if homes else None)
    if not module or not home:
        return Skip(f"no counterpart in the world: a {kind}")
    doc = {"id": home, "modules": [{"id": module, **change}]}
    return netatmo_call("setstate", {"home": json.dumps(doc)}, None)


# ---- Qivivo samples -------------------------------------------------------------------------
QIVIVO_SKIP: dict[str, str] = {}
QIVIVO_QUOTA = {"error_too_many.json"}  # asked with the client's quota spent
# error samples whose request body says what is wrong (file -> body)
QIVIVO_ERROR_BODIES = {
    "error_validation.json": {"temperature": 20, "duration": "two hours"},
}
QIVIVO_DATE = re.compile(r"^\d{4}-\d{2}-\d{2} \d{2}:\d{2}$")
QIVIVO_DATE_FORMAT = "%Y-%m-%d %H:%M"


def shift_dates(body: Any, now: float) -> Any:
    """A recorded body's dates (``2017-11-12 16:00``) moved so the first is a day after
    the emulator's now, the others keeping their distance to it (a recorded absence
    would be in the past)."""
    found = [v for v in (body.values() if isinstance(body, dict) else [])
             if isinstance(v, str) and QIVIVO_DATE.match(v)]
    if not found:
        return body
    first = min(datetime.strptime(v, QIVIVO_DATE_FORMAT) for v in found)
    start = datetime.fromtimestamp(now + 86400, UTC).replace(tzinfo=None)
    delta = start.replace(second=0, microsecond=0) - first
    return {k: (datetime.strptime(v, QIVIVO_DATE_FORMAT) + delta).strftime(QIVIVO_DATE_FORMAT)
            if isinstance(v, str) and QIVIVO_DATE.match(v) else v for k, v in body.items()}


def qivivo_sample(ex: Exchange, path: str, ctx: Context,
                  bodies: dict[tuple[str, str], Any]) -> Call | Skip:
    name = ex.source
    if name in QIVIVO_SKIP:
        return Skip(QIVIVO_SKIP[name])
    if ex.kind == "request":
        return Skip("a request body sample with no recorded answer of the same call")
    ids = ctx.ids["qivivo"]
    method = (ex.method or "GET").upper()
    app = ctx.apps["qivivo"]
    if path.rstrip("/") == "/oauth/token":
        grant = "client_credentials" if "client_credentials" in name else "refresh_token"
        if "invalid_grant" in name:
            form = [("grant_type", "refresh_token"), ("refresh_token", "not-a-token")]
        elif "invalid_client" in name:
            form = [("grant_type", "client_credentials"), ("client_id", app["client_id"]),
                    ("client_secret", "not-the-secret")]
            return Call("POST", path, form=form, auth="none")
        else:
            form = [("grant_type", grant)]
        call = token_call(Call("POST", path, form=form), ctx, "qivivo")
        if isinstance(call, Call) and "invalid_grant" in name:
            call.form = [(k, "not-a-token" if k == "refresh_token" else v)
                         for k, v in call.form or []]
        return call
    call = Call(method, ids.path(path), exhaust_quota=name in QIVIVO_QUOTA)
    if "unauthenticated" in name:
        call.auth = "none"
    if method in WRITES:
        body = QIVIVO_ERROR_BODIES.get(name) if ex.kind == "error" else \
            bodies.get((method, path))
        if body is not None:
            call.json_body = shift_dates(ids.json(body), ctx.now)
    return call
