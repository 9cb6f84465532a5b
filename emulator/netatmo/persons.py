"""The people of a Netatmo home and its scripted security events: their part of a world
file, checked and normalised (``world.check_home`` calls :func:`check_persons` and
:func:`check_events`). What they do on the clock is ``security``'s.

::

    homes:
      - id: ...
        persons:
          - id: "91827374-7e04-5298-83ad-a0cb8372dff1"  # 1-64 printable characters;
                                                        # derived (UUID-shaped) if absent
            pseudo: John Doe          # absent: a face the cameras know without a name
            face: {id: <24 hex>, key: <64 hex>, version: 1}   # each part derived if absent
            routine:                  # absent: the default for a named resident (below);
              leave: "08:00"          #   null: none (never leaves, never routinely seen)
              back: "18:00"           # local wall-clock times, HH:MM, back after leave
              jitter: 30              # minutes, each instant drawn uniformly +- jitter
              days: [mon, tue, wed, thu, fri]   # days the person goes out
              sightings: 3            # indoor camera sightings per day at home (mean)
        security_events:              # scripted events (as the admin API injects them)
          - {at: 1800003600, type: smoke, module_id: "70:ee:50:00:00:40"}
          - {at: 1800007200, type: unknown_face}        # module_id: the first fitting one
          - {at: 1800009000, type: person, person_id: ...}  # person: a known person
          - {at: 1800009100, type: person, arrival: true}   # is_arrival (default false)
          - {at: 1800009200, type: person_away, person_id: ...}  # none: home set empty
          - {at: 1800009300, type: person_home, person_ids: [...]}  # default: the named
          - {at: 1800009400, type: movement, category: animal}   # default human
          - {at: 1800009500, type: human, detections: [human, vehicle]}  # default [type]
          - {at: 1800009600, type: wifi_status, sub_type: 0}  # default 1 (connected)
          - {at: 1800009700, type: sound_test, sub_type: 1}   # default 0 (passed); also
                                                  # hush and tampered, default 0

A scripted event is what happened: unlike the routine's, it shows even before its
module's ``setup_date`` (a recording's ``last_setup`` is the *last* set-up, and a
recording may hold events from before it), but not while its camera is off or offline.

Default routines (INFERRED), by the rank ``i`` of the named resident: i = 0 leaves at
08:00 and is back at 18:00 Monday to Friday; i = 1 07:30 - 19:00 Monday to Thursday;
i = 2 14:00 - 16:30 Wednesday and Saturday; further ones repeat the three, 20 minutes
later per round; jitter 30 minutes, 3 sightings a day. A person without ``pseudo``
(an unknown face) has no routine unless the world gives one.

Event types a world (or ``POST /_mockcloud/devices/netatmo/<module>/events``) may
script, and the module type each needs: ``INJECTABLE``.
"""

from __future__ import annotations

import hashlib
import re
from typing import Any

DAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
PERSON_KEYS = {"id", "pseudo", "face", "routine"}
FACE_KEYS = {"id", "key", "version"}
ROUTINE_KEYS = {"leave", "back", "jitter", "days", "sightings"}
EVENT_KEYS = {"at", "type", "module_id", "person_id", "person_ids", "arrival",
              "category", "detections", "sub_type"}
MAX_PERSONS = 32
MAX_EVENTS = 256
MAX_EPOCH = 253_402_300_799
CLOCK = re.compile(r"^([01]\d|2[0-3]):([0-5]\d)$")
PRINTABLE = re.compile(r"^[\x21-\x7e]{1,64}$")
DEFAULTS = (("08:00", "18:00", ("mon", "tue", "wed", "thu", "fri")),
            ("07:30", "19:00", ("mon", "tue", "wed", "thu")),
            ("14:00", "16:30", ("wed", "sat")))
JITTER, SIGHTINGS = 30, 3

