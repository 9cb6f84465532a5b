"""homestatus fields per module type beyond relays, thermostats and valves, and the
rooms' humidity; computed from the emulator's state and physics, never stored.

``energy.home_status`` builds the home's modules and rooms, then calls
:func:`complete` once, which adds (samples homestatus_91763b24c43d3e344f424e8b.json):

* weather modules listed as home modules (``NAMain``, ``NAModule1``..``4``): the same
  readings, battery, radio and firmware as getstationsdata shows for that device -- the
  user's station document of that id when there is one (with the admin API's
  overrides), else a station made from the home (its coordinates, altitude, time zone,
  the NAMain's setup date and the modules it bridges), through ``stations``'s public
  functions. ``ts`` is the dashboard's ``time_utc``; readings are its values under
  snake-case names (``temperature``, ``co2``, ``absolute_pressure``, ``wind_strength``
  ...). A NAMain shows ``wifi_strength``/``wifi_state`` and no ``reachable`` (as a
  NAPlug); a module ``rf_strength``/``rf_state``, ``battery_level`` (mV) and
  ``battery_state``, ``last_seen``.
* ``OTH`` (OpenTherm relay, Wi-Fi): ``boiler_control`` "onoff", ``dhw_control``
  "none" (the sample's, INFERRED defaults), ``hardware_version`` (the world's static
  field, else 222), ``outdoor_temperature`` (the outdoor temperature the room model
  uses at the home's coordinates, 0.1 degree), ``sequence_id`` (a counter of the
  relay's exchanges: one every 10 minutes since its setup, INFERRED),
  ``wifi_strength``; no ``reachable``.
* ``OTM`` (OpenTherm modulating thermostat, radio): battery (``energy_physics``'s
  batteries, the admin ``battery_percent`` wins), ``boiler_status`` (the boiler heats
  for some room), ``boiler_valve_comfort_boost`` false, ``rf_strength``, ``radio_id``
  (2 + its rank among the modules of its bridge, INFERRED), ``last_message`` and
  ``last_seen`` (now).
* ``BNS`` (Smarther, Wi-Fi): ``boiler_status``, ``boiler_valve_comfort_boost``,
  ``cooler_status`` (false: the emulator does not cool), ``wifi_strength``; no
  ``reachable``.
* a room with a module that measures humidity (``HUMIDITY_TYPES``: the Smarther)
  shows ``humidity`` (``physics.indoor``'s air, seeded by that module).
* a home with persons or an indoor camera: ``persons`` ``[{id, last_seen,
  out_of_sight}]`` (``security``'s presence at now), unless ``device_types`` names no
  camera type.
* lights, dimmers, plugs, shutters, gateways, cameras, door tags, smoke and CO alarms
  (``home_devices.TYPES``): ``home_devices.status_fields`` (their state on the clock
  from setstate's device log), the strengths labelled as below on cameras
  (``wifi_state``) and door tags (``rf_state``); cameras, NSD and NCO show no
  ``reachable`` (as the samples).

Signal labels (INFERRED from Netatmo's documented scales; lower is better):
``rf_state`` full <= 60 < high <= 70 < medium <= 80 < low; ``wifi_state`` full <= 56
< high <= 66 < medium <= 76 < low.
"""

from __future__ import annotations

import zlib
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from ..core.context import Ctx
from ..physics import indoor
from ..physics.battery import state_of
from ..physics.weather import mix
from . import devices, home_devices, models, stations
from . import energy_physics as ep

