"""Where the tail latency comes from (issue 11): inside the app or outside it.

Serves the emulator and the hello-world under granian as ``bench/run.py`` does (one
worker, ``--threads`` blocking threads, the Python threads on one CPU), each wrapped
by ``bench/tailprobe.py``, and loads each row with wrk. For each row it prints what the
client saw (req/s, p50, p99) beside what the served worker measured inside the app
for the same requests: wall time and CPU time per request (p50, p99, p99.9) and the
cycle collector's passes (count, total and longest pause, by generation). A p99 the
client sees far above the app's wall p99 comes from outside the app; an app wall
p99 far above its CPU p99 is waiting inside the app::

    .venv/bin/python bench/tail.py [--duration 6] [--rounds 2] [--connections 8]

Each emulator row has a twin, run right after it: the hello-world spending the
row's mean CPU per request in the app before it answers (``GET /work?us=N``, N the
row's mean CPU less what ``GET /work?us=0`` spends). In a closed loop the requests queued ahead
of one are what it waits for, so a p99 grows with what a request costs; a row's p99
beside its twin's tells the tail it owes to its cost from a tail it adds.

Rows: the hello-world's ``GET /`` and the same PATCH as the emulator's (it reads the
body), Lightify's devices, PATCH and token refresh, Netatmo's homestatus, 1,024-point
getmeasure and set point, and Qivivo's temporary instruction and temperature read.
The emulator runs on its defaults (in-memory state, the default world, journal on),
loaded as ``mockcloud serve`` loads it (``emulator.wsgi:app``), with no admin token.
Figures, not a test: the machine's other load shows in the client's p99 first.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
from pathlib import Path
from statistics import median as med

import requests

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from bench import run as R  # noqa: E402


def serve(target: str, threads: int) -> R.HelloServer:
    """``bench/tailprobe.py``'s ``target`` under granian, as run.py serves its servers."""
    return R.HelloServer("granian", threads, target, ready="/_tailprobe", expect=None).start()


