"""A heated room as a first-order system, integrated in closed form.

The room (``RoomModel``)::

    tau * dT/dt = (T_out - T) + gain * P          P in [0, 1], the heating power

loses heat to the outdoor air with time constant ``tau`` and, at full power, settles
``gain`` degrees above it. An open window adds a heavy loss (time constant
``window_tau``) and stops the heating, as thermostats that detect it do.

The controller is proportional with a feed-forward of the power that holds the set
point at the current outdoor temperature::

    P = clamp((sp - T) / power_band + (sp - T_out) / gain, 0, 1)

so in its linear regime the room settles exactly on the set point (no proportional
droop) with the faster time constant ``tau / (1 + gain / power_band)``; it saturates at
0 % above ``sp + power_band * ff`` and at 100 % below ``sp - power_band * (1 - ff)``
(``ff`` the feed-forward). Each regime is linear in T, so within a piece of constant
set point and outdoor temperature the solution is an exponential, and the instant it
crosses a regime boundary is solved analytically (a logarithm). The right-hand side
is continuous and decreasing in T, so T moves monotonically to the piece's
equilibrium: at most two boundary crossings per piece.

Reading at t (:func:`room_state`) starts from the equilibrium at
:func:`history_start` (t - 5 tau: the start is forgotten to e^-5 < 1 %) and walks the
pieces cut by the caller's segments and by hour boundaries (the outdoor temperature is
held at its value at the middle of each hour). The work is the number of pieces in
that window (about 5 tau / 1 h + segments), never how far the clock has moved.
Uncovered time (before the first segment, between segments) counts as unheated.

**Series** (:func:`integrate`, :class:`Trajectory`): a caller that reads a room at many
instants (or again and again: a status read on a running clock) integrates the pieces
once into a trajectory (the temperature at the start of every hour-cut step) and reads
any instant inside it with one more exact step (:meth:`Trajectory.at`), by the same
floating-point operations as a walk that stops at that instant: a value does not
depend on whether it was read alone or in a series.
"""

from __future__ import annotations

import bisect
import math
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

HOUR = 3600.0


@dataclass(frozen=True)
class RoomModel:
    tau: float = 4 * HOUR           # s, heat-loss time constant
    gain: float = 25.0              # °C above outdoor at full power
    power_band: float = 1.0         # °C, proportional band
    window_tau: float = 1800.0      # s, time constant with a window open
    max_anticipation: float = 3 * HOUR  # s, how early a thermostat may start heating


@dataclass(frozen=True)
class Segment:
    start: float
    end: float
    setpoint: float | None          # None: no heating (mode off, frost guard off ...)
    window_open: bool = False


@dataclass(frozen=True)
class RoomState:
    temperature: float              # °C
    power: int                      # 0..100, the heating power request
    heating: bool                   # power > 0
    outdoor: float = 0.0            # °C, the outdoor temperature used at t
    steps: int = 0                  # pieces integrated (a cost measure for tests)


def history_start(model: RoomModel, t: float) -> float:
    """The earliest instant the caller must give segments from: t - 5 tau."""
    return t - 5.0 * model.tau


# ---- one piece: constant set point, window and outdoor temperature --------------------------
def _bounds(model: RoomModel, sp: float, out: float) -> tuple[float, float]:
    """(T below which the power is 100 %, T above which it is 0 %)."""
    ff = (sp - out) / model.gain
    return sp - model.power_band * (1.0 - ff), sp + model.power_band * ff


def power(model: RoomModel, temp: float, setpoint: float | None, out: float,
          window_open: bool = False) -> float:
    """The controller's power fraction (0..1) at room temperature ``temp``."""
    if setpoint is None or window_open:
        return 0.0
    p = (setpoint - temp) / model.power_band + (setpoint - out) / model.gain
    return min(1.0, max(0.0, p))


def _regime(model: RoomModel, sp: float, out: float, which: str) -> tuple[float, float]:
    """(target temperature, rate 1/s) of a regime: 'full', 'linear' or 'zero'."""
    if which == "full":
        return out + model.gain, 1.0 / model.tau
    if which == "zero":
        return out, 1.0 / model.tau
    return sp, (1.0 + model.gain / model.power_band) / model.tau


