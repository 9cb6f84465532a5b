"""A set point that repeats the last event of its instant and target, byte for byte,
leaves the home as it was (issue 8): ``record`` says so and the store is not written.
Anything else (another value, another event of that instant in between, a stored
``21.0`` against a sent ``21``) is written as before. Also: the form of a repeated
request is split once (``transport._PARSED``) and reads as a fresh split."""

from __future__ import annotations

import copy
import random
import urllib.parse

import orjson
import pytest
from werkzeug.test import Client

from emulator.app import create_app
from emulator.core.clock import Clock
from emulator.netatmo import energy, transport
from emulator.netatmo import energy_state as es
from emulator.settings import Settings

HOME, ROOMS = "5e5c7a1b2d3e4f50617283a0", ["r1", "r2"]
T0 = 1_800_000_000.0


@pytest.mark.parametrize("seed", range(6))
def test_record_says_false_exactly_when_the_log_is_unchanged(seed: int) -> None:
    rng = random.Random(seed)
    home: dict = {"id": "h1", "rooms": [{"id": r} for r in ROOMS], "schedules": [],
                  "therm_mode": "schedule"}
    t, unchanged = T0, 0
    for _ in range(200):              # past MAX_EVENTS: sealing writes too
        t += rng.choice([0, 0, 0, 1])
        at = t - rng.choice([0, 0, 0, 0, 5])
        event = {"kind": "room", "room": rng.choice(ROOMS), "mode": "manual",
                 "temp": rng.choice([21, 21, 21.0, 19.5]), "end": at + 3600}
        before = orjson.dumps(home)
        changed = es.record(home, event, at)
        assert changed == (orjson.dumps(home) != before)
        unchanged += not changed
        es.take_pending(home)
    assert unchanged > 10


def _app():
    app = create_app(Settings(state="memory"))
    client = Client(app)
    r = client.put("/_mockcloud/quotas/netatmo", json={"enabled": False, "rules": []})
    assert r.status_code == 200
    Clock(app.store, "default").freeze(T0)
    r = client.post("/_mockcloud/tokens", json={
        "vendor": "netatmo", "client_id": "netatmo-ci", "user": "dev@netatmo.test",
        "scope": "read_station read_thermostat write_thermostat"})
    headers = {"Authorization": f"Bearer {r.get_json()['access_token']}",
               "Content-Type": "application/x-www-form-urlencoded"}
    return app, client, headers


def _post(client: Client, headers: dict, method: str, **form: str) -> dict:
    r = client.post(f"/netatmo/api/{method}", headers=headers,
                    data=urllib.parse.urlencode({"home_id": HOME, **form}))
    assert r.status_code == 200, r.get_data(as_text=True)
    return r.get_json()


def test_a_repeated_set_point_leaves_the_store_as_it_was_and_reads_the_same() -> None:
    app, client, headers = _app()
    store = app.store

    def log() -> list:
        return copy.deepcopy(es.events(store.snapshot("default", energy.HOME, HOME)))

    def setpoint(room: str, temp: str) -> None:
        answer = _post(client, headers, "setroomthermpoint", room_id=room, mode="manual",
                       temp=temp)
        assert answer["status"] == "ok" and answer["time_server"] == int(T0)

    setpoint("3100000001", "21")
    status = _post(client, headers, "homestatus")["body"]
    gen, first = store.generation("default", energy.HOME), log()
    setpoint("3100000001", "21")                   # the same, in the same second
    assert store.generation("default", energy.HOME) is gen and log() == first
    assert _post(client, headers, "homestatus")["body"] == status
    setpoint("3100000001", "22")                   # another value: written
    assert store.generation("default", energy.HOME) is not gen
    assert [e["temp"] for e in log()] == [22]
    rooms = [r["id"] for r in store.snapshot("default", energy.HOME, HOME)["rooms"]]
    other = next(r for r in rooms if r != "3100000001")
    setpoint(other, "20")
    setpoint("3100000001", "22")                   # the same, but now after another
    assert [(e["room"], e["temp"]) for e in log()] == [(other, 20), ("3100000001", 22)]


def test_a_repeated_form_is_split_once_and_reads_as_a_fresh_split() -> None:
    from flask import Flask

    app = Flask(__name__)
    body = b"home_id=h&room_id=&room_id=r&temp=21"
    kw = {"method": "POST", "data": body, "query_string": "a=1",
          "content_type": "application/x-www-form-urlencoded"}
    got = []
    for _ in range(2):
        with app.test_request_context("/api/x", **kw):
            from flask import request
            request.environ["mockcloud.body"] = body
            got.append(transport.Params.from_request())
    assert got[0] is got[1]
    params = got[0]
    assert params._values == {"a": ["1"], "home_id": ["h"], "room_id": ["", "r"],
                              "temp": ["21"]}
    assert params.str("room_id") == "r" and params.float("temp") == 21.0
    assert "room_id" in params and "x" not in params and params.raw("x") is None
    kw["content_type"] = "text/plain"                 # werkzeug's parse: not kept
    with app.test_request_context("/api/x", **kw):
        from flask import request
        request.environ["mockcloud.body"] = body
        a = transport.Params.from_request()
        b = transport.Params.from_request()
    assert a is not b and a._values == b._values == {"a": ["1"]}
