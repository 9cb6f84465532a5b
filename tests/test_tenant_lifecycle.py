"""A tenant's end (issue 11: a server shared by many pipelines): ``DELETE
/_mockcloud/tenant``, and ``--tenant-idle`` deleting the tenants nobody has named (and
no webhook delivery has reached) for a while, on every store; over HTTP against real
servers (SQLite, Redis with two servers, a real webhook receiver).

No timing is asserted: the idle tests wait for what must happen, with a bound."""

from __future__ import annotations

import threading
import time

import pytest
import requests

from emulator.core import idle as idle_mod
from emulator.core.idle import KIND, Idle
from emulator.core.store import LAYER_KEY, LAYER_KIND
from emulator.core.tenancy import SYSTEM
from emulator.launcher import ServerProcess
from tests import test_core_units

store = test_core_units.store      # the fixture: each test on every store


class Clock:
    def __init__(self) -> None:
        self.now = 1_000.0

    def __call__(self) -> float:
        return self.now


def _tenant(store, name: str) -> None:
    """A tenant as the app makes one: its marker and a document of its own."""
    store.put(name, LAYER_KIND, LAYER_KEY, {"base": None})
    store.put(name, "dev", "d1", {"on": True})


@pytest.fixture
def clock(monkeypatch) -> Clock:
    c = Clock()
    monkeypatch.setattr(idle_mod, "real_time", c)
    return c


def test_idle_tenants_go_and_busy_ones_stay(store, clock):
    sweeper = Idle(store, 100, store.clear)
    assert sweeper.every == 10
    for name in ("idle", "busy"):
        _tenant(store, name)
        sweeper.seen(name)
    clock.now += 60
    sweeper.seen("busy")
    assert sweeper.sweep() == []
    clock.now += 50                         # idle: 110 s; busy: 50 s
    assert sweeper.sweep() == ["idle"]
    assert store.get("idle", "dev", "d1") is None and store.get("busy", "dev", "d1")
    assert sorted(t for t in store.tenants() if t != SYSTEM) == ["busy"]
    # another process's sweeper a moment later finds it taken: deletes nothing
    assert Idle(store, 100, store.clear).sweep() == []
    # the note stays one more period, marked swept, then goes with no tenant behind it
    assert store.get(SYSTEM, KIND, "idle")["swept"] is True
    clock.now += 101
    sweeper.seen("busy")
    assert sweeper.sweep() == [] and store.get(SYSTEM, KIND, "idle") is None


def test_a_tenant_made_again_without_a_note_is_deleted_when_idle(store, clock):
    """A tenant made again by a process that does not note it (it noted it less than
    ``every`` ago, e.g. before an admin deleted it; or its clock is behind) goes once
    it is idle in its turn."""
    sweeper = Idle(store, 100, store.clear)
    _tenant(store, "t")
    sweeper.seen("t")
    clock.now += 101
    assert sweeper.sweep() == ["t"]
    _tenant(store, "t")                     # made again, not noted
    assert store.get(SYSTEM, KIND, "t")["swept"] is True
    clock.now += 101
    assert sweeper.sweep() == ["t"] and store.get("t", "dev", "d1") is None


def test_tenants_from_before_are_noted_at_the_first_sweep(store, clock):
    _tenant(store, "old")
    sweeper = Idle(store, 100, store.clear)
    assert sweeper.sweep() == [] and store.get(SYSTEM, KIND, "old") == {"at": clock.now}
    clock.now += 101
    assert sweeper.sweep() == ["old"]


def test_a_note_with_no_tenant_behind_it_goes_quietly(store, clock):
    sweeper = Idle(store, 100, store.clear)
    _tenant(store, "t")
    sweeper.seen("t")
    store.clear("t")                        # deleted through the admin API
    clock.now += 101
    assert sweeper.sweep() == [] and store.get(SYSTEM, KIND, "t") is None


def test_tenants_nobody_noted_are_noted_every_tenth_sweep(store, clock):
    sweeper = Idle(store, 100, store.clear)
    sweeper.sweep()
    _tenant(store, "late")                  # made by a server without the setting
    for _ in range(9):
        sweeper.sweep()
    assert store.get(SYSTEM, KIND, "late") is None
    sweeper.sweep()
    assert store.get(SYSTEM, KIND, "late") == {"at": clock.now}


