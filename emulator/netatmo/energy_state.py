"""Netatmo Energy's state: the event log on the home document, and the set points it
gives each room at any instant (see ``energy``'s docstring for the rules).

The log (``home["state"]``, plain JSON, exported with the world)::

    state:
      base:                      # optional: what older events folded into (compaction)
        at: 1700000000           #   in force from this instant on
        mode: {mode: away, start: 1699990000, end: 1700050000}
        rooms: {"3100000001": {mode: manual, temp: 21, start: 1699999000, end: 1700009800}}
      events:                    # in time order; same instant: in the order made
        - {at: t, kind: mode, mode: schedule|away|hg|off, end: <epoch> | 0}
        - {at: t, kind: room, room: <id>, mode: manual|max|home, temp: x, end: <epoch>}
        - {at: t, kind: schedules, schedules: [<the home's whole schedule list>]}

Without a ``base`` the home starts from the world's ``therm_mode`` (start 0, no end)
and ``schedules``; with one, ``home["schedules"]`` is the list in force at ``base.at``.
A read at ``t`` folds the events with ``at <= t`` (:func:`state_at`), so a write made
later never changes a reading of the past. A schedule edit stores the whole new list
(topology changes are rare; it keeps a read a binary search away from the list in
force).

**Bounded, with its history kept** (:func:`record`): an event replaces the earlier
events of the same instant and target (``mode``, ``room:<id>``, ``schedules``): a read
at that instant already sees only the last. When the log passes ``MAX_EVENTS``, all
but the newest ``RECENT`` are *sealed*: they go, with the ``base`` and schedule list
they start from, to a chunk document of their own (kind ``CHUNK``, written by the
caller after the home: ``state.pending``), the home's ``base`` becomes their fold and
``state.chunks`` indexes the chunk (``[number, its base.at or None]``, oldest first;
``state.log`` names this log's chunks, so a chunk of an earlier world loaded under the
same home id is never read). A write therefore rewrites a home of at most
``MAX_EVENTS`` events, whatever the history. A read that needs instants before
``base.at`` reads the chunks that cover them (``energy.with_history`` builds the home
as it was, :func:`extended`), so a reading of the past is exact for every change in
the ``MAX_CHUNKS`` newest chunks; before those (more than ~16,000 changes ago), or
when a chunk is missing (a world export keeps no chunks), a read starts from the
oldest base it has. A write at an instant before ``base.at`` (the clock moved back
past sealed history) is folded after that base (INFERRED: the one approximation left).

**Reads are memoised** (``emulator.core.memo``): :func:`state_at` folds lazily (a write
that does not look at the state never folds) and remembers folds by (:func:`home_key`,
how many events are folded in); :func:`home_key` is the bytes of everything a reading
depends on (time zone, place, initial mode, schedules, the log), exact as a key.
"""

from __future__ import annotations

import bisect
import hashlib
import json
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from functools import lru_cache
from typing import Any
from zoneinfo import ZoneInfo

import orjson

from ..core.memo import LRU

WEEK_MIN = 7 * 24 * 60
MAX_EVENTS = 64           # in the home document once a write has sealed the rest
WORLD_EVENTS = 256        # in a world file's log (the first write seals the older ones)
RECENT = 16               # left in it when the older ones are sealed into a chunk
MAX_CHUNKS = 256          # sealed chunks kept per home (the oldest then go)
CHUNK = "netatmo.energy_chunk"
OFF_TEMP = 7            # what rooms show in mode off (INFERRED in the spec)
HG_DEFAULT, AWAY_DEFAULT = 7, 12   # with no therm schedule selected (INFERRED)
INF = float("inf")


@dataclass
class State:
    mode: str
    start: float
    end: float                                  # 0: none
    rooms: dict[str, dict[str, Any]] = field(default_factory=dict)
    schedules: list[dict[str, Any]] = field(default_factory=list)


def _key(event: dict[str, Any]) -> str:
    return f"room:{event['room']}" if event["kind"] == "room" else event["kind"]


def base_state(home: dict[str, Any]) -> State:
    base = (home.get("state") or {}).get("base")
    if base:
        m = base["mode"]
        return State(m["mode"], m["start"], m["end"],
                     {k: dict(v) for k, v in base.get("rooms", {}).items()},
                     home["schedules"])
    return State(home["therm_mode"], 0, 0, {}, home["schedules"])


