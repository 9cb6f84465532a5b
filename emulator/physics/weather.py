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

**Series** (:func:`outdoor_series`, :func:`rain_total_series`): the same functions over
a numpy array of instants, computing only the fields asked for. They repeat the scalar
arithmetic operation for operation (same order, no fused multiply-add), hash the noise
buckets with the same 64-bit integer mix in unsigned numpy arithmetic, and evaluate
``x ** 3`` with Python's ``pow`` (numpy's may differ in the last bit), so each element
equals the scalar function's value bit for bit wherever numpy's ``cos`` is the C
library's (``tests/test_physics.py`` checks it, and the rounded values the APIs show).
Noise values are looked up per bucket (one hash per bucket the instants touch), so a
series costs a few dozen vector operations whatever its length.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

import numpy as np

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


# ---- series: the same functions over an array of instants -------------------------------
# numpy's cost is per call (about a microsecond) more than per element, so a series
# makes few calls: the seeded numbers come from memoised pages of 256 consecutive
# buckets (as the scalar path memoises unit() and _rain_knot()), all noise rows at the
# same instants are interpolated together, and sparse instants (a bucket each) are
# hashed directly instead of through pages.
_U53 = float(1 << 53)
_C1 = np.array(0xBF58476D1CE4E5B9, dtype=np.uint64)
_C2 = np.array(0x632BE59BD9B4E019, dtype=np.uint64)
_C3 = np.array(0x94D049BB133111EB, dtype=np.uint64)
_S11, _S27, _S30, _S31 = (np.array(n, dtype=np.uint64) for n in (11, 27, 30, 31))
PAGE = 256


@lru_cache(maxsize=4096)
def _prefix(parts: tuple[int, ...]) -> np.ndarray:
    """:func:`mix`'s state after folding ``parts`` (the last part and the finaliser to go)."""
    h = 0x9E3779B97F4A7C15
    for p in parts:
        h = ((h ^ (p & _MASK)) * 0xBF58476D1CE4E5B9 + 0x632BE59BD9B4E019) & _MASK
    return np.array(h, dtype=np.uint64)


def unit_series(parts: tuple[int, ...], k: np.ndarray) -> np.ndarray:
    """``unit(*parts, k)`` for every integer of ``k``: :func:`mix`'s steps in wrapping
    uint64 arithmetic (the scalar's ``& _MASK``)."""
    h = _prefix(parts) ^ np.asarray(k, dtype=np.int64).view(np.uint64)
    h *= _C1
    h += _C2
    h ^= h >> _S30
    h *= _C1
    h ^= h >> _S27
    h *= _C3
    h ^= h >> _S31
    h >>= _S11
    return h.astype(np.float64) / _U53


