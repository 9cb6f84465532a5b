"""Micro-benchmark of the Netatmo station series: µs per call, in-process, no HTTP.

Times ``stations.measure`` (1024 points: scale max with 1 and 3 types, 30min, 1day,
plus the wind and rain gauges) and ``stations_body`` (the dashboard: current readings,
day min/max over up to 288 readings per module, trends) for a station like the default
world's (NAMain + outdoor, wind, rain and indoor modules, Paris). Each figure is the
best of ``--repeat`` rounds of the mean CPU time over as many calls as fit in
``--budget`` CPU seconds. Figures, not tests: nothing asserts a time.

    .venv/bin/python bench/measure.py                 # ~15 s
    .venv/bin/python bench/measure.py --budget 0.5 --repeat 5

Recorded on the 2-core dev VM (Python 3.11, numpy 2.4), shared with other work (load
average 3.5-4.8 on 2 CPUs, so read the columns as a pair), CPU µs per call:

=============================================  =========  ========  ============
case                                           before     after     after,
                                                                    --gc-freeze
=============================================  =========  ========  ============
max 1024 x temperature (outdoor)                  18,549       426           283
max 1024 x temperature,co2,humidity (indoor)      24,242       769           701
30min 1024 x temperature,min_temp,max_temp        93,344     1,119         1,105
1day 1024 x temperature,min_temp,max_temp        624,465    10,773         8,816
max 1024 x windstrength,windangle (wind)          14,975       358           223
1day 1024 x sum_rain (rain)                       44,376     2,296         2,297
stations_body (5 modules)                          6,851     1,206         1,194
=============================================  =========  ========  ============

"before": the physics reading by reading (``reading`` per instant, ``_bucket`` per
bucket; commit 903cb04). "after": numpy series (``stations.readings``,
``physics.weather.outdoor_series`` ...), the same values. Of a ``max`` call, about a
third is building the answer's 1,024 row lists, most of that the garbage collector's
full collections over the process's heap, which those lists trigger (``--gc-freeze``).
"""

from __future__ import annotations

import argparse
import gc
import time
from collections.abc import Callable
from typing import Any

from emulator.netatmo import stations as S

NOW = 1718000000                        # 2024-06-10T06:13:20Z
SEED = 7
STATION = {
    "id": "70:ee:50:3a:00:00", "station_name": "Dev home", "module_name": "Living room",
    "place": {"city": "Paris", "country": "FR", "timezone": "Europe/Paris",
              "lat": 48.8566, "lon": 2.3522, "altitude": 35},
    "date_setup": 1551398400,
    "modules": [
        {"id": "02:00:00:3a:00:01", "type": "NAModule1", "module_name": "Outdoor"},
        {"id": "06:00:00:3a:00:02", "type": "NAModule2", "module_name": "Wind"},
        {"id": "05:00:00:3a:00:03", "type": "NAModule3", "module_name": "Rain"},
        {"id": "03:00:00:3a:00:04", "type": "NAModule4", "module_name": "Bedroom"},
    ],
}
OUT, WIND, RAIN = "02:00:00:3a:00:01", "06:00:00:3a:00:02", "05:00:00:3a:00:03"
AGG = ["temperature", "min_temp", "max_temp"]


def cases(doc: dict[str, Any]) -> list[tuple[str, Callable[[], Any]]]:
    def m(module: str | None, scale: str, types: list[str]) -> Callable[[], Any]:
        return lambda: S.measure(doc, module, scale, [",".join(types)], None, None, 1024,
                                 True, False, NOW, SEED)
    user = {"id": "u1", "login": "dev@netatmo.test"}
    return [
        ("max 1024 x temperature (outdoor)", m(OUT, "max", ["temperature"])),
        ("max 1024 x temperature,co2,humidity (indoor)",
         m(None, "max", ["temperature", "co2", "humidity"])),
        ("30min 1024 x temperature,min_temp,max_temp", m(OUT, "30min", AGG)),
        ("1day 1024 x temperature,min_temp,max_temp", m(OUT, "1day", AGG)),
        ("max 1024 x windstrength,windangle (wind)", m(WIND, "max",
                                                       ["windstrength", "windangle"])),
        ("1day 1024 x sum_rain (rain)", m(RAIN, "1day", ["sum_rain"])),
        ("stations_body (5 modules)", lambda: S.stations_body([doc], user, NOW, SEED)),
    ]


def per_call(fn: Callable[[], Any], budget: float, repeat: int) -> float:
    """Best of ``repeat`` means (CPU µs: the process's CPU time, so a machine shared
    with other work inflates the figures less), each over as many calls as fit in
    ``budget`` CPU seconds."""
    fn()                                            # warm caches (zones, pages, imports)
    best = float("inf")
    for _ in range(repeat):
        n, t0 = 0, time.process_time()
        while True:
            fn()
            n += 1
            elapsed = time.process_time() - t0
            if elapsed >= budget:
                break
        best = min(best, elapsed / n * 1e6)
    return best


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--budget", type=float, default=0.6, help="seconds per round")
    ap.add_argument("--repeat", type=int, default=3, help="rounds per case (best kept)")
    ap.add_argument("--gc-freeze", action="store_true",
                    help="gc.freeze() first: the answer's 1024 row lists then no longer "
                         "trigger full collections over the startup heap")
    args = ap.parse_args()
    doc = S.build_stations([STATION], "u1", "bench.stations", SEED)[0][2]
    if args.gc_freeze:
        gc.collect()
        gc.freeze()
    width = max(len(name) for name, _ in cases(doc))
    for name, fn in cases(doc):
        us = per_call(fn, args.budget, args.repeat)
        print(f"{name:<{width}}  {us:>12,.0f} µs")


if __name__ == "__main__":
    main()