def apply(state: State, event: dict[str, Any]) -> None:
    kind = event["kind"]
    if kind == "mode":
        state.mode, state.start, state.end = event["mode"], event["at"], event["end"]
        state.rooms = {}
    elif kind == "room":
        if event["mode"] == "home":
            state.rooms.pop(event["room"], None)
        else:
            state.rooms[event["room"]] = {"mode": event["mode"], "temp": event["temp"],
                                          "start": event["at"], "end": event["end"]}
    elif kind == "schedules":
        state.schedules = event["schedules"]


def events(home: dict[str, Any]) -> list[dict[str, Any]]:
    return (home.get("state") or {}).get("events") or []


def upto(evs: list[dict[str, Any]], t: float) -> int:
    """How many events have ``at <= t``."""
    lo, hi = 0, len(evs)
    while lo < hi:
        mid = (lo + hi) // 2
        if evs[mid]["at"] <= t:
            lo = mid + 1
        else:
            hi = mid
    return lo


def _fold(home: dict[str, Any], evs: list[dict[str, Any]]) -> State:
    state = base_state(home)
    for event in evs:
        apply(state, event)
    return state


# ---------------------------------------------------------------- what a read depends on

def _dump(value: Any) -> bytes:
    try:
        return orjson.dumps(value)
    except TypeError:   # an integer beyond 64 bits: the slower, unbounded encoder
        return json.dumps(value, separators=(",", ":"), ensure_ascii=False).encode()


def _signature(home: dict[str, Any]) -> tuple[Any, ...]:
    """Changes whenever a write changes the home's log, base or schedules (a write
    appends or replaces events and base, and replaces the schedule list)."""
    st = home.get("state") or {}
    evs = st.get("events") or []
    return (id(st), len(evs), id(evs[-1]) if evs else 0, id(st.get("base")),
            id(home.get("schedules")), home.get("therm_mode"))


_KEYS: dict[int, tuple[dict[str, Any], tuple[Any, ...], bytes]] = {}


def home_key(home: dict[str, Any]) -> bytes:
    """Everything a home's energy readings depend on but the seed and the device
    overrides, serialised: time zone, coordinates, altitude, the initial mode, the
    schedules and the event log (with its base). Used whole as a cache key, so a hit
    compares it in full (no digest collision can make one home read as another).
    Memoised per document object while its signature holds (a request reads one
    home several times: state, then each room)."""
    sig = _signature(home)
    hit = _KEYS.get(id(home))
    if hit is not None and hit[0] is home and hit[1] == sig:
        return hit[2]
    key = _dump([home.get("timezone"), home.get("coordinates"), home.get("altitude", 0),
                 home.get("therm_mode"), home.get("schedules"), home.get("state")])
    while len(_KEYS) >= 8:               # the oldest out, one at a time
        try:
            _KEYS.pop(next(iter(_KEYS)), None)
        except (StopIteration, RuntimeError):   # emptied or changed by another thread
            break
    _KEYS[id(home)] = (home, sig, key)
    return key


# (home_key, events folded) -> (mode, start, end, rooms, schedules); ~1 KiB an entry
_STATES: LRU[tuple[Any, ...]] = LRU("netatmo.energy.states", 1024)


class _LazyState(State):
    """A :class:`State` folded on first use (``state_at``): what the home holds when
    it is made is captured, so a write that changes the home afterwards does not
    change it; a ``frozen`` home (a shared snapshot: nothing changes it) is not
    captured either, until the state is read."""

    def __init__(self, home: dict[str, Any], t: float, frozen: bool = False) -> None:
        self.__dict__["_src"] = (home, t) if frozen else _captured(home, t)

    def __getattr__(self, name: str) -> Any:
        src = self.__dict__.pop("_src", None)
        if src is None or name.startswith("__"):
            raise AttributeError(name)
        if len(src) == 2:
            src = _captured(*src)
        home, sig, snap, evs = src
        if _signature(home) == sig:
            key = (home_key(home), len(evs))
            hit = _STATES.get(key)
            if hit is None:
                st = _fold(snap, evs)
                hit = _STATES.put(key, (st.mode, st.start, st.end, st.rooms, st.schedules))
        else:
            st = _fold(snap, evs)
            hit = (st.mode, st.start, st.end, st.rooms, st.schedules)
        self.mode, self.start, self.end = hit[0], hit[1], hit[2]
        self.rooms = {k: dict(v) for k, v in hit[3].items()}
        self.schedules = hit[4]
        return getattr(self, name)


