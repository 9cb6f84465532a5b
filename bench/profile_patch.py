"""Where an authenticated ``PATCH /lightify/v4/devices/{id}`` spends its time.

In-process, no HTTP server: ``emulator.app.create_app()`` (the Mockcloud object is
the WSGI app) driven by ``werkzeug.test.Client`` in a tight loop, in-memory store,
default world and tenant, a token from the real OAuth flow. Run from the repo root::

    .venv/bin/python bench/profile_patch.py [-n 3000] [--top 20] [--pstats out.prof]

It prints three views, all in microseconds per request:

1. wall time of the loop: the PATCH, the bare Flask hello-world (bench/hello.py) and
   an empty WSGI app (the test client's own cost), so the in-process ratio
   PATCH/hello can be read next to bench/run.py's over-HTTP one;
2. a stage breakdown: inclusive timers wrapped around the functions a request goes
   through (tenancy, clock, faults, Flask, token check, quota, model, reply,
   journal) and the store and its JSON (de)serialisation, with calls per request;
3. cProfile's top functions by own time (cProfile roughly doubles Python's cost;
   the scale factor it printed is the profiled/unprofiled wall ratio).
"""

from __future__ import annotations

import argparse
import cProfile
import functools
import importlib
import pstats
import sys
import time
import urllib.parse
from collections.abc import Callable
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from werkzeug.test import Client  # noqa: E402

from emulator.app import create_app  # noqa: E402
from emulator.settings import Settings  # noqa: E402

DEVICE = "123456-d01"
BODY = b'{"onOff":"on","brightness":42}'
CLIENT_ID, CLIENT_SECRET = "lightify-ci", "lightify-ci-secret"
REDIRECT_URI = "https://example.com/callback"

# (dotted owner, attribute, label, parent label); the tree of inclusive timers
STAGES: list[tuple[str, str, str, str | None]] = [
    ("emulator.app:Mockcloud", "__call__", "Mockcloud.__call__ (whole app)", None),
    ("emulator.core.tenancy", "resolve", "tenancy.resolve", "Mockcloud.__call__ (whole app)"),
    ("emulator.core.context:Ctx", "now", "Ctx.now (virtual clock, 1st read)",
     "Mockcloud.__call__ (whole app)"),
    ("emulator.app:Mockcloud", "ensure_world", "ensure_world",
     "Mockcloud.__call__ (whole app)"),
    ("emulator.app", "_buffer_input", "_buffer_input", "Mockcloud.__call__ (whole app)"),
    ("emulator.core.faults:Faults", "decide", "Faults.decide",
     "Mockcloud.__call__ (whole app)"),
    ("flask:Flask", "__call__", "Flask app (dispatch)", "Mockcloud.__call__ (whole app)"),
    ("emulator.core.api", "authenticate", "bearer token check (Authlib)",
     "Flask app (dispatch)"),
    ("emulator.core.api", "count_call", "quota (count_call, off)", "Flask app (dispatch)"),
    ("emulator.lightify.routes", "json_body", "json_body", "Flask app (dispatch)"),
    ("emulator.lightify.models:Lightify", "patch_device", "Lightify.patch_device",
     "Flask app (dispatch)"),
    ("emulator.lightify.routes", "reply", "reply (json + ETag + Response)",
     "Flask app (dispatch)"),
    ("emulator.app", "http_date", "http_date (Date header)", "Flask app (dispatch)"),
    ("emulator.app:Mockcloud", "_journal", "journal (_journal)",
     "Mockcloud.__call__ (whole app)"),
    ("emulator.app", "_request_headers", "_request_headers", "journal (_journal)"),
    ("emulator.core.journal:Journal", "record", "Journal.record (store writes)",
     "journal (_journal)"),
]
# cross-cutting: counted and timed wherever they are called from
CROSS: list[tuple[str, str, str]] = [
    ("emulator.core.store:MemoryStore", "get", "store.get"),
    ("emulator.core.store:MemoryStore", "put", "store.put"),
    ("emulator.core.store:MemoryStore", "update", "store.update"),
    ("emulator.core.store:MemoryStore", "count", "store.count"),
    ("emulator.core.store:MemoryStore", "list", "store.list"),
    ("emulator.core.store", "_loads", "json.loads in store"),
    ("emulator.core.store", "_dumps", "json dumps in store"),
    ("emulator.core.clock:Clock", "now", "Clock.now (store read)"),
]


