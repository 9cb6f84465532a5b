"""Tenants over a shared base world (copy on write, issue 11) on every store, and the
first sight of a tenant by two processes at once (claim-then-install).

No timing is asserted here (bench/worlds.py measures): behaviour only."""

from __future__ import annotations

import multiprocessing

import pytest
from werkzeug.test import Client

from emulator.core import world
from emulator.core.store import Base, SqliteStore
from tests import test_core_units

store = test_core_units.store      # the fixture: each test on every store

ROWS = [("dev", "d1", {"id": "d1", "on": False}), ("dev", "d2", {"id": "d2", "on": False}),
        ("dev", "d3", {"id": "d3", "on": True, "pad": "x" * 600}),   # packed in the base
        ("user", "u", {"id": "u"})]


def _based(store, *tenants) -> Base:
    base = store.add_base(Base(ROWS))
    for t in tenants:
        assert world.claim(store, t, base, "test", 0.0)
        assert not world.claim(store, t, base, "test", 1.0)   # claimed once only
    return base


def test_tenants_read_the_shared_base(store):
    base = _based(store, "a", "b")
    assert store.get("a", "dev", "d1") == {"id": "d1", "on": False}
    assert store.get("b", "dev", "d3")["pad"] == "x" * 600
    assert store.count("a", "dev") == 3
    assert [k for k, _ in store.list("a", "dev")] == ["d1", "d2", "d3"]
    # a base document's snapshot is one parsed document for every tenant
    assert store.snapshot("a", "dev", "d1") is store.snapshot("b", "dev", "d1")
    # a tenant that claimed no base sees nothing of it; the base holds no tenant data
    assert store.get("c", "dev", "d1") is None and store.count("c", "dev") == 0
    assert store.tenants() == ["a", "b"]
    assert Base(ROWS).digest == base.digest and Base(ROWS[:2]).digest != base.digest


def test_writes_stay_in_their_tenant(store):
    base = _based(store, "a", "b")
    store.update("a", "dev", "d1", lambda d: {**d, "on": True})
    store.put("a", "dev", "d9", {"id": "d9"})
    assert store.get("a", "dev", "d1")["on"] is True
    assert store.get("b", "dev", "d1")["on"] is False
    assert base.snapshot("dev", "d1") == {"id": "d1", "on": False}
    assert store.snapshot("a", "dev", "d1") is not store.snapshot("b", "dev", "d1")
    assert store.count("a", "dev") == 4 and store.count("b", "dev") == 3
    assert dict(store.list("a", "dev"))["d9"] == {"id": "d9"}
    assert "d9" not in dict(store.list("b", "dev"))


def test_delete_hides_the_base_document_in_its_tenant_only(store):
    _based(store, "a", "b")
    assert store.delete("a", "dev", "d2")
    assert not store.delete("a", "dev", "d2")
    assert store.get("a", "dev", "d2") is None and store.snapshot("a", "dev", "d2") is None
    assert store.get("b", "dev", "d2") is not None
    assert [k for k, _ in store.list("a", "dev")] == ["d1", "d3"]
    assert store.count("a", "dev") == 2 and store.count("b", "dev") == 3
    # an update sees the deletion, and may bring the document back
    seen = []
    store.update("a", "dev", "d2", lambda d: seen.append(d) or {"id": "d2", "back": 1})
    assert seen == [None] and store.get("a", "dev", "d2") == {"id": "d2", "back": 1}
    # an update answering None deletes a base document too
    store.update("a", "dev", "d3", lambda d: None)
    assert store.get("a", "dev", "d3") is None and store.count("a", "dev") == 2
    assert store.get("b", "dev", "d3") is not None
    # an update on a document absent everywhere writes nothing
    assert store.update("a", "dev", "nope", lambda d: None) is None
    assert store.count("a", "dev") == 2


def test_clear_restores_the_base_view(store):
    base = _based(store, "a")
    store.update("a", "dev", "d1", lambda d: {**d, "on": True})
    store.delete("a", "dev", "d2")
    store.clear("a")
    assert store.get("a", "dev", "d1") is None         # no world until claimed again
    assert world.claim(store, "a", base, "test", 2.0)
    assert store.get("a", "dev", "d1") == {"id": "d1", "on": False}
    assert store.count("a", "dev") == 3


