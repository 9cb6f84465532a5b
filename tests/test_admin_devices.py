"""Devices under the test's control: ``/_mockcloud/devices/<vendor>[/<device_id>]``.

Over real HTTP (the plugin's server, with its admin token): an override shows in the
vendor's API at once (Lightify's ``online``), follows the virtual clock as an event in
time, is refused where the device has no such thing, stays in its tenant, and sits
behind the admin lock. Every admin answer is checked against its contract schema; the
``lightify`` fixture checks the Lightify answers against Lightify's. Unit tests for
``core.devices``' fold of events at the end.
"""

from __future__ import annotations

import uuid
from typing import Any

import pytest
import requests

from emulator.core import devices as d
from emulator.core.store import MemoryStore
from emulator.testing import Admin, AdminError
from tests.conftest import CI_APP
from tests.contract_files import ContractFiles

ADMIN_SCHEMAS = ContractFiles("admin")
LIGHT, OUTLET_OFF, GATEWAY = "123456-d01", "123456-d03", "123456"


def conforms(body: Any, schema: str) -> Any:
    ref = {"$ref": (ADMIN_SCHEMAS.schema_dir / schema).resolve().as_uri()}
    errors = [e.message for e in ADMIN_SCHEMAS.validator(ref).iter_errors(body)]
    assert not errors, errors
    return body


def online(lightify, token: str, device_id: str) -> bool:
    one = lightify.api("GET", f"/devices/{device_id}", token)
    listed = lightify.api("GET", "/devices", token)
    assert one.status_code == listed.status_code == 200, (one.text, listed.text)
    in_list = {dev["id"]: dev["online"] for dev in listed.json()["devices"]}[device_id]
    assert one.json()["online"] is in_list
    return in_list


def new_token(admin: Admin) -> str:
    return admin.issue_token("lightify", CI_APP[0], "demo@lightify.test")["access_token"]


def raw(admin: Admin, method: str, path: str, headers: dict | None = None,
        **kw) -> requests.Response:
    return requests.request(method, f"{admin.url()}/_mockcloud{path}", timeout=30,
                            headers={**admin.headers, **(headers or {})}, **kw)


# ------------------------------------------------------ override, read it in the API

def test_taking_a_light_offline_shows_in_the_lightify_api(mockcloud: Admin, lightify,
                                                           token: str):
    assert online(lightify, token, LIGHT) is True
    answer = conforms(mockcloud.override_device("lightify", LIGHT, online=False),
                      "device_state.json")
    assert answer["overrides"] == {"online": False}
    assert answer["state"]["online"] is False and answer["accepts"] == ["online"]
    assert online(lightify, token, LIGHT) is False
    # an offline device still takes a PATCH, stored for when it is back (INFERRED)
    resp = lightify.api("PATCH", f"/devices/{LIGHT}", token, json={"brightness": 42})
    assert resp.status_code == 200, resp.text
    assert resp.json()["online"] is False and resp.json()["brightness"] == 42
    # reachable is online's alias; null drops the override: the world's value again
    mockcloud.override_device("lightify", LIGHT, reachable=None)
    assert online(lightify, token, LIGHT) is True
    assert lightify.api("GET", f"/devices/{LIGHT}", token).json()["brightness"] == 42
    events = conforms(mockcloud.device("lightify", LIGHT), "device_state.json")["events"]
    assert [e["changes"] for e in events] == [{"online": False}, {"online": None}]


def test_a_device_offline_in_the_world_can_be_brought_online(mockcloud: Admin, lightify,
                                                             token: str):
    assert online(lightify, token, OUTLET_OFF) is False
    mockcloud.override_device("lightify", OUTLET_OFF, reachable=True)
    assert online(lightify, token, OUTLET_OFF) is True
    mockcloud.override_device("lightify", GATEWAY, online=False)
    assert online(lightify, token, GATEWAY) is False
    cleared = mockcloud.override_device("lightify", OUTLET_OFF, clear=True)
    assert cleared["overrides"] == {} and cleared["state"]["online"] is False
    assert online(lightify, token, OUTLET_OFF) is False
    listed = conforms({"devices": mockcloud.devices("lightify")}, "device_list.json")
    by_id = {dev["id"]: dev for dev in listed["devices"]}
    assert by_id[GATEWAY]["overrides"] == {"online": False}
    assert by_id[GATEWAY]["type"] == "GATEWAY" and by_id[LIGHT]["overrides"] == {}
    assert by_id[LIGHT]["owner"] == "demo@lightify.test"