def resolve(owner: str) -> Any:
    module, _, cls = owner.partition(":")
    obj = importlib.import_module(module)
    return getattr(obj, cls) if cls else obj


class Timers:
    """Inclusive wall-clock timers patched onto functions; undone by ``restore``."""

    def __init__(self) -> None:
        self.total: dict[str, float] = {}
        self.calls: dict[str, int] = {}
        self._undo: list[tuple[Any, str, Any]] = []

    def wrap(self, owner: str, attr: str, label: str) -> None:
        target = resolve(owner)
        original = target.__dict__[attr] if isinstance(target, type) else getattr(target, attr)
        self.total.setdefault(label, 0.0)
        self.calls.setdefault(label, 0)
        total, calls, clock = self.total, self.calls, time.perf_counter

        @functools.wraps(original)
        def timed(*args, **kwargs):
            t0 = clock()
            try:
                return original(*args, **kwargs)
            finally:
                total[label] += clock() - t0
                calls[label] += 1

        setattr(target, attr, timed)
        self._undo.append((target, attr, original))

    def reset(self) -> None:
        for k in self.total:
            self.total[k], self.calls[k] = 0.0, 0

    def restore(self) -> None:
        for target, attr, original in reversed(self._undo):
            setattr(target, attr, original)
        self._undo.clear()


# ------------------------------------------------------------------ the client

def login(client: Client) -> str:
    r = client.get("/lightify/oauth2/authorize", query_string={
        "client_id": CLIENT_ID, "redirect_uri": REDIRECT_URI, "state": "x",
        "response_type": "code"})
    assert r.status_code == 302, (r.status_code, r.get_data(as_text=True))
    code = urllib.parse.parse_qs(urllib.parse.urlparse(r.headers["Location"]).query)["code"][0]
    r = client.post("/lightify/oauth2/access_token", data={
        "grant_type": "authorization_code", "client_id": CLIENT_ID,
        "client_secret": CLIENT_SECRET, "code": code, "redirect_uri": REDIRECT_URI})
    assert r.status_code == 200, (r.status_code, r.get_data(as_text=True))
    return r.get_json()["access_token"]


def loop(call: Callable[[], Any], n: int) -> float:
    """Seconds per call over n calls."""
    t0 = time.perf_counter()
    for _ in range(n):
        call()
    return (time.perf_counter() - t0) / n


def best_of(call: Callable[[], Any], n: int, rounds: int = 3) -> float:
    return min(loop(call, n) for _ in range(rounds))


