"""Netatmo's part of a world file: each user's account, homes, stations, home coaches.

::

    netatmo:
      apps:  [{client_id, client_secret, redirect_uris, scopes, default_scope,
               auto_approve, auto_approve_user, legacy_password: true}]   # (core + ours)
      users:
        - email: dev@netatmo.test
          password: dev
          id: 5f0c3a7b9e2d4c1a8b6e0f12      # 24 hex; derived from seed + login if absent
          language: en-US                   # account: language, locale, country,
          unit_system: 0                    #   unit_system, unit_wind, unit_pressure,
                                            #   feel_like_algorithm (all optional)
          homes:
            - id: 5f0c3a7b9e2d4c1a8b6e0f34  # 24 hex; derived if absent
              name: Home
              timezone: Europe/Paris
              coordinates: [2.35, 48.85]    # as homesdata shows them (passed through)
              altitude: 35
              country: FR
              therm_setpoint_default_duration: 180   # minutes
              therm_mode: schedule          # the mode before any event
              temperature_control_mode: heating      # optional
              city: Paris                   # optional (getthermostatsdata's place.city)
              legacy_schedule_forms: [rooms_temp, therm_schedules]   # optional, below
              rooms:   [{id: "2746182631", name: Living room, type: livingroom}]
              modules: [{id: "70:ee:50:00:00:01", type: NAPlug, name: Relay},
                        {id: "04:00:00:00:00:01", type: NATherm1, name: Thermostat,
                         room_id: "2746182631", bridge: "70:ee:50:00:00:01"}]
              schedules:
                - {id: 24 hex, name: Week, type: therm, selected: true,
                   hg_temp: 7, away_temp: 12,
                   zones: [{id: 0, name: Comfort, type: 0,
                            rooms: [{id: "2746182631", therm_setpoint_temperature: 20}]}],
                   timetable: [{zone_id: 0, m_offset: 0}]}
              state: {}                     # the energy log (check_state: base, events,
                                            #   schedules_created); optional
              persons: [...]                # its people and scripted security events:
              security_events: [...]        #   persons.py's format (optional)
              routine_from: 1800000000      # the seeded security routine's first instant
                                            #   (optional; before it only scripted events:
                                            #   world from-cassette's recorded past)
          stations:    [...]                # stations.py's format (build_stations)
          homecoaches: [...]                # stations.py's format (build_homecoaches)

Static fields passed through (validated loosely: any JSON value -- strings, numbers,
booleans, null, lists, mappings with string keys -- at most 8 levels deep). Where the
real cloud shows static, descriptive data that the emulator has no behaviour for, a
world entry may carry it and ``homesdata`` shows it as given (and ``world export``
gives it back); dynamic fields (readings, ``reachable``, batteries, boiler flags) are
never taken from the world, they are computed:

* a module: ``MODULE_STATIC`` (``capabilities``, ``hk_device_id``, ``max_modules_nb``,
  ``customer_id``, ``hardware_version``, ``alarm_config``, ``module_offset``,
  ``appliance_type``, ``customized``, ...);
* a room: ``true_temperature_available``, ``therm_relay`` (a module id of the home);
* a schedule: ``SCHEDULE_STATIC`` (an electricity schedule's ``tariff``,
  ``tariff_option``, ``power_threshold``, ``contract_power_unit``; an event schedule's
  ``timetable_sunrise``/``timetable_sunset``); a zone: ``price``, ``price_type`` and
  ``modules`` (``[{id, bridge?, on?}]``, an event schedule's module states); a zone's
  room: ``therm_setpoint_fp`` (a pilot-wire level: comfort, away, frost_guard, ...),
  beside or, for a room with no thermostat or valve (NATherm1, NRV, OTM, BNS), instead
  of ``therm_setpoint_temperature``. Electricity and event schedules get no default
  ``hg_temp``/``away_temp`` and their zones no default name or type.

Device state (``home_devices``: lights, dimmers, plugs, shutters, cameras, fans,
doorbells): a module may carry its initial state and behaviour, checked for its type (a
key the type cannot take is refused) and kept in the home document (``world export``
gives it back)::

    - {id: "00:04:74:00:00:02", type: NLP, bridge: <NLG id>, on: true, load: 100}
    - {id: ..., type: NLF, on: false, brightness: 60, load: 40}      # W at 100 %
    - {id: ..., type: NLV, target_position: 0, full_travel: 50,      # s, 0 -> 100
       preferred_position: 50}
    - {id: ..., type: NOC, monitoring: "on", floodlight: auto}
    - {id: ..., type: NLPO, on: false, contactor_mode: "off"}        # on, off, auto
    - {id: ..., type: NLLF, fan_speed: 1, load: 22}                  # W at speed 2
    - {id: ..., type: NDB, last_ftp_event: {type: 3, time: 1631444443, id: 3}}

Shapes of homesdata (``models``): a room's ``homesdata_modules: true`` lists its
modules as ``modules`` too; a device's ``homesdata_state: true`` shows its state
(``on``, ``brightness``, ``power``, ``last_seen``, as homestatus at that instant),
``firmware_revision`` and ``reachable`` in homesdata.

What setstate changes afterwards is runtime state (``home_devices``' own log), not
part of the home document nor of the export.

``legacy_schedule_forms`` (per home; default none, as the cloud answers today): the
forms of a schedule the cloud answered beside the current ones for a while (the
archived samples show both at once): ``rooms_temp`` adds to every zone a
``rooms_temp`` list (``[{room_id, temp}]`` or ``[{room_id, therm_setpoint_fp}]``)
mirroring its ``rooms``; ``therm_schedules`` adds the home's ``therm_schedules``, its
therm schedules with zones in the ``rooms_temp`` form only. Both are derived from the
same schedules when answered, so a write shows in every form.

Store documents (plain JSON):

* ``netatmo.account`` / user id: the account (``user`` of homesdata, ``administrative``
  of getstationsdata) and the index of what the user owns: ``{"id", "email",
  "language", "locale", "country", "unit_system", "unit_wind", "unit_pressure",
  "feel_like_algorithm", "homes": [home ids], "stations": [[kind, key]...],
  "homecoaches": [[kind, key]...]}``, so a request reads its own documents only.
* ``netatmo.home`` / home id: the home as its entry says it, normalised (every default
  filled in), plus ``"owner"`` (user id) and ``"state"`` (energy's, ``{}`` at first):
  ``{"id", "owner", "name", "timezone", "coordinates", "altitude", "country",
  "therm_setpoint_default_duration", "therm_mode", ["temperature_control_mode"],
  "rooms": [{"id", "name", "type"}], "modules": [{"id", "type", "name", "setup_date",
  ["room_id"], ["bridge"], ...}], "schedules": [{"id", "name", "type", "selected",
  ["default"], "hg_temp", "away_temp", "zones": [{"id", "name", "type", "rooms":
  [{"id", "therm_setpoint_temperature"}]}], "timetable": [{"zone_id", "m_offset"}]}],
  "state": {...}}``. Derived fields (a room's ``module_ids``, a bridge's
  ``modules_bridged``) are computed when answered, never stored.
* ``netatmo.meta`` / ``world``: ``{"seed"}``, the world's seed (physics noise).
* the stations' and home coaches' documents: whatever ``stations.build_*`` makes.

Validation names the entry (``netatmo.users[0].homes[1].schedules[0].timetable[2]``);
export gives back entries that build the same documents.
"""

