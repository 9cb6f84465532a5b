"""Outdoor weather as a closed-form function of (place, seed, t).

Every value is O(1) to compute at any instant; nothing is stored and nothing depends
on earlier calls, so the weather at an instant never changes once seen.

The terms:

- **Season**: a cosine over the tropical year, coldest about 20 January in the northern
  hemisphere and about 20 July in the southern one (the sign follows the latitude).
  The annual mean falls and the amplitude grows with the latitude; altitude cools by
  the standard lapse rate (6.5 °C/km).
- **Day**: in local *mean solar* time (from the longitude, so no time-zone tables are
  needed and daylight saving does not shift the sun): the minimum at 05:00, the maximum
  at 15:00, a half cosine up (10 h) and a half cosine down (14 h), smooth at both joints.
- **Noise**: value noise, one seeded random value per time bucket and channel, blended
  between neighbouring buckets with a smoothstep, so a value never jumps at a bucket
  edge. Several octaves: weather systems over days (pressure, temperature, wind),
  hours (temperature, gusts).
- **Pressure** (sea level, hPa): 1013 plus systems of about three days and eighteen
  hours. Lows bring wind and rain.
- **Rain** (mm/h): episodes per six-hour block, more likely when the pressure is low;
  the rate has one value per hour knot and is linear between knots, so
  :func:`rain_total` is the exact integral of :func:`outdoor`'s ``rain`` (a trapezoid per
  hour: a month costs 744 steps).

``adjust`` (admin overrides): a key naming a field (``temperature``, ``humidity``,
``pressure``, ``wind_strength``, ``wind_angle``, ``gust_strength``, ``gust_angle``,
``rain``) sets that field to the given absolute value; ``<field>_offset`` adds to it.
Derived fields follow the adjusted ones (a forced rain rate raises the humidity, a
forced wind strength scales the gusts) unless they are set themselves. Unknown keys
raise ``ValueError``.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from functools import lru_cache

YEAR = 365.2422 * 86400.0
# 1970-01-20T00:00Z: the coldest day of the northern year (phase of the seasonal cosine)
_COLDEST = 19 * 86400.0
HOUR = 3600.0
_MASK = (1 << 64) - 1

FIELDS = ("temperature", "humidity", "pressure", "wind_strength", "wind_angle",
          "gust_strength", "gust_angle", "rain")
ADJUST_KEYS = frozenset(FIELDS) | {f"{f}_offset" for f in FIELDS}


@dataclass(frozen=True)
class Place:
    lat: float
    lon: float
    altitude: float = 0.0
    timezone: str = "UTC"


@dataclass(frozen=True)
class Weather:
    temperature: float      # °C
    humidity: float         # % relative
    pressure: float         # hPa at sea level
    wind_strength: float    # km/h
    wind_angle: int         # degrees, where the wind comes from
    gust_strength: float    # km/h
    gust_angle: int         # degrees
    rain: float             # mm/h, the rate at t


# ---- seeded value noise ----------------------------------------------------------------
def mix(*parts: int) -> int:
    """A 64-bit hash of integers (multiply-xorshift, splitmix64 finaliser): fast, stable
    across runs and platforms."""
    h = 0x9E3779B97F4A7C15
    for p in parts:
        h = ((h ^ (p & _MASK)) * 0xBF58476D1CE4E5B9 + 0x632BE59BD9B4E019) & _MASK
    h = ((h ^ (h >> 30)) * 0xBF58476D1CE4E5B9) & _MASK
    h = ((h ^ (h >> 27)) * 0x94D049BB133111EB) & _MASK
    return h ^ (h >> 31)


@lru_cache(maxsize=1 << 18)
def unit(*parts: int) -> float:
    """A seeded number in [0, 1)."""
    return (mix(*parts) >> 11) / float(1 << 53)


def place_key(place: Place) -> int:
    """An integer naming a place to about 100 m (nearby stations share their weather)."""
    return (round(place.lat * 1000) & 0xFFFFF) << 20 | (round(place.lon * 1000) & 0xFFFFF)


def smooth_noise(seed: int, channel: int, t: float, bucket: float) -> float:
    """Value noise in [-1, 1]: one value per bucket, smoothstep between them (continuous)."""
    x = t / bucket
    k = math.floor(x)
    f = x - k
    a = unit(seed, channel, k) * 2.0 - 1.0
    b = unit(seed, channel, k + 1) * 2.0 - 1.0
    return a + (b - a) * (f * f * (3.0 - 2.0 * f))


# ---- deterministic terms ----------------------------------------------------------------
def solar_hour(lon: float, t: float) -> float:
    """Local mean solar time in hours [0, 24)."""
    return ((t / HOUR) + lon / 15.0) % 24.0


def diurnal(hour: float) -> float:
    """-1 at 05:00, +1 at 15:00, smooth (zero slope at both turning points)."""
    h = (hour - 5.0) % 24.0
    if h < 10.0:
        return -math.cos(math.pi * h / 10.0)
    return math.cos(math.pi * (h - 10.0) / 14.0)


def seasonal(lat: float, t: float) -> float:
    """The season's departure from the annual mean, °C (negative in the local winter)."""
    amp = 0.18 * abs(lat)
    sign = 1.0 if lat >= 0 else -1.0
    return -sign * amp * math.cos(2.0 * math.pi * (t - _COLDEST) / YEAR)