def test_a_loaded_world_replaces_the_base_for_its_tenant(store):
    _based(store, "a", "b")
    world.install(store, "a", [("dev", "x", {"id": "x"})], "admin API", 3.0)
    assert store.list("a", "dev") == [("x", {"id": "x"})]
    assert store.get("a", "dev", "d1") is None and store.count("a", "dev") == 1
    assert store.count("b", "dev") == 3


def test_a_tenant_claimed_by_another_build_keeps_its_changes_over_the_base_served(store):
    """A state kept across an upgrade (or an edit of the world file): the tenant's
    marker names a base this process never built. It sees its own documents over the
    base served now, not its own documents alone; a world loaded through the admin API
    (no base) is still the tenant's own only."""
    old = Base(ROWS)                            # built by the version before: not added
    assert world.claim(store, "a", old, "test", 0.0)
    store.put("a", "dev", "d1", {"id": "d1", "on": True})
    world.install(store, "b", [("dev", "x", {"id": "x"})], "admin API", 1.0)
    store.add_base(Base([*ROWS, ("dev", "d4", {"id": "d4", "on": False})]))
    assert store.get("a", "dev", "d1") == {"id": "d1", "on": True}
    assert store.get("a", "dev", "d4") == {"id": "d4", "on": False}
    assert [k for k, _ in store.list("a", "dev")] == ["d1", "d2", "d3", "d4"]
    assert store.list("b", "dev") == [("x", {"id": "x"})]


def test_an_upgraded_server_keeps_a_sqlite_tenant_and_its_changes(tmp_path):
    """The same through HTTP: a SQLite state written by a server whose world was
    built otherwise (here: the world file edited) serves the tenant's devices and keeps
    the device it changed."""
    from emulator.app import create_app
    from emulator.settings import DEFAULT_WORLD, Settings

    edited = tmp_path / "edited.yaml"
    edited.write_text(DEFAULT_WORLD.read_text().replace("name: Living room", "name: Lounge", 1))
    assert edited.read_text() != DEFAULT_WORLD.read_text()
    state = f"sqlite:///{tmp_path}/state.db"
    admin = {"vendor": "lightify", "client_id": "lightify-ci", "user": "demo@lightify.test"}
    seen = []
    for world_file in (DEFAULT_WORLD, edited):
        app = create_app(Settings.from_env(state=state, world=str(world_file)))
        http = Client(app)
        token = http.post("/_mockcloud/tokens", json=admin).get_json()["access_token"]
        auth = {"Authorization": f"Bearer {token}"}
        devices = {d["id"]: d for d in http.get("/lightify/v4/devices",
                                                headers=auth).get_json()["devices"]}
        light = next(i for i, d in sorted(devices.items()) if "brightness" in d)
        if not seen:
            assert http.patch(f"/lightify/v4/devices/{light}", json={"brightness": 7},
                              headers=auth).status_code == 200
        seen.append((app.world_base.digest, devices.keys(),
                     http.get(f"/lightify/v4/devices/{light}", headers=auth).get_json()))
        app.store.close()
    (before, ids, light_before), (after, ids_after, light_after) = seen
    assert before != after and ids and ids_after == ids
    assert light_before["brightness"] == light_after["brightness"] == 7


def test_http_tenants_share_the_base_and_reset_restores_it():
    from emulator.app import create_app
    from emulator.settings import Settings

    app = create_app(Settings.from_env(state="memory"))
    http = Client(app)
    admin = {"vendor": "lightify", "client_id": "lightify-ci", "user": "demo@lightify.test"}

    def devices(tenant: str) -> dict:
        token = http.post("/_mockcloud/tokens", json=admin,
                          headers={"X-Mockcloud-Tenant": tenant}).get_json()["access_token"]
        got = http.get("/lightify/v4/devices", headers={
            "X-Mockcloud-Tenant": tenant, "Authorization": f"Bearer {token}"})
        return token, {d["id"]: d for d in got.get_json()["devices"]}

    token, before = devices("ta")
    light = next(i for i, d in before.items() if "brightness" in d)
    r = http.patch(f"/lightify/v4/devices/{light}", json={"brightness": 7}, headers={
        "X-Mockcloud-Tenant": "ta", "Authorization": f"Bearer {token}"})
    assert r.status_code == 200, r.get_data(as_text=True)
    assert devices("ta")[1][light]["brightness"] == 7
    assert devices("tb")[1][light]["brightness"] == before[light]["brightness"]
    assert http.post("/_mockcloud/reset", json={},
                     headers={"X-Mockcloud-Tenant": "ta"}).status_code == 200
    assert devices("ta")[1][light]["brightness"] == before[light]["brightness"]
    assert app.store.count("ta", "lightify.device") == len(app.world_base.docs[
        "lightify.device"])


