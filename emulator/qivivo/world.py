"""Qivivo's part of a world file: each user's house.

::

    qivivo:
      apps:                         # the core's app fields, plus refresh_without_secret
        - {client_id: qivivo-ci, client_secret: ..., owner: demo@qivivo.test,
           default_scope: "read_devices ...", refresh_without_secret: true}
      users:
        - email: demo@qivivo.test
          password: demo
          house:
            name: Demo house
            timezone: Europe/Paris            # default
            place: {lat: 48.8566, lon: 2.3522, altitude: 35}   # its weather
            setup: 1551398400                 # epoch seconds (default: 2019-03-01)
            settings: {presence_temperature_1: 19, ...}   # any of the seven, 0.5 steps
            days_of_absence_before_alert: 3
            thermostat: {uuid: ..., serial: TH-000123, softwareVersion: "1.8.2"}
            gateway: {uuid: ..., serial: GW-000045, softwareVersion: "2.1.0"}  # or null
            programs: [{name: Semaine Travail, program: {monday: [periods...], ...}}]
            active_program: 1
            modules:                          # pilot-wire modules
              - {uuid: ..., serial: "00:1e:c0:...", name: Bedroom, mode: program,
                 active_program: 1, programs: [{name: ..., program: {...}}]}
              - {uuid: ..., name: Kitchen, mode: zone}   # follows the thermostat zone
            # optional, what export writes: the state in force (epoch seconds)
            instruction: {temperature: 21.5, start: ..., end: ...}
            absence: {start: ..., end: ...}
            arrival: {start: ..., end: ..., duration: 30}

Everything but ``house`` itself has a default: uuids and serials are made from the
world seed and the login, programs are a working week and a holiday week. Programs
are checked by the same JSON Schema as ``POST .../programs`` (English or French day
and setting names; English kept). A house at the same ``place`` as a Netatmo home
shares its outdoor weather (``physics.weather`` is a function of place, seed and t):
the default world's demo house is the Netatmo dev home's, in Paris.
"""

from __future__ import annotations

import hashlib
import random
import uuid as uuidlib
from typing import TYPE_CHECKING, Any

import orjson

from contracts.files import contracts_dir

from ..core import bodies
from ..core import world as core_world
from ..core.errors import MockcloudError
from ..core.store import Store
from ..core.vendor import DocRow, WorldUser
from . import control
from . import models as m

if TYPE_CHECKING:    # only annotations: Faker is imported by what generates worlds
    from faker import Faker

SCHEMAS = contracts_dir() / "schemas" / "qivivo"
HOUSE_KEYS = {"id", "name", "timezone", "place", "setup", "settings",
              "days_of_absence_before_alert", "thermostat", "gateway", "programs",
              "active_program", "modules", "instruction", "absence", "arrival"}
MODULE_KEYS = {"uuid", "serial", "softwareVersion", "name", "mode", "active_program",
               "programs"}
SETUP = 1551398400                  # 2019-03-01


def _period(a: str, b: str, setting: str) -> dict[str, str]:
    return {"period_start": a, "period_end": b, "temperature_setting": setting}


WORKDAY = [_period("00:00", "06:29", "night_temperature"),
           _period("06:30", "08:29", "presence_temperature_1"),
           _period("08:30", "17:59", "absence_temperature"),
           _period("18:00", "22:29", "presence_temperature_1"),
           _period("22:30", "23:59", "night_temperature")]
WEEKEND = [_period("00:00", "07:59", "night_temperature"),
           _period("08:00", "22:59", "presence_temperature_2"),
           _period("23:00", "23:59", "night_temperature")]
HOLIDAY = [_period("00:00", "07:59", "night_temperature"),
           _period("08:00", "22:59", "presence_temperature_1"),
           _period("23:00", "23:59", "night_temperature")]
MODULE_DAY = [_period("00:00", "06:29", "night_temperature"),
              _period("06:30", "07:59", "presence_temperature_1"),
              _period("08:00", "17:59", "presence_temperature_3"),
              _period("18:00", "21:59", "presence_temperature_2"),
              _period("22:00", "23:59", "frost_protection_temperature")]
DEFAULT_PROGRAMS = [
    {"name": "Semaine Travail",
     "program": {d: (WORKDAY if i < 5 else WEEKEND) for i, d in enumerate(control.DAYS)}},
    {"name": "Semaine Vacances", "program": {d: HOLIDAY for d in control.DAYS}},
]
DEFAULT_MODULE_PROGRAMS = [
    {"name": "Chambre", "program": {d: MODULE_DAY for d in control.DAYS}},
    {"name": "Hors-gel", "program": {d: [_period("00:00", "23:59",
                                                 "frost_protection_temperature")]
                                     for d in control.DAYS}},
]


