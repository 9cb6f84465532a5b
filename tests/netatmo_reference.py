"""A reference model of Netatmo's energy semantics (the spec of issue 8, "Netatmo energy
semantics"), written from the spec alone for the stateful property test
(tests/test_netatmo_stateful.py). It shares no code with emulator/netatmo/energy.py.

Style: nothing is kept but the home as the world gave it and the log of accepted writes
``(instant, kind, args)``. Every read folds the whole log up to the instant asked
(``_state_at``), then derives what the rooms show; every write folds the log up to its
own instant to decide whether it is refused. Slow and obviously so; simple on purpose.

Each write method mirrors one API call with its parameters as the caller sends them
(None: not sent) and returns the expected ``Refusal`` or None (accepted: the write is
logged at ``now``). Reads: ``expected_rooms(t)`` (per room mode, temperature, start,
end, and the home's ``therm_mode``), ``schedules(t)`` and ``selected(t)``.

Readings of the spec that are mine (where it is silent) are marked READING.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass, field
from datetime import datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

WEEK_MINUTES = 7 * 24 * 60
OFF_TEMP = 7
MAX_TEMP = 30
HOME_MODES = ("schedule", "away", "hg", "off")
ROOM_MODES_REFUSED = ("hg", "away", "off")


@dataclass(frozen=True)
class Refusal:
    """An expected API error: status and Netatmo code; ``message`` when the spec gives
    the exact text, ``mentions`` a text the message must contain (an id it names)."""

    status: int
    code: int
    message: str | None = None
    mentions: str | None = None


def missing(name: str, message: str | None = None) -> Refusal:
    return Refusal(400, 10, message or f"Missing {name}")


def invalid(message: str | None = None, mentions: str | None = None) -> Refusal:
    return Refusal(400, 21, message, mentions)


@dataclass(frozen=True)
class Room:
    """What homestatus shows for a room."""

    mode: str
    temperature: float
    start: int
    end: int


@dataclass(frozen=True)
class Snapshot:
    therm_mode: str
    rooms: dict[str, Room]


# ------------------------------------------------------------------ local wall clock

def wall_instant(wall: datetime, tz: ZoneInfo) -> int:
    """The instant of a naive local wall-clock time: in a repeated hour its first
    occurrence (fold=0); in a skipped hour the first valid instant after it, i.e. the
    first wall minute after it that exists."""
    for minutes in range(24 * 60):
        candidate = wall + timedelta(minutes=minutes)
        instant = candidate.replace(tzinfo=tz, fold=0).timestamp()
        if datetime.fromtimestamp(instant, tz).replace(tzinfo=None) == candidate:
            assert instant == int(instant), (wall, tz)
            return int(instant)
    raise AssertionError(f"no valid instant within a day after {wall} in {tz}")


def slot(timetable: list[dict], tz: ZoneInfo, t: int) -> tuple[int, int, int]:
    """(index of the timetable entry in force at t, its start, the next boundary).

    Boundaries are the entries' local wall-clock instants (``wall_instant``) for last
    week, this week and next week; the entry in force is the one whose boundary came
    last at or before t (on a tie, the later entry: an entry squeezed into a skipped
    hour lasts no time). READING: the spec also says "the last entry with m_offset <=
    minutes-since-local-Monday(t)"; the two agree except in the second pass of a
    repeated hour, where only the boundary reading keeps "start = the most recent
    boundary" true, so this model goes by boundary instants."""
    local = datetime.fromtimestamp(t, tz)
    monday = datetime.combine(local.date() - timedelta(days=local.weekday()), time())
    boundaries = [(wall_instant(monday + timedelta(weeks=week, minutes=e["m_offset"]), tz), i)
                  for week in (-1, 0, 1) for i, e in enumerate(timetable)]
    current = max(k for k, (instant, _) in enumerate(boundaries) if instant <= t)
    instant, index = boundaries[current]
    return index, instant, boundaries[current + 1][0]


# ------------------------------------------------------------------ schedules' payloads

def payload_refusal(payload: dict[str, Any], rooms: list[str]) -> Refusal | None:
    """Why a synchomeschedule / createnewhomeschedule payload is refused (400/21)."""
    zones, timetable = payload.get("zones"), payload.get("timetable")
    for name in ("zones", "timetable", "hg_temp", "away_temp"):
        if payload.get(name) is None:
            return missing(name)
    zone_ids = [z["id"] for z in zones]
    for zone in zones:
        for room in zone["rooms"]:
            if room["id"] not in rooms:
                return invalid(mentions=room["id"])
            if not 7 <= room["therm_setpoint_temperature"] <= 30:
                return invalid()
    offsets = [e["m_offset"] for e in timetable]
    if not offsets or offsets[0] != 0 or offsets != sorted(offsets):
        return invalid()
    if any(not 0 <= m < WEEK_MINUTES for m in offsets):
        return invalid()
    if any(e["zone_id"] not in zone_ids for e in timetable):
        return invalid()
    if not 5 <= payload["hg_temp"] <= 15 or not 7 <= payload["away_temp"] <= 30:
        return invalid()
    return None


