"""What a Qivivo house does at an instant: pure functions of its state and the clock.

A house's control state (``State``: settings, the thermostat's programs and active
program, a temporary instruction, an absence, an arrival, each pilot-wire module's
mode) is a *fold* of its event log: the base state plus every event written at or
before t (``state_at``). So a reading at t depends only on what was done up to t.

**The thermostat's order at t** (``thermostat_at``), first match wins (INFERRED):

1. a temporary instruction, from its POST until ``duration`` minutes later;
2. an arrival, from its POST until the first change of the program's setting at or
   after ``duration`` minutes later (at most 7 days): ``presence_temperature_1``;
3. an absence between its start and end dates: ``frost_protection_temperature``
   (rQivivo: "changes the thermostat into the frost temperature");
4. the active program's period covering the local day and minute: its setting's
   temperature; a minute no period covers: ``frost_protection_temperature``.

Periods run from ``period_start`` to ``period_end`` *inclusive* of the end minute
("00:00"-"06:59", "07:00"-"23:59"), in the house's time zone (Europe/Paris).

**A pilot-wire module's order** (``module_at``): a module following the thermostat
zone reports ``monozone`` and heats to the thermostat's order; one on its own program
follows that program's period (an absence puts it on ``frost``), its setting mapped
to a pilot-wire order by ``ORDER_OF`` (INFERRED): presence 1 and 4 comfort, presence
2 comfort -1, presence 3 comfort -2, night and absence eco, frost protection frost,
and a minute no period covers: off.
"""

from __future__ import annotations

import bisect
import copy
import math
from collections.abc import Iterable, Iterator
from datetime import datetime, timedelta
from functools import lru_cache
from typing import Any
from zoneinfo import ZoneInfo

from ..physics import localtime

State = dict[str, Any]
DAYS = ("monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday")
FRENCH_DAYS = dict(zip(("lundi", "mardi", "mercredi", "jeudi", "vendredi", "samedi",
                        "dimanche"), DAYS, strict=True))
SETTINGS = ("presence_temperature_1", "presence_temperature_2", "presence_temperature_3",
            "presence_temperature_4", "night_temperature", "absence_temperature",
            "frost_protection_temperature")
# bpolaszek's (web app) codes for the settings, accepted in requests
FRENCH_SETTINGS = {"pres_1": "presence_temperature_1", "pres_2": "presence_temperature_2",
                   "pres_3": "presence_temperature_3", "pres_4": "presence_temperature_4",
                   "confort": "presence_temperature_1", "nuit": "night_temperature",
                   "absence": "absence_temperature", "hg": "frost_protection_temperature"}
DEFAULT_SETTINGS: dict[str, float] = {
    "presence_temperature_1": 19.0, "presence_temperature_2": 19.5,
    "presence_temperature_3": 20.0, "presence_temperature_4": 20.5,
    "night_temperature": 17.5, "absence_temperature": 16.0,
    "frost_protection_temperature": 7.0,
}
ORDER_OF = {"presence_temperature_1": "comfort", "presence_temperature_4": "comfort",
            "presence_temperature_2": "comfort_minus_one",
            "presence_temperature_3": "comfort_minus_two",
            "night_temperature": "eco", "absence_temperature": "eco",
            "frost_protection_temperature": "frost"}
ORDERS = ("comfort", "comfort_minus_one", "comfort_minus_two", "eco", "frost", "off")
WEEK = 7 * 86400
ARRIVAL_MAX = WEEK


def half(x: float) -> float:
    """To the nearest 0.5 degree (the thermostat's step)."""
    return math.floor(x * 2 + 0.5) / 2


@lru_cache(maxsize=64)
def zone(name: str) -> ZoneInfo:
    return ZoneInfo(name)


def minute(hhmm: str) -> int:
    h, m = hhmm.split(":")
    return int(h) * 60 + int(m)


# ------------------------------------------------------------------------ the fold

