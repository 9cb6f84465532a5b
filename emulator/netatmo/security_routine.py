"""What a Netatmo home's cameras see in one local day, from the world alone: a pure,
seeded function of (seed, the home's persons, cameras and place, the day).

A *day* is a local calendar day in the home's time zone (``date.toordinal()``), from
local midnight to the next (23 or 25 hours on DST days). :func:`day` draws its events
from a ``random.Random`` seeded by (seed, home id, day), so reading a day costs the
same whatever the clock says and whatever was read before; it is memoised (LRU) under
everything it depends on. Events are dicts, shared: read them, never change them.

The routine (INFERRED; the notes are silent):

* each named resident with a routine, on a routine day, leaves at ``leave`` and is
  back at ``back`` (each +- ``jitter``, at least 30 minutes apart): the indoor camera
  sees them shortly before they leave (``person``), their phone leaves the home's
  area 2-15 minutes later (``person_away``), the outdoor camera sees a human going and
  coming back, and the indoor camera sees them arrive (``person``, ``arrival``);
* at home, 0.5x to 1.5x ``sightings`` more ``person`` sightings between 07:00 and
  23:00 on the first indoor camera;
* each indoor camera: 2 to 6 ``movement`` events between 07:00 and 23:00 while
  someone is home (each one 15 % likely otherwise); mostly ``human``, else ``animal``;
* each outdoor camera (``outdoor`` events, each with one or two detections): 1-3
  vehicles between 07:00 and 21:00, 0-2 visitors (``human``) between 08:00 and
  20:00, 0-2 animals at any hour (the residents' comings and goings pass the first);
* each smoke alarm tests its siren once a week (``sound_test``), on a day of its own.

Events drawn outside the day (a late return pushed past midnight by its jitter) are
left out. Each event: ``{"id", "time", "type", "module", ...}`` with, as the type
asks, ``person``, ``arrival``, ``category``, ``sub_type`` or ``subs`` (the outdoor
detections: ``[{"id", "type", "time", "offset"}]``). Ids are 24 hex digits whose first
8 are the time (as Netatmo's, Mongo ObjectIds), the rest a hash of (seed, home, day,
rank): the same event always has the same id.
"""

from __future__ import annotations

import hashlib
import random
from datetime import date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import orjson

from ..core.memo import LRU
from .energy_state import _wall_epoch
from .persons import DAYS

CAMERAS = frozenset({"NACamera", "NOC"})
SECURITY = frozenset({"NACamera", "NOC", "NACamDoorTag", "NSD", "NCO", "NIS"})
WAKE, SLEEP = 7 * 60, 23 * 60
MEMO: LRU[tuple[dict[str, Any], ...]] = LRU("netatmo.security.day", 4096)

Event = dict[str, Any]


def digest(*parts: Any) -> str:
    return hashlib.sha256(":".join(map(str, parts)).encode()).hexdigest()


def event_id(t: int, *parts: Any) -> str:
    """24 hex digits: the time (mod 2**32) then a hash of ``parts``."""
    return f"{t & 0xFFFFFFFF:08x}{digest(*parts)[:16]}"


def ordered_id(t: int, n: int, *parts: Any) -> str:
    """24 hex digits: the time, then ``n`` (so ids of one instant sort in ``n``'s
    order: facts in the order they were made), then a hash of ``parts``."""
    return f"{t & 0xFFFFFFFF:08x}{n & 0xFFFFFFFF:08x}{digest(*parts)[:8]}"


def uuid_like(*parts: Any) -> str:
    h = digest(*parts)
    return f"{h[:8]}-{h[8:12]}-{h[12:16]}-{h[16:20]}-{h[20:32]}"


def local_day(zone: ZoneInfo, t: float) -> int:
    return datetime.fromtimestamp(t, zone).date().toordinal()


def wall(zone: ZoneInfo, day: int, minutes: float) -> int:
    """The instant of a local wall-clock time on ``day`` (a skipped one: the first
    instant after it; a repeated one: its first occurrence)."""
    return _wall_epoch(datetime.combine(date.fromordinal(day), datetime.min.time())
                       + timedelta(minutes=minutes), zone)


def bounds(zone: ZoneInfo, day: int) -> tuple[int, int]:
    """[start, end) of a local day."""
    return wall(zone, day, 0), wall(zone, day + 1, 0)


def _minutes(text: str) -> int:
    return int(text[:2]) * 60 + int(text[3:5])


def static_key(home: dict[str, Any]) -> bytes:
    """Everything of the home the routine reads."""
    mods = [[m["id"], m["type"], m.get("bridge")] for m in home["modules"]
            if m["type"] in SECURITY]
    return orjson.dumps([home["id"], home["timezone"], home.get("persons") or [], mods])