def _captured(home: dict[str, Any], t: float) -> tuple[Any, ...]:
    """What a fold at ``t`` reads of ``home``, as it is now."""
    evs = events(home)
    n = upto(evs, t)
    snap = {"state": {"base": (home.get("state") or {}).get("base")},
            "schedules": home["schedules"], "therm_mode": home["therm_mode"]}
    return home, _signature(home), snap, evs[:n]


def state_at(home: dict[str, Any], t: float, frozen: bool = False) -> State:
    """The home's state after the events at or before ``t`` (folded when first read;
    its ``schedules`` are shared: read them, build new lists to change them).
    ``frozen``: ``home`` is never changed (a store's shared snapshot), so nothing is
    read of it before the state is."""
    return _LazyState(home, t, frozen)


def effective_mode(state: State, t: float) -> tuple[str, float, float]:
    """The home's mode at ``t``: away/hg whose end has come are back to schedule."""
    if state.mode in ("away", "hg") and state.end and state.end <= t:
        return "schedule", state.end, 0
    return state.mode, state.start, state.end


def selected(schedules: list[dict[str, Any]], kind: str = "therm") -> dict[str, Any] | None:
    return next((s for s in schedules if s["type"] == kind and s.get("selected")), None)


# ---------------------------------------------------------------- the week's boundaries

@lru_cache(maxsize=4096)
def week_bounds(tz: str, monday_ordinal: int, offsets: tuple[int, ...]) -> tuple[int, ...]:
    """The epochs of a timetable's offsets in the local week starting on that Monday
    (wall-clock; a time in a skipped hour: the first valid instant after it; a
    repeated hour: its first occurrence)."""
    zone = ZoneInfo(tz)
    monday = datetime.fromordinal(monday_ordinal)
    return tuple(_wall_epoch(monday + timedelta(minutes=m), zone) for m in offsets)


def _wall_epoch(wall: datetime, zone: ZoneInfo) -> int:
    at = wall.replace(tzinfo=zone, fold=0)
    epoch = int(at.timestamp())
    back = datetime.fromtimestamp(epoch, zone).replace(tzinfo=None)
    if back == wall:
        return epoch
    # a skipped wall time: the transition instant (first instant whose wall >= wall)
    lo, hi = epoch - 4 * 3600, epoch
    while hi - lo > 1:
        mid = (lo + hi) // 2
        if datetime.fromtimestamp(mid, zone).replace(tzinfo=None) >= wall:
            hi = mid
        else:
            lo = mid
    return hi


def _monday(tz: str, t: float) -> int:
    local = datetime.fromtimestamp(t, ZoneInfo(tz))
    return local.date().toordinal() - local.weekday()


_OFFSETS: dict[int, tuple[dict[str, Any], tuple[int, ...]]] = {}


def _offsets(schedule: dict[str, Any]) -> tuple[int, ...]:
    """The timetable's offsets, memoised per schedule object (a request reads one
    schedule many times; the entry keeps the object, so an id is never reused)."""
    hit = _OFFSETS.get(id(schedule))
    if hit is not None and hit[0] is schedule:
        return hit[1]
    if len(_OFFSETS) > 256:
        _OFFSETS.clear()
    offsets = tuple(e["m_offset"] for e in schedule["timetable"])
    _OFFSETS[id(schedule)] = (schedule, offsets)
    return offsets


def slot(tz: str, schedule: dict[str, Any], t: float) -> tuple[int, int, int]:
    """(zone id, start, end) of the timetable entry in force at ``t``: the last whose
    boundary instant is <= t, wrapping weekly."""
    table = schedule["timetable"]
    offsets = _offsets(schedule)
    monday = _monday(tz, t)
    bounds = week_bounds(tz, monday, offsets)
    i = bisect.bisect_right(bounds, t) - 1
    if i < 0:                                  # before this week's first boundary
        monday -= 7
        bounds = week_bounds(tz, monday, offsets)
        i = len(bounds) - 1
    if i + 1 < len(bounds):
        end = bounds[i + 1]
    else:
        end = week_bounds(tz, monday + 7, offsets)[0]
    return table[i]["zone_id"], bounds[i], end


