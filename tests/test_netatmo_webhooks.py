"""Netatmo's webhooks pushed for real (issue 9): a served emulator (the ``mockcloud``
fixture's ``mockcloud serve``) POSTs to ``clients.netatmo.WebhookReceiver``.

The clock is frozen at ``T0``; tests move it and call ``POST /_mockcloud/webhooks/flush``
(``Admin.flush``), which returns once everything the clock has passed is delivered:
no sleeps. Every payload a receiver got is checked against
``contracts/schemas/netatmo/webhook.json`` when the test ends, and every answer of the
API against the Netatmo contract (the ``netatmo`` fixture's watch).

* addwebhook: the activation push, listed by the admin API, journaled as outbound;
  bad input answered 400/10, 400/21, 403/13;
* a day of events delivered in order after ``clock/advance 86400``, each once, the
  same list whether the day is moved in one step or many, and the same events
  getevents shows;
* pushes made by requests at a frozen instant: a set point, a mode, persons away, a
  camera switched off; admin injections now, into the past and into the future; a
  camera going offline and back;
* five failed deliveries ban the webhook for 24 virtual hours (the admin API shows it,
  nothing is sent meanwhile, deliveries resume after); lifting a ban;
* dropwebhook: nothing more is sent.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest
from jsonschema import Draft202012Validator

from clients.netatmo import ApiError, NetatmoClient, WebhookReceiver
from contracts.verify import load_contracts
from emulator.testing import Admin
from tests.netatmo_http import CI, HOME_ID, USER_ID, Netatmo, api_error

T0 = 1_800_000_000                        # Fri 2027-01-15 09:00 in Paris
HOUR, DAY = 3600, 86400
CAMERA, OUTDOOR, SMOKE = "70:ee:50:00:00:20", "70:ee:50:00:00:30", "70:ee:50:00:00:40"
CHLOE = "5e5c7a1b-2d3e-4f50-6172-8394000000c3"
ROOM = "3100000001"
SCOPE = ("read_camera write_camera access_camera read_presence access_presence "
         "write_presence read_smokedetector read_thermostat write_thermostat")
VALIDATOR = Draft202012Validator(
    {"$ref": "https://mockcloud.local/contracts/schemas/netatmo/webhook.json"},
    registry=load_contracts().registry)


@pytest.fixture
def house(netatmo: Netatmo, mockcloud: Admin) -> tuple[Netatmo, Admin]:
    mockcloud.freeze(T0)
    mockcloud.set_quotas("netatmo", [], enabled=False)
    return netatmo, mockcloud


@pytest.fixture
def receivers() -> Iterator[list[WebhookReceiver]]:
    """Receivers made by ``receiver()``; every payload they got must validate."""
    made: list[WebhookReceiver] = []
    yield made
    problems = []
    for r in made:
        r.close()
        for p in r.pushes:
            problems += [f"{(p or {}).get('push_type')}: {e.message}"
                         for e in VALIDATOR.iter_errors(p)]
    assert problems == []


@pytest.fixture
def receiver(receivers: list[WebhookReceiver]) -> WebhookReceiver:
    r = WebhookReceiver()
    receivers.append(r)
    return r


def client(netatmo: Netatmo, scope: str = SCOPE) -> NetatmoClient:
    """The reference client with a fresh token (tokens live 3 virtual hours), its
    answers checked against the contract."""
    c = NetatmoClient(*CI, netatmo.base, token={"access_token": netatmo.issue(scope)})
    c.hooks["response"].append(netatmo.watch.hook)
    return c


def register(netatmo: Netatmo, admin: Admin, receiver: WebhookReceiver) -> str:
    """The app's webhook for the user, its activation delivered; its id."""
    assert client(netatmo).addwebhook(receiver.url, "app_security")["status"] == "ok"
    admin.flush()
    (hook,) = admin.webhooks("netatmo")
    return hook["id"]


def types(receiver: WebhookReceiver) -> list[str]:
    return receiver.push_types()


def after_activation(receiver: WebhookReceiver) -> list[dict[str, Any]]:
    got = receiver.accepted()
    assert got[0] == {"push_type": "webhook_activation"}
    return got[1:]


def inject(admin: Admin, device: str, kind: str, at: float | None = None) -> dict:
    return admin.inject_event("netatmo", device, kind, at=at)


# ------------------------------------------------------------------ registration


