"""Unit tests of the core pieces that need no server."""

from __future__ import annotations

import gc
import threading

import pytest

from emulator.core.clock import Clock, parse_instant
from emulator.core.quotas import QuotaConfig, QuotaRule, Quotas
from emulator.core.store import MemoryStore, SqliteStore, open_store
from emulator.generate import generate
from emulator.settings import Settings


@pytest.fixture(params=["memory", "sqlite", "redis"])
def store(request, tmp_path):
    if request.param == "redis":
        from emulator.core.redis_store import RedisStore
        from tests.redis_server import fresh_prefix

        s = RedisStore(fresh_prefix(request.getfixturevalue("redis_url")))
    else:
        s = MemoryStore() if request.param == "memory" else SqliteStore(str(tmp_path / "s.db"))
    yield s
    s.close()


def test_store_crud_and_isolation(store):
    store.put("a", "k", "1", {"x": 1})
    store.put("b", "k", "1", {"x": 2})
    assert store.get("a", "k", "1") == {"x": 1}
    assert store.get("b", "k", "1") == {"x": 2}
    assert store.count("a", "k") == 1
    assert store.list("a", "k") == [("1", {"x": 1})]
    assert store.delete("a", "k", "1") and not store.delete("a", "k", "1")
    assert store.get("a", "k", "1") is None
    store.clear("b")
    assert store.tenants() == []


def test_store_returns_copies(store):
    store.put("t", "k", "1", {"x": [1]})
    doc = store.get("t", "k", "1")
    doc["x"].append(2)
    assert store.get("t", "k", "1") == {"x": [1]}


def test_store_snapshots_are_shared_until_the_document_changes(store):
    assert store.snapshot("t", "k", "1") is None
    store.put("t", "k", "1", {"x": [1]})
    first = store.snapshot("t", "k", "1")
    assert first == {"x": [1]} and store.snapshot("t", "k", "1") is first
    store.update("t", "k", "1", lambda d: {"x": d["x"] + [2]})
    assert store.snapshot("t", "k", "1") == {"x": [1, 2]}
    store.put("u", "k", "1", {"x": 0})                       # tenants apart
    assert store.snapshot("u", "k", "1") == {"x": 0}
    store.delete("t", "k", "1")
    assert store.snapshot("t", "k", "1") is None


def test_a_changed_snapshot_is_caught_in_check_mode(monkeypatch, tmp_path):
    monkeypatch.setenv("MOCKCLOUD_CHECK_SNAPSHOTS", "1")
    for store in (MemoryStore(), SqliteStore(str(tmp_path / "c.db"))):
        store.put("t", "k", "1", {"x": [1]})
        store.snapshot("t", "k", "1")["x"].append(2)          # a caller's mistake
        with pytest.raises(AssertionError, match="changed the snapshot"):
            store.snapshot("t", "k", "1")
        assert store.get("t", "k", "1") == {"x": [1]}         # the stored value is safe
        store.close()


def test_update_shared_writes_a_new_document_and_keeps_it_parsed(store):
    store.put("t", "k", "1", {"x": [1], "big": {"y": 2}})
    before = store.snapshot("t", "k", "1")
    new = store.update_shared("t", "k", "1",
                              lambda d: {**d, "x": [*d["x"], 2]})   # shares "big"
    assert store.get("t", "k", "1") == {"x": [1, 2], "big": {"y": 2}}
    assert before == {"x": [1], "big": {"y": 2}}                    # left as it was
    if isinstance(store, MemoryStore):        # the written document is the snapshot now
        assert store.snapshot("t", "k", "1") is new and new["big"] is before["big"]
    assert store.update_shared("t", "k", "2", lambda d: {"n": d is None}) == {"n": True}
    assert store.update_shared("t", "k", "2", lambda d: None) is None
    assert store.get("t", "k", "2") is None


