"""Actuators over virtual time, in closed form: a cover travelling to a target, and the
energy a load draws.

Both are read from the last command before the instant asked about, so a reading a
year after the last command costs the same as one a second after it (DESIGN, Physics).

* **Travel.** A cover (roller shutter, blind, garage door) at ``start`` (0 closed ..
  100 open) when a command is given at ``t0`` moves toward ``target`` at a constant
  speed, ``100 / full_travel_s`` per second, and stays there once it arrives:
  ``position(t) = start + sign(target - start) * min(|target - start|, speed * (t - t0))``.
  Before ``t0`` it is at ``start``. Stopping it at ``t1`` is a new travel whose start
  and target are both ``position(t1)``.
* **Energy.** A load that draws ``power_w`` from ``t0`` on has used
  ``energy_wh + power_w * (t - t0) / 3600`` Wh at ``t`` (piecewise-constant power: each
  command starts a new piece from the energy counted at its instant).

Nothing here reads a clock: every function takes the instant it is asked about.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

FULL = 100.0


@dataclass(frozen=True)
class Travel:
    """A cover moving from ``start`` at ``t0`` toward ``target`` (positions 0..100)."""

    start: float
    target: float
    t0: float
    full_travel_s: float

    @property
    def speed(self) -> float:
        """Position units per second (instant travel when ``full_travel_s`` <= 0)."""
        return math.inf if self.full_travel_s <= 0 else FULL / self.full_travel_s

    def at(self, t: float) -> float:
        """The position at ``t``."""
        gap = self.target - self.start
        if t <= self.t0 or gap == 0:
            return self.start
        done = self.speed * (t - self.t0)
        return self.target if done >= abs(gap) else self.start + math.copysign(done, gap)

    def arrival(self) -> float:
        """The instant it reaches its target."""
        gap = abs(self.target - self.start)
        return self.t0 if gap == 0 else self.t0 + gap / self.speed

    def moving(self, t: float) -> bool:
        return self.t0 < t < self.arrival() or (t == self.t0 and self.target != self.start)


def energy_wh(energy_at_t0: float, power_w: float, t0: float, t: float) -> float:
    """Watt-hours used at ``t`` by a load drawing ``power_w`` since ``t0``, with
    ``energy_at_t0`` already counted then (never less than that before ``t0``)."""
    return energy_at_t0 + power_w * max(0.0, t - t0) / 3600.0