def _pairs(page: Callable[[Any, int], np.ndarray], direct: Callable[[Any, np.ndarray],
           np.ndarray], keys: list[Any], k: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(v(k), v(k + 1)) for each row r of the int64 array ``k`` (2-D), where
    v = page(keys[r], p) on page p: a dense row reads the pages its range covers (one
    gather for all rows); a sparse row (more pages than instants) calls direct(keys[r], k)."""
    lo, hi = k.min(axis=1).tolist(), k.max(axis=1).tolist()
    segs: list[np.ndarray] = []
    base = np.zeros((k.shape[0], 1), dtype=np.int64)
    sparse = []
    size = 0
    for r, (k0, k1) in enumerate(zip(lo, hi, strict=True)):
        p0, p1 = k0 // PAGE, (k1 + 1) // PAGE
        if (p1 - p0 + 1) * PAGE > 2 * k.shape[1] + 2 * PAGE:
            sparse.append(r)
            continue
        segs += [page(keys[r], p) for p in range(p0, p1 + 1)]
        base[r, 0] = size - p0 * PAGE
        size += (p1 - p0 + 1) * PAGE
    if sparse and not segs:
        a = np.empty(k.shape)
        b = np.empty(k.shape)
    else:
        flat = segs[0] if len(segs) == 1 else np.concatenate(segs)
        idx = k + base
        if sparse:
            idx[sparse] = 0
        a = flat[idx]
        b = flat[idx + 1]
    for r in sparse:
        a[r] = direct(keys[r], k[r])
        b[r] = direct(keys[r], k[r] + 1)
    return a, b


@lru_cache(maxsize=4096)                # 2 KiB a page: at most 8 MiB
def _noise_page(parts: tuple[int, ...], page: int) -> np.ndarray:
    """The knot values of smooth_noise, unit(*parts, k) * 2.0 - 1.0, for the PAGE
    integers k from page * PAGE (read-only)."""
    k = np.arange(page * PAGE, (page + 1) * PAGE, dtype=np.int64)
    v = unit_series(parts, k) * 2.0 - 1.0
    v.flags.writeable = False
    return v


def _noise_direct(parts: tuple[int, ...], k: np.ndarray) -> np.ndarray:
    return unit_series(parts, k) * 2.0 - 1.0


def _noise_rows(t: np.ndarray, specs: list[tuple[int, int, float]]) -> np.ndarray:
    """:func:`smooth_noise` for several (seed, channel, bucket) at the instants ``t``:
    one row per spec."""
    x = t / np.array([[b] for _, _, b in specs])
    kf = np.floor(x)
    f = x - kf
    a, b = _pairs(_noise_page, _noise_direct, [(sd, ch) for sd, ch, _ in specs],
                  kf.astype(np.int64))
    return a + (b - a) * (f * f * (3.0 - 2.0 * f))


def smooth_noise_series(seed: int, channel: int, t: np.ndarray, bucket: float) -> np.ndarray:
    """:func:`smooth_noise` at every instant of ``t``."""
    return _noise_rows(np.asarray(t, dtype=np.float64), [(seed, channel, bucket)])[0]


def pymod(x: np.ndarray, m: float) -> np.ndarray:
    """Python's float ``x % m`` element-wise, for an integer-valued m > 0 (24.0, 360.0).

    ``x - floor(x / m) * m`` is exact: q * m is (q an integer below 2**45) and the
    subtraction of two floats within a factor of two is (Sterbenz); x / m may round up
    to the next integer, leaving a small negative r, and r + m is then the one rounding
    Python's ``fmod(x, m) + m`` makes. Several times cheaper than numpy's ``%`` (a full
    divmod) or fmod (a loop over the exponents) on hours since 1970."""
    q = np.floor(x / m)
    r = x - q * m
    return np.where(r < 0.0, r + m, r)


def pymax(lo: float, x: np.ndarray) -> np.ndarray:
    """Python's ``max(lo, x)`` element-wise (lo unless x is strictly greater)."""
    return np.where(x > lo, x, lo)


def pymin(hi: float, x: np.ndarray) -> np.ndarray:
    """Python's ``min(hi, x)`` element-wise (hi unless x is strictly smaller)."""
    return np.where(x < hi, x, hi)


def wrap24(x: np.ndarray) -> np.ndarray:
    """``x % 24.0`` for -24 < x < 24 (Python's: fmod is then x itself, so only a negative
    x moves, by one rounding of x + 24; + 0.0 turns -0.0 into 0.0 as Python does)."""
    return np.where(x < 0.0, x + 24.0, x) + 0.0


def diurnal_series(hour: np.ndarray) -> np.ndarray:
    """:func:`diurnal` element-wise, for hours in [0, 24)."""
    h = wrap24(hour - 5.0)
    rising = h < 10.0
    c = np.cos(np.where(rising, math.pi * h / 10.0, math.pi * (h - 10.0) / 14.0))
    return np.where(rising, -c, c)


def sea_level_pressure_series(seed: int, key: int, t: np.ndarray) -> np.ndarray:
    n = _noise_rows(np.asarray(t, dtype=np.float64),
                    [(seed ^ key, 11, 3 * 86400.0), (seed ^ key, 12, 18 * HOUR)])
    return 1013.0 + 12.0 * n[0] + 4.0 * n[1]


def _cube(x: np.ndarray) -> np.ndarray:
    """``x ** 3`` with Python's pow (the C library's; numpy's SIMD pow may differ)."""
    return np.array([v ** 3 for v in x.tolist()], dtype=np.float64)


def _rain_knot_series(seed: int, key: int, hour: np.ndarray) -> np.ndarray:
    """:func:`_rain_knot` for every hour of an int64 array."""
    hour = np.asarray(hour, dtype=np.int64)
    block = hour // 6
    s = seed ^ key
    p = sea_level_pressure_series(seed, key, block * 6 * HOUR)
    chance = pymin(0.6, pymax(0.02, 0.1 + (1008.0 - p) / 40.0))
    wet = unit_series((s, 21), block) < chance
    out = np.zeros(hour.shape, dtype=np.float64)
    if wet.any():
        base = 0.1 + 2.5 * _cube(unit_series((s, 22), block[wet]))
        out[wet] = base * (0.3 + 1.4 * unit_series((s, 23), hour[wet]))
    return out


@lru_cache(maxsize=4096)                # 2 KiB a page: at most 8 MiB
def _knot_page(seed_key: tuple[int, int], page: int) -> np.ndarray:
    """_rain_knot for the PAGE hours from page * PAGE (read-only)."""
    v = _rain_knot_series(*seed_key, np.arange(page * PAGE, (page + 1) * PAGE, dtype=np.int64))
    v.flags.writeable = False
    return v


def _knot_pairs(seed: int, key: int, k: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(_rain_knot(k), _rain_knot(k + 1)) for a 1-D int64 array of hours."""
    a, b = _pairs(_knot_page, lambda sk, h: _rain_knot_series(*sk, h), [(seed, key)],
                  k.reshape(1, -1))
    return a[0], b[0]


def _adj_series(adjust: Mapping[str, float], name: str, value: np.ndarray) -> np.ndarray:
    """:func:`_adj` element-wise."""
    if not adjust:
        return value
    if name in adjust:
        value = np.full(value.shape, float(adjust[name]))
    return value + float(adjust.get(f"{name}_offset", 0.0))


# the noise rows of outdoor(): channel -> (bucket, fields that need it)
_CHANNELS = {
    1: (86400.0, {"temperature"}), 2: (3 * HOUR, {"temperature"}),
    3: (6 * HOUR, {"humidity"}), 4: (6 * HOUR, {"wind_strength", "gust_strength"}),
    5: (12 * HOUR, {"wind_angle", "gust_angle"}), 6: (HOUR, {"gust_strength"}),
    7: (600.0, {"gust_strength"}), 8: (HOUR, {"gust_angle"}),
}


def outdoor_series(place: Place, seed: int, t: np.ndarray, fields: Iterable[str] = FIELDS,
                   adjust: Mapping[str, float] | None = None) -> dict[str, np.ndarray]:
    """:func:`outdoor` at every instant of ``t``, only ``fields`` (names of
    :class:`Weather`'s fields): float64 arrays, int64 for the two angles."""
    adj = _check(adjust)
    want = set(fields)
    if want - set(FIELDS):
        raise ValueError(f"unknown weather field(s) {sorted(want - set(FIELDS))}")
    t = np.asarray(t, dtype=np.float64)
    key = place_key(place)
    s = seed ^ key
    gusts = "gust_strength" in want
    need_wind = "wind_strength" in want or gusts
    need_day = "temperature" in want or "humidity" in want
    need_p = "pressure" in want or need_wind
    need_rain = need_day or "rain" in want
    rows = [c for c, (_, used) in _CHANNELS.items() if used & want]
    if need_p:
        rows += [11, 12]
    buckets = {**{c: b for c, (b, _) in _CHANNELS.items()}, 11: 3 * 86400.0, 12: 18 * HOUR}
    noise = dict(zip(rows, _noise_rows(t, [(s, c, buckets[c]) for c in rows]),
                     strict=True)) if rows else {}
    out: dict[str, np.ndarray] = {}
    if need_p:
        p = _adj_series(adj, "pressure", 1013.0 + 12.0 * noise[11] + 4.0 * noise[12])
        out["pressure"] = p
    hours = t / HOUR
    if need_rain:
        x = hours
        kf = np.floor(x)
        a, b = _knot_pairs(seed, key, kf.astype(np.int64))
        rain = pymax(0.0, _adj_series(adj, "rain", a + (b - a) * (x - kf)))
        out["rain"] = rain
        wet = pymin(1.0, rain / 2.0)
    if need_day:
        day = diurnal_series(pymod(hours + place.lon / 15.0, 24.0))
    if "temperature" in want:
        seas = -(1.0 if place.lat >= 0 else -1.0) * (0.18 * abs(place.lat)) \
            * np.cos(2.0 * math.pi * (t - _COLDEST) / YEAR)
        temp = (annual_mean(place) + seas + 4.0 * day + 3.0 * noise[1] + 1.2 * noise[2]
                - 1.5 * wet)
        out["temperature"] = _adj_series(adj, "temperature", temp)
    if "humidity" in want:
        hum = 72.0 - 14.0 * day + 10.0 * noise[3] + 18.0 * wet
        out["humidity"] = pymin(100.0, pymax(10.0, _adj_series(adj, "humidity", hum)))
    if need_wind:
        wind = 9.0 + 8.0 * noise[4] + 0.8 * (1013.0 - p)
        wind = pymax(0.0, _adj_series(adj, "wind_strength", wind))
        out["wind_strength"] = wind
    if 5 in noise:
        angle = pymod(250.0 + 120.0 * noise[5], 360.0)
        angle = pymod(_adj_series(adj, "wind_angle", angle), 360.0)
        out["wind_angle"] = np.trunc(angle).astype(np.int64) % 360
    if gusts:
        gust = wind * (1.5 + 0.3 * noise[6]) + 3.0 + 2.0 * noise[7]
        out["gust_strength"] = pymax(0.0, _adj_series(adj, "gust_strength", gust))
    if "gust_angle" in want:
        ga = pymod(_adj_series(adj, "gust_angle", angle + 25.0 * noise[8]), 360.0)
        out["gust_angle"] = np.trunc(ga).astype(np.int64) % 360
    return {f: out[f] for f in FIELDS if f in want}


_PIECES = 1 << 17                   # rain_total_series: pieces per chunk (memory bound)


def rain_total_series(place: Place, seed: int, t0: np.ndarray, t1: np.ndarray,
                      adjust: Mapping[str, float] | None = None) -> np.ndarray:
    """:func:`rain_total` over every window [t0[i], t1[i]], bit for bit: the same
    trapezoids, summed in the same order (a row-wise running sum, not numpy's pairwise
    one). Memory is bounded by computing at most ``_PIECES`` trapezoids at a time."""
    adj = _check(adjust)
    t0 = np.asarray(t0, dtype=np.float64)
    t1 = np.asarray(t1, dtype=np.float64)
    out = np.zeros(t0.shape, dtype=np.float64)
    if t0.size == 0:
        return out
    key = place_key(place)
    k0 = np.floor(t0 / HOUR).astype(np.int64)
    # pieces: j = 0 from t0, then one per hour boundary (k0 + j) * HOUR < t1
    last = np.floor(t1 / HOUR).astype(np.int64) - k0
    last = np.where((k0 + last) * HOUR < t1, last, last - 1)
    count = np.where(t1 > t0, np.maximum(last, 0) + 1, 0)
    rows = np.flatnonzero(count)
    if rows.size == 0:
        return out
    width = int(count.max())
    per = max(1, _PIECES // width)
    for c in range(0, rows.size, per):
        r = rows[c:c + per]
        j = np.arange(width, dtype=np.int64)
        k = k0[r, None] + j
        lo, hi = _knot_pairs(seed, key, k.ravel())
        lo, hi = lo.reshape(k.shape), hi.reshape(k.shape)
        a = np.where(j == 0, t0[r, None], k * HOUR)
        edge = (k + 1) * HOUR
        tr = t1[r, None]
        b = np.where(edge < tr, edge, tr)
        ra = lo + (hi - lo) * (a / HOUR - k)
        rb = lo + (hi - lo) * (b / HOUR - k)
        if adj:
            ra = pymax(0.0, _adj_series(adj, "rain", ra))
            rb = pymax(0.0, _adj_series(adj, "rain", rb))
        piece = (ra + rb) * 0.5 * (b - a) / HOUR
        piece[j >= count[r, None]] = 0.0            # x + 0.0 == x: padding is neutral
        out[r] = np.cumsum(piece, axis=1)[:, -1] + 0.0   # 0.0 + ...: the scalar's start
    return out


def round_series(x: np.ndarray, ndigits: int = 0) -> np.ndarray:
    """Python's ``round(v, ndigits)`` element-wise (ndigits > 0: float64; 0: int64).

    numpy's own ``round`` scales, rounds and scales back, which picks the other side
    of a near tie (``round(2.675, 2)`` is 2.67, ``np.round(2.675, 2)`` 2.68): here the
    few values within 1e-6 of a tie after scaling are rounded by Python itself."""
    x = np.asarray(x, dtype=np.float64)
    if ndigits == 0:
        return np.rint(x).astype(np.int64)          # half-even on the exact value
    scale = 10.0 ** ndigits
    y = x * scale
    out = np.rint(y) / scale
    near = np.abs(y - np.floor(y) - 0.5) < 1e-6
    if near.any():
        idx = np.flatnonzero(near)
        out[idx] = [round(v, ndigits) for v in x[idx].tolist()]
    return out


@lru_cache(maxsize=1 << 16)
def hourly_temperature(lat: float, lon: float, altitude: float, seed: int, hour: int) -> float:
    """The outdoor temperature a room model holds through hour ``hour`` (``[hour * 3600,
    (hour + 1) * 3600)``): :func:`outdoor`'s at the middle of the hour, memoised."""
    return outdoor(Place(lat=lat, lon=lon, altitude=altitude), seed,
                   hour * HOUR + HOUR / 2).temperature
