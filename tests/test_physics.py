"""The physics: deterministic, continuous, plausible, and cheap whatever the clock says."""

from __future__ import annotations

import math
import random
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from emulator.physics import indoor, localtime, thermal, weather
from emulator.physics.battery import battery
from emulator.physics.thermal import RoomModel, Segment, room_state
from emulator.physics.weather import Place, outdoor, rain_total

PARIS = Place(48.85, 2.35, 35, "Europe/Paris")
SYDNEY = Place(-33.87, 151.21, 20, "Australia/Sydney")
T2024 = 1704067200                       # 2024-01-01T00:00Z
DAY, HOUR = 86400, 3600
instants = st.floats(min_value=0, max_value=4e9, allow_nan=False)
seeds = st.integers(min_value=0, max_value=2**63)


# ---- weather ------------------------------------------------------------------------------
@given(seeds, instants)
@settings(max_examples=200, deadline=None)
def test_weather_is_a_pure_function(seed: int, t: float) -> None:
    assert outdoor(PARIS, seed, t) == outdoor(PARIS, seed, t)


@given(seeds, instants)
@settings(max_examples=200, deadline=None)
def test_weather_stays_plausible(seed: int, t: float) -> None:
    w = outdoor(PARIS, seed, t)
    assert -40 < w.temperature < 50
    assert 10 <= w.humidity <= 100
    assert 940 < w.pressure < 1080
    assert w.wind_strength >= 0 and w.gust_strength >= 0 and w.rain >= 0
    assert 0 <= w.wind_angle < 360 and 0 <= w.gust_angle < 360


@pytest.mark.parametrize("bucket", [600, HOUR, 3 * HOUR, 6 * HOUR, 12 * HOUR, DAY,
                                    18 * HOUR, 3 * DAY])
def test_no_jump_at_bucket_edges(bucket: int) -> None:
    """Every noise bucket size used: the values either side of an edge are close."""
    for k in range(1, 40):
        edge = T2024 + k * 7 * bucket
        a, b = outdoor(PARIS, 3, edge - 0.5), outdoor(PARIS, 3, edge + 0.5)
        assert abs(a.temperature - b.temperature) < 0.05
        assert abs(a.pressure - b.pressure) < 0.05
        assert abs(a.humidity - b.humidity) < 0.2
        assert abs(a.wind_strength - b.wind_strength) < 0.2
        assert abs(a.rain - b.rain) < 0.01


@given(seeds, instants)
@settings(max_examples=100, deadline=None)
def test_continuity_everywhere(seed: int, t: float) -> None:
    a, b = outdoor(PARIS, seed, t), outdoor(PARIS, seed, t + 1.0)
    assert abs(a.temperature - b.temperature) < 0.05
    assert abs(a.pressure - b.pressure) < 0.05


def test_diurnal_minimum_near_dawn_maximum_mid_afternoon() -> None:
    """Averaged over a month of days (noise averages out), in local solar time."""
    for place in (PARIS, Place(40.7, -74.0), SYDNEY):
        by_hour = [0.0] * 24
        for d in range(60):
            for h in range(24):
                t = T2024 + 150 * DAY + d * DAY + h * HOUR - place.lon / 15 * HOUR
                by_hour[h] += outdoor(place, 11, t).temperature
        coldest = min(range(24), key=by_hour.__getitem__)
        warmest = max(range(24), key=by_hour.__getitem__)
        assert 3 <= coldest <= 7, (place, coldest)
        assert 13 <= warmest <= 17, (place, warmest)


def _mean(place: Place, start: float) -> float:
    return sum(outdoor(place, 5, start + i * 7 * HOUR).temperature for i in range(300)) / 300


