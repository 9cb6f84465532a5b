"""PATCH rate with 1 and 2 workers on one Redis (issue 11's scale-out figure).

A real ``redis-server`` (no persistence) on a free port, then ``mockcloud serve --state
redis://... --workers N`` for each N in ``--workers`` (one server at a time, each on
its own key prefix), driven by wrk with the authenticated Lightify PATCH at
``--connections``; per N the median of ``--repeat`` runs, and the ratio to one worker.
The target: 2 workers >= 1.5 x 1 worker on the 2-CPU machine. ``--no-pin-threads``
serves the workers with their threads anywhere (``serve``'s default pins each worker's
Python threads to a CPU of its own, ``emulator/affinity.py``)::

    .venv/bin/python bench/workers.py [--workers 1,2] [--repeat 3] [--duration 5]
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import uuid
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
for p in (ROOT, ROOT / "tests"):
    if str(p) not in sys.path:
        sys.path.insert(0, str(p))

import requests  # noqa: E402
from redis_server import RedisServer  # noqa: E402

from bench.run import DEVICE, PATCH_BODY, VENDOR, oauth_tokens, run_wrk, wrk_threads  # noqa: E402
from emulator.launcher import ServerProcess  # noqa: E402


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--workers", default="1,2")
    p.add_argument("--connections", type=int, default=8)
    p.add_argument("--repeat", type=int, default=3)
    p.add_argument("--duration", type=float, default=5)
    p.add_argument("--pin-threads", dest="pin", action=argparse.BooleanOptionalAction,
                   default=True)
    args = p.parse_args(argv)
    counts = [int(n) for n in args.workers.split(",")]
    rates: dict[int, list[float]] = {}
    with tempfile.TemporaryDirectory(prefix="mockcloud-workers-") as tmp:
        redis = RedisServer(Path(tmp) / "redis")
        try:
            for n in counts:
                url = f"{redis.url}?prefix=w{uuid.uuid4().hex[:8]}"
                extra = () if args.pin else ("--no-pin-threads",)
                with ServerProcess("--state", url, "--workers", str(n), *extra) as server:
                    token = oauth_tokens(server.url, requests.Session())["access_token"]
                    env = {"BENCH_TOKEN": token, "BENCH_BODY": PATCH_BODY}
                    target = f"{server.url}{VENDOR}/v4/devices/{DEVICE}"
                    run_wrk(target, "patch.lua", 2, 1, 2, env, "warmup", "")
                    for _ in range(args.repeat):
                        run = run_wrk(target, "patch.lua", args.connections,
                                      wrk_threads(args.connections, 2), args.duration, env,
                                      "PATCH", "mockcloud")
                        if run.failures:
                            print(f"{n} worker(s): VOID: {'; '.join(run.failures)}")
                            return 1
                        rates.setdefault(n, []).append(run.rps)
                        print(f"{n} worker(s): {run.rps:,.0f} PATCH/s, p99 "
                              f"{run.p99_ms:.1f} ms", flush=True)
        finally:
            redis.stop()
    base = statistics.median(rates[counts[0]])
    for n in counts:
        med = statistics.median(rates[n])
        print(f"{n} worker(s) on Redis: median {med:,.0f} PATCH/s at {args.connections} "
              f"connections = {med / base:.2f} x {counts[0]} worker(s)")
    print(f"load average {os.getloadavg()[0]:.2f} ({os.cpu_count()} CPUs)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