def made_uuid(seed: int, *parts: str) -> str:
    """A version-4 UUID made from the seed and the parts (``uuid.UUID(bytes=...,
    version=4)`` of their hash, spelt out: a world makes tens of thousands)."""
    b = bytearray(hashlib.sha256(":".join(["qivivo", str(seed), *parts]).encode())
                  .digest()[:16])
    b[6] = (b[6] & 0x0F) | 0x40         # version 4
    b[8] = (b[8] & 0x3F) | 0x80         # RFC 4122 variant
    h = b.hex()
    return f"{h[:8]}-{h[8:12]}-{h[12:16]}-{h[16:20]}-{h[20:]}"


def _serial(seed: int, prefix: str, *parts: str) -> str:
    n = int(hashlib.sha256(":".join([str(seed), *parts]).encode()).hexdigest()[:6], 16)
    return f"{prefix}-{n % 1000000:06d}"


def _mac(seed: int, *parts: str) -> str:
    h = hashlib.sha256(":".join([str(seed), "mac", *parts]).encode()).hexdigest()
    return "00:1e:c0:" + ":".join(h[i:i + 2] for i in (0, 2, 4))


# programs already checked, by their JSON: a world's houses mostly repeat a few
# programs (every generated module has the default ones), checked once each
_CHECKED: dict[bytes, dict[str, Any]] = {}
_CHECKED_MAX = 1024


def _program(entry: Any) -> dict[str, Any]:
    """One ``{name, program}`` entry, checked and canonical (MockcloudError if bad);
    what it shares with other houses' is only ever serialised, never changed."""
    try:
        key = orjson.dumps(entry, option=orjson.OPT_SORT_KEYS)
    except TypeError:
        key = None
    done = _CHECKED.get(key) if key is not None else None
    if done is None:
        bodies.schema(SCHEMAS, "program-create-request").check(entry)
        done = {"name": entry["name"], "program": m.canonical_program(entry["program"])}
        if key is not None:
            if len(_CHECKED) >= _CHECKED_MAX:
                _CHECKED.clear()
            _CHECKED[key] = done
    return dict(done)


def _programs(where: str, raw: Any) -> list[dict[str, Any]]:
    if raw is None:
        return [dict(p) for p in DEFAULT_PROGRAMS]
    if not isinstance(raw, list) or not raw:
        raise ValueError(f"{where} must be a non-empty list of {{name, program}}")
    out = []
    for i, entry in enumerate(raw):
        try:
            out.append(_program(entry))
        except MockcloudError as exc:
            raise ValueError(f"{where}[{i}]: {exc.message}") from exc
    return out


def _active(where: str, raw: Any, programs: list) -> int:
    value = 1 if raw is None else raw
    if not isinstance(value, int) or isinstance(value, bool) or not 1 <= value <= len(programs):
        raise ValueError(f"{where} must be a program number, 1 to {len(programs)}")
    return value


def _device(where: str, raw: Any, seed: int, login: str, kind: str, prefix: str,
            version: str) -> dict[str, Any]:
    raw = {} if raw is None else raw
    if not isinstance(raw, dict):
        raise ValueError(f"{where} must be a mapping")
    unknown = set(raw) - {"uuid", "serial", "softwareVersion"}
    if unknown:
        raise ValueError(f"{where}: unknown field(s) {', '.join(sorted(unknown))}")
    dev = {"uuid": str(raw.get("uuid") or made_uuid(seed, login, kind)),
           "serial": str(raw.get("serial") or _serial(seed, prefix, login, kind)),
           "softwareVersion": str(raw.get("softwareVersion", version))}
    if raw.get("uuid"):
        _check_uuid(where, dev["uuid"])
    return dev


def _check_uuid(where: str, value: str) -> None:
    try:
        uuidlib.UUID(value)
    except ValueError:
        raise ValueError(f"{where}.uuid {value!r} is not a UUID (8-4-4-4-12 hex)") from None


def _number(where: str, value: Any, lo: float, hi: float) -> float:
    if not isinstance(value, int | float) or isinstance(value, bool) or not lo <= value <= hi:
        raise ValueError(f"{where} must be a number from {lo} to {hi}")
    return value


