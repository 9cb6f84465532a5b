"""Battery drain of a wireless module over months, deterministic.

A battery installed at ``installed_at`` lasts ``lifetime_s`` stretched by a seeded
factor in [0.85, 1.15] (cells differ). The charge falls linearly with time; the
voltage follows an alkaline-like curve (a fast first drop, a long plateau, a knee at
the end): ``vp = empty + (full - empty) * charge ** 0.8``. The state names follow the
charge: full >= 85 %, high >= 60 %, medium >= 35 %, low >= 10 %, very_low below
(INFERRED: vendors publish per-product voltage thresholds, not percentages).

A caller that overrides the level (an admin API setting a battery to 5 %) passes
``percent=``; the voltage and state then follow that percentage.
"""

from __future__ import annotations

from dataclasses import dataclass

from .weather import unit

STATES = [(85, "full"), (60, "high"), (35, "medium"), (10, "low"), (0, "very_low")]


@dataclass(frozen=True)
class Battery:
    percent: int        # 0..100
    vp: int             # mV
    state: str          # full | high | medium | low | very_low


def state_of(percent: int) -> str:
    return next(name for lim, name in STATES if percent >= lim)


def battery(installed_at: float, t: float, lifetime_s: float, seed: int, full_mv: int,
            empty_mv: int, *, percent: int | None = None) -> Battery:
    """The battery at ``t``; ``percent`` overrides the computed level."""
    if percent is None:
        life = lifetime_s * (0.85 + 0.3 * unit(seed, 301))
        used = max(0.0, t - installed_at) / life if life > 0 else 1.0
        charge = max(0.0, 1.0 - used)
        percent = int(round(charge * 100))
    percent = max(0, min(100, int(percent)))
    vp = empty_mv + (full_mv - empty_mv) * (percent / 100.0) ** 0.8
    return Battery(percent=percent, vp=int(round(vp)), state=state_of(percent))