def test_update_shared_that_changes_its_input_is_caught_in_check_mode(monkeypatch):
    monkeypatch.setenv("MOCKCLOUD_CHECK_SNAPSHOTS", "1")
    store = MemoryStore()
    store.put("t", "k", "1", {"x": [1]})
    store.snapshot("t", "k", "1")

    def wrong(doc):
        doc["x"].append(2)                    # changes the shared snapshot: a bug
        return doc

    with pytest.raises(AssertionError, match="changed the snapshot"):
        store.update_shared("t", "k", "1", wrong)


def test_answers_are_kept_while_what_they_read_is_unchanged(store, monkeypatch):
    from emulator.core.answers import Answers
    from emulator.core.context import Ctx

    monkeypatch.delenv("MOCKCLOUD_CHECK_SNAPSHOTS", raising=False)   # count the runs

    ctx, answers, runs = Ctx(store=store, tenant="t", settings=Settings()), Answers("t", 8), []

    def total(kind: str = "k") -> int:
        runs.append(kind)
        return sum(ctx.store.snapshot("t", kind, k)["n"] for k in ("a", "b"))

    store.put("t", "k", "a", {"n": 1})
    store.put("t", "k", "b", {"n": 2})
    assert answers.get_or_compute(ctx, "x", total) == 3
    assert answers.get_or_compute(ctx, "x", total) == 3 and len(runs) == 1   # kept
    store.update("t", "k", "b", lambda d: {"n": 5})                    # a read changed
    assert answers.get_or_compute(ctx, "x", total) == 6 and len(runs) == 2
    store.put("t", "other", "z", {"n": 9})                             # not read: kept
    assert answers.get_or_compute(ctx, "x", total) == 6 and len(runs) == 2
    assert ctx.store is store                           # the recording is taken off

    def listed() -> int:                                # read some other way: not kept
        runs.append("list")
        return len(ctx.store.list("t", "k"))

    assert answers.get_or_compute(ctx, "y", listed) == 2
    assert answers.get_or_compute(ctx, "y", listed) == 2 and runs.count("list") == 2