def test_a_tenant_is_noted_once_per_period_per_process(store, clock):
    sweeper = Idle(store, 100, store.clear)
    sweeper.seen("t")
    first = store.get(SYSTEM, KIND, "t")
    clock.now += 9
    sweeper.seen("t")
    assert store.get(SYSTEM, KIND, "t") == first
    clock.now += 1
    sweeper.seen("t")
    assert store.get(SYSTEM, KIND, "t") == {"at": clock.now}


@pytest.mark.parametrize("bad", [0, -1, float("nan")])
def test_an_idle_time_must_be_positive(bad):
    with pytest.raises(ValueError, match="tenant_idle"):
        Idle(None, bad, print)


def _admin(server, tenant: str):
    from emulator.testing import Admin
    return Admin(server.url, tenant, token=server.admin_token)


def _listed(server) -> set[str]:
    return set(requests.get(server.url + "/_mockcloud/health", timeout=30,
                            headers=server.headers).json()["tenants"])


@pytest.mark.parametrize("backend", ["sqlite", "redis"])
def test_served_tenants_idle_for_a_while_go(backend, tmp_path, request):
    """``mockcloud serve --tenant-idle 2``: a tenant nobody calls goes (its token is
    refused, its device is the world's again, it is no longer listed) while another,
    called all along (on the other server, on Redis), stays as it was."""
    if backend == "redis":
        from tests.redis_server import fresh_prefix
        state = fresh_prefix(request.getfixturevalue("redis_url"))
    else:
        state = f"sqlite:///{tmp_path / 'state.db'}"
    args = ("--state", state, "--tenant-idle", "2")
    with ServerProcess(*args, admin_token="idle-t0k", timeout=120) as one, \
            ServerProcess(*args, admin_token="idle-t0k", timeout=120) as two:
        handles = {}
        for name, server in (("quiet", one), ("busy", two)):
            handle = _admin(server, name).vendor("lightify")
            patched = requests.patch(handle.base_url + "/v4/devices/123456-d01",
                                     json={"brightness": 7}, headers=handle.headers,
                                     timeout=30)
            assert patched.status_code == 200, patched.text
            handles[name] = handle
        stop = threading.Event()

        def keep_busy() -> None:
            while not stop.wait(0.2):
                requests.get(handles["busy"].base_url + "/v4/devices/123456-d01",
                             headers=handles["busy"].headers, timeout=30)

        busy = threading.Thread(target=keep_busy, daemon=True)
        busy.start()
        try:
            deadline = time.monotonic() + 60
            while "quiet" in _listed(one) and time.monotonic() < deadline:
                time.sleep(0.3)
        finally:
            stop.set()
            busy.join()
        assert "quiet" not in _listed(one) and "busy" in _listed(two)
        quiet, still = handles["quiet"], handles["busy"]
        assert requests.get(quiet.base_url + "/v4/devices", headers=quiet.headers,
                            timeout=30).status_code == 401
        assert requests.get(still.base_url + "/v4/devices/123456-d01",
                            headers=still.headers, timeout=30).json()["brightness"] == 7
        again = _admin(one, "quiet").vendor("lightify")   # named again: a new tenant
        assert requests.get(again.base_url + "/v4/devices/123456-d01",
                            headers=again.headers, timeout=30).json()["brightness"] != 7


def test_a_deleted_tenant_starts_afresh_when_named_again(tmp_path):
    with ServerProcess("--state", f"sqlite:///{tmp_path / 'state.db'}",
                       admin_token="del-t0k") as server:
        admin = _admin(server, "gone")
        handle = admin.vendor("lightify")
        requests.patch(handle.base_url + "/v4/devices/123456-d01", json={"brightness": 7},
                       headers=handle.headers, timeout=30)
        assert admin.delete_tenant() == {"status": "deleted", "tenant": "gone"}
        assert "gone" not in _listed(server)
        assert requests.get(handle.base_url + "/v4/devices", headers=handle.headers,
                            timeout=30).status_code == 401
        # (the refused call above named it again: its journal holds that call only)
        entries = admin.journal()
        assert [e["request"]["method"] for e in entries] == ["GET"]
        fresh = admin.vendor("lightify")
        assert requests.get(fresh.base_url + "/v4/devices/123456-d01",
                            headers=fresh.headers, timeout=30).json()["brightness"] != 7


def test_serve_refuses_a_bad_idle_time():
    import subprocess
    import sys
    done = subprocess.run([sys.executable, "-m", "emulator.cli", "serve", "--port", "0",
                           "--tenant-idle", "-5"], capture_output=True, text=True,
                          timeout=60, stdin=subprocess.DEVNULL)
    assert done.returncode == 2 and "--tenant-idle" in done.stderr
    assert "Traceback" not in done.stderr