def gc_cell(probes: list[dict], g: str, mean: bool = False) -> str:
    """Collections of generation ``g``: median count (and mean pause), longest pause."""
    n = med(s["gc"][g]["count"] for s in probes)
    worst = max(s["gc"][g]["max_ms"] for s in probes)
    if not mean:
        return f"{n:.0f}/{worst:.1f}"
    total = med(s["gc"][g]["total_ms"] for s in probes)
    return f"{n:.0f}/{total / n if n else 0:.2f}/{worst:.1f}"


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--duration", type=float, default=6.0, help="seconds per wrk run")
    p.add_argument("--rounds", type=int, default=2, help="rounds over every row (medians)")
    p.add_argument("--connections", type=int, default=8)
    p.add_argument("--threads", type=int, default=2 * (os.cpu_count() or 1) + 1,
                   help="granian's blocking threads (serve's default: 2 x CPUs + 1)")
    p.add_argument("--twins", action=argparse.BooleanOptionalAction, default=True,
                   help="after each emulator row, the hello-world spending the same CPU "
                        "per request (default on)")
    args = p.parse_args(argv)
    servers: list[R.HelloServer] = []
    try:
        servers.append(serve("bench.tailprobe:emulator", args.threads))
        servers.append(serve("bench.tailprobe:hello", args.threads))
        emu, hello = servers[0].url, servers[1].url
        http = requests.Session()
        tokens = R.oauth_tokens(emu, http)
        bearer = tokens["access_token"]
        ntoken, nbodies, _ = R.netatmo_setup(emu, http, {})
        qtoken = R.qivivo_setup(emu, http, {})
        tmp = tempfile.TemporaryDirectory(prefix="mockcloud-tail-")
        conns = args.connections
        wrk_threads = R.wrk_threads(conns, 2)

        def refresh_env() -> dict[str, str]:
            return R.refresh_chains(emu, http, conns, wrk_threads, Path(tmp.name))

        setpoint = nbodies[R.SETPOINT]
        rows = [
            ("hello-world GET /", hello, hello + "/", "get.lua", dict),
            ("hello-world, the same PATCH", hello, hello + "/", "patch.lua",
             lambda: {"BENCH_TOKEN": bearer, "BENCH_BODY": R.PATCH_BODY}),
            ("GET /v4/devices", emu, f"{emu}{R.VENDOR}/v4/devices", "get.lua",
             lambda: {"BENCH_TOKEN": bearer}),
            ("PATCH /v4/devices/{id}", emu, f"{emu}{R.VENDOR}/v4/devices/{R.DEVICE}",
             "patch.lua", lambda: {"BENCH_TOKEN": bearer, "BENCH_BODY": R.PATCH_BODY}),
            ("POST refresh_token", emu, f"{emu}{R.VENDOR}/oauth2/access_token",
             "refresh.lua", refresh_env),
            ("netatmo homestatus", emu, f"{emu}{R.NETATMO}/api/homestatus", "post.lua",
             lambda: {"BENCH_TOKEN": ntoken, "BENCH_BODY": nbodies[R.HOMESTATUS]}),
            ("netatmo getmeasure 1024 pts", emu, f"{emu}{R.NETATMO}/api/getmeasure",
             "post.lua", lambda: {"BENCH_TOKEN": ntoken, "BENCH_BODY": nbodies[R.GETMEASURE]}),
            ("netatmo setroomthermpoint", emu, f"{emu}{R.NETATMO}/api/setroomthermpoint",
             "post.lua", lambda: {"BENCH_TOKEN": ntoken, "BENCH_BODY": setpoint,
                                  "BENCH_BODY_ALT": setpoint.replace("temp=21", "temp=22")}),
            ("qivivo temporary instruction", emu,
             f"{emu}{R.QIVIVO}{R.QIVIVO_TH}/temperature/temporary-instruction", "post.lua",
             lambda: {"BENCH_TOKEN": qtoken, "BENCH_BODY": R.QIVIVO_BODY,
                      "BENCH_CONTENT_TYPE": "application/json"}),
            ("qivivo temperature", emu, f"{emu}{R.QIVIVO}{R.QIVIVO_TH}/temperature",
             "get.lua", lambda: {"BENCH_TOKEN": qtoken}),
        ]
        print(f"bench/tail.py: {conns} connections, {args.duration:g} s x {args.rounds} "
              f"rounds, granian 1 worker, {args.threads} threads on one CPU; load "
              f"{os.getloadavg()[0]:.2f} on {os.cpu_count()} CPUs", flush=True)
        R.run_wrk(hello + "/", "get.lua", 2, 1, 2, {}, "warmup", "")
        seen: dict[str, list[tuple[R.Run, dict]]] = {name: [] for name, *_ in rows}
        # each emulator row's twin: the hello-world spending the row's mean CPU
        # (GET /work?us=N), run right after it
        twins: dict[str, list[tuple[R.Run, dict]]] = {}

        def measured(name: str, base: str, url: str, script: str,
                     env: dict[str, str]) -> tuple[R.Run, dict]:
            requests.get(base + "/_tailprobe", timeout=10)   # starts the count
            run = R.run_wrk(url, script, conns, wrk_threads, args.duration, env, name, "")
            if run.void:
                raise RuntimeError(f"{name}: {run.failures}")
            return run, requests.get(base + "/_tailprobe", timeout=10).json()

        # what GET /work costs with nothing to spend (its route, its query, its clock
        # reads): a twin spends the row's mean CPU less this
        own = measured("GET /work?us=0", hello, f"{hello}/work?us=0", "get.lua",
                       {})[1]["cpu"]["mean"] if args.twins else 0.0
        for _ in range(args.rounds):
            for name, base, url, script, env in rows:
                seen[name].append(measured(name, base, url, script, env()))
                if base == emu and args.twins:
                    extra = seen[name][-1][1]["cpu"]["mean"] - own
                    twins.setdefault(name, []).append(measured(
                        f"twin of {name}", hello,
                        f"{hello}/work?us={max(0, round(extra * 1000))}", "get.lua", {}))
    finally:
        for server in servers:
            server.stop()

    head = (f"{'row':30} {'req/s':>7} {'p50':>6} {'p99':>6} | {'app wall p50':>12} "
            f"{'p99':>6} {'p99.9':>6} {'cpu p99':>7} | {'gc0 n/mean/max ms':>19} "
            f"{'gc1 n/max':>10} {'gc2 n/max':>10}")
    print("\nthe client's (wrk) latency and the app's, in ms; medians over rounds; gc "
          "per run")
    print(head)
    print("-" * len(head))
    for name, got in seen.items():
        runs, probes = [r for r, _ in got], [s for _, s in got]
        print(f"{name:30} {med(r.rps for r in runs):7,.0f} "
              f"{med(r.p50_ms for r in runs):6.2f} {med(r.p99_ms for r in runs):6.2f} | "
              f"{med(s['wall']['p50'] for s in probes):12.3f} "
              f"{med(s['wall']['p99'] for s in probes):6.2f} "
              f"{med(s['wall']['p999'] for s in probes):6.2f} "
              f"{med(s['cpu']['p99'] for s in probes):7.3f} | {gc_cell(probes, '0', True):>19} "
              f"{gc_cell(probes, '1'):>10} {gc_cell(probes, '2'):>10}")
    if twins:
        print("\neach emulator row beside its twin: the hello-world (GET /work?us=N) "
              "spending the row's\nmean CPU per request in the app, run right after it "
              "(ms; medians over rounds)")
        head = (f"{'row':30} {'cpu mean':>8} {'p50':>6} {'p99':>6} | {'twin cpu':>8} "
                f"{'p50':>6} {'p99':>6} | {'p99 - twin':>10}")
        print(head)
        print("-" * len(head))
        for name, got in twins.items():
            mine = seen[name]
            row_p99 = med(r.p99_ms for r, _ in mine)
            twin_p99 = med(r.p99_ms for r, _ in got)
            print(f"{name:30} {med(s['cpu']['mean'] for _, s in mine):8.3f} "
                  f"{med(r.p50_ms for r, _ in mine):6.2f} {row_p99:6.2f} | "
                  f"{med(s['cpu']['mean'] for _, s in got):8.3f} "
                  f"{med(r.p50_ms for r, _ in got):6.2f} {twin_p99:6.2f} | "
                  f"{row_p99 - twin_p99:+10.2f}")
    print(f"load average after: {os.getloadavg()[0]:.2f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