def _span(where: str, raw: Any, keys: tuple[str, ...]) -> dict[str, Any] | None:
    if raw is None:
        return None
    if not isinstance(raw, dict) or set(raw) != set(keys):
        raise ValueError(f"{where} must be a mapping of {', '.join(keys)}")
    for k in keys:
        _number(f"{where}.{k}", raw[k], 0, 1e11)
    if raw[keys[1]] < raw[keys[0]] and keys[1] == "end":
        raise ValueError(f"{where}.end is before its start")
    return dict(raw)


def build(section: dict[str, Any], users: list[WorldUser], seed: int) -> list[DocRow]:
    if section:
        raise ValueError(f"unknown field(s) {', '.join(sorted(section))}")
    rows: list[DocRow] = [(m.META, "world", {"seed": seed})]
    seen: set[str] = set()
    for user in users:
        unknown = set(user.fields) - {"house"}
        if unknown:
            raise ValueError(f"{user.where}: unknown field(s) {', '.join(sorted(unknown))}")
        if user.fields.get("house") is None:
            continue
        home = house(f"{user.where}.house", user.fields["house"], user.id,
                     user.doc["login"], seed)
        devices = [(home["thermostat"]["uuid"], "thermostat")]
        if home["gateway"]:
            devices.append((home["gateway"]["uuid"], "gateway"))
        devices += [(mod["uuid"], "wireless-module") for mod in home["modules"]]
        for ident, kind in devices:
            if ident in seen:
                raise ValueError(f"{user.where}: device uuid {ident} is used twice")
            seen.add(ident)
            rows.append((m.DEVICE, ident, {"owner": user.id, "type": kind}))
        rows.append((m.HOME, user.id, home))
    return rows


def house(where: str, raw: Any, owner: str, login: str, seed: int) -> dict[str, Any]:
    if not isinstance(raw, dict):
        raise ValueError(f"{where} must be a mapping")
    unknown = set(raw) - HOUSE_KEYS
    if unknown:
        raise ValueError(f"{where}: unknown field(s) {', '.join(sorted(unknown))}")
    at = core_world.place(f"{where}.place", raw.get("place"))   # a house of the world
    if at is not None:
        raw = {**raw, "place": {k: at[k] for k in ("lat", "lon", "altitude")}}
        raw.setdefault("timezone", at.get("timezone", "Europe/Paris"))
    tz = raw.get("timezone", "Europe/Paris")
    try:
        control.zone(str(tz))
    except Exception:
        raise ValueError(f"{where}.timezone {tz!r} is not an IANA time zone") from None
    place = raw.get("place", {"lat": 48.8566, "lon": 2.3522, "altitude": 35})
    if not isinstance(place, dict) or not {"lat", "lon"} <= set(place) \
            or set(place) - {"lat", "lon", "altitude"}:
        raise ValueError(f"{where}.place must be {{lat, lon, altitude}}")
    place = {"lat": _number(f"{where}.place.lat", place["lat"], -90, 90),
             "lon": _number(f"{where}.place.lon", place["lon"], -180, 180),
             "altitude": _number(f"{where}.place.altitude", place.get("altitude", 0),
                                 -500, 9000)}
    settings = dict(control.DEFAULT_SETTINGS)
    given = raw.get("settings") or {}
    if not isinstance(given, dict) or set(given) - set(control.SETTINGS):
        raise ValueError(f"{where}.settings takes {', '.join(control.SETTINGS)}")
    for k, v in given.items():
        settings[k] = control.half(_number(f"{where}.settings.{k}", v, 0, 40))
    alert = raw.get("days_of_absence_before_alert", 3)
    if not isinstance(alert, int) or isinstance(alert, bool) or alert < 0:
        raise ValueError(f"{where}.days_of_absence_before_alert must be an integer >= 0")
    programs = _programs(f"{where}.programs", raw.get("programs"))
    thermostat = _device(f"{where}.thermostat", raw.get("thermostat"), seed, login,
                         "thermostat", "TH", "1.8.2")
    gateway = None if "gateway" in raw and raw["gateway"] is None else _device(
        f"{where}.gateway", raw.get("gateway"), seed, login, "gateway", "GW", "2.1.0")
    modules, module_programs, module_state = [], {}, {}
    raw_modules = raw.get("modules", [])
    if not isinstance(raw_modules, list):
        raise ValueError(f"{where}.modules must be a list")
    for i, mod in enumerate(raw_modules):
        mw = f"{where}.modules[{i}]"
        if not isinstance(mod, dict) or set(mod) - MODULE_KEYS:
            raise ValueError(f"{mw} must be a mapping of {', '.join(sorted(MODULE_KEYS))}")
        ident = str(mod.get("uuid") or made_uuid(seed, login, "module", str(i)))
        if mod.get("uuid"):
            _check_uuid(mw, ident)
        modules.append({"uuid": ident, "name": str(mod.get("name", f"Module {i + 1}")),
                        "serial": str(mod.get("serial") or _mac(seed, login, str(i))),
                        "softwareVersion": str(mod.get("softwareVersion", "1.3.0"))})
        progs = _programs(f"{mw}.programs", mod.get("programs", DEFAULT_MODULE_PROGRAMS))
        module_programs[ident] = progs
        mode = mod.get("mode", "program")
        if mode not in ("program", "zone"):
            raise ValueError(f"{mw}.mode must be program or zone")
        module_state[ident] = {"mode": mode,
                               "active": _active(f"{mw}.active_program",
                                                 mod.get("active_program"), progs)}
    ins = _span(f"{where}.instruction", raw.get("instruction"),
                ("temperature", "start", "end"))
    setup = _number(f"{where}.setup", raw.get("setup", SETUP), 0, 1e11)
    return {
        "id": str(raw.get("id") or made_uuid(seed, login, "house")),
        "owner": owner, "name": str(raw.get("name", "Maison")), "timezone": str(tz),
        "place": place, "setup": setup,
        "thermostat": thermostat, "gateway": gateway, "modules": modules,
        "module_programs": module_programs,
        "base": {"settings": settings, "alert_days": alert, "programs": programs,
                 "active": _active(f"{where}.active_program", raw.get("active_program"),
                                   programs),
                 "instruction": ins,
                 "absence": _span(f"{where}.absence", raw.get("absence"), ("start", "end")),
                 "arrival": _span(f"{where}.arrival", raw.get("arrival"),
                                  ("start", "end", "duration")),
                 "modules": module_state},
        "events": [], "history": [],
    }