def test_addwebhook_sends_the_activation_and_the_admin_api_lists_it(house, receiver):
    netatmo, admin = house
    hid = register(netatmo, admin, receiver)
    assert receiver.pushes == [{"push_type": "webhook_activation"}]
    post = receiver.posts[0]
    assert post["path"] == "/hook" and post["headers"]["Content-Type"] == "application/json"
    hook = admin.webhook("netatmo", hid)
    assert (hook["url"], hook["app_types"], hook["client_id"], hook["user_id"]) == (
        receiver.url, ["app_security"], CI[0], USER_ID)
    assert hook["counts"] == {"delivered": 1, "failed": 0, "skipped": 0}
    assert hook["banned"] is False and hook["cursor"] == T0
    (sent,) = admin.deliveries("netatmo", hid)
    assert (sent["push_type"], sent["status"], sent["code"], sent["attempts"],
            sent["at"]) == ("webhook_activation", "delivered", 200, 1, T0)
    assert sent["latency_ms"] >= 0
    (out,) = admin.journal(direction="outbound")
    assert (out["vendor"], out["client"], out["request"]["method"],
            out["request"]["url"]) == ("netatmo", CI[0], "POST", receiver.url)
    assert out["response"]["status"] == 200 and "webhook_activation" in \
        out["request"]["body"]["text"]
    # registering again (another URL) replaces it and activates it again
    other = WebhookReceiver()
    try:
        client(netatmo).addwebhook(other.url)
        admin.flush()
        (again,) = admin.webhooks("netatmo")
        assert (again["id"], again["url"]) == (hid, other.url)
        assert other.pushes == [{"push_type": "webhook_activation"}]
        assert len(receiver.pushes) == 1
    finally:
        other.close()


def test_addwebhook_refuses_bad_input_the_netatmo_way(house, receiver):
    netatmo, admin = house
    token = netatmo.issue(SCOPE)
    assert api_error(netatmo.api("addwebhook", token))[:2] == (400, 10)
    for bad in ("not a url", "ftp://example.com/hook", "http://", "http://x:99999/",
                "http://exa mple.com/", "https://" + "a" * 3000):
        assert api_error(netatmo.api("addwebhook", token, data={"url": bad}))[:2] == (
            400, 21), bad
    assert api_error(netatmo.api("addwebhook", token, json={
        "url": receiver.url, "app_types": [{"a": 1}]}))[:2] == (400, 21)
    energy_only = netatmo.issue("read_thermostat write_thermostat")
    assert api_error(netatmo.api("addwebhook", energy_only,
                                 data={"url": receiver.url}))[:2] == (403, 13)
    assert api_error(netatmo.api("dropwebhook", energy_only))[:2] == (403, 13)
    # GET with the query works as POST does; dropwebhook without a webhook is fine
    assert netatmo.api("dropwebhook", token).status_code == 200
    resp = netatmo.api("addwebhook", token, http="GET", params={"url": receiver.url})
    assert resp.status_code == 200 and resp.json()["status"] == "ok"
    admin.flush()
    assert receiver.pushes == [{"push_type": "webhook_activation"}]


# ------------------------------------------------------------------ the clock


def day_in_steps(netatmo: Netatmo, admin: Admin, receiver: WebhookReceiver,
                 steps: list[float]) -> list[dict[str, Any]]:
    register(netatmo, admin, receiver)
    for i, step in enumerate(steps):
        admin.advance(step)
        if i % 2:
            admin.flush()
    admin.flush()
    # picture URLs name the tenant's base the webhook was registered from: one name
    # for all, so that tenants compare
    return json.loads(json.dumps(after_activation(receiver)).replace(
        admin.url("netatmo"), "BASE"))


def test_a_day_of_events_is_delivered_in_order_once_whatever_the_steps(
        house, receivers, mockcloud_server, mockcloud_admin_token):
    netatmo, admin = house
    one = WebhookReceiver()
    receivers.append(one)
    day = day_in_steps(netatmo, admin, one, [DAY])
    assert len(day) >= 10
    kinds = {p["push_type"] for p in day}
    assert {"NACamera-person", "NACamera-movement"} <= kinds
    assert all(p["user_id"] == USER_ID and p["home_id"] == HOME_ID for p in day)
    (hook,) = admin.webhooks("netatmo")
    sent = admin.deliveries("netatmo", hook["id"])
    assert [d["n"] for d in sent] == list(range(1, len(day) + 2))
    ats = [d["at"] for d in sent]
    assert ats == sorted(ats) and ats[1] > T0 and ats[-1] <= T0 + DAY
    assert {d["status"] for d in sent} == {"delivered"}
    # nothing twice: back in time and forward again, flushed, sends nothing more
    admin.set_time(T0 + 100)
    admin.flush()
    admin.set_time(T0 + DAY)
    admin.flush()
    assert json.loads(json.dumps(after_activation(one)).replace(
        admin.url("netatmo"), "BASE")) == day
    # the events are the API's: every event getevents shows for the day was pushed
    shown = client(netatmo).getevents(HOME_ID, size=300)["home"]["events"]
    shown_ids = {e["id"] for e in shown if T0 < e["time"] <= T0 + DAY}
    pushed_ids = {p["event_id"] for p in day if "event_id" in p}
    assert shown_ids and shown_ids <= pushed_ids

    # another tenant (the same world and seed) moved in many steps: the same pushes
    other = Admin(mockcloud_server, admin.tenant + "-steps", token=mockcloud_admin_token)
    other.freeze(T0)
    other.set_quotas("netatmo", [], enabled=False)
    many = WebhookReceiver()
    receivers.append(many)
    steps = [0.5, 3599.5, 1, 7 * HOUR - 1, 41, 5 * HOUR, 1800, DAY - 13 * HOUR - 1841]
    assert sum(steps) == DAY
    netatmo_b = Netatmo(other, netatmo.http, netatmo.watch)
    assert day_in_steps(netatmo_b, other, many, steps) == day
    other.reset()