from __future__ import annotations

import hashlib
import random
import re
from typing import TYPE_CHECKING, Any

import orjson

from contracts.files import contracts_dir

from ..core import lookup
from ..core import world as core_world
from ..core.store import Store
from ..core.vendor import DocRow, WorldUser
from . import home_devices, persons, stations
from .energy_state import WORLD_EVENTS

if TYPE_CHECKING:    # only annotations: Faker is imported by what generates worlds
    from faker import Faker

ACCOUNT = "netatmo.account"
HOME = "netatmo.home"
META = "netatmo.meta"
# the world's lookups by id (``indexes``, ``core.lookup``)
DEVICE_AT = "netatmo.device_at"
CAMERA_AT = "netatmo.camera_at"
SCHEDULE_HOMES = "netatmo.schedule_homes"
CAMERAS = ("NACamera", "NOC")
# what holds a device, as the admin API names it: (its rank in that API's order, name)
FAMILIES = {HOME: (0, "home"), stations.STATION_KIND: (1, "station"),
            stations.HOMECOACH_KIND: (2, "homecoach")}

ACCOUNT_FIELDS = {"language": "en-US", "locale": "en-US", "country": "FR",
                  "unit_system": 0, "unit_wind": 0, "unit_pressure": 0,
                  "feel_like_algorithm": 0}
USER_KEYS = set(ACCOUNT_FIELDS) | {"homes", "stations", "homecoaches"}
HOME_KEYS = {"id", "name", "timezone", "coordinates", "altitude", "country", "place",
             "therm_setpoint_default_duration", "therm_mode", "temperature_control_mode",
             "cooling_mode", "city", "legacy_schedule_forms", "rooms", "modules",
             "schedules", "state", "persons", "security_events", "routine_from"}
LEGACY_SCHEDULE_FORMS = ("rooms_temp", "therm_schedules")
ROOM_STATIC = {"true_temperature_available", "therm_relay"}
ROOM_KEYS = {"id", "name", "type", "homesdata_modules"} | ROOM_STATIC
# static, descriptive module fields seen in homesdata samples (passed through)
MODULE_STATIC = {"capabilities", "hk_device_id", "max_modules_nb", "customer_id",
                 "hardware_version", "public_ext_data", "public_ext_counter",
                 "alarm_config", "module_offset", "network_lock", "use_pincode",
                 "quick_display_zone", "category", "appliance_type", "customized"}
MODULE_KEYS = {"id", "type", "name", "room_id", "bridge", "setup_date",
               "firmware_revision", "reachable", "homesdata_state"} | MODULE_STATIC \
    | home_devices.WORLD_KEYS
SCHEDULE_STATIC = {"tariff", "tariff_option", "power_threshold", "contract_power_unit",
                   "timetable_sunrise", "timetable_sunset"}
SCHEDULE_KEYS = {"id", "name", "type", "selected", "default", "hg_temp", "away_temp",
                 "zones", "timetable"} | SCHEDULE_STATIC
ZONE_STATIC = {"price", "price_type", "modules"}
ZONE_KEYS = {"id", "name", "type", "rooms"} | ZONE_STATIC
# a room with one of these is heated by the thermal model: its zone entries need a
# temperature (a pilot-wire level alone is for rooms without them)
HEATED_TYPES = frozenset({"NATherm1", "NRV", "OTM", "BNS"})
THERM_MODES = ("schedule", "away", "hg", "off")
SCHEDULE_TYPES = ("therm", "cooling", "electricity", "event")
WEEK = 7 * 24 * 60                       # minutes: m_offset is in [0, WEEK)
SETPOINT_RANGE = (5.0, 30.0)             # degrees C, in 0.5 steps
SETUP_DATE = 1_600_000_000               # a module's setup_date when none is given
MAX_EPOCH = 253_402_300_799              # 9999-12-31T23:59:59Z: the last instant a time
                                         # may name (end times, the log's instants)


def _module_types() -> frozenset[str]:
    import json
    common = json.loads((contracts_dir() / "schemas" / "netatmo" / "common.json")
                        .read_text(encoding="utf-8"))
    return frozenset(common["$defs"]["module_type"]["enum"])


MODULE_TYPES = _module_types()


def hex_id(*parts: Any) -> str:
    """A deterministic 24-hex id (Netatmo's home, user and schedule ids)."""
    return hashlib.sha256(":".join(map(str, parts)).encode()).hexdigest()[:24]


_HEX24 = re.compile(r"[0-9a-f]{24}")


def is_hex24(value: Any) -> bool:
    return isinstance(value, str) and _HEX24.fullmatch(value) is not None


# --------------------------------------------------------------------- validation

def _mapping(where: str, raw: Any, keys: set[str]) -> dict[str, Any]:
    if not isinstance(raw, dict):
        raise ValueError(f"{where} must be a mapping")
    if not keys.issuperset(raw):
        unknown = set(raw) - keys
        raise ValueError(f"{where}: unknown field(s) {', '.join(sorted(map(str, unknown)))}"
                         f"; known: {', '.join(sorted(keys))}")
    return dict(raw)


def _list(where: str, raw: Any) -> list[Any]:
    if raw is None:
        return []
    if not isinstance(raw, list):
        raise ValueError(f"{where} must be a list")
    return raw


def _str(where: str, value: Any, default: str | None = None) -> str:
    if value is None and default is not None:
        return default
    if not isinstance(value, str) or not value:
        raise ValueError(f"{where} must be a non-empty string")
    return value


def _int(where: str, value: Any, lo: int | None = None, hi: int | None = None) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise ValueError(f"{where} must be an integer, not {value!r}")
    if (lo is not None and value < lo) or (hi is not None and value > hi):
        span = (f"between {lo} and {hi}" if lo is not None and hi is not None
                else f"at least {lo}" if lo is not None else f"at most {hi}")
        raise ValueError(f"{where} must be {span}, not {value}")
    return value


def _number(where: str, value: Any) -> float | int:
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise ValueError(f"{where} must be a number, not {value!r}")
    return value


def setpoint(where: str, value: Any) -> float | int:
    """A set-point: a number of degrees in SETPOINT_RANGE, in 0.5 steps."""
    value = _number(where, value)
    lo, hi = SETPOINT_RANGE
    if not lo <= value <= hi or (value * 2) != int(value * 2):
        raise ValueError(f"{where} must be {lo:g} to {hi:g} degrees in 0.5 steps, "
                         f"not {value}")
    return value