WEATHER = frozenset({"NAMain", "NAModule1", "NAModule2", "NAModule3", "NAModule4"})
WIFI_ONLY = frozenset({"NAMain", "OTH", "BNS"})      # no "reachable" in homestatus
HUMIDITY_TYPES = frozenset({"BNS"})
FIRMWARE = {"OTH": 22, "OTM": 6, "BNS": 32}
HARDWARE = {"OTH": 222}
WIFI_BASE = {"OTH": 57, "BNS": 49}
RF_BASE = {"OTM": 64}
SEQUENCE_STEP = 600
SNAKE = {"Temperature": "temperature", "CO2": "co2", "Humidity": "humidity",
         "Noise": "noise", "Pressure": "pressure", "AbsolutePressure": "absolute_pressure",
         "WindStrength": "wind_strength", "WindAngle": "wind_angle",
         "GustStrength": "gust_strength", "GustAngle": "gust_angle", "Rain": "rain",
         "sum_rain_1": "sum_rain_1", "sum_rain_24": "sum_rain_24"}


def rf_state(strength: int) -> str:
    return ("full" if strength <= 60 else "high" if strength <= 70
            else "medium" if strength <= 80 else "low")


def wifi_state(strength: int) -> str:
    return ("full" if strength <= 56 else "high" if strength <= 66
            else "medium" if strength <= 76 else "low")


def complete(ctx: Ctx, home: dict[str, Any], live: Any, now: float, heating: bool,
             out: dict[str, Any], device_types: list[str] | None = None) -> None:
    """Add the fields above to homestatus's ``out`` (``{"id", "modules"?, "rooms"?}``)
    in place (``device_types``: homestatus's filter)."""
    mods = out.get("modules", [])
    by_id = live.by_id
    weather = _weather(ctx, home, live.seed, now,
                       [m for m in mods if m["type"] in WEATHER])
    logs = home_devices.load(ctx, home["id"]) if any(
        m["type"] in home_devices.TYPES for m in mods) else {}
    tags = _tag_events(ctx, home, now, mods)
    for m in mods:
        kind, world = m["type"], by_id.get(m["id"], {})
        if kind in WIFI_ONLY or kind in home_devices.NO_REACHABLE:
            m.pop("reachable", None)
        if kind in home_devices.TYPES:
            m.update(device_fields(world, logs.get(m["id"]), now, live.seed,
                                   live.overrides(m["id"], now).get("battery_percent"),
                                   tags.get(m["id"]), ctx.base))
        if kind in WEATHER:
            m.update(weather.get(m["id"], {}))
        elif kind == "OTH":
            _oth(m, home, world, live.seed, now)
        elif kind == "OTM":
            _otm(m, home, world, live, now, heating)
        elif kind == "BNS":
            m.update(boiler_status=heating, boiler_valve_comfort_boost=False,
                     cooler_status=False,
                     firmware_revision=world.get("firmware_revision", FIRMWARE["BNS"]),
                     wifi_strength=ep.rf_strength(live.seed, m["id"] + "w",
                                                  WIFI_BASE["BNS"]))
    for room in out.get("rooms", []):
        meter = next((m for m in home["modules"] if m.get("room_id") == room["id"]
                      and m["type"] in HUMIDITY_TYPES), None)
        if meter is not None:
            room["humidity"] = humidity(home, meter["id"], live.seed, now)
    if (home.get("persons") or any(m["type"] == "NACamera" for m in home["modules"])) \
            and (device_types is None or any(t in ("NACamera", "NOC") for t in device_types)):
        from .security import View

        state = View(ctx.store, ctx.tenant, live.seed, home).presence(now)
        out["persons"] = [{"id": pid, **s} for pid, s in state.items()]


def device_fields(mod: dict[str, Any], log: dict[str, Any] | None, now: float, seed: int,
                  battery_percent: int | None = None, tag_event: dict[str, Any] | None
                  = None, base: str = "") -> dict[str, Any]:
    """homestatus's fields of a ``home_devices`` module (a light, a camera, a door
    tag ...) at ``now``: its state on the clock (``log``: its setstate log), the
    strengths labelled, a door tag's status from its last ``tag_*`` event
    (:func:`tag_events`); a camera's ``vpn_url`` under ``base`` (the client's base
    URL). The admin API's device view shows the same."""
    kind = mod["type"]
    out = home_devices.status_fields(mod, log, now, seed, battery_percent, base)
    if kind in home_devices.WIFI_LABELLED:
        out["wifi_state"] = wifi_state(out["wifi_strength"])
    if kind in home_devices.RF_LABELLED:
        out["rf_state"] = rf_state(out["rf_strength"])
    if kind == "NACamDoorTag":
        _tag_fields(out, tag_event, now)
    return out


