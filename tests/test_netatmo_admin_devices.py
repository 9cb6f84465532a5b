"""The admin API's view of Netatmo's lights, dimmers, plugs, shutters, gateways,
cameras, door tags, smoke and CO alarms (``GET /_mockcloud/devices/netatmo/<id>``,
``Admin.device``; issue 9), checked against homestatus over HTTP on a served emulator.

* ``state`` carries the fields homestatus shows for the module at that instant (on,
  brightness, power, sum_energy_elec, positions, monitoring, floodlight, a door tag's
  status and battery ...), after setstate, after the clock moved, after an injected
  door-tag event; the device list says the same;
* ``accepts`` lists ``online`` and what setstate sets on the module; PATCH takes those
  as commands (the module's own controls), which homestatus then shows as it shows a
  setstate, and refuses what the module cannot take (400 ``invalid_override``);
* every admin answer validates against the admin contract.
"""

from __future__ import annotations

from typing import Any

import pytest
import requests
from jsonschema import Draft202012Validator

from clients.netatmo import NetatmoClient, WebhookReceiver
from contracts.verify import load_contracts
from emulator.testing import Admin, AdminError
from tests.netatmo_http import CI, HOME_ID, USER

T0 = 1_800_000_000                        # Fri 2027-01-15 09:00 in Paris
GATEWAY, PLUG, DIMMER, LIGHT, SHUTTER = (f"00:04:74:00:00:0{i}" for i in range(1, 6))
CAMERA, TAG, OUTDOOR, SMOKE, CO = ("70:ee:50:00:00:20", "70:ee:50:00:00:21",
                                   "70:ee:50:00:00:30", "70:ee:50:00:00:40",
                                   "70:ee:50:00:00:50")
FAMILIES = {GATEWAY: [], PLUG: ["on"], DIMMER: ["on", "brightness"], LIGHT: ["on"],
            SHUTTER: ["target_position"], CAMERA: ["monitoring"],
            OUTDOOR: ["monitoring", "floodlight"], TAG: [], SMOKE: [], CO: []}
SCOPE = ("read_thermostat write_thermostat read_camera write_camera read_presence "
         "write_presence read_magellan write_magellan read_smokedetector "
         "read_carbonmonoxidedetector")
DEVICE = Draft202012Validator(
    {"$ref": "https://mockcloud.local/contracts/schemas/admin/device_state.json"},
    registry=load_contracts().registry)


@pytest.fixture
def house(mockcloud: Admin) -> Admin:
    mockcloud.freeze(T0)
    mockcloud.set_quotas("netatmo", [], enabled=False)
    return mockcloud


def api(admin: Admin, method: str, **kw: Any) -> dict[str, Any]:
    token = admin.issue_token("netatmo", CI[0], USER, SCOPE)["access_token"]
    resp = requests.post(f"{admin.url('netatmo')}/api/{method}", timeout=30,
                         headers={"Authorization": f"Bearer {token}"}, **kw)
    assert resp.status_code == 200, resp.text
    return resp.json()


def homestatus(admin: Admin) -> dict[str, dict[str, Any]]:
    body = api(admin, "homestatus", data={"home_id": HOME_ID})["body"]
    return {m["id"]: m for m in body["home"]["modules"]}


def device(admin: Admin, mid: str) -> dict[str, Any]:
    doc = admin.device("netatmo", mid)
    assert list(DEVICE.iter_errors(doc)) == []
    return doc


def same_as_homestatus(admin: Admin, ids: list[str] | None = None) -> None:
    """Every module's admin state holds homestatus's fields, with the same values."""
    shown = homestatus(admin)
    listed = {d["id"]: d for d in admin.devices("netatmo")}
    for mid in ids or FAMILIES:
        state = device(admin, mid)["state"]
        fields = {k: v for k, v in shown[mid].items() if k not in ("id", "type",
                                                                     "vpn_url")}
        assert {k: state.get(k) for k in fields} == fields, mid
        if "vpn_url" in shown[mid]:   # the same address; the admin view names the
            path = shown[mid]["vpn_url"].split("/restricted/")[1]   # cloud's VPN host
            assert state["vpn_url"] == f"https://prodvpn-eu-1.netatmo.net/restricted/{path}"
        assert listed[mid]["state"] == state, mid
        assert state["home_id"] == HOME_ID


def setstate(admin: Admin, modules: list[dict[str, Any]]) -> None:
    api(admin, "setstate", json={"home": {"id": HOME_ID, "modules": modules}})


def test_the_state_is_homestatus_and_accepts_what_setstate_takes(house):
    same_as_homestatus(house)
    for mid, props in FAMILIES.items():
        extra = ["battery_percent"] if mid == TAG else []
        assert device(house, mid)["accepts"] == ["online", *extra, *props], mid
    dimmer = device(house, DIMMER)["state"]
    assert (dimmer["on"], dimmer["brightness"], dimmer["power"]) == (False, 60, 0)
    assert device(house, OUTDOOR)["state"]["floodlight"] == "auto"
    assert device(house, TAG)["state"]["status"] == "closed"