# ------------------------------------------------------- first sight, two processes

TENANTS = 40


def _racer(url: str, name: str, barrier, out) -> None:
    """Each round: both processes see tenant tN for the first time at once (a barrier),
    each answers one write (a token) right after its ensure_world."""
    try:
        from emulator.app import create_app
        from emulator.settings import Settings

        app = create_app(Settings.from_env(state=url))
        for i in range(TENANTS):
            barrier.wait(30)
            app.ensure_world(f"t{i}", 0.0)
            app.store.put(f"t{i}", "token", name, {"who": name})
        app.store.close()
        out.put((name, None))
    except BaseException as exc:   # reported to the parent
        out.put((name, repr(exc)))


def _race(url: str) -> None:
    ctx = multiprocessing.get_context("spawn")
    barrier, out = ctx.Barrier(2), ctx.Queue()
    procs = [ctx.Process(target=_racer, args=(url, n, barrier, out)) for n in ("p1", "p2")]
    for p in procs:
        p.start()
    results = dict(out.get(timeout=300) for _ in procs)
    for p in procs:
        p.join(30)
    assert results == {"p1": None, "p2": None}


@pytest.mark.parametrize("backend", ["sqlite", "redis"])
def test_two_processes_on_a_fresh_tenant_lose_no_answered_write(backend, tmp_path, request):
    if backend == "redis":
        from emulator.core.redis_store import RedisStore
        from tests.redis_server import fresh_prefix

        url = fresh_prefix(request.getfixturevalue("redis_url"))
        check = RedisStore(url)
    else:
        url = f"sqlite:///{tmp_path}/race.db"
        check = None
    _race(url)
    if check is None:
        check = SqliteStore(str(tmp_path / "race.db"))
    try:
        for i in range(TENANTS):
            tokens = dict(check.list(f"t{i}", "token"))
            assert tokens == {"p1": {"who": "p1"}, "p2": {"who": "p2"}}, f"t{i}: {tokens}"
            assert check.count(f"t{i}", world.META_KIND) == 1
    finally:
        check.close()


# ------------------------------------------------------- the built worlds' cache

def test_a_saved_base_maps_back_the_same(tmp_path):
    base = Base(ROWS)
    base.save(tmp_path / "w.base")
    back = Base.load(tmp_path / "w.base")
    assert back.digest == base.digest and back.size == base.size
    for kind, key, doc in ROWS:
        assert back.raw(kind, key) == base.raw(kind, key)
        assert back.snapshot(kind, key) == doc
    assert back.merged("dev", [], ordered=True) == base.merged("dev", [], ordered=True)
    assert back.raw("dev", "nope") is None and not back.has("user", "d1")
    Base().save(tmp_path / "empty.base")
    assert Base.load(tmp_path / "empty.base").docs == {}


def test_a_damaged_base_file_is_refused(tmp_path):
    Base(ROWS).save(tmp_path / "w.base")
    data = (tmp_path / "w.base").read_bytes()
    for name, bad in (("cut", data[:-5]), ("foreign", b"{}" + data), ("empty", b"")):
        (tmp_path / name).write_bytes(bad)
        with pytest.raises(ValueError):
            Base.load(tmp_path / name)


def _settings(tmp_path, world_file, mode="on"):
    from emulator.settings import Settings

    return Settings.from_env(world=str(world_file), home=str(tmp_path / "home"),
                             world_cache=mode)


