"""The memoised physics (thermal trajectories, energy room samples and folded states,
station reading pages): the same values as computing afresh, keyed on everything they
depend on, bounded."""

from __future__ import annotations

import copy
import random
from typing import Any

import numpy as np
import pytest

from emulator.core.memo import LRU
from emulator.netatmo import energy_physics as ep
from emulator.netatmo import energy_state as es
from emulator.netatmo import stations as S
from emulator.physics import thermal

MODEL = thermal.RoomModel()
T0 = 1718000000
SEED = 7
ROOMS = ("r1", "r2")


def test_lru_is_bounded_and_recent_first() -> None:
    lru: LRU[int] = LRU("t", 3)
    for i in range(5):
        lru.put(i, i * 10)
    assert len(lru) == 3 and lru.get(0) is None and lru.get(4) == 40
    lru.get(2)
    lru.put(5, 50)                          # 3 is now the least recently used
    assert lru.get(3) is None and lru.get(2) == 20
    assert lru.get_or_compute(9, lambda: 90) == 90 and lru.get(9) == 90


def _pieces(rng: random.Random, a: float, b: float) -> list[thermal.Piece]:
    cuts = sorted({a, b, *(rng.uniform(a, b) for _ in range(6))})
    return [(x, y, thermal.Segment(0, 0, rng.choice([None, 16.0, 21.0, 30.0]),
                                   rng.random() < 0.2), i)
            for i, (x, y) in enumerate(zip(cuts, cuts[1:], strict=False))]


def _cut(pieces: list[thermal.Piece], t: float) -> list[thermal.Piece]:
    return [(x, min(y, t), seg, tag) for x, y, seg, tag in pieces if x < t]


@pytest.mark.parametrize("seed", range(8))
def test_trajectory_reads_as_a_walk_stopping_there(seed: int) -> None:
    """Trajectory.at(t) is bit for bit the temperature a walk through the same pieces
    cut at t reaches: a value does not depend on the series it is read in."""
    rng = random.Random(seed)
    a = T0 + rng.randint(0, 86400)
    b = a + 30 * 3600

    def hour(h: int) -> float:
        return 5.0 + (h % 24) * 0.5
    pieces = _pieces(rng, a, b)
    full = thermal.integrate(MODEL, pieces, hour)
    assert full.starts[0] == a and full.ends[-1] == b
    for t in [a + 1, a + 3600, *(rng.uniform(a, b) for _ in range(20))]:
        i = full.index(t)
        short = thermal.integrate(MODEL, _cut(pieces, t), hour)
        x, y = short.starts[-1], short.ends[-1]
        end = thermal.advance(MODEL, short.temps[-1], short.segments[-1],
                              short.outdoors[-1], y - x)
        assert full.at(MODEL, i, t) == end
    assert full.index(b) == -1 and full.index(a - 1) == -1


# ---------------------------------------------------------------- energy

def _home(rng: random.Random) -> dict[str, Any]:
    zones = [{"id": z, "type": z, "name": f"z{z}", "rooms": [
        {"id": r, "therm_setpoint_temperature": rng.choice([16, 19, 21])} for r in ROOMS]}
        for z in range(2)]
    offsets = sorted(rng.sample(range(1, 10080), 8))
    return {"id": "h1", "timezone": "Europe/Paris", "coordinates": [2.35, 48.85],
            "altitude": 35, "therm_mode": "schedule", "rooms": [{"id": r} for r in ROOMS],
            "schedules": [{"id": "s1", "type": "therm", "selected": True, "hg_temp": 7,
                           "away_temp": 12, "name": "s", "zones": zones,
                           "timetable": [{"zone_id": i % 2, "m_offset": m} for i, m in
                                         enumerate([0, *offsets])]}]}


def _no_window(a: float, b: float) -> tuple[bool, list[tuple[float, bool]]]:
    return False, []


def _record_some(home: dict[str, Any], rng: random.Random, t: float, n: int) -> float:
    for _ in range(n):
        t += rng.choice([1, 600, 3600])
        if rng.random() < 0.8:
            es.record(home, {"kind": "room", "room": rng.choice(ROOMS), "mode": "manual",
                             "temp": rng.choice([17, 22]), "end": t + 7200}, t)
        else:
            es.record(home, {"kind": "mode", "mode": rng.choice(["away", "schedule"]),
                             "end": 0}, t)
    return t


@pytest.mark.parametrize("seed", range(4))
def test_room_samples_alone_in_a_series_and_from_the_cache_agree(seed: int) -> None:
    rng = random.Random(seed)
    home = _home(rng)
    t = _record_some(home, rng, T0, 40)
    times = sorted({t - rng.randint(0, 3 * 86400) for _ in range(30)} | {t})
    for room in ROOMS:
        series = ep.samples(home, room, times, SEED, _no_window)
        again = ep.samples(copy.deepcopy(home), room, times, SEED, _no_window)  # cached
        alone = [ep.samples(copy.deepcopy(home), room, [x], SEED, _no_window)[0]
                 for x in times]
        assert series == again == alone