def _choice(where: str, value: Any, options: tuple[str, ...]) -> str:
    if value not in options:
        raise ValueError(f"{where} must be one of {', '.join(options)}, not {value!r}")
    return value


def static_value(where: str, value: Any, depth: int = 0) -> Any:
    """A static field's value: any JSON value, checked loosely (no NaN, string keys,
    at most 8 levels deep); returned as given."""
    if depth > 8:
        raise ValueError(f"{where} is nested too deeply (8 levels at most)")
    if value is None or isinstance(value, bool | int | str):
        return value
    if isinstance(value, float):
        if value != value or value in (float("inf"), float("-inf")):
            raise ValueError(f"{where} must be a finite number")
        return value
    if isinstance(value, list):
        return [static_value(f"{where}[{i}]", v, depth + 1) for i, v in enumerate(value)]
    if isinstance(value, dict):
        for k in value:
            if not isinstance(k, str):
                raise ValueError(f"{where}: keys must be strings, not {k!r}")
        return {k: static_value(f"{where}.{k}", v, depth + 1) for k, v in value.items()}
    raise ValueError(f"{where} must be a JSON value (string, number, boolean, null, "
                     f"list or mapping), not {type(value).__name__}")


def _static(where: str, raw: dict[str, Any], keys: set[str]) -> dict[str, Any]:
    if keys.isdisjoint(raw):        # the common case: none (a world of 10,000 homes
        return {}                   # asks ~115,000 times)
    return {k: static_value(f"{where}.{k}", raw[k]) for k in sorted(keys) if k in raw}


def _unique(where: str, ids: list[Any], what: str) -> None:
    seen: set[Any] = set()
    for ident in ids:
        if ident in seen:
            raise ValueError(f"{where}: {what} id {ident!r} is used twice")
        seen.add(ident)


_PLAIN_ROOM_KEYS = frozenset({"id", "name", "type"})
_PLAIN_MODULE_KEYS = frozenset({"id", "type", "name", "room_id", "bridge"})


def _plain_room(raw: Any, index: int) -> dict[str, Any] | None:
    """A room as ``_room`` makes it when it is plainly right (an id, a name and a type,
    each a non-empty string or left out), or None: ``_room`` then checks it and says
    what is wrong. The same fields in the same order (a world's documents are hashed)."""
    if type(raw) is not dict or not _PLAIN_ROOM_KEYS.issuperset(raw):
        return None
    rid, name, kind = raw.get("id"), raw.get("name"), raw.get("type")
    if type(rid) is not str or not rid or (name is not None and (
            type(name) is not str or not name)) or (kind is not None and (
            type(kind) is not str or not kind)):
        return None
    return {"id": rid, "name": name or f"Room {index + 1}", "type": kind or "custom"}


def _plain_module(raw: Any) -> dict[str, Any] | None:
    """A module as ``_module`` makes it when it is plainly right (an id, a known type,
    a name, a room and a bridge, each a non-empty string or left out), or None:
    ``_module`` then checks it and says what is wrong. The same fields in the same
    order."""
    if type(raw) is not dict or not _PLAIN_MODULE_KEYS.issuperset(raw):
        return None
    mid, kind, name = raw.get("id"), raw.get("type"), raw.get("name")
    if type(mid) is not str or not mid or type(kind) is not str \
            or kind not in MODULE_TYPES or (name is not None and (
                type(name) is not str or not name)):
        return None
    out: dict[str, Any] = {"id": mid, "type": kind, "name": name or mid,
                           "setup_date": SETUP_DATE}
    for key in ("room_id", "bridge"):
        if key in raw:
            value = raw[key]
            if type(value) is not str or not value:
                return None
            out[key] = value
    return out


def _room(where: str, raw: Any, index: int, home_id: str) -> dict[str, Any]:
    plain = _plain_room(raw, index)
    if plain is not None:
        return plain
    room = _mapping(where, raw, ROOM_KEYS)
    rid = room.get("id", str(int(hex_id("room", home_id, index), 16) % 10**10))
    out = {"id": _str(f"{where}.id", str(rid) if isinstance(rid, int) else rid),
           "name": _str(f"{where}.name", room.get("name"), f"Room {index + 1}"),
           "type": _str(f"{where}.type", room.get("type"), "custom")}
    if "true_temperature_available" in room:
        if not isinstance(room["true_temperature_available"], bool):
            raise ValueError(f"{where}.true_temperature_available must be true or false")
        out["true_temperature_available"] = room["true_temperature_available"]
    if "therm_relay" in room:  # checked against the home's modules by check_home
        out["therm_relay"] = _str(f"{where}.therm_relay", room["therm_relay"])
    if room.get("homesdata_modules") is not None:
        if not isinstance(room["homesdata_modules"], bool):
            raise ValueError(f"{where}.homesdata_modules must be true or false")
        if room["homesdata_modules"]:
            out["homesdata_modules"] = True
    return out


def _module(where: str, raw: Any, index: int) -> dict[str, Any]:
    plain = _plain_module(raw)
    if plain is not None:
        return plain
    mod = _mapping(where, raw, MODULE_KEYS)
    out: dict[str, Any] = {"id": _str(f"{where}.id", mod.get("id"))}
    out["type"] = mod.get("type")
    if out["type"] not in MODULE_TYPES:
        raise ValueError(f"{where}.type {out['type']!r} is no Netatmo module type "
                         "(NAPlug, NATherm1, NRV, OTH, OTM, NAMain, NHC, ...)")
    out["name"] = _str(f"{where}.name", mod.get("name"), out["id"])
    out["setup_date"] = _int(f"{where}.setup_date", mod.get("setup_date", SETUP_DATE), 0)
    for key in ("room_id", "bridge"):
        if key in mod:
            out[key] = _str(f"{where}.{key}", mod[key])
    if "firmware_revision" in mod:
        out["firmware_revision"] = _int(f"{where}.firmware_revision",
                                        mod["firmware_revision"], 0)
    if "reachable" in mod:
        if not isinstance(mod["reachable"], bool):
            raise ValueError(f"{where}.reachable must be true or false")
        out["reachable"] = mod["reachable"]
    if mod.get("homesdata_state") is not None:
        if not isinstance(mod["homesdata_state"], bool):
            raise ValueError(f"{where}.homesdata_state must be true or false")
        if mod["homesdata_state"] and out["type"] not in home_devices.TYPES:
            raise ValueError(f"{where}.homesdata_state: a {out['type']} has no state "
                             "homestatus shows (lights, dimmers, plugs, shutters, "
                             "cameras ... have)")
        if mod["homesdata_state"]:
            out["homesdata_state"] = True
    out.update(_static(where, mod, MODULE_STATIC))
    out.update(home_devices.check_world(where, out["type"], mod))
    return out


