"""Interleaved A/B of one bench row: two checkouts side by side, one hello-world.

On a shared, noisy machine two benchmark runs minutes apart do not compare; this runs
the variants round-robin, a few seconds each, many rounds, and compares medians::

    .venv/bin/python bench/ab.py --b /path/to/other/checkout [--a .] [--rounds 8]
                                 [--duration 4] [--connections 8] [--row patch]

Each checkout is served by ``python -m emulator.cli serve`` with its own tree first on
``PYTHONPATH`` (same interpreter, same installed dependencies), in-memory state, one
worker, ``--threads`` as given; the hello-world is ``bench/hello.py`` under granian as in
``bench/run.py`` (``--hello``: its threads on one CPU, as serve runs the emulator's
since 0ad02dc, or anywhere). Each round runs wrk against the hello-world, A and B in a rotating
order, then prints per variant the median req/s and the median of the per-round ratios
to the hello-world, and the median p99 beside the hello-world's. Tokens come from
``POST /_mockcloud/tokens`` (quotas of the row's vendor switched off).

``--row``: ``patch`` (Lightify's authenticated PATCH, the default), ``devices``
(``GET /v4/devices``), ``homestatus``, ``setpoint`` (Netatmo's ``setroomthermpoint``),
``qtemp``, ``qinfo`` (Qivivo's thermostat reads), ``qinstr`` (Qivivo's temporary
instruction) or ``refresh`` (Lightify's ``grant_type=refresh_token`` with rotation,
one chain per connection, ``bench/wrk/refresh.lua``; each round starts fresh chains
through the real OAuth flow, since a run ends with its last tokens in wrk): the same
requests as ``bench/run.py``'s rows.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

import requests  # noqa: E402

from bench.run import (  # noqa: E402
    DEVICE,
    FORM,
    NETATMO,
    NETATMO_CLIENT,
    NETATMO_HOME,
    NETATMO_ROOM,
    NETATMO_SCOPE,
    NETATMO_USER,
    PATCH_BODY,
    QIVIVO,
    QIVIVO_BODY,
    QIVIVO_CLIENT,
    QIVIVO_SCOPE,
    QIVIVO_TH,
    QIVIVO_USER,
    VENDOR,
    HelloServer,
    admin_token,
    refresh_chains,
    run_wrk,
    wrk_threads,
)
from emulator.launcher import ServerProcess  # noqa: E402


def serve(checkout: Path, threads: int) -> ServerProcess:
    env = {"PYTHONPATH": os.pathsep.join(p for p in (str(checkout),
                                                     os.environ.get("PYTHONPATH")) if p)}
    proc = ServerProcess("--state", "memory", "--workers", "1", "--threads", str(threads),
                         "--log-level", "warning", env=env, cwd=str(checkout),
                         admin_token="ab-admin")
    return proc.start()


NT_HOME = f"home_id={NETATMO_HOME}"
NT_SETPOINT = f"{NT_HOME}&room_id={NETATMO_ROOM}&mode=manual&temp=21"
JSON = "application/json"
# row: (vendor, path, wrk script, body, Content-Type)
ROWS: dict[str, tuple[str, str, str, str | None, str | None]] = {
    "patch": ("lightify", f"{VENDOR}/v4/devices/{DEVICE}", "patch.lua", PATCH_BODY, None),
    "devices": ("lightify", f"{VENDOR}/v4/devices", "get.lua", None, None),
    "homestatus": ("netatmo", f"{NETATMO}/api/homestatus", "post.lua", NT_HOME, FORM),
    "setpoint": ("netatmo", f"{NETATMO}/api/setroomthermpoint", "post.lua", NT_SETPOINT,
                 FORM),
    "qtemp": ("qivivo", f"{QIVIVO}{QIVIVO_TH}/temperature", "get.lua", None, None),
    "qinfo": ("qivivo", f"{QIVIVO}{QIVIVO_TH}/info", "get.lua", None, None),
    "qinstr": ("qivivo", f"{QIVIVO}{QIVIVO_TH}/temperature/temporary-instruction",
               "post.lua", QIVIVO_BODY, JSON),
    "refresh": ("lightify", f"{VENDOR}/oauth2/access_token", "refresh.lua", None, None),
}
WRK_THREADS = 2
CLIENTS = {"lightify": ("lightify-ci", "demo@lightify.test", None),
           "netatmo": (NETATMO_CLIENT, NETATMO_USER, NETATMO_SCOPE),
           "qivivo": (QIVIVO_CLIENT, QIVIVO_USER, QIVIVO_SCOPE)}


def token(server: ServerProcess, vendor: str) -> str:
    client, user, scope = CLIENTS[vendor]
    if scope is not None:   # quotas off, as bench/run.py does
        return admin_token(server.url, requests.Session(), server.headers, vendor, client,
                           user, scope)
    r = requests.post(server.url + "/_mockcloud/tokens", timeout=10, headers=server.headers,
                      json={"vendor": vendor, "client_id": client, "user": user})
    r.raise_for_status()
    return r.json()["access_token"]


def wrk_env(row: str, bearer: str) -> dict[str, str]:
    _, _, _, body, ctype = ROWS[row]
    env = {"BENCH_TOKEN": bearer}
    if body is not None:
        env["BENCH_BODY"] = body
    if ctype is not None:
        env["BENCH_CONTENT_TYPE"] = ctype
    if row == "setpoint":   # 21 and 22 degrees in turn, as bench/run.py: every one a change
        env["BENCH_BODY_ALT"] = NT_SETPOINT.replace("temp=21", "temp=22")
    return env


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--a", type=Path, default=ROOT)
    p.add_argument("--b", type=Path, required=True)
    p.add_argument("--rounds", type=int, default=8)
    p.add_argument("--duration", type=float, default=4)
    p.add_argument("--connections", type=int, default=8)
    p.add_argument("--threads", type=int, default=5)
    p.add_argument("--hello", default="bench.hello:pinned",
                   choices=("bench.hello:pinned", "bench.hello:app"),
                   help="the hello-world: its threads on one CPU, as serve runs the "
                        "emulator's (default), or anywhere")
    p.add_argument("--row", choices=sorted(ROWS), default="patch")
    args = p.parse_args(argv)
    vendor, path, script, _, _ = ROWS[args.row]
    print(f"row {args.row}: {ROWS[args.row][1]}; load average {os.getloadavg()[0]:.2f}",
          flush=True)
    scratch = tempfile.TemporaryDirectory(prefix="mockcloud-ab-")
    tmp = scratch.name
    hello = HelloServer("granian", args.threads, args.hello).start()
    servers = {"A": serve(args.a.resolve(), args.threads),
               "B": serve(args.b.resolve(), args.threads)}
    try:
        refresh = args.row == "refresh"
        env = {name: {} if refresh else wrk_env(args.row, token(s, vendor))
               for name, s in servers.items()}
        rps: dict[str, list[float]] = {"hello": [], "A": [], "B": []}
        p99: dict[str, list[float]] = {"hello": [], "A": [], "B": []}
        ratio: dict[str, list[float]] = {"A": [], "B": []}
        order = ["hello", "A", "B"]
        for rnd in range(args.rounds):
            got = {}
            for name in order[rnd % 3:] + order[:rnd % 3]:
                if name == "hello":
                    run = run_wrk(hello.url + "/", "get.lua", args.connections, WRK_THREADS,
                                  args.duration, {}, "hello", "granian")
                else:
                    if refresh:
                        folder = Path(tmp) / name
                        folder.mkdir(exist_ok=True)
                        env[name] = refresh_chains(servers[name].url, requests.Session(),
                                                   args.connections,
                                                   wrk_threads(args.connections, WRK_THREADS),
                                                   folder)
                    run = run_wrk(servers[name].url + path, script, args.connections,
                                  WRK_THREADS, args.duration, env[name], args.row, name)
                if run.failures:
                    print(name, "VOID:", run.failures, file=sys.stderr)
                got[name] = run.rps
                rps[name].append(run.rps)
                p99[name].append(run.p99_ms)
            for name in ("A", "B"):
                ratio[name].append(got[name] / got["hello"])
            print(f"round {rnd + 1}: hello {got['hello']:,.0f}  A {got['A']:,.0f} "
                  f"({ratio['A'][-1]:.0%})  B {got['B']:,.0f} ({ratio['B'][-1]:.0%});  p99 ms "
                  f"hello {p99['hello'][-1]:.2f} A {p99['A'][-1]:.2f} B {p99['B'][-1]:.2f}",
                  flush=True)
        print(f"hello median {statistics.median(rps['hello']):,.0f} req/s, "
              f"p99 {statistics.median(p99['hello']):.2f} ms")
        for name in ("A", "B"):
            print(f"{name}: median {statistics.median(rps[name]):,.0f} {args.row}/s, "
                  f"median ratio {statistics.median(ratio[name]):.1%} "
                  f"(min {min(ratio[name]):.0%}, max {max(ratio[name]):.0%}), "
                  f"median p99 {statistics.median(p99[name]):.2f} ms "
                  f"(max {max(p99[name]):.2f})")
        wins = sum(b > a for a, b in zip(ratio["A"], ratio["B"], strict=True))
        print(f"B beat A in {wins} of {args.rounds} rounds; load average "
              f"{os.getloadavg()[0]:.2f}")
    finally:
        for s in servers.values():
            s.stop()
        hello.stop()
        scratch.cleanup()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
