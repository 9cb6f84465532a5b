"""Webhooks pushed for real (core/webhooks.py), through the toy vendor: a real
``mockcloud serve`` POSTs to a real receiver (``tests/toy_server.Receiver``).

The toy's source ticks every 600 virtual seconds; the clock is frozen at ``START`` (a
tick instant) so tick ``K + n`` falls at ``START + 600 n``. Tests move the clock and call
``POST /_mockcloud/webhooks/flush`` (``Admin.flush``), which returns once every event
the clock has passed is delivered: no sleeps. The few that must see the worker act
alone wait on the receiver (with a generous limit), never on a fixed delay.
"""

from __future__ import annotations

import contextlib
import dataclasses

import pytest
import requests

from emulator.core.webhooks import PushSpec
from emulator.testing import Admin, AdminError
from tests.toy_server import Receiver, serve_toy

START = 1_800_000_000          # 2027-01-15T08:00:00Z, a multiple of the toy's 600 s tick
K = START // 600               # the tick at START (not sent: it is not after START)
TIMEOUT = 3                    # the servers' webhook timeout (seconds)
ANN = "ann@toy.test"


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    with serve_toy(tmp_path_factory.mktemp("toy"),
                   env={"MOCKCLOUD_WEBHOOK_TIMEOUT": str(TIMEOUT)}) as srv:
        yield srv.url


@pytest.fixture
def toy(server, request) -> Admin:
    name = request.node.name.replace("[", "-").replace("]", "")[:40].strip("-_")
    admin = Admin(server, f"wh-{name}")
    admin.freeze(START)
    return admin


@pytest.fixture
def receiver():
    r = Receiver()
    yield r
    r.close()


def token(toy: Admin, client: str = "toy-app", user: str | None = None) -> str:
    return toy.issue_token("toy", client, user, "read_lamps")["access_token"]


def add_webhook(toy: Admin, url: str, access: str | None = None,
                **form) -> requests.Response:
    return requests.post(toy.url("toy") + "/api/addwebhook", timeout=30,
                         data={"url": url, **form},
                         params={"access_token": access or token(toy)})


def register(toy: Admin, receiver: Receiver, client: str = "toy-app") -> str:
    """A webhook of ``client`` for ann, its activation delivered; its id."""
    resp = add_webhook(toy, receiver.url, token(toy, client, ANN))
    assert resp.status_code == 200, resp.text
    toy.flush()
    (hook,) = toy.webhooks("toy", client_id=client)
    return hook["id"]


def ticks(receiver: Receiver) -> list[int]:
    return [p["tick"] - K for p in receiver.payloads("tick")]


def test_activation_then_the_clock_delivers_events_in_order_and_journals_them(
        toy, receiver):
    hid = register(toy, receiver)
    assert receiver.payloads() == [{"push_type": "webhook_activation", "user_id": ANN}]
    toy.advance(1800)
    toy.flush()
    assert ticks(receiver) == [1, 2, 3]
    post = receiver.posts[-1]
    assert post["path"] == "/hook" and post["headers"]["Content-Type"] == "application/json"
    assert post["json"] == {"push_type": "tick", "user_id": ANN, "tick": K + 3}

    hook = toy.webhook("toy", hid)
    assert hook["counts"] == {"delivered": 4, "failed": 0, "skipped": 0}
    assert (hook["cursor"], hook["queued"], hook["banned"]) == (START + 1800, 0, False)
    sent = toy.deliveries("toy", hid)
    assert [(d["n"], d["push_type"], d["status"], d["code"], d["attempts"]) for d in sent] == [
        (1, "webhook_activation", "delivered", 200, 1), (2, "tick", "delivered", 200, 1),
        (3, "tick", "delivered", 200, 1), (4, "tick", "delivered", 200, 1)]
    assert [d["at"] for d in sent] == [START, START + 600, START + 1200, START + 1800]
    assert all(d["latency_ms"] >= 0 and d["error"] is None for d in sent)

    out = toy.journal(direction="outbound")
    assert len(out) == 4 and {e["direction"] for e in out} == {"outbound"}
    assert [e["time"] for e in out] == [d["at"] for d in sent]
    last = out[-1]
    assert (last["vendor"], last["client"], last["request"]["method"]) == ("toy", "toy-app",
                                                                           "POST")
    assert last["request"]["url"] == receiver.url
    assert last["request"]["headers"]["Content-Type"] == "application/json"
    assert f'"tick":{K + 3}' in last["request"]["body"]["text"]
    assert last["response"]["status"] == 200 and last["note"].startswith(f"webhook {hid}")
    inbound = toy.journal(direction="inbound")
    assert [e["request"]["path"] for e in inbound] == ["/toy/api/addwebhook"]
    assert "outbound" not in toy.cassette()  # a cassette replays a client's requests