def test_the_state_follows_setstate_and_the_clock(house):
    setstate(house, [{"id": PLUG, "on": True}, {"id": DIMMER, "brightness": 80},
                     {"id": SHUTTER, "target_position": 100},
                     {"id": OUTDOOR, "floodlight": "on"}, {"id": CAMERA,
                                                           "monitoring": "off"}])
    same_as_homestatus(house)
    house.advance(20)                      # the shutter on its way, energy counted
    same_as_homestatus(house)
    shutter = device(house, SHUTTER)["state"]
    assert (shutter["current_position"], shutter["target_position"]) == (40, 100)
    house.advance(3600)
    same_as_homestatus(house)
    plug = device(house, PLUG)["state"]
    assert (plug["on"], plug["power"]) == (True, 100) and plug["sum_energy_elec"] >= 100
    assert device(house, CAMERA)["state"]["monitoring"] == "off"


def test_a_door_tag_opened_shows_open_in_both(house):
    house.inject_event("netatmo", TAG, "tag_open")
    same_as_homestatus(house, [TAG])
    assert device(house, TAG)["state"]["status"] == "open"
    house.advance(60)
    same_as_homestatus(house, [TAG])
    assert device(house, TAG)["state"]["status"] == "closed"
    house.override_device("netatmo", TAG, battery_percent=10)
    same_as_homestatus(house, [TAG])


def test_commands_through_the_admin_api_show_in_homestatus(house):
    answer = house.override_device("netatmo", DIMMER, brightness=30)
    assert list(DEVICE.iter_errors(answer)) == []
    assert (answer["state"]["on"], answer["state"]["brightness"]) == (True, 30)
    assert answer["overrides"] == {} and answer["events"] == []   # not held
    house.override_device("netatmo", SHUTTER, target_position=-2)  # the preferred one
    house.override_device("netatmo", OUTDOOR, floodlight="off", monitoring="off")
    house.override_device("netatmo", LIGHT, on=True, online=True)
    shown = homestatus(house)
    assert (shown[DIMMER]["on"], shown[DIMMER]["brightness"]) == (True, 30)
    assert shown[SHUTTER]["target_position"] == 50
    assert (shown[OUTDOOR]["floodlight"], shown[OUTDOOR]["monitoring"]) == ("off", "off")
    assert shown[LIGHT]["on"] is True
    assert device(house, LIGHT)["overrides"] == {"online": True}
    same_as_homestatus(house)
    # an offline module takes its own controls too (homestatus lists it unreachable,
    # with no state, and shows the state when it is back)
    house.override_device("netatmo", PLUG, online=False)
    house.override_device("netatmo", PLUG, on=True)
    assert homestatus(house)[PLUG]["reachable"] is False
    assert "on" not in homestatus(house)[PLUG]
    house.override_device("netatmo", PLUG, online=True)
    assert homestatus(house)[PLUG]["on"] is True


@pytest.mark.parametrize(("mid", "body", "names"), [
    (LIGHT, {"brightness": 50}, "brightness"),
    (PLUG, {"target_position": 10}, "target_position"),
    (CAMERA, {"floodlight": "on"}, "floodlight"),
    (SMOKE, {"on": True}, "on"),
    (GATEWAY, {"monitoring": "on"}, "monitoring"),
    ("04:00:00:00:00:01", {"on": True}, "on"),          # a thermostat: no commands
    (TAG, {"window_open": True}, "window_open"),
])
def test_what_a_module_cannot_take_is_refused(house, mid, body, names):
    with pytest.raises(AdminError) as err:
        house.override_device("netatmo", mid, **body)
    assert " 400 " in str(err.value) and "invalid_override" in str(err.value)
    assert names in str(err.value)
    assert device(house, mid)["events"] == []


@pytest.mark.parametrize("body", [
    {"on": "yes"}, {"brightness": 101}, {"brightness": 5.5}, {"target_position": -3},
    {"monitoring": True}, {"floodlight": "dim"}, {"on": None},
])
def test_bad_command_values_are_a_400(house, body):
    mid = OUTDOOR if "floodlight" in body or "monitoring" in body else \
        SHUTTER if "target_position" in body else DIMMER
    resp = requests.patch(f"{house.url()}/_mockcloud/devices/netatmo/{mid}", json=body,
                          headers=house.headers, timeout=30)
    assert resp.status_code == 400, resp.text
    assert resp.json()["error"] == "invalid_override"


def test_lightify_lights_take_no_netatmo_commands(house):
    (light, *_) = house.devices("lightify")
    with pytest.raises(AdminError) as err:
        house.override_device("lightify", light["id"], on=True)
    assert " 400 " in str(err.value)


def test_a_camera_switched_off_through_the_admin_api_is_pushed(house):
    token = house.issue_token("netatmo", CI[0], USER, SCOPE)["access_token"]
    with WebhookReceiver() as receiver:
        client = NetatmoClient(*CI, house.url("netatmo"), token={"access_token": token})
        client.addwebhook(receiver.url, "app_security")
        house.flush()
        house.override_device("netatmo", CAMERA, monitoring="off")
        house.override_device("netatmo", OUTDOOR, floodlight="on")
        house.flush()
        got = [(p["push_type"], p.get("device_id") or p.get("camera_id"))
               for p in receiver.accepted()[1:]]
    assert got == [("NACamera-off", CAMERA), ("NOC-light_mode", OUTDOOR)]
