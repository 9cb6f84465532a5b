"""A Netatmo home's rooms on ``physics.thermal``: temperatures, heating power, windows,
the boiler, batteries; at one instant (homestatus) or at many (measures).

**The temperature at t.** A room starts at equilibrium at ``anchor(t)`` = the last
multiple of ``ANCHOR`` (6 h) at or before ``thermal.history_start(t)`` (t - 5 tau),
with the set point in force then, and is integrated exactly (``thermal``'s piecewise
exponentials, outdoor temperature held per hour at its mid-hour value) through pieces
cut at hour boundaries, set-point changes (``energy_state.walk``) and window events,
up to t. So its history is between 5 tau and 5 tau + 6 h long (the start is forgotten
to < 1 %), and every instant whose anchor is the same shares one integration: a
series (``samples``) groups its instants by anchor and walks each group once, taking
each instant off the walk (one extra step). The value at an instant is computed by the
same floating-point operations whether it is asked alone (homestatus) or in a series
(getroommeasure, getmeasure): a measure at an instant equals what homestatus showed
then, to the last bit. (This is ``thermal.room_state``'s model with an anchored
start instead of exactly t - 5 tau, which is what lets a series share its walks.)

**Cost.** One instant: about (5 tau + 6 h) / 1 h = 20 to 26 pieces per room. A series
of n instants spread over a span S: about (S / 6 h + 1) walks of <= 26 + (6 h / 1 h)
pieces, plus one step per instant; the outdoor temperature is memoised per (place,
seed, hour). Never the clock's distance from the world's start.

**Memoised** (:func:`trajectory`): the walk of an anchor group is integrated once to
the group's end (``thermal.integrate``) and kept in a bounded LRU keyed by everything
it depends on (``energy_state.home_key``: time zone, place, schedules and the whole
event log; the room; the seed; the anchor; the room's window timeline), so a status
read on a running clock is a bisect and one exact step (``Trajectory.at``), the same
floating-point operations as a walk stopping at the instant. A write changes the key.

**Heating.** ``heating_power_request`` is the controller's power (0-100) at t; a room
heats when it is > 0. The boiler (``boiler_status`` of a NATherm1, the relay's
``boileron``) is on when any room of the home heats (INFERRED). Open window (an admin
override on a valve or thermostat of the room): no heating, fast heat loss.

**Batteries** (``physics.battery``): NATherm1 4500-3000 mV, NRV 3300-2200 mV, two
years a set, replaced every 0.85 x that (INFERRED, so a module set up years ago
still has charge), installed at the module's ``setup_date``; an admin
``battery_percent`` override wins.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

from ..core.memo import LRU
from ..physics import thermal
from ..physics.battery import Battery, battery
from ..physics.weather import Place, mix, outdoor
from . import energy_state as es

MODEL = thermal.RoomModel()
ANCHOR = 6 * 3600
HOUR = 3600
BATTERY_LIFE = 2 * 365 * 86400
BATTERY_MV = {"NATherm1": (4500, 3000), "NRV": (3300, 2200), "OTM": (4500, 3000),
              "BNS": (4500, 3000)}


def anchor(t: float) -> float:
    return math.floor(thermal.history_start(MODEL, t) / ANCHOR) * ANCHOR


@lru_cache(maxsize=1 << 17)
def _outdoor_hour(lat: float, lon: float, alt: float, seed: int, hour: int) -> float:
    return outdoor(Place(lat=lat, lon=lon, altitude=alt), seed,
                   hour * HOUR + HOUR / 2).temperature


def place_of(home: dict[str, Any]) -> tuple[float, float, float]:
    """(lat, lon, altitude): homesdata's ``coordinates`` are [longitude, latitude]."""
    lon, lat = home["coordinates"]
    return float(lat), float(lon), float(home.get("altitude", 0))


def outdoor_at(place: tuple[float, float, float], seed: int, t: float) -> float:
    """The outdoor temperature the room model uses at t (its hour's mid-hour value)."""
    return _outdoor_hour(place[0], place[1], place[2], seed, math.floor(t / HOUR))


@lru_cache(maxsize=256)
def _segment(setpoint: float | None, window: bool) -> thermal.Segment:
    return thermal.Segment(0.0, 0.0, setpoint, window)


@dataclass(frozen=True)
class Sample:
    t: float
    temperature: float          # unrounded
    view: es.View
    power: int                  # 0..100
    window: bool
    outdoor: float


Windows = Callable[[float, float], tuple[bool, list[tuple[float, bool]]]]


