"""Instructions per Netatmo ``setroomthermpoint`` (or ``homestatus``) beside the
hello-world's, under callgrind: deterministic, so a loaded machine does not matter.

In process, as ``bench/profile_netatmo.py`` (``create_app``, in-memory store, default
world and tenant, quotas off, ``werkzeug.test.Client``). The script runs ``--warm``
calls, then ``-n`` calls; run it twice under callgrind with two ``-n`` and divide the
difference of the totals by the difference of ``-n`` (startup cancels out)::

    .venv/bin/python bench/instr_netatmo.py --callgrind [--what setpoint] [--every 1]

does exactly that (``valgrind --tool=callgrind`` on ``--n1``/``--n2`` calls of the row
and of the hello-world) and prints thousands of instructions per call.

Counts are deterministic: string hashing is seeded (``PYTHONHASHSEED=0``) and what
the setup made is frozen out of the collector's reach (``gc.freeze``) before the
counted calls, so a full collection of the loaded world does not land in one run and
not the other.

Set points alternate between 21 and 22 degrees, so that each changes the room's
target (``--same``: all at 21; since b42173d a set point repeating the last one of its
instant leaves the home as it was, and so measures no write).

``--every K``: the clock is frozen and moved one second every K calls (1: every write
is a new event, the log seals a chunk every 48 writes; a large K: writes at one
instant replace each other, as most of a bench run's writes do, Netatmo's requests
running at the whole second).
"""

from __future__ import annotations

import argparse
import gc
import os
import re
import subprocess
import sys
import tempfile
import urllib.parse
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

HOME, ROOM = "5e5c7a1b2d3e4f50617283a0", "3100000001"      # the default world's
FORM = {"Content-Type": "application/x-www-form-urlencoded"}


def run(what: str, n: int, warm: int, every: int, same: bool = False) -> None:
    from werkzeug.test import Client

    if what == "hello":
        from bench.hello import app as hello_app
        hello = Client(hello_app)
        for i in range(warm + n):
            if i == warm:
                gc.collect()
                gc.freeze()
            hello.get("/")
        return
    from emulator.app import create_app
    from emulator.core.clock import Clock
    from emulator.settings import Settings

    app = create_app(Settings(state="memory"))
    client = Client(app)
    r = client.put("/_mockcloud/quotas/netatmo", json={"enabled": False, "rules": []})
    assert r.status_code == 200, r.get_data(as_text=True)
    r = client.post("/_mockcloud/tokens", json={
        "vendor": "netatmo", "client_id": "netatmo-ci", "user": "dev@netatmo.test",
        "scope": "read_station read_thermostat write_thermostat"})
    assert r.status_code in (200, 201), r.get_data(as_text=True)
    headers = {"Authorization": f"Bearer {r.get_json()['access_token']}", **FORM}
    clock = Clock(app.store, "default")
    clock.freeze()
    if what == "setpoint":
        path = "/netatmo/api/setroomthermpoint"
        bodies = [urllib.parse.urlencode({"home_id": HOME, "room_id": ROOM,
                                          "mode": "manual", "temp": t})
                  for t in (("21",) if same else ("21", "22"))]
    else:
        path = "/netatmo/api/homestatus"
        bodies = [urllib.parse.urlencode({"home_id": HOME})]
    for i in range(warm + n):
        if i == warm:       # what setup made is not scanned by the collector again
            gc.collect()
            gc.freeze()
        if i % every == 0:
            clock.advance(1)
        r = client.post(path, data=bodies[i % len(bodies)], headers=headers)
        if r.status_code != 200:
            raise SystemExit(f"{path}: {r.status_code} {r.get_data(as_text=True)}")


def instructions(what: str, n: int, warm: int, every: int, same: bool = False) -> int:
    with tempfile.TemporaryDirectory() as tmp:
        out = os.path.join(tmp, "cg.out")
        proc = subprocess.run(
            ["valgrind", "--tool=callgrind", f"--callgrind-out-file={out}",
             sys.executable, __file__, "--what", what, "-n", str(n), "--warm", str(warm),
             "--every", str(every), *(["--same"] if same else [])],
            capture_output=True, text=True, cwd=ROOT,
            env={**os.environ, "PYTHONHASHSEED": "0"})
        m = re.search(r"Collected : (\d+)", proc.stderr)
        if proc.returncode or not m:
            raise SystemExit(proc.stderr[-2000:])
        return int(m.group(1))


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--what", choices=("setpoint", "homestatus", "hello"), default="setpoint")
    p.add_argument("-n", type=int, default=100)
    p.add_argument("--warm", type=int, default=100)
    p.add_argument("--every", type=int, default=1)
    p.add_argument("--same", action="store_true",
                   help="every set point 21 degrees (a repeat at one instant leaves the home "
                        "as it was); by default 21 and 22 in turn, each a change")
    p.add_argument("--callgrind", action="store_true",
                   help="count instructions per call (the row, then the hello-world)")
    p.add_argument("--n1", type=int, default=100)
    p.add_argument("--n2", type=int, default=600)
    p.add_argument("--no-hello", action="store_true", help="the row only")
    args = p.parse_args(argv)
    if not args.callgrind:
        run(args.what, args.n, args.warm, args.every, args.same)
        return 0
    for what in (args.what,) if args.no_hello else (args.what, "hello"):
        a = instructions(what, args.n1, args.warm, args.every, args.same)
        b = instructions(what, args.n2, args.warm, args.every, args.same)
        print(f"{what:<11} {(b - a) / (args.n2 - args.n1) / 1000:>9,.1f}k instructions a call"
              + (f" (clock +1 s every {args.every} calls)" if what != "hello" else ""))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