def check_schedule(where: str, raw: Any, room_ids: set[str], index: int = 0,
                   home_id: str = "", fp_rooms: set[str] | frozenset[str] = frozenset()
                   ) -> dict[str, Any]:
    """One schedule, normalised; raises ValueError naming what is wrong (energy.py
    checks synchomeschedule and createnewhomeschedule bodies with it too).
    ``fp_rooms``: the rooms whose zone entries may carry a pilot-wire level
    (``therm_setpoint_fp``) without a temperature (none by default)."""
    sch = _mapping(where, raw, SCHEDULE_KEYS)
    out: dict[str, Any] = {
        "id": sch.get("id") or hex_id("schedule", home_id, index),
        "name": _str(f"{where}.name", sch.get("name"), f"Schedule {index + 1}"),
        "type": _choice(f"{where}.type", sch.get("type", "therm"), SCHEDULE_TYPES),
    }
    if not is_hex24(out["id"]):
        raise ValueError(f"{where}.id must be 24 hex digits, not {out['id']!r}")
    thermal = out["type"] in ("therm", "cooling")
    for flag in ("selected", "default"):
        if flag in sch:
            if not isinstance(sch[flag], bool):
                raise ValueError(f"{where}.{flag} must be true or false")
            out[flag] = sch[flag]
    for key, default in (("hg_temp", 7), ("away_temp", 12)):
        if key in sch or thermal:
            out[key] = setpoint(f"{where}.{key}", sch.get(key, default))
    zones = []
    for z, raw_zone in enumerate(_list(f"{where}.zones", sch.get("zones"))):
        plain = _plain_zone(raw_zone, z, room_ids, thermal)
        if plain is not None:
            zones.append(plain)
            continue
        zw = f"{where}.zones[{z}]"
        zone = _mapping(zw, raw_zone, ZONE_KEYS)
        raw_rooms = _list(f"{zw}.rooms", zone.get("rooms"))
        rooms = _zone_rooms(raw_rooms, room_ids)
        for r, raw_room in enumerate(raw_rooms[len(rooms):], start=len(rooms)):
            rw = f"{zw}.rooms[{r}]"
            entry = _mapping(rw, raw_room, {"id", "therm_setpoint_temperature",
                                            "therm_setpoint_fp"})
            rid = _str(f"{rw}.id", entry.get("id"))
            if rid not in room_ids:
                raise ValueError(f"{rw}.id {rid!r} is no room of this home")
            room: dict[str, Any] = {"id": rid}
            if "therm_setpoint_temperature" in entry or rid not in fp_rooms \
                    or "therm_setpoint_fp" not in entry:
                room["therm_setpoint_temperature"] = setpoint(
                    f"{rw}.therm_setpoint_temperature",
                    entry.get("therm_setpoint_temperature"))
            if "therm_setpoint_fp" in entry:
                room["therm_setpoint_fp"] = _str(f"{rw}.therm_setpoint_fp",
                                                 entry["therm_setpoint_fp"])
            rooms.append(room)
        _unique(zw, [r["id"] for r in rooms], "room")
        made: dict[str, Any] = {"id": _int(f"{zw}.id", zone.get("id"), 0)}
        if "name" in zone or thermal:
            made["name"] = _str(f"{zw}.name", zone.get("name"), f"Zone {z}")
        if "type" in zone or thermal:
            made["type"] = _int(f"{zw}.type", zone.get("type", 0), 0)
        if rooms or "rooms" in zone or thermal:
            made["rooms"] = rooms
        if "modules" in zone:
            mods = static_value(f"{zw}.modules", zone["modules"])
            if not isinstance(mods, list) or not all(
                    isinstance(m, dict) and isinstance(m.get("id"), str) for m in mods):
                raise ValueError(f"{zw}.modules must be a list of mappings with an id")
        made.update(_static(zw, zone, ZONE_STATIC))
        zones.append(made)
    _unique(where, [z["id"] for z in zones], "zone")
    zone_ids = {z["id"] for z in zones}
    slots = _list(f"{where}.timetable", sch.get("timetable"))
    timetable = _timetable(slots, zone_ids)
    for t, raw_slot in enumerate(slots[len(timetable):], start=len(timetable)):
        tw = f"{where}.timetable[{t}]"
        slot = _mapping(tw, raw_slot, {"zone_id", "m_offset"})
        zid = _int(f"{tw}.zone_id", slot.get("zone_id"))
        if zid not in zone_ids:
            raise ValueError(f"{tw}.zone_id {zid} is no zone of this schedule")
        offset = _int(f"{tw}.m_offset", slot.get("m_offset"), 0, WEEK - 1)
        if timetable and offset <= timetable[-1]["m_offset"]:
            raise ValueError(f"{tw}.m_offset {offset} must come after "
                             f"{timetable[-1]['m_offset']} (sorted, no repeats)")
        timetable.append({"zone_id": zid, "m_offset": offset})
    if out["type"] == "therm":
        if not zones or not timetable:
            raise ValueError(f"{where}: a therm schedule needs zones and a timetable")
        if timetable[0]["m_offset"] != 0:
            raise ValueError(f"{where}.timetable must start at m_offset 0 (Monday 00:00)")
    out.update(zones=zones, timetable=timetable)
    out.update(_static(where, sch, SCHEDULE_STATIC))
    return out


_PLAIN_ZONE_KEYS = frozenset({"id", "name", "type", "rooms"})


def _plain_zone(raw: Any, z: int, room_ids: set[str], thermal: bool
                ) -> dict[str, Any] | None:
    """A zone as ``check_schedule`` makes it when it is plainly right (id, name, type and
    rooms only, each of its type and range, every room entry plain, no room twice), or
    None: the slow path then checks it and says what is wrong. The same fields in the
    same order (a world's documents are hashed): a generated world's 60,000 zones are
    made here."""
    if type(raw) is not dict or not _PLAIN_ZONE_KEYS.issuperset(raw):
        return None
    zid, name, kind, entries = (raw.get("id"), raw.get("name", ""), raw.get("type", 0),
                                raw.get("rooms", ()))
    if type(zid) is not int or zid < 0 or type(name) is not str \
            or ("name" in raw and not name) or type(kind) is not int or kind < 0 \
            or type(entries) not in (list, tuple):
        return None
    rooms = _zone_rooms(entries, room_ids)
    if len(rooms) != len(entries) or len({r["id"] for r in rooms}) != len(rooms):
        return None
    made: dict[str, Any] = {"id": zid}
    if "name" in raw or thermal:
        made["name"] = name or f"Zone {z}"
    if "type" in raw or thermal:
        made["type"] = kind
    if rooms or "rooms" in raw or thermal:
        made["rooms"] = rooms
    return made


