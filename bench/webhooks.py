"""Webhook deliveries: how fast the worker sends 10,000 events, and what it costs the API.

A real ``mockcloud serve`` with the toy vendor (``tests/toy_server.py``; one worker, the
state of ``--state``) and a receiver in a process of its own (HTTP/1.1, kept alive,
counting what it gets and checking the order). The toy's source ticks every 600
virtual seconds, so moving the frozen clock by N ticks makes N events due. Each of
``--rounds`` rounds has four phases, so a machine whose load drifts weighs on all:

1. *alone*: ``--events / --rounds`` events are delivered, the API idle (full speed);
2. *idle*: this process times ``--requests`` sequential API requests
   (``GET /toy/api/lamps``, quotas off, the same tenant);
3. *deliveries*: as many events again, the same requests timed back to back until
   the last one arrived;
4. *control*: another process POSTs as many events to the receiver at the rate phase
   3 had, the same requests timed: what the receiver's work alone costs the API on
   this machine (on 2 cores the receiver, the server and this client share the CPUs),
   so ``deliveries / control`` is the emulator's own share.

Printed: deliveries per second of phases 1 and 3 (from each move of the clock to its
last arrival), the API's latency (p50, mean, p99) in phases 2-4, and the ratios.
Figures, not tests: nothing asserts a time (the load average is printed)::

    .venv/bin/python bench/webhooks.py                     # ~40 s
    .venv/bin/python bench/webhooks.py --events 2000 --state sqlite
    .venv/bin/python bench/webhooks.py --vendor netatmo    # ~60 s, see run_netatmo
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

import requests  # noqa: E402

from emulator.testing import Admin, ServerProcess  # noqa: E402
from tests.toy_server import serve_toy  # noqa: E402

START = 1_800_000_000           # a tick instant of the toy's source (600 s)
TICK = 600


# ------------------------------------------------------------------ the receiver


def receive() -> None:
    """The receiver (``--receiver``): prints its port, counts POSTs, ``GET /count``."""
    state = {"count": 0, "first": None, "last": None, "previous": None, "disorder": 0}
    lock = threading.Lock()

    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"
        disable_nagle_algorithm = True

        def do_POST(self) -> None:
            body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
            with lock:
                now = time.monotonic()
                state["count"] += 1
                state["first"] = state["first"] or now
                state["last"] = now
                tick = body.get("tick")
                if tick is not None:
                    if state["previous"] is not None and tick != state["previous"] + 1:
                        state["disorder"] += 1
                    state["previous"] = tick
                second = _second(body.get("event_id"))
                if second is not None:     # Netatmo: its instant never goes back
                    if state["previous"] is not None and second < state["previous"]:
                        state["disorder"] += 1
                    state["previous"] = second
            self._reply(b"{}")

        def do_GET(self) -> None:
            with lock:
                self._reply(json.dumps(state).encode())

        def _reply(self, body: bytes) -> None:
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    print(server.server_port, flush=True)
    server.serve_forever()


def _second(event_id: object) -> int | None:
    """A Netatmo event id's instant (its first 8 hex digits), else None."""
    if not isinstance(event_id, str) or len(event_id) != 24:
        return None
    try:
        return int(event_id[:8], 16)
    except ValueError:
        return None


def send(url: str, rate: float, count: int) -> None:
    """The control's sender (``--sender URL RATE COUNT``): ``count`` POSTs at ``rate``/s."""
    import http.client
    from urllib.parse import urlsplit

    parts = urlsplit(url)
    conn = http.client.HTTPConnection(parts.hostname, parts.port, timeout=10)
    body = json.dumps({"push_type": "control", "user_id": "ann@toy.test"}).encode()
    started = time.perf_counter()
    for n in range(count):
        ahead = started + n / rate - time.perf_counter()
        if ahead > 0:
            time.sleep(ahead)
        conn.request("POST", parts.path, body, {"Content-Type": "application/json"})
        conn.getresponse().read()


