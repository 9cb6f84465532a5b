"""Netatmo fields the real samples show that the emulator now gives (issue 12's gaps
found by ``world from-cassette`` + ``drift``), over HTTP against the default world's
home with modules added, every answer checked against the contract (``netatmo``
fixture):

* homestatus: a contactor's ``contactor_mode`` (NLPO), a ventilation's ``fan_speed``
  and power (NLLF; set through setstate), a doorbell's fields (NDB:
  ``websocket_connected``, ``max_peers_reached``, the world's ``last_ftp_event``), a
  shutter's step under the name its type uses (``target_position_step`` on NBR and
  Z3V, ``target_position:step`` elsewhere);
* homesdata: a device the world marks ``homesdata_state`` shows its state as homestatus
  at the same instant (before and after setstate), a room marked ``homesdata_modules``
  lists ``modules``; the others keep the older shape;
* a consumption meter (NLPC): its ``load`` as ``power``, counted in ``sum_energy_elec``
  and read back through getmeasure;
* the world's checks of the new keys.
"""

from __future__ import annotations

import copy

import pytest

from emulator.core import world as core_world
from emulator.netatmo import VENDOR
from emulator.settings import DEFAULT_WORLD
from tests.netatmo_http import HOME_ID, Netatmo
from tests.test_netatmo_home_devices import EVERY, T0, modules, ok, setstate

GATEWAY, DIMMER, LIGHT = "00:04:74:00:00:01", "00:04:74:00:00:03", "00:04:74:00:00:04"
FAN, CONTACTOR, BLIND, ZSHUTTER = ("00:04:74:00:01:01", "00:04:74:00:01:02",
                                   "00:04:74:00:01:03", "00:04:74:00:01:04")
BUBENDORFF, DOORBELL, METER = "00:04:74:00:01:05", "70:ee:50:00:01:06", "00:04:74:00:01:07"
LIVING, RELAY = "3100000001", "70:ee:50:00:00:01"
FTP = {"type": 3, "time": 1631444443, "id": 3}


def world() -> dict:
    doc = core_world.read_file(DEFAULT_WORLD)
    home = doc["netatmo"]["users"][0]["homes"][0]
    next(m for m in home["modules"] if m["id"] == DIMMER)["homesdata_state"] = True
    next(r for r in home["rooms"] if r["id"] == LIVING)["homesdata_modules"] = True
    home["modules"] += [
        {"id": FAN, "type": "NLLF", "bridge": GATEWAY, "fan_speed": 1},
        {"id": CONTACTOR, "type": "NLPO", "bridge": GATEWAY, "contactor_mode": "auto"},
        {"id": ZSHUTTER, "type": "Z3V", "bridge": GATEWAY},
        {"id": BUBENDORFF, "type": "NBG"},
        {"id": BLIND, "type": "NBR", "bridge": BUBENDORFF},
        {"id": DOORBELL, "type": "NDB", "last_ftp_event": FTP},
        {"id": METER, "type": "NLPC", "bridge": GATEWAY, "load": 476},
    ]
    return doc


@pytest.fixture
def shapes(netatmo: Netatmo, mockcloud):
    mockcloud.load_world(world())
    mockcloud.freeze(T0)
    mockcloud.set_quotas("netatmo", [], enabled=False)
    return netatmo, mockcloud


def homesdata(netatmo: Netatmo) -> dict:
    body = ok(netatmo.api("homesdata", netatmo.issue(EVERY)))["body"]
    return next(h for h in body["homes"] if h["id"] == HOME_ID)


