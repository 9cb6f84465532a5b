"""Qivivo's temporary instruction in process (no HTTP server), beside the hello-world.

``emulator.app.create_app()`` (in-memory store, default world and tenant, quotas off)
driven by ``werkzeug.test.Client``: the request ``bench/run.py``'s temporary
instruction row sends (``POST .../temperature/temporary-instruction``, JSON
``{"temperature": 21.5, "duration": 60}``, a bearer token from ``POST
/_mockcloud/tokens``) on the default world's thermostat, with the virtual clock
running (many writes a second, as under wrk). Run from the repo root::

    .venv/bin/python bench/profile_qivivo.py [-n 500] [--repeat 5] [--profile] [--top 30]
    valgrind --tool=callgrind .venv/bin/python bench/profile_qivivo.py --only write -n 1000

Prints CPU µs per call (mean of ``-n`` calls, best of ``--repeat`` rounds) of the
bare Flask hello-world (``bench/hello.py``) through the same kind of client, the
temporary instruction, and a thermostat read after it. ``--only write|hello`` makes
exactly ``-n`` calls of one of them after the same set-up and prints nothing timed:
two callgrind runs of it, the difference of their instruction counts over ``-n``, is
one call's instructions, whatever the machine's load. ``--profile`` adds cProfile's
top functions for the write. Figures, not tests: nothing asserts a time.
"""

from __future__ import annotations

import argparse
import cProfile
import pstats
import sys
import time
from collections.abc import Callable
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from werkzeug.test import Client, EnvironBuilder  # noqa: E402

from bench import run as bench_run  # noqa: E402
from emulator.app import create_app  # noqa: E402
from emulator.settings import Settings  # noqa: E402


def direct(app, method: str, path: str, body: bytes = b"",
           headers: dict[str, str] | None = None, content_type: str | None = None
           ) -> Callable[[], None]:
    """One request as a WSGI server makes it (a copy of a prepared environ, the body
    as a stream), without the test client's building of the environ and reading of
    the response: the server's part of a request is not the emulator's."""
    import io

    environ = EnvironBuilder(path=path, method=method, data=body, headers=headers,
                             content_type=content_type).get_environ()
    status: list[str] = []

    def start_response(s: str, h: list, exc_info=None) -> None:
        status[:] = [s]

    def go() -> None:
        env = dict(environ)
        env["wsgi.input"] = io.BytesIO(body)
        out = app(env, start_response)
        b"".join(out)
        getattr(out, "close", lambda: None)()
        if not status[0].startswith("200"):
            raise SystemExit(f"{method} {path} answered {status[0]}")
    return go


WRITE = f"{bench_run.QIVIVO}{bench_run.QIVIVO_TH}/temperature/temporary-instruction"
READ = f"{bench_run.QIVIVO}{bench_run.QIVIVO_TH}/temperature"
BODY = bench_run.QIVIVO_BODY


class Qivivo:
    def __init__(self) -> None:
        self.app = create_app(Settings(state="memory"))
        self.client = Client(self.app)
        r = self.client.put("/_mockcloud/quotas/qivivo", json={"enabled": False,
                                                                "rules": []})
        assert r.status_code == 200, r.get_data(as_text=True)
        r = self.client.post("/_mockcloud/tokens", json={
            "vendor": "qivivo", "client_id": bench_run.QIVIVO_CLIENT,
            "user": bench_run.QIVIVO_USER, "scope": bench_run.QIVIVO_SCOPE})
        assert r.status_code in (200, 201), r.get_data(as_text=True)
        self.auth = {"Authorization": f"Bearer {r.get_json()['access_token']}"}
        self.write_direct = direct(self.app, "POST", WRITE, BODY.encode(), self.auth,
                                   "application/json")
        self.read_direct = direct(self.app, "GET", READ, headers=self.auth)

    def write(self) -> None:
        r = self.client.post(WRITE, data=BODY, headers=self.auth,
                             content_type="application/json")
        if r.status_code != 200:
            raise SystemExit(f"the write answered {r.status_code}: {r.get_data(as_text=True)}")

    def read(self) -> None:
        r = self.client.get(READ, headers=self.auth)
        if r.status_code != 200:
            raise SystemExit(f"the read answered {r.status_code}: {r.get_data(as_text=True)}")


def per_call(fn: Callable[[], None], n: int, repeat: int) -> float:
    best = float("inf")
    for _ in range(repeat):
        t0 = time.process_time()
        for _ in range(n):
            fn()
        best = min(best, (time.process_time() - t0) / n * 1e6)
    return best


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("-n", type=int, default=500, help="calls per round (500)")
    p.add_argument("--repeat", type=int, default=5, help="rounds, best kept (5)")
    p.add_argument("--only", choices=("write", "hello"),
                   help="make -n calls of one, untimed (for callgrind)")
    p.add_argument("--profile", action="store_true", help="cProfile the write")
    p.add_argument("--top", type=int, default=30)
    args = p.parse_args(argv)
    q = Qivivo()
    from bench.hello import app as hello_app
    hello = Client(hello_app)

    def hello_get() -> None:
        hello.get("/")

    hello_direct = direct(hello_app, "GET", "/")

    for _ in range(50):             # warm both (imports, caches, the house's history)
        q.write()
        hello_get()
    if args.only:
        fn = q.write_direct if args.only == "write" else hello_direct
        for _ in range(args.n):
            fn()
        return 0
    for how, rows in (("werkzeug.test.Client", (hello_get, q.write, q.read)),
                      ("direct WSGI call", (hello_direct, q.write_direct, q.read_direct))):
        names = ("hello-world (Flask)", "temporary instruction (POST)",
                 "thermostat temperature (GET)")
        results = [(name, per_call(fn, args.n, args.repeat))
                   for name, fn in zip(names, rows, strict=True)]
        print(how)
        for name, us in results:
            print(f"  {name:<30} {us:>7,.1f} µs CPU  ({results[0][1] / us:5.1%} of the "
                  "hello-world)")
    if args.profile:
        prof = cProfile.Profile()
        prof.enable()
        for _ in range(args.n):
            q.write_direct()
        prof.disable()
        pstats.Stats(prof).sort_stats("tottime").print_stats(args.top)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
