"""What a tenant costs a shared server, and what deleting it gives back (issue 11).

A server like a CI farm's: ``mockcloud serve`` (memory, SQLite or a Redis it starts),
then waves of tenants, each as a test of the pytest plugin uses one: a Lightify token
from the admin API, a device read, a PATCH and a Netatmo ``homesdata`` (so a token
pair per vendor, a changed device, a journal of a few exchanges). After each wave the
server's memory (RSS of its processes; on Redis, Redis' ``used_memory`` too) and the
store's size (SQLite: the file). ``--delete`` deletes each tenant after it is used
(``DELETE /_mockcloud/tenant``, as the plugin does after a test that passed): the
memory should then stay flat from wave to wave; without, it grows by what a tenant
costs::

    .venv/bin/python bench/tenants.py [--state memory|sqlite|redis] [--waves 4]
        [--per-wave 500] [--delete]

A benchmark: nothing asserts.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

import requests  # noqa: E402
from worlds import Redis, rss_mb  # noqa: E402

from emulator.launcher import ServerProcess  # noqa: E402

TOKEN = "bench-tenants"


def use(base: str, name: str, delete: bool) -> None:
    """One tenant as one test uses it."""
    http = requests.Session()
    admin = {"Authorization": f"Bearer {TOKEN}", "X-Mockcloud-Tenant": name}
    light = http.post(f"{base}/_mockcloud/tokens", headers=admin, timeout=30, json={
        "vendor": "lightify", "client_id": "lightify-ci",
        "user": "demo@lightify.test"}).json()["access_token"]
    auth = {"Authorization": f"Bearer {light}", "X-Mockcloud-Tenant": name}
    http.get(f"{base}/lightify/v4/devices/123456-d01", headers=auth, timeout=30)
    http.patch(f"{base}/lightify/v4/devices/123456-d01", json={"brightness": 7},
               headers=auth, timeout=30).raise_for_status()
    netatmo = http.post(f"{base}/_mockcloud/tokens", headers=admin, timeout=30, json={
        "vendor": "netatmo", "client_id": "netatmo-ci", "user": "dev@netatmo.test",
        "scope": "read_thermostat"}).json()["access_token"]
    http.post(f"{base}/netatmo/api/homesdata", timeout=30, headers={
        "Authorization": f"Bearer {netatmo}", "X-Mockcloud-Tenant": name}).raise_for_status()
    if delete:
        http.delete(f"{base}/_mockcloud/tenant", headers=admin, timeout=30).raise_for_status()


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--state", choices=("memory", "sqlite", "redis"), default="memory")
    p.add_argument("--waves", type=int, default=4)
    p.add_argument("--per-wave", type=int, default=500)
    p.add_argument("--delete", action="store_true", help="delete each tenant after use")
    p.add_argument("--clients", type=int, default=4, help="tenants used at once")
    args = p.parse_args(argv)
    tmp = Path(tempfile.mkdtemp(prefix="mockcloud-tenants-"))
    redis = Redis(tmp / "redis") if args.state == "redis" else None
    state = {"memory": "memory", "sqlite": f"sqlite:///{tmp / 'state.db'}"}.get(
        args.state) or redis.url("bt")
    try:
        with ServerProcess("--state", state, admin_token=TOKEN, timeout=120) as server:
            base = server.url
            use(base, "warm-up", args.delete)
            print(f"bench/tenants.py: {args.state}, {args.waves} waves of "
                  f"{args.per_wave} tenants, {'deleted after use' if args.delete else 'kept'}"
                  f"; load {os.getloadavg()[0]:.2f}", flush=True)
            print(f"{'tenants':>8} {'s/wave':>7} {'RSS MB':>8} {'+KB/tenant':>10} "
                  f"{'store MB':>9}")
            first = rss_mb(server.proc.pid)
            print(f"{0:8,} {'':>7} {first:8.1f} {'':>10} {size(args.state, tmp, redis):>9}")
            done = 0
            for wave in range(args.waves):
                started = time.perf_counter()
                names = [f"w{wave}-{i}" for i in range(args.per_wave)]
                with ThreadPoolExecutor(args.clients) as pool:
                    list(pool.map(lambda n: use(base, n, args.delete), names))
                done += args.per_wave
                rss = rss_mb(server.proc.pid)
                print(f"{done:8,} {time.perf_counter() - started:7.1f} {rss:8.1f} "
                      f"{(rss - first) * 1024 / done:10.1f} "
                      f"{size(args.state, tmp, redis):>9}", flush=True)
    finally:
        if redis is not None:
            redis.stop()
    return 0


def size(state: str, tmp: Path, redis: Redis | None) -> str:
    """The store's size: SQLite's file (with its WAL), Redis' used_memory; "" in memory."""
    if state == "sqlite":
        total = sum(f.stat().st_size for f in tmp.glob("state.db*"))
        return f"{total / 2**20:.1f}"
    if redis is not None:
        import redis as redis_py

        info = redis_py.Redis.from_url(redis.server.url).info("memory")
        return f"{info['used_memory'] / 2**20:.1f}"
    return ""


if __name__ == "__main__":
    sys.exit(main())
