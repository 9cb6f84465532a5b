"""Netatmo webhooks across workers and servers (issue 9): "in order, at most once each"
holds when several processes share the store.

A real ``mockcloud serve --workers 2`` on SQLite (then two such servers on one real
Redis) and one real receiver (``clients.netatmo.WebhookReceiver``). Many clients, each
on its own connection (so the requests spread over the workers), in rounds:

* the clock is advanced by several concurrent admin calls (the workers' delivery
  threads race to claim what it brings);
* at the frozen instant that follows, concurrent API writes of the same user make
  events (persons away and home, set points of each room): each write's events must be
  pushed once, whichever worker answered it and whatever the other wrote in that
  second.

Then, after a flush: every push arrived exactly once (the events the clock brought are
those getevents shows; the writes' ones one per write), in the order of their
instants, and the admin API's deliveries are numbered without gap or repeat.
"""

from __future__ import annotations

import json
import random
import secrets
import threading
from collections import Counter
from concurrent.futures import ThreadPoolExecutor

from clients.netatmo import NetatmoClient, WebhookReceiver
from emulator.core.store import MemoryStore
from emulator.netatmo import pushes
from emulator.testing import Admin, ServerProcess
from tests.netatmo_http import CI, HOME_ID, USER
from tests.redis_server import fresh_prefix

T0 = 1_800_000_000                        # Fri 2027-01-15 09:00 in Paris
ROUNDS, ADVANCES, STEP, WRITERS = 6, 4, 1800, 12
ALICE, BOB, CHLOE = (f"5e5c7a1b-2d3e-4f50-6172-8394000000{x}" for x in ("a1", "b2", "c3"))
ROOMS = ("3100000001", "3100000002", "3100000003")
SCOPE = ("read_camera write_camera access_camera read_presence access_presence "
         "write_presence read_smokedetector read_thermostat write_thermostat")
MADE = {"NACamera-person_away", "NACamera-person_home", "display_change"}


