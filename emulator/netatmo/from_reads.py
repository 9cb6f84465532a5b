"""Netatmo's world from recorded reads (``mockcloud world from-cassette``).

Reads that describe the world, and what each gives:

* ``homesdata``: the account (``user``), homes with rooms, modules (static fields:
  ``world.MODULE_STATIC``), schedules (zones, timetables, a zone's rooms in the
  ``rooms`` or the older ``rooms_temp`` form), persons; the shape of each entry: a
  device recorded with its state (``on``, ``power``, ``last_seen`` ...) gets
  ``homesdata_state``, a room recorded with ``modules`` ``homesdata_modules``;
* ``homestatus``: the same home (by ``home.id``, else the request's ``home_id``, else a
  24-hex id in the sample's file name: INFERRED, pyatmo names them so): modules only
  it shows, the initial state of lights, dimmers, shutters and cameras (``on``,
  ``brightness``, ``target_position``, ``monitoring``, ``floodlight``, where the
  module's type takes it; a fan's ``fan_speed``, a contactor's ``contactor_mode``, a
  doorbell's ``last_ftp_event``), the home's mode when rooms are in ``away``/``hg``;
  a radio module it lists unreachable starts unreachable (as the emulator lists it)
  unless another read shows it reachable; an outage (error code 6) is reported, not
  loaded;
* ``gethomedata``: security homes: cameras (monitoring, floodlight), what they bridge,
  smoke detectors, persons (pseudo, face), and its recent ``events``;
* ``getevents``: the home's ``events``. Recorded events become the home's scripted
  ``security_events`` (``persons``' format: type, instant, module, person, arrival,
  category, outdoor detections, sub_type), so the world shows them at their recorded
  instants beside the seeded routine's; a camera's state changes (``on``/``off``,
  ``connection``, ``disconnection``, ``boot``: the emulator makes them from setstate and
  the admin API's online overrides), events of a person the recording does not list,
  and types the world cannot script are reported, not loaded (at most the newest
  ``persons.MAX_EVENTS`` per home). The home's ``routine_from`` is the latest such
  read's ``time_server``: before it the home's events are the recorded ones only, the
  seeded routine carries on from there;
* ``getstationsdata`` / ``gethomecoachsdata``: stations with their modules and places,
  home coaches; ``user.administrative`` for the account.

Values that move (temperatures, batteries, rf and wifi levels of the status, measures,
events) are computed by the emulator: the world keeps what seeds them (places, setup
dates, reachability). ``getmeasure``, ``getpublicdata``, ``geteventsuntil`` and
``getthermostatsdata`` answers are not read into the world (physics, the public field
and the security routine are the emulator's own; the
legacy thermostat API is derived from the homes), nor are writes: they are listed as
not used.

Accounts and conflicts: one user per recorded account (the e-mail of ``user``; a read
that names none joins the user who has its home or device, else the first user).
Reads of one home (or station) merge: rooms, modules, schedules, zones, persons are
united by id, a later read's moving values win, and a static value recorded twice
with two values keeps the first and is reported (the pyatmo archive has three shapes
of home 91763b...: the world has one home with every room and module of the three;
ids are unique in a world, so "one home per shape" would have to change ids, which
drift's identity mapping needs kept). Ids are kept (a MAC recorded with spaces,
``12 :34: 56:...``, loses them and is reported); a user whose recording gives no
24-hex id gets one derived from its login. Where the world cannot say what a read
shows, the field is reported as a gap. A home status read that names no home (an
empty body) is replayed on its user's first home.
"""

from __future__ import annotations

import copy
import re
from dataclasses import dataclass, field
from typing import Any

from ..core.reads import FromReads, Read, Required, tidy
from . import home_devices, models, stations
from . import persons as pz
from . import world as w

HOME_SCALARS = ("name", "timezone", "coordinates", "altitude", "country", "city",
                "therm_setpoint_default_duration", "therm_mode",
                "temperature_control_mode", "cooling_mode")
HOME_DERIVED = {"id", "rooms", "modules", "schedules", "therm_schedules", "persons",
                "recorded_events", "recorded_until"}
MODULE_TAKEN = (w.MODULE_KEYS - home_devices.WORLD_KEYS)
MODULE_DERIVED = {"modules_bridged"}
ROOM_DERIVED = {"module_ids", "modules"}
# a homesdata module showing these is one the world shows with its state
# (homesdata_state: models.HOMESDATA_STATE, firmware_revision, reachable)
STATE_IN_HOMESDATA = frozenset(models.HOMESDATA_STATE)
ACCOUNT = {"language": "lang", "locale": "reg_locale", "country": "country",
           "unit_system": "unit", "unit_wind": "windunit",
           "unit_pressure": "pressureunit", "feel_like_algorithm": "feel_like_algo"}
STATION_TAKEN = stations.STATION_KEYS - {"place", "modules", "state", "installed"}
STATION_MODULE_TAKEN = stations.MODULE_KEYS - {"installed", "battery_installed",
                                               "battery_lifetime_days"}