def test_an_override_is_an_event_on_the_virtual_clock(mockcloud: Admin, lightify):
    start = mockcloud.freeze("2030-01-01T00:00:00Z")["now"]
    token = new_token(mockcloud)  # issued on the moved clock
    mockcloud.advance(60)
    answer = mockcloud.override_device("lightify", LIGHT, online=False)
    assert [(e["at"], e["iso"]) for e in answer["events"]] == [
        (start + 60, "2030-01-01T00:01:00Z")]
    mockcloud.set_time(start)  # before the override: not in force yet
    assert online(lightify, token, LIGHT) is True
    assert mockcloud.device("lightify", LIGHT)["overrides"] == {}
    # an override made now, at an earlier instant, is kept in time order
    mockcloud.override_device("lightify", LIGHT, online=True)
    mockcloud.advance(120)
    assert online(lightify, token, LIGHT) is False  # the later event wins
    events = mockcloud.device("lightify", LIGHT)["events"]
    assert [e["at"] for e in events] == [start, start + 60]


def test_the_world_shows_the_world_and_a_new_world_drops_overrides(mockcloud: Admin,
                                                                   lightify, token: str):
    world = mockcloud.export_world()
    mockcloud.override_device("lightify", LIGHT, online=False)
    assert mockcloud.export_world() == world
    mockcloud.load_world(world)
    assert mockcloud.device("lightify", LIGHT)["events"] == []
    mockcloud.override_device("lightify", LIGHT, online=False)
    mockcloud.reset()
    assert mockcloud.device("lightify", LIGHT)["overrides"] == {}
    assert online(lightify, new_token(mockcloud), LIGHT) is True


# ------------------------------------------------------------------------ refusals

@pytest.mark.parametrize(("changes", "what"), [
    ({"battery_percent": 10}, "battery_percent"),
    ({"window_open": True}, "window_open"),
    ({"weather": {"temperature": -5, "rain": 2.5}}, "weather"),
    ({"online": False, "battery_percent": 0}, "battery_percent"),
])
def test_what_a_lightify_device_has_not_is_refused(mockcloud: Admin, lightify, token: str,
                                                    changes: dict, what: str):
    resp = raw(mockcloud, "PATCH", f"/devices/lightify/{LIGHT}", json=changes)
    assert resp.status_code == 400
    body = conforms(resp.json(), "error.json")
    assert body["error"] == "invalid_override"
    assert body["message"].startswith(f"Lightify devices have no {what}")
    assert mockcloud.device("lightify", LIGHT)["events"] == []  # all or nothing
    assert online(lightify, token, LIGHT) is True


@pytest.mark.parametrize(("body", "says"), [
    ({}, "Nothing to change"),
    ({"online": "false"}, "'online'"),
    ({"battery_percent": -1}, "'battery_percent'"),
    ({"battery_percent": 50.0}, "'battery_percent'"),
    ({"weather": {"temperature": 61}}, "'weather.temperature'"),
    ({"weather": {"snow": 3}}, "snow"),
    ({"online": True, "reachable": True}, "not both"),
    ({"clear": "yes"}, "'clear'"),
    ({"offline": True}, "offline"),
])
def test_a_body_off_the_schema_is_refused_naming_the_field(mockcloud: Admin, body: dict,
                                                           says: str):
    resp = raw(mockcloud, "PATCH", f"/devices/lightify/{LIGHT}", json=body)
    assert resp.status_code == 400, resp.text
    assert conforms(resp.json(), "error.json")["error"] == "invalid_override"
    assert says in resp.json()["message"]


def test_unknown_vendor_and_device_are_404(mockcloud: Admin):
    for method, path in [("GET", "/devices/nobody"), ("GET", "/devices/nobody/x"),
                         ("PATCH", "/devices/nobody/x"), ("GET", "/devices/lightify/nope"),
                         ("PATCH", "/devices/lightify/nope")]:
        resp = raw(mockcloud, method, path, json={"online": False})
        assert resp.status_code == 404, (method, path, resp.text)
        assert conforms(resp.json(), "error.json")["error"] == "not_found"
    with pytest.raises(AdminError, match="404"):
        mockcloud.device("lightify", "nope")


# ------------------------------------------------------------------ tenants, lock

def test_an_override_stays_in_its_tenant(mockcloud: Admin, lightify, token: str):
    other = Admin(mockcloud.base, f"other-{uuid.uuid4().hex[:8]}", token=mockcloud.token)
    mockcloud.override_device("lightify", LIGHT, online=False)
    assert other.device("lightify", LIGHT)["overrides"] == {}
    other.override_device("lightify", LIGHT, online=False)
    other.override_device("lightify", LIGHT, clear=True)
    assert mockcloud.device("lightify", LIGHT)["overrides"] == {"online": False}
    assert online(lightify, token, LIGHT) is False
    # the tenant by header is the same tenant as by path prefix
    resp = requests.get(f"{mockcloud.base}/_mockcloud/devices/lightify/{LIGHT}", timeout=30,
                        headers={**mockcloud.headers, "X-Mockcloud-Tenant": mockcloud.tenant})
    assert resp.json()["overrides"] == {"online": False}