def _zone_rooms(entries: list[Any], room_ids: set[str]) -> list[dict[str, Any]]:
    """A zone's room entries up to the first that is not plainly right ({id, a
    set-point}: a room of the home, a number of degrees in range, in 0.5 steps); the
    slow path checks the rest and says what is wrong."""
    out: list[dict[str, Any]] = []
    lo, hi = SETPOINT_RANGE
    for entry in entries:
        if type(entry) is not dict or len(entry) != 2:
            break
        rid, temp = entry.get("id"), entry.get("therm_setpoint_temperature")
        if type(rid) is not str or rid not in room_ids or type(temp) not in (int, float) \
                or not lo <= temp <= hi or temp * 2 != int(temp * 2):
            break
        out.append({"id": rid, "therm_setpoint_temperature": temp})
    return out


# timetables met, by their JSON: the slots plainly right in form (see _timetable)
_TIMETABLES: dict[bytes, tuple[tuple[int, int], ...]] = {}


def _timetable(slots: list[Any], zone_ids: set[int]) -> list[dict[str, int]]:
    """The slots up to the first one that is not plainly right ({zone_id, m_offset},
    integers, a zone of the schedule, after the one before, in the week): a week's
    timetable is checked here at once, and the first doubtful slot on by the slow
    path, which says what is wrong. The form is checked once per distinct timetable
    (homes share a few: a generated world of 20,000 schedules has 3), the zones for
    each."""
    try:
        key: bytes | None = orjson.dumps(slots)
    except TypeError:               # not JSON (e.g. YAML's dates): checked here
        key = None
    pairs = _TIMETABLES.get(key) if key is not None else None
    if pairs is None:
        pairs = _plain_slots(slots)
        if key is not None:
            if len(_TIMETABLES) >= 256:
                _TIMETABLES.clear()
            _TIMETABLES[key] = pairs
    out: list[dict[str, int]] = []
    for zid, offset in pairs:
        if zid not in zone_ids:
            break
        out.append({"zone_id": zid, "m_offset": offset})
    return out


def _plain_slots(slots: list[Any]) -> tuple[tuple[int, int], ...]:
    """(zone_id, m_offset) of the slots up to the first that is not plainly right in
    form: {zone_id, m_offset}, integers, after the one before, in the week."""
    out: list[tuple[int, int]] = []
    last = -1
    for slot in slots:
        if type(slot) is not dict or len(slot) != 2:
            break
        zid, offset = slot.get("zone_id"), slot.get("m_offset")
        if type(zid) is not int or type(offset) is not int or not last < offset < WEEK:
            break
        out.append((zid, offset))
        last = offset
    return tuple(out)


def check_schedules(where: str, raw: Any, room_ids: set[str], home_id: str,
                    fp_rooms: set[str] | frozenset[str]) -> list[dict[str, Any]]:
    """A home's schedule list: each checked, ids unique, at most one selected per
    type (the first of a type when none is)."""
    schedules = [check_schedule(f"{where}[{i}]", s, room_ids, i, home_id, fp_rooms=fp_rooms)
                 for i, s in enumerate(_list(where, raw))]
    _unique(where, [s["id"] for s in schedules], "schedule")
    for kind in SCHEDULE_TYPES:
        mine = [s for s in schedules if s["type"] == kind]
        chosen = [s for s in mine if s.get("selected")]
        if len(chosen) > 1:
            raise ValueError(f"{where}: {len(chosen)} {kind} schedules are selected; "
                             "select one")
        if mine and not chosen:
            mine[0]["selected"] = True
    return schedules


def check_home(where: str, raw: Any, owner: str, index: int) -> dict[str, Any]:
    home = _mapping(where, raw, HOME_KEYS)
    hid = home.get("id") or hex_id("home", owner, index)
    if not is_hex24(hid):
        raise ValueError(f"{where}.id must be 24 hex digits, not {hid!r}")
    if "place" in home:     # a house of the world (core.world.place): its place, zone
        house = core_world.place(f"{where}.place", home["place"])
        if house is None:
            raise ValueError(f"{where}.place must name a house of the world")
        home = {"timezone": house.get("timezone", "Europe/Paris"),
                "coordinates": [house["lon"], house["lat"]], "altitude": house["altitude"],
                **{k: house[k] for k in ("country", "city") if k in house}, **home}
    coords = home.get("coordinates", [2.35, 48.85])
    if not isinstance(coords, list) or len(coords) != 2:
        raise ValueError(f"{where}.coordinates must be two numbers")
    out: dict[str, Any] = {
        "id": hid, "owner": owner,
        "name": _str(f"{where}.name", home.get("name"), "Home"),
        "timezone": _timezone(f"{where}.timezone", home.get("timezone", "Europe/Paris")),
        "coordinates": [_number(f"{where}.coordinates", c) for c in coords],
        "altitude": _number(f"{where}.altitude", home.get("altitude", 0)),
        "country": _str(f"{where}.country", home.get("country"), "FR"),
        "therm_setpoint_default_duration": _int(
            f"{where}.therm_setpoint_default_duration",
            home.get("therm_setpoint_default_duration", 180), 1, 12 * 60),
        "therm_mode": _choice(f"{where}.therm_mode", home.get("therm_mode", "schedule"),
                              THERM_MODES),
    }
    if "temperature_control_mode" in home:
        out["temperature_control_mode"] = _choice(
            f"{where}.temperature_control_mode", home["temperature_control_mode"],
            ("heating", "cooling"))
    if "cooling_mode" in home:
        out["cooling_mode"] = _str(f"{where}.cooling_mode", home["cooling_mode"])
    if "city" in home:
        out["city"] = _str(f"{where}.city", home["city"])
    if "legacy_schedule_forms" in home:
        forms = _list(f"{where}.legacy_schedule_forms", home["legacy_schedule_forms"])
        for form in forms:
            _choice(f"{where}.legacy_schedule_forms[]", form, LEGACY_SCHEDULE_FORMS)
        out["legacy_schedule_forms"] = [f for f in LEGACY_SCHEDULE_FORMS if f in forms]
    rooms = [_room(f"{where}.rooms[{i}]", r, i, hid)
             for i, r in enumerate(_list(f"{where}.rooms", home.get("rooms")))]
    _unique(where, [r["id"] for r in rooms], "room")
    modules = [_module(f"{where}.modules[{i}]", m, i)
               for i, m in enumerate(_list(f"{where}.modules", home.get("modules")))]
    _unique(where, [m["id"] for m in modules], "module")
    room_ids, module_ids = {r["id"] for r in rooms}, {m["id"] for m in modules}
    for i, room in enumerate(rooms):
        if "therm_relay" in room and room["therm_relay"] not in module_ids:
            raise ValueError(f"{where}.rooms[{i}].therm_relay {room['therm_relay']!r} is "
                             "no module of this home")
    heated = {m["room_id"] for m in modules if m["type"] in HEATED_TYPES and "room_id" in m}
    for i, mod in enumerate(modules):
        if "room_id" in mod and mod["room_id"] not in room_ids:
            raise ValueError(f"{where}.modules[{i}].room_id {mod['room_id']!r} is no room "
                             "of this home")
        if "bridge" in mod and (mod["bridge"] not in module_ids or mod["bridge"] == mod["id"]):
            raise ValueError(f"{where}.modules[{i}].bridge {mod['bridge']!r} is no other "
                             "module of this home")
    schedules = check_schedules(f"{where}.schedules", home.get("schedules"), room_ids,
                                hid, room_ids - heated)
    state = check_state(f"{where}.state", home.get("state"), room_ids, hid,
                        room_ids - heated)
    out.update(rooms=rooms, modules=modules, schedules=schedules, state=state)
    people = persons.check_persons(f"{where}.persons", home.get("persons"), hid)
    scripted = persons.check_events(f"{where}.security_events",
                                    home.get("security_events"), modules, people)
    out.update({k: v for k, v in (("persons", people), ("security_events", scripted)) if v})
    if home.get("routine_from") is not None:
        since = home["routine_from"]
        if isinstance(since, bool) or not isinstance(since, int) \
                or not 0 <= since <= persons.MAX_EPOCH:
            raise ValueError(f"{where}.routine_from must be epoch seconds from 0 to "
                             f"{persons.MAX_EPOCH}, not {since!r}")
        out["routine_from"] = since
    return out


