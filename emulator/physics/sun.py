"""Sunrise and sunset in closed form (NOAA's low-accuracy formulas: fractional year,
equation of time, declination; the sun's centre 0.833 degree below the horizon).

Good to a few minutes, which is all an outdoor camera's floodlight needs: it fires when
:func:`is_dark`. Pure functions of (latitude, longitude, UTC date), O(1) per call.
"""

from __future__ import annotations

import math
from datetime import date

DAY = 86400
EPOCH_ORDINAL = date(1970, 1, 1).toordinal()
ZENITH = math.radians(90.833)


def _year_fraction(ordinal: int) -> float:
    d = date.fromordinal(ordinal)
    n = ordinal - date(d.year, 1, 1).toordinal()           # 0-based day of the year
    days = 366 if d.year % 4 == 0 and (d.year % 100 or d.year % 400 == 0) else 365
    return 2 * math.pi / days * n


def sun_times(lat: float, lon: float, ordinal: int) -> tuple[float, float]:
    """(sunrise, sunset) of UTC date ``ordinal`` (``date.toordinal()``) at (lat, lon),
    in epoch seconds. Polar day: (midnight, next midnight); polar night: (noon, noon)."""
    g = _year_fraction(ordinal)
    eqtime = 229.18 * (0.000075 + 0.001868 * math.cos(g) - 0.032077 * math.sin(g)
                       - 0.014615 * math.cos(2 * g) - 0.040849 * math.sin(2 * g))
    decl = (0.006918 - 0.399912 * math.cos(g) + 0.070257 * math.sin(g)
            - 0.006758 * math.cos(2 * g) + 0.000907 * math.sin(2 * g)
            - 0.002697 * math.cos(3 * g) + 0.00148 * math.sin(3 * g))
    phi = math.radians(max(-89.9, min(89.9, lat)))
    midnight = (ordinal - EPOCH_ORDINAL) * DAY
    cos_ha = (math.cos(ZENITH) / (math.cos(phi) * math.cos(decl))
              - math.tan(phi) * math.tan(decl))
    noon = midnight + (720 - 4 * lon - eqtime) * 60
    if cos_ha <= -1:                       # the sun never sets
        return float(midnight), float(midnight + DAY)
    if cos_ha >= 1:                        # it never rises
        return noon, noon
    ha = math.degrees(math.acos(cos_ha))
    return noon - 4 * ha * 60, noon + 4 * ha * 60


def is_dark(lat: float, lon: float, t: float) -> bool:
    """Whether the sun is down at instant ``t`` at (lat, lon)."""
    rise, sets = sun_times(lat, lon, EPOCH_ORDINAL + int(t // DAY))
    return not rise <= t < sets