def equilibrium(model: RoomModel, setpoint: float | None, out: float,
                window_open: bool = False) -> float:
    """Where the room settles with this set point and outdoor temperature."""
    if setpoint is None or window_open:
        return out
    lo, hi = _bounds(model, setpoint, out)
    full = out + model.gain
    if full <= lo:
        return full
    if out >= hi:
        return out
    return setpoint


def advance(model: RoomModel, temp: float, seg: Segment | None, out: float,
            dt: float) -> float:
    """The temperature after ``dt`` seconds of one piece (exact): constant set point
    and window (``seg``; None: unheated) and outdoor temperature ``out``. Only the
    piece's ``setpoint`` and ``window_open`` are read, not its start and end."""
    if seg is None or seg.setpoint is None or seg.window_open:
        tau = model.window_tau if seg is not None and seg.window_open else model.tau
        return out + (temp - out) * math.exp(-dt / tau)
    sp = seg.setpoint
    lo, hi = _bounds(model, sp, out)
    which = "full" if temp < lo else "zero" if temp > hi else "linear"
    for _ in range(4):                      # at most two crossings; a guard against float ties
        target, rate = _regime(model, sp, out, which)
        # the boundary the trajectory heads for, and the regime behind it
        if which == "full" and target > lo:
            edge, after = lo, "linear"
        elif which == "zero" and target < hi:
            edge, after = hi, "linear"
        elif which == "linear" and target < lo:
            edge, after = lo, "full"
        elif which == "linear" and target > hi:
            edge, after = hi, "zero"
        else:
            edge, after = None, which
        if edge is not None and (temp - target) * (edge - target) > 0 \
                and abs(edge - target) < abs(temp - target):
            s = math.log((temp - target) / (edge - target)) / rate
            if s < dt:
                temp, dt, which = edge, dt - s, after
                continue
        elif edge is not None and temp == edge:
            which = after
            continue
        return target + (temp - target) * math.exp(-rate * dt)
    return temp


def _pieces(segments: list[Segment], start: float, t: float
            ) -> Iterable[tuple[float, float, Segment | None]]:
    """(a, b, segment or None for a gap) covering [start, t] in order."""
    cursor = start
    for seg in segments:
        a, b = max(seg.start, cursor), min(seg.end, t)
        if b <= a:
            continue
        if a > cursor:
            yield cursor, a, None
        yield a, b, seg
        cursor = b
        if cursor >= t:
            return
    if cursor < t:
        yield cursor, t, None


def room_state(model: RoomModel, segments: Iterable[Segment],
               outdoor_temp: Callable[[float], float], t: float) -> RoomState:
    """The room at ``t``: temperature, power request (0..100) and whether it heats.

    ``segments`` (in time order, non-overlapping) should cover [history_start, t]; the
    room starts at equilibrium at the later of history_start and the first segment's
    start."""
    start = history_start(model, t)
    segs = sorted((s for s in segments if s.end > start and s.start <= t),
                  key=lambda s: s.start)
    if segs and segs[0].start > start:
        start = min(segs[0].start, t)

    def out_at(x: float) -> float:
        return outdoor_temp(math.floor(x / HOUR) * HOUR + HOUR / 2)

    temp: float | None = None
    steps = 0
    for a, b, seg in _pieces(segs, start, t):
        x = a
        while True:
            out = out_at(x)
            if temp is None:
                temp = equilibrium(model, seg and seg.setpoint, out,
                                   bool(seg and seg.window_open))
            y = min(b, (math.floor(x / HOUR) + 1) * HOUR)
            temp = advance(model, temp, seg, out, y - x)
            steps += 1
            if y >= b:
                break
            x = y
    out = out_at(t)
    # the segment in force at t: the latest that has started and not ended before t
    seg_now = next((s for s in reversed(segs) if s.start <= t <= s.end), None)
    if temp is None:                         # an empty window (t == start): at equilibrium
        temp = equilibrium(model, seg_now and seg_now.setpoint, out,
                           bool(seg_now and seg_now.window_open))
    p = power(model, temp, seg_now and seg_now.setpoint, out,
              bool(seg_now and seg_now.window_open))
    pct = int(round(p * 100))
    return RoomState(temperature=temp, power=pct, heating=pct > 0, outdoor=out, steps=steps)


