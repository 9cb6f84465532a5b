"""Netatmo's HTTP surface: ``/api/<method>``, parsed and answered through ``transport``.

HTTP only: each view reads typed parameters (``transport.Params``) and calls the
domain. Scopes per endpoint are the contract's ``security`` alternatives (a token
needs any one of them). An unknown ``/api/<x>`` is 404/31. The domain modules:

* ``models``: accounts, homes, ``homesdata``, device lookup.
* ``stations`` (weather stations, home coach, public data; physics helper):
  ``stations_body(docs, user, now, seed, favorites=, device_id=)``,
  ``homecoach_body(docs, user, now, seed, device_id=)``,
  ``measure(doc, module_id, scale, types, date_begin, date_end, limit, optimize,
  real_time, now, seed)``, ``public_data(seed, lat_ne, lon_ne, lat_sw, lon_sw,
  required_data, filtering, now)``.
* ``energy`` (thermostats, valves, schedules). Every function takes the request's
  ``ctx`` (store, tenant, virtual now) and the caller's ``user_id`` first, gets values
  already typed and present when required, and raises ``MockcloudError`` for what
  the cloud refuses (``invalid_argument`` 400/21, ``missing_argument`` 400/10,
  ``not_found`` 404/9). A write returns None (the bare envelope):

  - ``current_home(ctx, home_doc, now) -> home_doc`` (homesdata's view at ``now``)
  - ``home_status(ctx, user_id, home_id, device_types: list[str] | None) -> body``
  - ``room_measure(ctx, user_id, home_id, room_id, scale, types: list[str],
    date_begin: int | None, date_end: int | None, limit: int | None, optimize: bool,
    real_time: bool) -> body``
  - ``energy_measure(ctx, user_id, device_id, module_id | None, scale, types,
    date_begin, date_end, limit, optimize, real_time) -> body`` (getmeasure on a
    device of a home: relay, thermostat, valve)
  - ``thermostats_data(ctx, user_id, device_id | None) -> body``
  - ``set_therm_mode(ctx, user_id, home_id, mode: str, endtime: int | None,
    schedule_id: str | None) -> None``
  - ``set_room_therm_point(ctx, user_id, home_id, room_id, mode: str,
    temp: float | None, endtime: int | None) -> None``
  - ``switch_home_schedule(ctx, user_id, home_id, schedule_id) -> None``
  - ``sync_home_schedule(ctx, user_id, home_id, schedule_id | None, name | None,
    payload: {"zones", "timetable", "hg_temp", "away_temp"}) -> None``
  - ``create_home_schedule(ctx, user_id, home_id, name, payload) -> new schedule id``
  - ``delete_home_schedule(ctx, user_id, home_id, schedule_id) -> None``
  - ``rename_home_schedule(ctx, user_id, home_id, schedule_id, name) -> None``
  - ``set_state(ctx, user_id, payload: {"home": {...}}, scopes, already,
    unreachable) -> body | None`` (modules: ``home_devices``; the token's scopes
    decide per device family, ``Settings.setstate_*`` the configurable answers)

  ``mode`` strings are passed as sent (pyatmo passes any string through): energy
  decides which it accepts ("mode not authorized", 400/21).
* ``security`` (persons, events, pictures): its endpoints are ``security_routes``';
  ``/webhooks/v1`` (pyatmo 9.9's registration) is ``webhooks_v1``'s; cameras'
  ``vpn_url`` addresses are ``camera_live``'s.
"""

from __future__ import annotations

from typing import Any

from flask import Blueprint

from ..core.api import VendorAPI
from ..core.context import Ctx
from ..core.errors import MockcloudError
from ..core.oauth import Token
from . import camera_live, devices, energy, models, security_routes, stations, webhooks_v1
from .transport import Answer, Params, endpoint

READ_HOME = ("read_thermostat", "read_camera", "read_presence", "read_smokedetector",
             "read_carbonmonoxidedetector", "read_doorbell", "read_magellan",
             "read_bubendorff", "read_smarther", "read_mx", "read_station", "read_homecoach")
WRITE_HOME = ("write_thermostat", "write_camera", "write_presence", "write_magellan",
              "write_bubendorff", "write_smarther", "write_mx", "write_mhs1", "write_bfi",
              "write_doorbell")
# any of the first three reads every device's measures; read_magellan (Legrand's
# family) only a light's, dimmer's or plug's (plug_measure.read_scope; INFERRED)
MEASURE = ("read_station", "read_thermostat", "read_homecoach", "read_magellan")
MEASURE_ANY = frozenset(MEASURE[:3])
SCALES = ("max", "30min", "1hour", "3hours", "1day", "1week", "1month")
THERM = ("write_thermostat",)
MAX_LIMIT = 1024