def day(seed: int, home: dict[str, Any], d: int) -> tuple[Event, ...]:
    """The routine's events of local day ``d``, in (time, id) order (memoised)."""
    key = (seed, static_key(home), d)
    return MEMO.get_or_compute(key, lambda: _draw(seed, home, d))


def _draw(seed: int, home: dict[str, Any], d: int) -> tuple[Event, ...]:
    zone = ZoneInfo(home["timezone"])
    start, end = bounds(zone, d)
    rng = random.Random(int(digest("security-day", seed, home["id"], d)[:16], 16))
    u = rng.random
    weekday = DAYS[date.fromordinal(d).weekday()]
    mods = home["modules"]
    indoor = [m for m in mods if m["type"] == "NACamera"]
    outdoor = [m for m in mods if m["type"] == "NOC"]
    drawn: list[Event] = []

    def add(t: float, kind: str, module: dict[str, Any], **fields: Any) -> None:
        drawn.append({"time": int(t), "type": kind, "module": module["id"], **fields})

    def detections(t: float, first: str, cam: dict[str, Any] | None = None) -> None:
        subs = [(first, 0)]
        if u() < 0.3:
            subs.append((first if u() < 0.6 else "human", 2 + int(u() * 20)))
        add(t, "outdoor", cam or outdoor[0], subs=subs)

    def span(a: int, b: int) -> int:
        return wall(zone, d, a) + int(u() * (wall(zone, d, b) - wall(zone, d, a)))

    away: dict[str, tuple[int, int]] = {}
    residents = [p for p in home.get("persons") or [] if p.get("routine")]
    for p in residents:
        r = p["routine"]
        if weekday in r["days"]:
            jit = r["jitter"] * 60
            leave = wall(zone, d, _minutes(r["leave"])) + int((2 * u() - 1) * jit)
            back = wall(zone, d, _minutes(r["back"])) + int((2 * u() - 1) * jit)
            away[p["id"]] = (leave, max(back, leave + 1800))

    def home_at(t: float) -> bool:
        return any(not (a <= t < b) for pid, (a, b) in away.items()) or any(
            p["id"] not in away for p in residents)

    for p in residents:
        pid, cam = p["id"], indoor[0] if indoor else None
        if pid in away:
            leave, back = away[pid]
            if cam:
                add(leave - 60 - int(u() * 540), "person", cam, person=pid, arrival=False)
                add(leave + 120 + int(u() * 780), "person_away", cam, person=pid,
                    phone=True)
            if outdoor:
                detections(leave + 10 + int(u() * 50), "human")
                detections(back - 10 - int(u() * 50), "human")
            if cam:
                add(back + 30 + int(u() * 210), "person", cam, person=pid, arrival=True)
        n = int(p["routine"]["sightings"] * (0.5 + u()))
        for _ in range(n):
            t = span(WAKE, SLEEP)
            a, b = away.get(pid, (0, 0))
            if cam and not (a - 900 <= t < b + 900):
                add(t, "person", cam, person=pid, arrival=False)
    for cam in indoor:
        for _ in range(2 + int(u() * 5)):
            t = span(WAKE, SLEEP)
            if home_at(t) or u() < 0.15:
                add(t, "movement", cam, category="human" if u() < 0.8 else "animal")

    def traffic(cam: dict[str, Any]) -> None:
        for _ in range(1 + int(u() * 3)):
            detections(span(7 * 60, 21 * 60), "vehicle", cam)
        for _ in range(int(u() * 3)):
            detections(span(8 * 60, 20 * 60), "human", cam)
        for _ in range(int(u() * 3)):
            detections(span(0, 24 * 60), "animal", cam)

    if outdoor:
        traffic(outdoor[0])
    for nsd in (m for m in mods if m["type"] == "NSD"):
        if date.fromordinal(d).weekday() == int(digest("test-day", seed, nsd["id"])[:8], 16) % 7:
            add(wall(zone, d, 11 * 60) + int(u() * 3600), "sound_test", nsd, sub_type=0)
    for cam in outdoor[1:]:     # drawn last: a home's first camera's draws stay as they were
        traffic(cam)
    kept = [e for e in drawn if start <= e["time"] < end]
    kept.sort(key=lambda e: e["time"])          # stable: draw order breaks ties
    out = []
    for rank, e in enumerate(kept):
        e["id"] = event_id(e["time"], "routine", seed, home["id"], d, rank)
        subs = e.pop("subs", None)
        if subs is not None:
            e["subs"] = [{"id": uuid_like("sub", e["id"], j), "type": kind,
                          "time": e["time"] + off, "offset": off}
                         for j, (kind, off) in enumerate(subs)]
        out.append(e)
    out.sort(key=lambda e: (e["time"], e["id"]))
    return tuple(out)
