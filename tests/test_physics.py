"""The physics: deterministic, continuous, plausible, and cheap whatever the clock says."""

from __future__ import annotations

import math

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from emulator.physics import indoor, thermal, weather
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