class Receiver:
    def __init__(self) -> None:
        self.proc = subprocess.Popen([sys.executable, __file__, "--receiver"],
                                     stdout=subprocess.PIPE, text=True)
        port = int(self.proc.stdout.readline())
        self.url = f"http://127.0.0.1:{port}"

    def state(self) -> dict:
        return requests.get(self.url + "/count", timeout=10).json()

    def close(self) -> None:
        self.proc.terminate()
        self.proc.wait(10)


# ------------------------------------------------------------------ the run


def latencies(http: requests.Session, url: str, access: str, count: int | None = None,
              until: threading.Event | None = None, params: dict | None = None
              ) -> list[float]:
    """Milliseconds of sequential GETs: ``count`` of them, or until ``until`` is set."""
    out: list[float] = []
    while (count is None or len(out) < count) and not (until and until.is_set()):
        started = time.perf_counter()
        resp = http.get(url, params={"access_token": access, **(params or {})}, timeout=30)
        out.append((time.perf_counter() - started) * 1000)
        if resp.status_code != 200:
            raise SystemExit(f"API call failed: {resp.status_code} {resp.text[:200]}")
    return out


def timed_until(http: requests.Session, url: str, access: str, receiver: Receiver,
                count: int | Callable[[], bool], params: dict | None = None
                ) -> list[float]:
    """``latencies`` until the receiver has got ``count`` POSTs in all (or ``count()``
    says the deliveries are over)."""
    done = threading.Event()

    def watch() -> None:
        if callable(count):
            while not count():
                pass
        else:
            while receiver.state()["count"] < count:
                time.sleep(0.02)
        done.set()

    threading.Thread(target=watch, daemon=True).start()
    out = latencies(http, url, access, until=done, params=params)
    done.wait()
    return out


def summary(ms: list[float]) -> dict[str, float]:
    ordered = sorted(ms)
    return {"n": len(ms), "p50": statistics.median(ordered), "mean": statistics.fmean(ordered),
            "p99": ordered[min(len(ordered) - 1, int(len(ordered) * 0.99))]}


def run(args: argparse.Namespace) -> int:
    receiver = Receiver()
    folder = Path(tempfile.mkdtemp(prefix="mockcloud-bench-webhooks-"))
    flags = ["--state", f"sqlite:///{folder / 'state.db'}"] if args.state == "sqlite" else []
    load_before = os.getloadavg()[0]
    try:
        with serve_toy(folder, *flags) as server:
            admin = Admin(server.url, "bench")
            admin.freeze(START)
            admin.set_quotas("toy", [], enabled=False)
            access = admin.issue_token("toy", "toy-app", None, "read_lamps")["access_token"]
            api = admin.url("toy") + "/api/lamps"
            added = requests.post(admin.url("toy") + "/api/addwebhook", timeout=30,
                                  params={"access_token": access},
                                  data={"url": receiver.url + "/hook"})
            added.raise_for_status()
            admin.flush()
            http = requests.Session()
            latencies(http, api, access, 200)                       # warm up
            phases: dict[str, list[float]] = {"idle": [], "deliveries": [], "control": []}
            seconds, received, alone = 0.0, 1, 0.0
            for r in range(args.rounds):
                events = args.events // args.rounds + (r < args.events % args.rounds)
                # deliveries with the API idle
                moved, received = time.monotonic(), received + events
                admin.advance(TICK * events)
                while receiver.state()["count"] < received:
                    time.sleep(0.02)
                alone += receiver.state()["last"] - moved
                access = admin.issue_token("toy", "toy-app", None, "read_lamps")[
                    "access_token"]   # a token of the new virtual now (the clock moved)
                phases["idle"] += latencies(http, api, access, args.requests)
                moved, received = time.monotonic(), received + events
                admin.advance(TICK * events)
                access = admin.issue_token("toy", "toy-app", None, "read_lamps")[
                    "access_token"]
                phases["deliveries"] += timed_until(http, api, access, receiver, received)
                took = receiver.state()["last"] - moved
                seconds += took
                sender = subprocess.Popen([sys.executable, __file__, "--sender",
                                           receiver.url + "/hook", str(events / took),
                                           str(events)])
                received += events
                phases["control"] += timed_until(http, api, access, receiver, received)
                sender.wait(60)
            got, hook = receiver.state(), admin.webhooks("toy")[0]
    finally:
        receiver.close()
    return report(args, "toy", "GET /toy/api/lamps", args.events, args.events, alone,
                  seconds, phases, got, hook, load_before)


