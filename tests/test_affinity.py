"""A served worker runs its Python threads on one CPU (emulator/affinity.py)."""

from __future__ import annotations

import os
import threading
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
import requests

from emulator import affinity
from emulator.launcher import ServerProcess

CPUS = sorted(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else []
needs_two = pytest.mark.skipif(
    len(CPUS) < 2 or not Path("/proc/self/task").exists(),
    reason="pinning needs two CPUs this process may use and /proc")


def test_worker_cpu_spreads_workers_and_servers(monkeypatch):
    monkeypatch.setattr(os, "sched_getaffinity", lambda pid: {3, 5, 9})
    seen = {}
    for parent in (100, 101):
        monkeypatch.setattr(os, "getppid", lambda parent=parent: parent)
        for k in (1, 2, 3):
            monkeypatch.setattr(affinity, "_forks", k)
            seen[parent, k] = affinity.worker_cpu()
    # one server's three workers take the three CPUs; the next server starts elsewhere
    assert {seen[100, k] for k in (1, 2, 3)} == {3, 5, 9}
    assert seen[100, 1] != seen[101, 1]
    monkeypatch.setattr(os, "sched_getaffinity", lambda pid: {7})
    assert affinity.worker_cpu() is None   # one CPU: nothing to pin


def test_worker_cpu_without_affinity(monkeypatch):
    monkeypatch.delattr(os, "sched_getaffinity", raising=False)
    assert affinity.worker_cpu() is None


@needs_two
def test_pinned_pins_each_request_thread_once_and_nothing_else():
    cpu = CPUS[-1]
    calls = []

    def app(environ, start_response):
        calls.append(os.sched_getaffinity(0))
        start_response("200 OK", [])
        return [b"ok"]

    pinned = affinity.Pinned(app, cpu)
    before = os.sched_getaffinity(0)
    seen = []

    def request_thread():
        seen.append(os.sched_getaffinity(0))
        pinned({}, lambda *a: None)
        pinned({}, lambda *a: None)
        seen.append(os.sched_getaffinity(0))

    t = threading.Thread(target=request_thread)
    t.start()
    t.join()
    assert seen == [before, {cpu}]
    assert calls == [{cpu}, {cpu}]          # pinned before the first request runs
    assert os.sched_getaffinity(0) == before  # the caller of the test is untouched


def test_pinned_gives_the_cpu_up_after_each_request(monkeypatch):
    """After each request, answered or failed, the thread yields its CPU (so a thread
    waiting on it for the GIL runs next, not after the kernel's time slice)."""
    events = []
    monkeypatch.setattr(affinity, "_yield", lambda: events.append("yield"))

    def app(environ, start_response):
        events.append("request")
        if environ.get("fail"):
            raise RuntimeError("the app failed")
        return [b"ok"]

    pinned = affinity.Pinned(app, CPUS[-1] if CPUS else 0)
    done = []

    def request_thread():
        done.append(pinned({}, lambda *a: None))
        with pytest.raises(RuntimeError):
            pinned({"fail": True}, lambda *a: None)

    t = threading.Thread(target=request_thread)   # (the pinning stays on that thread)
    t.start()
    t.join()
    assert done == [[b"ok"]]
    assert events == ["request", "yield", "request", "yield"]


def test_serving_pins_on_several_cpus_yields_on_one_leaves_alone_without(monkeypatch):
    def app(environ, start_response):
        return [b"ok"]

    monkeypatch.setattr(os, "sched_getaffinity", lambda pid: {3, 5})
    several = affinity.serving(app)
    assert isinstance(several, affinity.Pinned) and several.cpu in (3, 5)

    # one CPU: every thread runs there anyway; no pinning, the yield all the same
    monkeypatch.setattr(os, "sched_getaffinity", lambda pid: {7})
    pinned_to = []
    monkeypatch.setattr(os, "sched_setaffinity", lambda pid, cpus: pinned_to.append(cpus),
                        raising=False)
    yields = []
    monkeypatch.setattr(affinity, "_yield", lambda: yields.append(1))
    one = affinity.serving(app)
    assert isinstance(one, affinity.Pinned) and one.cpu is None
    assert one({}, lambda *a: None) == [b"ok"]
    assert pinned_to == [] and yields == [1]

    monkeypatch.delattr(os, "sched_getaffinity")
    assert affinity.serving(app) is app


def _workers(server: ServerProcess) -> list[int]:
    """The serve process's children (granian's workers)."""
    assert server.proc is not None
    out = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except (OSError, IndexError):
            continue
        if int(fields[1]) == server.proc.pid and fields[0] != "Z":
            out.append(int(stat.parent.name))
    return out


def _single_cpu_threads(pid: int) -> set[int]:
    """The CPUs of the worker's threads that may run on one CPU only."""
    cpus = set()
    for status in Path(f"/proc/{pid}/task").glob("*/status"):
        try:
            text = status.read_text()
        except OSError:
            continue
        allowed = next(line.split(":", 1)[1].strip() for line in text.splitlines()
                       if line.startswith("Cpus_allowed_list:"))
        if allowed.isdigit():
            cpus.add(int(allowed))
    return cpus


def _load(server: ServerProcess) -> None:
    """Requests from 8 clients at once, so that every request thread serves some."""
    def one(_):
        return requests.get(f"{server.url}/lightify/v4/devices", timeout=10).status_code
    with ThreadPoolExecutor(8) as pool:
        assert set(pool.map(one, range(200))) == {401}


@needs_two
def test_a_served_worker_runs_its_request_threads_on_one_cpu():
    with ServerProcess("--threads", "4") as server:
        _load(server)
        (worker,) = _workers(server)
        pinned = _single_cpu_threads(worker)
        assert len(pinned) == 1, pinned     # its request threads, all on one CPU
        assert pinned <= set(CPUS)


@needs_two
def test_no_pin_threads_leaves_them_to_the_kernel():
    with ServerProcess("--threads", "4", "--no-pin-threads") as server:
        _load(server)
        (worker,) = _workers(server)
        assert _single_cpu_threads(worker) == set()


@needs_two
def test_two_workers_take_two_cpus(tmp_path):
    with ServerProcess("--state", f"sqlite:///{tmp_path}/s.db", "--workers", "2",
                       "--threads", "2") as server:
        for _ in range(3):   # SO_REUSEPORT spreads connections over both workers
            _load(server)
        workers = _workers(server)
        assert len(workers) == 2
        cpus = [_single_cpu_threads(w) for w in workers]
        assert all(len(c) == 1 for c in cpus), cpus
        assert cpus[0] != cpus[1]
