"""Netatmo camera event ids are a pure function of the event (issue 9): the same events
have the same ids whatever the steps of the clock and however the camera's logs were
trimmed (a camera's setstate log and its admin online overrides keep 256 entries and
fold the older ones), ids are never reused, the reads that take ids agree, and a real
webhook receiver gets each event once.

One scenario runs in three tenants of one served emulator (the same world and seed),
each moving the clock its own way between the same writes at the same instants:

* 130 cycles, each at its own minute: the indoor camera's monitoring switched off then
  on in one frozen second (two setstate writes, four events and pushes), the camera
  taken offline in that second and back online a second later (disconnection, boot,
  connection 24 s after) -- 260 entries in each log, so both are trimmed;
* then ten days more, the routine's several hundred events.

Checked: the ids seen in the newest events after each cycle never change later (across
the trims) and never name two events; every tenant ends with the same events and ids
(getevents paged by offset/size equals one read; geteventsuntil, getnextevents and
getlasteventof give the same ids for the same events); each tenant's receiver got each
event once (no event id twice, one push per camera change), in the same order when
the clock only moves forward.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable
from typing import Any

import pytest

from clients.netatmo import NetatmoClient, WebhookReceiver
from emulator.testing import Admin
from tests.netatmo_http import CI, HOME_ID, Netatmo

T0 = 1_800_000_000                        # Fri 2027-01-15 09:00 in Paris
MINUTE, HOUR, DAY = 60, 3600, 86400
CAMERA = "70:ee:50:00:00:20"
CHLOE = "5e5c7a1b-2d3e-4f50-6172-8394000000c3"
SCOPE = "read_camera write_camera access_camera read_presence access_presence"
CYCLES = 130
END = T0 + CYCLES * MINUTE + 10 * DAY


def client(netatmo: Netatmo) -> NetatmoClient:
    c = NetatmoClient(*CI, netatmo.base, token={"access_token": netatmo.issue(SCOPE)})
    c.hooks["response"].append(netatmo.watch.hook)
    return c


def every_event(netatmo: Netatmo, size: int = 300) -> list[dict[str, Any]]:
    """getevents paged by offset/size to the end, newest first."""
    c, out = client(netatmo), []
    while True:
        page = c.getevents(HOME_ID, offset=len(out), size=size)["home"]["events"]
        out += page
        if len(page) < size:
            return out


def key(e: dict[str, Any]) -> tuple[Any, ...]:
    return (e["time"], e["type"], e.get("module_id") or e.get("camera_id"),
            e.get("person_id"), e.get("sub_type"), e.get("message"))


# the clock's moves before the writes of cycle i (at T0 + i minutes), and after them
Moves = Callable[[Admin, int], None]


def direct(admin: Admin, i: int) -> None:
    admin.set_time(T0 + i * MINUTE)


def back_and_forth(admin: Admin, i: int) -> None:
    """Past the cycle first (the deliveries flushed), then back to it."""
    admin.set_time(T0 + i * MINUTE + 7 * MINUTE + i % 5)
    admin.flush()
    admin.set_time(T0 + i * MINUTE)


def scenario(netatmo: Netatmo, admin: Admin, moves: Moves, tail: list[float],
             seen: dict[str, tuple[Any, ...]] | None = None) -> WebhookReceiver:
    admin.freeze(T0)
    admin.set_quotas("netatmo", [], enabled=False)
    receiver, named = WebhookReceiver(), {}
    assert client(netatmo).addwebhook(receiver.url)["status"] == "ok"
    for i in range(CYCLES):
        moves(admin, i)
        c = client(netatmo)
        c.setstate(HOME_ID, modules=[{"id": CAMERA, "monitoring": "off"}])
        c.setstate(HOME_ID, modules=[{"id": CAMERA, "monitoring": "on"}])
        admin.override_device("netatmo", CAMERA, online=False)
        admin.advance(1)
        admin.override_device("netatmo", CAMERA, online=True)
        if seen is not None:
            # the newest events' ids: each names one event and each event keeps its
            # id, forever (across the trims)
            for e in client(netatmo).getevents(HOME_ID, size=12)["home"]["events"]:
                assert seen.setdefault(e["id"], key(e)) == key(e), e
                assert named.setdefault(key(e), e["id"]) == e["id"], (i, e)
            if i % 10 == 0:
                admin.flush()
    at = T0 + CYCLES * MINUTE
    admin.set_time(at)
    for step in tail:
        at += step
        admin.set_time(at)
        admin.flush()
    assert at == END
    admin.flush()
    receiver.close()
    return receiver


def outcome(netatmo: Netatmo, receiver: WebhookReceiver) -> dict[str, Any]:
    events = every_event(netatmo)
    pushes = receiver.accepted()[1:]
    ids = [p["event_id"] for p in pushes if "event_id" in p]
    outdoor = Counter(p["event_id"] for p in pushes if p["push_type"].startswith("NOC-"))
    # an outdoor event pushes one push per detection, anything else one
    once = [i for i in ids if i not in outdoor]
    assert len(once) == len(set(once)), Counter(once).most_common(3)
    kinds = Counter(p["push_type"] for p in pushes if p.get("device_id") == CAMERA)
    for kind in ("NACamera-off", "NACamera-on", "NACamera-disconnection",
                 "NACamera-boot", "NACamera-connection"):
        assert kinds[kind] == CYCLES, (kind, kinds[kind])
    # what getevents shows since the webhook was added was pushed, under the same ids
    assert {e["id"] for e in events if e["time"] > T0} <= set(ids)
    return {"events": [(e["id"], key(e)) for e in events],
            "pushes": [(p["push_type"], p.get("event_id")) for p in pushes]}


@pytest.fixture
def tenants(mockcloud_server, mockcloud_admin_token, mockcloud: Admin):
    made: list[Admin] = []

    def make(suffix: str) -> Admin:
        admin = Admin(mockcloud_server, mockcloud.tenant + suffix,
                      token=mockcloud_admin_token)
        made.append(admin)
        return admin

    yield make
    for admin in made:
        admin.reset()


def test_event_ids_are_the_events_own_whatever_the_clock_and_the_trims(
        netatmo: Netatmo, mockcloud: Admin, tenants):
    seen: dict[str, tuple[Any, ...]] = {}
    one = scenario(netatmo, mockcloud, direct, [10 * DAY], seen)
    first = outcome(netatmo, one)
    events = every_event(netatmo)
    assert len(events) > CYCLES * 5 + 200          # the cameras' and the routine's
    # no id reused: each names one event, and those seen along the way kept theirs
    assert len({e["id"] for e in events}) == len(events)
    for e in events:
        assert seen.get(e["id"], key(e)) == key(e)
    kept = {e["id"] for e in events}
    assert sum(1 for i in seen if i in kept) > 400

    # the reads that take ids agree with getevents
    c = client(netatmo)
    assert [e["id"] for e in every_event(netatmo, size=37)] == [e["id"] for e in events]
    mid = events[150]
    until = c.geteventsuntil(HOME_ID, mid["id"])["events_list"]
    assert [e["id"] for e in until] == [e["id"] for e in events[:151]]
    after = c.getnextevents(HOME_ID, mid["id"], size=40)["events_list"]
    assert [e["id"] for e in after] == [e["id"] for e in events[151:191]]
    last = c.getlasteventof(HOME_ID, CHLOE, offset=300)["events_list"]
    upto = next(i for i, e in enumerate(events) if e.get("person_id") == CHLOE)
    assert [e["id"] for e in last] == [e["id"] for e in events[:upto + 1]]
    assert c.getevents(HOME_ID, event_id=mid["id"])["home"]["events"][0]["id"] == mid["id"]

    # other tenants, the same writes at the same instants, the clock moved otherwise
    many = tenants("-small")
    small = [1, 59, 3599, 17 * HOUR] + [7 * HOUR + 13] * 30
    small.append(10 * DAY - sum(small))
    net = Netatmo(many, netatmo.http, netatmo.watch)
    assert outcome(net, scenario(net, many, direct, small)) == first

    swing = tenants("-swing")
    net = Netatmo(swing, netatmo.http, netatmo.watch)
    back = [2 * DAY, -DAY, 3 * DAY, -2 * DAY + 17, 8 * DAY - 17]
    assert sum(back) == 10 * DAY
    got = outcome(net, scenario(net, swing, back_and_forth, back))
    assert got["events"] == first["events"]
    # the same pushes, each once; in another order: going past a cycle first delivers
    # the routine's events of those minutes before the cycle's writes make theirs
    assert sorted(got["pushes"]) == sorted(first["pushes"])
