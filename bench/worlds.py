"""Big worlds and cheap tenants (issue 11): what a world of N homes costs.

Run from the repository root::

    .venv/bin/python bench/worlds.py [--homes 1,100,10000] [--states memory,sqlite,redis]
                                     [--connections 1,8] [--duration 5] [--worlds DIR]

For each number of homes:

1. ``mockcloud world generate --homes N`` into ``--worlds`` (default a temporary
   folder; a file already there is reused, and its generation is not timed again);
2. ``first start``: ``mockcloud serve --world FILE`` (memory) with no built world
   cached yet (it checks and builds the world in a child and caches it,
   ``core/worldcache.py``), timed from the start of the command to the first healthy
   answer; then for each state (``memory``, ``sqlite`` in a fresh file, ``redis`` on a
   ``redis-server`` started for the run) the same with the world cached (``ready s``:
   what every later start costs); ``RSS MB`` is the resident memory of the whole
   server (the granian parent and its worker, every process of its group) once ready;
3. tenant creation: the first request of 20 new tenants (``GET /_mockcloud/health``
   with ``X-Mockcloud-Tenant``, which installs the tenant's world) minus the same
   request on a tenant that exists (medians, ms);
4. the Lightify ``PATCH /v4/devices/{id}`` (token from ``POST /_mockcloud/tokens`` for
   the world's first user, one of its devices) with wrk at each concurrency, next to
   the bare Flask hello-world (``bench/hello.py``) on the same terms (``vs hello``),
   and the same user's ``GET /v4/devices`` (a listing: it reads the user's documents
   only, ``lightify.owned``).
   Only on the first state given (memory by default), unless ``--patch-all``.

A benchmark, not a test: nothing here asserts. The load average is printed.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

import requests  # noqa: E402
from run import HelloServer, run_wrk, wrk_threads  # noqa: E402

from emulator.launcher import ServerProcess  # noqa: E402

PATCH_BODY = '{"onOff":"on","brightness":42}'


def rss_mb(pgid: int) -> float:
    """Resident memory of every process in the group, MB."""
    total = 0
    for pid in os.listdir("/proc"):
        if not pid.isdigit():
            continue
        try:
            stat = Path(f"/proc/{pid}/stat").read_text()
            fields = stat.rsplit(")", 1)[1].split()
            if int(fields[2]) != pgid:          # field 5: pgrp
                continue
            for line in Path(f"/proc/{pid}/status").read_text().splitlines():
                if line.startswith("VmRSS:"):
                    total += int(line.split()[1])
        except (OSError, IndexError, ValueError):
            continue
    return total / 1024


def generate(homes: int, folder: Path) -> tuple[Path, float | None]:
    path = folder / f"world-{homes}.yaml"
    if path.exists():
        return path, None
    started = time.perf_counter()
    subprocess.run([sys.executable, "-m", "emulator.cli", "world", "generate",
                    "--homes", str(homes), "-o", str(path)], check=True, cwd=ROOT)
    return path, time.perf_counter() - started


class Redis:
    def __init__(self, folder: Path) -> None:
        from tests.redis_server import RedisServer

        self.server = RedisServer(folder)

    def url(self, name: str) -> str:
        return f"{self.server.url}?prefix={name}"

    def stop(self) -> None:
        self.server.stop()


def first_user(path: Path) -> str:
    """The first Lightify user's email in a generated world (one user a line: read
    without parsing the whole file)."""
    decoder = json.JSONDecoder()
    with open(path, encoding="utf-8") as fh:
        seen_lightify = False
        for line in fh:
            seen_lightify = seen_lightify or '"lightify"' in line
            entry = line.lstrip()
            if seen_lightify and entry.startswith('{"email"'):
                return decoder.raw_decode(entry)[0]["email"]
    raise RuntimeError(f"no Lightify user in {path}")


def tenant_ms(url: str, n: int = 20) -> tuple[float, float]:
    """(median first request on a new tenant, median request on an existing one), ms."""
    http = requests.Session()
    http.trust_env = False
    health = f"{url}/_mockcloud/health"
    http.get(health, headers={"X-Mockcloud-Tenant": "warm"}, timeout=60)
    fresh, known = [], []
    stamp = int(time.time())
    for i in range(n):
        t0 = time.perf_counter()
        r = http.get(health, headers={"X-Mockcloud-Tenant": f"b{stamp}x{i}"}, timeout=60)
        fresh.append((time.perf_counter() - t0) * 1000)
        r.raise_for_status()
        t0 = time.perf_counter()
        http.get(health, headers={"X-Mockcloud-Tenant": "warm"}, timeout=60)
        known.append((time.perf_counter() - t0) * 1000)
    return statistics.median(fresh), statistics.median(known)


def patch_target(url: str, user: str) -> tuple[str, str]:
    http = requests.Session()
    http.trust_env = False
    r = http.post(f"{url}/_mockcloud/tokens", timeout=30, json={
        "vendor": "lightify", "client_id": "lightify-ci", "user": user})
    r.raise_for_status()
    token = r.json()["access_token"]
    r = http.get(f"{url}/lightify/v4/devices", timeout=30,
                 headers={"Authorization": f"Bearer {token}"})
    r.raise_for_status()
    body = r.json()
    devices = body["devices"] if isinstance(body, dict) else body
    device = next(d["id"] for d in devices if d.get("type") == "LIGHT")
    r = http.patch(f"{url}/lightify/v4/devices/{device}", data=PATCH_BODY, timeout=30,
                   headers={"Authorization": f"Bearer {token}",
                            "Content-Type": "application/json"})
    r.raise_for_status()
    return token, f"{url}/lightify/v4/devices/{device}"


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--homes", default="1,100,10000")
    p.add_argument("--states", default="memory,sqlite,redis")
    p.add_argument("--connections", default="1,8")
    p.add_argument("--duration", type=float, default=5.0)
    p.add_argument("--worlds", help="folder of generated worlds (kept; reused)")
    p.add_argument("--patch-all", action="store_true", help="PATCH rate on every state")
    p.add_argument("--no-patch", action="store_true")
    p.add_argument("--timeout", type=float, default=900.0, help="most seconds to be ready")
    args = p.parse_args(argv)
    homes = [int(h) for h in args.homes.split(",")]
    states = [s for s in args.states.split(",") if s]
    conns = [int(c) for c in args.connections.split(",")]
    tmp = Path(tempfile.mkdtemp(prefix="mockcloud-worlds-"))
    folder = Path(args.worlds) if args.worlds else tmp
    folder.mkdir(parents=True, exist_ok=True)
    print(f"load average {os.getloadavg()[0]:.2f} {os.getloadavg()[1]:.2f} on "
          f"{os.cpu_count()} CPUs", flush=True)
    redis = Redis(tmp / "redis") if "redis" in states and shutil.which("redis-server") \
        else None
    hello = None
    rows = []
    try:
        if not args.no_patch:
            hello = HelloServer("granian", 5).start()
        for n in homes:
            path, gen_s = generate(n, folder)
            size = path.stat().st_size / 1e6
            print(f"{n} homes: {path} {size:.1f} MB, generate "
                  f"{'(reused)' if gen_s is None else f'{gen_s:.1f} s'}", flush=True)
            user = first_user(path)
            home = tmp / f"home-{n}"        # its own cache: the first start builds
            server = ServerProcess("--world", str(path), "--state", "memory", "--workers",
                                   "1", "--log-level", "warning", timeout=args.timeout,
                                   home=home)
            t0 = time.perf_counter()
            server.start()
            first = time.perf_counter() - t0
            assert server.proc is not None
            first_rss = rss_mb(server.proc.pid)
            server.stop()
            print(f"  first start {first:6.2f} s (builds and caches the world; RSS "
                  f"{first_rss:.1f} MB)", flush=True)
            for i, state in enumerate(states):
                if state == "sqlite":
                    url = f"sqlite:///{tmp}/state-{n}.db"
                elif state == "redis":
                    if redis is None:
                        print("  redis: skipped (no redis-server)")
                        continue
                    url = redis.url(f"w{n}")
                else:
                    url = state
                server = ServerProcess("--world", str(path), "--state", url, "--workers", "1",
                                       "--log-level", "warning", timeout=args.timeout,
                                       home=home)
                t0 = time.perf_counter()
                server.start()
                ready = time.perf_counter() - t0
                try:
                    time.sleep(0.5)
                    assert server.proc is not None
                    rss = rss_mb(server.proc.pid)
                    new_ms, known_ms = tenant_ms(server.url)
                    row = {"homes": n, "state": state, "generate_s": gen_s,
                           "first_start_s": round(first, 2),
                           "ready_s": round(ready, 2), "rss_mb": round(rss, 1),
                           "tenant_ms": round(new_ms - known_ms, 2)}
                    print(f"  {state:6} ready {ready:6.2f} s  RSS {rss:7.1f} MB  new tenant "
                          f"{new_ms - known_ms:6.2f} ms (first request {new_ms:.2f} ms, "
                          f"known tenant {known_ms:.2f} ms)", flush=True)
                    if hello is not None and (i == 0 or args.patch_all):
                        token, target = patch_target(server.url, user)
                        for c in conns:
                            threads = wrk_threads(c, os.cpu_count() or 2)
                            h = run_wrk(hello.url + "/", "get.lua", c, threads,
                                        args.duration, {}, "hello", "granian")
                            r = run_wrk(target, "patch.lua", c, threads, args.duration,
                                        {"BENCH_TOKEN": token, "BENCH_BODY": PATCH_BODY},
                                        "PATCH", "mockcloud")
                            ratio = r.rps / h.rps if h.rps else 0.0
                            void = " VOID: " + "; ".join(r.failures) if r.void else ""
                            row[f"patch_rps_c{c}"] = round(r.rps)
                            row[f"patch_vs_hello_c{c}"] = round(ratio, 3)
                            print(f"    PATCH c={c}: {r.rps:8.0f} req/s  p50 {r.p50_ms:.2f} ms"
                                  f"  hello {h.rps:8.0f} req/s  vs hello {ratio:5.0%}{void}",
                                  flush=True)
                            # a listing: the user's devices, whatever the world's size
                            g = run_wrk(f"{server.url}/lightify/v4/devices", "get.lua", c,
                                        threads, args.duration, {"BENCH_TOKEN": token},
                                        "GET devices", "mockcloud")
                            void = " VOID: " + "; ".join(g.failures) if g.void else ""
                            row[f"devices_rps_c{c}"] = round(g.rps)
                            row[f"devices_vs_hello_c{c}"] = round(g.rps / h.rps if h.rps
                                                                  else 0.0, 3)
                            print(f"    GET /v4/devices c={c}: {g.rps:8.0f} req/s  p50 "
                                  f"{g.p50_ms:.2f} ms  vs hello "
                                  f"{g.rps / h.rps if h.rps else 0.0:5.0%}{void}", flush=True)
                    rows.append(row)
                finally:
                    server.stop()
    finally:
        if hello is not None:
            hello.stop()
        if redis is not None:
            redis.stop()
        shutil.rmtree(tmp, ignore_errors=True)
    print(f"load average after {os.getloadavg()[0]:.2f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