# Emulator gaps: keys recorded answers have that the emulator's answers never carry,
# per endpoint and list; listed by the command for every recording that has them.
# tests/test_from_cassette.py replays the samples: a key listed here that comes back,
# or a missing one not listed, fails it (so the list follows the emulator).
# None today: homesdata's device state and rooms' modules, homestatus's contactor,
# fan, doorbell and shutter-step fields are the emulator's now.
NOT_SHOWN: dict[str, dict[str, set[str]]] = {}
# the shape of what is read (core.reads.tidy): what does not fit is left out, reported
ID, NUMBER = Required(str), (int, float)
ZONE = {"id": Required(int), "type": int, "name": str,
        "rooms": [{"id": Required(str)}], "rooms_temp": [{"room_id": Required(str)}],
        "modules": [{"id": Required(str)}]}
SCHEDULE = {"id": ID, "type": str, "name": str, "zones": [ZONE],
            "timetable": [{"zone_id": Required(int), "m_offset": Required(int)}]}
MODULE = {"id": ID, "type": str, "bridge": str, "room_id": str, "name": str,
          "modules_bridged": [str], "reachable": bool}
HOME = {"id": ID, "name": str, "rooms": [{"id": ID, "module_ids": [str]}],
        "modules": [MODULE], "schedules": [SCHEDULE], "therm_schedules": [SCHEDULE],
        "persons": [{"id": ID, "pseudo": str, "face": dict}],
        "cameras": [{**MODULE, "status": str, "light_mode_status": str,
                     "modules": [MODULE]}],
        "smokedetectors": [MODULE], "place": dict, "events": list}
STATION_MODULE = {"_id": Required(str), "type": str, "data_type": [str],
                  "reachable": bool}
BODY = {"user": {"id": str, "email": str, "mail": str, "administrative": dict},
        "homes": [HOME], "home": {**HOME, "id": str,
                                  "rooms": [{"id": ID, "therm_setpoint_mode": str}]},
        "errors": [{"id": str, "code": int}],
        "devices": [{**STATION_MODULE, "modules": [STATION_MODULE], "place": dict,
                     "favorite": bool, "last_status_store": NUMBER}]}
READS = ("/api/homesdata", "/api/homestatus", "/api/gethomedata", "/api/getevents",
         "/api/getstationsdata", "/api/gethomecoachsdata")
# recorded event types the world makes from other things than a script (see above)
STATE_EVENTS = frozenset({"on", "off", "connection", "disconnection", "boot"})
HEX24 = re.compile(r"[0-9a-f]{24}")
DEFAULT_EMAIL = "netatmo@from-cassette.test"   # a recording that names no account


@dataclass
class Account:
    email: str | None = None
    id: str | None = None
    fields: dict[str, Any] = field(default_factory=dict)
    homes: dict[str, dict[str, Any]] = field(default_factory=dict)
    stations: dict[str, dict[str, Any]] = field(default_factory=dict)
    homecoaches: dict[str, dict[str, Any]] = field(default_factory=dict)


@dataclass
class Piece:
    """What one read says: the account, homes, stations, home coaches."""

    email: str | None = None
    id: str | None = None
    fields: dict[str, Any] = field(default_factory=dict)
    homes: list[dict[str, Any]] = field(default_factory=list)
    stations: list[dict[str, Any]] = field(default_factory=list)
    homecoaches: list[dict[str, Any]] = field(default_factory=list)
    params: dict[str, Any] = field(default_factory=dict)
    # key paths (lists collapsed) of the read that the world cannot give back
    unlike: set[str] = field(default_factory=set)


# ------------------------------------------------------------------ merging

def merge(old: dict[str, Any], new: dict[str, Any], out: FromReads, where: str) -> None:
    """Lay ``new`` on ``old``: lists of mappings with ids united by id, moving values
    from the later read; a static value recorded twice, differently, keeps the first
    (reported)."""
    for key, value in new.items():
        here = f"{where}.{key}"
        if key not in old:
            old[key] = copy.deepcopy(value)
        elif isinstance(old[key], dict) and isinstance(value, dict):
            merge(old[key], value, out, here)
        elif by_id(old[key]) is not None and by_id(value) is not None:
            known = by_id(old[key])
            for item in value:
                if item["id"] in known:
                    merge(known[item["id"]], item, out, f"{here}[{item['id']}]")
                else:
                    old[key].append(copy.deepcopy(item))
        elif key == "recorded_until":          # the latest recording of its events
            old[key] = max(old[key], value)
        elif key == "reachable":
            # seen reachable once, reachable: an outage is a moment of the home, not
            # part of its world (a world can start a module unreachable for good only)
            old[key] = bool(old[key]) or bool(value)
        elif key in MOVING or key in DERIVED:
            old[key] = copy.deepcopy(value)
        elif old[key] != value:
            out.gap(f"{here}: recorded as {_short(old[key])} and as {_short(value)}: the "
                    "world keeps the first")


# a light's, shutter's or camera's state as homestatus shows it: the world's initial one
STATE = ("on", "brightness", "target_position", "monitoring", "floodlight", "fan_speed",
         "contactor_mode", "last_ftp_event")
MOVING = frozenset({"reachable", "last_seen", "wifi_status", "rf_status",
                    "therm_mode_from_status", *STATE})
DERIVED = frozenset(ROOM_DERIVED | MODULE_DERIVED)     # the emulator computes them


def by_id(items: Any) -> dict[Any, dict[str, Any]] | None:
    if not isinstance(items, list) or not all(isinstance(i, dict) and "id" in i
                                              for i in items):
        return None
    return {i["id"]: i for i in items}


