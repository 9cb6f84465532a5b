"""A big world built by several processes (issue 11): the same base as one process
builds (documents, index, bytes, digest), and a bad entry, even in a late user, still
refused with the message that names it, the first in the world's order.

No timing is asserted here (``bench/worlds.py`` measures): behaviour only."""

from __future__ import annotations

import contextlib
import functools
import os
import signal
import subprocess
import sys
import time

import orjson
import pytest

from emulator.app import VENDORS
from emulator.core import world, worldcache
from emulator.generate import generate

HOMES = 400          # > worldcache.AUTO_BYTES of JSON: serve builds it in parallel
VENDOR_MAP = {v.name: v for v in VENDORS}


@functools.lru_cache(maxsize=1)
def _generated() -> bytes:
    return generate(homes=HOMES, seed=3).encode()


def _data() -> dict:
    return world.parse(_generated())


def _write(path, data: dict, lines: bool = False) -> str:
    """The world as JSON: on one line, or one section a line as ``world generate``
    writes it (which the build splits into its sections, world.split)."""
    if lines:
        path.write_bytes(b"{" + b",\n".join(orjson.dumps(k) + b": " + orjson.dumps(v)
                                            for k, v in data.items()) + b"}\n")
    else:
        path.write_bytes(orjson.dumps(data))
    return str(path)


def test_the_generated_world_is_big_enough_to_be_built_in_parallel():
    assert len(_generated()) >= worldcache.AUTO_BYTES


@pytest.mark.parametrize("jobs", [2, 3, 8])
def test_several_processes_build_the_same_base_as_one(tmp_path, jobs):
    src = tmp_path / "w.json"
    src.write_bytes(_generated())
    one = worldcache.build(src, VENDOR_MAP, 0, 1)
    many = worldcache.build(src, VENDOR_MAP, 0, jobs)
    assert many.digest == one.digest
    assert many.docs == one.docs
    assert [list(keys) for keys in many.docs.values()] == \
        [list(keys) for keys in one.docs.values()]           # the base's order too
    assert bytes(many._buf) == bytes(one._buf)
    # and the documents one process builds with no parts (the digest names the parts)
    from emulator.core.store import Base
    whole = Base(world.build(world.read_file(src), VENDOR_MAP, 0))
    assert whole.docs == one.docs and bytes(whole._buf) == bytes(one._buf)
    kind, keys = next(iter(one.docs.items()))
    key = next(iter(keys))
    assert many.snapshot(kind, key) == one.snapshot(kind, key) is not None


def _bad(data: dict, vendor: str) -> str:
    """Spoil the last user of a vendor; the message a world build gives for it."""
    last = data[vendor]["users"][-1]
    if vendor == "netatmo":
        last["id"] = "not-hex"
        return f"netatmo.users[{HOMES - 1}].id must be 24 hex digits"
    if vendor == "qivivo":
        last["house"]["timezone"] = "Mars/Olympus"
        return f"qivivo.users[{HOMES - 1}].house.timezone 'Mars/Olympus'"
    last["devices"] = 3
    return f"lightify.users[{HOMES - 1}].devices must be a list"


@pytest.mark.parametrize("lines", [False, True])
@pytest.mark.parametrize("spoilt", [("netatmo",), ("qivivo",), ("lightify",),
                                    ("netatmo", "qivivo"), ("qivivo", "lightify")])
def test_a_late_bad_entry_is_named_as_one_process_names_it(tmp_path, spoilt, lines):
    data = _data()
    assert list(data)[1:4] == ["lightify", "netatmo", "qivivo"]
    wanted = [_bad(data, vendor) for vendor in spoilt]
    first = min(wanted, key=lambda m: ["lightify", "netatmo", "qivivo"].index(m.split(".")[0]))
    src = _write(tmp_path / "bad.json", data, lines)
    messages = []
    saved = tmp_path / "saved"
    saved.mkdir()
    for jobs in (1, 2, 3):
        for into in (None, saved / "w.base"):
            with pytest.raises(world.WorldError) as err:
                worldcache.build(src, VENDOR_MAP, 0, jobs, into=into)
            messages.append(str(err.value))
    assert first in messages[0]
    assert messages == [messages[0]] * 6
    assert list(saved.iterdir()) == []          # nothing written is left behind


@pytest.mark.parametrize("jobs", [1, 2, 3])
def test_a_base_saved_as_its_parts_come_is_the_same_world(tmp_path, jobs):
    """``into``: each process writes the parts it made into the saved file as it makes
    them (where the file has room: in the order they come), the index last. The same
    digest, documents and order as the base one process builds in memory, mapped from
    the file, which loads back the same."""
    from emulator.core.store import Base

    src = tmp_path / "w.json"
    src.write_bytes(_generated())
    one = worldcache.build(src, VENDOR_MAP, 0, 1)
    out = tmp_path / "saved" / "w.base"
    out.parent.mkdir()
    saved = worldcache.build(src, VENDOR_MAP, 0, jobs, into=out)
    for base in (saved, Base.load(out)):
        assert base.path == out and base.digest == one.digest and base.size == one.size
        assert [list(keys) for keys in base.docs.values()] == \
            [list(keys) for keys in one.docs.values()]
        assert all(base.raw(kind, key) == one.raw(kind, key)
                   for kind, keys in one.docs.items() for key in keys)
    assert [p.name for p in out.parent.iterdir()] == ["w.base"]