# ------------------------------------------------------------------ pushed by requests


def test_a_set_point_and_a_mode_change_are_pushed_at_once(house, receiver):
    netatmo, admin = house
    register(netatmo, admin, receiver)
    c = client(netatmo)
    c.setroomthermpoint(HOME_ID, ROOM, "manual", temp=22.5, endtime=T0 + HOUR)
    c.setthermmode(HOME_ID, "away")
    admin.flush()                       # the clock has not moved: the requests pushed
    sp, mode = after_activation(receiver)
    assert (sp["push_type"], sp["event_type"], sp["room_id"], sp["temperature"]) == (
        "display_change", "set_point", ROOM, 22.5)
    assert sp["home"]["rooms"][0]["therm_setpoint_end_time"] == T0 + HOUR
    assert (mode["push_type"], mode["event_type"], mode["home"]["therm_mode"]) == (
        "home_event_changed", "therm_mode", "away")
    # the same set point again at the same instant: pushed again (the cloud's display
    # changed again), never re-sent by the clock
    c.setroomthermpoint(HOME_ID, ROOM, "home")
    admin.advance(HOUR)
    admin.flush()
    later = after_activation(receiver)[2:]
    assert later[0]["event_type"] == "cancel_set_point"
    assert not [p for p in later[1:] if p["push_type"] in ("display_change",
                                                          "home_event_changed")]


def test_persons_away_and_a_camera_switched_off_are_pushed(house, receiver):
    netatmo, admin = house
    register(netatmo, admin, receiver)
    c = client(netatmo)
    c.setpersonsaway(HOME_ID, CHLOE)
    c.setpersonsaway(HOME_ID, CHLOE)    # twice in one second: two pushes, each once
    c.setstate(HOME_ID, modules=[{"id": CAMERA, "monitoring": "off"}])
    admin.flush()
    away1, away2, off = after_activation(receiver)
    assert (away1["push_type"], away1["person_id"]) == ("NACamera-person_away", CHLOE)
    assert away2["person_id"] == CHLOE and away2["event_id"] != away1["event_id"]
    assert (off["push_type"], off["device_id"]) == ("NACamera-off", CAMERA)
    admin.advance(60)
    admin.flush()
    assert types(receiver)[4:].count("NACamera-person_away") == 0
    assert "NACamera-off" not in types(receiver)[4:]


def test_admin_injections_are_pushed_now_into_the_past_and_when_the_clock_comes(
        house, receiver):
    netatmo, admin = house
    register(netatmo, admin, receiver)
    inject(admin, SMOKE, "smoke")                    # now
    inject(admin, SMOKE, "hush", at=T0 - 600)        # into the past: pushed next
    inject(admin, SMOKE, "smoke_cleared", at=T0 + 600)  # the future: by the clock
    admin.flush()
    now = after_activation(receiver)
    assert [(p["push_type"], p["sub_type"]) for p in now] == [("NSD-smoke", 1),
                                                              ("NSD-hush", 0)]
    admin.advance(599)
    admin.flush()
    assert "NSD-smoke" not in types(receiver)[3:]
    admin.advance(1)
    admin.flush()
    smoke = [(p["push_type"], p["sub_type"]) for p in after_activation(receiver)
             if p["push_type"].startswith("NSD")]
    assert smoke == [("NSD-smoke", 1), ("NSD-hush", 0), ("NSD-smoke", 0)]


