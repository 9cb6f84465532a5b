"""redis-py resends a command after a connection error; a write whose first try ran in
Redis but whose reply was lost must not apply twice (issue 11).

A TCP proxy between the store (or a whole ``mockcloud serve``) and a real
``redis-server`` lets the command through, reads Redis' reply, and instead of passing
it on closes the client's connection: the command ran, its client never heard.
redis-py then sends it again on a new connection. Each writing script carries a write
id of its own (``core/redis_store.py``), so the resend answers what the first run did
and writes nothing.
"""

from __future__ import annotations

import contextlib
import socket
import threading
from urllib.parse import urlsplit

import pytest
import requests

from emulator.core.redis_store import RedisStore
from emulator.testing import Admin, ServerProcess
from tests.redis_server import fresh_prefix


class ReplyDropper:
    """127.0.0.1:<port> -> Redis; ``drop_next(*words)``: the next command whose bytes
    hold every word reaches Redis, and its reply is dropped with the connection."""

    def __init__(self, redis_url: str) -> None:
        parts = urlsplit(redis_url)
        self.target = (parts.hostname or "127.0.0.1", parts.port or 6379)
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.port = self.listener.getsockname()[1]
        self.words: tuple[bytes, ...] | None = None
        self.dropped: list[bytes] = []
        self.lock = threading.Lock()
        threading.Thread(target=self._accept, daemon=True).start()

    def url(self, redis_url: str) -> str:
        parts = urlsplit(redis_url)
        return parts._replace(netloc=f"127.0.0.1:{self.port}").geturl()

    def drop_next(self, *words: bytes) -> None:
        with self.lock:
            self.words = words

    def close(self) -> None:
        self.listener.close()

    def _accept(self) -> None:
        while True:
            try:
                client, _ = self.listener.accept()
            except OSError:
                return
            upstream = socket.create_connection(self.target)
            state: dict[str, bytes | None] = {"drop": None}
            threading.Thread(target=self._up, args=(client, upstream, state),
                             daemon=True).start()
            threading.Thread(target=self._down, args=(client, upstream, state),
                             daemon=True).start()

    def _up(self, client: socket.socket, upstream: socket.socket, state: dict) -> None:
        try:
            while data := client.recv(65536):
                with self.lock:
                    if self.words and all(w in data for w in self.words):
                        state["drop"], self.words = data, None
                upstream.sendall(data)
        except OSError:
            pass
        _close(client, upstream)

    def _down(self, client: socket.socket, upstream: socket.socket, state: dict) -> None:
        try:
            while data := upstream.recv(65536):
                if state["drop"] is not None:        # the command ran; its reply is lost
                    self.dropped.append(state["drop"])
                    break
                client.sendall(data)
        except OSError:
            pass
        _close(client, upstream)


def _close(*socks: socket.socket) -> None:
    for s in socks:
        with contextlib.suppress(OSError):
            s.shutdown(socket.SHUT_RDWR)
        s.close()


@pytest.fixture
def dropper(redis_url):
    proxy = ReplyDropper(redis_url)
    yield proxy
    proxy.close()


@pytest.fixture
def store(redis_url, dropper):
    s = RedisStore(fresh_prefix(dropper.url(redis_url)))
    yield s
    s.close()


def test_an_update_whose_reply_was_lost_applies_once(store, dropper):
    runs = []

    def count(doc):
        runs.append(doc)
        return {"n": (doc or {"n": 0})["n"] + 1}

    assert store.update("t", "quota", "c", count) == {"n": 1}   # scripts loaded
    runs.clear()
    dropper.drop_next(b"EVALSHA", b'"n":2')
    assert store.update("t", "quota", "c", count) == {"n": 2}
    assert len(dropper.dropped) == 1
    assert runs == [{"n": 1}]            # not run again on its own result
    assert store.get("t", "quota", "c") == {"n": 2}
    assert store.update("t", "quota", "c", count) == {"n": 3}


def test_a_journal_append_whose_reply_was_lost_appends_once(store, dropper):
    assert store.ring_append("t", "journal", {"i": 1}, 100) == 1
    dropper.drop_next(b"EVALSHA", b'"i":2')
    assert store.ring_append("t", "journal", {"i": 2}, 100) == 2
    assert len(dropper.dropped) == 1
    assert store.ring_append("t", "journal", {"i": 3}, 100) == 3
    assert [(e["seq"], e["i"]) for e in store.ring_list("t", "journal")] == \
        [(1, 1), (2, 2), (3, 3)]


