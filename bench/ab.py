"""Interleaved A/B of the authenticated PATCH: two checkouts side by side, one hello-world.

On a shared, noisy machine two benchmark runs minutes apart do not compare; this runs
the variants round-robin, a few seconds each, many rounds, and compares medians::

    .venv/bin/python bench/ab.py --b /path/to/other/checkout [--a .] [--rounds 8]
                                 [--duration 4] [--connections 8]

Each checkout is served by ``python -m emulator.cli serve`` with its own tree first on
``PYTHONPATH`` (same interpreter, same installed dependencies), in-memory state, one
worker, ``--threads`` as given; the hello-world is ``bench/hello.py`` under granian as in
``bench/run.py``. Each round runs wrk against the hello-world, A and B in a rotating
order, then prints per variant the median req/s and the median of the per-round ratios
to the hello-world. Tokens come from ``POST /_mockcloud/tokens``.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

import requests  # noqa: E402

from bench.run import DEVICE, PATCH_BODY, VENDOR, HelloServer, run_wrk  # noqa: E402
from emulator.launcher import ServerProcess  # noqa: E402


def serve(checkout: Path, threads: int) -> ServerProcess:
    env = {"PYTHONPATH": os.pathsep.join(p for p in (str(checkout),
                                                     os.environ.get("PYTHONPATH")) if p)}
    proc = ServerProcess("--state", "memory", "--workers", "1", "--threads", str(threads),
                         "--log-level", "warning", env=env, cwd=str(checkout),
                         admin_token="ab-admin")
    return proc.start()


def token(server: ServerProcess) -> str:
    r = requests.post(server.url + "/_mockcloud/tokens", timeout=10, headers=server.headers,
                      json={"vendor": "lightify", "client_id": "lightify-ci",
                            "user": "demo@lightify.test"})
    r.raise_for_status()
    return r.json()["access_token"]


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--a", type=Path, default=ROOT)
    p.add_argument("--b", type=Path, required=True)
    p.add_argument("--rounds", type=int, default=8)
    p.add_argument("--duration", type=float, default=4)
    p.add_argument("--connections", type=int, default=8)
    p.add_argument("--threads", type=int, default=5)
    args = p.parse_args(argv)
    hello = HelloServer("granian", args.threads).start()
    servers = {"A": serve(args.a.resolve(), args.threads),
               "B": serve(args.b.resolve(), args.threads)}
    try:
        env = {name: {"BENCH_TOKEN": token(s), "BENCH_BODY": PATCH_BODY}
               for name, s in servers.items()}
        rps: dict[str, list[float]] = {"hello": [], "A": [], "B": []}
        ratio: dict[str, list[float]] = {"A": [], "B": []}
        order = ["hello", "A", "B"]
        for rnd in range(args.rounds):
            got = {}
            for name in order[rnd % 3:] + order[:rnd % 3]:
                if name == "hello":
                    run = run_wrk(hello.url + "/", "get.lua", args.connections, 2,
                                  args.duration, {}, "hello", "granian")
                else:
                    url = f"{servers[name].url}{VENDOR}/v4/devices/{DEVICE}"
                    run = run_wrk(url, "patch.lua", args.connections, 2, args.duration,
                                  env[name], "PATCH", name)
                if run.failures:
                    print(name, "VOID:", run.failures, file=sys.stderr)
                got[name] = run.rps
                rps[name].append(run.rps)
            for name in ("A", "B"):
                ratio[name].append(got[name] / got["hello"])
            print(f"round {rnd + 1}: hello {got['hello']:,.0f}  A {got['A']:,.0f} "
                  f"({ratio['A'][-1]:.0%})  B {got['B']:,.0f} ({ratio['B'][-1]:.0%})",
                  flush=True)
        print(f"hello median {statistics.median(rps['hello']):,.0f} req/s")
        for name in ("A", "B"):
            print(f"{name}: median {statistics.median(rps[name]):,.0f} PATCH/s, "
                  f"median ratio {statistics.median(ratio[name]):.1%} "
                  f"(min {min(ratio[name]):.0%}, max {max(ratio[name]):.0%})")
        wins = sum(b > a for a, b in zip(ratio["A"], ratio["B"], strict=True))
        print(f"B beat A in {wins} of {args.rounds} rounds")
    finally:
        for s in servers.values():
            s.stop()
        hello.stop()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