def test_a_camera_going_offline_and_back_is_pushed(house, receiver):
    netatmo, admin = house
    register(netatmo, admin, receiver)
    admin.override_device("netatmo", CAMERA, online=False)
    admin.flush()
    assert types(receiver)[1:] == ["NACamera-disconnection"]
    admin.advance(10)
    admin.override_device("netatmo", CAMERA, online=True)
    admin.flush()
    assert types(receiver)[2:] == ["NACamera-boot"]      # connection: 24 s later
    admin.advance(24)
    admin.flush()
    assert [t for t in types(receiver)[3:] if "connection" in t] == ["NACamera-connection"]


# ------------------------------------------------------------------ the ban


def fail_five(admin: Admin, receiver: WebhookReceiver, hid: str) -> dict:
    """Five smoke alarms 1-5 minutes ahead answered 500: the fifth bans."""
    receiver.answer(500, 500, 500, 500, 500)
    for i in range(1, 6):
        inject(admin, SMOKE, "smoke" if i % 2 else "smoke_cleared", at=T0 + 60 * i)
    admin.advance(300)
    admin.flush()
    hook = admin.webhook("netatmo", hid)
    assert hook["banned"] is True and hook["bans"] == 1
    return hook


def test_five_failures_within_an_hour_ban_for_24_virtual_hours(house, receiver):
    netatmo, admin = house
    hid = register(netatmo, admin, receiver)
    hook = fail_five(admin, receiver, hid)
    assert [p["code"] for p in receiver.posts[1:]] == [500] * 5
    end = hook["banned_until"]
    assert T0 + 60 * 5 + DAY >= end >= T0 + DAY
    failed = [d for d in admin.deliveries("netatmo", hid) if d["status"] == "failed"]
    assert len(failed) == 5 and {d["code"] for d in failed} == {500}
    assert {e["response"]["status"] for e in admin.journal(direction="outbound")} == {
        200, 500}
    # banned: the day's events and an alarm are skipped, none is sent
    inject(admin, SMOKE, "smoke", at=end - 60)
    admin.set_time(end - 1)
    admin.flush()
    assert len(receiver.posts) == 6
    hook = admin.webhook("netatmo", hid)
    assert hook["banned"] is True and hook["counts"]["skipped"] > 1
    skipped = [d for d in admin.deliveries("netatmo", hid) if d["status"] == "skipped"]
    assert skipped and all(d["attempts"] == 0 for d in skipped)
    # the ban ends after 24 virtual hours: what happens next is delivered, no backlog
    inject(admin, SMOKE, "smoke_cleared", at=end + 30)
    admin.set_time(end + 60)
    admin.flush()
    assert admin.webhook("netatmo", hid)["banned"] is False
    new = [p["json"] for p in receiver.posts[6:]]
    assert ("NSD-smoke", 0) in [(p["push_type"], p.get("sub_type")) for p in new]
    assert not [p for p in new if p["push_type"] == "NSD-smoke" and p["sub_type"] == 1]
    assert all(p["code"] == 200 for p in receiver.posts[6:])


def test_the_admin_api_lifts_a_ban(house, receiver):
    netatmo, admin = house
    hid = register(netatmo, admin, receiver)
    fail_five(admin, receiver, hid)
    lifted = admin.lift_ban("netatmo", hid)
    assert (lifted["banned"], lifted["failures"]) == (False, [])
    client(netatmo).setpersonsaway(HOME_ID, CHLOE)
    admin.flush()
    assert receiver.posts[-1]["json"]["push_type"] == "NACamera-person_away"
    assert receiver.posts[-1]["code"] == 200


def test_dropwebhook_stops_every_push(house, receiver):
    netatmo, admin = house
    register(netatmo, admin, receiver)
    c = client(netatmo)
    assert c.dropwebhook()["status"] == "ok"
    assert admin.webhooks("netatmo") == []
    c.setpersonsaway(HOME_ID, CHLOE)
    inject(admin, SMOKE, "smoke")
    admin.advance(DAY)
    admin.flush()
    assert receiver.pushes == [{"push_type": "webhook_activation"}]
    with pytest.raises(ApiError) as err:
        client(netatmo, "read_thermostat").dropwebhook()
    assert err.value.code == 13


def test_concurrent_writes_in_one_second_push_each_event_once(house, receiver):
    netatmo, admin = house
    register(netatmo, admin, receiver)
    clients = [client(netatmo) for _ in range(8)]
    with ThreadPoolExecutor(4) as pool:
        list(pool.map(lambda c: c.setpersonsaway(HOME_ID, CHLOE), clients))
    admin.flush()
    away = after_activation(receiver)
    assert [p["push_type"] for p in away] == ["NACamera-person_away"] * 8
    assert len({p["event_id"] for p in away}) == 8
