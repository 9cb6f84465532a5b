"""Interleaved A/B of what building a big world costs one process (issue 11): two
checkouts build one world file in turn, each in a fresh process with one job (no
parallel build: its CPU is the build's, not the scheduler's) and saved to a file, as
``serve`` caches it. Per build: the CPU time (user + system) and the wall time of the
build and save, and the imports before it. Complements ``first_start.py``, whose wall
time is the whole start on every core and moves with whatever else the host runs::

    .venv/bin/python bench/world_build.py --world /tmp/w10k.yaml --a . --b /tmp/base \
        [--rounds 4]

A benchmark: nothing asserts.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys

# run in the checkout's own tree (cwd and PYTHONPATH); an older checkout's build takes
# no ``into`` and is saved after it
CODE = r"""
import inspect, os, resource, sys, tempfile, time
t0 = time.perf_counter()
from emulator.app import VENDORS
from emulator.core import worldcache
out = os.path.join(tempfile.mkdtemp(prefix="world-build-"), "w.base")
into = "into" in inspect.signature(worldcache.build).parameters
t1, r0 = time.perf_counter(), resource.getrusage(resource.RUSAGE_SELF)
kw = {"into": out} if into else {}
base = worldcache.build(sys.argv[1], {v.name: v for v in VENDORS}, 0, jobs=1, **kw)
if not into:
    base.save(out)
r1, t2 = resource.getrusage(resource.RUSAGE_SELF), time.perf_counter()
os.unlink(out)
cpu = r1.ru_utime + r1.ru_stime - r0.ru_utime - r0.ru_stime
print(f"{cpu:.3f} {t2 - t1:.3f} {t1 - t0:.3f}")
"""


def build(tree: str, world: str) -> tuple[float, float, float]:
    out = subprocess.run([sys.executable, "-c", CODE, world], cwd=tree, text=True,
                         capture_output=True, env={**os.environ, "PYTHONPATH": tree})
    if out.returncode:
        raise SystemExit(out.stderr)
    cpu, wall, imports = (float(x) for x in out.stdout.split())
    return cpu, wall, imports


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--world", required=True)
    p.add_argument("--a", required=True, help="checkout A")
    p.add_argument("--b", required=True, help="checkout B")
    p.add_argument("--rounds", type=int, default=4)
    args = p.parse_args()
    world = os.path.abspath(args.world)
    sides = {"A": os.path.abspath(args.a), "B": os.path.abspath(args.b)}
    cpus: dict[str, list[float]] = {k: [] for k in sides}
    for r in range(args.rounds):
        order = ["A", "B"] if r % 2 == 0 else ["B", "A"]
        for side in order:
            cpu, wall, imports = build(sides[side], world)
            cpus[side].append(cpu)
            print(f"round {r + 1} {side}: build CPU {cpu:.2f} s  wall {wall:.2f} s  "
                  f"(imports {imports:.2f} s)  load {os.getloadavg()[0]:.1f}", flush=True)
    for side, values in cpus.items():
        print(f"{side}: median build CPU {statistics.median(values):.2f} s "
              f"(min {min(values):.2f})")


if __name__ == "__main__":
    main()