# --------------------------------------------------------------------- energy state

def _epoch(where: str, value: Any) -> float | int:
    """An instant of the log: a finite number of epoch seconds in [0, MAX_EPOCH]."""
    value = _number(where, value)
    if not 0 <= value <= MAX_EPOCH:    # also refuses NaN and the infinities
        raise ValueError(f"{where} must be an epoch time from 0 to {MAX_EPOCH} "
                         f"(9999-12-31), not {value!r}")
    return value


def _room_override(where: str, raw: Any, room_ids: set[str], keys: set[str],
                   modes: tuple[str, ...]) -> dict[str, Any]:
    entry = _mapping(where, raw, keys)
    mode = _choice(f"{where}.mode", entry.get("mode"), modes)
    for key in keys - {"room", "temp"} - ({"end"} if mode == "home" else set()):
        if key not in entry:
            raise ValueError(f"{where}.{key} is missing")
    if "room" in keys:
        room = _str(f"{where}.room", entry.get("room"))
        if room not in room_ids:
            raise ValueError(f"{where}.room {room!r} is no room of this home")
        entry["room"] = room
    if mode == "home":                           # back to the home mode: no set point
        entry.update(temp=None, end=0)
    else:
        entry["temp"] = setpoint(f"{where}.temp", entry.get("temp"))
    for key in ("at", "start", "end"):
        if key in entry:
            entry[key] = _epoch(f"{where}.{key}", entry[key])
    return entry


def check_state(where: str, raw: Any, room_ids: set[str], home_id: str = "",
                fp_rooms: set[str] | frozenset[str] = frozenset()) -> dict[str, Any]:
    """A home's energy event log (``energy_state``'s format), normalised; raises
    ValueError naming the entry. The accepted shape (what ``world export`` gives)::

        state:
          base: {at, mode: {mode, start, end}, rooms: {<room id>: {mode, temp, start, end}}}
          events:                          # at most WORLD_EVENTS, sorted by ``at``
            - {at, kind: mode, mode: schedule|away|hg|off, end}
            - {at, kind: room, room: <room id>, mode: manual|max|home, temp, end}
            - {at, kind: schedules, schedules: [<schedules, as the home's>]}
          schedules_created: 3             # createnewhomeschedule's counter

    Instants are epoch seconds from 0 to MAX_EPOCH (``end`` 0: none); ``temp`` a set
    point (``null`` for ``home``); a base room's mode manual or max; no event before
    ``base.at``; a ``schedules`` list is checked as the home's own (ids unique, one
    selected per type, the first when none is)."""
    if raw is None:
        return {}
    st = _mapping(where, raw, {"base", "events", "schedules_created"})
    out: dict[str, Any] = {}
    since = 0.0
    if st.get("base") is not None:
        bw = f"{where}.base"
        base = _mapping(bw, st["base"], {"at", "mode", "rooms"})
        if "at" not in base or "mode" not in base:
            raise ValueError(f"{bw} needs at and mode")
        since = _epoch(f"{bw}.at", base["at"])
        mw = f"{bw}.mode"
        mode = _mapping(mw, base["mode"], {"mode", "start", "end"})
        for key in ("mode", "start", "end"):
            if key not in mode:
                raise ValueError(f"{mw}.{key} is missing")
        made: dict[str, Any] = {
            "at": since,
            "mode": {"mode": _choice(f"{mw}.mode", mode["mode"], THERM_MODES),
                     "start": _epoch(f"{mw}.start", mode["start"]),
                     "end": _epoch(f"{mw}.end", mode["end"])}}
        rooms_raw = base.get("rooms") or {}
        if not isinstance(rooms_raw, dict):
            raise ValueError(f"{bw}.rooms must be a mapping of room id to override")
        rooms = {}
        for rid, entry in rooms_raw.items():
            if rid not in room_ids:
                raise ValueError(f"{bw}.rooms: {rid!r} is no room of this home")
            rooms[rid] = _room_override(f"{bw}.rooms[{rid!r}]", entry, room_ids,
                                        {"mode", "temp", "start", "end"}, ("manual", "max"))
        made["rooms"] = rooms
        out["base"] = made
    evs = _list(f"{where}.events", st.get("events"))
    if len(evs) > WORLD_EVENTS:
        raise ValueError(f"{where}.events holds {len(evs)} events; at most {WORLD_EVENTS} "
                         "(older ones fold into base)")
    events: list[dict[str, Any]] = []
    for i, raw_event in enumerate(evs):
        ew = f"{where}.events[{i}]"
        kind = raw_event.get("kind") if isinstance(raw_event, dict) else None
        if kind == "mode":
            event = _mapping(ew, raw_event, {"at", "kind", "mode", "end"})
            for key in ("at", "mode", "end"):
                if key not in event:
                    raise ValueError(f"{ew}.{key} is missing")
            event.update(at=_epoch(f"{ew}.at", event["at"]),
                         mode=_choice(f"{ew}.mode", event["mode"], THERM_MODES),
                         end=_epoch(f"{ew}.end", event["end"]))
        elif kind == "room":
            event = _room_override(ew, raw_event, room_ids,
                                   {"at", "kind", "room", "mode", "temp", "end"},
                                   ("manual", "max", "home"))
        elif kind == "schedules":
            event = _mapping(ew, raw_event, {"at", "kind", "schedules"})
            if "at" not in event or not isinstance(event.get("schedules"), list):
                raise ValueError(f"{ew} needs at and a schedules list")
            event["at"] = _epoch(f"{ew}.at", event["at"])
            event["schedules"] = check_schedules(f"{ew}.schedules", event["schedules"],
                                                 room_ids, home_id, fp_rooms)
        else:
            raise ValueError(f"{ew}.kind must be one of mode, room, schedules, not "
                             f"{kind!r}" if isinstance(raw_event, dict)
                             else f"{ew} must be a mapping")
        if event["at"] < (events[-1]["at"] if events else since):
            raise ValueError(f"{ew}.at {event['at']} comes before the previous "
                             f"{'event' if events else 'base.at'} "
                             f"({events[-1]['at'] if events else since}): the log is in "
                             "time order")
        events.append(event)
    if events or "events" in st:
        out["events"] = events
    if "schedules_created" in st:
        out["schedules_created"] = _int(f"{where}.schedules_created",
                                        st["schedules_created"], 0)
    return out