def test_the_world_cache_maps_what_a_first_build_saved(tmp_path, monkeypatch):
    from emulator.app import VENDORS
    from emulator.core import worldcache
    from emulator.settings import DEFAULT_WORLD

    vendors = {v.name: v for v in VENDORS}
    src = tmp_path / "w.yaml"
    src.write_bytes(DEFAULT_WORLD.read_bytes())
    built = worldcache.base_for(_settings(tmp_path, src), vendors)
    saved = list((tmp_path / "home" / "worlds").glob("*.base"))
    assert len(saved) == 1
    calls = []
    monkeypatch.setattr(worldcache, "build", lambda *a, **kw: calls.append(a) or built)
    again = worldcache.base_for(_settings(tmp_path, src), vendors)
    assert calls == [] and again.digest == built.digest
    assert again.snapshot("lightify.user", "demo@lightify.test") == \
        built.snapshot("lightify.user", "demo@lightify.test")
    # other vendors, or an edited file, build again
    worldcache.base_for(_settings(tmp_path, src), {**vendors, "x": VENDORS[0]})
    src.write_bytes(src.read_bytes() + b"\n# edited\n")
    worldcache.base_for(_settings(tmp_path, src), vendors)
    assert len(calls) == 2
    monkeypatch.undo()
    # a damaged cache file builds again (and is replaced)
    saved[0].write_bytes(saved[0].read_bytes()[:100])
    src.write_bytes(DEFAULT_WORLD.read_bytes())
    assert worldcache.base_for(_settings(tmp_path, src), vendors).digest == built.digest
    # off (or auto on a small file) never writes
    for mode in ("off", "auto"):
        home = tmp_path / mode
        worldcache.base_for(_settings(home, src, mode), vendors)
        assert not (home / "home" / "worlds").exists()
    with pytest.raises(ValueError):
        worldcache.base_for(_settings(tmp_path, src, "sometimes"), vendors)


def test_a_bad_world_is_not_cached(tmp_path):
    from emulator.app import VENDORS
    from emulator.core import worldcache

    src = tmp_path / "bad.yaml"
    src.write_text("lightify: {users: [{email: a@b.c, devices: 3}]}\n")
    with pytest.raises(world.WorldError):
        worldcache.base_for(_settings(tmp_path, src), {v.name: v for v in VENDORS})
    assert not list((tmp_path / "home").rglob("*.base"))


def test_serve_builds_the_world_once_and_workers_map_it(tmp_path):
    from emulator.launcher import ServerProcess
    from emulator.settings import DEFAULT_WORLD

    src = tmp_path / "w.yaml"
    src.write_bytes(DEFAULT_WORLD.read_bytes())
    home = tmp_path / "home"
    for _ in range(2):
        with ServerProcess("--world", str(src), "--world-cache", "on", home=home,
                           timeout=120) as server:
            import requests

            r = requests.get(server.url + "/_mockcloud/world", timeout=30,
                             headers=server.headers)
            assert r.status_code == 200 and "lightify" in r.json()
    assert len(list((home / "worlds").glob("*.base"))) == 1


@pytest.mark.parametrize("backend", ["sqlite", "redis"])
def test_servers_of_one_store_with_different_worlds_say_so(backend, tmp_path, request):
    """Two servers on one store, started with different world files (a
    misconfiguration: a tenant would see a different world on each): the second says
    so in its log, and the first's health answer says so while both run; servers of
    one world say nothing."""
    import requests

    from emulator.launcher import ServerProcess
    from emulator.settings import DEFAULT_WORLD

    if backend == "redis":
        from tests.redis_server import fresh_prefix
        state = fresh_prefix(request.getfixturevalue("redis_url"))
    else:
        state = f"sqlite:///{tmp_path / 'state.db'}"
    edited = tmp_path / "edited.yaml"
    edited.write_text(DEFAULT_WORLD.read_text().replace("name: Living room", "name: Lounge", 1))

    from tests.contract_files import ContractFiles
    files = ContractFiles("admin")
    schema = files.schema_files()[files.schema_dir / "health.json"]

    def health(server):
        body = requests.get(server.url + "/_mockcloud/health", timeout=30).json()
        assert not list(files.validator(schema, schema["$id"]).iter_errors(body)), body
        return body

    with ServerProcess("--state", state, timeout=120) as first, \
            ServerProcess("--state", state, timeout=120) as same:
        assert "warnings" not in health(first) and "warnings" not in health(same)
        assert "another world" not in first.log_tail() + same.log_tail()
        with ServerProcess("--state", state, "--world", str(edited), timeout=120) as other:
            assert "this store was last served with another world" in other.log_tail()
            assert str(edited) in other.log_tail()
            assert "warnings" not in health(other)
            warning, = health(first)["warnings"]
            assert "another server on this store serves another world" in warning
            assert str(edited) in warning