def test_any_steps_of_the_clock_deliver_each_event_once_and_in_order(toy, receiver):
    register(toy, receiver)
    total = 0.0
    for i, step in enumerate([0.25, 599.75, 1, 598, 1, 1799.5, 0.5, 3600 * 3, 7, 593]):
        toy.advance(step)
        total += step
        if i % 3:               # not after every step: several moves fold into one batch
            toy.flush()
    toy.flush()
    assert ticks(receiver) == list(range(1, int(total // 600) + 1))
    # back in time and forward again to where it was: nothing is sent twice
    toy.set_time(START + 100)
    toy.flush()
    toy.set_time(START + total)
    toy.flush()
    assert ticks(receiver) == list(range(1, int(total // 600) + 1))
    # a big jump: batches (256 events) are cut between instants, none lost or repeated
    toy.advance(600 * 700)
    toy.flush()
    assert ticks(receiver) == list(range(1, int(total // 600) + 701))


def test_five_failures_within_an_hour_ban_the_webhook_for_24_virtual_hours(toy, receiver):
    hid = register(toy, receiver)
    receiver.answer(500, 500, 500, 500, 500)
    toy.advance(3000)           # ticks 1-5 fail (within 40 minutes): the fifth bans
    toy.flush()
    hook = toy.webhook("toy", hid)
    ban_end = START + 3000 + 86400
    assert (hook["banned"], hook["banned_until"], hook["bans"]) == (True, ban_end, 1)
    assert hook["failures"] == []  # counted towards the ban, forgotten by it
    toy.advance(3600)           # ticks 6-11 fall in the ban: skipped, never sent
    toy.flush()
    assert len(receiver.posts) == 6  # the activation and five failed ticks
    sent = toy.deliveries("toy", hid)
    assert [(d["status"], d["code"]) for d in sent[1:6]] == [("failed", 500)] * 5
    assert all(d["error"] == "HTTP 500" and d["attempts"] == 1 for d in sent[1:6])
    assert [(d["status"], d["attempts"], d["code"]) for d in sent[6:]] == [
        ("skipped", 0, None)] * 6
    toy.set_time(ban_end - 1)
    toy.flush()
    assert len(receiver.posts) == 6 and toy.webhook("toy", hid)["banned"] is True
    toy.advance(601)            # the ban is over at ban_end: that tick is sent, and on
    toy.flush()
    assert ticks(receiver)[-2:] == [(ban_end - START) // 600, (ban_end - START) // 600 + 1]
    hook = toy.webhook("toy", hid)
    assert hook["banned"] is False and hook["counts"]["failed"] == 5
    assert hook["counts"]["skipped"] == (ban_end - START) // 600 - 6


def test_failures_spread_over_more_than_an_hour_do_not_ban(toy, receiver):
    hid = register(toy, receiver)
    receiver.answer(500, 500, 500, 500)
    toy.advance(2400)           # four failures at +600..+2400
    toy.flush()
    toy.advance(3600)           # six good ticks; the four failures age out of the hour
    toy.flush()
    receiver.answer(500)
    toy.advance(600)            # a fifth failure, more than an hour after the others
    toy.flush()
    hook = toy.webhook("toy", hid)
    assert hook["banned"] is False and hook["failures"] == [START + 6600]
    assert hook["counts"] == {"delivered": 7, "failed": 5, "skipped": 0}


def test_lifting_a_ban_through_the_admin_api(toy, receiver):
    hid = register(toy, receiver)
    receiver.answer(*[503] * 5)
    toy.advance(3000)
    toy.flush()
    assert toy.webhook("toy", hid)["banned"] is True
    lifted = toy.lift_ban("toy", hid)
    assert (lifted["banned"], lifted["banned_until"], lifted["bans"]) == (False, None, 1)
    toy.advance(600)
    toy.flush()
    assert ticks(receiver) == [1, 2, 3, 4, 5, 6] and receiver.posts[-1]["code"] == 200
    assert toy.deliveries("toy", hid)[-1]["status"] == "delivered"


def test_a_dropped_webhook_receives_nothing_more(toy, receiver):
    register(toy, receiver)
    toy.advance(600)
    toy.flush()
    access = token(toy)
    drop = requests.post(toy.url("toy") + "/api/dropwebhook", params={"access_token": access},
                         timeout=30)
    assert drop.status_code == 200, drop.text
    toy.advance(6000)
    toy.flush()
    assert ticks(receiver) == [1] and toy.webhooks("toy") == []
    again = requests.post(toy.url("toy") + "/api/dropwebhook", timeout=30,
                          params={"access_token": token(toy)})  # the first one expired
    assert (again.status_code, again.json()["error"]["code"]) == (404, 9)
    with pytest.raises(AdminError, match="has no webhook"):
        toy.push("toy", ANN, {"push_type": "late"})


def test_registering_again_changes_the_url_and_activates_again(toy, receiver):
    hid = register(toy, receiver)
    other = Receiver()
    try:
        assert add_webhook(toy, other.url, app_types="app_toy").status_code == 200
        toy.advance(600)
        toy.flush()
        assert [p["push_type"] for p in other.payloads()] == ["webhook_activation", "tick"]
        (hook,) = toy.webhooks("toy")
        assert (hook["id"], hook["url"], hook["app_types"]) == (hid, other.url, ["app_toy"])
        assert len(receiver.posts) == 1
    finally:
        other.close()


@pytest.mark.parametrize("url", ["", "ftp://example.com/hook", "http:///nohost",
                                 "http://example.com:99999/", "not a url"])
def test_a_bad_webhook_url_is_refused_in_the_vendors_envelope(toy, url):
    resp = add_webhook(toy, url)
    assert (resp.status_code, resp.json()["error"]["code"]) == (400, 21), resp.text
    assert toy.webhooks("toy") == []


def test_injected_pushes_keep_their_place_in_the_stream(toy, receiver):
    hid = register(toy, receiver)
    other_hid = register(toy, receiver, client="toy-other")   # ann, through another app
    assert other_hid != hid
    toy.push("toy", ANN, {"push_type": "doorbell"}, at=START + 900)
    toy.push("toy", ANN, {"push_type": "same-instant"}, at=START + 1200,
             client_id="toy-app")
    toy.advance(1800)
    toy.flush()
    mine = [d["payload"].get("tick", d["push_type"]) for d in toy.deliveries("toy", hid)]
    assert mine == ["webhook_activation", K + 1, "doorbell", "same-instant", K + 2, K + 3]
    theirs = [d["payload"].get("tick", d["push_type"]) for d in toy.deliveries("toy", other_hid)]
    assert theirs == ["webhook_activation", K + 1, "doorbell", K + 2, K + 3]
    # a push for an instant the stream has passed goes out next, at the cursor
    toy.push("toy", ANN, {"push_type": "from-the-past"}, at=START, client_id="toy-app")
    toy.flush()
    last = toy.deliveries("toy", hid)[-1]
    assert (last["push_type"], last["at"]) == ("from-the-past", START + 1800)


def test_a_slow_receiver_blocks_no_request_and_times_out(toy, receiver):
    hid = register(toy, receiver)
    receiver.hold()
    toy.advance(600)                 # the worker (woken by the move) sends tick 1 ...
    assert receiver.holding.wait(30)  # ... and the receiver keeps it waiting
    access = token(toy)
    lamps = requests.get(toy.url("toy") + "/api/lamps", params={"access_token": access},
                         timeout=30)
    assert lamps.status_code == 200
    assert toy.now() == START + 600
    # those answered while the delivery was still waiting for its reply
    assert toy.webhook("toy", hid)["sending"] is True
    toy.flush(timeout=TIMEOUT * 5)   # the delivery gives up after the server's timeout
    receiver.release()
    (failed,) = toy.deliveries("toy", hid)[1:]
    assert (failed["status"], failed["code"], failed["error"]) == ("failed", None, "timed out")
    out = toy.journal(direction="outbound")[-1]
    assert out["response"]["status"] == 0 and "timed out" in out["response"]["reason"]
    toy.advance(600)
    toy.flush()
    assert toy.deliveries("toy", hid)[-1]["status"] == "delivered"


def test_a_running_clock_delivers_without_being_asked(toy, receiver):
    toy.resume()
    resp = add_webhook(toy, receiver.url)
    assert resp.status_code == 200
    assert receiver.wait_for(1, timeout=30)   # the registration woke the worker
    toy.push("toy", ANN, {"push_type": "soon"}, at=toy.now() + 0.5)
    assert receiver.wait_for(2, timeout=30)   # the worker's own rounds found it due
    assert receiver.payloads()[1] == {"push_type": "soon"}


def test_sqlite_workers_send_each_event_once(tmp_path, receiver):
    state = f"sqlite:///{tmp_path / 'state.db'}"
    with serve_toy(tmp_path, "--state", state, "--workers", "2") as srv:
        toy = Admin(srv.url, "wh-sqlite")
        toy.freeze(START)
        register(toy, receiver)
        for _ in range(3):
            toy.advance(600 * 150)
            toy.flush(timeout=60)
        assert ticks(receiver) == list(range(1, 451))


@contextlib.contextmanager
def in_process(tmp_path, spec: PushSpec):
    """The toy vendor with ``spec`` in an app of this process (werkzeug's test client),
    a webhook of ann registered at START to a receiver: (client, receiver, app)."""
    import toy_vendor
    from werkzeug.test import Client

    from emulator import app as app_module
    from emulator.settings import Settings
    from tests.toy_server import toy_world

    vendor = dataclasses.replace(toy_vendor.VENDOR, push=spec)
    mc = app_module.create_app(Settings(world=str(toy_world(tmp_path)), webhook_timeout=3),
                               vendors=(*app_module.VENDORS, vendor))
    receiver = Receiver()
    try:
        client = Client(mc)
        assert client.post("/_mockcloud/clock/freeze", json={"at": START}).status_code == 200
        form = {"grant_type": "client_credentials", "client_id": "toy-app",
                "client_secret": "toy-secret", "scope": "read_lamps"}
        access = client.post("/toy/oauth2/token", data=form).json["access_token"]
        assert client.post("/toy/api/addwebhook", data={"url": receiver.url},
                           query_string={"access_token": access}).status_code == 200
        yield client, receiver, mc
    finally:
        receiver.close()
        mc.deliverer.stop()


def flush(client) -> dict:
    done = client.post("/_mockcloud/webhooks/flush", json={})
    assert done.status_code == 200 and done.json["done"] is True, done.text
    return done.json


def test_a_source_instant_is_never_split_across_batches(tmp_path, monkeypatch):
    """Many events at one instant, with batches of 4."""
    from emulator.core import webhooks

    def burst(store, tenant, hook, t0, t1):
        instants = [START + 10] * 6 + [START + 20] * 3
        return [(at, {"push_type": "b", "i": i}) for i, at in enumerate(instants)
                if t0 < at <= t1]

    monkeypatch.setattr(webhooks, "BATCH", 4)
    with in_process(tmp_path, PushSpec(source=burst)) as (client, receiver, _):
        claims = []
        real_claim = webhooks.Deliverer._claim

        def spy(self, tenant, hid, t0, t1, taken, count, token=None):
            won = real_claim(self, tenant, hid, t0, t1, taken, count, token)
            if won is not None and count:
                claims.append((t0, t1, count))
            return won

        monkeypatch.setattr(webhooks.Deliverer, "_claim", spy)
        client.post("/_mockcloud/clock/advance", json={"seconds": 30})
        flush(client)
        assert [p["i"] for p in receiver.payloads("b")] == list(range(9))
        assert claims == [(START, START + 10, 6), (START + 10, START + 30, 3)]


def test_retries_are_the_vendors_and_a_delivery_fails_once(tmp_path):
    spec = PushSpec(source=toy_tick_source(), retries=2)
    with in_process(tmp_path, spec) as (client, receiver, _):
        receiver.answer(500, 502, 200, 500, 500, 500)
        client.post("/_mockcloud/clock/advance", json={"seconds": 1200})
        flush(client)
        (hook,) = client.get("/_mockcloud/webhooks/toy").json["webhooks"]
        sent = client.get(f"/_mockcloud/webhooks/toy/{hook['id']}/deliveries").json
        assert [(d["status"], d["attempts"], d["code"]) for d in sent["deliveries"]] == [
            ("delivered", 3, 200), ("failed", 3, 500)]
        assert hook["failures"] == [START + 1200] and len(receiver.posts) == 6


def test_a_broken_source_stops_its_webhook_not_the_server(tmp_path, caplog):
    def broken(store, tenant, hook, t0, t1):
        return [(START + 1, "not a dict")]

    with in_process(tmp_path, PushSpec(source=broken)) as (client, receiver, _):
        client.post("/_mockcloud/clock/advance", json={"seconds": 60})
        assert flush(client)["delivered"] == 0
        (hook,) = client.get("/_mockcloud/webhooks/toy").json["webhooks"]
        assert hook["cursor"] == START and receiver.posts == []
        assert "(instant, dict) pairs" in caplog.text


def toy_tick_source():
    import toy_vendor

    return toy_vendor.ticks