def _home_id(params: Params, required: bool = True) -> str | None:
    home_id = params.str("home_id", required)
    return None if home_id == "None" else home_id  # lnetatmo sends home_id=None


def _measure_args(params: Params) -> dict[str, Any]:
    begin, end = params.float("date_begin", lo=0), params.float("date_end", lo=0)
    if begin is not None and end is not None and end < begin:
        raise MockcloudError("invalid_argument", "Invalid date_end: before date_begin")
    return {"scale": params.choice("scale", SCALES, required=True),
            "types": params.list("type", required=True),
            "date_begin": None if begin is None else int(begin),
            "date_end": None if end is None else int(end),
            "limit": params.int("limit", lo=1, hi=MAX_LIMIT),
            "optimize": params.bool("optimize", True),
            "real_time": params.bool("real_time", False)}


def _schedule_payload(params: Params) -> dict[str, Any]:
    return {"zones": params.json("zones", required=True),
            "timetable": params.json("timetable", required=True),
            "hg_temp": params.float("hg_temp", required=True),
            "away_temp": params.float("away_temp", required=True)}


def _overridden(ctx: Ctx, docs: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Stations / Home Coaches with the admin API's device overrides laid on."""
    return devices.with_overrides(ctx.store, ctx.tenant, docs)


def _main_device(body: dict[str, Any]) -> dict[str, Any]:
    """The modules of an unreachable station name it as ``main_device`` (sample
    archive__weatherstation_data_unreachable_station.json; reachable ones do not)."""
    for dev in body.get("devices", []):
        if dev.get("reachable") is False:
            for mod in dev.get("modules", []):
                mod["main_device"] = dev["_id"]
    return body


def routes(api: VendorAPI) -> Blueprint:
    bp = Blueprint("netatmo", __name__)

    def seed(ctx: Ctx) -> int:
        return models.world_seed(ctx)

    # ---------------------------------------------------------------- topology / status

    @endpoint(bp, api, "homesdata", READ_HOME, read=True)
    def homesdata(params: Params, token: Token, ctx: Ctx):
        return models.homesdata(ctx, token.user_id, _home_id(params, False),
                                params.list("gateway_types"))

    @endpoint(bp, api, "homestatus", READ_HOME, read=True)
    def homestatus(params: Params, token: Token, ctx: Ctx):
        home_id = _home_id(params)
        if home_id is None:
            raise MockcloudError("missing_argument", "Missing home_id")
        return energy.home_status(ctx, token.user_id, home_id,
                                  params.list("device_types"))

    # ---------------------------------------------------------------- weather, aircare

    @endpoint(bp, api, "getstationsdata", ("read_station",), read=True)
    def getstationsdata(params: Params, token: Token, ctx: Ctx):
        acc = models.account(ctx, token.user_id)
        return _main_device(stations.stations_body(
            _overridden(ctx, models.documents(ctx, acc.get("stations", []))),
            models.weather_user(acc),
            ctx.now(), seed(ctx),
            favorites=params.bool("get_favorites", False),
            device_id=params.str("device_id")))

    @endpoint(bp, api, "gethomecoachsdata", ("read_homecoach",), read=True)
    def gethomecoachsdata(params: Params, token: Token, ctx: Ctx):
        acc = models.account(ctx, token.user_id)
        return stations.homecoach_body(
            _overridden(ctx, models.documents(ctx, acc.get("homecoaches", []))),
            models.weather_user(acc),
            ctx.now(), seed(ctx),
            device_id=params.str("device_id"))

    @endpoint(bp, api, "getmeasure", MEASURE, read=True)
    def getmeasure(params: Params, token: Token, ctx: Ctx):
        device_id = params.str("device_id", required=True)
        module_id = params.str("module_id")
        args = _measure_args(params)
        family, doc = models.device(ctx, token.user_id, device_id)
        held = frozenset(token.get_scope().split())
        if family == "home":
            return energy.energy_measure(ctx, token.user_id, device_id, module_id,
                                         held=None if held & MEASURE_ANY else held, **args)
        if not held & MEASURE_ANY:
            raise MockcloudError("insufficient_scope", "reading a weather station's or "
                                 "Home Coach's measures needs read_station, "
                                 "read_thermostat or read_homecoach")
        [doc] = _overridden(ctx, [doc])
        return stations.measure(doc, module_id, args["scale"], args["types"],
                                args["date_begin"], args["date_end"], args["limit"],
                                args["optimize"], args["real_time"], ctx.now(), seed(ctx))

    @endpoint(bp, api, "getpublicdata", ("read_station",), read=True)
    def getpublicdata(params: Params, token: Token, ctx: Ctx):
        lat_ne = params.float("lat_ne", required=True, lo=-85, hi=85)
        lon_ne = params.float("lon_ne", required=True, lo=-180, hi=180)
        lat_sw = params.float("lat_sw", required=True, lo=-85, hi=85)
        lon_sw = params.float("lon_sw", required=True, lo=-180, hi=180)
        filtering = params.bool("filter", False) or params.bool("filtering", False)
        return stations.public_data(seed(ctx), lat_ne, lon_ne, lat_sw, lon_sw,
                                    params.str("required_data"), filtering, ctx.now())

    # ---------------------------------------------------------------- energy reads

    @endpoint(bp, api, "getroommeasure", ("read_thermostat",), read=True)
    def getroommeasure(params: Params, token: Token, ctx: Ctx):
        home_id = params.str("home_id", required=True)
        room_id = params.str("room_id", required=True)
        return energy.room_measure(ctx, token.user_id, home_id, room_id,
                                   **_measure_args(params))

    @endpoint(bp, api, "getthermostatsdata", ("read_thermostat",), read=True)
    def getthermostatsdata(params: Params, token: Token, ctx: Ctx):
        return energy.thermostats_data(ctx, token.user_id, params.str("device_id"))

    # ---------------------------------------------------------------- energy writes

    @endpoint(bp, api, "setthermmode", THERM)
    def setthermmode(params: Params, token: Token, ctx: Ctx):
        home_id = params.str("home_id", required=True)
        mode = params.str("mode")
        if mode is None:
            raise MockcloudError("missing_argument", "mode is missing")  # sample text
        energy.set_therm_mode(ctx, token.user_id, home_id, mode, params.int("endtime", lo=0),
                              params.str("schedule_id"))

    @endpoint(bp, api, "setroomthermpoint", THERM)
    def setroomthermpoint(params: Params, token: Token, ctx: Ctx):
        energy.set_room_therm_point(
            ctx, token.user_id, params.str("home_id", required=True),
            params.str("room_id", required=True), params.str("mode", required=True),
            params.float("temp"), params.int("endtime", lo=0))

    @endpoint(bp, api, "switchhomeschedule", THERM)
    def switchhomeschedule(params: Params, token: Token, ctx: Ctx):
        energy.switch_home_schedule(ctx, token.user_id, params.str("home_id", required=True),
                                    params.str("schedule_id", required=True))

    @endpoint(bp, api, "synchomeschedule", THERM, json_body="synchomeschedule-request")
    def synchomeschedule(params: Params, token: Token, ctx: Ctx):
        energy.sync_home_schedule(ctx, token.user_id, params.str("home_id", required=True),
                                  params.str("schedule_id"), params.str("name"),
                                  _schedule_payload(params))

    @endpoint(bp, api, "createnewhomeschedule", THERM,
              json_body="createnewhomeschedule-request")
    def createnewhomeschedule(params: Params, token: Token, ctx: Ctx):
        new_id = energy.create_home_schedule(
            ctx, token.user_id, params.str("home_id", required=True),
            params.str("name", required=True), _schedule_payload(params))
        # CONFLICT in the sources (top level or body): both, as the contract asks
        return Answer(body={"schedule_id": new_id}, fields={"schedule_id": new_id})

    @endpoint(bp, api, "deletehomeschedule", THERM)
    def deletehomeschedule(params: Params, token: Token, ctx: Ctx):
        energy.delete_home_schedule(ctx, token.user_id, params.str("home_id", required=True),
                                    params.str("schedule_id", required=True))

    @endpoint(bp, api, "renamehomeschedule", THERM)
    def renamehomeschedule(params: Params, token: Token, ctx: Ctx):
        energy.rename_home_schedule(ctx, token.user_id, params.str("home_id", required=True),
                                    params.str("schedule_id", required=True),
                                    params.str("name", required=True))

    @endpoint(bp, api, "setstate", WRITE_HOME, json_body="setstate-request")
    def setstate(params: Params, token: Token, ctx: Ctx):
        payload = params.json()
        if payload is None:  # a form: {"home": <JSON text>}
            payload = {"home": params.json("home", required=True)}
        return energy.set_state(ctx, token.user_id, payload,
                                scopes=token.get_scope().split(),
                                already=api.settings.setstate_already,
                                unreachable=api.settings.setstate_unreachable)

    security_routes.register(bp, api)
    webhooks_v1.register(bp, api)     # pyatmo 9.9's webhook registration
    camera_live.register(bp, api)     # cameras' vpn_url (live snapshot, ping)

    # ---------------------------------------------------------------- the rest

    @bp.route("/api/<path:method>", methods=["GET", "POST"])
    def unknown(method: str):
        raise MockcloudError("no_endpoint", f"Unknown API method: {method}")

    return bp