def test_a_split_world_that_is_not_json_is_refused_as_a_whole(tmp_path):
    """A world split into its sections (one a line), its first section with a bad
    entry and its last not JSON: refused for what the whole text is, not JSON (YAML's
    message), by one process or several; a split that does not hold (a member broken
    over lines) builds the world of the whole text."""
    data = _data()
    _bad(data, "lightify")
    src = tmp_path / "bad.json"
    text = _write(src, data, lines=True)
    src.write_bytes(src.read_bytes().rstrip()[:-2] + b",}\n")     # a comma too many
    messages = []
    for jobs in (1, 2, 3):
        with pytest.raises(world.WorldError) as err:
            worldcache.build(text, VENDOR_MAP, 0, jobs)
        messages.append(str(err.value))
    assert "is not valid YAML/JSON" in messages[0] and messages == [messages[0]] * 3
    good = _data()
    one = worldcache.build(_write(tmp_path / "w.json", good), VENDOR_MAP, 0, 1)
    odd = tmp_path / "odd.json"          # Lightify's users start a line of their own
    _write(odd, good, lines=True)
    lightify = orjson.dumps(good["lightify"])
    at = lightify.index(b'"users":')
    odd.write_bytes(odd.read_bytes().replace(lightify,
                                             lightify[:at] + b"\n" + lightify[at:]))
    assert b'\n"users":' in odd.read_bytes()
    for jobs in (2, 3):
        assert worldcache.build(str(odd), VENDOR_MAP, 0, jobs).digest == one.digest


def test_serve_refuses_a_big_world_with_a_late_bad_entry_by_name(tmp_path):
    data = _data()
    wanted = _bad(data, "qivivo")
    src = _write(tmp_path / "bad.json", data)
    for cache in ("on", "off"):
        proc = subprocess.run(
            [sys.executable, "-m", "emulator.cli", "serve", "--port", "0", "--world", src,
             "--world-cache", cache], capture_output=True, text=True, timeout=120,
            env={**os.environ, "MOCKCLOUD_HOME": str(tmp_path / "home")})
        assert proc.returncode == 2, proc.stderr
        assert wanted in proc.stderr and "Traceback" not in proc.stderr
    assert not list((tmp_path / "home").rglob("*.base"))


def test_serve_checks_a_big_world_while_the_server_starts(tmp_path):
    """A big world is checked while granian starts its worker (which imports the app
    meanwhile and builds it once the check has passed): served whole, the last user of
    each vendor there, the world built once (the worker maps what the check saved)."""
    import requests

    from emulator.launcher import ServerProcess
    from emulator.testing import Admin

    data = _data()
    src = _write(tmp_path / "w.json", data)
    home = tmp_path / "home"
    with ServerProcess("--world", src, home=home, timeout=300) as server:
        admin = Admin(server.url)
        last = data["lightify"]["users"][-1]["email"]
        token = admin.issue_token("lightify", "lightify-ci", last)["access_token"]
        r = requests.get(admin.url("lightify") + "/v4/devices/", timeout=30,
                         headers={"Authorization": f"Bearer {token}"})
        assert r.status_code == 200, r.text
        want = {d["id"] for d in data["lightify"]["users"][-1]["devices"]}
        assert want and {d["id"] for d in r.json()["devices"]} >= want
        assert server.log_path is not None
        assert server.log_path.read_text().count("mockcloud listening on") == 1
    assert len(list((home / "worlds").glob("*.base"))) == 1


def _group(pgid: int) -> list[int]:
    """The live processes of a process group (zombies are gone)."""
    out = []
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                with open(f"/proc/{entry}/stat") as fh:
                    fields = fh.read().rsplit(")", 1)[1].split()
            except OSError:
                continue
            if int(fields[2]) == pgid and fields[0] != "Z":
                out.append(int(entry))
    return out


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="reads /proc")
def test_serve_stopped_while_it_checks_a_big_world_leaves_no_process(tmp_path):
    """SIGTERM to serve alone while the check runs and its worker waits for it: serve
    ends, and so do the checking child, its helper and the worker (none builds on, or
    waits for an answer, for ever)."""
    src = tmp_path / "w.json"
    src.write_bytes(_generated())
    proc = subprocess.Popen(
        [sys.executable, "-m", "emulator.cli", "serve", "--port", "0", "--world", str(src)],
        env={**os.environ, "MOCKCLOUD_HOME": str(tmp_path / "home")},
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, start_new_session=True)
    try:
        # serve, its checking child, the child's helper and granian's worker
        deadline = time.monotonic() + 120
        while len(_group(proc.pid)) < 4 and proc.poll() is None \
                and time.monotonic() < deadline:
            time.sleep(0.01)
        assert len(_group(proc.pid)) >= 4, proc.stderr.read() if proc.poll() else ""
        os.kill(proc.pid, signal.SIGTERM)
        proc.wait(120)
        deadline = time.monotonic() + 60
        while _group(proc.pid) and time.monotonic() < deadline:
            time.sleep(0.05)
        assert not _group(proc.pid)
        assert b"listening" not in proc.stdout.read()
    finally:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGKILL)
        proc.wait()