def apply(state: State, event: dict[str, Any]) -> None:
    """One event, already validated, onto ``state`` (in place). Nothing of the event
    is shared with the state (events may be a shared snapshot's). A program event
    that no longer applies (its program gone, or deleting the active one: a write made
    earlier in virtual time after the clock moved back changed what it acted on) is
    a no-op, so the fold is total."""
    op, t = event["op"], event["t"]
    programs = state["programs"]
    ident = event.get("id")
    if op.startswith("program_") and op != "program_create" and \
            not (isinstance(ident, int) and 1 <= ident <= len(programs)):
        return
    if op == "instruction":
        state["instruction"] = {"temperature": event["temperature"], "start": t,
                                "end": t + event["duration"] * 60}
    elif op == "instruction_cancel":
        state["instruction"] = None
    elif op == "absence":
        state["absence"] = {"start": event["start"], "end": event["end"]}
    elif op == "absence_cancel":
        state["absence"] = None
    elif op == "arrival":
        state["arrival"] = {"start": t, "end": event["end"], "duration": event["duration"]}
    elif op == "arrival_cancel":
        state["arrival"] = None
    elif op == "program_create":
        programs.append({"name": event["name"], "program": copy.deepcopy(event["program"])})
    elif op == "program_active":
        state["active"] = ident
    elif op == "program_name":
        programs[ident - 1]["name"] = event["name"]
    elif op == "program_day":
        programs[ident - 1]["program"][event["day"]] = copy.deepcopy(event["periods"])
    elif op == "program_delete":
        if state["active"] == ident:
            return
        del programs[ident - 1]
        if state["active"] > ident:            # ids are positions: they shift down
            state["active"] -= 1
    elif op == "setting":
        state["settings"][event["name"]] = event["value"]
    elif op == "alert_days":
        state["alert_days"] = event["value"]
    elif op == "module_program":
        state["modules"][event["uuid"]] = {"mode": "program", "active": event["id"]}
    elif op == "module_zone":
        state["modules"][event["uuid"]] = {"mode": "zone",
                                           "active": state["modules"][event["uuid"]]["active"]}
    else:  # pragma: no cover - events are written by models only
        raise ValueError(f"unknown Qivivo event {op!r}")


def fold(base: State, events: list[dict[str, Any]]) -> State:
    """A new state: ``base`` with ``events`` applied in order (``base`` untouched)."""
    state = copy.deepcopy(base)
    for event in events:
        apply(state, event)
    return state


TARGETS = {"instruction": "instruction", "instruction_cancel": "instruction",
           "absence": "absence", "absence_cancel": "absence", "arrival": "arrival",
           "arrival_cancel": "arrival", "program_active": "active",
           "alert_days": "alert_days"}


def target(event: dict[str, Any]) -> str | None:
    """What an event sets as a whole (a later one of the same target at the same
    instant leaves nothing of it visible); None: it must stay (program edits, module
    modes, which depend on what came before)."""
    if event["op"] == "setting":
        return "setting:" + event["name"]
    return TARGETS.get(event["op"])


def state_at(home: dict[str, Any], t: float) -> State:
    """The control state at t: the base plus the events at or before t (a t before the
    base's ``base_at`` sees the base: read such an instant on the home's
    ``SealedLog.with_history``). Read-only: it may be the stored base itself."""
    events = home["events"]
    n = bisect.bisect_right(events, t, key=lambda e: e["t"])
    return home["base"] if n == 0 else fold(home["base"], events[:n])


def states(home: dict[str, Any], a: float, b: float) -> Iterator[tuple[float, float, State]]:
    """(from, to, state) for the versions of the state over [a, b)."""
    state = copy.deepcopy(home["base"])
    events = home["events"]
    i = 0
    while i < len(events) and events[i]["t"] <= a:
        apply(state, events[i])
        i += 1
    start = a
    while i < len(events) and events[i]["t"] < b:
        t = events[i]["t"]
        yield start, t, state
        state = copy.deepcopy(state)
        while i < len(events) and events[i]["t"] == t:
            apply(state, events[i])
            i += 1
        start = t
    yield start, b, state


# ------------------------------------------------------------------- local time

def local(tz: ZoneInfo, t: float) -> datetime:
    return datetime.fromtimestamp(t, tz)


def wall(tz: ZoneInfo, t: float) -> str:
    """"YYYY-MM-DD HH:MM" in the house's time zone (the API's date format)."""
    return local(tz, t).strftime("%Y-%m-%d %H:%M")


def parse_wall(tz: ZoneInfo, text: str) -> float:
    """A "YYYY-MM-DD HH:MM" local time -> epoch seconds (ValueError when not one)."""
    dt = datetime.strptime(text, "%Y-%m-%d %H:%M").replace(tzinfo=tz)
    return dt.timestamp()


def program_setting(program: dict[str, list], tz: ZoneInfo, t: float) -> str | None:
    """The setting of the period covering t (local), None when none does."""
    lt = local(tz, t)
    m = lt.hour * 60 + lt.minute
    for period in program.get(DAYS[lt.weekday()], ()):
        if minute(period["period_start"]) <= m <= minute(period["period_end"]):
            return period["temperature_setting"]
    return None


def active_program(state: State) -> dict[str, list]:
    return state["programs"][state["active"] - 1]["program"]