def report(args: argparse.Namespace, vendor: str, call: str, alone_n: int, busy_n: int,
           alone: float, seconds: float, phases: dict[str, list[float]], got: dict,
           hook: dict, load_before: float) -> int:
    rate, rate_alone = busy_n / seconds, alone_n / alone
    stats = {name: summary(ms) for name, ms in phases.items()}
    print(f"webhooks ({vendor}): {alone_n + busy_n:,} deliveries timed ({alone_n:,} with "
          f"the API idle, {busy_n:,} under requests), state {args.state}, one server "
          f"worker; load average {load_before:.2f} before, {os.getloadavg()[0]:.2f} after")
    print(f"deliveries: {rate_alone:,.0f}/s with the API idle, {rate:,.0f}/s while it "
          f"answers requests back to back (from each move of the clock to the last "
          f"arrival, {args.rounds} rounds of each); out of order {got['disorder']}; the "
          f"worker counts {hook['counts']}")
    keys = ("p50", "mean", "p99")
    print(f"{'API ' + call:<28}{'n':>7}" + "".join(f"{k + ' ms':>10}" for k in keys))
    for name, st in stats.items():
        print(f"{name:<28}{st['n']:>7}" + "".join(f"{st[k]:>10.2f}" for k in keys))
    ratios = {}
    for a, b in (("deliveries", "idle"), ("control", "idle"), ("deliveries", "control")):
        ratios[a, b] = {k: stats[a][k] / stats[b][k] for k in keys}
        print(f"{f'ratio {a} / {b}':<28}{'':>7}" + "".join(f"{ratios[a, b][k]:>10.2f}"
                                                           for k in keys))
    for (a, b), what in ((("deliveries", "idle"), "of idle"),
                         (("deliveries", "control"), "of the control (the emulator's share)")):
        met = "met" if ratios[a, b]["p50"] <= 1.10 else "NOT met"
        print(f"target: API latency (p50) during deliveries within 10 % {what}: {met}")
    return 0


# ------------------------------------------------------------------ Netatmo

NETATMO_APP, NETATMO_USER = "netatmo-ci", "dev@netatmo.test"
NETATMO_HOME = "5e5c7a1b2d3e4f50617283a0"
NETATMO_SCOPE = ("read_camera access_camera read_presence access_presence "
                 "read_smokedetector read_thermostat")
DAY = 86400