def test_store_update_is_atomic_across_threads(store):
    def bump():
        for _ in range(200):
            store.update("t", "c", "n", lambda d: {"n": (d or {"n": 0})["n"] + 1})

    threads = [threading.Thread(target=bump) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert store.get("t", "c", "n") == {"n": 800}


def test_store_update_to_none_deletes(store):
    store.put("t", "k", "1", {"x": 1})
    assert store.update("t", "k", "1", lambda d: None) is None
    assert store.get("t", "k", "1") is None


def test_open_store_urls(tmp_path):
    assert isinstance(open_store("memory"), MemoryStore)
    assert isinstance(open_store(f"sqlite:///{tmp_path}/x.db"), SqliteStore)
    assert isinstance(open_store("sqlite://:memory:"), SqliteStore)
    for bad in ("redis://", "redis://127.0.0.1:1/0", "sqlite://", "postgres:///x"):
        with pytest.raises(ValueError):
            open_store(bad)


def test_sqlite_persists(tmp_path):
    path = str(tmp_path / "p.db")
    s = SqliteStore(path)
    s.put("t", "k", "1", {"v": "é"})
    s.close()
    assert SqliteStore(path).get("t", "k", "1") == {"v": "é"}


def test_clock_frozen_and_offset(store):
    clock = Clock(store, "t")
    st = clock.freeze(1000.0)
    assert st.frozen_at == 1000.0 and clock.now() == 1000.0
    clock.advance(3600)
    assert clock.now() == 4600.0
    clock.resume()
    a = clock.now()
    assert 4600.0 <= a < 4700.0
    clock.advance(10)
    assert clock.now() >= a + 10
    clock.set(50.0)
    assert 50.0 <= clock.now() < 60.0


def test_parse_instant():
    assert parse_instant(5) == 5.0
    assert parse_instant("2030-01-01T00:00:00Z") == 1893456000.0
    for bad in ("2030-01-01T00:00:00", "soon", True, None, [1]):
        with pytest.raises(ValueError):
            parse_instant(bad)


def test_quota_windows(store):
    q = Quotas(store, "t")
    cfg = QuotaConfig(enabled=True, rules=[QuotaRule("r", "client", 2, 10)])
    keys = {"client": "c"}
    assert [q.hit("v", cfg, keys, 100.0).allowed for _ in range(3)] == [True, True, False]
    res = q.hit("v", cfg, keys, 105.0)
    assert not res.allowed and res.headers["Retry-After"] == "5"
    assert q.hit("v", cfg, keys, 110.0).allowed
    assert q.hit("v", cfg, {"client": "other"}, 105.0).allowed


@pytest.mark.parametrize("raw", [{"rules": [{"key": "client", "limit": 0, "window": 1}]},
                                 {"rules": "x"}, {"enabled": "yes"}, {"status": 200}, []])
def test_quota_config_validation(raw):
    with pytest.raises(ValueError):
        QuotaConfig.parse(raw)


def test_settings_env_precedence():
    s = Settings.from_env({"MOCKCLOUD_PORT": "9000", "MOCKCLOUD_TLS": "yes"}, port=9100)
    assert s.port == 9100 and s.tls is True
    with pytest.raises(ValueError):
        Settings.from_env({"MOCKCLOUD_PORT": "many"})
    assert Settings.from_env(Settings(port=1234).to_env()).port == 1234


def test_generated_world_is_deterministic_and_valid():
    from emulator.app import VENDORS
    from emulator.core import world

    text = generate(homes=5, seed=3)
    assert text == generate(homes=5, seed=3)
    assert text != generate(homes=5, seed=4)
    rows = world.build(world.parse(text), {v.name: v for v in VENDORS}, 0)
    assert sum(1 for kind, _, _ in rows if kind == "lightify.user") == 5


def test_ring_is_bounded_and_ordered(store):
    for i in range(7):
        assert store.ring_append("t", "j", {"i": i}, 3) == i + 1
    items = store.ring_list("t", "j")
    assert [e["i"] for e in items] == [4, 5, 6]
    assert [e["seq"] for e in items] == [5, 6, 7]
    assert store.ring_list("u", "j") == []
    assert store.ring_clear("t", "j") == 3
    assert store.ring_list("t", "j") == []
    assert store.ring_append("t", "j", {"i": 9}, 3) == 8


def test_dead_tokens_and_codes_are_swept(monkeypatch):
    from urllib.parse import parse_qs, urlparse

    from werkzeug.test import Client

    from emulator.app import create_app
    from emulator.core import oauth

    monkeypatch.setattr(oauth, "SWEEP_EVERY", 3)
    app = create_app(Settings())
    c = Client(app)
    h = {"X-Mockcloud-Tenant": "sweep"}
    form = {"client_id": "lightify-ci", "client_secret": "lightify-ci-secret"}

    def code() -> str:
        resp = c.get("/lightify/oauth2/authorize?client_id=lightify-ci&state=s"
                     "&response_type=code&redirect_uri=https://example.com/callback", headers=h)
        return parse_qs(urlparse(resp.headers["Location"]).query)["code"][0]

    c.post("/_mockcloud/clock/freeze", json={"at": 1_900_000_000}, headers=h)
    code()  # never exchanged
    tok = c.post("/lightify/oauth2/access_token", headers=h, data={
        **form, "grant_type": "authorization_code", "code": code(),
        "redirect_uri": "https://example.com/callback"}).get_json()
    new = c.post("/lightify/oauth2/access_token", headers=h, data={
        **form, "grant_type": "refresh_token", "refresh_token": tok["refresh_token"]}).get_json()
    assert len(c.get("/_mockcloud/tokens", headers=h).get_json()["tokens"]) == 2
    c.post("/_mockcloud/clock/advance", json={"seconds": 3601 + 3600}, headers=h)
    c.post("/lightify/oauth2/access_token", headers=h, data={   # third grant: a sweep
        **form, "grant_type": "refresh_token", "refresh_token": new["refresh_token"]})
    left = c.get("/_mockcloud/tokens", headers=h).get_json()["tokens"]
    assert tok["access_token"] not in {t["access_token"] for t in left}  # rotated away
    assert new["access_token"] in {t["access_token"] for t in left}  # revoked just now
    assert app.store.count("sweep", "lightify.code") == 0


def _counting_sweeps(monkeypatch):
    """An app sweeping every 2 grants, its client, and the instants each sweep ran."""
    from werkzeug.test import Client

    from emulator.app import create_app
    from emulator.core import oauth

    monkeypatch.setattr(oauth, "SWEEP_EVERY", 2)
    sweeps: list[float] = []
    real = oauth.Tokens.sweep
    monkeypatch.setattr(oauth.Tokens, "sweep",
                        lambda self, ttl: sweeps.append(self.ctx.now()) or real(self, ttl))
    app = create_app(Settings())
    return app, Client(app), sweeps


def test_sweeps_skip_until_something_can_be_forgotten(monkeypatch):
    """A sweep reads every token: after one, the next runs only once something kept
    could have become forgettable (or the clock went back); what is dead long enough
    is still forgotten by the first sweep after that."""
    from emulator.core import oauth

    _, c, sweeps = _counting_sweeps(monkeypatch)
    h = {"X-Mockcloud-Tenant": "sweep-due"}

    def issue() -> str:
        r = c.post("/_mockcloud/tokens", headers=h, json={
            "vendor": "lightify", "client_id": "lightify-ci", "user": "demo@lightify.test"})
        assert r.status_code in (200, 201), r.get_data(as_text=True)
        return r.get_json()["access_token"]

    def listed() -> set[str]:
        return {t["access_token"] for t in
                c.get("/_mockcloud/tokens", headers=h).get_json()["tokens"]}

    c.post("/_mockcloud/clock/freeze", json={"at": 1_900_000_000}, headers=h)
    dead = issue()
    assert c.post("/_mockcloud/tokens/revoke", headers=h,
                  json={"vendor": "lightify", "token": dead}).status_code == 200
    issue()                                   # 2nd grant: the first sweep
    assert len(sweeps) == 1 and dead in listed()
    issue(), issue()                          # 4th: nothing can be forgotten yet
    assert len(sweeps) == 1
    c.post("/_mockcloud/clock/advance", json={"seconds": oauth.DEAD_KEPT_FOR + 1},
           headers=h)
    issue(), issue()                          # 6th: past the revoked grant's hour
    assert len(sweeps) == 2 and dead not in listed()
    c.post("/_mockcloud/clock/set", json={"at": 1_800_000_000}, headers=h)
    issue(), issue()                          # the clock went back: a sweep again
    assert len(sweeps) == 3


def test_a_used_code_does_not_make_every_later_grant_sweep(monkeypatch):
    """A used code is kept an hour past its lifetime (a late replay still revokes its
    grant): the sweep that keeps it is not due again until then, not at the end of
    its lifetime (which made every SWEEP_EVERY-th grant of a long refresh loop read
    every token of the tenant, bench/README.md); nor is one due at the end of the
    lifetime of a code that might be issued meanwhile (one more sweep of every token,
    a second of stall after tens of thousands of grants)."""
    from urllib.parse import parse_qs, urlparse

    from emulator.core import oauth

    app, c, sweeps = _counting_sweeps(monkeypatch)
    h = {"X-Mockcloud-Tenant": "sweep-used-code"}
    form = {"client_id": "lightify-ci", "client_secret": "lightify-ci-secret"}
    c.post("/_mockcloud/clock/freeze", json={"at": 1_900_000_000}, headers=h)
    resp = c.get("/lightify/oauth2/authorize?client_id=lightify-ci&state=s"
                 "&response_type=code&redirect_uri=https://example.com/callback", headers=h)
    code = parse_qs(urlparse(resp.headers["Location"]).query)["code"][0]
    chain = [c.post("/lightify/oauth2/access_token", headers=h, data={
        **form, "grant_type": "authorization_code", "code": code,
        "redirect_uri": "https://example.com/callback"}).get_json()["refresh_token"]]

    def refresh() -> None:
        r = c.post("/lightify/oauth2/access_token", headers=h, data={
            **form, "grant_type": "refresh_token", "refresh_token": chain[0]})
        assert r.status_code == 200, r.get_data(as_text=True)
        chain[0] = r.get_json()["refresh_token"]

    refresh()                                      # 2nd grant: the first sweep
    assert len(sweeps) == 1
    c.post("/_mockcloud/clock/advance", json={"seconds": 600}, headers=h)  # past its ttl
    for _ in range(8):
        refresh()
    # no sweep: neither the used code nor the rotated grants can go for an hour yet
    # (the used code made every other grant sweep again)
    assert len(sweeps) == 1
    assert app.store.count("sweep-used-code", "lightify.code") == 1   # the used code kept
    c.post("/_mockcloud/clock/advance", json={"seconds": oauth.DEAD_KEPT_FOR}, headers=h)
    refresh(), refresh()
    assert len(sweeps) == 2
    assert app.store.count("sweep-used-code", "lightify.code") == 0


def test_journal_keeps_bodies_only_up_to_the_limit(store):
    from emulator.core.journal import Exchange, Journal, exchange

    ex = exchange(time=1.0, vendor="lightify", tenant="t", latency_ms=1.0, client=None,
                  note=None, method="PATCH", path="/v4/x", url="http://h/v4/x",
                  req_headers=[("HTTP_AUTHORIZATION", "Bearer a"), ("CONTENT_TYPE", "x/y")],
                  status_line="200 OK", resp_headers=[("ETag", "e")],
                  req_body=b"a" * 100, resp_body=b"\xff" * 10, max_body=8)
    assert len(Exchange._make(ex).req_body) == 8
    Journal(store, "t", 10).record(ex)
    (doc,) = Journal(store, "t", 10).entries()
    assert doc["request"]["body"] == {"text": "a" * 8, "truncated": 100}
    assert doc["request"]["headers"] == {"Authorization": "Bearer a", "Content-Type": "x/y"}
    assert doc["response"]["body"] == {"base64": "//////////8=", "truncated": 10}
    assert doc["seq"] == 1 and doc["response"]["status"] == 200
    if isinstance(store, MemoryStore):  # kept as is, out of the garbage collector's way
        gc.collect()  # a collection untracks the inner tuples, the next the outer one
        gc.collect()
        ((seq, kept),) = store._rings[("t", "journal")][0]
        assert kept is ex and not gc.is_tracked(kept)


def test_auth_profile_shapes_token_replies_for_other_vendors():
    """The knobs Netatmo and Qivivo will need, before they exist: scope as an array,
    extra fields (Netatmo's misspelt expire_in), no token_type."""
    from emulator.core.oauth import AuthProfile, VendorAuthServer

    netatmo_like = AuthProfile(
        vendor="x", token_path="/oauth2/token", scope_as_list=True,
        token_type_in_response=False,
        extra_token_fields=lambda t: {"expire_in": t["expires_in"]})
    shaped = VendorAuthServer(netatmo_like)._shape_token({
        "token_type": "Bearer", "access_token": "a", "expires_in": 10800,
        "refresh_token": "r", "scope": "read_station read_thermostat"})
    assert shaped == {"access_token": "a", "refresh_token": "r", "expires_in": 10800,
                      "scope": ["read_station", "read_thermostat"], "expire_in": 10800}
    plain = VendorAuthServer(AuthProfile(vendor="y", token_path="/t"))._shape_token({
        "token_type": "Bearer", "access_token": "a", "expires_in": 1, "scope": ""})
    assert plain == {"access_token": "a", "token_type": "Bearer", "expires_in": 1}


@pytest.mark.parametrize("part,access_dead,refresh_dead", [
    ("grant", True, True), ("access", True, False), ("refresh", False, True)])
def test_revoking_a_grant_or_one_of_its_tokens(part, access_dead, refresh_dead):
    from emulator.core.oauth import Token, revoke_doc

    doc = {"access_token": "a", "refresh_token": "r", "issued_at": 0.0, "expires_in": 60,
           "access_revoked": False, "refresh_revoked": False}
    tok = Token(revoke_doc(doc, 5.0, part), now=10.0)
    assert (tok.is_revoked(), tok.refresh_revoked()) == (access_dead, refresh_dead)
    assert doc["revoked_at"] == 5.0