def _timezone(where: str, value: Any) -> str:
    from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

    name = _str(where, value)
    try:
        ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        raise ValueError(f"{where} {name!r} is no IANA time zone (e.g. Europe/Paris)") \
            from None
    return name


# --------------------------------------------------------------------- build / export

def build(section: dict[str, Any], users: list[WorldUser], seed: int) -> list[DocRow]:
    if section:
        raise ValueError(f"unknown field(s) {', '.join(sorted(section))}")
    rows: list[DocRow] = [(META, "world", {"seed": seed})]
    homes_seen: set[str] = set()
    for user in users:
        rows += _user(user, seed, homes_seen)
    return rows + indexes(rows, seed)


def schedule_ids(home: dict[str, Any]) -> set[str]:
    """The ids of a home document's schedules, in force or in the log."""
    lists = [home.get("schedules") or []]
    lists += [e["schedules"] for e in (home.get("state") or {}).get("events") or ()
              if e.get("kind") == "schedules"]
    return {s.get("id") for sl in lists for s in sl}


def named_ids(home: dict[str, Any]) -> set[str]:
    """The ids a home document names: its own, its owner's, and every schedule's (a
    new schedule's id must be none of another home's)."""
    return {home.get("id"), home.get("owner"), *schedule_ids(home)}


Found = tuple[dict[str, Any], dict[str, Any], str]      # device, its parent, family
PARENT_KIND = {family: kind for kind, (_, family) in FAMILIES.items()}


def all_devices(store: Store, tenant: str) -> list[Found]:
    """(device, its parent document, family) for every device, in the admin API's
    order (homes, stations, home coaches, each by id)."""
    out: list[Found] = []
    for _, home in sorted(store.list(tenant, HOME), key=lambda kv: kv[0]):
        out += [(m, home, "home") for m in home["modules"]]
    for kind, family in ((stations.STATION_KIND, "station"),
                         (stations.HOMECOACH_KIND, "homecoach")):
        for _, doc in sorted(store.list(tenant, kind), key=lambda kv: kv[0]):
            out.append((doc, doc, family))
            out += [(m, doc, family) for m in doc.get("modules", [])]
    return out


def find_device(store: Store, tenant: str, device_id: str) -> Found | None:
    """(device, its parent document, family) of ``device_id`` (spaces and case
    aside), the first in ``all_devices``'s order: its parent found by the world's
    index (``DEVICE_AT``); in a state from before it, among every device."""
    wanted = device_id.replace(" ", "").lower()
    at = lookup.get(store, tenant, DEVICE_AT, wanted)
    if at is lookup.UNINDEXED:
        found: list[Found] = all_devices(store, tenant)
    else:
        parent = store.get(tenant, PARENT_KIND[at[0]], at[1]) if at else None
        found = [] if parent is None else [
            (d, parent, at[0]) for d in (parent, *parent.get("modules", ()))
            if d is not parent or at[0] != "home"]
    return next((x for x in found if x[0]["id"] == wanted), None)


def indexes(rows: list[DocRow], seed: int) -> list[DocRow]:
    """The world's lookups by id (``core.lookup``), from its documents:

    * ``DEVICE_AT``: every device (a home's module, a station or home coach and their
      modules) -> ``[family, the key of the document that holds it]``, the first in
      the admin API's order (homes, stations, home coaches, each by id);
    * ``CAMERA_AT``: a camera's VPN path -> ``[home id, camera id]`` (the home first by
      id);
    * ``SCHEDULE_HOMES``: a schedule id (24 hex digits) -> the homes that name it, in
      force or in the log (``schedule_ids``), sorted."""
    devices: dict[str, list[str]] = {}
    cameras: dict[str, list[str]] = {}
    named: dict[str, set[str]] = {}
    rank_of = {family: rank for rank, family in FAMILIES.values()}
    for kind, key, doc in rows:
        if kind not in FAMILIES:
            continue
        rank, family = FAMILIES[kind]
        at = [family, key]
        mods = doc.get("modules") or ()
        for ident in [m["id"] for m in mods] if kind == HOME \
                else [doc["id"], *(m["id"] for m in mods)]:
            old = devices.setdefault(ident, at)
            if old is not at and (rank, key) < (rank_of[old[0]], old[1]):
                devices[ident] = at
        if kind != HOME:
            continue
        for mod in mods:
            if mod["type"] in CAMERAS:
                path = home_devices.vpn_path(seed, mod["id"])
                if path not in cameras or key < cameras[path][0]:
                    cameras[path] = [key, mod["id"]]
        for ident in schedule_ids(doc):
            if is_hex24(ident):
                named.setdefault(ident, set()).add(key)
    return [*lookup.rows(DEVICE_AT, devices),
            *lookup.rows(CAMERA_AT, cameras),
            *lookup.rows(SCHEDULE_HOMES, {i: sorted(h) for i, h in named.items()})]


def _user(user: WorldUser, seed: int, homes_seen: set[str]) -> list[DocRow]:
    where, uid, raw = user.where, user.id, user.fields
    if not is_hex24(uid):
        raise ValueError(f"{where}.id must be 24 hex digits (a Netatmo user id), not "
                         f"{uid!r}; leave it out to have one made from the seed")
    unknown = set(raw) - USER_KEYS
    if unknown:
        raise ValueError(f"{where}: unknown field(s) {', '.join(sorted(unknown))}")
    account: dict[str, Any] = {"id": uid, "email": user.doc.get("email", user.doc["login"])}
    for key, default in ACCOUNT_FIELDS.items():
        value = raw.get(key, default)
        if type(value) is not type(default):
            raise ValueError(f"{where}.{key} must be a {type(default).__name__}")
        account[key] = value
    rows: list[DocRow] = []
    homes = []
    for i, entry in enumerate(_list(f"{where}.homes", raw.get("homes"))):
        home = check_home(f"{where}.homes[{i}]", entry, uid, i)
        if home["id"] in homes_seen:
            raise ValueError(f"{where}.homes[{i}]: home id {home['id']} is used twice")
        homes_seen.add(home["id"])
        homes.append(home["id"])
        rows.append((HOME, home["id"], home))
    account["homes"] = homes
    for key in ("stations", "homecoaches"):
        entries = _list(f"{where}.{key}", raw.get(key))
        made = list(STATION_FUNCTIONS[key][0](entries, uid, f"{where}.{key}", seed)) \
            if entries else []
        account[key] = [[kind, ident] for kind, ident, _ in made]
        rows += made
    rows.append((ACCOUNT, uid, account))
    return rows