def test_a_write_is_a_new_key_and_the_past_stays() -> None:
    rng = random.Random(1)
    home = _home(rng)
    t = _record_some(home, rng, T0, 5)
    before = ep.samples(home, "r1", [t - 3600, t + 3600], SEED, _no_window)
    key = es.home_key(home)
    es.record(home, {"kind": "room", "room": "r1", "mode": "max", "temp": 30,
                     "end": t + 9000}, t + 1)
    assert es.home_key(home) != key
    after = ep.samples(home, "r1", [t - 3600, t + 3600], SEED, _no_window)
    assert after[0] == before[0]                        # a read of the past
    assert after[1].view.mode == "max" != before[1].view.mode   # the new key's answer
    # another seed, another place: other values, never the cached ones
    other = ep.samples(home, "r1", [t + 3600], SEED + 1, _no_window)[0]
    assert other.outdoor != after[1].outdoor
    moved = {**home, "coordinates": [-70.0, -30.0]}
    assert ep.samples(moved, "r1", [t + 3600], SEED, _no_window)[0].outdoor != \
        after[1].outdoor


def test_window_timeline_is_part_of_the_key() -> None:
    home = _home(random.Random(2))
    t = T0 + 86400

    def opened(a: float, b: float) -> tuple[bool, list[tuple[float, bool]]]:
        return False, [(x, True) for x in (t - 7200,) if a < x <= b]
    shut = ep.samples(home, "r1", [t], SEED, _no_window)[0]
    open_ = ep.samples(home, "r1", [t], SEED, opened)[0]
    assert open_.window and not shut.window and open_.power == 0


def test_state_at_folds_lazily_what_the_home_held_then() -> None:
    rng = random.Random(3)
    home = _home(rng)
    t = _record_some(home, rng, T0, 300)               # sealed: base + the recent events
    assert len(es.events(home)) <= es.MAX_EVENTS and "base" in home["state"]
    state = es.state_at(home, t)                        # not folded yet
    es.record(home, {"kind": "mode", "mode": "off", "end": 0}, t)
    assert state.mode != "off"                          # what the home held when asked
    fresh = es.state_at(copy.deepcopy(home), t)
    assert (fresh.mode, fresh.rooms) == ("off", {})
    ref = es.base_state(home)
    for e in es.events(home):
        es.apply(ref, e)
    again = es.state_at(home, t)
    assert (again.mode, again.start, again.end, again.rooms, again.schedules) == \
        (ref.mode, ref.start, ref.end, ref.rooms, ref.schedules)


# ---------------------------------------------------------------- stations

STATION = {
    "id": "70:ee:50:22:a3:00", "station_name": "Home", "module_name": "Indoor",
    "place": {"city": "Lyon", "country": "FR", "timezone": "Europe/Paris",
              "lat": 45.76, "lon": 4.83, "altitude": 170},
    "date_setup": "2019-01-01",
    "modules": [{"id": "02:00:00:22:a3:01", "type": "NAModule1", "module_name": "Out"},
                {"id": "03:00:00:22:a3:04", "type": "NAModule4", "module_name": "Bed"}],
}


@pytest.mark.parametrize("state", [None, {"02:00:00:22:a3:01": [
    {"since": T0 - 86400, "weather": {"temperature": 3.0}},
    {"since": T0 - 3600, "weather": {"temperature": -4.0}}]}])
def test_grid_readings_equal_readings_across_pages(state: Any) -> None:
    entry = {**STATION, **({"state": state} if state else {})}
    doc = S.build_stations([entry], "u1", "w", SEED)[0][2]
    for ident, s in S.sensors(doc, SEED).items():
        fields = S.KINDS[s.kind].fields
        start = s.grid_ceil(T0 - 3 * 86400)
        times = start + S.STEP * np.arange(0, 1500, 1, dtype=np.int64)
        sparse = times[::97]
        for t in (times, sparse, times[700:701]):
            want = S.readings(s, t, fields)
            for _ in range(2):                          # computed, then from the pages
                got = S.grid_readings(s, t, fields)
                assert list(got) == list(want), ident
                for f in want:
                    assert got[f].dtype == want[f].dtype
                    assert np.array_equal(got[f], want[f]), (ident, f)


def test_grid_readings_key_on_weather_overrides() -> None:
    out = "02:00:00:22:a3:01"
    plain = S.build_stations([STATION], "u1", "w", SEED)[0][2]
    hot = S.build_stations([{**STATION, "state": {out: {"weather": {"temperature": 40.0}}}}],
                           "u1", "w", SEED)[0][2]
    s0, s1 = S.sensors(plain, SEED)[out], S.sensors(hot, SEED)[out]
    t = s0.grid_ceil(T0) + S.STEP * np.arange(10, dtype=np.int64)
    a = S.grid_readings(s0, t, ["Temperature"])["Temperature"]
    b = S.grid_readings(s1, t, ["Temperature"])["Temperature"]
    assert (b == 40.0).all() and not (a == 40.0).any()


def test_off_grid_instants_fall_back() -> None:
    doc = S.build_stations([STATION], "u1", "w", SEED)[0][2]
    s = S.sensors(doc, SEED)["02:00:00:22:a3:01"]
    t = np.array([T0 + 1, T0 + 77], dtype=np.int64)
    got = S.grid_readings(s, t, ["Temperature"])
    assert np.array_equal(got["Temperature"], S.readings(s, t, ["Temperature"])["Temperature"])