def test_homestatus_shows_the_fields_of_each_type(shapes):
    netatmo, _ = shapes
    mods = modules(netatmo)
    assert {k: mods[FAN][k] for k in ("fan_speed", "power", "reachable")} == {
        "fan_speed": 1, "power": 11, "reachable": True}
    assert "on" not in mods[FAN]
    assert (mods[CONTACTOR]["contactor_mode"], mods[CONTACTOR]["offload"],
            mods[CONTACTOR]["on"]) == ("auto", False, False)
    bell = mods[DOORBELL]
    assert {k: bell[k] for k in ("websocket_connected", "max_peers_reached",
                                 "last_ftp_event", "firmware_name", "is_local")} == {
        "websocket_connected": True, "max_peers_reached": False, "last_ftp_event": FTP,
        "firmware_name": "2.18.0", "is_local": False}
    assert "reachable" not in bell and bell["wifi_state"] in ("full", "high", "medium",
                                                              "low")
    for shutter in (ZSHUTTER, BLIND):
        assert mods[shutter]["target_position_step"] == 1
        assert "target_position:step" not in mods[shutter]
    assert mods["00:04:74:00:00:05"]["target_position:step"] == 1      # an NLV


def test_a_fan_speed_is_set_and_counted(shapes):
    netatmo, mockcloud = shapes
    ok(setstate(netatmo, [{"id": FAN, "fan_speed": 2}]))
    assert (modules(netatmo)[FAN]["fan_speed"], modules(netatmo)[FAN]["power"]) == (2, 22)
    before = modules(netatmo)[FAN]["sum_energy_elec"]
    mockcloud.advance(3600)
    assert modules(netatmo)[FAN]["sum_energy_elec"] - before == 22
    for bad in (3, 0, "high", True):
        resp = setstate(netatmo, [{"id": FAN, "fan_speed": bad}])
        assert resp.status_code == 400 and resp.json()["error"]["code"] == 21, bad
    resp = setstate(netatmo, [{"id": CONTACTOR, "contactor_mode": "on"}])
    assert resp.status_code == 400
    assert "cannot set property contactor_mode" in resp.json()["error"]["message"]
    assert modules(netatmo)[FAN]["fan_speed"] == 2


def test_homesdata_shows_a_marked_device_state_as_homestatus(shapes):
    netatmo, mockcloud = shapes
    for change in (None, {"id": DIMMER, "brightness": 80}, {"id": DIMMER, "on": False}):
        if change:
            ok(setstate(netatmo, [change]))
            mockcloud.advance(60)
        topo = {m["id"]: m for m in homesdata(netatmo)["modules"]}
        live = modules(netatmo)[DIMMER]
        shown = topo[DIMMER]
        assert {k: shown[k] for k in ("on", "brightness", "power", "last_seen",
                                      "firmware_revision", "reachable")} == \
            {k: live[k] for k in ("on", "brightness", "power", "last_seen",
                                  "firmware_revision", "reachable")}
        assert "sum_energy_elec" not in shown
        assert not {"on", "power", "last_seen"} & topo[LIGHT].keys()   # not marked
    assert shown["brightness"] == 80 and shown["on"] is False


def test_homesdata_lists_a_marked_room_modules(shapes):
    netatmo, mockcloud = shapes
    rooms = {r["id"]: r for r in homesdata(netatmo)["rooms"]}
    assert rooms[LIVING]["modules"] == rooms[LIVING]["module_ids"]
    assert all("modules" not in r for rid, r in rooms.items() if rid != LIVING)
    exported = mockcloud.export_world()["netatmo"]["users"][0]["homes"][0]
    assert next(r for r in exported["rooms"] if r["id"] == LIVING)["homesdata_modules"]
    assert next(m for m in exported["modules"] if m["id"] == DOORBELL)[
        "last_ftp_event"] == FTP