def _short(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."


def owner(accounts: list[Account], piece: Piece) -> Account:
    """The account a read belongs to: its e-mail's; else the one that has one of its
    homes or devices; else the first (made when there is none)."""
    if piece.email:
        found = next((a for a in accounts if a.email == piece.email), None)
        if found is None:
            found = Account(email=piece.email)
            accounts.append(found)
        return found
    ids = {x["id"] for x in piece.homes + piece.stations + piece.homecoaches}
    found = next((a for a in accounts if ids & (a.homes.keys() | a.stations.keys()
                                                | a.homecoaches.keys())), None)
    if found is None and not accounts:
        accounts.append(Account())
    return found or accounts[0]


def take(acc: Account, piece: Piece, accounts: list[Account], out: FromReads,
         src: str) -> None:
    acc.id = acc.id or piece.id
    merge(acc.fields, piece.fields, out, f"account {acc.email or DEFAULT_EMAIL}")
    for attr, what in (("homes", "home"), ("stations", "station"),
                       ("homecoaches", "home coach")):
        have = getattr(acc, attr)
        for x in getattr(piece, attr):
            other = next((a for a in accounts if a is not acc and x["id"] in
                          getattr(a, attr)), None)
            if other is not None:
                out.gap(f"{src}: {what} {x['id']} is {other.email}'s already (one id, one "
                        f"{what}): not added to {acc.email}")
            elif x["id"] in have:
                merge(have[x["id"]], x, out, f"{what} {x['id']}")
            else:
                have[x["id"]] = copy.deepcopy(x)


# ------------------------------------------------------------------ reading

def account_of(user: Any, piece: Piece) -> None:
    if not isinstance(user, dict):
        return
    adm = user.get("administrative") if isinstance(user.get("administrative"), dict) else {}
    email = user.get("email") or user.get("mail")
    piece.email = email.strip().lower() if isinstance(email, str) and email else None
    piece.id = user["id"] if w.is_hex24(user.get("id")) else None
    for key, nested in ACCOUNT.items():
        if key in user:
            piece.fields[key] = user[key]
        elif nested in adm:
            piece.fields[key] = adm[nested]


def mac(value: Any, out: FromReads, where: str) -> str:
    clean = re.sub(r"\s+", "", str(value)).lower()
    if clean != value:
        out.gap(f"{where}: id {value!r} recorded with spaces or capitals: the world's is "
                f"{clean!r}")
    return clean


def not_shown(path: str, part: str, rec: dict[str, Any], out: FromReads,
              piece: Piece) -> None:
    path = path.rstrip("/")
    where = "body.home" if path == "/api/homestatus" else "body.homes[]"
    for key in sorted(NOT_SHOWN.get(path, {}).get(part, set()) & rec.keys()):
        out.gap(f"{path} {part}[{rec.get('type', '')}].{key}: the emulator never shows it")
        piece.unlike.add(f"{where}.{part}[].{key}")


def homes_read(body: dict[str, Any], piece: Piece, out: FromReads, src: str) -> None:
    account_of(body.get("user"), piece)
    for home in body.get("homes") or []:
        if isinstance(home, dict) and isinstance(home.get("id"), str):
            home = copy.deepcopy(home)
            for mod in home.get("modules") or []:   # the shape it was recorded in
                if isinstance(mod, dict) and mod.keys() & STATE_IN_HOMESDATA \
                        and mod.get("type") in home_devices.TYPES:
                    mod["homesdata_state"] = True
            for room in home.get("rooms") or []:
                if isinstance(room, dict) and "modules" in room:
                    room["homesdata_modules"] = True
            piece.homes.append(home)
            for part in ("modules", "rooms"):
                for rec in home.get(part) or []:
                    not_shown("/api/homesdata", part, rec, out, piece)
            derived_lists(home, out, src)
        else:
            out.gap(f"{src}: a home without an id: left out")


def derived_lists(home: dict[str, Any], out: FromReads, src: str) -> None:
    """Report what the emulator derives otherwise than a recorded home shows it: a
    bridge's ``modules_bridged`` (in the home's module order, from each module's
    ``bridge``) and the legacy ``therm_schedules`` (the same schedules again)."""
    mods = [m for m in home.get("modules") or [] if isinstance(m, dict)]
    for mod in mods:
        if "modules_bridged" in mod:
            derived = [m.get("id") for m in mods if m.get("bridge") == mod.get("id")]
            recorded = mod["modules_bridged"]
            if derived != recorded:
                gone = [x for x in recorded if x not in derived]
                more = [x for x in derived if x not in recorded]
                how = (f"without {gone}" if gone else "") + (" " if gone and more else "") \
                    + (f"with {more} too" if more else "") or "in another order"
                out.gap(f"{src}: home {home['id']} modules_bridged of {mod.get('id')}: the "
                        "emulator lists the modules whose bridge it is, in the home's "
                        f"order, so {how}")
    schedules = {s.get("id"): s for s in home.get("schedules") or [] if isinstance(s, dict)}
    for legacy in home.get("therm_schedules") or []:
        same = schedules.get(legacy.get("id")) if isinstance(legacy, dict) else None
        if same is None:
            continue
        pairs = [("name", legacy.get("name"), same.get("name"))]
        zones = {z.get("id"): z for z in same.get("zones") or []}
        pairs += [("name", z.get("name"), zones.get(z.get("id"), {}).get("name"))
                  for z in legacy.get("zones") or [] if isinstance(z, dict)]
        for key, old, new in pairs:
            if old is not None and old != new:
                out.gap(f"{src}: home {home['id']} therm_schedules[{legacy['id']}] {key} "
                        f"{old!r} where its schedules say {new!r}: the emulator derives "
                        "therm_schedules from the schedules")


def status_read(read: Read, body: dict[str, Any], piece: Piece, out: FromReads) -> None:
    home = body.get("home") if isinstance(body.get("home"), dict) else None
    hid = (home or {}).get("id") or read.query.get("home_id")
    named = HEX24.search(read.source)
    if not hid and named:
        hid = named.group(0)
        out.gap(f"{read.source}: the recorded home has no id: {hid}, from the file name")
    if not hid:
        if home:
            out.gap(f"{read.source}: a home status without a home id: not used")
        return
    piece.params = {"home_id": hid}
    if not home:
        return
    modules = []
    down = {e.get("id") for e in body.get("errors") or [] if isinstance(e, dict)
            and e.get("code") == 6}
    for mod in home.get("modules") or []:
        if not isinstance(mod, dict) or not isinstance(mod.get("id"), str):
            continue
        # a module a status lists is part of the home; one listed unreachable (a radio
        # module offline behind its bridge: the emulator lists it so too) starts
        # unreachable unless another read shows it reachable (merge)
        meter = home_devices.SPECS.get(mod.get("type"))    # a meter's power: its load
        load = {"load": mod["power"]} if meter and meter.family == "meter" \
            and isinstance(mod.get("power"), int) and mod["power"] >= 0 else {}
        modules.append({**{k: mod[k] for k in ("id", "type", "bridge") if k in mod},
                        **{k: mod[k] for k in STATE if k in mod}, **load,
                        "reachable": mod.get("reachable") is not False})
        if mod.get("reachable") is False and "bridge" not in mod:
            out.gap(f"{read.source}: module {mod['id']} recorded unreachable with no "
                    "bridge: the emulator answers such a module in body.errors (code 6)")
        not_shown(read.path, "modules", mod, out, piece)
    if down:
        piece.unlike.add("body.errors")
        out.gap(f"{read.source}: modules {', '.join(sorted(map(str, down)))} disconnected "
                "(errors code 6): an outage of that moment, not part of the world")
    rooms = [{"id": str(r["id"])} for r in home.get("rooms") or []
             if isinstance(r, dict) and "id" in r]
    modes = {r.get("therm_setpoint_mode") for r in home.get("rooms") or []
             if isinstance(r, dict)}
    entry = {"id": hid, "modules": modules, "rooms": rooms}
    if modes & {"away", "hg"}:
        entry["therm_mode_from_status"] = "away" if "away" in modes else "hg"
    if modes & {"manual", "max"}:
        out.gap(f"{read.source}: rooms in manual/max mode: a room's own set point is not "
                "part of a world (the home starts on its schedule)")
    if home.get("persons"):
        entry["persons"] = [{"id": p["id"]} for p in home["persons"]
                            if isinstance(p, dict) and isinstance(p.get("id"), str)]
    piece.homes.append(entry)


def security_read(body: dict[str, Any], piece: Piece, out: FromReads, src: str) -> None:
    account_of(body.get("user"), piece)
    for raw in body.get("homes") or []:
        if not isinstance(raw, dict) or not isinstance(raw.get("id"), str):
            continue
        home: dict[str, Any] = {"id": raw["id"]}
        if raw.get("name"):
            home["name"] = raw["name"]
        place = raw.get("place") if isinstance(raw.get("place"), dict) else {}
        home.update({k: place[k] for k in ("timezone", "country", "city") if k in place})
        modules = []
        for cam in raw.get("cameras") or []:
            mod = {"id": cam["id"], "type": cam.get("type"), "name": cam.get("name")}
            if "last_setup" in cam:
                mod["setup_date"] = cam["last_setup"]
            if cam.get("status") in ("on", "off"):
                mod["monitoring"] = cam["status"]
            if cam.get("status") == "disconnected":
                out.gap(f"{src}: camera {cam['id']} disconnected: an outage of that "
                        "moment; the world starts it connected")
            if cam.get("type") == "NOC" and cam.get("light_mode_status") in ("on", "off",
                                                                              "auto"):
                mod["floodlight"] = cam["light_mode_status"]
            modules.append({k: v for k, v in mod.items() if v is not None})
            modules += [{"id": m["id"], "type": m.get("type"), "name": m.get("name"),
                         "bridge": cam["id"]} for m in cam.get("modules") or []
                        if isinstance(m, dict) and "id" in m]
        for sd in raw.get("smokedetectors") or []:
            if isinstance(sd, dict) and "id" in sd:
                modules.append({"id": sd["id"], "type": sd.get("type"),
                                "name": sd.get("name"),
                                **({"setup_date": sd["last_setup"]} if "last_setup" in sd
                                   else {})})
        home["modules"] = [{k: v for k, v in m.items() if v is not None} for m in modules]
        home["persons"] = [p for p in raw.get("persons") or [] if isinstance(p, dict)
                           and isinstance(p.get("id"), str)]
        if raw.get("events"):
            home["recorded_events"] = recorded_events(raw["events"], out, src, piece,
                                                      "body.homes[].events[].event_list")
        piece.homes.append(home)


def events_read(body: dict[str, Any], piece: Piece, out: FromReads, src: str) -> None:
    """``getevents``: the home's events (the home is known by id from other reads)."""
    raw = body.get("home") if isinstance(body.get("home"), dict) else {}
    if not w.is_hex24(raw.get("id")):
        out.gap(f"{src}: no home id: its events are not loaded")
        return
    piece.homes.append({"id": raw["id"], "recorded_events": recorded_events(
        raw.get("events") or [], out, src, piece, "body.home.events[].subevents")})
    piece.params = {"home_id": raw["id"]}


def recorded_events(events: list[Any], out: FromReads, src: str, piece: Piece,
                    detections: str) -> list[dict[str, Any]]:
    """Recorded events (either shape) as scripted events keyed by the recorded id
    (checked against the home's modules and persons by :func:`world_home`); when no
    outdoor event can be, their ``detections`` (the shape's list) will not come back."""
    made: list[dict[str, Any]] = []
    skipped: dict[str, list[str]] = {}
    for ev in events:
        if not isinstance(ev, dict) or not isinstance(ev.get("id"), str):
            continue
        script = script_of(ev)
        if isinstance(script, str):
            skipped.setdefault(script, []).append(str(ev.get("type")))
        else:
            made.append({"id": ev["id"], **script})
    for why, kinds in skipped.items():
        out.gap(f"{src}: {len(kinds)} recorded event(s) not loaded "
                f"({', '.join(sorted(set(kinds)))}): {why}")
    if any("outdoor" in k for k in skipped.values()) \
            and not any(e["type"] in pz.OUTDOOR for e in made):
        piece.unlike.add(detections)
    return made


def script_of(ev: dict[str, Any]) -> dict[str, Any] | str:
    """One recorded event as a scripted one, or why it cannot be."""
    kind, t = ev.get("type"), ev.get("time")
    if isinstance(t, bool) or not isinstance(t, int | float):
        return "no time"
    module = ev.get("module_id") or ev.get("device_id") or ev.get("camera_id")
    if not isinstance(module, str):
        return "no module"
    out: dict[str, Any] = {"at": int(t), "module_id": module}
    if kind in STATE_EVENTS:
        return ("a camera's state change: the emulator makes these from setstate and "
                "the admin API's online overrides")
    if kind == "outdoor":
        found = [d.get("type") for d in ev.get("event_list") or ev.get("subevents") or []
                 if isinstance(d, dict) and d.get("type") in pz.OUTDOOR]
        if not found:
            return "an outdoor event without a human, animal or vehicle detection"
        return {**out, "type": found[0], "detections": found[:pz.MAX_DETECTIONS]}
    if kind == "smoke":
        return {**out, "type": "smoke" if ev.get("sub_type") else "smoke_cleared"}
    if kind not in pz.INJECTABLE or kind == "unknown_face":
        return "a type the world cannot script"
    out["type"] = kind
    if kind in ("person", "person_away") and isinstance(ev.get("person_id"), str):
        out["person_id"] = ev["person_id"]
    if kind == "person" and isinstance(ev.get("is_arrival"), bool):
        out["arrival"] = ev["is_arrival"]
    if kind == "movement" and ev.get("category") in pz.CATEGORIES:
        out["category"] = ev["category"]
    if kind in pz.SUB_TYPES and ev.get("sub_type") in (0, 1):
        out["sub_type"] = ev["sub_type"]
    return out


def stations_read(body: dict[str, Any], piece: Piece, out: FromReads, src: str,
                  coach: bool) -> None:
    account_of(body.get("user"), piece)
    for dev in body.get("devices") or []:
        if not isinstance(dev, dict) or "_id" not in dev:
            continue
        ident = mac(dev["_id"], out, src)
        taken = stations.HOMECOACH_KEYS if coach else STATION_TAKEN
        st: dict[str, Any] = {"id": ident, **{k: dev[k] for k in taken
                                              if k in dev and k != "id"}}
        if "date_setup" not in st and "last_setup" in dev:
            st["date_setup"] = dev["last_setup"]
        if dev.get("reachable") is False and "last_status_store" in dev:
            st["last_seen"] = dev["last_status_store"]
        st["place"] = place_of(dev.get("place"))
        kind = "NHC" if coach else "NAMain"
        for rec, rid, rtype in [(dev, ident, dev.get("type", kind))] + [
                (m, m.get("_id"), m.get("type")) for m in dev.get("modules") or []
                if isinstance(m, dict)]:
            derived = stations.KINDS.get(rtype)
            if "data_type" in rec and derived and list(derived.data_type) != rec["data_type"]:
                out.gap(f"{src}: {rid} data_type {rec['data_type']}: the emulator shows a "
                        f"{rtype}'s own ({', '.join(derived.data_type)})")
        if not coach:
            mods = []
            for m in dev.get("modules") or []:
                if not isinstance(m, dict) or "_id" not in m:
                    continue
                mid = mac(m["_id"], out, src)
                mod = {"id": mid, **{k: m[k] for k in STATION_MODULE_TAKEN
                                     if k in m and k != "id"}}
                if "date_setup" not in mod and "last_setup" in m:
                    mod["date_setup"] = m["last_setup"]
                if mod.get("reachable") is not False:   # last_seen: when it went quiet
                    mod.pop("last_seen", None)
                mods.append(mod)
            st["modules"] = mods
        (piece.homecoaches if coach else piece.stations).append(st)
        if st.get("favorite"):   # the call that lists them (pyatmo's)
            piece.params["get_favorites"] = "true"


def place_of(raw: Any) -> dict[str, Any]:
    raw = raw if isinstance(raw, dict) else {}
    place = {k: raw[k] for k in ("city", "country", "timezone", "altitude", "street")
             if raw.get(k) not in (None, "")}
    if isinstance(raw.get("location"), list) and len(raw["location"]) == 2:
        place["lon"], place["lat"] = raw["location"]
    return place


def piece_of(read: Read, out: FromReads) -> Piece | None:
    path = read.path.rstrip("/")
    if path not in READS:
        why = ("a write" if read.method not in ("GET", "POST") or path.startswith(
            ("/api/set", "/api/switch", "/api/sync", "/api/create", "/api/delete",
             "/oauth2")) else "not read into the world (the emulator computes it)")
        out.ignored.append(f"{read.source}: {read.method} {read.path}: {why}")
        return None
    piece = Piece()
    body = read.body.get("body") if isinstance(read.body, dict) else None
    body = tidy(body, BODY, f"{read.source}: body", out) or {}
    if path == "/api/homesdata":
        homes_read(body, piece, out, read.source)
    elif path == "/api/homestatus":
        status_read(read, body, piece, out)
    elif path == "/api/gethomedata":
        security_read(body, piece, out, read.source)
    elif path == "/api/getevents":
        events_read(body, piece, out, read.source)
    answered = read.body.get("time_server") if isinstance(read.body, dict) else None
    answered = answered if isinstance(answered, int) and not isinstance(answered,
                                                                       bool) else 0
    for home in piece.homes:
        if "recorded_events" in home:   # when it was answered (some samples have events
            home["recorded_until"] = max(   # later than their time_server)
                [answered] + [e["at"] + 1 for e in home["recorded_events"]])
    else:
        stations_read(body, piece, out, read.source, path == "/api/gethomecoachsdata")
    return piece


# ------------------------------------------------------------------ the world

def build(reads: list[Read]) -> FromReads:
    out = FromReads()
    accounts: list[Account] = []
    placed: list[tuple[str, Account, Piece]] = []
    pieces = [(read, piece_of(read, out)) for read in reads]
    # reads naming an account first, then the others join the account of their home
    ordered = sorted(((r, p) for r, p in pieces if p is not None),
                     key=lambda rp: (rp[1].email is None,
                                     rp[0].path.rstrip("/") == "/api/homestatus"))
    for read, piece in ordered:
        acc = owner(accounts, piece)
        if read.path.rstrip("/") == "/api/homestatus" and not piece.params and acc.homes:
            piece.params = {"home_id": next(iter(acc.homes))}
        take(acc, piece, accounts, out, read.source)
        placed.append((read.source, acc, piece))
    accounts.sort(key=lambda a: -sum(1 for p in placed if p[1] is a))
    used_ids: set[str] = set()
    for acc in accounts:
        out.users.append(user_entry(acc, acc.email or DEFAULT_EMAIL, out, used_ids))
    for source, acc, piece in placed:
        out.replay[source] = {"user": acc.email or DEFAULT_EMAIL, "params": piece.params,
                              "unlike": sorted(piece.unlike)}
    return out


def user_entry(acc: Account, email: str, out: FromReads, used_ids: set[str]
               ) -> dict[str, Any]:
    user: dict[str, Any] = {"email": email, "name": email.split("@")[0]}
    if acc.id and acc.id not in used_ids:
        user["id"] = acc.id
        used_ids.add(acc.id)
    elif acc.id:
        out.gap(f"{email}: the recorded user id {acc.id} belongs to another built user "
                "(a conflicting recording): this one's is derived from its login")
    user.update({k: v for k, v in acc.fields.items() if k in w.ACCOUNT_FIELDS})
    homes = [world_home(h, out) for h in acc.homes.values()]
    user["homes"] = [h for h in homes if h is not None]
    seen: set[str] = set()
    for key, devices in (("stations", acc.stations), ("homecoaches", acc.homecoaches)):
        if devices:
            user[key] = [one_device(d, seen, out, email) for d in devices.values()
                         if d["id"] not in seen]
    return user


def one_device(dev: dict[str, Any], seen: set[str], out: FromReads, email: str
               ) -> dict[str, Any]:
    """A station (or home coach) whose modules no earlier station of the user has:
    the world wants one device per id, a recording may list a module twice."""
    seen.add(dev["id"])
    if "modules" not in dev:
        return dev
    mods = []
    for mod in dev["modules"]:
        if mod["id"] in seen:
            out.gap(f"{email}: module {mod['id']} is recorded under two stations: the "
                    f"world keeps it under the first, not under {dev['id']} (with "
                    f"module_name {mod.get('module_name')!r} there)")
            continue
        seen.add(mod["id"])
        mods.append(mod)
    return {**dev, "modules": mods}


def world_home(raw: dict[str, Any], out: FromReads) -> dict[str, Any]:
    hid = raw["id"]
    where = f"home {hid}"
    home: dict[str, Any] = {"id": hid}
    home.update({k: raw[k] for k in HOME_SCALARS if k in raw})
    if home.get("therm_mode") not in (None, *w.THERM_MODES):
        out.gap(f"{where}.therm_mode {home.pop('therm_mode')!r}: not a mode a world "
                "starts in")
    if "therm_mode_from_status" in raw and "therm_mode" not in raw:
        home["therm_mode"] = raw["therm_mode_from_status"]
    extra = set(raw) - set(HOME_SCALARS) - HOME_DERIVED - {"therm_mode_from_status"}
    for key in sorted(extra):
        out.gap(f"{where}.{key}: the world cannot say it")
    rooms = []
    for r in raw.get("rooms") or []:
        room = {k: str(r[k]) for k in ("id", "name", "type") if k in r}
        room.update({k: r[k] for k in w.ROOM_STATIC if k in r})
        if r.get("homesdata_modules") is True:
            room["homesdata_modules"] = True
        for key in sorted(set(r) - w.ROOM_KEYS - ROOM_DERIVED):
            out.gap(f"{where}.rooms[{r['id']}].{key}: the world cannot say it")
        rooms.append(room)
    room_ids = {r["id"] for r in rooms}
    modules = [m for m in (world_module(m, room_ids, out, where)
                           for m in raw.get("modules") or []) if m]
    module_ids = {m["id"] for m in modules}
    for mod in modules:
        bridge = mod.get("bridge")
        if bridge is not None and (bridge == mod["id"] or bridge not in module_ids):
            out.gap(f"{where}.modules[{mod['id']}].bridge {mod.pop('bridge')}: no other "
                    "module of the home")
    for room in rooms:
        if room.get("therm_relay") not in (None, *module_ids):
            out.gap(f"{where}.rooms[{room['id']}].therm_relay {room.pop('therm_relay')}: "
                    "no module of the home")
    home.update(rooms=rooms, modules=modules)
    heated = {m["room_id"] for m in modules if m["type"] in w.HEATED_TYPES
              and "room_id" in m}
    schedules, forms = [], set()
    listed = [x for x in raw.get("schedules") or [] if isinstance(x, dict)]
    ids = {x.get("id") for x in listed}
    for legacy in raw.get("therm_schedules") or []:
        if isinstance(legacy, dict) and legacy.get("id") not in ids:
            listed.append(legacy)
            if raw.get("schedules"):
                out.gap(f"{where}: therm schedule {legacy.get('id')} "
                        f"({legacy.get('name')!r}) is only in therm_schedules: loaded as a "
                        "schedule, so schedules show it too")
    for s in listed:
        sch = world_schedule(s, room_ids, heated, out, f"{where}.schedules[{s.get('id')}]",
                             forms)
        if sch is not None:
            schedules.append(sch)
    if "therm_schedules" in raw:
        forms.add("therm_schedules")
    for kind in {s.get("type", "therm") for s in schedules}:
        for later in [s for s in schedules if s.get("type", "therm") == kind
                      and s.get("selected")][1:]:
            later["selected"] = False
            out.gap(f"{where}: two {kind} schedules selected: {later['id']} loaded "
                    "unselected")
    if forms:
        home["legacy_schedule_forms"] = sorted(forms)
    home["schedules"] = schedules
    persons = [world_person(p, out, where) for p in raw.get("persons") or []]
    if persons:
        home["persons"] = persons
    scripted = world_events(raw.get("recorded_events") or [], modules, persons, out, where)
    if scripted:
        home["security_events"] = scripted
    if "recorded_until" in raw:     # the recorded past is the recording's, then the routine
        home["routine_from"] = raw["recorded_until"]
    return home


def world_events(recorded: list[dict[str, Any]], modules: list[dict[str, Any]],
                 persons: list[dict[str, Any]], out: FromReads, where: str
                 ) -> list[dict[str, Any]]:
    """The home's recorded events that it can script (the newest ``MAX_EVENTS``)."""
    ordered = sorted(recorded, key=lambda e: (e["at"], e["id"]))
    if len(ordered) > pz.MAX_EVENTS:
        out.gap(f"{where}: {len(ordered)} recorded events: the world scripts the newest "
                f"{pz.MAX_EVENTS}")
        ordered = ordered[-pz.MAX_EVENTS:]
    scripted = []
    for e in ordered:
        raw = {k: v for k, v in e.items() if k != "id"}
        try:
            scripted.append(pz.check_event(f"{where}: recorded event {e['id']}", raw,
                                           modules, persons))
        except ValueError as exc:
            out.gap(f"{exc}: not loaded")
    return scripted


def world_module(m: dict[str, Any], room_ids: set[str], out: FromReads, where: str
                 ) -> dict[str, Any] | None:
    if m.get("type") not in w.MODULE_TYPES:
        out.gap(f"{where}.modules[{m.get('id')}]: type {m.get('type')!r} unknown to the "
                "emulator: left out")
        return None
    mod = {k: m[k] for k in MODULE_TAKEN if k in m}
    for key in sorted(home_devices.WORLD_KEYS & m.keys()):   # a state the world seeds
        try:
            home_devices.check_world(f"{where}.modules[{m['id']}]", mod["type"],
                                     {key: m[key]})
        except ValueError as exc:
            out.gap(f"{exc}: left at the emulator's default")
        else:
            mod[key] = m[key]
    if "room_id" in mod and str(mod["room_id"]) not in room_ids:
        out.gap(f"{where}.modules[{m['id']}].room_id {mod.pop('room_id')}: no room of "
                "the home")
    if m.get("homesdata_state") is not True:
        mod.pop("homesdata_state", None)
    for key in sorted(set(m) - w.MODULE_KEYS - MODULE_DERIVED
                      - (STATE_IN_HOMESDATA if mod.get("homesdata_state") else set())):
        out.gap(f"{where}.modules[{m['type']}].{key}: the world cannot say it")
    return mod


def world_person(p: dict[str, Any], out: FromReads, where: str) -> dict[str, Any]:
    person = {"id": p["id"]}
    if p.get("pseudo"):
        person["pseudo"] = p["pseudo"]
    face = p.get("face") if isinstance(p.get("face"), dict) else {}
    if face:
        person["face"] = {k: face[k] for k in ("id", "key", "version") if k in face}
    for key in sorted(set(p) - {"id", "pseudo", "face"}):
        out.gap(f"{where}.persons[].{key}: computed by the emulator or not expressible")
    return person


def setpoint(value: Any, out: FromReads, where: str) -> float | int | None:
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    lo, hi = w.SETPOINT_RANGE
    halves = round(value * 2)            # the nearest half degree, then into range
    fixed = lo if halves < lo * 2 else hi if halves > hi * 2 else halves / 2
    if fixed != value:
        out.gap(f"{where}: set point {value} loaded as {fixed:g} (the emulator takes "
                f"{lo:g} to {hi:g} in 0.5 steps)")
    return int(fixed) if float(fixed).is_integer() else fixed


def zone_rooms(zone: dict[str, Any], room_ids: set[str], heated: set[str],
               out: FromReads, where: str, forms: set[str]) -> list[dict[str, Any]]:
    entries = [(r.get("id"), r.get("therm_setpoint_temperature"), r)
               for r in zone.get("rooms") or [] if isinstance(r, dict)]
    if zone.get("rooms_temp"):
        forms.add("rooms_temp")
        entries += [(r.get("room_id"), r.get("temp"), r) for r in zone["rooms_temp"]
                    if isinstance(r, dict)]
    rooms: dict[str, dict[str, Any]] = {}
    for rid, temp, raw in entries:
        rid = str(rid)
        if rid in rooms:
            continue
        if rid not in room_ids:
            out.gap(f"{where}: room id {rid} is no room of the home, left out of the "
                    f"zone (therm_setpoint_temperature {temp})")
            continue
        room: dict[str, Any] = {"id": rid}
        if temp is not None:
            room["therm_setpoint_temperature"] = setpoint(temp, out, where)
        if raw.get("therm_setpoint_fp") is not None:
            room["therm_setpoint_fp"] = raw["therm_setpoint_fp"]
        if "therm_setpoint_temperature" not in room and (
                rid in heated or "therm_setpoint_fp" not in room):
            out.gap(f"{where}: room {rid} has no set point the world can take: left out "
                    "of the zone")
            continue
        rooms[rid] = room
    return list(rooms.values())


def world_schedule(raw: dict[str, Any], room_ids: set[str], heated: set[str],
                   out: FromReads, where: str, forms: set[str]) -> dict[str, Any] | None:
    kind = raw.get("type", "therm")
    for key in sorted(set(raw) - w.SCHEDULE_KEYS):
        out.gap(f"{where}.{key}: the world cannot say it")
    zones = []
    for z in raw.get("zones") or []:
        zone: dict[str, Any] = {"id": z.get("id")}
        zone.update({k: z[k] for k in ("name", "type") if k in z})
        zone.update({k: z[k] for k in w.ZONE_STATIC if k in z})
        if "rooms" in z or "rooms_temp" in z:
            zone["rooms"] = zone_rooms(z, room_ids, heated, out,
                                       f"{where}.zones[{z.get('id')}]", forms)
        for key in sorted(set(z) - {"id", "name", "type", "rooms", "rooms_temp"}
                          - w.ZONE_STATIC):
            out.gap(f"{where}.zones[].{key}: the world cannot say it")
        zones.append(zone)
    zone_ids = {z["id"] for z in zones}
    timetable = sorted(({"zone_id": t["zone_id"], "m_offset": t["m_offset"]}
                        for t in raw.get("timetable") or [] if isinstance(t, dict)
                        and t.get("zone_id") in zone_ids), key=lambda t: t["m_offset"])
    if kind == "therm" and timetable and timetable[0]["m_offset"] != 0:
        out.gap(f"{where}: the timetable starts at m_offset {timetable[0]['m_offset']}: "
                "the world's starts at 0 (that slot moved there)")
        timetable[0]["m_offset"] = 0
    sch: dict[str, Any] = {k: raw[k] for k in ("id", "name", "type", "selected", "default")
                           if k in raw}
    for key in ("hg_temp", "away_temp"):
        if key in raw:
            sch[key] = setpoint(raw[key], out, f"{where}.{key}")
    sch.update({k: raw[k] for k in w.SCHEDULE_STATIC if k in raw})
    sch.update(zones=zones, timetable=timetable)
    fp_rooms = room_ids - heated
    try:
        w.check_schedule(where, sch, room_ids, fp_rooms=fp_rooms)
    except ValueError as exc:
        out.gap(f"{where}: cannot be loaded ({exc}): left out")
        return None
    return sch