def run_netatmo(args: argparse.Namespace) -> int:
    """Netatmo's pushes: the default world's home lives on the clock (its routine: people
    leaving and coming back, movement, the outdoor camera's detections, the weekly
    siren test; one push per outdoor detection). A week is delivered first to learn
    how many pushes a day makes; each phase then advances as many whole days as make
    ``--events / --rounds / 2`` pushes. The API call timed is ``homestatus`` of that
    home (GET, the token in the query). A phase is over when the receiver has been
    quiet a moment and the admin API shows the webhook with nothing queued or in
    flight, every push it handed out answered, and its cursor within the worker's
    idle step of the clock."""
    receiver = Receiver()
    folder = Path(tempfile.mkdtemp(prefix="mockcloud-bench-webhooks-"))
    flags = ["--state", f"sqlite:///{folder / 'state.db'}"] if args.state == "sqlite" else []
    load_before = os.getloadavg()[0]
    try:
        with ServerProcess(*flags) as server:
            admin = Admin(server.url, "bench")
            admin.freeze(START)
            admin.set_quotas("netatmo", [], enabled=False)

            def token() -> str:    # a token of the virtual now (3 virtual hours)
                return admin.issue_token("netatmo", NETATMO_APP, NETATMO_USER,
                                         NETATMO_SCOPE)["access_token"]

            api = admin.url("netatmo") + "/api/homestatus"
            query = {"home_id": NETATMO_HOME}
            added = requests.post(admin.url("netatmo") + "/api/addwebhook", timeout=30,
                                  headers={"Authorization": f"Bearer {token()}"},
                                  data={"url": receiver.url + "/hook"})
            added.raise_for_status()
            admin.flush()
            (hid,) = [h["id"] for h in admin.webhooks("netatmo")]
            admin.advance(7 * DAY)                                  # the week's rate
            admin.flush(timeout=60)
            per_day = max(1.0, (receiver.state()["count"] - 1) / 7)
            http = requests.Session()
            latencies(http, api, token(), 200, params=query)         # warm up
            control = 0

            def over(target: float) -> Callable[[], bool]:
                def check() -> bool:
                    before = receiver.state()["count"]
                    time.sleep(0.1)
                    if receiver.state()["count"] != before:
                        return False
                    h = admin.webhook("netatmo", hid)
                    c = h["counts"]
                    return (h["queued"] == 0 and not h["sending"]
                            and c["delivered"] + c["failed"] + c["skipped"] == h["handed_out"]
                            and h["cursor"] >= target - 3600
                            and receiver.state()["count"] == c["delivered"] + control)
                return check

            phases: dict[str, list[float]] = {"idle": [], "deliveries": [], "control": []}
            seconds, alone, alone_n, busy_n = 0.0, 0.0, 0, 0
            days = max(1, round(args.events / args.rounds / 2 / per_day))
            for _ in range(args.rounds):
                # deliveries with the API idle
                start, moved = receiver.state()["count"], time.monotonic()
                target = admin.advance(days * DAY)["now"]
                check = over(target)
                while not check():
                    pass
                got = receiver.state()
                alone += got["last"] - moved
                alone_n += got["count"] - start
                phases["idle"] += latencies(http, api, token(), args.requests, params=query)
                start, moved = got["count"], time.monotonic()
                target = admin.advance(days * DAY)["now"]
                phases["deliveries"] += timed_until(http, api, token(), receiver,
                                                    over(target), params=query)
                got = receiver.state()
                took, events = got["last"] - moved, got["count"] - start
                seconds += took
                busy_n += events
                sender = subprocess.Popen([sys.executable, __file__, "--sender",
                                           receiver.url + "/hook", str(events / took),
                                           str(events)])
                control += events
                phases["control"] += timed_until(http, api, token(), receiver,
                                                 got["count"] + events, params=query)
                sender.wait(60)
            got, hook = receiver.state(), admin.webhook("netatmo", hid)
    finally:
        receiver.close()
    print(f"Netatmo: {per_day:,.1f} pushes a virtual day (the default world's home), "
          f"{days} days a phase")
    return report(args, "netatmo", "GET homestatus", alone_n, busy_n, alone, seconds,
                  phases, got, hook, load_before)


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--events", type=int, default=10_000)
    p.add_argument("--rounds", type=int, default=5, help="idle, busy and control phases")
    p.add_argument("--requests", type=int, default=500,
                   help="API calls timed in each idle phase")
    p.add_argument("--state", choices=("memory", "sqlite"), default="memory")
    p.add_argument("--vendor", choices=("toy", "netatmo"), default="toy",
                   help="the toy's ticks, or Netatmo's home on the clock")
    p.add_argument("--receiver", action="store_true", help=argparse.SUPPRESS)
    p.add_argument("--sender", nargs=3, help=argparse.SUPPRESS)
    args = p.parse_args(argv)
    if args.receiver:
        receive()
        return 0
    if args.sender:
        url, rate, count = args.sender
        send(url, float(rate), int(count))
        return 0
    return run_netatmo(args) if args.vendor == "netatmo" else run(args)


if __name__ == "__main__":
    sys.exit(main())