def test_seasons_follow_the_hemisphere() -> None:
    jan, jul = T2024 + 5 * DAY, T2024 + 186 * DAY
    assert _mean(PARIS, jul) - _mean(PARIS, jan) > 8
    assert _mean(SYDNEY, jan) - _mean(SYDNEY, jul) > 8
    equator = Place(0.5, 30.0)
    assert abs(_mean(equator, jul) - _mean(equator, jan)) < 3
    assert _mean(Place(48.85, 2.35, 2000), jan) < _mean(PARIS, jan) - 8


def test_seeds_and_places_differ() -> None:
    assert outdoor(PARIS, 1, T2024) != outdoor(PARIS, 2, T2024)
    assert outdoor(PARIS, 1, T2024) != outdoor(SYDNEY, 1, T2024)


def test_adjust_offsets_and_absolutes() -> None:
    base = outdoor(PARIS, 1, T2024)
    hot = outdoor(PARIS, 1, T2024, {"temperature_offset": 5})
    assert hot.temperature == pytest.approx(base.temperature + 5)
    forced = outdoor(PARIS, 1, T2024, {"temperature": 35, "rain": 4, "wind_strength": 50})
    assert forced.temperature == 35 and forced.rain == 4 and forced.wind_strength == 50
    assert forced.gust_strength > 50                       # gusts follow the forced wind
    assert forced.humidity > base.humidity - 1             # rain wets the air
    with pytest.raises(ValueError, match="unknown weather adjustment"):
        outdoor(PARIS, 1, T2024, {"temprature": 1})


@given(seeds, st.floats(min_value=1e9, max_value=2e9), st.floats(min_value=0, max_value=5 * DAY))
@settings(max_examples=60, deadline=None)
def test_rain_total_is_the_integral_of_the_rate(seed: int, t0: float, span: float) -> None:
    t1 = t0 + span
    total = rain_total(PARIS, seed, t0, t1)
    n = max(1, int(span / 60))
    step = span / n
    numeric = sum(outdoor(PARIS, seed, t0 + (i + 0.5) * step).rain for i in range(n)) \
        * step / HOUR
    assert total >= 0
    assert total == pytest.approx(numeric, abs=0.02 + 0.01 * total)
    mid = t0 + span / 3
    assert rain_total(PARIS, seed, t0, mid) + rain_total(PARIS, seed, mid, t1) == \
        pytest.approx(total, abs=1e-9)


def test_rain_comes_in_episodes_and_a_plausible_amount() -> None:
    year = rain_total(PARIS, 4, T2024, T2024 + 365 * DAY)
    assert 200 < year < 1500
    wet_hours = sum(outdoor(PARIS, 4, T2024 + h * HOUR).rain > 0.05 for h in range(24 * 60))
    assert 0.03 < wet_hours / (24 * 60) < 0.5


def test_rain_total_cost_is_bounded_by_hours(monkeypatch: pytest.MonkeyPatch) -> None:
    calls = 0
    knot = weather._rain_knot.__wrapped__

    def counting(*a: int) -> float:
        nonlocal calls
        calls += 1
        return knot(*a)
    monkeypatch.setattr(weather, "_rain_knot", counting)
    rain_total(PARIS, 9, T2024 + 0.5, T2024 + 31 * DAY)
    assert calls <= 31 * 24 + 2


# ---- thermal --------------------------------------------------------------------------------
MODEL = RoomModel()
COLD = 5.0


def cold(_t: float) -> float:
    return COLD


def test_heating_approaches_the_set_point_monotonically() -> None:
    segs = [Segment(T2024 - 30 * DAY, T2024, None), Segment(T2024, T2024 + 30 * DAY, 20.0)]
    temps = [room_state(MODEL, segs, cold, T2024 + m * 600).temperature for m in range(0, 60)]
    assert temps[0] == pytest.approx(COLD)
    assert all(b >= a - 1e-9 for a, b in zip(temps, temps[1:], strict=False))
    late = room_state(MODEL, segs, cold, T2024 + 2 * DAY)
    assert late.temperature == pytest.approx(20.0, abs=0.01)
    # at equilibrium the power holds the loss: (20 - 5) / 25 = 60 %
    assert late.power == 60 and late.heating
    assert room_state(MODEL, segs, cold, T2024 + 60).power == 100