def export(store: Store, tenant: str, users: list[dict[str, Any]]
           ) -> tuple[dict[str, dict[str, Any]], dict[str, Any]]:
    """Each user's house with every event folded in (the state after the last write)."""
    per_user: dict[str, dict[str, Any]] = {}
    for u in users:
        home = store.get(tenant, m.HOME, u["id"])
        if home is None:
            continue
        state = control.fold(home["base"], home["events"])
        entry: dict[str, Any] = {
            "id": home["id"], "name": home["name"], "timezone": home["timezone"],
            "place": home["place"], "setup": home["setup"], "settings": state["settings"],
            "days_of_absence_before_alert": state["alert_days"],
            "thermostat": home["thermostat"], "gateway": home["gateway"],
            "programs": state["programs"], "active_program": state["active"],
            "modules": [{**mod, "mode": state["modules"][mod["uuid"]]["mode"],
                         "active_program": state["modules"][mod["uuid"]]["active"],
                         "programs": home["module_programs"][mod["uuid"]]}
                        for mod in home["modules"]],
        }
        for key in ("instruction", "absence", "arrival"):
            if state.get(key):
                entry[key] = state[key]
        per_user[u["id"]] = {"house": entry}
    return per_user, {}


# ------------------------------------------------------------------ world generate

ROOMS = ["Chambre", "Bureau", "Salle de bain", "Cuisine", "Salon", "Chambre d'amis"]


def generate(fake: Faker, rng: random.Random, index: int) -> dict[str, Any]:
    """One generated house: a thermostat, a gateway, 0-3 pilot-wire modules (some on
    their own program, some following the thermostat zone), somewhere in France."""
    n = rng.randrange(0, 4)
    modules = [{"name": room, "mode": rng.choice(["program", "zone"]),
                "active_program": rng.choice([1, 2])}
               for room in rng.sample(ROOMS, n)]
    settings = {"presence_temperature_1": rng.choice([18.5, 19.0, 19.5, 20.0]),
                "night_temperature": rng.choice([16.0, 16.5, 17.0, 17.5])}
    return {"house": {
        "name": f"Maison {fake.last_name()}",
        "place": {"lat": round(rng.uniform(43.3, 50.6), 4),
                  "lon": round(rng.uniform(-1.5, 7.5), 4),
                  "altitude": rng.randrange(0, 800)},
        "settings": settings, "active_program": rng.choice([1, 2]),
        "modules": modules,
    }}