# injectable type -> (module types it happens on, the event type getevents shows)
INJECTABLE: dict[str, tuple[tuple[str, ...], str]] = {
    "smoke": (("NSD",), "smoke"),
    "smoke_cleared": (("NSD",), "smoke"),
    "hush": (("NSD",), "hush"),
    "sound_test": (("NSD",), "sound_test"),
    "tampered": (("NSD", "NCO"), "tampered"),
    "co_detected": (("NCO",), "co_detected"),
    "unknown_face": (("NACamera",), "person"),
    "person": (("NACamera",), "person"),
    "movement": (("NACamera",), "movement"),
    "human": (("NOC",), "outdoor"),
    "animal": (("NOC",), "outdoor"),
    "vehicle": (("NOC",), "outdoor"),
    "tag_open": (("NACamDoorTag",), "tag_open"),
    "tag_big_move": (("NACamDoorTag",), "tag_big_move"),
    "tag_small_move": (("NACamDoorTag",), "tag_small_move"),
    "person_away": (("NACamera",), "person_away"),
    "person_home": (("NACamera",), "person_home"),
    "wifi_status": (("NSD",), "wifi_status"),
}
# the optional keys of a scripted event, by type, and their defaults (sub_type: 0 a
# passed sound test, 1 a Wi-Fi connection made: the sample's; INFERRED for the others)
SUB_TYPES = {"sound_test": 0, "hush": 0, "tampered": 0, "wifi_status": 1}
OUTDOOR = ("human", "animal", "vehicle")
CATEGORIES = ("human", "animal")
MAX_DETECTIONS = 8


def _hash(*parts: Any) -> str:
    return hashlib.sha256(":".join(map(str, parts)).encode()).hexdigest()


def person_id(home_id: str, index: int | str) -> str:
    """A derived person id, shaped as the cloud's (a UUID)."""
    h = _hash("person", home_id, index)
    return f"{h[:8]}-{h[8:12]}-{h[12:16]}-{h[16:20]}-{h[20:32]}"


def face(home_id: str, pid: str, given: dict[str, Any] | None = None) -> dict[str, Any]:
    given = given or {}
    return {"id": given.get("id") or _hash("face", home_id, pid)[:24],
            "version": given.get("version", 1),
            "key": given.get("key") or _hash("face-key", home_id, pid)}


def _clock(where: str, value: Any) -> int:
    """Minutes since local midnight of an ``HH:MM`` text."""
    m = CLOCK.match(value) if isinstance(value, str) else None
    if m is None:
        raise ValueError(f"{where} must be a local time HH:MM (e.g. \"08:15\"), not {value!r}")
    return int(m.group(1)) * 60 + int(m.group(2))