# ---- series: integrate once, read many instants --------------------------------------------
class Trajectory:
    """A room integrated through pieces cut at hour boundaries (:func:`integrate`).

    Step ``i`` covers ``[starts[i], ends[i])`` with a constant set point, window and
    outdoor temperature; ``temps[i]`` is the temperature at its start. Read-only once
    built (it may be shared, e.g. by a cache)."""

    __slots__ = ("starts", "ends", "temps", "outdoors", "segments", "tags")

    def __init__(self) -> None:
        self.starts: list[float] = []
        self.ends: list[float] = []
        self.temps: list[float] = []
        self.outdoors: list[float] = []
        self.segments: list[Segment] = []
        self.tags: list[Any] = []

    def __len__(self) -> int:
        return len(self.starts)

    def index(self, t: float) -> int:
        """The step whose ``[start, end)`` holds t, or -1 when t is outside them all."""
        i = bisect.bisect_right(self.starts, t) - 1
        return i if i >= 0 and t < self.ends[i] else -1

    def at(self, model: RoomModel, i: int, t: float) -> float:
        """The temperature at t inside step i: the step's start value, advanced."""
        x = self.starts[i]
        temp = self.temps[i]
        return temp if t == x else advance(model, temp, self.segments[i], self.outdoors[i],
                                           t - x)


Piece = tuple[float, float, Segment, Any]       # (start, end, set point and window, tag)


def integrate(model: RoomModel, pieces: Iterable[Piece],
              outdoor_hour: Callable[[int], float]) -> Trajectory:
    """Integrate contiguous ``pieces`` (in time order; each ``(start, end, segment,
    tag)``, the segment's own start and end ignored) from the equilibrium of the first
    one, cutting them at hour boundaries; ``outdoor_hour(h)`` is the outdoor temperature
    held through hour ``h`` (``[h * 3600, (h + 1) * 3600)``). Zero-length pieces are
    skipped; ``tag`` is kept per step for the caller (e.g. what the room shows)."""
    tr = Trajectory()
    starts, ends, temps, outs = tr.starts, tr.ends, tr.temps, tr.outdoors
    segs, tags = tr.segments, tr.tags
    temp: float | None = None
    for x0, y0, seg, tag in pieces:
        if y0 <= x0:
            continue
        x = x0
        while True:
            h = math.floor(x / HOUR)
            ext = outdoor_hour(h)
            y = min(y0, (h + 1) * HOUR)
            if temp is None:
                temp = equilibrium(model, seg.setpoint, ext, seg.window_open)
            starts.append(x)
            ends.append(y)
            temps.append(temp)
            outs.append(ext)
            segs.append(seg)
            tags.append(tag)
            temp = advance(model, temp, seg, ext, y - x)
            if y >= y0:
                break
            x = y
    return tr


# ---- anticipation ----------------------------------------------------------------------------
def anticipation_time(model: RoomModel, temperature: float, outdoor: float,
                      setpoint: float) -> float:
    """Seconds of full power needed to bring the room from ``temperature`` to
    ``setpoint`` at this outdoor temperature (0 when already there, inf when out of
    reach), ignoring further loss changes: tau * ln((T_full - T) / (T_full - sp))."""
    if temperature >= setpoint:
        return 0.0
    full = outdoor + model.gain
    if full <= setpoint:
        return math.inf
    return model.tau * math.log((full - temperature) / (full - setpoint))


def anticipating(model: RoomModel, state: RoomState, next_setpoint: float,
                 seconds_until: float) -> bool:
    """Whether a thermostat would already heat for a higher set point due in
    ``seconds_until`` seconds: the next set point is above the room, it comes within
    ``model.max_anticipation``, and full power needs at least the time left.
    (A caller that wants the anticipation in the room's history starts the higher
    segment ``anticipation_time`` earlier.)"""
    if seconds_until <= 0 or seconds_until > model.max_anticipation:
        return False
    if next_setpoint <= state.temperature:
        return False
    need = anticipation_time(model, state.temperature, state.outdoor, next_setpoint)
    return need >= seconds_until