def schedule_content(payload: dict[str, Any]) -> dict[str, Any]:
    return {"zones": copy.deepcopy(payload["zones"]),
            "timetable": [{"zone_id": e["zone_id"], "m_offset": e["m_offset"]}
                          for e in payload["timetable"]],
            "hg_temp": payload["hg_temp"], "away_temp": payload["away_temp"]}


# ------------------------------------------------------------------ the model

@dataclass
class State:
    """The fold of the log up to an instant (built afresh for every question)."""

    mode: str
    mode_start: int
    mode_end: int          # 0: none
    selected: str
    schedules: dict[str, dict[str, Any]]
    overrides: dict[str, Room] = field(default_factory=dict)


class EnergyReference:
    def __init__(self, home: dict[str, Any]) -> None:
        """``home``: the world's home entry (id, timezone, rooms, schedules,
        therm_setpoint_default_duration, therm_mode)."""
        assert home.get("therm_mode", "schedule") == "schedule", "start in schedule mode"
        self.home = copy.deepcopy(home)
        self.home_id: str = home["id"]
        self.tz = ZoneInfo(home["timezone"])
        self.rooms: list[str] = [r["id"] for r in home["rooms"]]
        self.default_minutes: int = home.get("therm_setpoint_default_duration", 180)
        self.log: list[tuple[int, str, dict[str, Any]]] = []

    # -------------------------------------------------------------- folding the log

    def _state_at(self, t: int) -> State:
        therm = [s for s in self.home["schedules"] if s.get("type", "therm") == "therm"]
        state = State(mode="schedule", mode_start=0, mode_end=0,
                      selected=next(s["id"] for s in therm if s.get("selected")),
                      schedules={s["id"]: {"name": s["name"], **schedule_content(s)}
                                 for s in therm})
        for at, kind, args in self.log:
            if at <= t:
                getattr(self, f"_apply_{kind}")(state, at, **args)
        return state

    def _log(self, now: int, kind: str, **args: Any) -> None:
        assert not self.log or self.log[-1][0] <= now, "the clock only moves forward"
        self.log.append((now, kind, args))

    @staticmethod
    def _apply_mode(s: State, at: int, mode: str, endtime: int | None,
                    schedule_id: str | None) -> None:
        s.overrides.clear()
        s.mode, s.mode_start = mode, at
        s.mode_end = (endtime or 0) if mode in ("away", "hg") else 0
        if schedule_id is not None:
            s.selected = schedule_id

    @staticmethod
    def _apply_room(s: State, at: int, room_id: str, room: Room | None) -> None:
        if room is None:
            s.overrides.pop(room_id, None)
        else:
            s.overrides[room_id] = room

    @staticmethod
    def _apply_switch(s: State, at: int, schedule_id: str) -> None:
        s.selected = schedule_id

    @staticmethod
    def _apply_sync(s: State, at: int, schedule_id: str, name: str | None,
                    content: dict[str, Any]) -> None:
        s.schedules[schedule_id].update(content)
        if name is not None:
            s.schedules[schedule_id]["name"] = name

    @staticmethod
    def _apply_create(s: State, at: int, schedule_id: str, name: str,
                      content: dict[str, Any]) -> None:
        s.schedules[schedule_id] = {"name": name, **content}

    @staticmethod
    def _apply_delete(s: State, at: int, schedule_id: str) -> None:
        del s.schedules[schedule_id]

    @staticmethod
    def _apply_rename(s: State, at: int, schedule_id: str, name: str) -> None:
        s.schedules[schedule_id]["name"] = name

    # -------------------------------------------------------------- reads

    def therm_mode(self, t: int, state: State | None = None) -> str:
        s = state or self._state_at(t)
        if s.mode in ("away", "hg") and s.mode_end and t >= s.mode_end:
            return "schedule"  # the endtime came: back to the schedule by itself
        return s.mode

    def expected_rooms(self, t: int) -> Snapshot:
        s = self._state_at(t)
        mode = self.therm_mode(t, s)
        schedule = s.schedules[s.selected]
        rooms = {}
        for room_id in self.rooms:
            override = s.overrides.get(room_id)
            if override is not None and override.start <= t < override.end:
                rooms[room_id] = override
            elif mode in ("away", "hg"):
                rooms[room_id] = Room(mode, schedule[f"{mode}_temp"], s.mode_start, s.mode_end)
            elif mode == "off":
                # READING: start/end as for away/hg without endtime (the spec gives none)
                rooms[room_id] = Room("off", OFF_TEMP, s.mode_start, 0)
            else:
                index, start, end = slot(schedule["timetable"], self.tz, t)
                zone_id = schedule["timetable"][index]["zone_id"]
                zone = next(z for z in schedule["zones"] if z["id"] == zone_id)
                temps = {r["id"]: r["therm_setpoint_temperature"] for r in zone["rooms"]}
                rooms[room_id] = Room("schedule", temps.get(room_id, schedule["hg_temp"]),
                                      start, end)
        return Snapshot(mode, rooms)

    def selected(self, t: int) -> str:
        return self._state_at(t).selected

    def schedules(self, t: int) -> dict[str, dict[str, Any]]:
        """The home's therm schedules at t: id -> name, zones, timetable, hg/away temps."""
        return copy.deepcopy(self._state_at(t).schedules)

    def next_change(self, t: int) -> int | None:
        """The first instant after t at which a room or the home mode may change by
        itself (a boundary, an override's end, the home mode's endtime)."""
        ends = [r.end for r in self.expected_rooms(t).rooms.values()]
        s = self._state_at(t)
        if self.therm_mode(t, s) in ("away", "hg"):
            ends.append(s.mode_end)
        return min((e for e in ends if e > t), default=None)

    # -------------------------------------------------------------- writes

    def _home_refusal(self, home_id: str | None) -> Refusal | None:
        if home_id is None:
            return missing("home_id")
        if home_id != self.home_id:
            return invalid("Invalid id")
        return None

    def setthermmode(self, now: int, home_id: str | None = None, mode: str | None = None,
                     endtime: int | None = None, schedule_id: str | None = None
                     ) -> Refusal | None:
        if refused := self._home_refusal(home_id):
            return refused
        if mode is None:
            return missing("mode", "mode is missing")
        if mode not in HOME_MODES:
            return invalid("mode not authorized")
        if mode in ("away", "hg") and endtime is not None and endtime <= now:
            return invalid()
        if (mode == "schedule" and schedule_id is not None
                and schedule_id not in self._state_at(now).schedules):
            return invalid(f"schedule {schedule_id} is not therm schedule")
        self._log(now, "mode", mode=mode, endtime=endtime,
                  schedule_id=schedule_id if mode == "schedule" else None)
        return None

    def setroomthermpoint(self, now: int, home_id: str | None = None,
                          room_id: str | None = None, mode: str | None = None,
                          temp: float | None = None, endtime: int | None = None
                          ) -> Refusal | None:
        if refused := self._home_refusal(home_id):
            return refused
        if room_id is None:
            return missing("room_id")
        if room_id not in self.rooms:
            return invalid(mentions=room_id)
        if mode is None:
            return missing("mode")
        if mode in ROOM_MODES_REFUSED:
            return invalid("mode not authorized")
        if mode not in ("manual", "max", "home"):
            return invalid()  # READING: any other mode is refused like hg/away/off
        if mode == "home":
            self._log(now, "room", room_id=room_id, room=None)
            return None
        if mode == "manual":
            if temp is None:
                return missing("temp")
            if not 7 <= temp <= 30:
                return invalid()
        else:
            temp = MAX_TEMP
        if endtime is not None and endtime <= now:
            return invalid()
        end = endtime if endtime is not None else now + self.default_minutes * 60
        self._log(now, "room", room_id=room_id, room=Room(mode, temp, now, end))
        return None

    def _schedule_refusal(self, now: int, home_id: str | None, schedule_id: str | None
                          ) -> Refusal | None:
        if refused := self._home_refusal(home_id):
            return refused
        if schedule_id is None:
            return missing("schedule_id")
        if schedule_id not in self._state_at(now).schedules:
            return invalid(mentions=schedule_id)
        return None

    def switchhomeschedule(self, now: int, home_id: str | None = None,
                           schedule_id: str | None = None) -> Refusal | None:
        if refused := self._schedule_refusal(now, home_id, schedule_id):
            return refused
        self._log(now, "switch", schedule_id=schedule_id)
        return None

    def synchomeschedule(self, now: int, home_id: str | None, schedule_id: str | None,
                         name: str | None, payload: dict[str, Any]) -> Refusal | None:
        if refused := self._home_refusal(home_id):
            return refused
        target = schedule_id or self._state_at(now).selected
        if refused := self._schedule_refusal(now, home_id, target):
            return refused
        if refused := payload_refusal(payload, self.rooms):
            return refused
        self._log(now, "sync", schedule_id=target, name=name,
                  content=schedule_content(payload))
        return None

    def createnewhomeschedule(self, now: int, home_id: str | None, name: str,
                              payload: dict[str, Any], new_id: str) -> Refusal | None:
        """``new_id``: the id the API answered for the new schedule (the caller checks
        it is new and 24 hex digits)."""
        if refused := self._home_refusal(home_id) or payload_refusal(payload, self.rooms):
            return refused
        self._log(now, "create", schedule_id=new_id, name=name,
                  content=schedule_content(payload))
        return None

    def deletehomeschedule(self, now: int, home_id: str | None = None,
                           schedule_id: str | None = None) -> Refusal | None:
        if refused := self._schedule_refusal(now, home_id, schedule_id):
            return refused
        if schedule_id == self._state_at(now).selected:
            return invalid()
        self._log(now, "delete", schedule_id=schedule_id)
        return None

    def renamehomeschedule(self, now: int, home_id: str | None = None,
                           schedule_id: str | None = None, name: str | None = None
                           ) -> Refusal | None:
        if refused := self._schedule_refusal(now, home_id, schedule_id):
            return refused
        if name is None:
            return missing("name")
        self._log(now, "rename", schedule_id=schedule_id, name=name)
        return None