def zone_temp(schedule: dict[str, Any], zone_id: int, room_id: str) -> float:
    zone = next((z for z in schedule["zones"] if z["id"] == zone_id), None)
    if zone is not None:
        for r in zone["rooms"]:
            if r["id"] == room_id:
                return r["therm_setpoint_temperature"]
    return schedule["hg_temp"]


# ---------------------------------------------------------------- a room at an instant

@dataclass(frozen=True)
class View:
    mode: str               # what therm_setpoint_mode shows
    temp: float             # therm_setpoint_temperature
    start: int
    end: int                # therm_setpoint_end_time (0: none)
    heat: float | None      # the physics' set point (None: no heating)
    until: float            # when this view may change by itself (inf: not before an event)


def room_view(tz: str, state: State, room_id: str, t: float) -> View:
    over = state.rooms.get(room_id)
    if over is not None and over["end"] > t:
        return View(over["mode"], over["temp"], int(over["start"]), int(over["end"]),
                    over["temp"], over["end"])
    mode, start, end = effective_mode(state, t)
    sch = selected(state.schedules)
    if mode in ("away", "hg"):
        temp = sch[f"{mode}_temp"] if sch else (AWAY_DEFAULT if mode == "away" else HG_DEFAULT)
        return View(mode, temp, int(start), int(end), temp, end or INF)
    if mode == "off":
        return View("off", OFF_TEMP, int(start), 0, None, INF)
    if sch is None or not sch["timetable"]:
        return View("schedule", HG_DEFAULT, 0, 0, HG_DEFAULT, INF)
    zone_id, begin, stop = slot(tz, sch, t)
    temp = zone_temp(sch, zone_id, room_id)
    return View("schedule", temp, begin, stop, temp, stop)


def walk(home: dict[str, Any], room_id: str, a: float, b: float
         ) -> list[tuple[float, float, View]]:
    """The room's views over ``[a, b]``: ``(start, end, view)`` pieces in time order,
    cut where an event, an end time or a schedule boundary changes what it shows; the
    last piece is ``(b, b, the view in force at b)``."""
    tz = home["timezone"]
    state = base_state(home)
    evs = events(home)
    n = upto(evs, a)
    for event in evs[:n]:
        apply(state, event)
    out: list[tuple[float, float, View]] = []
    cursor = a
    while True:
        view = room_view(tz, state, room_id, cursor)
        nxt_event = evs[n]["at"] if n < len(evs) else INF
        nxt = max(cursor, min(view.until, nxt_event, b))   # > cursor unless at b
        out.append((cursor, nxt, view))
        cursor = nxt
        while n < len(evs) and evs[n]["at"] <= cursor:
            apply(state, evs[n])
            n += 1
        if cursor >= b:       # and what is in force at b itself (a zero-length piece)
            out.append((b, b, room_view(tz, state, room_id, b)))
            return out


# ---------------------------------------------------------------- writes

def thawed(home: dict[str, Any]) -> dict[str, Any]:
    """A home a write may change with :func:`record` (and ``state`` fields of its own)
    while ``home`` stays as it was: the top, ``state`` and its event list copied, the
    rest shared. Everything here replaces what it changes (``_seal`` assigns a new base,
    index and schedule list; events are never edited in place), so a shared snapshot
    (``Store.update_shared``) goes in and stays unchanged."""
    out = dict(home)
    st = home.get("state")
    if isinstance(st, dict):
        out["state"] = st = dict(st)
        if isinstance(st.get("events"), list):
            st["events"] = list(st["events"])
    return out


