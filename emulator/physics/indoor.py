"""Indoor air: CO2, humidity and noise over a day, and an air-quality index.

All closed form and deterministic in (seed, t). Local time comes from the caller as a
UTC offset in seconds (the caller knows the device's time zone).

- **Occupancy**: by default people are home before 08:30 and from 18:00 on weekdays,
  and all weekend; a caller may pass its own ``occupied(t)``.
- **CO2** (ppm): 420 outdoors; people add up to ~750 ppm. The room's memory of
  presence is a weighted mean of occupancy over the last two hours (eight samples,
  15 minutes apart, weights decaying with a 45-minute time constant), so CO2 rises
  and falls gradually; more at night (closed bedroom doors). Plus seeded smooth noise.
- **Humidity** (%): 45 plus a slow seeded drift, plus a little from presence (breath,
  cooking, showers in the morning and evening).
- **Noise** (dB): 35 in an empty or sleeping home, 45-60 when people are awake at home.

:func:`health_idx` (0 healthy, 1 fine, 2 fair, 3 poor, 4 unhealthy) is the worst of
three per-factor scores (INFERRED thresholds, no vendor publishes its formula; they
agree with the real samples seen: CO2 1053 ppm at 66 % humidity scores 1):

==========  =========  ==========  ==========  ==========  ==========
score       0          1           2           3           4
==========  =========  ==========  ==========  ==========  ==========
CO2 ppm     < 1000     < 1400      < 2000      < 3000      otherwise
humidity %  40..60     30..70      20..80      15..90      otherwise
temp. °C    18..24     16..26      14..28      12..30      otherwise
==========  =========  ==========  ==========  ==========  ==========

:func:`air_series` and :func:`health_idx_series` are the same over arrays (default
occupancy only), equal to the scalar functions element by element.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from .weather import _noise_rows, pymod, round_series, smooth_noise

HOUR = 3600.0
_LOOKBACK = [(i * 900.0, math.exp(-i * 900.0 / 2700.0)) for i in range(8)]
_WEIGHT = sum(w for _, w in _LOOKBACK)


@dataclass(frozen=True)
class Air:
    co2: int            # ppm
    humidity: int       # %
    noise: int          # dB


def local_hour(t: float, utc_offset_s: int) -> float:
    return ((t + utc_offset_s) / HOUR) % 24.0


def default_occupied(t: float, utc_offset_s: int = 0) -> bool:
    """Home before 08:30 and from 18:00 on weekdays, all day at weekends."""
    local = t + utc_offset_s
    weekday = (int(local // 86400) + 3) % 7          # 1970-01-01 was a Thursday (3)
    if weekday >= 5:
        return True
    h = (local / HOUR) % 24.0
    return h < 8.5 or h >= 18.0


def _presence(t: float, utc_offset_s: int, occupied: Callable[[float], bool] | None) -> float:
    """0..1: how much the air remembers people over the last two hours."""
    total = 0.0
    for back, w in _LOOKBACK:
        x = t - back
        here = occupied(x) if occupied is not None else default_occupied(x, utc_offset_s)
        total += w if here else 0.0
    return total / _WEIGHT


def air(seed: int, t: float, utc_offset_s: int,
        occupied: Callable[[float], bool] | None = None) -> Air:
    """The indoor air at ``t`` (epoch seconds) in a home at UTC offset ``utc_offset_s``."""
    pres = _presence(t, utc_offset_s, occupied)
    h = local_hour(t, utc_offset_s)
    asleep = h < 6.5 or h >= 23.0
    night = 1.35 if asleep else 1.0
    co2 = 420.0 + 560.0 * pres * night + 90.0 * smooth_noise(seed, 101, t, 2 * HOUR) \
        + 40.0 * smooth_noise(seed, 102, t, 1200.0)
    wet = 1.0 if (6.5 <= h < 8.0 or 19.0 <= h < 21.0) else 0.0
    hum = 45.0 + 8.0 * smooth_noise(seed, 103, t, 86400.0) + 5.0 * pres + 4.0 * wet * pres \
        + 2.0 * smooth_noise(seed, 104, t, HOUR)
    awake_home = pres if not asleep else 0.1 * pres
    noise = 35.0 + 18.0 * awake_home + 4.0 * smooth_noise(seed, 105, t, 900.0)
    return Air(co2=max(350, int(round(co2))), humidity=min(95, max(15, int(round(hum)))),
               noise=max(30, int(round(noise))))


def _band(value: float, bands: list[tuple[float, float]]) -> int:
    for score, (lo, hi) in enumerate(bands):
        if lo <= value <= hi:
            return score
    return len(bands)


_HUMIDITY = [(40, 60), (30, 70), (20, 80), (15, 90)]
_TEMPERATURE = [(18, 24), (16, 26), (14, 28), (12, 30)]
_CO2 = [1000, 1400, 2000, 3000]


def health_idx(temperature: float, humidity: float, co2: float) -> int:
    """0 (healthy) .. 4 (unhealthy): the worst of the CO2, humidity and temperature
    scores (thresholds in the module docstring, INFERRED)."""
    c = next((i for i, lim in enumerate(_CO2) if co2 < lim), 4)
    return max(c, _band(humidity, _HUMIDITY), _band(temperature, _TEMPERATURE))


# ---- series ---------------------------------------------------------------------------
AIR_FIELDS = ("co2", "humidity", "noise")


_BACK = np.array([[back] for back, _ in _LOOKBACK])
_W = np.array([[w] for _, w in _LOOKBACK])


def presence_series(t: np.ndarray, utc_offset_s: np.ndarray) -> np.ndarray:
    """:func:`_presence` with the default occupancy, element-wise: the eight look-backs
    as the rows of one array, summed down in the scalar's order.

    Whole seconds (the usual case) take exact integer arithmetic in floats (all values
    below 2**53; a floor of x / 86400 or d / 7 cannot round across an integer, the
    quotient of integers being at least 1/86400 from the next one): for an integer local
    time x, ``(x / 3600) % 24 < 8.5`` is ``x % 86400 < 30600`` (the float quotient is
    within 1e-10 of the exact one, and the integers nearest a threshold are a second,
    2.8e-4 h, away), and likewise for 18.0."""
    whole = t.size and bool((t == np.floor(t)).all()) \
        and bool((utc_offset_s == np.floor(utc_offset_s)).all())
    if whole:
        local = (t + utc_offset_s) - _BACK
        day = np.floor(local / 86400.0)
        sec = local - day * 86400.0
        d3 = day + 3.0
        here = (d3 - 7.0 * np.floor(d3 / 7.0) >= 5.0) | (sec < 30600.0) | (sec >= 64800.0)
    else:
        local = (t - _BACK) + utc_offset_s
        day = np.floor(local / 86400)
        day = np.where(day * 86400.0 > local, day - 1.0, day)      # Python's exact //
        h = pymod(local / HOUR, 24.0)
        here = ((day.astype(np.int64) + 3) % 7 >= 5) | (h < 8.5) | (h >= 18.0)
    return np.cumsum(np.where(here, _W, 0.0), axis=0)[-1] / _WEIGHT


def air_series(seed: int, t: np.ndarray, utc_offset_s: np.ndarray,
               fields: tuple[str, ...] = AIR_FIELDS) -> dict[str, np.ndarray]:
    """:func:`air` (default occupancy) at every instant of ``t``, with each instant's
    UTC offset; only ``fields`` (of ``co2``, ``humidity``, ``noise``), int64 arrays."""
    t = np.asarray(t, dtype=np.float64)
    off = np.asarray(utc_offset_s, dtype=np.float64)
    pres = presence_series(t, off)
    h = pymod((t + off) / HOUR, 24.0)
    asleep = (h < 6.5) | (h >= 23.0)
    chans = {"co2": [(101, 2 * HOUR), (102, 1200.0)], "humidity": [(103, 86400.0), (104, HOUR)],
             "noise": [(105, 900.0)]}
    rows = [c for f in AIR_FIELDS if f in fields for c in chans[f]]
    noise = dict(zip([c for c, _ in rows], _noise_rows(t, [(seed, c, b) for c, b in rows]),
                     strict=True))
    out: dict[str, np.ndarray] = {}
    if "co2" in fields:
        co2 = 420.0 + 560.0 * pres * np.where(asleep, 1.35, 1.0) + 90.0 * noise[101] \
            + 40.0 * noise[102]
        out["co2"] = np.maximum(350, round_series(co2))
    if "humidity" in fields:
        wet = np.where(((h >= 6.5) & (h < 8.0)) | ((h >= 19.0) & (h < 21.0)), 1.0, 0.0)
        hum = 45.0 + 8.0 * noise[103] + 5.0 * pres + 4.0 * wet * pres + 2.0 * noise[104]
        out["humidity"] = np.minimum(95, np.maximum(15, round_series(hum)))
    if "noise" in fields:
        awake_home = np.where(asleep, 0.1 * pres, pres)
        out["noise"] = np.maximum(30, round_series(35.0 + 18.0 * awake_home
                                                   + 4.0 * noise[105]))
    return out


def health_idx_series(temperature: np.ndarray, humidity: np.ndarray, co2: np.ndarray
                      ) -> np.ndarray:
    """:func:`health_idx` element-wise (the bands are nested: a score is the number of
    bands the value falls outside)."""
    c = np.searchsorted(np.array(_CO2), co2, side="right")
    hum = sum(((humidity < lo) | (humidity > hi)).astype(np.int64) for lo, hi in _HUMIDITY)
    temp = sum(((temperature < lo) | (temperature > hi)).astype(np.int64)
               for lo, hi in _TEMPERATURE)
    return np.maximum(np.maximum(c, hum), temp)