def annual_mean(place: Place) -> float:
    return 27.0 - 0.45 * max(0.0, abs(place.lat) - 15.0) - 0.0065 * place.altitude


def sea_level_pressure(seed: int, key: int, t: float) -> float:
    return (1013.0 + 12.0 * smooth_noise(seed ^ key, 11, t, 3 * 86400.0)
            + 4.0 * smooth_noise(seed ^ key, 12, t, 18 * HOUR))


def absolute_pressure(sea_level: float, altitude: float) -> float:
    """Station pressure from the sea-level one (barometric formula, standard atmosphere)."""
    return sea_level * (1.0 - 2.25577e-5 * altitude) ** 5.25588


@lru_cache(maxsize=1 << 16)
def _rain_knot(seed: int, key: int, hour: int) -> float:
    """The rain rate (mm/h) at an hour knot: episodes per six-hour block, lows wetter."""
    block = hour // 6
    p = sea_level_pressure(seed, key, block * 6 * HOUR)
    chance = min(0.6, max(0.02, 0.1 + (1008.0 - p) / 40.0))
    if unit(seed ^ key, 21, block) >= chance:
        return 0.0
    base = 0.1 + 2.5 * unit(seed ^ key, 22, block) ** 3
    return base * (0.3 + 1.4 * unit(seed ^ key, 23, hour))


def _rain_rate(seed: int, key: int, t: float) -> float:
    x = t / HOUR
    k = math.floor(x)
    a, b = _rain_knot(seed, key, k), _rain_knot(seed, key, k + 1)
    return a + (b - a) * (x - k)


def _check(adjust: Mapping[str, float] | None) -> Mapping[str, float]:
    if not adjust:
        return {}
    unknown = set(adjust) - ADJUST_KEYS
    if unknown:
        raise ValueError(f"unknown weather adjustment {sorted(unknown)}; known: "
                         f"{sorted(ADJUST_KEYS)}")
    return adjust


def _adj(adjust: Mapping[str, float], name: str, value: float) -> float:
    if not adjust:
        return value
    if name in adjust:
        value = float(adjust[name])
    return value + float(adjust.get(f"{name}_offset", 0.0))


# ---- public ----------------------------------------------------------------
def outdoor(place: Place, seed: int, t: float, adjust: Mapping[str, float] | None = None
            ) -> Weather:
    """The weather at ``place`` at instant ``t`` (epoch seconds), O(1)."""
    adj = _check(adjust)
    key = place_key(place)
    s = seed ^ key
    p = _adj(adj, "pressure", sea_level_pressure(seed, key, t))
    rain = max(0.0, _adj(adj, "rain", _rain_rate(seed, key, t)))
    wet = min(1.0, rain / 2.0)
    day = diurnal(solar_hour(place.lon, t))
    temp = (annual_mean(place) + seasonal(place.lat, t) + 4.0 * day
            + 3.0 * smooth_noise(s, 1, t, 86400.0) + 1.2 * smooth_noise(s, 2, t, 3 * HOUR)
            - 1.5 * wet)
    temp = _adj(adj, "temperature", temp)
    hum = 72.0 - 14.0 * day + 10.0 * smooth_noise(s, 3, t, 6 * HOUR) + 18.0 * wet
    hum = min(100.0, max(10.0, _adj(adj, "humidity", hum)))
    wind = 9.0 + 8.0 * smooth_noise(s, 4, t, 6 * HOUR) + 0.8 * (1013.0 - p)
    wind = max(0.0, _adj(adj, "wind_strength", wind))
    angle = (250.0 + 120.0 * smooth_noise(s, 5, t, 12 * HOUR)) % 360.0
    angle = _adj(adj, "wind_angle", angle) % 360.0
    gust = (wind * (1.5 + 0.3 * smooth_noise(s, 6, t, HOUR))
            + 3.0 + 2.0 * smooth_noise(s, 7, t, 600.0))
    gust = max(0.0, _adj(adj, "gust_strength", gust))
    gust_angle = _adj(adj, "gust_angle", angle + 25.0 * smooth_noise(s, 8, t, HOUR)) % 360.0
    return Weather(temperature=temp, humidity=hum, pressure=p, wind_strength=wind,
                   wind_angle=int(angle) % 360, gust_strength=gust,
                   gust_angle=int(gust_angle) % 360, rain=rain)


def rain_total(place: Place, seed: int, t0: float, t1: float,
               adjust: Mapping[str, float] | None = None) -> float:
    """Millimetres fallen in [t0, t1]: the exact integral of ``outdoor(...).rain``.

    One trapezoid per hour crossed (the rate is linear between hour knots), so the cost
    is bounded by (t1 - t0) / 1 h + 2 steps. An adjusted ``rain`` is a constant rate."""
    adj = _check(adjust)
    if t1 <= t0:
        return 0.0
    key = place_key(place)
    total = 0.0
    k = math.floor(t0 / HOUR)
    lo = _rain_knot(seed, key, k)
    a = t0
    while a < t1:
        hi = _rain_knot(seed, key, k + 1)
        b = min(t1, (k + 1) * HOUR)
        ra = lo + (hi - lo) * (a / HOUR - k)
        rb = lo + (hi - lo) * (b / HOUR - k)
        if adj:
            ra, rb = max(0.0, _adj(adj, "rain", ra)), max(0.0, _adj(adj, "rain", rb))
        total += (ra + rb) * 0.5 * (b - a) / HOUR
        a, k, lo = b, k + 1, hi
    return total