def thermostat_at(state: State, tz: ZoneInfo, t: float) -> tuple[str, float]:
    """(what decides, the order in degrees) at t."""
    settings = state["settings"]
    ins = state.get("instruction")
    if ins and ins["start"] <= t < ins["end"]:
        return "instruction", float(ins["temperature"])
    arr = state.get("arrival")
    if arr and arr["start"] <= t < arr["end"]:
        return "arrival", settings["presence_temperature_1"]
    ab = state.get("absence")
    if ab and ab["start"] <= t < ab["end"]:
        return "absence", settings["frost_protection_temperature"]
    setting = program_setting(active_program(state), tz, t)
    if setting is None:
        return "program", settings["frost_protection_temperature"]
    return "program", settings[setting]


def module_at(state: State, home: dict[str, Any], uuid: str, tz: ZoneInfo, t: float
              ) -> tuple[str, float | None]:
    """(pilot-wire order, the set point it heats to; None: off) at t. A module's own
    programs are the world's (``home["module_programs"]``): the API does not edit
    them."""
    mod = state["modules"][uuid]
    settings = state["settings"]
    if mod["mode"] == "zone":
        return "monozone", thermostat_at(state, tz, t)[1]
    ab = state.get("absence")
    arr = state.get("arrival")
    arriving = bool(arr and arr["start"] <= t < arr["end"])
    if ab and ab["start"] <= t < ab["end"] and not arriving:
        return "frost", settings["frost_protection_temperature"]
    programs = home["module_programs"][uuid]
    setting = program_setting(programs[mod["active"] - 1]["program"], tz, t)
    if setting is None:
        return "off", None
    return ORDER_OF[setting], settings[setting]


# ------------------------------------------------------------- change instants

def boundaries(program: dict[str, list], tz: ZoneInfo, a: float, b: float) -> set[float]:
    """Instants in (a, b] where a period of ``program`` starts or ends (local wall
    times, both readings of a repeated hour), plus the offset changes."""
    minutes: dict[int, set[int]] = {}
    for day, periods in program.items():
        wd = DAYS.index(day)
        marks = minutes.setdefault(wd, {0})
        for p in periods:
            marks.add(minute(p["period_start"]))
            marks.add(minute(p["period_end"]) + 1)
    out: set[float] = {float(t) for t, _, _ in localtime.changes(tz, a, b)}
    day0 = local(tz, a).date() - timedelta(days=1)
    for n in range(int((b - a) // 86400) + 3):
        d = day0 + timedelta(days=n)
        for m in minutes.get(d.weekday(), {0}):
            base = datetime(d.year, d.month, d.day, tzinfo=tz) + timedelta(minutes=m)
            for fold in (0, 1):
                x = base.replace(fold=fold).timestamp()
                if a < x <= b:
                    out.add(x)
    return out


def edges(state: State, a: float, b: float) -> Iterable[float]:
    for key in ("instruction", "arrival", "absence"):
        item = state.get(key)
        if item:
            for x in (item["start"], item["end"]):
                if a < x <= b:
                    yield float(x)


def timeline(home: dict[str, Any], a: float, b: float, which: str | None = None
             ) -> list[tuple[float, float, float | None, str]]:
    """(start, end, set point, order) pieces covering [a, b) for the thermostat
    (``which`` None) or module ``which``; equal neighbours merged."""
    tz = zone(home["timezone"])
    out: list[tuple[float, float, float | None, str]] = []
    for v0, v1, state in states(home, a, b):
        marks = {v0, *edges(state, v0, v1)}
        if which is None or state["modules"][which]["mode"] == "zone":
            marks |= boundaries(active_program(state), tz, v0, v1)
        if which is not None:
            mod = state["modules"][which]
            marks |= boundaries(home["module_programs"][which][mod["active"] - 1]["program"],
                                tz, v0, v1)
        xs = sorted(x for x in marks if v0 <= x < v1)
        for x, y in zip(xs, [*xs[1:], v1], strict=True):
            if which is None:
                kind, sp = thermostat_at(state, tz, x)
                order: str = kind
                setpoint: float | None = half(sp)
            else:
                order, raw = module_at(state, home, which, tz, x)
                setpoint = None if raw is None else half(raw)
            if out and out[-1][2] == setpoint and out[-1][3] == order and out[-1][1] == x:
                out[-1] = (out[-1][0], y, setpoint, order)
            else:
                out.append((x, y, setpoint, order))
    return out


def next_change(state: State, tz: ZoneInfo, t: float) -> float:
    """The first instant after t at which the active program's setting changes (at
    most 7 days on)."""
    program = active_program(state)
    now = program_setting(program, tz, t)
    for x in sorted(boundaries(program, tz, t, t + ARRIVAL_MAX)):
        if program_setting(program, tz, x) != now:
            return x
    return t + ARRIVAL_MAX