STATION_FUNCTIONS = {  # stations.py's, per user key
    "stations": (stations.build_stations, stations.export_station,
                 stations.generate_stations),
    "homecoaches": (stations.build_homecoaches, stations.export_homecoach,
                    stations.generate_homecoaches),
}


def export(store: Store, tenant: str, users: list[dict[str, Any]]
           ) -> tuple[dict[str, dict[str, Any]], dict[str, Any]]:
    per_user: dict[str, dict[str, Any]] = {}
    for u in users:
        account = store.get(tenant, ACCOUNT, u["id"])
        if account is None:
            continue
        entry: dict[str, Any] = {k: account[k] for k in ACCOUNT_FIELDS
                                 if account.get(k) != ACCOUNT_FIELDS[k]}
        homes = [store.get(tenant, HOME, h) for h in account.get("homes", [])]
        entry["homes"] = [export_home(h) for h in homes if h is not None]
        for key in ("stations", "homecoaches"):
            docs = [store.get(tenant, kind, ident) for kind, ident in account.get(key, [])]
            exported = [STATION_FUNCTIONS[key][1](d) for d in docs if d is not None]
            if exported:
                entry[key] = exported
        per_user[u["id"]] = entry
    return per_user, {}


def export_home(doc: dict[str, Any]) -> dict[str, Any]:
    """The home as a world file holds it: its energy log without the index of sealed
    chunks (history older than ``base`` is not exported)."""
    out = {k: v for k, v in doc.items() if k not in ("owner", "state")}
    state = {k: v for k, v in (doc.get("state") or {}).items()
             if k not in ("chunks", "sealed", "log", "pending")}
    if state:
        out["state"] = state
    return out


# --------------------------------------------------------------------- world generate

ROOM_TYPES = [("Living room", "livingroom"), ("Kitchen", "kitchen"),
              ("Bedroom", "bedroom"), ("Bathroom", "bathroom"), ("Office", "home_office")]
CITIES = [("Europe/Paris", "FR", 2.35, 48.85, 35), ("Europe/Berlin", "DE", 13.38, 52.52, 34),
          ("Europe/Brussels", "BE", 4.35, 50.85, 13), ("Europe/Rome", "IT", 12.5, 41.9, 21),
          ("Europe/London", "GB", -0.12, 51.5, 11), ("Europe/Madrid", "ES", -3.7, 40.42, 657)]


def _mac(rng: random.Random, prefix: str) -> str:
    return prefix + ":".join(f"{rng.randrange(256):02x}" for _ in range(3))


def week_timetable(rng: random.Random) -> list[dict[str, int]]:
    """A realistic week: nights in zone 1 (Night), mornings and evenings in 0
    (Comfort), working days away (4, Eco) from 8:30 to 17:30 on weekdays."""
    wake, sleep = rng.choice([(6, 22), (7, 23), (6, 23)])
    slots: list[dict[str, int]] = []
    for day in range(7):
        base = day * 24 * 60
        if day < 5:
            slots += [{"zone_id": 0, "m_offset": base + wake * 60},
                      {"zone_id": 4, "m_offset": base + 8 * 60 + 30},
                      {"zone_id": 0, "m_offset": base + 17 * 60 + 30}]
        else:
            slots.append({"zone_id": 0, "m_offset": base + (wake + 2) * 60})
        slots.append({"zone_id": 1, "m_offset": base + sleep * 60})
    return [{"zone_id": 1, "m_offset": 0}, *slots]


def therm_zones(room_ids: list[str], comfort: float = 20) -> list[dict[str, Any]]:
    def rooms(t: float) -> list[dict[str, Any]]:
        return [{"id": r, "therm_setpoint_temperature": t} for r in room_ids]

    return [{"id": 0, "name": "Comfort", "type": 0, "rooms": rooms(comfort)},
            {"id": 1, "name": "Night", "type": 1, "rooms": rooms(comfort - 3)},
            {"id": 4, "name": "Eco", "type": 5, "rooms": rooms(comfort - 4)}]


def generate_home(fake: Faker, rng: random.Random, index: int) -> dict[str, Any]:
    """A heating home: 2-3 rooms, a relay, a thermostat in the first room, a valve in
    each other, a selected week schedule and a second, warmer one."""
    tz, country, lon, lat, altitude = rng.choice(CITIES)
    names = rng.sample(ROOM_TYPES, rng.randrange(2, 4))
    hid = hex_id("generated-home", index, rng.random())
    rooms = [{"id": str(1_000_000_000 + index * 10 + i), "name": n, "type": t}
             for i, (n, t) in enumerate(names)]
    relay = _mac(rng, "70:ee:50:")
    modules: list[dict[str, Any]] = [{"id": relay, "type": "NAPlug", "name": "Relay"}]
    modules.append({"id": _mac(rng, "04:00:00:"), "type": "NATherm1", "name": "Thermostat",
                    "room_id": rooms[0]["id"], "bridge": relay})
    for room in rooms[1:]:
        modules.append({"id": _mac(rng, "09:00:00:"), "type": "NRV",
                        "name": f"Valve {room['name']}", "room_id": room["id"],
                        "bridge": relay})
    room_ids = [r["id"] for r in rooms]
    schedules = [
        {"id": hex_id("generated-schedule", hid, 0), "name": "Week", "type": "therm",
         "selected": True, "hg_temp": 7, "away_temp": 12, "zones": therm_zones(room_ids),
         "timetable": week_timetable(rng)},
        {"id": hex_id("generated-schedule", hid, 1), "name": "Winter", "type": "therm",
         "hg_temp": 7, "away_temp": 14, "zones": therm_zones(room_ids, 21),
         "timetable": week_timetable(rng)},
    ]
    return {"id": hid, "name": f"{fake.last_name()} home", "timezone": tz,
            "coordinates": [lon, lat], "altitude": altitude, "country": country,
            "therm_setpoint_default_duration": 180, "therm_mode": "schedule",
            "temperature_control_mode": "heating", "rooms": rooms, "modules": modules,
            "schedules": schedules}


def generate(fake: Faker, rng: random.Random, index: int) -> dict[str, Any]:
    out: dict[str, Any] = {"homes": [generate_home(fake, rng, index)]}
    for key in ("stations", "homecoaches"):
        out[key] = STATION_FUNCTIONS[key][2](fake, rng, index)
    return out
