"""On Redis, the reads every vendor request makes go in one round trip (issue 11).

A Lightify PATCH made nine round trips to Redis, each about 70 us of redis-py's
Python in the worker: the clock, the world's marker, the fault rules, the token, the
quota rules one by one, then the device, its overrides, its write and the journal
entry. The app now asks ``RedisStore.prefetch`` for the first five in one pipeline
(five round trips in all); the next read of
each in that thread is answered from it, once. A write from the thread, or the end of
the request, drops whatever was not used, so nothing read there is ever answered
after a write it should have seen.
"""

from __future__ import annotations

import pytest
from redis.connection import Connection
from werkzeug.test import Client

from emulator.app import create_app
from emulator.core.redis_store import RedisStore
from emulator.settings import Settings
from tests.redis_server import fresh_prefix

DEVICE = "/lightify/v4/devices/123456-d01"


@pytest.fixture
def url(redis_url):
    return fresh_prefix(redis_url)


@pytest.fixture
def store(url):
    s = RedisStore(url)
    yield s
    s.close()


def _token(client: Client) -> str:
    """A token for the demo user from the admin API (as the other tests take theirs)."""
    r = client.post("/_mockcloud/tokens", json={
        "vendor": "lightify", "client_id": "lightify-ci", "user": "demo@lightify.test"})
    assert r.status_code in (200, 201), r.get_data()
    return r.json["access_token"]


class Trips:
    """Commands and pipelines sent to Redis (each one round trip) while inside."""

    def __init__(self, monkeypatch) -> None:
        self.n = 0
        sent = Connection.send_packed_command

        def counted(conn, command, check_health=True):
            self.n += 1
            return sent(conn, command, check_health)

        monkeypatch.setattr(Connection, "send_packed_command", counted)


def test_a_patch_makes_four_round_trips(url, monkeypatch):
    app = create_app(Settings(state=url))
    client = Client(app)
    headers = {"Authorization": f"Bearer {_token(client)}"}
    assert client.patch(DEVICE, json={"brightness": 40}, headers=headers).status_code == 200
    trips = Trips(monkeypatch)
    r = client.patch(DEVICE, json={"brightness": 41}, headers=headers)
    assert r.status_code == 200 and r.json["brightness"] == 41
    # the prefetch, the device (with the world's marker), its admin overrides, the
    # device's write, the journal entry (nine before)
    assert trips.n == 5
    assert client.get(DEVICE, headers=headers).json["brightness"] == 41


def test_a_prefetched_read_is_answered_once(store):
    store.put("t", "k", "a", {"v": 1})
    store.prefetch("t", [("k", "a")], ["k"])
    other = RedisStore(store.url)
    other.put("t", "k", "a", {"v": 2})       # another server writes meanwhile
    other.put("t", "k", "b", {"v": 0})
    assert store.get("t", "k", "a") == {"v": 1}   # as read at the prefetch
    assert store.count("t", "k") == 1
    assert store.get("t", "k", "a") == {"v": 2}   # then from Redis again
    assert store.count("t", "k") == 2
    other.close()


@pytest.mark.parametrize("write", [
    lambda s: s.put("t", "k", "a", {"v": 3}),
    lambda s: s.update("t", "k", "a", lambda d: {"v": 3}),
    lambda s: s.delete("t", "k", "a"),
    lambda s: s.ring_append("t", "journal", {"x": 1}, 10),
    lambda s: s.clear("t"),
])
def test_a_write_from_the_thread_drops_what_was_prefetched(store, write):
    store.put("t", "k", "a", {"v": 1})
    store.prefetch("t", [("k", "a")], ["k"])
    write(store)
    fresh = RedisStore(store.url)            # no prefetch: what Redis holds now
    try:
        assert store.get("t", "k", "a") == fresh.get("t", "k", "a")
        assert store.count("t", "k") == fresh.count("t", "k")
    finally:
        fresh.close()


def test_what_a_request_left_unread_is_forgotten_when_it_is_answered(url):
    """A 404 reads neither its token nor the quota rules it prefetched, and writes
    no journal entry (journal off); the admin request after it, in the same thread,
    reads the rules another server wrote."""
    a = create_app(Settings(state=url, journal_size=0))
    b = create_app(Settings(state=url))
    ca, cb = Client(a), Client(b)
    token = _token(ca)
    assert ca.get("/lightify/v4/nothing", headers={
        "Authorization": f"Bearer {token}"}).status_code == 404
    rule = {"name": "seen", "key": "client", "limit": 7, "window": 60}
    r = cb.put("/_mockcloud/quotas/lightify", json={"rules": [rule]})
    assert r.status_code == 200, r.get_data()
    seen = ca.get("/_mockcloud/quotas").json["config"]["lightify"]
    assert [x["name"] for x in seen["rules"]] == ["seen"], seen