def samples(home: dict[str, Any], room_id: str, times: list[float], seed: int,
            windows: Windows) -> list[Sample]:
    """The room at each of ``times`` (sorted ascending). ``windows(a, b)`` gives the
    room's open-window state at a and its changes in (a, b]."""
    place = place_of(home)
    key = es.home_key(home)
    out: list[Sample] = []
    i = 0
    while i < len(times):
        a = anchor(times[i])
        j = i
        while j < len(times) and anchor(times[j]) == a:
            j += 1
        tr = trajectory(home, room_id, a, place, seed, windows, key)
        for t in times[i:j]:
            k = tr.index(t)
            if k < 0:                       # (a float edge: t at its group's very end)
                alone = _integrate(home, room_id, a, t + HOUR, place, seed, windows)
                out.append(_sample(alone, alone.index(t), t))
                continue
            out.append(_sample(tr, k, t))
        i = j
    return out


def _sample(tr: thermal.Trajectory, k: int, t: float) -> Sample:
    view, win = tr.tags[k]
    ext = tr.outdoors[k]
    value = tr.at(MODEL, k, t)
    p = thermal.power(MODEL, value, view.heat, ext, win)
    return Sample(t, value, view, int(round(p * 100)), win, ext)


# (home_key, room, seed, anchor, window timeline) -> the anchor group's trajectory:
# 26-30 steps (+ one per event and window change in the window), ~3-30 KiB an entry
_TRAJECTORIES: LRU[thermal.Trajectory] = LRU("netatmo.energy.trajectories", 512)


def trajectory(home: dict[str, Any], room_id: str, a: float,
               place: tuple[float, float, float], seed: int, windows: Windows,
               key: bytes | None = None) -> thermal.Trajectory:
    """The room integrated from anchor ``a`` to the end of the anchor's group (the
    first instant whose anchor is later), memoised: every instant of the group reads
    from it with one exact step, as a walk stopping at the instant would."""
    b = a + ANCHOR + 5.0 * MODEL.tau
    first, changes = windows(a, b)
    ck = (es.home_key(home) if key is None else key, room_id, seed, a, first,
          tuple(changes))
    tr = _TRAJECTORIES.get(ck)
    if tr is None:
        tr = _TRAJECTORIES.put(ck, _integrate(home, room_id, a, b, place, seed,
                                              lambda _a, _b: (first, changes)))
    return tr


def _integrate(home: dict[str, Any], room_id: str, a: float, b: float,
               place: tuple[float, float, float], seed: int,
               windows: Windows) -> thermal.Trajectory:
    def hour(h: int) -> float:
        return _outdoor_hour(place[0], place[1], place[2], seed, h)
    return thermal.integrate(MODEL, _pieces(home, room_id, a, b, windows), hour)


def _pieces(home: dict[str, Any], room_id: str, a: float, b: float,
            windows: Windows) -> Iterator[thermal.Piece]:
    """``energy_state.walk``'s pieces over [a, b], cut again where a window opens or
    closes; each tagged with what the room shows there: (view, window open)."""
    win, changes = windows(a, b)
    k = 0
    for x0, y0, view in es.walk(home, room_id, a, b):
        x = x0
        while True:
            while k < len(changes) and changes[k][0] <= x:
                win = changes[k][1]
                k += 1
            y = changes[k][0] if k < len(changes) and changes[k][0] < y0 else y0
            yield x, y, _segment(view.heat, win), (view, win)
            if y >= y0:
                break
            x = y


def anticipating(home: dict[str, Any], room_id: str, state: es.State, s: Sample) -> bool:
    """Whether the room already heats for a higher scheduled set point coming next."""
    if s.view.mode != "schedule" or s.window or s.view.until == es.INF:
        return False
    nxt = es.room_view(home["timezone"], state, room_id, s.view.until)
    if nxt.heat is None or nxt.mode != "schedule":
        return False
    st = thermal.RoomState(s.temperature, s.power, s.power > 0, s.outdoor)
    return thermal.anticipating(MODEL, st, nxt.heat, s.view.until - s.t)


def module_battery(mod: dict[str, Any], t: float, seed: int,
                   percent: int | None) -> Battery:
    full, empty = BATTERY_MV.get(mod["type"], (4500, 3000))
    installed = float(mod.get("setup_date", 0))
    cycle = 0.85 * BATTERY_LIFE
    if t > installed:
        installed += math.floor((t - installed) / cycle) * cycle
    dseed = mix(seed, int.from_bytes(mod["id"].encode()[-8:], "big"))
    return battery(installed, t, BATTERY_LIFE, dseed, full, empty, percent=percent)


def rf_strength(seed: int, module_id: str, base: int) -> int:
    """A stable radio strength per module (sample values: 51-107)."""
    return base + int(mix(seed, int.from_bytes(module_id.encode()[-8:], "big")) % 9) - 4