TAG_OPEN_FOR = 60        # seconds a door tag shows "open" after a tag_open (INFERRED)
TAG_SINCE = 86400        # how far back a tag's last activity is looked for


def _tag_events(ctx: Ctx, home: dict[str, Any], now: float,
                mods: list[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    if not any(m["type"] == "NACamDoorTag" for m in mods):
        return {}
    return tag_events(ctx.store, ctx.tenant, models.world_seed(ctx), home, now)


def tag_events(store: Any, tenant: str, seed: int, home: dict[str, Any], now: float
               ) -> dict[str, dict[str, Any]]:
    """Each door tag's last event in the day before now (``security``'s events:
    injected or scripted ``tag_open`` / ``tag_*_move``), by module id."""
    from .security import View  # (it builds on models and home_devices, as this module)
    last: dict[str, dict[str, Any]] = {}
    for ev in View(store, tenant, seed, home).between(now - TAG_SINCE, now):
        if str(ev.get("type", "")).startswith("tag_") and ev.get("module"):
            last[ev["module"]] = ev
    return last


def _tag_fields(m: dict[str, Any], ev: dict[str, Any] | None, now: float) -> None:
    """A door tag's ``status``: "open" for ``TAG_OPEN_FOR`` seconds after a
    ``tag_open`` (the door then closes by itself, INFERRED), else "closed";
    ``last_activity``: its last event's time, else what ``home_devices`` gave (the
    setup date)."""
    if ev is not None:
        m["last_activity"] = int(ev["time"])
        m["status"] = "open" if ev["type"] == "tag_open" \
            and now - ev["time"] < TAG_OPEN_FOR else "closed"


def humidity(home: dict[str, Any], module_id: str, seed: int, now: float) -> int:
    off = datetime.fromtimestamp(now, ZoneInfo(home["timezone"])).utcoffset()
    dseed = mix(seed, zlib.crc32(module_id.encode()))
    return int(indoor.air(dseed, now, int(off.total_seconds()) if off else 0).humidity)


def _oth(m: dict[str, Any], home: dict[str, Any], world: dict[str, Any], seed: int,
         now: float) -> None:
    setup = world.get("setup_date", 0)
    m.update(boiler_control="onoff", dhw_control="none",
             firmware_revision=world.get("firmware_revision", FIRMWARE["OTH"]),
             hardware_version=world.get("hardware_version", HARDWARE["OTH"]),
             outdoor_temperature=round(ep.outdoor_at(ep.place_of(home), seed, now), 1),
             sequence_id=int(max(0.0, now - setup) // SEQUENCE_STEP),
             wifi_strength=ep.rf_strength(seed, m["id"] + "w", WIFI_BASE["OTH"]))


def _otm(m: dict[str, Any], home: dict[str, Any], world: dict[str, Any], live: Any,
         now: float, heating: bool) -> None:
    bat = ep.module_battery(world, now, live.seed,
                            live.overrides(m["id"], now).get("battery_percent"))
    siblings = [x["id"] for x in home["modules"]
                if "bridge" in world and x.get("bridge") == world["bridge"]]
    rank = siblings.index(m["id"]) if m["id"] in siblings else 0
    m.update(battery_level=bat.vp, battery_state=bat.state, boiler_status=heating,
             boiler_valve_comfort_boost=False,
             firmware_revision=world.get("firmware_revision", FIRMWARE["OTM"]),
             last_message=int(now), last_seen=int(now), radio_id=2 + rank,
             rf_strength=ep.rf_strength(live.seed, m["id"], RF_BASE["OTM"]))


# ------------------------------------------------------------------ weather modules

def _weather(ctx: Ctx, home: dict[str, Any], seed: int, now: float,
             listed: list[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    """homestatus fields per weather module id, from getstationsdata's answer for the
    station each belongs to."""
    if not listed:
        return {}
    out: dict[str, dict[str, Any]] = {}
    for doc in _stations(ctx, home, seed, {m["id"] for m in listed}):
        body = stations.stations_body([doc], {}, now, seed, device_id=doc["id"])
        for dev in body["devices"]:
            out[dev["_id"]] = _main_fields(dev)
            for mod in dev.get("modules", []):
                out[mod["_id"]] = _module_fields(mod)
    return out


def _stations(ctx: Ctx, home: dict[str, Any], seed: int, wanted: set[str]
              ) -> list[dict[str, Any]]:
    """Station documents covering the ``wanted`` ids: the owner's own, else made from
    the home's NAMain and the modules it bridges."""
    acc = models.account(ctx, home["owner"])
    docs = devices.with_overrides(ctx.store, ctx.tenant,
                                  models.documents(ctx, acc.get("stations", [])))
    found = []
    for doc in docs:
        ids = {doc["id"], *(m["id"] for m in doc.get("modules", []))}
        if ids & wanted:
            found.append(doc)
            wanted = wanted - ids
    lat, lon, alt = ep.place_of(home)
    place = {"lat": lat, "lon": lon, "altitude": alt, "timezone": home["timezone"],
             "country": home.get("country", "FR"), "city": home.get("city", "")
             or home.get("name", "Home")}
    for main in (m for m in home["modules"] if m["type"] == "NAMain"):
        mods = [m for m in home["modules"] if m.get("bridge") == main["id"]
                and m["type"] in stations.MODULE_TYPES]
        if main["id"] not in wanted and not {m["id"] for m in mods} & wanted:
            continue
        entry: dict[str, Any] = {
            "id": main["id"], "station_name": home.get("name", "Home"),
            "module_name": main.get("name", "Indoor"), "place": place,
            "date_setup": main.get("setup_date", 0),
            "modules": [{"id": m["id"], "type": m["type"],
                         "module_name": m.get("name", m["id"]),
                         "date_setup": m.get("setup_date", main.get("setup_date", 0)),
                         **({"firmware": m["firmware_revision"]}
                            if "firmware_revision" in m else {})} for m in mods]}
        if "firmware_revision" in main:
            entry["firmware"] = main["firmware_revision"]
        try:
            [(_, _, doc)] = stations.build_stations([entry], home["owner"], "home", seed)
        except ValueError:  # ids a station cannot have (not 6-octet MACs): no readings
            continue
        found.append(doc)
    return found


def _readings(dash: dict[str, Any] | None) -> dict[str, Any]:
    if not dash:
        return {}
    out: dict[str, Any] = {"ts": dash["time_utc"]}
    out.update({SNAKE[k]: v for k, v in dash.items() if k in SNAKE})
    return out


def _main_fields(dev: dict[str, Any]) -> dict[str, Any]:
    out: dict[str, Any] = {"firmware_revision": dev["firmware"]}
    if "wifi_status" in dev:
        out.update(wifi_strength=dev["wifi_status"],
                   wifi_state=wifi_state(dev["wifi_status"]))
    out.update(_readings(dev.get("dashboard_data")))
    return out


def _module_fields(mod: dict[str, Any]) -> dict[str, Any]:
    out: dict[str, Any] = {
        "battery_level": mod["battery_vp"],
        "battery_state": state_of(mod["battery_percent"]),
        "firmware_revision": mod["firmware"], "rf_strength": mod["rf_status"],
        "rf_state": rf_state(mod["rf_status"]), "last_seen": mod["last_seen"]}
    out.update(_readings(mod.get("dashboard_data")))
    return out
