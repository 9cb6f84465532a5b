"""Two ``mockcloud serve`` processes x two workers each, on one real Redis, behave as
one cloud under load: 16 clients PATCH Lightify lights and refresh their tokens (each
refresh sent to both servers at once) for a few seconds, then everything is checked
for exactness:

* every device shows the last value each of its two writers set (two clients per
  light, one on ``colorRGBW``, one on ``colorTemperature``, each counting up: a lost
  update would put an older value back) and every PATCH answer shows the writer's
  own value;
* the quota counter counted every API call exactly once;
* the journal's sequence numbers are unique and gap-free, and the last one is the
  number of vendor requests made;
* every refresh was won by exactly one of the two servers, the other answering
  ``invalid_grant``, and each client's tokens form one linear chain: every token but
  the last revoked, and no token in the tenant outside the chains.
"""

from __future__ import annotations

import threading
import time
from collections import Counter
from concurrent.futures import ThreadPoolExecutor

import pytest
import requests

from emulator.testing import Admin, ServerProcess
from tests.redis_server import fresh_prefix

CLIENTS, LIGHTS, SECONDS = 16, 8, 4.0
REFRESH_EVERY = 6                       # ops between two refreshes of a client
CLIENT = {"client_id": "lightify-ci", "client_secret": "lightify-ci-secret"}
TENANT = "concurrency"


def world() -> dict:
    lights = [{"id": f"777-d{i:02d}", "name": f"light {i}", "type": "LIGHT", "online": True,
               "onOff": "on", "brightness": 50, "colorTemperature": 2000,
               "colorRGBW": {"red": 0, "green": 0, "blue": 0, "white": 0},
               "deviceModel": "CLA60 RGBW", "firmwareVersion": "01020492"}
              for i in range(LIGHTS)]
    return {"lightify": {
        "apps": [{**CLIENT, "name": "CI", "redirect_uris": ["https://example.com/cb"],
                  "auto_approve": True, "auto_approve_user": "load@lightify.test"}],
        "users": [{"email": "load@lightify.test", "password": "load", "name": "Load",
                   "gateway": {"id": "777", "name": "OSR777"}, "devices": lights}]}}


@pytest.fixture(scope="module")
def servers(redis_url):
    url = fresh_prefix(redis_url)
    with ServerProcess("--state", url, "--workers", "2") as a, \
            ServerProcess("--state", url, "--workers", "2") as b:
        yield a.url, b.url