def test_a_deleted_tenant_leaves_nothing_in_redis_but_expiring_write_ids(request):
    """What a shared Redis keeps of a tenant deleted after it was used (a token, a
    write, its journal, a quota count): the write ids of the last minute, which expire,
    and its name in the registry of tenants until the next listing; nothing else."""
    import redis
    from werkzeug.test import Client

    from emulator.app import create_app
    from emulator.settings import Settings
    from tests.redis_server import fresh_prefix

    url = fresh_prefix(request.getfixturevalue("redis_url"))
    prefix = url.rsplit("prefix=", 1)[1]
    app = create_app(Settings.from_env(state=url))
    http = Client(app)
    try:
        tenant = {"X-Mockcloud-Tenant": "used"}
        token = http.post("/_mockcloud/tokens", headers=tenant, json={
            "vendor": "netatmo", "client_id": "netatmo-ci", "user": "dev@netatmo.test",
            "scope": "read_thermostat write_thermostat"}).get_json()["access_token"]
        auth = {**tenant, "Authorization": f"Bearer {token}"}
        assert http.post("/netatmo/api/homesdata", headers=auth).status_code == 200
        r = redis.Redis.from_url(url.split("?")[0])
        used = {k.decode() for k in r.scan_iter(f"{prefix}:{{used}}:*")}
        assert any(":d:" in k for k in used) and any(":r:" in k for k in used), used
        assert http.delete("/_mockcloud/tenant", headers=tenant).status_code == 200
        left = {k.decode() for k in r.scan_iter(f"{prefix}:{{used}}:*")}
        assert left and all(k.startswith(f"{prefix}:{{used}}:w:") for k in left), left
        assert all(0 < r.ttl(k) <= 120 for k in left)
        assert "used" not in app.store.tenants()
        assert not r.sismember(f"{prefix}:tenants", "used")   # (the listing took it out)
        # named again: listed again
        assert http.get("/_mockcloud/clock", headers=tenant).status_code == 200
        app.store.REGISTER_EVERY = 0
        assert http.post("/_mockcloud/clock/freeze", headers=tenant, json={}).status_code == 200
        assert "used" in app.store.tenants()
    finally:
        app.store.close()


def test_a_tenant_its_webhooks_reach_stays_and_one_whose_receiver_is_gone_goes(tmp_path):
    """A sandbox that only listens is in use: under ``--tenant-idle 3``, a tenant whose
    Netatmo webhook keeps receiving pushes (its receiver answers 200) outlives three
    idle periods without a request, and goes once the pushes stop; a tenant whose
    receiver refuses every push goes as one nobody calls. (The idle period is 3 s
    against pushes every half second: a busy machine's pauses do not make it.)"""
    from clients.netatmo import NetatmoClient, WebhookReceiver
    from tests.netatmo_http import CI, USER

    seconds = 9.0     # pushes every half second for this long: three idle periods
    with ServerProcess("--state", f"sqlite:///{tmp_path / 'state.db'}", "--tenant-idle",
                       "3", admin_token="idle-t0k", timeout=120) as server, \
            WebhookReceiver() as heard, WebhookReceiver() as deaf:
        for name, receiver in (("heard", heard), ("deaf", deaf)):
            admin = _admin(server, name)
            token = admin.issue_token("netatmo", CI[0], USER, "read_camera")["access_token"]
            client = NetatmoClient(*CI, admin.url("netatmo"), token={"access_token": token})
            assert client.addwebhook(receiver.url, "app_security")["status"] == "ok"
            assert receiver.wait(1, timeout=30)                 # the activation push
            now = admin.now()
            for k in range(1, int(seconds * 2) + 1):
                admin.push("netatmo", USER, {"push_type": "NACamera-movement", "n": k},
                           at=now + k / 2)
        deaf.answer(*[500] * 1000)
        start = time.monotonic()
        while "deaf" in _listed(server) and time.monotonic() < start + 60:
            time.sleep(0.3)
        assert "deaf" not in _listed(server)
        while time.monotonic() < start + seconds - 1:       # the pushes still coming
            assert "heard" in _listed(server), heard.push_types()
            time.sleep(0.3)
        while "heard" in _listed(server) and time.monotonic() < start + 60:
            time.sleep(0.3)
        assert "heard" not in _listed(server)                 # then it idles out too
        got = [p.get("n") for p in heard.pushes if p.get("push_type") != "webhook_activation"]
        assert len(got) >= seconds * 2 - 4, got