def test_put_delete_and_clear_whose_reply_was_lost_answer_as_first_run(store, dropper):
    store.put("t", "doc", "a", {"v": 1})
    store.put("t", "doc", "b", {"v": 1})
    dropper.drop_next(b"EVALSHA", b"doc")           # the delete's reply is lost
    assert store.delete("t", "doc", "a") is True    # it was there when it ran
    assert len(dropper.dropped) == 1
    assert store.get("t", "doc", "a") is None
    dropper.drop_next(b"EVALSHA", b"keys")          # the clear's reply is lost
    store.clear("t")
    store.put("t", "doc", "c", {"v": 2})            # after the clear: kept
    assert store.list("t", "doc") == [("c", {"v": 2})]


def test_the_same_write_id_twice_writes_once_and_a_new_one_again(store):
    """The scripts' contract, without any proxy: a call resent with its write id is
    answered from the first run; a new call (a new id) writes again."""
    hkey, keys = store._doc_key("t", "doc"), store._keys_key("t")
    wid = store._write_id("t")
    args = [b"k", b"", "1", "1", b'{"v":1}', store.write_ttl]
    assert store._cas(keys=[hkey, keys, wid], args=args) == [1]
    assert store._cas(keys=[hkey, keys, wid], args=args) == [1]           # resent
    assert store._cas(keys=[hkey, keys, store._write_id("t")], args=args) == \
        [0, b'{"v":1}']                                                   # a new call
    ring = [f"{store._base('t')}r:j", f"{store._base('t')}n", keys]
    wid = store._write_id("t")
    assert store._ring_append(keys=[*ring, wid], args=["j", b'{"a":1}', 10, 60]) == 1
    assert store._ring_append(keys=[*ring, wid], args=["j", b'{"a":1}', 10, 60]) == 1
    assert len(store.ring_list("t", "j")) == 1
    assert 0 < store._r.ttl(wid) <= 60


def test_a_refresh_whose_rotation_reply_was_lost_still_wins(redis_url, dropper):
    """End to end: the refresh's rotation (the compare-and-set spending the old pair)
    runs in Redis, its reply is lost, redis-py sends it again: the client still gets
    its new pair (before, the resend found the pair spent and answered invalid_grant),
    the quota counted each call once, and the journal has no gap."""
    url = fresh_prefix(dropper.url(redis_url))
    client = {"client_id": "lightify-ci", "client_secret": "lightify-ci-secret"}
    with ServerProcess("--state", url) as srv, requests.Session() as http:
        admin = Admin(srv.url)
        admin.set_quotas("lightify", [{"name": "all", "key": "client", "limit": 10**6,
                                       "window": 10**6}])
        pair = admin.issue_token("lightify", client["client_id"], "demo@lightify.test")
        light = f"{srv.url}/lightify/v4/devices/123456-d01"
        auth = {"Authorization": f"Bearer {pair['access_token']}"}
        assert http.patch(light, json={"brightness": 10}, headers=auth,
                          timeout=30).status_code == 200
        dropper.drop_next(b"EVALSHA", pair["access_token"].encode(), b"refresh_revoked")
        resp = http.post(f"{srv.url}/lightify/oauth2/access_token", timeout=30, data={
            **client, "grant_type": "refresh_token", "refresh_token": pair["refresh_token"]})
        assert len(dropper.dropped) == 1
        assert resp.status_code == 200, resp.text
        new = resp.json()
        dropper.drop_next(b"EVALSHA", b"brightness", b"77")   # a device write's reply
        resp = http.patch(light, json={"brightness": 77}, timeout=30,
                          headers={"Authorization": f"Bearer {new['access_token']}"})
        assert resp.status_code == 200 and resp.json()["brightness"] == 77
        assert len(dropper.dropped) == 2
        again = http.post(f"{srv.url}/lightify/oauth2/access_token", timeout=30, data={
            **client, "grant_type": "refresh_token", "refresh_token": pair["refresh_token"]})
        assert again.status_code == 400 and again.json()["error"] == "invalid_grant"
        dropper.drop_next(b"EVALSHA", b"d:quota.count")        # the quota count's reply
        assert http.patch(light, json={"brightness": 5}, timeout=30, headers={
            "Authorization": f"Bearer {new['access_token']}"}).status_code == 200
        assert len(dropper.dropped) == 3
        counted = sum(q["count"] for q in admin.quotas()["counters"] if q["rule"] == "all")
        assert counted == 3                                     # the three PATCHes
        seqs = [e["seq"] for e in admin.journal(vendor="lightify", limit=1000)]
        assert sorted(seqs) == list(range(1, 6)), seqs          # 3 PATCHes, 2 refreshes