def rgbw(k: int) -> dict:
    return {"red": k % 256, "green": k // 256, "blue": 0, "white": 0}


class Client(threading.Thread):
    """One app session: PATCHes its field of its light, alternating servers, and
    refreshes its token every few calls (on both servers at once)."""

    def __init__(self, n: int, bases: tuple[str, str], pair: dict, stop_at: float) -> None:
        super().__init__(daemon=True)
        self.n, self.bases, self.stop_at = n, bases, stop_at
        self.device = f"777-d{n // 2:02d}"
        self.field = "colorRGBW" if n % 2 == 0 else "colorTemperature"
        self.pair = pair
        self.chain = [pair["access_token"]]
        self.last = None                 # the last value a 200 confirmed
        self.api_calls = self.vendor_calls = 0
        self.refreshes: list[Counter] = []
        self.problems: list[str] = []

    def value(self, k: int):
        return rgbw(k) if self.field == "colorRGBW" else 2000 + k

    def run(self) -> None:
        https = [requests.Session(), requests.Session()]
        pool = ThreadPoolExecutor(2)
        k = 0
        try:
            while time.monotonic() < self.stop_at and k < 4000:
                k += 1
                base, http = self.bases[k % 2], https[k % 2]
                want = self.value(k)
                resp = http.patch(f"{base}/v4/devices/{self.device}", json={self.field: want},
                                  headers={"Authorization": f"Bearer {self.pair['access_token']}"},
                                  timeout=30)
                self.api_calls += 1
                self.vendor_calls += 1
                if resp.status_code != 200 or resp.json().get(self.field) != want:
                    self.problems.append(f"PATCH {k}: {resp.status_code} {resp.text[:200]}")
                    return
                self.last = want
                if k % REFRESH_EVERY == 0:
                    self.refresh(pool, https)
        finally:
            pool.shutdown()
            for http in https:
                http.close()

    def refresh(self, pool: ThreadPoolExecutor, https: list[requests.Session]) -> None:
        form = {**CLIENT, "grant_type": "refresh_token",
                "refresh_token": self.pair["refresh_token"]}
        futures = [pool.submit(http.post, f"{base}/oauth2/access_token", data=form,
                               timeout=30) for base, http in zip(self.bases, https,
                                                                  strict=True)]
        replies = [f.result() for f in futures]
        self.vendor_calls += 2
        counts = Counter(r.status_code for r in replies)
        self.refreshes.append(counts)
        won = [r for r in replies if r.status_code == 200]
        lost = [r for r in replies if r.status_code != 200]
        if len(won) != 1 or lost[0].json().get("error") != "invalid_grant":
            self.problems.append(f"refresh: {[(r.status_code, r.text[:120]) for r in replies]}")
            return
        self.pair = won[0].json()
        self.chain.append(self.pair["access_token"])


def test_two_servers_two_workers_each_act_as_one_cloud(servers):
    a, b = (Admin(url, TENANT) for url in servers)
    a.load_world(world())
    a.set_quotas("lightify", [{"name": "all", "key": "client", "limit": 10**9,
                               "window": 10**6}])
    pairs = [b.issue_token("lightify", CLIENT["client_id"], "load@lightify.test")
             for _ in range(CLIENTS)]
    stop_at = time.monotonic() + SECONDS
    bases = (a.url("lightify"), b.url("lightify"))
    clients = [Client(n, bases, pairs[n], stop_at) for n in range(CLIENTS)]
    for c in clients:
        c.start()
    for c in clients:
        c.join(120)
    problems = [p for c in clients for p in c.problems]
    assert not problems, problems[:5]
    assert all(c.api_calls > 2 * REFRESH_EVERY for c in clients), \
        [c.api_calls for c in clients]

    # devices: each field holds its writer's last value
    for dev in a.devices("lightify"):
        state = dev.get("state", dev)
        for c in (c for c in clients if c.device == dev["id"]):
            assert state[c.field] == c.last, (dev["id"], c.field, state[c.field], c.last)

    # quotas: every API call counted once, by any server
    counted = sum(q["count"] for q in b.quotas()["counters"] if q["rule"] == "all")
    assert counted == sum(c.api_calls for c in clients)

    # journal: unique, gap-free sequence numbers; the last is every vendor request
    seqs = [e["seq"] for e in a.journal()]
    total = sum(c.vendor_calls for c in clients)
    assert seqs == list(range(seqs[0], seqs[0] + len(seqs))), "gaps or duplicates"
    assert seqs[-1] == total and len(seqs) == min(total, 1000)

    # token chains: one winner per refresh, linear chains
    assert all(r == Counter({200: 1, 400: 1}) for c in clients for r in c.refreshes)
    tokens = {t["access_token"]: t for t in a.tokens(vendor="lightify")}
    assert set(tokens) == {t for c in clients for t in c.chain}, "tokens outside the chains"
    for c in clients:
        states = [(tokens[t]["state"], tokens[t]["refresh_revoked"]) for t in c.chain]
        assert states[-1] == ("active", False), states[-1]
        assert set(states[:-1]) <= {("revoked", True)}, states
    # the counts checked, for the record (pytest -s; the report's captured output)
    print(f"\nconcurrency: {CLIENTS} clients, {SECONDS:g} s, 2 servers x 2 workers: "
          f"{sum(c.api_calls for c in clients)} API calls counted once, {total} vendor "
          f"requests (journal seq {seqs[0]}..{seqs[-1]}), "
          f"{sum(len(c.refreshes) for c in clients)} refreshes each won once, "
          f"{sum(len(c.chain) for c in clients)} tokens in {CLIENTS} chains, "
          f"{len({c.device for c in clients})} lights x 2 writers exact")
