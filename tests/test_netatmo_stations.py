"""Netatmo weather stations and Home Coaches: world entries, bodies, measures, public data."""

from __future__ import annotations

import functools
import json
import math
import operator
import random
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import numpy as np
import pytest
from faker import Faker

from contracts.verify import validate_response
from emulator.core.errors import MockcloudError
from emulator.netatmo import stations as S

SAMPLES = Path(__file__).resolve().parents[1].parent / "shared" / "real-samples" / "netatmo"
NOW = 1718000000                        # 2024-06-10T06:13:20Z
SEED = 7
DAY = 86400
USER = {"id": "u1", "login": "demo@netatmo.test"}
FULL = {
    "id": "70:ee:50:22:a3:00", "station_name": "Home", "module_name": "Indoor",
    "place": {"city": "Lyon", "country": "FR", "timezone": "Europe/Paris",
              "lat": 45.76, "lon": 4.83, "altitude": 170},
    "date_setup": "2019-01-01", "firmware": 181, "wifi_status": 56,
    "modules": [
        {"id": "02:00:00:22:a3:01", "type": "NAModule1", "module_name": "Outdoor"},
        {"id": "06:00:00:22:a3:02", "type": "NAModule2", "module_name": "Wind"},
        {"id": "05:00:00:22:a3:03", "type": "NAModule3", "module_name": "Rain"},
        {"id": "03:00:00:22:a3:04", "type": "NAModule4", "module_name": "Bedroom"},
    ],
}


def station(entry: dict[str, Any] | None = None, **kw: Any) -> dict[str, Any]:
    return S.build_stations([{**(entry or FULL), **kw}], "u1", "netatmo.users[0].stations",
                            SEED)[0][2]


def envelope(body: Any) -> dict[str, Any]:
    return {"body": body, "status": "ok", "time_exec": 0.01, "time_server": NOW}


def valid(endpoint: str, body: Any) -> None:
    issues = validate_response("netatmo", "GET", f"/api/{endpoint}", 200, envelope(body))
    assert issues == [], [str(i) for i in issues]


def sample(name: str) -> Any:
    path = SAMPLES / name
    if not path.is_file():
        pytest.skip(f"real sample {path} absent")
    return json.loads(path.read_text(encoding="utf-8"))


def key_paths(value: Any, prefix: str = "") -> set[str]:
    """Dotted key paths of a JSON value (list items merged as [], ids and times as *)."""
    out: set[str] = set()
    if isinstance(value, dict):
        for k, v in value.items():
            k = "*" if S.MAC.match(k.replace(" ", "")) or k.isdigit() else k
            out.add(f"{prefix}.{k}")
            out |= key_paths(v, f"{prefix}.{k}")
    elif isinstance(value, list):
        for v in value:
            out |= key_paths(v, f"{prefix}[]")
    return out


# ---- world entries ------------------------------------------------------------
def test_minimal_entries_get_defaults() -> None:
    rows = S.build_stations([{}, {"place": {"city": "Oslo", "country": "NO",
                                            "timezone": "Europe/Oslo", "lat": 59.9,
                                            "lon": 10.7}}], "u1", "w", SEED)
    assert [r[0] for r in rows] == ["netatmo.station"] * 2
    doc = rows[0][2]
    assert doc["place"]["city"] == "Paris" and doc["modules"][0]["type"] == "NAModule1"
    assert rows[0][1] != rows[1][1] and S.MAC.match(rows[0][1])
    assert S.build_homecoaches([{}], "u1", "w", SEED)[0][0] == "netatmo.homecoach"