@pytest.mark.parametrize(("module", "change", "message"), [
    (RELAY, {"homesdata_state": True}, r"a NAPlug has no state homestatus shows"),
    (DIMMER, {"homesdata_state": "yes"}, r"homesdata_state must be true or false"),
    (FAN, {"fan_speed": 3}, r"fan_speed must be an integer from 1 to 2"),
    (FAN, {"on": True}, r"a NLLF takes no on"),
    (LIGHT, {"contactor_mode": "on"}, r"a NLL takes no contactor_mode"),
    (CONTACTOR, {"contactor_mode": "eco"}, r"contactor_mode must be one of on, off, auto"),
    (DOORBELL, {"last_ftp_event": {"type": 3}}, r"last_ftp_event must be a mapping"),
    (DOORBELL, {"last_ftp_event": {**FTP, "id": "x"}}, r"last_ftp_event\.id must be"),
])
def test_the_new_world_keys_are_checked(module, change, message):
    doc = world()
    mods = doc["netatmo"]["users"][0]["homes"][0]["modules"]
    index = next(i for i, m in enumerate(mods) if m["id"] == module)
    mods[index].update(copy.deepcopy(change))
    with pytest.raises(core_world.WorldError, match=message) as info:
        core_world.build({"houses": doc["houses"], "netatmo": doc["netatmo"]},
                         {"netatmo": VENDOR}, 0)
    assert f"netatmo.users[0].homes[0].modules[{index}]" in str(info.value)


def test_a_room_flag_is_checked():
    doc = world()
    doc["netatmo"]["users"][0]["homes"][0]["rooms"][0]["homesdata_modules"] = 1
    with pytest.raises(core_world.WorldError, match="homesdata_modules must be true"):
        core_world.build({"houses": doc["houses"], "netatmo": doc["netatmo"]},
                         {"netatmo": VENDOR}, 0)


TAG, CAMERA = "70:ee:50:00:00:21", "70:ee:50:00:00:20"


def test_an_offline_radio_module_is_listed_a_wifi_one_is_an_error(shapes):
    """A door tag offline behind its reachable camera is listed unreachable, as the
    sample's; the camera offline is body.errors code 6, and its tag is not reported."""
    netatmo, mockcloud = shapes
    mockcloud.advance(120)
    mockcloud.override_device("netatmo", TAG, online=False)
    mockcloud.advance(60)
    body = ok(netatmo.api("homestatus", netatmo.issue(EVERY), data={"home_id": HOME_ID}))
    tag = next(m for m in body["body"]["home"]["modules"] if m["id"] == TAG)
    assert {k: tag[k] for k in ("reachable", "bridge", "status", "last_seen")} == {
        "reachable": False, "bridge": CAMERA, "status": "no_news", "last_seen": T0 + 120}
    assert isinstance(tag["last_activity"], int) and "battery_level" not in tag
    assert "errors" not in body["body"]
    mockcloud.override_device("netatmo", CAMERA, online=False)
    body = ok(netatmo.api("homestatus", netatmo.issue(EVERY), data={"home_id": HOME_ID}))
    assert body["body"]["errors"] == [{"code": 6, "id": CAMERA}]
    assert not {TAG, CAMERA} & {m["id"] for m in body["body"]["home"]["modules"]}


def test_a_consumption_meter_counts_its_load(shapes):
    netatmo, mockcloud = shapes
    start = modules(netatmo)[METER]
    assert (start["power"], start["reachable"], "on" not in start) == (476, True, True)
    mockcloud.advance(3 * 3600)
    end = modules(netatmo)[METER]
    assert end["sum_energy_elec"] - start["sum_energy_elec"] == 3 * 476
    body = ok(netatmo.api("getmeasure", netatmo.issue(EVERY), data={
        "device_id": GATEWAY, "module_id": METER, "scale": "1hour",
        "type": "sum_energy_buy_from_grid,sum_energy_buy_from_grid$0",
        "date_begin": T0, "date_end": T0 + 3 * 3600, "optimize": "false"}))["body"]
    got = [body[k] for k in sorted(body)]   # the three hours lived: 476 Wh each
    assert got[:3] == [[None, 476]] * 3 and all(r == [None, 0] for r in got[3:])
    resp = setstate(netatmo, [{"id": METER, "on": True}])
    assert resp.status_code == 400 and "cannot set property on" in resp.json()["error"][
        "message"]