def test_the_device_routes_are_locked(mockcloud: Admin):
    no_token = Admin(mockcloud.base, mockcloud.tenant)
    for method, path in [("GET", "/devices/lightify"), ("GET", f"/devices/lightify/{LIGHT}"),
                         ("PATCH", f"/devices/lightify/{LIGHT}")]:
        resp = requests.request(method, f"{no_token.url()}/_mockcloud{path}", timeout=30,
                                json={"online": False})
        assert resp.status_code == 401, (method, path)
        assert resp.headers["WWW-Authenticate"] == 'Bearer realm="mockcloud-admin"'
        resp = raw(mockcloud, method, path, {"Origin": "https://evil.example"},
                   json={"online": False})
        assert resp.status_code == 403, (method, path)
    for ctype in ("text/plain", "application/x-www-form-urlencoded", None):
        resp = raw(mockcloud, "PATCH", f"/devices/lightify/{LIGHT}",
                   {"Content-Type": ctype} if ctype else {}, data=b'{"online": false}')
        assert resp.status_code == 415, ctype
        assert conforms(resp.json(), "error.json")["error"] == "unsupported_media_type"
    assert mockcloud.device("lightify", LIGHT)["events"] == []


# ---------------------------------------------------------- core.devices, the fold

def test_fold_merges_weather_and_drops_on_null_and_clear():
    events = [
        {"at": 1, "clear": False, "changes": {"weather": {"temperature": 5, "rain": 1}}},
        {"at": 2, "clear": False, "changes": {"weather": {"rain": None, "wind_angle": 90},
                                              "battery_percent": 20}},
        {"at": 3, "clear": False, "changes": {"battery_percent": None, "window_open": True}},
        {"at": 4, "clear": True, "changes": {"online": False}},
        {"at": 5, "clear": False, "changes": {"weather": {"temperature": 1}}},
        {"at": 6, "clear": False, "changes": {"weather": None}},
    ]
    assert d.fold(events[:1]) == {"weather": {"temperature": 5, "rain": 1}}
    assert d.fold(events[:2]) == {"weather": {"temperature": 5, "wind_angle": 90},
                                  "battery_percent": 20}
    assert d.fold(events[:3]) == {"weather": {"temperature": 5, "wind_angle": 90},
                                  "window_open": True}
    assert d.fold(events[:4]) == {"online": False}
    assert d.fold(events) == {"online": False}
    assert d.normalise({"reachable": False}) == {"online": False, "clear": False}
    assert d.refused({"online": 1, "weather": {}, "clear": True}, ["online"]) == ["weather"]


def test_overrides_at_an_instant_see_only_the_events_up_to_it():
    log = d.Overrides(MemoryStore(), "t", "acme")
    log.record("m1", {"window_open": True, "clear": False}, 100)
    log.record("m1", {"window_open": False, "clear": False}, 300)
    log.record("m1", {"window_open": None, "battery_percent": 7, "clear": False}, 200)
    assert log.at("m1", 99) == {} and log.at("m2", 500) == {}
    assert log.at("m1", 100) == {"window_open": True}
    assert log.at("m1", 250) == {"battery_percent": 7}
    assert log.at("m1", 300) == {"battery_percent": 7, "window_open": False}
    assert log.all_at(150) == {"m1": {"window_open": True}}
    assert log.timeline("m1", "window_open", 50, 1000) == (
        None, [(100, True), (200, None), (300, False)])
    assert log.timeline("m1", "window_open", 150, 250) == (True, [(200, None)])
    assert log.timeline("nope", "online", 0, 1) == (None, [])


def test_the_log_is_bounded_and_folds_what_falls_out(monkeypatch):
    monkeypatch.setattr(d, "MAX_EVENTS", 4)
    log = d.Overrides(MemoryStore(), "t", "acme")
    for i in range(10):
        log.record("m", {"battery_percent": i * 10, "clear": False}, float(i))
    doc = log.doc("m")
    assert [e["at"] for e in doc["events"]] == [6.0, 7.0, 8.0, 9.0]
    assert doc["base"] == {"at": 5.0, "state": {"battery_percent": 50}, "seq": 0}
    assert log.at("m", 6.5) == {"battery_percent": 60}
    assert log.at("m", 100) == {"battery_percent": 90}
    # each event's sequence within its instant survives the folding, never reused
    for i in range(6):
        log.record("m", {"battery_percent": i, "clear": False}, 20.0)
    doc = log.doc("m")
    assert [e["seq"] for e in doc["events"]] == [2, 3, 4, 5]
    assert doc["base"]["seq"] == 1
    log.record("m", {"battery_percent": 7, "clear": False}, 20.0)
    assert [e["seq"] for e in log.doc("m")["events"]] == [3, 4, 5, 6]