@pytest.mark.parametrize(("entry", "message"), [
    ({"id": "nope"}, r"w\[0\]\.id: 'nope' is not a MAC"),
    ({"modules": [{"type": "NAModule9"}]}, r"w\[0\]\.modules\[0\]\.type"),
    ({"place": {"timezone": "Mars/Base"}}, r"w\[0\]\.place\.timezone: unknown time zone"),
    ({"place": {"lat": 123}}, r"w\[0\]\.place\.lat: 123 is out of range"),
    ({"colour": "red"}, r"w\[0\]: unknown key\(s\) colour"),
    ({"date_setup": "yesterday"}, r"w\[0\]\.date_setup: 'yesterday' is not an ISO"),
    ({"reachable": "yes"}, r"w\[0\]\.reachable: must be true or false"),
    ({"state": {"01:02:03:04:05:06": {"reachable": False}}}, r"neither the station"),
    ({"state": {"02:00:00:00:00:01": {"weather": {"snow": 3}}}}, r"unknown weather"),
])
def test_bad_entries_say_where_and_what(entry: dict[str, Any], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        S.build_stations([entry], "u1", "w", SEED)


def test_duplicate_ids_refused() -> None:
    with pytest.raises(ValueError, match=r"w\[1\]: id 70:ee:50:22:a3:00 is already used"):
        S.build_stations([FULL, FULL], "u1", "w", SEED)


def test_export_round_trips() -> None:
    doc = station(state={"02:00:00:22:a3:01": {"since": NOW - 60, "reachable": False}})
    again = S.build_stations([S.export_station(doc)], "u1", "w", SEED)[0][2]
    assert again == doc
    hc = S.build_homecoaches([{"station_name": "Bedroom", "firmware": 45}], "u1", "w", SEED)
    doc = hc[0][2]
    assert S.build_homecoaches([S.export_homecoach(doc)], "u1", "w", SEED)[0][2] == doc


def test_generation_is_deterministic_and_builds() -> None:
    def gen(seed: int) -> list[Any]:
        fake, rng = Faker(), random.Random(seed)
        fake.seed_instance(seed)
        return [(S.generate_stations(fake, rng, i), S.generate_homecoaches(fake, rng, i))
                for i in range(20)]
    assert gen(1) == gen(1)
    for i, (stations, coaches) in enumerate(gen(1)):
        docs = [r[2] for r in S.build_stations(stations, f"u{i}", "g", 1)]
        hcs = [r[2] for r in S.build_homecoaches(coaches, f"u{i}", "g", 1)]
        valid("getstationsdata", S.stations_body(docs, USER, NOW, 1))
        valid("gethomecoachsdata", S.homecoach_body(hcs, USER, NOW, 1))


# ---- getstationsdata / gethomecoachsdata ----------------------------------------
def test_stations_body_validates_and_is_real_shaped() -> None:
    body = S.stations_body([station()], USER, NOW, SEED)
    valid("getstationsdata", body)
    assert body["user"]["mail"] == "demo@netatmo.test"
    dev = body["devices"][0]
    dash = dev["dashboard_data"]
    assert dash["time_utc"] <= NOW and dash["min_temp"] <= dash["Temperature"] <= dash["max_temp"]
    assert dash["temp_trend"] in ("up", "down", "stable")
    by_type = {m["type"]: m for m in dev["modules"]}
    assert set(by_type["NAModule2"]["dashboard_data"]) >= {"WindStrength", "max_wind_str",
                                                           "date_max_wind_str"}
    assert set(by_type["NAModule3"]["dashboard_data"]) >= {"Rain", "sum_rain_1", "sum_rain_24"}
    real = sample("getstationsdata.json")["body"]
    mine = key_paths(body)
    missing = {p for p in key_paths(real) - mine
               if not p.endswith((".read_only", ".favorite"))}
    assert missing == set()


def test_unreachable_has_no_dashboard() -> None:
    doc = station(state={"02:00:00:22:a3:01": [{"since": NOW - 3600, "reachable": False}]})
    mods = {m["_id"]: m for m in S.stations_body([doc], USER, NOW, SEED)["devices"][0]["modules"]}
    out = mods["02:00:00:22:a3:01"]
    assert out["reachable"] is False and "dashboard_data" not in out
    assert NOW - 3600 - 300 <= out["last_seen"] < NOW - 3600
    off = station(reachable=False)
    dev = S.stations_body([off], USER, NOW, SEED)["devices"][0]
    assert dev["reachable"] is False and "dashboard_data" not in dev
    assert all("dashboard_data" not in m for m in dev["modules"])
    valid("getstationsdata", S.stations_body([off, doc], USER, NOW, SEED))


def test_overrides_battery_and_weather() -> None:
    doc = station(state={"02:00:00:22:a3:01": {"battery_percent": 4,
                                               "weather": {"temperature": 33.3}}})
    mod = S.stations_body([doc], USER, NOW, SEED)["devices"][0]["modules"][0]
    assert mod["battery_percent"] == 4 and mod["dashboard_data"]["Temperature"] == 33.3


def test_favorites_and_device_filter() -> None:
    fav = station({"id": "70:ee:50:00:00:99", "favorite": True})
    docs = [station(), fav]
    assert [d["_id"] for d in S.stations_body(docs, USER, NOW, SEED)["devices"]] == [FULL["id"]]
    with_fav = S.stations_body(docs, USER, NOW, SEED, favorites=True)["devices"]
    assert with_fav[1]["favorite"] and with_fav[1]["read_only"] and "wifi_status" not in with_fav[1]
    one = S.stations_body(docs, USER, NOW, SEED, device_id="70:EE:50:22:A3:00")
    assert [d["_id"] for d in one["devices"]] == [FULL["id"]]
    with pytest.raises(MockcloudError) as exc:
        S.stations_body(docs, USER, NOW, SEED, device_id="70:ee:50:00:00:01")
    assert exc.value.reason == "not_found"


def test_homecoach_body() -> None:
    docs = [r[2] for r in S.build_homecoaches(
        [{"station_name": "Bedroom"}, {"station_name": "Cellar", "reachable": False}],
        "u1", "w", SEED)]
    body = S.homecoach_body(docs, USER, NOW, SEED)
    valid("gethomecoachsdata", body)
    on, off = body["devices"]
    assert 0 <= on["dashboard_data"]["health_idx"] <= 4 and "dashboard_data" not in off
    real = sample("gethomecoachsdata.json")["body"]
    assert key_paths(real) - key_paths(body) <= {".devices[].module_name"}


def test_not_installed_yet_reads_nothing() -> None:
    doc = station(date_setup=NOW + DAY)
    dev = S.stations_body([doc], USER, NOW, SEED)["devices"][0]
    assert "dashboard_data" not in dev
    assert S.measure(doc, None, "max", ["temperature"], None, None, None, False, False, NOW,
                     SEED) == {}


# ---- getmeasure ------------------------------------------------------------
FIELDS = {"NAMain": ["Temperature", "CO2", "Humidity", "Noise", "Pressure"],
          "NAModule1": ["Temperature", "Humidity"],
          "NAModule2": ["WindStrength", "WindAngle", "GustStrength", "GustAngle"],
          "NAModule3": ["Rain"], "NAModule4": ["Temperature", "CO2", "Humidity"]}


@pytest.mark.parametrize("now", [NOW, NOW + 137 * DAY + 4321])
def test_measure_max_equals_dashboard(now: int) -> None:
    doc = station()
    dev = S.stations_body([doc], USER, now, SEED)["devices"][0]
    for thing in [dev, *dev["modules"]]:
        dash = thing["dashboard_data"]
        fields = FIELDS[thing["type"]]
        module = None if thing["type"] == "NAMain" else thing["_id"]
        got = S.measure(doc, module, "max", [",".join(fields)], dash["time_utc"] - 900, None,
                        None, False, False, now, SEED)
        assert got[str(dash["time_utc"])] == [dash[f] for f in fields]
        valid("getmeasure", got)


def test_measure_shapes_and_limits() -> None:
    doc = station()
    opt = S.measure(doc, "02:00:00:22:a3:01", "max", ["Temperature", "Humidity"], None, None,
                    None, True, False, NOW, SEED)
    assert len(opt) == 1 and opt[0]["step_time"] == 300 and len(opt[0]["value"]) == 1024
    assert opt[0]["beg_time"] + 1023 * 300 <= NOW
    valid("getmeasure", opt)
    flat = S.measure(doc, "02:00:00:22:a3:01", "max", ["temperature"], NOW - 3600, NOW, 5,
                     False, False, NOW, SEED)
    assert len(flat) == 5 and all(NOW - 3600 <= int(t) <= NOW for t in flat)
    # values only up to now, even if asked for the future
    future = S.measure(doc, None, "max", ["temperature"], NOW - 600, NOW + 10 * DAY, None,
                       False, False, NOW, SEED)
    assert all(int(t) <= NOW for t in future)


@pytest.mark.parametrize("scale", ["30min", "1hour", "3hours", "1day", "1week", "1month"])
def test_measure_aggregates(scale: str) -> None:
    doc = station()
    types = ["temperature", "min_temp", "max_temp", "date_min_temp", "date_max_temp",
             "min_hum", "max_hum"]
    got = S.measure(doc, "02:00:00:22:a3:01", scale, types, NOW - 60 * DAY, None, 30,
                    False, False, NOW, SEED)
    valid("getmeasure", got)
    assert 0 < len(got) <= 30
    for t, (avg, lo, hi, dlo, _dhi, hlo, hhi) in got.items():
        assert lo <= avg <= hi and hlo <= hhi
        half = S.SCALES[scale] // 2
        assert int(t) - 2 * half <= dlo <= int(t) + 2 * half
    real = S.measure(doc, "02:00:00:22:a3:01", scale, ["temperature"], NOW - 60 * DAY, None,
                     30, False, True, NOW, SEED)
    assert list(real.values()) == [v[:1] for v in got.values()]
    assert all(int(a) < int(b) for a, b in zip(real, got, strict=False))   # start vs middle


def test_measure_rain_sums_and_work_bound(monkeypatch: pytest.MonkeyPatch) -> None:
    doc = station()
    calls = 0
    reading = S.reading

    def counting(*a: Any) -> Any:
        nonlocal calls
        calls += 1
        return reading(*a)
    monkeypatch.setattr(S, "reading", counting)
    got = S.measure(doc, None, "1month", ["temperature", "max_temp"], None, None, 12, True,
                    False, NOW, SEED)
    assert sum(len(r["value"]) for r in got) == 12
    assert calls <= 12 * S.MAX_PER_BUCKET
    hourly = S.measure(doc, "05:00:00:22:a3:03", "1hour", ["sum_rain"], NOW - DAY, None, None,
                       False, True, NOW, SEED)
    daily = S.measure(doc, "05:00:00:22:a3:03", "1day", ["rain"], NOW - DAY, None, None,
                      False, True, NOW, SEED)
    day_start = max(int(t) for t in daily)
    assert sum(v[0] for t, v in hourly.items() if int(t) >= day_start) == \
        pytest.approx(daily[str(day_start)][0], abs=0.01)


@pytest.mark.parametrize(("kw", "reason", "text"), [
    ({"scale": "2min"}, "invalid_argument", "scale '2min'"),
    ({"scale": ""}, "missing_argument", "scale is missing"),
    ({"types": []}, "missing_argument", "type is missing"),
    ({"types": ["co2"], "module_id": "02:00:00:22:a3:01"}, "invalid_argument", "'co2' is not"),
    ({"types": ["min_temp"]}, "invalid_argument", "needs a scale of 30min"),
    ({"date_begin": "abc"}, "invalid_argument", "date_begin must be a number"),
    ({"date_begin": NOW, "date_end": NOW - 10}, "invalid_argument", "date_begin is after"),
    ({"limit": 5000}, "invalid_argument", "limit must be 1..1024"),
    ({"module_id": "02:00:00:00:00:00"}, "not_found", "is not a module"),
])
def test_measure_errors(kw: dict[str, Any], reason: str, text: str) -> None:
    args = {"module_id": None, "scale": "max", "types": ["temperature"], "date_begin": None,
            "date_end": None, "limit": None, "optimize": True, "real_time": False,
            "now": NOW, "seed": SEED, **kw}
    with pytest.raises(MockcloudError) as exc:
        S.measure(station(), **args)
    assert exc.value.reason == reason and text in exc.value.message


def test_measure_gap_while_unreachable() -> None:
    doc = station(state={"02:00:00:22:a3:01": [{"since": NOW - 7200, "reachable": False},
                                               {"since": NOW - 3600, "reachable": True}]})
    got = S.measure(doc, "02:00:00:22:a3:01", "max", ["temperature"], NOW - 3 * 3600, None,
                    None, True, False, NOW, SEED)
    assert len(got) == 2 and all(r["step_time"] == 300 for r in got)
    assert got[0]["beg_time"] + 300 * (len(got[0]["value"]) - 1) < NOW - 7200
    assert got[1]["beg_time"] >= NOW - 3600
    # the past does not change: before the override the readings are the plain ones
    plain = S.measure(station(), "02:00:00:22:a3:01", "max", ["temperature"], NOW - 3 * 3600,
                      NOW - 7300, None, False, False, NOW, SEED)
    assert plain == {str(got[0]["beg_time"] + 300 * i): v
                     for i, v in enumerate(got[0]["value"])}


# ---- getpublicdata ------------------------------------------------------------
def test_public_data_is_a_stable_field() -> None:
    box = (46.0, 5.0, 45.0, 4.0)
    a = S.public_data(SEED, *box, None, False, NOW)
    assert a == S.public_data(SEED, *box, None, False, NOW) and len(a) > 10
    valid("getpublicdata", a)
    sub = S.public_data(SEED, 45.6, 4.6, 45.2, 4.2, None, False, NOW)
    assert {s["_id"] for s in sub} <= {s["_id"] for s in a}
    for s in sub:
        lon, lat = s["place"]["location"]
        assert 45.2 <= lat <= 45.6 and 4.2 <= lon <= 4.6
    rain = S.public_data(SEED, *box, "rain", True, NOW)
    assert rain and all(any("rain_live" in m for m in s["measures"].values()) for s in rain)
    world = S.public_data(SEED, 85, 180, -85, -180, None, False, NOW)
    assert 0 < len(world) <= S.MAX_PUBLIC
    real = sample("getpublicdata.json")["body"]
    assert key_paths(real) - key_paths(a) <= {"[].place.street"}


@pytest.mark.parametrize(("box", "text"), [
    ((90, 5, 45, 4), "lat_ne must be within -85..85"),
    ((46, 5, 45, 200), "lon_sw must be within -180..180"),
    ((45, 5, 46, 4), "lat_ne > lat_sw"),
    (("x", 5, 45, 4), "lat_ne must be a number"),
])
def test_public_data_errors(box: tuple, text: str) -> None:
    with pytest.raises(MockcloudError) as exc:
        S.public_data(SEED, *box, None, False, NOW)
    assert exc.value.reason == "invalid_argument" and text in exc.value.message
    with pytest.raises(MockcloudError) as exc:
        S.public_data(SEED, None, 5, 45, 4, None, False, NOW)
    assert exc.value.reason == "missing_argument"


# ---- series against the scalar reference ------------------------------------------------------
# The API computes readings as numpy series (S.readings, S._bucket_series, S._boundaries).
# Below, the reading-by-reading computation they replaced, kept as the oracle: every
# measure, dashboard and bucket must equal it exactly (values, types, sign of zero).
def ref_samples(s: S.Sensor, a: float, b: float, every: int = 1) -> list[int]:
    out, step = [], S.STEP * every
    for lo, hi in s.intervals(a, b):
        t = s.grid_ceil(lo)
        k = (t - s.phase) // S.STEP
        if k % every:
            t += (every - k % every) * S.STEP
        while t <= hi:
            out.append(t)
            t += step
    return out


def ref_bucket(scale: str, tz: ZoneInfo, t: float) -> tuple[int, int]:
    size = S.SCALES[scale]
    if scale in ("30min", "1hour"):
        start = int(t // size) * size
        return start, start + size
    d = datetime.fromtimestamp(t, tz)
    if scale == "3hours":
        a = d.replace(hour=d.hour // 3 * 3, minute=0, second=0, microsecond=0)
        b = a + timedelta(hours=3)
    elif scale == "1day":
        a = d.replace(hour=0, minute=0, second=0, microsecond=0)
        b = a + timedelta(days=1)
    elif scale == "1week":
        a = (d - timedelta(days=d.weekday())).replace(hour=0, minute=0, second=0,
                                                      microsecond=0)
        b = a + timedelta(days=7)
    else:
        a = d.replace(day=1, hour=0, minute=0, second=0, microsecond=0)
        b = a.replace(year=a.year + (a.month == 12), month=a.month % 12 + 1)
    start = int(a.replace(tzinfo=None).replace(tzinfo=tz).timestamp())
    end = int(b.replace(tzinfo=None).replace(tzinfo=tz).timestamp())
    return start, max(end, start + 1)


def ref_mean(name: str, values: list[Any]) -> Any:
    # functools.reduce: left to right from 0, as Python 3.11's sum (3.12's compensates)
    if name in ("WindAngle", "GustAngle"):
        x = functools.reduce(operator.add, (math.cos(math.radians(a)) for a in values), 0)
        y = functools.reduce(operator.add, (math.sin(math.radians(a)) for a in values), 0)
        return int(round(math.degrees(math.atan2(y, x)))) % 360
    m = functools.reduce(operator.add, values, 0) / len(values)
    return round(m, 1) if name in ("Temperature", "Pressure") else int(round(m))


def ref_bucket_values(s: S.Sensor, names: list[str], a: int, b: int, now: float) -> Any:
    hi = min(b - 1e-6, now)
    every = max(1, math.ceil((b - a) / S.STEP / S.MAX_PER_BUCKET))
    read = [n for n in names if n not in ("rain", "sum_rain")]
    rows = [(t, S.reading(s, t)) for t in ref_samples(s, a, hi, every)] if read else []
    rain = None
    if "rain" in names or "sum_rain" in names:
        if not s.intervals(a, hi):
            return None
        rain = round(S._rain_between(s, a, hi), 3)
    elif not rows:
        return None
    out: list[Any] = []
    for n in names:
        if n in ("rain", "sum_rain"):
            out.append(rain)
        elif n in S.PLAIN:
            out.append(ref_mean(S.PLAIN[n], [r[S.PLAIN[n]] for _, r in rows]))
        else:
            op, f = S.AGGREGATES[n]
            t_best, r_best = (min if op.endswith("min") else max)(rows, key=lambda x: x[1][f])
            out.append(t_best if op.startswith("date") else r_best[f])
    return out


def ref_measure(doc: dict, module: str | None, scale: str, types: str, begin: float | None,
                end: float | None, lim: int, optimize: bool, real_time: bool, now: float
                ) -> Any:
    s = S.sensors(doc, SEED)[module or doc["id"]]
    names = [x.strip().lower() for x in types.split(",")]
    end = now if end is None else min(end, now)
    begin = end - lim * S.SCALES[scale] if begin is None else begin
    begin = max(begin, 0)
    points: list[tuple[int, list[Any]]] = []
    if end >= begin and scale == "max":
        for t in ref_samples(s, begin, end)[:lim]:
            r = S.reading(s, t)
            points.append((t, [r[S.PLAIN[n]] for n in names]))
    elif end >= begin:
        a, b = ref_bucket(scale, s.tz, max(begin, s.installed))
        while a <= end and len(points) < lim:
            vals = ref_bucket_values(s, names, a, b, now)
            if vals is not None:
                points.append((a if real_time else a + (b - a) // 2, vals))
                a, b = ref_bucket(scale, s.tz, b)
                continue
            spans = s.intervals(b, end)
            if not spans:
                break
            a, b = ref_bucket(scale, s.tz, max(b, spans[0][0]))
    if not optimize:
        return {str(t): v for t, v in points}
    runs: list[dict[str, Any]] = []
    prev: int | None = None
    for t, v in points:
        run = runs[-1] if runs else None
        if run is not None and prev is not None and (
                ("step_time" not in run and len(run["value"]) == 1)
                or t - prev == run.get("step_time")):
            run.setdefault("step_time", t - prev)
            run["value"].append(v)
        else:
            runs.append({"beg_time": t, "value": [v]})
        prev = t
    return runs


def ref_dashboard(s: S.Sensor, ts: int) -> dict[str, Any]:
    r = S.reading(s, ts)
    d: dict[str, Any] = {"time_utc": ts, **r}
    midnight = s.local_midnight(ts)
    if "Temperature" in r:
        day = [(t, S.reading(s, t)["Temperature"]) for t in ref_samples(s, midnight, ts)]
        lo, hi = min(day, key=lambda x: x[1]), max(day, key=lambda x: x[1])
        d.update(min_temp=lo[1], max_temp=hi[1], date_min_temp=lo[0], date_max_temp=hi[0])
    earlier = ts - 3 * 3600
    old = S.reading(s, earlier) if s.available(earlier) else None
    if "Temperature" in r and s.kind != "NHC":
        d["temp_trend"] = S._trend(r["Temperature"], old and old["Temperature"], 0.3)
    if "Pressure" in r and s.kind == "NAMain":
        d["pressure_trend"] = S._trend(r["Pressure"], old and old["Pressure"], 1.0)
    if s.kind == "NAModule2":
        day2 = [(t, S.reading(s, t)) for t in ref_samples(s, midnight, ts)]
        t_max, r_max = max(day2, key=lambda x: x[1]["WindStrength"])
        d.update(max_wind_str=r_max["WindStrength"], max_wind_angle=r_max["WindAngle"],
                 date_max_wind_str=t_max)
    if s.kind == "NAModule3":
        d["sum_rain_1"] = round(S._rain_between(s, ts - 3600, ts), 3)
        d["sum_rain_24"] = round(S._rain_between(s, midnight, ts), 3)
    return d


def exact(a: Any, b: Any) -> bool:
    """Equal as JSON: same numbers, ints as ints, and the same sign of zero."""
    return json.dumps(a) == json.dumps(b)


# places whose clocks change: 30-minute DST (Lord Howe), a -3:30 zone, the southern
# hemisphere, a change at midnight (Santiago); instants just after a change
DST = [
    ({"city": "Lyon", "country": "FR", "timezone": "Europe/Paris", "lat": 45.76,
      "lon": 4.83, "altitude": 170}, [1711850400 + 7777, 1729994400 + 20000]),
    ({"city": "Lord Howe", "country": "AU", "timezone": "Australia/Lord_Howe",
      "lat": -31.55, "lon": 159.08, "altitude": 5}, [1712417400 + 5000, 1728142200 + 90000]),
    ({"city": "St. John's", "country": "CA", "timezone": "America/St_Johns", "lat": 47.56,
      "lon": -52.71, "altitude": 60}, [1710048600 + 3600, 1730611800 + 50000]),
    ({"city": "Santiago", "country": "CL", "timezone": "America/Santiago", "lat": -33.45,
      "lon": -70.67, "altitude": 570}, [1712458800 + 100, 1725767999 + 43210]),
]
OVERRIDES = {
    "70:ee:50:22:a3:00": [{"since": -DAY, "weather": {"temperature_offset": 1.7}},
                          {"since": 0, "weather": {"rain": 0.8, "pressure_offset": -9}}],
    "02:00:00:22:a3:01": [{"since": -2 * DAY, "reachable": False}, {"since": -DAY + 1234}],
    "05:00:00:22:a3:03": [{"since": -3 * DAY + 77, "reachable": False},
                          {"since": -3 * DAY + 5000, "reachable": True}],
}


def dst_station(i: int, now: int, overrides: bool) -> dict[str, Any]:
    state = {ident: [{**e, "since": now + e["since"]} for e in entries]
             for ident, entries in OVERRIDES.items()} if overrides else None
    return station(place=DST[i][0], **({"state": state} if state else {}))


@pytest.mark.parametrize(("i", "j"), [(i, j) for i in range(len(DST)) for j in range(2)])
def test_readings_equal_reading(i: int, j: int) -> None:
    now = DST[i][1][j]
    rng = random.Random(now)
    doc = dst_station(i, now, overrides=j == 1)
    coach = S.build_homecoaches([{"id": "70:ee:50:22:b1:00", "place": DST[i][0]}], "u1",
                                "w.hc", SEED)[0][2]
    for s in [*S.sensors(doc, SEED).values(), *S.sensors(coach, SEED).values()]:
        t = sorted({s.grid_floor(now) - 300 * k for k in range(0, 700)}
                   | {rng.randrange(now - 400 * DAY, now) for _ in range(60)})
        for fields in (None, rng.sample(S.KINDS[s.kind].fields, 1)):
            got = S.readings(s, t, fields)
            for k, x in enumerate(t):
                want = S.reading(s, x)
                assert list(got) == [f for f in want if fields is None or f in fields]
                assert all(exact(want[f], v[k].item()) for f, v in got.items()), (s.kind, x)


MODULE_TYPES = {None: ["temperature,co2,humidity,noise,pressure",
                       "min_temp,date_max_temp,temperature,max_pressure,date_min_co2,noise"],
                "02:00:00:22:a3:01": ["temperature,humidity",
                                      "max_temp,date_min_temp,humidity,min_hum,date_max_hum"],
                "06:00:00:22:a3:02": ["windstrength,windangle,guststrength,gustangle",
                                      "windangle,gustangle,date_max_gust,guststrength"],
                "05:00:00:22:a3:03": ["rain", "sum_rain"],
                "03:00:00:22:a3:04": ["temperature,co2,humidity",
                                      "min_co2,max_co2,date_max_co2,temperature,min_hum"]}


@pytest.mark.parametrize("scale", list(S.SCALES))
@pytest.mark.parametrize("i", range(len(DST)))
def test_measure_equals_reference(scale: str, i: int) -> None:
    rng = random.Random(f"{scale}{i}")
    limit = {"max": 700, "30min": 300, "1hour": 200, "3hours": 120, "1day": 40, "1week": 12,
             "1month": 6}[scale]
    for j, now in enumerate(DST[i][1]):
        doc = dst_station(i, now, overrides=j == 1)
        for module, types in MODULE_TYPES.items():
            kind = "max" if scale == "max" else "agg"
            for t in types[:1] if kind == "max" else types:
                end = rng.choice([None, now - rng.randrange(0, 3 * S.SCALES[scale])])
                begin = rng.choice([None, (end or now) - rng.randrange(1, 40) * S.SCALES[scale]
                                    - 17])
                opt, real = rng.random() < 0.5, rng.random() < 0.5
                lim = rng.choice([limit, 5])
                args = (doc, module, scale, t, begin, end, lim, opt, real, now)
                got = S.measure(doc, module, scale, [t], begin, end, lim, opt, real, now, SEED)
                assert exact(got, ref_measure(*args)), args[1:]


def test_dashboards_equal_reference() -> None:
    for i, (place, nows) in enumerate(DST):
        for j, now in enumerate([*nows, nows[0] + 40000, nows[1] - 70000]):
            doc = dst_station(i, now, overrides=j % 2 == 1)
            ss = S.sensors(doc, SEED)
            body = S.stations_body([doc], USER, now, SEED)["devices"][0]
            for thing in [body, *body["modules"]]:
                s = ss[thing["_id"]]
                if "dashboard_data" in thing:
                    assert exact(thing["dashboard_data"],
                                 ref_dashboard(s, s.last_reading(now))), (place, now)
        coach = S.build_homecoaches([{"id": "70:ee:50:22:b1:00", "place": place}], "u1",
                                    "w.hc", SEED)[0][2]
        dev = S.homecoach_body([coach], USER, nows[0], SEED)["devices"][0]
        s = S.sensors(coach, SEED)[coach["id"]]
        assert exact(dev["dashboard_data"], ref_dashboard(s, s.last_reading(nows[0])))


@pytest.mark.parametrize("zone", ["Europe/Paris", "Australia/Lord_Howe", "America/Santiago",
                                  "America/St_Johns", "Pacific/Apia", "Asia/Kolkata"])
def test_bucket_boundaries_equal_the_bucket_chain(zone: str) -> None:
    """Local-calendar buckets through clock changes (Apia skipped 30 December 2011)."""
    tz = ZoneInfo(zone)
    for scale in ("30min", "3hours", "1day", "1week", "1month"):
        for start in (1293840000 + 7, 1325030400 - 3 * DAY, 1711850400 - 2 * DAY):
            n = {"30min": 200, "3hours": 300, "1day": 400, "1week": 60, "1month": 24}[scale]
            end = start + n * S.SCALES[scale]
            chain = [ref_bucket(scale, tz, start)]
            while chain[-1][1] <= end and len(chain) < n + 1:
                chain.append(ref_bucket(scale, tz, chain[-1][1]))
            want = [a for a, _ in chain if a <= end][:n]
            # as measure() asks: again from the last end while buckets are missing
            got = S._boundaries(scale, tz, start, end, n)
            while len(got) - 1 < len(want) and got[-1] <= end:
                more = S._boundaries(scale, tz, int(got[-1]), end, len(want) - len(got) + 1)
                got = np.concatenate((got[:-1], more))
            assert got[:-1].tolist() == want, (scale, start)
            assert got[-1] == dict(chain)[want[-1]]
