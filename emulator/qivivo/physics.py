"""A Qivivo house on ``emulator/physics``: room temperatures, humidity, presence.

**Temperature.** Each heated room (the thermostat's, and each pilot-wire module's) is
``physics.thermal``'s first-order room heating toward the set point of its
``control.timeline`` (the order in force, piece by piece), under the outdoor
temperature of ``physics.weather`` at the house's place and the world's seed: the
same weather the Netatmo station of a house at the same place shows. A room is read
at t by integrating from the equilibrium at ``anchor(t)`` (the 6-hour mark at or
before t - 5 tau), so its start is forgotten; the integration of an anchor group is
memoised under the house's control state (``home_key``), the room, the seed and the
anchor, so a read on a running clock is a bisect and one exact step.

**Presence** follows a seeded routine (INFERRED): on weekdays people are home until
about 08:30 and from about 18:00, at weekends all day, each edge moved by up to +-30
minutes per day from the seed; nobody is home during an absence, and someone is from
the instant an arrival is announced on. **Humidity** is ``physics.indoor``'s, with
that presence.
"""

from __future__ import annotations

import bisect
import hashlib
import math
from typing import Any

import orjson

from ..core.memo import LRU
from ..physics import indoor, localtime, thermal
from ..physics.battery import battery
from ..physics.weather import hourly_temperature, mix, unit
from . import control

MODEL = thermal.RoomModel()
ANCHOR = 6 * 3600
HOUR = 3600
DAY = 86400
BATTERY_LIFE = 2 * 365 * DAY


def anchor(t: float) -> float:
    return math.floor(thermal.history_start(MODEL, t) / ANCHOR) * ANCHOR


def home_key(home: dict[str, Any]) -> bytes:
    """A digest of everything a room's history depends on."""
    return hashlib.blake2b(orjson.dumps(
        [home["timezone"], home["place"], home["base"], home["events"],
         home.get("module_programs")]), digest_size=16).digest()


_TRAJECTORIES: LRU[thermal.Trajectory] = LRU("qivivo.trajectories", 512)


def _trajectory(home: dict[str, Any], room: str | None, a: float, seed: int,
                key: bytes) -> thermal.Trajectory:
    def compute() -> thermal.Trajectory:
        end = a + ANCHOR + 5 * MODEL.tau + HOUR
        pieces = [(x, y, thermal.Segment(0.0, 0.0, sp), order)
                  for x, y, sp, order in control.timeline(home, a, end, room)]
        place = home["place"]
        lat, lon, alt = float(place["lat"]), float(place["lon"]), float(place["altitude"])
        return thermal.integrate(MODEL, pieces,
                                 lambda h: hourly_temperature(lat, lon, alt, seed, h))

    return _TRAJECTORIES.get_or_compute((key, room, seed, a), compute)


def temperature(home: dict[str, Any], room: str | None, t: float, seed: int) -> float:
    """The room's temperature at t (the thermostat's room: ``room`` None)."""
    tr = _trajectory(home, room, anchor(t), seed, home_key(home))
    k = tr.index(t)
    if k < 0:  # pragma: no cover - t is inside its anchor group by construction
        raise AssertionError("instant outside its trajectory")
    return tr.at(MODEL, k, t)


def shown(value: float) -> float:
    """Truncated to two decimals, as the real thermostat's readings suggest (19.09)."""
    return math.floor(value * 100) / 100


# ------------------------------------------------------------------ presence

def _edge(seed: int, day: int, which: int) -> float:
    """A routine edge's shift, seconds (+-30 min), per (seed, day, edge)."""
    return (unit(seed, 7001, day, which) - 0.5) * 3600


