"""RedisStore on a three-node Redis Cluster (no replicas), started by the tests: every
key of a tenant carries the tenant as its hash tag, so each script runs in one slot;
tenants spread over the nodes; and a served mockcloud works on it unchanged."""

from __future__ import annotations

import threading

import requests

from emulator.core.redis_store import RedisStore
from emulator.testing import Admin, ServerProcess
from tests.redis_server import fresh_prefix

CLIENT = {"client_id": "lightify-ci", "client_secret": "lightify-ci-secret"}


def test_the_store_protocol_on_a_cluster(redis_cluster_url):
    store = RedisStore(fresh_prefix(redis_cluster_url))
    try:
        names = [f"t{i}" for i in range(12)]
        slots = {store._r.keyslot(store._keys_key(t)) for t in names}
        assert len(slots) > 1                       # the tenants are not all in one slot
        for t in names:
            store.put(t, "k", "1", {"t": t})
            store.update(t, "c", "n", lambda d: {"n": (d or {"n": 0})["n"] + 1})
            assert store.ring_append(t, "j", {"x": 1}, 3) == 1
        assert store.tenants() == sorted(names)
        assert store.snapshot("t3", "k", "1") == {"t": "t3"}
        assert store.ring_list("t3", "j") == [{"seq": 1, "x": 1}]

        def bump():
            for _ in range(100):
                store.update("t0", "c", "n", lambda d: {"n": (d or {"n": 0})["n"] + 1})

        threads = [threading.Thread(target=bump) for _ in range(4)]
        for th in threads:
            th.start()
        for th in threads:
            th.join()
        assert store.get("t0", "c", "n") == {"n": 401}
        store.clear("t0")
        assert store.get("t0", "k", "1") is None and store.ring_list("t0", "j") == []
        assert "t0" not in store.tenants() and store.count("t1", "k") == 1
    finally:
        store.close()


def test_a_server_on_a_cluster(redis_cluster_url):
    url = fresh_prefix(redis_cluster_url)
    with ServerProcess("--state", url, "--workers", "2") as server:
        admin = Admin(server.url, "cluster")
        assert requests.get(f"{server.url}/_mockcloud/health").json()["state"] == "redis"
        pair = admin.issue_token("lightify", CLIENT["client_id"], "demo@lightify.test")
        base = admin.url("lightify")
        auth = {"Authorization": f"Bearer {pair['access_token']}"}
        resp = requests.patch(f"{base}/v4/devices/123456-d01", json={"brightness": 7},
                              headers=auth)
        assert resp.status_code == 200 and resp.json()["brightness"] == 7
        fresh = requests.post(f"{base}/oauth2/access_token", data={
            **CLIENT, "grant_type": "refresh_token", "refresh_token": pair["refresh_token"]})
        again = requests.post(f"{base}/oauth2/access_token", data={
            **CLIENT, "grant_type": "refresh_token", "refresh_token": pair["refresh_token"]})
        assert fresh.status_code == 200 and again.status_code == 400
        admin.advance(3600 * 24)
        assert requests.get(f"{base}/v4/devices/123456-d01", headers={
            "Authorization": f"Bearer {fresh.json()['access_token']}"}).status_code == 401
        assert [e["seq"] for e in admin.journal()] == [1, 2, 3, 4]