def test_off_decays_to_outdoor_with_tau() -> None:
    segs = [Segment(T2024 - 30 * DAY, T2024, 21.0), Segment(T2024, T2024 + 30 * DAY, None)]
    one_tau = room_state(MODEL, segs, cold, T2024 + MODEL.tau)
    assert one_tau.temperature == pytest.approx(COLD + 16 * math.exp(-1), abs=1e-6)
    assert not one_tau.heating and one_tau.power == 0
    assert room_state(MODEL, segs, cold, T2024 + 2 * DAY).temperature == pytest.approx(COLD,
                                                                                     abs=0.01)


def test_open_window_cools_fast_and_stops_heating() -> None:
    segs = [Segment(T2024 - 30 * DAY, T2024, 21.0),
            Segment(T2024, T2024 + 30 * DAY, 21.0, window_open=True)]
    s = room_state(MODEL, segs, cold, T2024 + 3600)
    assert s.temperature < 8 and s.power == 0 and not s.heating


def test_too_cold_outside_saturates_at_full_power() -> None:
    segs = [Segment(T2024 - 30 * DAY, T2024 + 30 * DAY, 22.0)]
    s = room_state(MODEL, segs, lambda _t: -10.0, T2024)
    assert s.power == 100 and s.temperature == pytest.approx(15.0)


def test_exact_across_regime_changes() -> None:
    """Fine steps of the closed form agree with a numeric integration (Euler, 1 s)."""
    segs = [Segment(T2024 - 30 * DAY, T2024, 16.0), Segment(T2024, T2024 + DAY, 21.0)]
    temp = room_state(MODEL, segs, cold, T2024).temperature
    for _ in range(3 * 3600):
        p = thermal.power(MODEL, temp, 21.0, COLD)
        temp += ((COLD - temp) + MODEL.gain * p) / MODEL.tau
    assert room_state(MODEL, segs, cold, T2024 + 3 * 3600).temperature == \
        pytest.approx(temp, abs=0.01)


