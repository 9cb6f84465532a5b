"""Where Netatmo's ``homestatus``, ``setroomthermpoint`` and a 1,024-point station
``getmeasure`` spend their time, in-process (no HTTP server).

``emulator.app.create_app()`` (in-memory store, default world and tenant, quotas off)
driven by ``werkzeug.test.Client``, the same three requests as ``bench/run.py
--only netatmo`` sends. Run from the repo root::

    .venv/bin/python bench/profile_netatmo.py [-n 500] [--profile homestatus] [--top 25]

Prints, in wall µs per request (mean of ``-n`` calls, best of ``--repeat`` rounds):

- ``homestatus`` on the fresh home, then after ``--grow`` (3,000) set-point changes
  at distinct virtual instants (the event log the bench's repeats build up);
- ``setroomthermpoint`` (the clock moved 1 s between calls, as a running clock does);
- station ``getmeasure`` cold (each call the newest window after the clock moved past
  the last one, so a window never asked before: every page of
  readings computed) and warm (the same window again);
- the bare Flask hello-world (bench/hello.py) through the same test client.

``--profile NAME`` adds cProfile's top functions (by cumulative time) for one of
them. Figures, not tests: nothing asserts a time.
"""

from __future__ import annotations

import argparse
import cProfile
import pstats
import sys
import time
import urllib.parse
from collections.abc import Callable
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from werkzeug.test import Client  # noqa: E402

from emulator.app import create_app  # noqa: E402
from emulator.settings import Settings  # noqa: E402

HOME, ROOM = "5e5c7a1b2d3e4f50617283a0", "3100000001"      # the default world's
STATION = "70:ee:50:3a:00:00"
POINTS, STEP = 1024, 300
FORM = {"Content-Type": "application/x-www-form-urlencoded"}


class Netatmo:
    def __init__(self) -> None:
        self.app = create_app(Settings(state="memory"))
        self.client = Client(self.app)
        self.auth: dict[str, str] = {}
        self.login()
        r = self.client.put("/_mockcloud/quotas/netatmo", json={"enabled": False,
                                                                 "rules": []})
        assert r.status_code == 200, r.get_data(as_text=True)

    def login(self) -> None:
        r = self.client.post("/_mockcloud/tokens", json={
            "vendor": "netatmo", "client_id": "netatmo-ci", "user": "dev@netatmo.test",
            "scope": "read_station read_thermostat write_thermostat"})
        assert r.status_code in (200, 201), r.get_data(as_text=True)
        self.auth.update({"Authorization": f"Bearer {r.get_json()['access_token']}", **FORM})

    def now(self) -> int:
        return int(self.client.get("/_mockcloud/clock").get_json()["now"])

    def advance(self, seconds: float) -> None:
        r = self.client.post("/_mockcloud/clock/advance", json={"seconds": seconds})
        assert r.status_code == 200, r.get_data(as_text=True)

    def call(self, path: str, form: dict[str, object]) -> Callable[[], None]:
        body = urllib.parse.urlencode(form)
        url = f"/netatmo/api/{path}"

        def go() -> None:
            r = self.client.post(url, data=body, headers=self.auth)
            if r.status_code != 200:
                raise SystemExit(f"{path} answered {r.status_code}: {r.get_data(as_text=True)}")
        return go

    def measure_form(self, end: int) -> dict[str, object]:
        return {"device_id": STATION, "scale": "max", "type": "temperature,humidity",
                "optimize": "true", "date_begin": end - POINTS * STEP, "date_end": end,
                "limit": POINTS}


def per_call(fn: Callable[[], None], n: int, repeat: int,
             between: Callable[[], None] | None = None) -> float:
    best = float("inf")
    for _ in range(repeat):
        spent = 0.0
        for _ in range(n):
            if between is not None:
                between()
            t0 = time.perf_counter()
            fn()
            spent += time.perf_counter() - t0
        best = min(best, spent / n * 1e6)
    return best


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("-n", type=int, default=300, help="calls per round (300)")
    p.add_argument("--repeat", type=int, default=3, help="rounds, best kept (3)")
    p.add_argument("--grow", type=int, default=3000,
                   help="set-point changes made before the second homestatus (3000)")
    p.add_argument("--profile", choices=("homestatus", "setroomthermpoint", "cold", "warm"),
                   help="cProfile one of the calls")
    p.add_argument("--top", type=int, default=25)
    args = p.parse_args(argv)
    n, rep = args.n, args.repeat
    nt = Netatmo()
    homestatus = nt.call("homestatus", {"home_id": HOME})
    setpoint = nt.call("setroomthermpoint", {"home_id": HOME, "room_id": ROOM,
                                             "mode": "manual", "temp": "21"})
    end = nt.now() - nt.now() % STEP
    warm = nt.call("getmeasure", nt.measure_form(end))
    warm()
    def cold() -> None:         # the newest window, after a move past the last one
        now = nt.now()
        nt.call("getmeasure", nt.measure_form(now - now % STEP))()

    def jump() -> None:
        nt.advance(POINTS * STEP)
        nt.login()                   # the last token has expired

    from bench.hello import app as hello_app
    hello = Client(hello_app)

    def hello_get() -> None:
        hello.get("/")

    results: list[tuple[str, float]] = [("hello-world (Flask, same client)",
                                         per_call(hello_get, n, rep))]
    results.append(("homestatus, fresh home", per_call(homestatus, n, rep)))
    results.append(("setroomthermpoint", per_call(setpoint, n, rep,
                                                  lambda: nt.advance(1))))
    for _ in range(args.grow):
        nt.advance(1)
        setpoint()
    results.append((f"homestatus after {args.grow} more set points",
                    per_call(homestatus, n, rep)))
    results.append(("getmeasure 1024 pts, cold (new window)", per_call(cold, max(1, n // 3),
                                                                       rep, jump)))
    results.append(("getmeasure 1024 pts, warm (same window)", per_call(warm, n, rep)))
    width = max(len(k) for k, _ in results)
    for name, us in results:
        print(f"{name:<{width}}  {us:>9,.0f} µs")
    if args.profile:
        fn = {"homestatus": homestatus, "setroomthermpoint": setpoint, "cold": cold,
              "warm": warm}[args.profile]
        prof = cProfile.Profile()
        prof.enable()
        for _ in range(n):
            fn()
        prof.disable()
        pstats.Stats(prof).sort_stats("cumulative").print_stats(args.top)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
