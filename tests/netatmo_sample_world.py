"""Worlds shaped like the real Netatmo samples, and the calls that answer them.

``../shared/real-samples/netatmo/manifest.json`` lists real-shaped answers (pyatmo's
fixtures). For each *response* or *error* sample, :func:`plan` derives from the sample
itself (never from a copy kept here):

* a world file (the ``netatmo`` section of a world, as ``PUT /_mockcloud/world``
  takes it) with the same homes, rooms, modules, schedules, stations, modules and home
  coaches, the same user and account settings;
* the call a client makes to get that answer (pyatmo's parameters), with a token of
  the scope it needs, or the OAuth request;
* notes on what the world format cannot say (dropped fields, conditions the emulator
  has no way to produce).

:func:`key_paths` turns a JSON document into its set of key paths, arrays collapsed to
``[]`` and data-named keys (MAC addresses, time stamps, other numbers) to ``<mac>`` /
``<n>``: ``body.devices[].dashboard_data.Temperature``, ``body.<n>`` for getmeasure's
``optimize=false`` form, ``body[].measures.<mac>.res.<n>`` for getpublicdata.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from emulator.netatmo.world import (
    HEATED_TYPES,
    MODULE_STATIC,
    ROOM_STATIC,
    SCHEDULE_STATIC,
    ZONE_STATIC,
)

SHARED = Path(__file__).resolve().parents[1].parent / "shared"
SAMPLES = SHARED / "real-samples" / "netatmo"
MANIFEST = SAMPLES / "manifest.json"

# issue 8 (counted in the share) and the next issue's security endpoints (shown only)
IN_SCOPE = ("/api/homesdata", "/api/homestatus", "/api/getstationsdata",
            "/api/gethomecoachsdata", "/api/getmeasure", "/api/getpublicdata",
            "/api/getthermostatsdata", "/oauth2/token", "/api/setthermmode",
            "/api/setroomthermpoint")
NEXT_ISSUE = ("/api/gethomedata", "/api/getevents", "/api/geteventsuntil", "/api/setstate")

CLIENT = ("netatmo-samples", "netatmo-samples-secret")
REDIRECT = "https://example.com/callback"
PASSWORD = "samples"
DEFAULT_USER_ID = "5a3c0e1f2b4d6a8c0e1f2b4d"
ALL_SCOPES = ("read_station read_thermostat write_thermostat read_homecoach read_camera "
              "write_camera access_camera read_presence access_presence")

MAC_KEY = re.compile(r"^[0-9a-f]{2}(:[0-9a-f]{2}){5,7}$", re.I)
NUMBER_KEY = re.compile(r"^-?\d+(\.\d+)?$")

# what a world entry may carry (emulator/netatmo/world.py, stations.py); everything
# else a sample has is either derived by the emulator or not expressible
HOME_DERIVED = {"rooms", "modules", "schedules", "therm_schedules", "persons"}
# modules: the world's fields and its static pass-through ones (world.MODULE_STATIC);
# reachable only where the world sets the initial state (homesdata computes it)
MODULE_WORLD = {"id", "type", "name", "room_id", "bridge", "setup_date",
                "firmware_revision", "reachable"} | MODULE_STATIC
MODULE_DERIVED = {"modules_bridged"}
ROOM_DERIVED = {"module_ids"}
SCHEDULE_WORLD = {"id", "name", "type", "selected", "default", "hg_temp", "away_temp",
                  "zones", "timetable"} | SCHEDULE_STATIC
SETPOINT = (5.0, 30.0)
STATION_TYPES = ("NAModule1", "NAModule2", "NAModule3", "NAModule4")


# issue 8's device families (energy: relay, thermostat, valve, OpenTherm; weather
# stations and the home coach); lights, shutters, meters, cameras, persons come next
ISSUE8_TYPES = frozenset({"NAPlug", "NATherm1", "NRV", "OTH", "OTM", "NAMain",
                          "NAModule1", "NAModule2", "NAModule3", "NAModule4", "NHC"})
TYPED = re.compile(r"\[([A-Za-z0-9]+)\]")
PERSONS = re.compile(r"\.persons(\[\])?(\.|$)")


def next_issue(path: str) -> bool:
    """A key path of what issue 8 leaves to the next ones: persons, and modules of
    other families (``modules[NLF].brightness``)."""
    return PERSONS.search(path) is not None or any(
        t not in ISSUE8_TYPES for t in TYPED.findall(path))


def key_paths(doc: Any, prefix: str = "") -> set[str]:
    """Every key path of a JSON document: arrays collapsed to ``[]``, except that an
    item of a ``modules`` list with a ``type`` is ``modules[<type>]`` (so a valve's
    keys are looked for on a valve)."""
    out: set[str] = set()
    if isinstance(doc, dict):
        for key, value in doc.items():
            name = ("<mac>" if MAC_KEY.match(key) else
                    "<n>" if NUMBER_KEY.match(key) else key)
            path = f"{prefix}.{name}" if prefix else name
            out.add(path)
            out |= key_paths(value, path)
    elif isinstance(doc, list):
        for item in doc:
            tag = item.get("type") if (prefix.endswith("modules") and isinstance(item, dict)
                                       and isinstance(item.get("type"), str)) else ""
            out |= key_paths(item, f"{prefix}[{tag}]")
    return out


def manifest() -> list[dict[str, Any]]:
    return json.loads(MANIFEST.read_text(encoding="utf-8"))


def load(name: str) -> Any:
    return json.loads((SAMPLES / name).read_text(encoding="utf-8"))


@dataclass
class Call:
    """How to get the emulator's answer: an API method with parameters and a token of
    ``scope`` (None: no token), or an OAuth token request (``oauth`` = what to do)."""

    path: str
    params: dict[str, Any] = field(default_factory=dict)
    scope: str | None = ALL_SCOPES
    oauth: str | None = None          # "code" (the flow) or "bad_code"


@dataclass
class Plan:
    file: str
    endpoint: str
    kind: str
    status: int | None
    counted: bool
    world: dict[str, Any]
    call: Call
    notes: list[str] = field(default_factory=list)
    clock: int | None = None          # freeze the tenant's clock here first


# ============================================================ world pieces

def _account(user: dict[str, Any] | None) -> dict[str, Any]:
    """World user fields from homesdata's ``user`` or getstationsdata's ``user``."""
    user = user or {}
    adm = user.get("administrative", {})
    email = user.get("email") or user.get("mail") or "john@doe.com"
    uid = user.get("id") if _hex24(user.get("id")) else DEFAULT_USER_ID
    out: dict[str, Any] = {"email": email, "password": PASSWORD, "id": uid}
    pairs = {"language": ("language", "lang"), "locale": ("locale", "reg_locale"),
             "country": ("country", "country"), "unit_system": ("unit_system", "unit"),
             "unit_wind": ("unit_wind", "windunit"),
             "unit_pressure": ("unit_pressure", "pressureunit"),
             "feel_like_algorithm": ("feel_like_algorithm", "feel_like_algo")}
    for key, (flat, nested) in pairs.items():
        if flat in user:
            out[key] = user[flat]
        elif nested in adm:
            out[key] = adm[nested]
    return out


def _hex24(value: Any) -> bool:
    return isinstance(value, str) and re.fullmatch(r"[0-9a-f]{24}", value) is not None


def _setpoint(value: Any, notes: list[str], where: str) -> float:
    lo, hi = SETPOINT
    v = float(value)
    fixed = min(hi, max(lo, round(v * 2) / 2))
    if fixed != v:
        notes.append(f"{where}: set point {value} outside {lo:g}..{hi:g} / 0.5 steps, "
                     f"loaded as {fixed:g}")
    return int(fixed) if fixed == int(fixed) else fixed


def _zone_rooms(zone: dict[str, Any], room_ids: set[str], notes: list[str],
                where: str) -> list[dict[str, Any]]:
    """A zone's rooms, from ``rooms`` and (older samples) ``rooms_temp``: a set point
    and/or a pilot-wire level (``therm_setpoint_fp``)."""
    rooms = []
    entries = [(r.get("id"), r.get("therm_setpoint_temperature"),
                r.get("therm_setpoint_fp"), r) for r in zone.get("rooms", [])]
    entries += [(r.get("room_id"), r.get("temp"), r.get("therm_setpoint_fp"), r)
                for r in zone.get("rooms_temp", [])]
    for rid, temp, fp, raw in entries:
        rid = str(rid)
        if rid not in room_ids:
            continue
        room: dict[str, Any] = {"id": rid}
        if temp is not None:
            room["therm_setpoint_temperature"] = _setpoint(temp, notes, where)
        if fp is not None:
            room["therm_setpoint_fp"] = fp
        if len(room) == 1:
            notes.append(f"{where}: room entry keys {sorted(set(raw) - {'id', 'room_id'})} "
                         "not expressible")
            continue
        rooms.append(room)
    seen: set[str] = set()
    return [r for r in rooms if not (r["id"] in seen or seen.add(r["id"]))]


def _schedule(raw: dict[str, Any], room_ids: set[str], notes: list[str],
              where: str) -> dict[str, Any] | None:
    kind = raw.get("type", "therm")
    extra = sorted(set(raw) - SCHEDULE_WORLD)
    if extra:
        notes.append(f"{where} ({kind}): {extra} not expressible in a world schedule")
    zones = []
    for z in raw.get("zones", []):
        zone = {"id": z["id"]}
        if "type" in z or kind in ("therm", "cooling"):
            zone["type"] = z.get("type", 0)
        if "rooms" in z or "rooms_temp" in z:
            zone["rooms"] = _zone_rooms(z, room_ids, notes, f"{where}.zones[{z['id']}]")
        if z.get("name"):
            zone["name"] = z["name"]
        zone.update({k: z[k] for k in ZONE_STATIC if k in z})
        zextra = sorted(set(z) - {"id", "name", "type", "rooms", "rooms_temp"} - ZONE_STATIC)
        if zextra:
            notes.append(f"{where}.zones[{z['id']}] ({kind}): {zextra} not expressible")
        zones.append(zone)
    zone_ids = {z["id"] for z in zones}
    timetable = sorted(({"zone_id": t["zone_id"], "m_offset": t["m_offset"]}
                        for t in raw.get("timetable", []) if t.get("zone_id") in zone_ids),
                       key=lambda t: t["m_offset"])
    if kind == "therm" and timetable and timetable[0]["m_offset"] != 0:
        timetable[0]["m_offset"] = 0
        notes.append(f"{where}: timetable moved to start at m_offset 0")
    if kind == "therm" and (not zones or not timetable):
        notes.append(f"{where}: a therm schedule without zones or timetable cannot be "
                     "loaded; left out")
        return None
    out: dict[str, Any] = {"id": raw["id"], "type": kind, "zones": zones,
                           "timetable": timetable}
    for key in ("name", "selected", "default", *sorted(SCHEDULE_STATIC)):
        if key in raw:
            out[key] = raw[key]
    for key in ("hg_temp", "away_temp"):
        if key in raw:
            out[key] = _setpoint(raw[key], notes, f"{where}.{key}")
    return out


def world_home(raw: dict[str, Any], notes: list[str], where: str,
               status: dict[str, Any] | None = None) -> dict[str, Any]:
    """A world home from a homesdata home (and, for homestatus, its status home:
    unreachable modules, the home's mode)."""
    home: dict[str, Any] = {"id": raw["id"]}
    for key in ("name", "timezone", "coordinates", "altitude", "country", "city",
                "therm_setpoint_default_duration", "therm_mode",
                "temperature_control_mode", "cooling_mode"):
        if key in raw:
            home[key] = raw[key]
    if home.get("therm_mode") not in (None, "schedule", "away", "hg", "off"):
        notes.append(f"{where}.therm_mode {home['therm_mode']!r} not expressible")
        home.pop("therm_mode")
    if raw.get("persons"):
        home["persons"] = [{"id": p["id"], **({"pseudo": p["pseudo"]} if p.get("pseudo")
                                              else {})}
                           for p in raw["persons"] if isinstance(p.get("id"), str)]
    extra = sorted(set(raw) - set(home) - HOME_DERIVED - {"id"})
    if extra:
        notes.append(f"{where}: {extra} not expressible")
    rooms = []
    for r in raw.get("rooms", []):
        room = {k: str(r[k]) for k in ("id", "name", "type") if k in r}
        room.update({k: r[k] for k in ROOM_STATIC if k in r})
        rooms.append(room)
        rextra = sorted(set(r) - {"id", "name", "type"} - ROOM_DERIVED - ROOM_STATIC)
        if rextra:
            notes.append(f"{where}.rooms[{r['id']}]: {rextra} not expressible")
    room_ids = {r["id"] for r in rooms}
    modules, dropped = [], set()
    for m in raw.get("modules", []):
        mod = {k: m[k] for k in MODULE_WORLD if k in m}
        if "room_id" in mod and mod["room_id"] not in room_ids:
            notes.append(f"{where}.modules[{mod['id']}]: room_id {mod.pop('room_id')} is "
                         "no room of the sample's home (the world wants a real room)")
        mextra = sorted(set(m) - MODULE_WORLD - MODULE_DERIVED)
        if mextra:
            dropped.update(mextra)
        modules.append(mod)
    if dropped:
        notes.append(f"{where}.modules: {sorted(dropped)} not expressible")
    if status:
        known = {m["id"] for m in modules}
        for sm in status.get("modules", []):
            if sm["id"] not in known:
                modules.append({k: sm[k] for k in ("id", "type", "bridge") if k in sm})
                notes.append(f"{where}: module {sm['id']} only in the status sample, "
                             "added")
        for err in status.get("errors", []):
            for mod in modules:
                if mod["id"] == err.get("id") and err.get("code") == 6:
                    mod["reachable"] = False
        by_id = {m["id"]: m for m in status.get("modules", [])}
        for mod in modules:
            if by_id.get(mod["id"], {}).get("reachable") is False:
                mod["reachable"] = False
        modes = {r.get("therm_setpoint_mode") for r in status.get("rooms", [])}
        if modes & {"away", "hg"}:
            mode = "away" if "away" in modes else "hg"
            home["therm_mode"] = mode
            notes.append(f"{where}: rooms in {sorted(m for m in modes if m)}; home loaded "
                         f"in therm_mode {mode} (a per-room mode is not expressible)")
        elif modes & {"manual", "max"}:
            notes.append(f"{where}: manual room set points not expressible in the world")
    module_ids = {m["id"] for m in modules}
    for mod in modules:
        if mod.get("bridge") not in module_ids or mod.get("bridge") == mod["id"]:
            mod.pop("bridge", None)
    schedules = []
    for i, s in enumerate(raw.get("schedules") or raw.get("therm_schedules") or []):
        sch = _schedule(s, room_ids, notes, f"{where}.schedules[{i}]")
        if sch is not None:
            schedules.append(sch)
    for kind in {s["type"] for s in schedules}:
        chosen = [s for s in schedules if s["type"] == kind and s.get("selected")]
        for extra_sel in chosen[1:]:
            extra_sel["selected"] = False
    heated = {m["room_id"] for m in modules if m["type"] in HEATED_TYPES and "room_id" in m}
    for sch in schedules:  # a heated room needs a set point (a level alone: pilot wire)
        for zone in sch["zones"]:
            if "rooms" not in zone:
                continue
            kept = [r for r in zone["rooms"] if "therm_setpoint_temperature" in r
                    or r["id"] not in heated]
            if len(kept) != len(zone["rooms"]):
                notes.append(f"{where}: a room with a thermostat or valve has a pilot-wire "
                             "level but no set point in a zone: left out of it")
            zone["rooms"] = kept
    forms = []
    if any("rooms_temp" in z for s in raw.get("schedules") or [] for z in s.get("zones", [])):
        forms.append("rooms_temp")
    if "therm_schedules" in raw:
        forms.append("therm_schedules")
    if forms:  # the legacy forms the sample's cloud answered beside the current ones
        home["legacy_schedule_forms"] = forms
    home.update(rooms=rooms, modules=modules, schedules=schedules)
    return home


def _place(raw: dict[str, Any]) -> dict[str, Any]:
    place: dict[str, Any] = {}
    for key in ("city", "country", "timezone", "altitude", "street"):
        if raw.get(key) not in (None, ""):
            place[key] = raw[key]
    if isinstance(raw.get("location"), list) and len(raw["location"]) == 2:
        place["lon"], place["lat"] = raw["location"]
    return place


def _mac(value: str, notes: list[str], where: str) -> str:
    clean = re.sub(r"\s+", "", value).lower()
    if clean != value:
        notes.append(f"{where}: id {value!r} (as in the sample) loaded as {clean!r}")
    return clean


def world_station(dev: dict[str, Any], notes: list[str], where: str,
                  homecoach: bool = False) -> dict[str, Any]:
    st: dict[str, Any] = {"id": _mac(dev["_id"], notes, where),
                          "place": _place(dev.get("place", {}))}
    for key in ("station_name", "module_name", "home_id", "home_name", "firmware",
                "wifi_status", "reachable", "co2_calibrating", "date_setup",
                "last_upgrade", "favorite", "read_only"):
        if key in dev and not (homecoach and key in ("home_id", "home_name", "favorite",
                                                     "read_only")):
            st[key] = dev[key]
    if "date_setup" not in st and "last_setup" in dev:
        st["date_setup"] = dev["last_setup"]
    if dev.get("reachable") is False and "last_status_store" in dev:
        st["last_seen"] = dev["last_status_store"]
    if not homecoach:
        mods = []
        for m in dev.get("modules", []):
            if m.get("type") not in STATION_TYPES:
                notes.append(f"{where}: module type {m.get('type')} not a station module")
                continue
            mod: dict[str, Any] = {"id": _mac(m["_id"], notes, where), "type": m["type"]}
            for key in ("module_name", "firmware", "rf_status", "reachable"):
                if key in m:
                    mod[key] = m[key]
            if "date_setup" in m or "last_setup" in m:
                mod["date_setup"] = m.get("date_setup", m.get("last_setup"))
            if m.get("reachable") is False and "last_seen" in m:
                mod["last_seen"] = m["last_seen"]
            mods.append(mod)
        st["modules"] = mods
    return st


def _world(user: dict[str, Any], **fields: Any) -> dict[str, Any]:
    app = {"client_id": CLIENT[0], "client_secret": CLIENT[1], "name": "samples",
           "redirect_uris": [REDIRECT], "scopes": ALL_SCOPES.split(),
           "default_scope": "read_station", "auto_approve": True,
           "auto_approve_user": user["email"]}
    return {"netatmo": {"quotas": {"enabled": False, "rules": []}, "apps": [app],
                        "users": [{**user, **fields}]}}


DEFAULT_STATION = {"id": "70:ee:50:00:00:14", "station_name": "Home",
                   "modules": [{"id": "02:00:00:00:00:14", "type": "NAModule1"}]}


# ============================================================ per endpoint

def _homes_sources() -> dict[str, list[tuple[str, dict[str, Any], dict[str, Any]]]]:
    """Home id -> [(sample file, homesdata home, homesdata user)] over every homesdata
    sample (a homestatus or getmeasure sample is answered on its home's topology)."""
    out: dict[str, list] = {}
    for entry in manifest():
        if entry["endpoint"] == "/api/homesdata" and entry["kind"] == "response":
            body = load(entry["file"]).get("body", {})
            for home in body.get("homes", []):
                out.setdefault(home["id"], []).append((entry["file"], home,
                                                       body.get("user", {})))
    return out


def _topology_for(home_id: str, module_ids: set[str]
                  ) -> tuple[str, dict[str, Any], dict[str, Any]] | None:
    candidates = _homes_sources().get(home_id, [])
    if not candidates:
        return None
    return max(candidates, key=lambda c: (len(module_ids & {m["id"] for m in c[1].get(
        "modules", [])}), -len(c[1].get("modules", []))))


def _plan_homesdata(sample: dict[str, Any], notes: list[str]) -> tuple[dict, Call]:
    body = sample.get("body", {})
    homes = [world_home(h, notes, f"homes[{i}]") for i, h in enumerate(body.get("homes",
                                                                             []))]
    return _world(_account(body.get("user")), homes=homes), Call("homesdata")


def _plan_homestatus(file: str, sample: dict[str, Any], notes: list[str]
                     ) -> tuple[dict, Call]:
    home = sample.get("body", {}).get("home")
    named = re.search(r"[0-9a-f]{24}", file)
    if home and "id" not in home:
        home = {**home, "id": named.group(0) if named else "91763b24c43d3e344f424e8b"}
        notes.append(f"the sample's home has no id: {home['id']} (from the file name)")
    if not home:  # an empty body: the call that answers nothing for a home
        hid = "91763b24c43d3e344f424e8b"
        notes.append("empty body: a home with no modules")
        user = _account(None)
        return (_world(user, homes=[{"id": hid, "name": "Home"}]),
                Call("homestatus", {"home_id": hid}))
    status = {**home, "errors": sample["body"].get("errors", [])}
    mids = {m["id"] for m in home.get("modules", [])} | {
        e.get("id") for e in status["errors"]}
    topo = _topology_for(home["id"], mids)
    if topo is None:
        notes.append("no homesdata sample has this home: topology from the status sample")
        raw = {"id": home["id"], "name": "Home",
               "rooms": [{"id": r["id"]} for r in home.get("rooms", [])], "modules": []}
        user = _account(None)
    else:
        notes.append(f"topology from {topo[0]}")
        raw, user = topo[1], _account(topo[2])
    world_home_ = world_home(raw, notes, "home", status=status)
    return (_world(user, homes=[world_home_]),
            Call("homestatus", {"home_id": home["id"]}))


def _plan_stations(sample: dict[str, Any], notes: list[str]) -> tuple[dict, Call]:
    body = sample.get("body", {})
    devs = body.get("devices", [])
    stations = [world_station(d, notes, f"devices[{i}]") for i, d in enumerate(devs)]
    seen: set[str] = set()
    for st in stations:  # one id, one device: a module listed under two stations
        for ident in [st] + st.get("modules", []):
            if ident["id"] in seen:
                old, n = ident["id"], 0
                while ident["id"] in seen:
                    n += 1
                    ident["id"] = f"{old[:-2]}{(int(old[-2:], 16) + n) % 256:02x}"
                notes.append(f"id {old} is used twice in the sample (the world wants one "
                             f"device per id): the second loaded as {ident['id']}")
            seen.add(ident["id"])
    params = {"get_favorites": "true"} if any(d.get("favorite") for d in devs) else {}
    return _world(_account(body.get("user")), stations=stations), Call("getstationsdata",
                                                                        params)


def _plan_homecoach(sample: dict[str, Any], notes: list[str]) -> tuple[dict, Call]:
    body = sample.get("body", {})
    coaches = [world_station(d, notes, f"devices[{i}]", homecoach=True)
               for i, d in enumerate(body.get("devices", []))]
    return _world(_account(body.get("user")), homecoaches=coaches), Call(
        "gethomecoachsdata")


def _plan_thermostats(sample: dict[str, Any], notes: list[str]) -> tuple[dict, Call]:
    body = sample.get("body", {})
    homes = []
    for i, dev in enumerate(body.get("devices", [])):
        place = dev.get("place", {})
        hid = re.sub(r"[^0-9a-f]", "", dev["_id"]).ljust(24, "0")[:24]
        rooms, modules, zones_by = [], [{"id": dev["_id"], "type": dev.get("type",
                                                                           "NAPlug"),
                                          "name": dev.get("station_name", "Relay")}], {}
        schedules: list[dict[str, Any]] = []
        for j, m in enumerate(dev.get("modules", [])):
            rid = str(1000000000 + i * 100 + j)
            rooms.append({"id": rid, "name": m.get("module_name", f"Room {j + 1}")})
            modules.append({"id": m["_id"], "type": m.get("type", "NATherm1"),
                            "name": m.get("module_name", m["_id"]), "room_id": rid,
                            "bridge": dev["_id"]})
            for p in m.get("therm_program_list", []):
                zones, hg, away = [], 7, 12
                for z in p.get("zones", []):
                    if z.get("type") == 2:
                        away = z.get("temp", away)
                    elif z.get("type") == 3:
                        hg = z.get("temp", hg)
                    else:
                        zones.append({"id": z["id"], "type": z.get("type", 0),
                                      "name": z.get("name", f"Zone {z['id']}"),
                                      "rooms_temp": [{"room_id": rid, "temp": z["temp"]}]})
                timetable = [{"zone_id": t["id"], "m_offset": t["m_offset"]}
                             for t in p.get("timetable", [])]
                zones_by[p["program_id"]] = {"id": p["program_id"], "name": p.get("name"),
                                             "type": "therm", "hg_temp": hg,
                                             "away_temp": away, "zones": zones,
                                             "timetable": timetable,
                                             "selected": p.get("selected", False)}
            mode = m.get("setpoint", {}).get("setpoint_mode")
            if mode in ("away", "hg", "off"):
                notes.append(f"thermostat in setpoint_mode {mode}: home loaded in "
                             f"therm_mode {mode}")
        schedules = list(zones_by.values())
        raw = {"id": hid, "name": dev.get("station_name", "Home"),
               **({"city": place["city"]} if place.get("city") else {}),
               "timezone": place.get("timezone", "Europe/Paris"),
               "country": place.get("country", "FR"), "altitude": place.get("altitude", 0),
               "rooms": rooms, "modules": modules, "schedules": schedules}
        if isinstance(place.get("location"), list):
            raw["coordinates"] = place["location"]
        home = world_home(raw, notes, f"devices[{i}]")
        for m in dev.get("modules", []):
            mode = m.get("setpoint", {}).get("setpoint_mode")
            if mode in ("away", "hg", "off"):
                home["therm_mode"] = mode
        homes.append(home)
    notes.append("legacy body (event_history, setpoint_history, last_bilan, ...) is "
                 "derived by the emulator, the world carries the topology only (no past "
                 "set-point changes, no boiler events)")
    return _world(_account(body.get("user")), homes=homes), Call("getthermostatsdata")


def _plan_getmeasure(file: str, sample: dict[str, Any], notes: list[str]
                     ) -> tuple[dict, Call, int | None, bool]:
    m = re.match(r"getmeasure_energy_(([0-9a-f]{2}_){7}[0-9a-f]{2})\.json$", file)
    if m:  # energy: the module is named in the file; its home in a homesdata sample
        module_id = m.group(1).replace("_", ":")
        for _, (src, home, user) in ((h, c) for h, cs in _homes_sources().items()
                                     for c in cs):
            mods = {x["id"]: x for x in home.get("modules", [])}
            if module_id in mods:
                notes.append(f"topology from {src}; pyatmo's energy call")
                kind = mods[module_id].get("type")
                if kind not in ISSUE8_TYPES:
                    notes.append(f"the module is a {kind} (not an issue 8 family: shown, "
                                 "not counted)")
                world_home_ = world_home(home, notes, "home")
                lot = sample["body"][0]
                begin = lot["beg_time"]
                end = begin + lot["step_time"] * len(lot["value"])
                scale = {1800: "30min", 3600: "1hour", 10800: "3hours",
                         86400: "1day"}.get(lot["step_time"], "1hour")
                types = "sum_energy_buy_from_grid,sum_energy_buy_from_grid$0," \
                        "sum_energy_buy_from_grid$1,sum_energy_buy_from_grid$2"
                call = Call("getmeasure", {"device_id": mods[module_id].get("bridge", ""),
                                           "module_id": module_id, "scale": scale,
                                           "type": types, "date_begin": begin,
                                           "date_end": end})
                return (_world(_account(user), homes=[world_home_]), call, end + 3600,
                        kind in ISSUE8_TYPES)
        notes.append(f"module {module_id} is in no homesdata sample")
    # weather: a station with an outdoor module, the optimize=false form
    body = sample.get("body", {})
    stamps = sorted(int(k) for k in body) if isinstance(body, dict) else []
    begin = stamps[0] if stamps else 1_544_558_400
    end = stamps[-1] if stamps else begin + 3600
    notes.append("device not named by the sample: a station's indoor Temperature, "
                 "scale max, optimize=false, the sample's time span")
    call = Call("getmeasure", {"device_id": DEFAULT_STATION["id"], "scale": "max",
                               "type": "Temperature", "optimize": "false",
                               "date_begin": begin, "date_end": end})
    return (_world(_account(None), stations=[{**DEFAULT_STATION, "date_setup":
                                              begin - 86400 * 30}]), call, end + 600, True)


def _box(sample: Any) -> dict[str, Any]:
    lats, lons = [], []
    for st in sample.get("body", []) if isinstance(sample.get("body"), list) else []:
        loc = st.get("place", {}).get("location")
        if isinstance(loc, list) and len(loc) == 2:
            lons.append(loc[0])
            lats.append(loc[1])
    if not lats:  # Paris
        return {"lat_ne": 48.95, "lon_ne": 2.5, "lat_sw": 48.75, "lon_sw": 2.2}
    pad = 0.25  # the emulator's field has 0 to 2 stations per 0.1-degree cell
    return {"lat_ne": min(85, max(lats) + pad), "lon_ne": min(180, max(lons) + pad),
            "lat_sw": max(-85, min(lats) - pad), "lon_sw": max(-180, min(lons) - pad)}


# error samples: the request that makes the emulator answer the same condition
ERROR_CALLS: dict[str, tuple[str, dict[str, Any], str | None, str]] = {
    # file -> (method, params, token scope, what it is)
    "archive__error_scope.json": ("homestatus", {"home_id": "HOME"}, "write_thermostat",
                                  "a token without a read scope"),
    "archive__home_status_error_invalid_id.json": (
        "homestatus", {"home_id": "0123456789abcdef01234567"}, ALL_SCOPES,
        "a home id that is not the user's"),
    "archive__home_status_error_missing_home_id.json": ("homestatus", {}, ALL_SCOPES,
                                                        "no home_id"),
    "archive__home_status_error_missing_parameters.json": ("homestatus", {}, ALL_SCOPES,
                                                           "no parameters"),
    "archive__home_status_error_mode_not_authorized.json": (
        "setthermmode", {"home_id": "HOME", "mode": "party"}, ALL_SCOPES,
        "an unknown mode"),
    "home_status_error_invalid_schedule_id.json": (
        "setthermmode", {"home_id": "HOME", "mode": "schedule",
                         "schedule_id": "0123456789abcdef01234567"}, ALL_SCOPES,
        "an unknown schedule id"),
    "home_status_error_mode_is_missing.json": ("setthermmode", {"home_id": "HOME"},
                                               ALL_SCOPES, "no mode"),
    "archive__public_data_error_mongo.json": (
        "getpublicdata", {"lat_ne": 91, "lon_ne": 2.5, "lat_sw": 48.75, "lon_sw": 2.2},
        ALL_SCOPES, "a backend failure the emulator never has: compared with the "
                    "endpoint's own error envelope (a latitude out of range)"),
}

HOME_WORLD_HOME = "5a3c0e1f2b4d6a8c0e1f2b40"


def _simple_home() -> dict[str, Any]:
    rid = "1000000001"
    return {"id": HOME_WORLD_HOME, "name": "Home", "timezone": "Europe/Paris",
            "rooms": [{"id": rid, "name": "Living", "type": "livingroom"}],
            "modules": [{"id": "70:ee:50:00:00:a1", "type": "NAPlug", "name": "Relay"},
                        {"id": "04:00:00:00:00:a1", "type": "NATherm1", "name": "Therm",
                         "room_id": rid, "bridge": "70:ee:50:00:00:a1"}],
            "schedules": [{"id": "5a3c0e1f2b4d6a8c0e1f2b41", "name": "Week",
                           "type": "therm", "selected": True, "zones": [
                               {"id": 0, "name": "Comfort", "type": 0,
                                "rooms": [{"id": rid, "therm_setpoint_temperature": 20}]}],
                           "timetable": [{"zone_id": 0, "m_offset": 0}]}]}


# ============================================================ security

SECURITY_SEED = 0
CAMERA_HOME_DATA = "archive__camera_home_data.json"


def security_home(raw: dict[str, Any], notes: list[str]) -> tuple[dict[str, Any], int]:
    """A world home from a gethomedata home (cameras, what they bridge, smoke alarms,
    persons): (the home, the latest setup date in it)."""
    home: dict[str, Any] = {"id": raw["id"], "name": raw.get("name") or "Home"}
    place = raw.get("place", {})
    home.update({k: place[k] for k in ("timezone", "country", "city") if k in place})
    modules: list[dict[str, Any]] = []
    for cam in raw.get("cameras", []):
        mod = {"id": cam["id"], "type": cam["type"], "name": cam.get("name", cam["id"])}
        if "last_setup" in cam:
            mod["setup_date"] = cam["last_setup"]
        if cam.get("status") in ("on", "off"):
            mod["monitoring"] = cam["status"]
        elif cam.get("status") == "disconnected":
            mod["reachable"] = False
            notes.append(f"camera {cam['id']} disconnected: offline from the start (the "
                         "world cannot say since when), so it recorded nothing")
        if cam["type"] == "NOC" and cam.get("light_mode_status") in ("on", "off", "auto"):
            mod["floodlight"] = cam["light_mode_status"]
        modules.append(mod)
        modules += [{"id": m["id"], "type": m["type"], "name": m.get("name", m["id"]),
                     "bridge": cam["id"]} for m in cam.get("modules", [])]
    for sd in raw.get("smokedetectors", []):
        modules.append({"id": sd["id"], "type": sd["type"], "name": sd.get("name", sd["id"]),
                        **({"setup_date": sd["last_setup"]} if "last_setup" in sd else {})})
    home["modules"] = modules
    home["persons"] = [{"id": p["id"], **({"pseudo": p["pseudo"]} if "pseudo" in p else {}),
                        "face": {k: p["face"][k] for k in ("id", "key", "version")
                                 if k in p.get("face", {})}}
                       for p in raw.get("persons", [])]
    notes.append("events: the home's own routine (seeded) over the days before the clock")
    setup = max([m.get("setup_date", 0) for m in modules] or [0])
    return home, setup


def _plan_security(method: str, sample: dict[str, Any], notes: list[str]
                   ) -> tuple[dict[str, Any], Call, int]:
    """gethomedata: the sample's homes; getevents: a home with the modules its events
    name; geteventsuntil: camera_home_data's homes, until a scripted event."""
    body = sample.get("body") or {}
    now = int(sample.get("time_server", 1_560_626_960))
    if method == "getevents":
        home, clock = _events_home(body.get("home", {}), notes, now), now
        call = Call("getevents", {"home_id": home["id"], "size": 100})
        world = _world(_account(None), homes=[home])
    else:
        source = body if method == "gethomedata" else load(CAMERA_HOME_DATA)["body"]
        if method != "gethomedata":
            notes.append(f"homes from {CAMERA_HOME_DATA} (the same camera ids)")
        homes, setups = [], [0]
        for raw in source.get("homes", []):
            home, setup = security_home(raw, notes)
            homes.append(home)
            setups.append(setup)
        clock = max(now, max(setups) + 8 * 86400)
        if clock != now:
            notes.append(f"clock at {clock}: a week after the latest setup date (the "
                         f"sample's time_server {now} comes before it)")
        user = _account(source.get("user"))
        world = _world(user, homes=homes)
        call = Call("gethomedata", {"size": 100})
        if method == "geteventsuntil":
            at = clock - 7 * 86400
            homes[0]["security_events"] = [{"at": at, "type": "movement"}]
            from emulator.netatmo.security import scripted_id

            call = Call(method, {"home_id": homes[0]["id"],
                                 "event_id": scripted_id(SECURITY_SEED, homes[0]["id"], 0, at)})
            notes.append("until a movement scripted a week before the clock")
    world["seed"] = SECURITY_SEED
    return world, call, clock


def _events_home(raw: dict[str, Any], notes: list[str], now: int) -> dict[str, Any]:
    """A home with the modules getevents' events name (outdoor: NOC, tags: a door tag
    on the indoor camera) and the persons they name."""
    types: dict[str, str] = {}
    persons: dict[str, str] = {}
    for ev in raw.get("events", []):
        kind = ("NOC" if ev["type"] == "outdoor" else "NACamDoorTag"
                if ev["type"].startswith("tag_") else "NACamera")
        if ev["type"] in ("connection", "boot", "disconnection"):
            kind = types.get(ev["module_id"], "NOC")
        types.setdefault(ev["module_id"], kind)
        if ev.get("person_id"):
            name = re.search(r"<b>(.*?)</b>", ev.get("message", ""))
            persons[ev["person_id"]] = name.group(1) if name else "Someone"
    cams = [m for m, k in types.items() if k == "NACamera"]
    modules = [{"id": m, "type": k, "name": m, **({"bridge": cams[0]} if k == "NACamDoorTag"
                                                  and cams else {})}
               for m, k in types.items()]
    scripted = [{"at": min(ev["time"], now - 600), "type": ev["type"],
                 "module_id": ev["module_id"]}
                for ev in raw.get("events", []) if ev["type"].startswith("tag_")]
    notes.append("modules typed from the events (outdoor: NOC, tag_*: NACamDoorTag); "
                 "tag events scripted (before the clock); connection/boot are admin overrides "
                 "(not in a world): not reproduced")
    return {"id": raw.get("id", HOME_WORLD_HOME), "name": "Home", "modules": modules,
            "persons": [{"id": p, "pseudo": n} for p, n in persons.items()],
            "security_events": scripted}


# the camera the setstate samples name, and what each sample asks of it
SAMPLE_CAMERA = "12:34:56:00:f1:62"
SETSTATE_CALLS = {
    "archive__camera_set_state_ok.json": (SAMPLE_CAMERA, {"monitoring": "off"}),
    "archive__camera_set_state_error_already_on.json": (SAMPLE_CAMERA,
                                                        {"monitoring": "on"}),
    "archive__camera_set_state_error_wrong_parameter.json": (SAMPLE_CAMERA,
                                                             {"floodlight": "on"}),
    "archive__camera_set_state_error.json": ("12:34:56:00:f1:ff", {"monitoring": "on"}),
}


def _plan_setstate(file: str, notes: list[str]) -> tuple[dict[str, Any], Call]:
    """A thermostat home with the samples' indoor camera (monitoring on) and the
    module entry each sample answers (home_devices)."""
    home = _simple_home()
    home["modules"].append({"id": SAMPLE_CAMERA, "type": "NACamera", "name": "Hall",
                            "monitoring": "on"})
    module_id, change = SETSTATE_CALLS[file]
    notes.append(f"the call: {change} for {module_id}")
    return (_world(_account(None), homes=[home]),
            Call("setstate", {"home": json.dumps({"id": HOME_WORLD_HOME, "modules": [
                {"id": module_id, **change}]})}))


def plan(entry: dict[str, Any]) -> Plan:
    """The world and call for one manifest entry (response or error)."""
    file, endpoint, kind = entry["file"], entry["endpoint"], entry["kind"]
    sample = load(file)
    notes: list[str] = []
    counted = endpoint in IN_SCOPE
    clock = None
    method = endpoint.rsplit("/", 1)[-1]
    base = dict(file=file, endpoint=endpoint, kind=kind, status=entry.get("status"),
                counted=counted, notes=notes)
    if endpoint == "/oauth2/token":
        user = _account(None)
        if kind == "response":
            return Plan(**base, world=_world(user), call=Call("", oauth="code"))
        if file == "archive__too_many_connections.json":
            base["status"] = None  # a stand-in condition: its status is not the sample's
            notes.append("a throttled token endpoint the emulator has no condition for: "
                         "compared with its own flat error (a bad code)")
        return Plan(**base, world=_world(user), call=Call("", oauth="bad_code"))
    if kind == "error" and file in ERROR_CALLS:
        name, params, scope, what = ERROR_CALLS[file]
        notes.append(f"the condition: {what}")
        if "never has" in what:
            base["status"] = None  # a stand-in condition: its status is not the sample's
        params = {k: (HOME_WORLD_HOME if v == "HOME" else v) for k, v in params.items()}
        return Plan(**base, world=_world(_account(None), homes=[_simple_home()]),
                    call=Call(name, params, scope))
    if method == "homesdata":
        world, call = _plan_homesdata(sample, notes)
    elif method == "homestatus":
        world, call = _plan_homestatus(file, sample, notes)
    elif method == "getstationsdata":
        world, call = _plan_stations(sample, notes)
    elif method == "gethomecoachsdata":
        world, call = _plan_homecoach(sample, notes)
    elif method == "getthermostatsdata":
        world, call = _plan_thermostats(sample, notes)
    elif method == "getmeasure":
        world, call, clock, family = _plan_getmeasure(file, sample, notes)
        base["counted"] = counted and family
    elif method == "getpublicdata":
        world, call = _world(_account(None)), Call("getpublicdata", _box(sample))
        notes.append("the public field is the emulator's own (seeded), in a box around "
                     "the sample's stations widened by 0.25 degrees")
    elif method == "setroomthermpoint":
        rid = _simple_home()["rooms"][0]["id"]
        world = _world(_account(None), homes=[_simple_home()])
        call = Call("setroomthermpoint", {"home_id": HOME_WORLD_HOME, "room_id": rid,
                                          "mode": "manual", "temp": 21})
    elif method in ("gethomedata", "getevents", "geteventsuntil"):
        world, call, clock = _plan_security(method, sample, notes)
    elif method == "setstate":
        world, call = _plan_setstate(file, notes)
    else:
        raise KeyError(f"no plan for {file} ({endpoint})")
    return Plan(**base, world=world, call=call, clock=clock)