def scenario(urls: list[str], admin_token: str) -> None:
    """The rounds against ``urls`` (servers sharing one store), then the checks."""
    tenant = f"wh-workers-{secrets.token_hex(4)}"
    admins = [Admin(urls[i % len(urls)], tenant, token=admin_token) for i in range(ADVANCES)]
    admin = admins[0]
    admin.freeze(T0)
    admin.set_quotas("netatmo", [], enabled=False)
    local = threading.local()

    def client(i: int, token: str) -> NetatmoClient:
        """Client ``i`` of this thread (its own connection), with ``token``."""
        c = NetatmoClient(*CI, f"{urls[i % len(urls)]}/_t/{tenant}/netatmo",
                          token={"access_token": token})
        local.client = c
        return c

    def write(job: tuple[int, int, str]) -> str:
        i, r, token = job
        c = client(i, token)
        if i % 3 == 1:
            c.setpersonshome(HOME_ID, [(ALICE, BOB, CHLOE)[(i + r) % 3]])
            return "NACamera-person_home"
        if i % 3 == 2 and i // 3 < len(ROOMS):
            # one writer a room: two set points of a room in one second are one
            # event, the last (energy_state replaces the earlier one)
            c.setroomthermpoint(HOME_ID, ROOMS[i // 3], "manual", temp=15 + (i + r) % 10,
                                endtime=int(T0 + (r + 1) * ADVANCES * STEP + 3600))
            return "display_change"
        c.setpersonsaway(HOME_ID, (ALICE, BOB, CHLOE)[(i // 3 + r) % 3])
        return "NACamera-person_away"

    with WebhookReceiver() as receiver, ThreadPoolExecutor(WRITERS) as pool:
        token = admin.issue_token("netatmo", CI[0], USER, SCOPE)["access_token"]
        assert client(0, token).addwebhook(receiver.url, "app_security")["status"] == "ok"
        admin.flush()
        expected: Counter[str] = Counter()
        for r in range(ROUNDS):
            list(pool.map(lambda a: a.advance(STEP), admins))       # from both workers
            token = admin.issue_token("netatmo", CI[0], USER, SCOPE)["access_token"]
            made = list(pool.map(write, [(i, r, token) for i in range(WRITERS)]))
            expected.update(made)
        end = T0 + ROUNDS * ADVANCES * STEP
        assert admin.now() == end
        done = admin.flush(timeout=60)
        assert done["done"] is True
        token = admin.issue_token("netatmo", CI[0], USER, SCOPE)["access_token"]
        shown = client(0, token).getevents(HOME_ID, size=300)["home"]["events"]
        got = receiver.accepted()

    assert got[0] == {"push_type": "webhook_activation"}
    pushes = got[1:]
    # at most once: no event twice (an outdoor event pushes once per detection: its
    # id with each detection's snapshot)
    ids = [(p["event_id"], p.get("snapshot_id")) for p in pushes if "event_id" in p]
    assert len(ids) == len(set(ids)), [i for i, n in Counter(ids).items() if n > 1]
    # the writes' events: one push per write (an away or home write makes one event,
    # a set point one display_change)
    kinds = Counter(p["push_type"] for p in pushes)
    assert {k: kinds[k] for k in MADE} == dict(expected), kinds
    # the clock's events: exactly those getevents shows (clock-made ones, by id)
    clock = {e["id"] for e in shown if T0 < e["time"] <= end
             and e["type"] not in ("person_away", "person_home")}
    assert clock and clock == {p["event_id"] for p in pushes if "event_id" in p
                               and p["push_type"] not in MADE}
    # in order: the deliveries, numbered 1.. without gap, at non-decreasing instants,
    # in the order the receiver got them
    (hook,) = admin.webhooks("netatmo")
    sent = admin.deliveries("netatmo", hook["id"])
    assert [d["n"] for d in sent] == list(range(1, len(got) + 1))
    ats = [d["at"] for d in sent]
    assert ats == sorted(ats)
    assert [d["status"] for d in sent] == ["delivered"] * len(got)
    assert [d["payload"] for d in sent] == got


def test_sqlite_workers_push_each_event_once_in_order(tmp_path):
    token = secrets.token_urlsafe(16)
    with ServerProcess("--state", f"sqlite:///{tmp_path / 'state.db'}", "--workers", "2",
                       admin_token=token, env={"MOCKCLOUD_HOME": str(tmp_path)}) as srv:
        scenario([srv.url], token)


def test_redis_servers_push_each_event_once_in_order(redis_url, tmp_path):
    token = secrets.token_urlsafe(16)
    url = fresh_prefix(redis_url)
    with ServerProcess("--state", url, "--workers", "2", admin_token=token,
                       env={"MOCKCLOUD_HOME": str(tmp_path / "a")}) as a, \
            ServerProcess("--state", url, "--workers", "2", admin_token=token,
                          env={"MOCKCLOUD_HOME": str(tmp_path / "b")}) as b:
        scenario([a.url, b.url], token)


def test_claims_push_each_write_once_whatever_the_interleaving():
    """``pushes.claim`` in 2,000 seeded orders of the writers' steps (see before,
    write, see after, claim): every event a write made is pushed once, what was there
    before is not; events without an id that look the same (two equal set points)
    count as many as were written."""
    for seed in range(2000):
        rng = random.Random(seed)
        store = MemoryStore()
        there = [{"push_type": "old", "event_id": "e-old"}, {"push_type": "same"}]
        writers = rng.randint(2, 7)
        made = [{"push_type": "p", "event_id": f"e{i}"} if rng.random() < 0.5
                else {"push_type": rng.choice(("same", "other"))} for i in range(writers)]
        steps = [w for w in range(writers) for _ in range(4)]
        rng.shuffle(steps)
        stage = [0] * writers
        seen: dict[tuple[int, str], list[dict]] = {}
        pushed: list[dict] = []
        for w in steps:
            if stage[w] == 0:
                seen[w, "before"] = list(there)
            elif stage[w] == 1:
                there.append(made[w])
            elif stage[w] == 2:
                seen[w, "after"] = list(there)
            else:
                pushed += pushes.claim(store, "t", "u", T0, seen[w, "before"],
                                       seen[w, "after"])
            stage[w] += 1
        assert sorted(map(json.dumps, pushed)) == sorted(map(json.dumps, made)), seed
