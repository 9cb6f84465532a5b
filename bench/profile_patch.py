"""Where an authenticated ``PATCH /lightify/v4/devices/{id}`` spends its time.

In-process, no HTTP server: ``emulator.app.create_app()`` (the Mockcloud object is
the WSGI app) driven by ``werkzeug.test.Client`` in a tight loop, in-memory store,
default world and tenant, a token from the real OAuth flow. Run from the repo root::

    .venv/bin/python bench/profile_patch.py [-n 2000] [--top 20] [--pstats out.prof]

It prints three views, all in microseconds per request:

1. wall time of the loop: the PATCH, the bare Flask hello-world (bench/hello.py) and
   an empty WSGI app (the test client's own cost), so the in-process ratio
   PATCH/hello can be read next to bench/run.py's over-HTTP one;
2. a stage breakdown: inclusive timers wrapped around the functions a request goes
   through (tenancy, clock, faults, Flask, token check, quota, model, reply,
   journal) and the store and its JSON (de)serialisation, with calls per request;
3. what-ifs: the loop again with one cost removed or cheapened by monkeypatching
   in this process only (emulator code is not changed), to estimate what a fix buys;
4. cProfile's top functions by own time (cProfile inflates Python's cost; the factor
   is printed: the profiled/unprofiled wall ratio).
"""

from __future__ import annotations

import argparse
import cProfile
import functools
import importlib
import pstats
import statistics
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
Setup = Callable[[], Callable[[], None]]   # apply a change, return its undo