def default_routine(rank: int) -> dict[str, Any]:
    leave, back, days = DEFAULTS[rank % len(DEFAULTS)]
    shift = 20 * (rank // len(DEFAULTS))

    def later(text: str) -> str:
        minutes = min(_clock("", text) + shift, 23 * 60 + 59)
        return f"{minutes // 60:02d}:{minutes % 60:02d}"

    return {"leave": later(leave), "back": later(back), "jitter": JITTER,
            "days": list(days), "sightings": SIGHTINGS}


def _int(where: str, value: Any, lo: int, hi: int) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or not lo <= value <= hi:
        raise ValueError(f"{where} must be an integer from {lo} to {hi}, not {value!r}")
    return value


def _mapping(where: str, raw: Any, keys: set[str]) -> dict[str, Any]:
    from .world import _mapping as mapping  # world.py imports this module

    return mapping(where, raw, keys)


def _bounded_list(where: str, raw: Any, most: int, what: str) -> list[Any]:
    if raw is None:
        return []
    if not isinstance(raw, list):
        raise ValueError(f"{where} must be a list")
    if len(raw) > most:
        raise ValueError(f"{where} holds {len(raw)} {what}; at most {most}")
    return raw


def check_routine(where: str, raw: Any) -> dict[str, Any]:
    r = _mapping(where, raw, ROUTINE_KEYS)
    for key in ("leave", "back"):
        if key not in r:
            raise ValueError(f"{where}.{key} is missing")
    leave, back = _clock(f"{where}.leave", r["leave"]), _clock(f"{where}.back", r["back"])
    if back <= leave:
        raise ValueError(f"{where}.back ({r['back']}) must come after leave ({r['leave']}) "
                         "on the same day")
    days = r.get("days", list(DAYS[:5]))
    if not isinstance(days, list) or any(d not in DAYS for d in days):
        raise ValueError(f"{where}.days must be a list of {', '.join(DAYS)}")
    return {"leave": r["leave"], "back": r["back"],
            "jitter": _int(f"{where}.jitter", r.get("jitter", JITTER), 0, 120),
            "days": [d for d in DAYS if d in days],
            "sightings": _int(f"{where}.sightings", r.get("sightings", SIGHTINGS), 0, 20)}


def check_persons(where: str, raw: Any, home_id: str) -> list[dict[str, Any]]:
    """A home's persons, normalised (every default filled in); raises ValueError."""
    out, named = [], 0
    for i, entry in enumerate(_bounded_list(where, raw, MAX_PERSONS, "persons")):
        w = f"{where}[{i}]"
        p = _mapping(w, entry, PERSON_KEYS)
        pid = p.get("id", person_id(home_id, i))
        if not isinstance(pid, str) or not PRINTABLE.match(pid):
            raise ValueError(f"{w}.id must be 1 to 64 printable characters, not {pid!r}")
        made: dict[str, Any] = {"id": pid}
        if "pseudo" in p:
            if not isinstance(p["pseudo"], str) or not p["pseudo"].strip() \
                    or len(p["pseudo"]) > 128:
                raise ValueError(f"{w}.pseudo must be a name of 1 to 128 characters")
            made["pseudo"] = p["pseudo"]
        given = _mapping(f"{w}.face", p.get("face") or {}, FACE_KEYS)
        if "id" in given and not (isinstance(given["id"], str)
                                  and PRINTABLE.match(given["id"])):
            raise ValueError(f"{w}.face.id must be 1 to 64 printable characters")
        if "key" in given and not (isinstance(given["key"], str)
                                   and PRINTABLE.match(given["key"])):
            raise ValueError(f"{w}.face.key must be 1 to 64 printable characters")
        if "version" in given:
            _int(f"{w}.face.version", given["version"], 0, 1_000_000)
        made["face"] = face(home_id, pid, given)
        if "routine" in p:
            made["routine"] = None if p["routine"] is None else check_routine(
                f"{w}.routine", p["routine"])
        else:
            made["routine"] = default_routine(named) if "pseudo" in made else None
        named += "pseudo" in made
        out.append(made)
    ids = [p["id"] for p in out]
    if len(set(ids)) != len(ids):
        raise ValueError(f"{where}: a person id is used twice")
    return out


def topology(home: dict[str, Any], base: str = "") -> list[dict[str, Any]]:
    """homesdata's ``persons``: the named ones, ``{id, pseudo, url}`` (the face's URL
    under ``base``, the client's base URL;
    sample homesdata.json; unknown faces are left out, as the contract has every
    person named)."""
    from .pictures import url

    return [{"id": p["id"], "pseudo": p["pseudo"], "url": url(p["face"]["id"],
                                                               p["face"]["key"], base)}
            for p in home.get("persons") or [] if "pseudo" in p]


def module_for(modules: list[dict[str, Any]], kind: str, module_id: str | None
               ) -> dict[str, Any]:
    """The module an injected event of ``kind`` happens on: ``module_id`` (checked to
    be of a fitting type), else the home's first module of a fitting type. Raises
    ValueError."""
    types = INJECTABLE[kind][0]
    if module_id is not None:
        wanted = module_id.replace(" ", "").lower()
        mod = next((m for m in modules if m["id"] == wanted), None)
        if mod is None:
            raise ValueError(f"module {module_id!r} is no module of this home")
        if mod["type"] not in types:
            raise ValueError(f"a {kind} event happens on a {' or '.join(types)}, and "
                             f"{module_id} is a {mod['type']}")
        return mod
    mod = next((m for m in modules if m["type"] in types), None)
    if mod is None:
        raise ValueError(f"a {kind} event needs a {' or '.join(types)} in the home")
    return mod


def check_event(where: str, raw: Any, modules: list[dict[str, Any]],
                persons: list[dict[str, Any]]) -> dict[str, Any]:
    """One scripted (or injected) event, normalised (the module docstring has its keys)."""
    e = _mapping(where, raw, EVENT_KEYS)
    at = e.get("at")
    if isinstance(at, bool) or not isinstance(at, int | float) or not 0 <= at <= MAX_EPOCH:
        raise ValueError(f"{where}.at must be epoch seconds from 0 to {MAX_EPOCH}, "
                         f"not {at!r}")
    kind = e.get("type")
    if kind not in INJECTABLE:
        raise ValueError(f"{where}.type must be one of {', '.join(INJECTABLE)}, "
                         f"not {kind!r}")
    mid = e.get("module_id")
    if mid is not None and not isinstance(mid, str):
        raise ValueError(f"{where}.module_id must be a string")
    try:
        mod = module_for(modules, kind, mid)
    except ValueError as exc:
        raise ValueError(f"{where}: {exc}") from None
    out: dict[str, Any] = {"at": int(at), "type": kind, "module_id": mod["id"]}
    known = [p["id"] for p in persons]
    allowed = {"person": {"person_id", "arrival"}, "person_away": {"person_id"},
               "person_home": {"person_ids"}, "movement": {"category"},
               **{k: {"detections"} for k in OUTDOOR},
               **{k: {"sub_type"} for k in SUB_TYPES}}.get(kind, set())
    for key in sorted(set(e) - {"at", "type", "module_id"} - allowed):
        if e[key] is not None:
            raise ValueError(f"{where}.{key} is not for a {kind} event")
    pid = e.get("person_id")
    if kind == "person" and pid is None and known:
        pid = known[0]
    if kind == "person" or (kind == "person_away" and pid is not None):
        if pid not in known:
            raise ValueError(f"{where}.person_id must be a person of this home "
                             f"({', '.join(known) or 'it has none'})")
        out["person_id"] = pid
    if kind == "person_home":
        ids = e.get("person_ids")
        if ids is None:
            ids = [p["id"] for p in persons if "pseudo" in p]
        if not isinstance(ids, list) or any(i not in known for i in ids):
            raise ValueError(f"{where}.person_ids must be a list of persons of this home "
                             f"({', '.join(known) or 'it has none'})")
        out["person_ids"] = list(dict.fromkeys(ids))
    if e.get("arrival") is not None:
        if not isinstance(e["arrival"], bool):
            raise ValueError(f"{where}.arrival must be true or false")
        out["arrival"] = e["arrival"]
    if kind == "movement":
        out["category"] = e.get("category") or "human"
        if out["category"] not in CATEGORIES:
            raise ValueError(f"{where}.category must be one of {', '.join(CATEGORIES)}")
    if kind in OUTDOOR:
        found = e.get("detections") or [kind]
        if not isinstance(found, list) or not 1 <= len(found) <= MAX_DETECTIONS \
                or any(d not in OUTDOOR for d in found) or found[0] != kind:
            raise ValueError(f"{where}.detections must be 1 to {MAX_DETECTIONS} of "
                             f"{', '.join(OUTDOOR)}, the first the event's type ({kind})")
        out["detections"] = list(found)
    if kind in SUB_TYPES:
        sub = e.get("sub_type")
        out["sub_type"] = SUB_TYPES[kind] if sub is None else _int(
            f"{where}.sub_type", sub, 0, 1)
    return out


def check_events(where: str, raw: Any, modules: list[dict[str, Any]],
                 persons: list[dict[str, Any]]) -> list[dict[str, Any]]:
    events = [check_event(f"{where}[{i}]", e, modules, persons)
              for i, e in enumerate(_bounded_list(where, raw, MAX_EVENTS, "events"))]
    return sorted(events, key=lambda e: e["at"])