def test_reading_after_a_year_costs_what_an_hour_costs() -> None:
    def segs(t: float) -> list[Segment]:      # a daily schedule around t
        day0 = (t // DAY - 2) * DAY
        out = []
        for d in range(4):
            a = day0 + d * DAY
            out += [Segment(a, a + 7 * HOUR, 17.0), Segment(a + 7 * HOUR, a + 22 * HOUR, 20.0),
                    Segment(a + 22 * HOUR, a + DAY, 17.0)]
        return out
    soon = room_state(MODEL, segs(T2024 + HOUR), cold, T2024 + HOUR)
    later = room_state(MODEL, segs(T2024 + 365 * DAY), cold, T2024 + 365 * DAY)
    assert soon.steps == later.steps
    assert later.steps <= 5 * MODEL.tau / HOUR + 6


def test_history_start_and_anticipation() -> None:
    assert thermal.history_start(MODEL, T2024) == T2024 - 5 * MODEL.tau
    s = room_state(MODEL, [Segment(T2024 - 30 * DAY, T2024 + 30 * DAY, 16.0)], cold, T2024)
    need = thermal.anticipation_time(MODEL, s.temperature, s.outdoor, 20.0)
    assert 0 < need < MODEL.max_anticipation
    assert thermal.anticipating(MODEL, s, 20.0, need - 60)
    assert not thermal.anticipating(MODEL, s, 20.0, need + 60)
    assert not thermal.anticipating(MODEL, s, 15.0, 60)


@given(st.floats(min_value=5, max_value=30), st.floats(min_value=-20, max_value=30),
       st.floats(min_value=0, max_value=2 * DAY))
@settings(max_examples=100, deadline=None)
def test_room_stays_between_outdoor_and_full_power(sp: float, out: float, dt: float) -> None:
    segs = [Segment(T2024 - 30 * DAY, T2024, None), Segment(T2024, T2024 + 30 * DAY, sp)]
    s = room_state(MODEL, segs, lambda _t: out, T2024 + dt)
    assert out - 1e-6 <= s.temperature <= out + MODEL.gain + 1e-6
    assert 0 <= s.power <= 100


# ---- indoor air and battery ---------------------------------------------------------------------
def test_air_is_deterministic_with_daily_patterns() -> None:
    assert indoor.air(3, T2024, 3600) == indoor.air(3, T2024, 3600)
    weekday = T2024 + 1 * DAY                  # a Tuesday
    evening = [indoor.air(3, weekday + h * HOUR, 0) for h in (21, 22)]
    noon = [indoor.air(3, weekday + h * HOUR, 0) for h in (12, 13)]
    assert min(a.co2 for a in evening) > max(a.co2 for a in noon)
    assert min(a.noise for a in evening) > max(a.noise for a in noon)
    away = [indoor.air(3, weekday + h * HOUR, 0, occupied=lambda _t: False).co2
            for h in range(24)]
    assert max(away) < 600


@pytest.mark.parametrize(("temp", "hum", "co2", "idx"), [
    (21, 50, 500, 0), (20.3, 63, 494, 1), (21.6, 66, 1053, 1), (21, 50, 1600, 2),
    (21, 50, 2500, 3), (21, 50, 3500, 4), (10, 50, 500, 4), (21, 10, 500, 4),
])
def test_health_idx(temp: float, hum: float, co2: float, idx: int) -> None:
    assert indoor.health_idx(temp, hum, co2) == idx


def test_battery_drains_over_months() -> None:
    life = 2 * 365 * DAY
    levels = [battery(T2024, T2024 + m * 30 * DAY, life, 5, 6000, 3600) for m in range(30)]
    assert levels[0].percent == 100 and levels[0].state == "full" and levels[0].vp == 6000
    assert all(b.percent <= a.percent and b.vp <= a.vp for a, b in zip(levels, levels[1:],
                                                                        strict=False))
    assert levels[-1].percent == 0 and levels[-1].state == "very_low"
    forced = battery(T2024, T2024, life, 5, 6000, 3600, percent=5)
    assert forced.percent == 5 and forced.state == "very_low" and 3600 < forced.vp < 4500


# ---- series: the same values over arrays of instants ------------------------------------------
# Vectorised physics (numpy) must equal the scalar functions bit for bit: the noise hashes
# are the same 64-bit integer mix, the arithmetic the same operations in the same order.
PLACES = [PARIS, SYDNEY, Place(64.1, -21.9, 50), Place(0.0, 0.0), Place(-0.0004, -179.99, 3000),
          Place(40.7, -74.0, 10, "America/New_York")]
ADJUSTS = [None, {}, {"temperature_offset": 2.5}, {"rain": 1.3, "wind_strength": 20},
           {"pressure": 980, "gust_angle_offset": 400.5},
           {"humidity": 5, "rain_offset": -0.2, "wind_angle": 359.9999, "gust_strength": 0}]
# every noise bucket used (and the rain's hours and six-hour blocks): edges and either side
BUCKETS = [600, HOUR, 3 * HOUR, 6 * HOUR, 12 * HOUR, 18 * HOUR, DAY, 3 * DAY]


def same(a: float, b: float) -> bool:
    """Equal, of the same type and the same sign of zero (JSON shows -0.0)."""
    return a == b and type(a) is type(b) and math.copysign(1, a) == math.copysign(1, b)


def edges(rng: random.Random, n: int = 6) -> list[float]:
    out = []
    for bucket in BUCKETS:
        for _ in range(n):
            e = bucket * rng.randrange(1, int(4e9 // bucket))
            out += [e, e - 0.5, e + 0.5, e - 1e-6, e + 1, e - 300]
    return out


def times_for(rng: random.Random, kind: int) -> np.ndarray:
    if kind == 0:                                    # a native 5-minute grid
        return rng.randrange(0, 4 * 10**9) + 300.0 * np.arange(600)
    if kind == 1:                                    # sparse, unsorted
        return np.array([rng.uniform(0, 4e9) for _ in range(300)])
    return np.array(edges(rng))


@pytest.mark.parametrize("case", range(24))
def test_outdoor_series_equals_outdoor(case: int) -> None:
    rng = random.Random(case)
    place = PLACES[case % len(PLACES)]
    seed = [0, 7, 2**63, rng.getrandbits(64)][case % 4]
    adj = ADJUSTS[case % len(ADJUSTS)]
    t = times_for(rng, case % 3)
    fields = weather.FIELDS if case % 2 else rng.sample(weather.FIELDS, 3)
    got = weather.outdoor_series(place, seed, t, fields, adj)
    assert list(got) == [f for f in weather.FIELDS if f in fields]
    for i, x in enumerate(t.tolist()):
        w = outdoor(place, seed, x, adj)
        for f in fields:
            assert same(getattr(w, f), got[f][i].item()), (f, x, seed, adj)


@pytest.mark.parametrize("case", range(12))
def test_rain_total_series_equals_rain_total(case: int) -> None:
    rng = random.Random(100 + case)
    place, seed, adj = PLACES[case % len(PLACES)], rng.getrandbits(63), ADJUSTS[case % 6]
    t0 = times_for(rng, case % 3)
    span = np.array([rng.choice([300, 1e-6, HOUR, 1.5 * HOUR, DAY, 31 * DAY, 0, -5, 3 * HOUR])
                     for _ in t0])
    got = weather.rain_total_series(place, seed, t0, t0 + span, adj)
    for i, (a, b) in enumerate(zip(t0.tolist(), (t0 + span).tolist(), strict=True)):
        assert same(rain_total(place, seed, a, b, adj), got[i].item()), (a, b)


def test_series_helpers_equal_python() -> None:
    rng = np.random.default_rng(0)
    x = np.concatenate([rng.uniform(-1e6, 1e6, 20000), rng.uniform(-60, 60, 20000),
                        np.array([2.675, 0.15, -0.05, -0.0, 0.0, 0.25, 1.45, 0.0005, 2.0005,
                                  -0.04, 1e-300, 24.0, -24.0, 359.99999999999994, -1e-20]),
                        np.arange(-1000, 1000) * 24.0 + 1e-12])
    for nd in (1, 3):
        assert all(same(round(v, nd), r) for v, r in
                   zip(x.tolist(), weather.round_series(x, nd).tolist(), strict=True))
    assert all(same(round(v), r) for v, r in
               zip(x.tolist(), weather.round_series(x).tolist(), strict=True))
    for m in (24.0, 360.0):
        assert all(same(v % m, r) for v, r in
                   zip(x.tolist(), weather.pymod(x, m).tolist(), strict=True))
    small = x[np.abs(x) < 24]
    assert all(same(v % 24.0, r) for v, r in
               zip(small.tolist(), weather.wrap24(small).tolist(), strict=True))
    k = np.array([0, 1, -1, 2**40, -(2**62), 2**63 - 1], dtype=np.int64)
    for parts in [(7, 1), (2**63 + 5, 22), (-3, 101)]:
        assert weather.unit_series(parts, k).tolist() == [weather.unit(*parts, int(v))
                                                          for v in k]


@pytest.mark.parametrize("offset", [0, 3600, 7200, -18000, 19800, 37800, -12600])
def test_air_series_equals_air(offset: int) -> None:
    rng = random.Random(offset)
    seed = rng.getrandbits(64)
    # every lookback across the occupancy thresholds (08:30, 18:00, midnight, weekend)
    t = sorted({T2024 + d * DAY + th + back + e - offset for d in range(-1, 9)
                for th in (0, 30600, 64800) for back in range(0, 6301, 900)
                for e in (-1, 0, 1)} | {rng.randrange(0, 4 * 10**9) for _ in range(500)})
    t = np.array(t + [rng.uniform(0, 4e9) for _ in range(300)], dtype=np.float64)
    got = indoor.air_series(seed, t, np.full(t.shape, offset))
    for i, x in enumerate(t.tolist()):
        a = indoor.air(seed, x, offset)
        assert (a.co2, a.humidity, a.noise) == (got["co2"][i], got["humidity"][i],
                                                got["noise"][i]), x
    only = indoor.air_series(seed, t, np.full(t.shape, offset), ("noise",))
    assert list(only) == ["noise"] and (only["noise"] == got["noise"]).all()


def test_health_idx_series_equals_health_idx() -> None:
    rng = random.Random(3)
    temp = np.array([round(rng.uniform(5, 35), 1) for _ in range(3000)] + [12, 14, 16, 18, 24,
                                                                              26, 28, 30])
    hum = np.array([rng.randrange(5, 100) for _ in temp])
    co2 = np.array([rng.choice([rng.randrange(300, 4000), 1000, 1400, 2000, 3000]) for _ in temp])
    got = indoor.health_idx_series(temp, hum, co2)
    assert got.tolist() == [indoor.health_idx(a, b, c) for a, b, c in
                            zip(temp.tolist(), hum.tolist(), co2.tolist(), strict=True)]


# ---- local time ---------------------------------------------------------------------------------
ZONES = ["Europe/Paris", "Australia/Sydney", "Australia/Lord_Howe", "America/Santiago",
         "America/St_Johns", "Pacific/Apia", "Asia/Kolkata", "Asia/Gaza", "UTC"]


@pytest.mark.parametrize("zone", ZONES)
def test_utc_offsets_and_wall_times_equal_datetime(zone: str) -> None:
    tz = ZoneInfo(zone)
    rng = random.Random(zone)
    found = localtime.changes(tz, 946684800, 1893456000)            # 2000..2030
    if zone not in ("Asia/Kolkata", "UTC"):
        assert len(found) > 8
    t = sorted({T + e for T, _, _ in found for e in (-2, -1, 0, 1)}
               | {rng.randrange(0, 2_200_000_000) for _ in range(1500)})
    got = localtime.utc_offsets(tz, np.array(t, dtype=np.int64))
    assert got.tolist() == [localtime.offset(tz, x) for x in t]
    # wall clock -> instant (fold=0): through every gap and fold, and elsewhere
    walls = sorted({T + min(o1, o2) + k * 900 for T, o1, o2 in found for k in range(-6, 10)}
                   | {T + o + e for T, o1, o2 in found for o in (o1, o2) for e in (-1, 0)}
                   | {rng.randrange(0, 2_200_000_000) for _ in range(1500)})
    epoch = datetime(1970, 1, 1)
    want = [int((epoch + timedelta(seconds=w)).replace(tzinfo=tz).timestamp()) for w in walls]
    assert localtime.wall_to_utc(tz, np.array(walls, dtype=np.int64)).tolist() == want


def test_every_offset_change_is_found() -> None:
    """A scan every 15 minutes finds the same changes as the daily grid and bisection."""
    for zone in ("Europe/Paris", "Australia/Lord_Howe", "America/Santiago", "Asia/Gaza"):
        tz = ZoneInfo(zone)
        a, b = 1262304000, 1420070400                                 # 2010..2015
        scan, prev = [], localtime.offset(tz, a)
        for t in range(a + 900, b, 900):
            o = localtime.offset(tz, t)
            if o != prev:
                scan.append(t)
            prev = o
        found = [T for T, _, _ in localtime.changes(tz, a, b)]
        assert len(found) == len(scan) and all(0 <= s - f < 900 for f, s in
                                               zip(found, scan, strict=True)), zone