# (dotted owner, attribute, label, parent label): the tree of inclusive timers
APP = "Mockcloud.__call__ (whole app)"
FLASK = "Flask app"
VIEW = "dispatch_request (the view)"
STAGES: list[tuple[str, str, str, str | None]] = [
    ("emulator.app:Mockcloud", "__call__", APP, None),
    ("emulator.core.tenancy", "resolve", "tenancy.resolve", APP),
    ("emulator.core.context:Ctx", "now", "Ctx.now (virtual clock)", APP),
    ("emulator.app:Mockcloud", "ensure_world", "ensure_world", APP),
    ("emulator.app", "_buffer_input", "_buffer_input", APP),
    ("emulator.core.faults:Faults", "decide", "Faults.decide", APP),
    ("flask:Flask", "__call__", FLASK, APP),
    ("flask:Flask", "request_context", "request_context (Request object)", FLASK),
    ("flask.ctx:RequestContext", "push", "ctx.push (app context, URL match)", FLASK),
    ("flask:Flask", "preprocess_request", "before_request hooks", FLASK),
    ("flask:Flask", "dispatch_request", VIEW, FLASK),
    ("emulator.core.api", "authenticate", "bearer token check (Authlib)", VIEW),
    ("emulator.core.api", "count_call", "quota (count_call; quotas off)", VIEW),
    ("emulator.lightify.routes", "json_body", "json_body (request.get_data + loads)", VIEW),
    ("emulator.lightify.models:Lightify", "patch_device", "Lightify.patch_device", VIEW),
    ("emulator.lightify.routes", "reply", "reply (dumps + ETag + Response)", VIEW),
    ("flask:Flask", "finalize_request", "finalize_request (after_request hooks)", FLASK),
    ("werkzeug.wrappers.response:Response", "__call__", "Response -> WSGI (headers)", FLASK),
    ("flask.ctx:RequestContext", "pop", "ctx.pop (teardown)", FLASK),
    ("emulator.app:Mockcloud", "_journal", "journal (_journal)", APP),
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

    def wrap(self, owner: str, attr: str, label: str) -> bool:
        """Time ``owner.attr`` under ``label``; False if the code has no such function."""
        try:
            target = resolve(owner)
            original = (target.__dict__[attr] if isinstance(target, type)
                        else getattr(target, attr))
        except (ImportError, AttributeError, KeyError):
            return False
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
        return True

    def reset(self) -> None:
        for k in self.total:
            self.total[k], self.calls[k] = 0.0, 0

    def restore(self) -> None:
        for target, attr, original in reversed(self._undo):
            setattr(target, attr, original)
        self._undo.clear()


# ------------------------------------------------------------------- what-ifs

def _patch_attr(target: Any, attr: str, value: Any) -> Callable[[], None]:
    original = target.__dict__[attr] if isinstance(target, type) else getattr(target, attr)
    setattr(target, attr, value)
    return lambda: setattr(target, attr, original)


Variant = tuple[str, Callable[[], Any], Setup | None]


def what_ifs(app: Any, patch: Callable[[], Any]) -> list[Variant]:
    """(label, call, apply -> undo): each removes or cheapens one cost, for an estimate."""
    def journal_size_0():
        size = app.settings.journal_size
        app.settings.journal_size = 0
        return lambda: setattr(app.settings, "journal_size", size)

    def no_journal():
        return _patch_attr(type(app), "_journal", lambda *a, **k: None)

    return [
        ("journal_size=0 (the existing setting: nothing recorded)", patch,
         journal_size_0),
        ("no journal at all (upper bound of what a cheaper journal saves)", patch,
         no_journal),
    ]


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
    """CPU seconds of this process per call over n calls.

    CPU time, not wall time: the machine is shared, and time spent waiting for a
    core while another process runs is not the emulator's cost.
    """
    t0 = time.process_time()
    for _ in range(n):
        call()
    return (time.process_time() - t0) / n


BATCH = 50  # requests per timed batch; the variants take turns batch by batch

def interleaved(fns: dict[str, tuple[Callable[[], Any], Setup | None]],
                n: int) -> dict[str, list[float]]:
    """CPU seconds per call of each function, one sample per batch of BATCH calls.

    The functions take turns batch by batch (the order rotating every round), so a
    busy moment on a shared machine, or a change of CPU speed, lands on all of them
    alike; compare medians, or the median of per-round differences.
    """
    names = list(fns)
    out: dict[str, list[float]] = {k: [] for k in names}
    for i in range(max(5, n // BATCH)):
        k = i % len(names)
        for name in names[k:] + names[:k]:
            call, setup = fns[name]
            undo = setup() if setup else None
            try:
                out[name].append(loop(call, BATCH))
            finally:
                if undo:
                    undo()
    return out


def median_diff(a: list[float], b: list[float]) -> float:
    return statistics.median(x - y for x, y in zip(a, b, strict=True))


def us(seconds: float) -> str:
    return f"{seconds * 1e6:8.1f}"


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("-n", type=int, default=2000, help="requests per measurement (2000)")
    p.add_argument("--top", type=int, default=20, help="cProfile rows to print (20)")
    p.add_argument("--pstats", type=Path, help="also save cProfile stats to this file")
    p.add_argument("--no-what-if", dest="what_if", action="store_false",
                   help="skip the what-if estimates")
    args = p.parse_args(argv)
    n = args.n

    def make_patch() -> tuple[Any, Callable[[], None]]:
        """An emulator (in-memory, default world) and a PATCH call with a fresh token."""
        app = create_app(Settings(state="memory"))
        client = Client(app)
        headers = {"Authorization": f"Bearer {login(client)}",
                   "Content-Type": "application/json"}

        def patch() -> None:
            r = client.patch(path, data=BODY, headers=headers)
            if r.status_code != 200:
                raise SystemExit(f"PATCH answered {r.status_code}: {r.get_data(as_text=True)}")

        return app, patch

    path = f"/lightify/v4/devices/{DEVICE}"
    app, patch = make_patch()
    headers = {"Content-Type": "application/json"}

    from bench.hello import app as hello_app

    hello_client = Client(hello_app)
    empty_client = Client(lambda environ, start: (start("200 OK", []), [b""])[1])

    def hello():
        hello_client.get("/")

    def empty():
        empty_client.patch(path, data=BODY, headers=headers)

    for fn in (patch, hello, empty):  # warm up
        loop(fn, min(n, 500))

    # ------------------------------------------------------------ 1. totals
    t = interleaved({"patch": (patch, None), "hello": (hello, None),
                     "empty": (empty, None)}, n)
    t_patch, t_hello, t_empty = (statistics.median(t[k]) for k in ("patch", "hello", "empty"))
    app_patch, app_hello = median_diff(t["patch"], t["empty"]), median_diff(t["hello"],
                                                                            t["empty"])
    print(f"In-process, werkzeug.test.Client, {n} requests each in interleaved batches of "
          f"{BATCH} (median CPU us/request):")
    print(f"  PATCH {path}        {us(t_patch)}")
    print(f"  bare Flask hello-world                       {us(t_hello)}")
    print(f"  empty WSGI app (the test client's own cost)  {us(t_empty)}")
    print(f"  => app time: PATCH {app_patch * 1e6:.1f} us, hello {app_hello * 1e6:.1f} us "
          f"(hello/PATCH {app_hello / app_patch:.0%}); a server adds its own fixed cost "
          "to both,\n     so over HTTP the ratio is higher")

    # ------------------------------------------------------- 2. stage timers
    timers = Timers()
    missing = [f"{owner}.{attr}" for owner, attr, label, _p in STAGES
               if not timers.wrap(owner, attr, label)]
    missing += [f"{owner}.{attr}" for owner, attr, label in CROSS
                if not timers.wrap(owner, attr, label)]
    if missing:  # the emulator moved on: time what is still there
        print(f"\n(not timed, no longer in the code: {', '.join(missing)})")
    def staged(call: Callable[[], Any]) -> tuple[dict[str, float], dict[str, float]]:
        samples: dict[str, list[float]] = {k: [] for k in timers.total}
        counts: dict[str, float] = {}
        loop(call, min(n, 300))
        for _ in range(max(5, n // BATCH)):
            timers.reset()
            loop(call, BATCH)
            for k, v in timers.total.items():
                samples[k].append(v / BATCH)
                counts[k] = timers.calls[k] / BATCH
        return {k: statistics.median(v) for k, v in samples.items()}, counts

    try:
        per, calls = staged(patch)
        hello_per, hello_calls = staged(hello)
    finally:
        timers.restore()
    children: dict[str | None, list[str]] = {}
    for _o, _a, label, parent in STAGES:
        children.setdefault(parent, []).append(label)

    print(f"\nStage breakdown: inclusive wall us/request, median of {BATCH}-request batches "
          "(timers add\n~0.2 us per timed call). The hello-world column: the same Flask "
          "stages timed on bench/hello.py.")
    whole = per[APP]
    print(f"  {'stage':<50}{'us/req':>8}{'share':>7}{'calls':>7}{'hello':>9}")

    def show(label: str, depth: int) -> None:
        if label not in per:
            return
        h = f"{hello_per[label] * 1e6:9.1f}" if hello_calls.get(label) else ""
        print(f"  {'  ' * depth + label:<50}{per[label] * 1e6:8.1f}{per[label] / whole:>7.0%}"
              f"{calls[label]:>7.1f}{h}")
        kids = children.get(label, [])
        for kid in kids:
            show(kid, depth + 1)
        if kids:
            rest = per[label] - sum(per.get(k, 0.0) for k in kids)
            h = ""
            if hello_calls.get(label):
                hrest = hello_per[label] - sum(hello_per[k] for k in kids
                                               if hello_calls.get(k) and k in hello_per)
                h = f"{hrest * 1e6:9.1f}"
            print(f"  {'  ' * (depth + 1) + '(the rest: own code, framework glue)':<50}"
                  f"{rest * 1e6:8.1f}{rest / whole:>7.0%}{'':>7}{h}")

    for root in children[None]:
        show(root, 0)
    print("\n  cross-cutting (included in the stages above):")
    for _o, _a, label in CROSS:
        if label not in per:
            continue
        print(f"  {label:<50}{per[label] * 1e6:8.1f}{per[label] / whole:>7.0%}"
              f"{calls[label]:>7.1f}")

    # ------------------------------------------------------------- 3. what-ifs
    if args.what_if:
        print("\nWhat-ifs: the same loop with one cost removed by monkeypatching in this "
              "process\n(emulator code unchanged; all variants interleaved batch by batch "
              "with the\nbaseline; median CPU us/request, saving = median per-round "
              "difference):")
        variants = what_ifs(app, patch)
        fns: dict[str, tuple[Callable[[], Any], Setup | None]] = {"baseline": (patch, None)}
        fns.update({label: (call, apply) for label, call, apply in variants})
        t = interleaved(fns, 2 * n)
        base = statistics.median(t["baseline"])
        print(f"  {'baseline (as shipped)':<64}{us(base)}")
        for label, _call, _apply in variants:
            saved = median_diff(t["baseline"], t[label])
            print(f"  {label:<64}{us(statistics.median(t[label]))}  saves {us(saved)} "
                  f"({saved / base:4.0%})")

    # ------------------------------------------------------------ 4. cProfile
    prof = cProfile.Profile()
    t0 = time.process_time()
    prof.enable()
    for _ in range(n):
        patch()
    prof.disable()
    t_prof = (time.process_time() - t0) / n
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
          f"(CPU; x{t_prof / t_patch:.1f} unprofiled). "
          f"Top {args.top} by own time, us/request:")
    print("  (rows from werkzeug/test.py and urllib.parse are the test client's own work)")
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