def us(seconds: float) -> str:
    return f"{seconds * 1e6:8.1f}"


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("-n", type=int, default=3000, help="requests per measurement (3000)")
    p.add_argument("--top", type=int, default=20, help="cProfile rows to print (20)")
    p.add_argument("--pstats", type=Path, help="also save cProfile stats to this file")
    args = p.parse_args(argv)
    n = args.n

    app = create_app(Settings(state="memory"))
    client = Client(app)
    token = login(client)
    headers = {"Authorization": f"Bearer {token}", "Content-Type": "application/json"}
    path = f"/lightify/v4/devices/{DEVICE}"

    def patch():
        r = client.patch(path, data=BODY, headers=headers)
        if r.status_code != 200:
            raise SystemExit(f"PATCH answered {r.status_code}: {r.get_data(as_text=True)}")

    from bench.hello import app as hello_app

    hello_client = Client(hello_app)
    empty_client = Client(lambda environ, start: (start("200 OK", []), [b""])[1])

    def hello():
        hello_client.get("/")

    def empty():
        empty_client.patch(path, data=BODY, headers=headers)

    for fn in (patch, hello, empty):  # warm up
        loop(fn, min(n, 500))

    # ----------------------------------------------------------- 1. wall time
    t_patch, t_hello, t_empty = best_of(patch, n), best_of(hello, n), best_of(empty, n)
    print(f"In-process, werkzeug.test.Client, best of 3 x {n} requests (us/request):")
    print(f"  PATCH {path}        {us(t_patch)}")
    print(f"  bare Flask hello-world                       {us(t_hello)}")
    print(f"  empty WSGI app (the test client's own cost)  {us(t_empty)}")
    app_patch, app_hello = t_patch - t_empty, t_hello - t_empty
    print(f"  => app time: PATCH {app_patch * 1e6:.1f} us, hello {app_hello * 1e6:.1f} us; "
          f"hello/PATCH = {app_hello / app_patch:.0%} (a server adds the same fixed cost "
          "to both, so over HTTP the ratio is higher)")

    # ------------------------------------------------------- 2. stage timers
    timers = Timers()
    for owner, attr, label, _parent in STAGES:
        timers.wrap(owner, attr, label)
    for owner, attr, label in CROSS:
        timers.wrap(owner, attr, label)
    try:
        loop(patch, min(n, 300))
        timers.reset()
        t_timed = loop(patch, n)
    finally:
        timers.restore()
    per = {k: v / n for k, v in timers.total.items()}
    calls = {k: c / n for k, c in timers.calls.items()}
    children: dict[str | None, list[str]] = {}
    for _o, _a, label, parent in STAGES:
        children.setdefault(parent, []).append(label)

    print(f"\nStage breakdown, inclusive us/request (timers add ~0.3 us per timed call; "
          f"loop {t_timed * 1e6:.1f} us/request with them):")
    print(f"  {'stage':<48}{'us/req':>9}{'calls/req':>11}")

    def show(label: str, depth: int) -> None:
        print(f"  {'  ' * depth + label:<48}{us(per[label]):>9}{calls[label]:>11.1f}")
        kids = children.get(label, [])
        for kid in kids:
            show(kid, depth + 1)
        if kids:
            rest = per[label] - sum(per[k] for k in kids)
            print(f"  {'  ' * (depth + 1) + '(the rest: own code, framework)':<48}"
                  f"{us(rest):>9}")

    for root in children[None]:
        show(root, 0)
    print("\n  cross-cutting (included in the stages above):")
    for _o, _a, label in CROSS:
        print(f"  {label:<48}{us(per[label]):>9}{calls[label]:>11.1f}")

    # ------------------------------------------------------------ 3. cProfile
    prof = cProfile.Profile()
    t0 = time.perf_counter()
    prof.enable()
    for _ in range(n):
        patch()
    prof.disable()
    t_prof = (time.perf_counter() - t0) / n
    if args.pstats:
        prof.dump_stats(str(args.pstats))
    stats = pstats.Stats(prof)
    rows = []
    for (file, line, func), (_cc, nc, tt, ct, _callers) in stats.stats.items():  # type: ignore[attr-defined]
        short = file
        for marker in ("site-packages/", str(ROOT) + "/"):
            if marker in file:
                short = file.split(marker, 1)[1]
        rows.append((tt, ct, nc, f"{short}:{line}({func})"))
    print(f"\ncProfile, {n} PATCHes: {t_prof * 1e6:.1f} us/request profiled "
          f"(x{t_prof / t_patch:.1f} the unprofiled wall time). "
          f"Top {args.top} by own time, us/request:")
    print(f"  {'own':>8}{'cumul':>9}{'calls':>7}  function")
    for tt, ct, nc, name in sorted(rows, reverse=True)[:args.top]:
        print(f"  {us(tt / n)}{us(ct / n):>9}{nc / n:>7.1f}  {name}")

    # a few cumulative figures worth seeing whatever their own time
    print("\n  selected cumulative costs (cProfile, us/request):")
    wanted = ("validate_request", "wsgi_app", "full_dispatch_request", "record",
              "_journal", "patch_device", "reply", "jsonify", "get_data", "__init__")
    seen = set()
    for _tt, ct, nc, name in sorted(rows, key=lambda r: -r[1]):
        func = name.rsplit("(", 1)[1].rstrip(")")
        if func in wanted and func not in seen and ("emulator" in name or "flask" in name
                                                     or "authlib" in name):
            seen.add(func)
            print(f"  {us(ct / n)}{nc / n:>7.1f}  {name}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