def routine_home(seed: int, offset: int, t: float) -> bool:
    """Whether the seeded routine has someone home at t (local offset ``offset``)."""
    lt = t + offset
    day = int(lt // DAY)
    weekday = (day + 3) % 7          # 1970-01-01 was a Thursday
    if weekday >= 5:
        return True
    s = lt - day * DAY
    return s < 8.5 * HOUR + _edge(seed, day, 0) or s >= 18 * HOUR + _edge(seed, day, 1)


def present(home: dict[str, Any], state: dict[str, Any], seed: int, t: float) -> bool:
    arr = state.get("arrival")
    if arr and arr["start"] <= t < arr["end"]:
        return True
    ab = state.get("absence")
    if ab and ab["start"] <= t < ab["end"]:
        return False
    tz = control.zone(home["timezone"])
    offset = int(control.local(tz, t).utcoffset().total_seconds())
    return routine_home(home_seed(home, seed), offset, t)


def presence_changes(home: dict[str, Any], seed: int, g0: float, t: float, step: float
                     ) -> tuple[bool, list[tuple[float, bool]]]:
    """Presence sampled every ``step`` s on the grid g0, g0 + step, ... up to t: (its
    value at g0, [(grid instant, new value), ...] where it differs from the grid
    instant before), each instant read with the control state in force then.

    Exactly what walking the grid gives, without walking it: presence only changes at
    a control event, an arrival's or absence's start or end, a routine edge, a local
    midnight or an offset change, so only the grid instants just after one of those
    (and the one before each) are read."""
    tz = control.zone(home["timezone"])
    hs = home_seed(home, seed)
    pieces = list(control.states(home, g0 - step, t + 1))
    starts = [p[0] for p in pieces]

    def at(x: float) -> bool:
        return present(home, pieces[bisect.bisect_right(starts, x) - 1][2], seed, x)

    marks = set(starts)
    for _, _, state in pieces:
        for key in ("arrival", "absence"):
            if state.get(key):
                marks |= {state[key]["start"], state[key]["end"]}
    changes = localtime.changes(tz, g0 - DAY, t)
    marks |= {float(x) for x, _, _ in changes}
    offsets = {int(control.local(tz, t).utcoffset().total_seconds())}
    offsets |= {o for _, before, after in changes for o in (before, after)}
    for off in offsets:
        for day in range(int((g0 + off) // DAY) - 1, int((t + off) // DAY) + 2):
            midnight = day * DAY - off
            marks |= {midnight, midnight + 8.5 * HOUR + _edge(hs, day, 0),
                      midnight + 18 * HOUR + _edge(hs, day, 1)}
    grid = sorted({g0 + math.ceil((x - g0) / step) * step for x in marks if g0 < x <= t})
    out = []
    for g in grid:
        here = at(g)
        if here != at(g - step):
            out.append((g, here))
    return at(g0), out


def home_seed(home: dict[str, Any], seed: int) -> int:
    return mix(seed, int.from_bytes(home["id"].encode()[:8].ljust(8, b"\0"), "big"))


def humidity(home: dict[str, Any], room: str | None, seed: int, t: float) -> float:
    """Relative humidity (%), one decimal: ``physics.indoor``'s with the routine."""
    tz = control.zone(home["timezone"])
    offset = int(control.local(tz, t).utcoffset().total_seconds())
    hs = home_seed(home, seed)
    salt = mix(hs, int.from_bytes((room or "thermostat").encode()[:8].ljust(8, b"\0"),
                                  "big"))
    air = indoor.air(salt, t, offset, lambda x: routine_home(hs, offset, x))
    tenth = int(unit(salt, 7002, int(t // 600)) * 10) / 10
    return round(min(100.0, max(0.0, air.humidity + tenth - 0.5)), 1)


def battery_percent(setup: float, t: float, seed: int) -> int:
    """The thermostat's batteries (two AA, two years a set), replaced every 0.85 x
    that from the house's setup on (INFERRED), so an old house still has charge."""
    every = 0.85 * BATTERY_LIFE
    installed = setup + max(0, math.floor((t - setup) / every)) * every
    return battery(installed, t, BATTERY_LIFE, seed, 3000, 2200).percent