def record(home: dict[str, Any], event: dict[str, Any], now: float) -> bool:
    """Add ``event`` (made at ``now``) to the home's log, in time order, and seal the
    older events into a chunk when the log is full (``state.pending``: what the caller
    must write, see :func:`take_pending`). False when the log is as it was, byte for
    byte: the event repeats the last of its instant and target (a client sending the
    same set point again within the second), which it replaces, and nothing is sealed."""
    state = home.setdefault("state", {})
    evs = state.setdefault("events", [])
    event = {"at": now, **event}
    last = evs[-1]["at"] if evs else None
    if last is None or last < now:          # a new last instant: nothing to replace
        evs.append(event)
        if len(evs) > MAX_EVENTS:
            _seal(home)
        return True
    key = _key(event)
    i = len(evs) if last == now else upto(evs, now)
    # the same target at the same instant: the new event is all a read will see
    j = i
    while j > 0 and evs[j - 1]["at"] == now:
        j -= 1
    if j < i and evs[i - 1] == event and len(evs) <= MAX_EVENTS \
            and _dump(evs[i - 1]) == _dump(event) \
            and all(_key(e) != key for e in evs[j:i - 1]):
        return False                        # it would replace itself where it is
    kept = [e for e in evs[j:i] if _key(e) != key]
    evs[j:i] = kept + [event]
    if len(evs) > MAX_EVENTS:
        _seal(home)
    return True


def _seal(home: dict[str, Any]) -> None:
    st = home["state"]
    evs = st["events"]
    if len(evs) <= MAX_EVENTS:
        return
    n = len(evs) - RECENT
    old = evs[:n]
    base = st.get("base")
    log = st.get("log") or hex_log(home, base, old)
    number = st.get("sealed", 0)
    chunk = {"home": home.get("id"), "log": log, "number": number,
             "state": {"base": base, "events": old}, "schedules": home["schedules"]}
    index = [*(st.get("chunks") or []), [number, base["at"] if base else None]]
    pending = st.setdefault("pending", [])
    pending.append(["put", chunk_key(home.get("id", ""), log, number), chunk])
    while len(index) > MAX_CHUNKS:
        gone = index.pop(0)
        pending.append(["delete", chunk_key(home.get("id", ""), log, gone[0]), None])
    state = _fold(home, old)
    at = old[-1]["at"]
    st.update(log=log, sealed=number + 1, chunks=index, base={
        "at": at, "mode": {"mode": state.mode, "start": state.start, "end": state.end},
        "rooms": {k: v for k, v in state.rooms.items() if v["end"] > at}})
    # the sealed events go, so their schedule list is the home's alone now (shared,
    # not copied: nothing edits a schedule list in place)
    home["schedules"] = state.schedules
    del evs[:n]


def hex_log(home: dict[str, Any], base: dict[str, Any] | None,
            old: list[dict[str, Any]]) -> str:
    """A name for a home's chunks, from what the first sealed chunk holds (a world
    loaded again under the same home id starts a log of another name once it differs)."""
    return hashlib.sha256(_dump([home.get("id"), base, old])).hexdigest()[:16]


def chunk_key(home_id: str, log: str, number: int) -> str:
    return f"{home_id}/{log}/{number}"


def take_pending(home: dict[str, Any]) -> list[list[Any]]:
    """The chunk writes a :func:`record` left on the home (``[op, key, doc]``), taken
    off it: the caller writes them once the home itself is written."""
    st = home.get("state")
    return st.pop("pending", []) if isinstance(st, dict) else []


def history_needed(home: dict[str, Any], since: float) -> list[tuple[int, str]]:
    """The chunks a read from ``since`` on needs: ``[(number, key), ...]`` oldest first
    (empty when the home's own log covers it)."""
    st = home.get("state") or {}
    base, index = st.get("base"), st.get("chunks") or []
    if not base or since >= base["at"] or not index or not st.get("log"):
        return []
    k = 0
    for i, (_, start) in enumerate(index):
        if start is None or start <= since:
            k = i
    return [(number, chunk_key(home.get("id", ""), st["log"], number))
            for number, _ in index[k:]]


def extended(home: dict[str, Any], chunks: list[dict[str, Any]]) -> dict[str, Any]:
    """The home as it reads from the first of ``chunks`` (consecutive, the last the
    newest sealed) on: that chunk's base and schedules, every event since."""
    st = home.get("state") or {}
    events = [e for c in chunks for e in c["state"]["events"]] + list(st.get("events", []))
    return {**home, "schedules": chunks[0]["schedules"],
            "state": {"base": chunks[0]["state"]["base"], "events": events}}
