"""The Netatmo home's other device families through setstate and homestatus, over HTTP
(emulator/netatmo/home_devices.py): lights, dimmers, plugs, shutters, cameras, and the
modules that take nothing (gateway, door tag, smoke and CO alarms) in the default
world's home; every answer checked against the contract by the ``netatmo`` fixture.

* each family's change shows in the next homestatus, and only from its instant on;
* per-module problems (code 23 "Already on") in ``body.errors`` with HTTP 200, shaped
  as the real sample; a property a module cannot take 400/21 as the real sample;
  unknown modules, bad values; an unreachable module (admin device override) 403/41,
  or code 6 in ``body.errors`` when configured; a family's write scope missing 403/13;
* plug energy accumulates and shutters move as the clock advances;
* rooms through setstate equal setroomthermpoint;
* the world's state keys; pyatmo, unchanged but for its base URL, driving a light, a
  dimmer, a shutter and the cameras.
"""

from __future__ import annotations

import asyncio
import copy
import json
from pathlib import Path
from typing import Any

import aiohttp
import pyatmo
import pytest
from werkzeug.test import Client

from emulator.core import world as core_world
from emulator.netatmo import VENDOR, home_devices
from emulator.physics.actuators import Travel, energy_wh
from emulator.settings import DEFAULT_WORLD
from tests.netatmo_http import CI, HOME_ID, USER, Netatmo, api_error
from tests.test_netatmo_clients import EmulatorAuth

SAMPLES = Path(__file__).resolve().parents[1].parent / "shared" / "real-samples" / "netatmo"
T0 = 1_800_000_000                       # Fri 2027-01-15 09:00 in Paris
GATEWAY, PLUG, DIMMER, LIGHT, SHUTTER = (f"00:04:74:00:00:0{i}" for i in range(1, 6))
CAMERA, TAG, OUTDOOR, SMOKE, CO = ("70:ee:50:00:00:20", "70:ee:50:00:00:21",
                                   "70:ee:50:00:00:30", "70:ee:50:00:00:40",
                                   "70:ee:50:00:00:50")
RELAY, LIVING, BEDROOM = "70:ee:50:00:00:01", "3100000001", "3100000002"
EVERY = ("read_thermostat write_thermostat read_camera write_camera read_presence "
         "write_presence read_magellan write_magellan read_bubendorff write_bubendorff "
         "read_smokedetector read_carbonmonoxidedetector")
SCOPE_MESSAGE = "Application does not have the good scope rights"


@pytest.fixture
def house(netatmo: Netatmo, mockcloud):
    mockcloud.freeze(T0)
    mockcloud.set_quotas("netatmo", [], enabled=False)
    return netatmo, mockcloud


def ok(resp) -> dict:
    assert resp.status_code == 200, resp.text
    doc = resp.json()
    assert doc["status"] == "ok"
    return doc


def setstate(netatmo: Netatmo, modules: list[dict] | None = None, *,
             rooms: list[dict] | None = None, scope: str = EVERY):
    home: dict[str, Any] = {"id": HOME_ID}
    if modules is not None:
        home["modules"] = modules
    if rooms is not None:
        home["rooms"] = rooms
    return netatmo.api("setstate", netatmo.issue(scope), json={"home": home})


def modules(netatmo: Netatmo) -> dict[str, dict]:
    body = ok(netatmo.api("homestatus", netatmo.issue(EVERY), data={"home_id": HOME_ID}))
    return {m["id"]: m for m in body["body"]["home"].get("modules", [])}


def status_body(netatmo: Netatmo) -> dict:
    return ok(netatmo.api("homestatus", netatmo.issue(EVERY),
                          data={"home_id": HOME_ID}))["body"]


def sample(name: str) -> Any:
    path = SAMPLES / name
    if not path.exists():
        pytest.skip(f"real samples absent ({path})")
    return json.loads(path.read_text(encoding="utf-8"))


# ------------------------------------------------------------------ homestatus, world

def test_the_default_home_shows_every_family(house):
    netatmo, _ = house
    mods = modules(netatmo)
    assert {k: mods[k]["type"] for k in (GATEWAY, PLUG, DIMMER, LIGHT, SHUTTER, CAMERA,
                                         TAG, OUTDOOR, SMOKE, CO)} == {
        GATEWAY: "NLG", PLUG: "NLP", DIMMER: "NLF", LIGHT: "NLL", SHUTTER: "NLV",
        CAMERA: "NACamera", TAG: "NACamDoorTag", OUTDOOR: "NOC", SMOKE: "NSD", CO: "NCO"}
    assert {k: v for k, v in mods[PLUG].items() if k not in ("firmware_revision",)} == {
        "id": PLUG, "type": "NLP", "reachable": True, "bridge": GATEWAY, "on": False,
        "offload": False, "power": 0, "sum_energy_elec": 0, "last_seen": T0}
    assert (mods[DIMMER]["on"], mods[DIMMER]["brightness"]) == (False, 60)
    assert {k: mods[SHUTTER][k] for k in ("current_position", "target_position",
                                          "target_position:step")} == {
        "current_position": 0, "target_position": 0, "target_position:step": 1}
    assert (mods[CAMERA]["monitoring"], mods[CAMERA]["is_local"]) == ("on", False)
    assert (mods[OUTDOOR]["monitoring"], mods[OUTDOOR]["floodlight"]) == ("on", "auto")
    for cam in (CAMERA, OUTDOOR, SMOKE, CO):     # no "reachable", as the samples
        assert "reachable" not in mods[cam]
    assert mods[TAG]["bridge"] == CAMERA and mods[TAG]["status"] == "closed"
    assert mods[TAG]["battery_state"] in ("full", "high", "medium", "low", "very_low")


def test_homestatus_fields_are_the_samples(house):
    """For each type the real sample shows, the keys it shows are there too (the
    sample's extra keys it has and the emulator does not are listed here)."""
    netatmo, _ = house
    real = sample("homestatus_91763b24c43d3e344f424e8b.json")["body"]["home"]["modules"]
    by_type = {m["type"]: m for m in reversed(real)}
    mine = {m["type"]: m for m in modules(netatmo).values()}
    not_modelled = {"NOC": {"homekit_status", "timelapse_available", "network_lock",
                            "firmware_name"},
                    "NACamDoorTag": set(), "NLG": set(), "NLP": set(), "NLF": set(),
                    "NLL": set(), "NLV": set(), "NACamera": set()}
    for kind, skip in not_modelled.items():
        assert set(by_type[kind]) - skip <= set(mine[kind]), kind


def test_world_state_keys(mockcloud, netatmo: Netatmo):
    world = core_world.read_file(DEFAULT_WORLD)
    mods = world["netatmo"]["users"][0]["homes"][0]["modules"]
    plug = next(m for m in mods if m["id"] == PLUG)
    plug.update(on=True, load=500, setup_date=T0 - 3600)
    shutter = next(m for m in mods if m["id"] == SHUTTER)
    shutter.update(target_position=70)
    mockcloud.load_world(world)
    mockcloud.freeze(T0)
    got = modules(netatmo)
    assert (got[PLUG]["power"], got[PLUG]["sum_energy_elec"]) == (500, 500)
    assert got[SHUTTER]["current_position"] == 70
    assert mockcloud.export_world()["netatmo"]["users"][0]["homes"][0]["modules"] == [
        {**m, "setup_date": m.get("setup_date", 1_600_000_000)} for m in mods]


@pytest.mark.parametrize(("module", "change", "message"), [
    (LIGHT, {"brightness": 50}, r"a NLL takes no brightness"),
    (CAMERA, {"floodlight": "on"}, r"a NACamera takes no floodlight"),
    (SMOKE, {"on": True}, r"a NSD takes no on"),
    (RELAY, {"monitoring": "on"}, r"a NAPlug takes no monitoring"),
    (DIMMER, {"brightness": 101}, r"brightness must be an integer from 0 to 100"),
    (PLUG, {"on": "yes"}, r"\.on must be true or false"),
    (OUTDOOR, {"floodlight": "bright"}, r"floodlight must be one of on, off, auto"),
    (SHUTTER, {"full_travel": 0}, r"full_travel must be an integer from 1"),
])
def test_world_state_keys_are_checked(module, change, message):
    section = copy.deepcopy(core_world.read_file(DEFAULT_WORLD)["netatmo"])
    mods = section["users"][0]["homes"][0]["modules"]
    index = next(i for i, m in enumerate(mods) if m["id"] == module)
    mods[index].update(change)
    with pytest.raises(core_world.WorldError, match=message) as info:
        core_world.build({"houses": core_world.read_file(DEFAULT_WORLD)["houses"],
                          "netatmo": section}, {"netatmo": VENDOR}, 0)
    assert f"netatmo.users[0].homes[0].modules[{index}]" in str(info.value)


# ------------------------------------------------------------------ changes show

@pytest.mark.parametrize(("module", "change", "shown"), [
    (LIGHT, {"on": True}, {"on": True, "power": 20}),
    (DIMMER, {"brightness": 80}, {"on": True, "brightness": 80, "power": 32}),
    (DIMMER, {"on": True}, {"on": True, "brightness": 60, "power": 24}),
    (DIMMER, {"brightness": 0}, {"on": False, "brightness": 60, "power": 0}),
    (PLUG, {"on": True}, {"on": True, "power": 100}),
    (SHUTTER, {"target_position": 100}, {"target_position": 100, "current_position": 0}),
    (SHUTTER, {"target_position": -2}, {"target_position": 50}),
    (CAMERA, {"monitoring": "off"}, {"monitoring": "off"}),
    (OUTDOOR, {"floodlight": "on"}, {"floodlight": "on", "monitoring": "on"}),
    (OUTDOOR, {"monitoring": "off", "floodlight": "off"},
     {"floodlight": "off", "monitoring": "off"}),
])
def test_each_family_change_shows_in_the_next_homestatus(house, module, change, shown):
    netatmo, mockcloud = house
    before = modules(netatmo)
    entry = {"id": module, **change}
    if "bridge" in before[module]:
        entry["bridge"] = before[module]["bridge"]     # as pyatmo sends it
    answer = ok(setstate(netatmo, [entry]))
    assert "body" not in answer                        # the bare envelope (sample)
    after = modules(netatmo)
    assert {k: after[module][k] for k in shown} == shown
    others = {k: v for k, v in after.items() if k != module}
    assert others == {k: v for k, v in before.items() if k != module}


def test_a_read_sees_only_changes_made_before_it(house):
    netatmo, mockcloud = house
    ok(setstate(netatmo, [{"id": PLUG, "on": True}, {"id": CAMERA, "monitoring": "off"}]))
    mockcloud.set_time(T0 - 60)
    then = modules(netatmo)
    assert (then[PLUG]["on"], then[CAMERA]["monitoring"]) == (False, "on")
    mockcloud.set_time(T0 + 60)
    later = modules(netatmo)
    assert (later[PLUG]["on"], later[CAMERA]["monitoring"]) == (True, "off")
    # a change made back in time comes before the later one, and the later one holds
    mockcloud.set_time(T0 - 30)
    ok(setstate(netatmo, [{"id": PLUG, "on": True}]))
    mockcloud.set_time(T0 + 1800)
    assert modules(netatmo)[PLUG]["sum_energy_elec"] == int(100 * 1830 / 3600)


# ------------------------------------------------------------------ body.errors, 400s

def test_already_on_is_200_with_body_errors_as_the_sample(house):
    netatmo, _ = house
    real = sample("archive__camera_set_state_error_already_on.json")
    doc = ok(setstate(netatmo, [{"id": CAMERA, "monitoring": "on"}]))
    assert doc["body"] == {"home": {"id": HOME_ID}, "errors": [
        {"code": 23, "message": "Already on", "id": CAMERA,
         "command": "command/changestatus"}]}
    assert set(doc) >= set(real) and set(doc["body"]) == set(real["body"])
    [mine], [theirs] = doc["body"]["errors"], real["body"]["errors"]
    assert {k: mine[k] for k in ("code", "message", "command")} == {
        k: theirs[k] for k in ("code", "message", "command")}
    # one property already so, the other applied
    doc = ok(setstate(netatmo, [{"id": OUTDOOR, "monitoring": "on", "floodlight": "off"}]))
    assert [e["command"] for e in doc["body"]["errors"]] == ["command/changestatus"]
    assert modules(netatmo)[OUTDOOR]["floodlight"] == "off"
    doc = ok(setstate(netatmo, [{"id": OUTDOOR, "floodlight": "off"}]))
    assert doc["body"]["errors"] == [{"code": 23, "message": "Already off", "id": OUTDOOR,
                                      "command": "command/floodlight_set_config"}]
    # lights take the same value again quietly (INFERRED default: cameras only)
    assert "body" not in ok(setstate(netatmo, [{"id": LIGHT, "on": False}]))


def test_a_property_the_module_cannot_take_is_400_21_as_the_sample(house):
    netatmo, _ = house
    real = sample("archive__camera_set_state_error_wrong_parameter.json")["error"]
    before = status_body(netatmo)
    got = api_error(setstate(netatmo, [{"id": CAMERA, "floodlight": "on"}]))
    assert got == (400, real["code"], f"cannot set property floodlight for module {CAMERA}")
    assert real["message"].startswith("cannot set property floodlight for module ")
    for module, prop, value in [(SMOKE, "on", True), (CO, "monitoring", "on"),
                                (RELAY, "on", True), (TAG, "status", "open"),
                                (OUTDOOR, "siren_status", "sound"),
                                (LIGHT, "brightness", 10)]:
        got = api_error(setstate(netatmo, [{"id": PLUG, "on": True},
                                           {"id": module, prop: value}]))
        assert got == (400, 21, f"cannot set property {prop} for module {module}")
    assert status_body(netatmo) == before                # nothing applied


@pytest.mark.parametrize(("entry", "status", "code", "words"), [
    ({"id": "70:ee:50:00:ff:ff", "on": True}, 400, 21, "Invalid device_id, 70:ee:50:00:ff:ff"),
    ({"id": DIMMER, "brightness": 101}, 400, 21, "brightness"),
    ({"id": DIMMER, "brightness": 5.5}, 400, 21, "brightness"),
    ({"id": PLUG, "on": "true"}, 400, 21, "on"),
    ({"id": SHUTTER, "target_position": -3}, 400, 21, "target_position"),
    ({"id": OUTDOOR, "floodlight": "bright"}, 400, 21, "floodlight"),
    ({"id": CAMERA, "monitoring": True}, 400, 21, "monitoring"),
    ({"id": PLUG, "on": True, "bridge": RELAY}, 400, 21, "bridge"),
    ({"id": PLUG}, 400, 10, PLUG),
    ({"on": True}, 400, None, ""),
])
def test_bad_module_entries(house, entry, status, code, words):
    netatmo, _ = house
    before = status_body(netatmo)
    for resp in (setstate(netatmo, [entry]),         # JSON body (checked by the schema)
                 netatmo.api("setstate", netatmo.issue(EVERY), data={"home": json.dumps(
                     {"id": HOME_ID, "modules": [entry]})})):   # form: the emulator's checks
        got = api_error(resp)
        assert got[0] == status and (code is None or got[1] == code)
        assert got[1] in (10, 21) and words in got[2]
    assert status_body(netatmo) == before


def test_ids_as_pyatmo_may_send_them(house):
    netatmo, _ = house
    ok(setstate(netatmo, [{"id": PLUG.upper().replace(":", " : ", 1), "on": True,
                           "bridge": None}]))
    assert modules(netatmo)[PLUG]["on"] is True


# ------------------------------------------------------------------ reachability, scopes

def test_an_unreachable_module_fails_its_command(house):
    netatmo, mockcloud = house
    mockcloud.override_device("netatmo", PLUG, online=False)
    before = status_body(netatmo)
    plug = next(m for m in before["home"]["modules"] if m["id"] == PLUG)
    assert (plug["reachable"], plug["last_seen"], "on" in plug) == (False, T0, False)
    got = api_error(setstate(netatmo, [{"id": LIGHT, "on": True}, {"id": PLUG, "on": True}],
                             rooms=[{"id": LIVING, "therm_setpoint_mode": "max"}]))
    assert got == (403, 41, f"Device is unreachable: {PLUG}")
    assert status_body(netatmo) == before                 # nothing applied, rooms neither
    # behind an unreachable gateway
    mockcloud.override_device("netatmo", PLUG, clear=True)
    mockcloud.override_device("netatmo", GATEWAY, online=False)
    assert api_error(setstate(netatmo, [{"id": SHUTTER, "target_position": 100}]))[:2] == (
        403, 41)
    mockcloud.override_device("netatmo", CAMERA, online=False)
    assert api_error(setstate(netatmo, [{"id": CAMERA, "monitoring": "off"}]))[:2] == (
        403, 41)
    ok(setstate(netatmo, [{"id": OUTDOOR, "monitoring": "off"}]))   # the others work
    mockcloud.override_device("netatmo", GATEWAY, clear=True)
    ok(setstate(netatmo, [{"id": SHUTTER, "target_position": 100}]))


@pytest.mark.parametrize(("scope", "entry"), [
    ("write_camera write_magellan", {"id": OUTDOOR, "floodlight": "on"}),
    ("write_presence write_magellan", {"id": CAMERA, "monitoring": "off"}),
    ("write_thermostat write_camera write_presence", {"id": PLUG, "on": True}),
    ("write_thermostat write_camera", {"id": SHUTTER, "target_position": 10}),
    ("write_presence", {"id": TAG, "status": "open"}),   # the camera family's
])
def test_each_family_needs_its_write_scope(house, scope, entry):
    netatmo, _ = house
    assert api_error(setstate(netatmo, [entry], scope=scope)) == (403, 13, SCOPE_MESSAGE)


def test_scopes_that_suffice(house):
    netatmo, _ = house
    ok(setstate(netatmo, [{"id": OUTDOOR, "floodlight": "on"}], scope="write_presence"))
    ok(setstate(netatmo, [{"id": CAMERA, "monitoring": "off"}], scope="write_camera"))
    ok(setstate(netatmo, [{"id": DIMMER, "brightness": 10}], scope="write_magellan"))
    assert api_error(setstate(netatmo, rooms=[{"id": LIVING, "therm_setpoint_mode": "max"}],
                              scope="write_camera")) == (403, 13, SCOPE_MESSAGE)
    ok(setstate(netatmo, rooms=[{"id": LIVING, "therm_setpoint_mode": "max"}],
                scope="write_thermostat"))
    # without any write scope, setstate itself is refused
    assert api_error(setstate(netatmo, [{"id": PLUG, "on": True}],
                              scope="read_thermostat"))[:2] == (403, 13)


# ------------------------------------------------------------------ the clock

def test_plug_energy_accumulates_on_the_clock(house):
    netatmo, mockcloud = house
    ok(setstate(netatmo, [{"id": PLUG, "on": True}, {"id": DIMMER, "brightness": 50}]))
    mockcloud.advance(1800)
    mods = modules(netatmo)
    assert (mods[PLUG]["power"], mods[PLUG]["sum_energy_elec"]) == (100, 50)
    assert (mods[DIMMER]["power"], mods[DIMMER]["sum_energy_elec"]) == (20, 10)
    ok(setstate(netatmo, [{"id": PLUG, "on": False}]))
    mockcloud.advance(3600)
    assert (modules(netatmo)[PLUG]["power"], modules(netatmo)[PLUG]["sum_energy_elec"]) == (
        0, 50)
    ok(setstate(netatmo, [{"id": PLUG, "on": True}]))
    mockcloud.advance(365 * 86400)                        # a year on: one closed-form step
    assert modules(netatmo)[PLUG]["sum_energy_elec"] == 50 + 100 * 365 * 24


def test_a_shutter_travels_on_the_clock(house):
    netatmo, mockcloud = house
    ok(setstate(netatmo, [{"id": SHUTTER, "target_position": 100}]))

    def shutter() -> tuple[int, int]:
        m = modules(netatmo)[SHUTTER]
        return m["current_position"], m["target_position"]

    mockcloud.advance(10)
    assert shutter() == (20, 100)                         # 50 s for a full travel
    mockcloud.advance(15)
    assert shutter() == (50, 100)
    ok(setstate(netatmo, [{"id": SHUTTER, "target_position": -1}]))   # stop
    assert shutter() == (50, 50)
    mockcloud.advance(100)
    assert shutter() == (50, 50)
    ok(setstate(netatmo, [{"id": SHUTTER, "target_position": 0}]))
    mockcloud.advance(15)
    assert shutter() == (20, 0)
    mockcloud.advance(3600)
    assert shutter() == (0, 0)


def test_the_models_are_closed_form():
    travel = Travel(start=20, target=80, t0=100, full_travel_s=50)
    assert [travel.at(t) for t in (50, 100, 110, 115, 200)] == [20, 20, 40, 50, 80]
    assert travel.arrival() == 130 and travel.moving(120) and not travel.moving(131)
    assert Travel(80, 20, 0, 50).at(10) == 60 and Travel(5, 5, 0, 50).arrival() == 0
    assert Travel(0, 100, 0, 0).at(1) == 100
    assert energy_wh(10, 100, 0, 36) == 11 and energy_wh(10, 100, 50, 0) == 10


def test_a_long_log_folds_into_its_base(house):
    netatmo, mockcloud = house
    for i in range(home_devices.MAX_EVENTS + 4):
        ok(setstate(netatmo, [{"id": PLUG, "on": i % 2 == 0}]))
        mockcloud.advance(36)
    mods = modules(netatmo)
    on_seconds = 36 * ((home_devices.MAX_EVENTS + 4) // 2)
    assert mods[PLUG]["on"] is False
    assert mods[PLUG]["sum_energy_elec"] == int(100 * on_seconds / 3600)


# ------------------------------------------------------------------ rooms

def _room_story(mockcloud, netatmo: Netatmo, use_setstate: bool) -> list:
    """The default home after a few room writes at fixed instants, read at each."""
    mockcloud.load_world(core_world.read_file(DEFAULT_WORLD))
    mockcloud.freeze(T0)
    mockcloud.set_quotas("netatmo", [], enabled=False)
    writes = [(LIVING, "manual", 21.5, T0 + 1800), (BEDROOM, "max", None, None),
              (LIVING, "home", None, None), (BEDROOM, "manual", 19.2, None)]
    seen = []
    for room, mode, temp, end in writes:
        token = netatmo.issue(EVERY)
        if use_setstate:
            entry: dict[str, Any] = {"id": room, "therm_setpoint_mode": mode}
            if temp is not None:
                entry["therm_setpoint_temperature"] = temp
            if end is not None:
                entry["therm_setpoint_end_time"] = end
            ok(netatmo.api("setstate", token, json={"home": {"id": HOME_ID,
                                                             "rooms": [entry]}}))
        else:
            data = {"home_id": HOME_ID, "room_id": room, "mode": mode}
            if temp is not None:
                data["temp"] = str(temp)
            if end is not None:
                data["endtime"] = str(end)
            ok(netatmo.api("setroomthermpoint", token, data=data))
        seen.append(status_body(netatmo)["home"]["rooms"])
        mockcloud.advance(1200)
    seen.append(status_body(netatmo)["home"]["rooms"])
    home = ok(netatmo.api("homesdata", netatmo.issue(EVERY)))["body"]["homes"][0]
    return [seen, home]


def test_rooms_through_setstate_are_setroomthermpoint(netatmo: Netatmo, mockcloud):
    by_setstate = _room_story(mockcloud, netatmo, True)
    by_setroom = _room_story(mockcloud, netatmo, False)
    assert by_setstate == by_setroom
    assert by_setstate[0][0] != by_setstate[0][1]


# ------------------------------------------------------------------ the settings

def _in_process(monkeypatch, **env: str) -> tuple[Client, dict]:
    from emulator.app import create_app
    from emulator.settings import Settings

    for key, value in env.items():
        monkeypatch.setenv(f"MOCKCLOUD_NETATMO_{key.upper()}", value)
    http = Client(create_app(Settings(world=str(DEFAULT_WORLD))))
    http.post("/_mockcloud/clock/freeze", json={"at": T0})
    token = http.post("/_mockcloud/tokens", json={
        "vendor": "netatmo", "client_id": CI[0], "user": USER, "scope": EVERY}).json
    return http, {"Authorization": f"Bearer {token['access_token']}"}


def test_unreachable_partial_and_already_all(monkeypatch):
    http, auth = _in_process(monkeypatch, setstate_unreachable="partial",
                             setstate_already="all")
    http.patch(f"/_mockcloud/devices/netatmo/{PLUG}", json={"online": False})
    resp = http.post("/netatmo/api/setstate", headers=auth, json={"home": {
        "id": HOME_ID, "modules": [{"id": PLUG, "on": True}, {"id": LIGHT, "on": False},
                                   {"id": DIMMER, "on": True}]}})
    assert resp.status_code == 200
    assert resp.json["body"] == {"home": {"id": HOME_ID}, "errors": [
        {"code": 6, "message": "Device unreachable", "id": PLUG,
         "command": "command/setstate"},
        {"code": 23, "message": "Already off", "id": LIGHT, "command": "command/setstate"}]}
    mods = {m["id"]: m for m in http.post("/netatmo/api/homestatus", headers=auth, data={
        "home_id": HOME_ID}).json["body"]["home"]["modules"]}
    assert mods[DIMMER]["on"] is True
    assert mods[PLUG]["reachable"] is False and "on" not in mods[PLUG]   # not applied


def test_already_none_and_bad_settings(monkeypatch):
    http, auth = _in_process(monkeypatch, setstate_already="none")
    resp = http.post("/netatmo/api/setstate", headers=auth, json={"home": {
        "id": HOME_ID, "modules": [{"id": CAMERA, "monitoring": "on"}]}})
    assert resp.status_code == 200 and "body" not in resp.json
    monkeypatch.setenv("MOCKCLOUD_NETATMO_SETSTATE_UNREACHABLE", "sometimes")
    with pytest.raises(ValueError, match="SETSTATE_UNREACHABLE must be one of hard, partial"):
        _in_process(monkeypatch)


# ------------------------------------------------------------------ pyatmo

def test_pyatmo_drives_lights_dimmers_shutters_and_cameras(mockcloud) -> None:
    mockcloud.freeze(T0)
    base = mockcloud.url("netatmo") + "/"
    token = mockcloud.issue_token("netatmo", CI[0], USER, EVERY)["access_token"]

    async def scenario() -> None:
        async with aiohttp.ClientSession() as session:
            account = pyatmo.AsyncAccount(EmulatorAuth(session, base, token))
            await account.async_update_topology()
            await account.async_update_status(HOME_ID)
            home = account.homes[HOME_ID]
            light, dimmer, shutter = (home.modules[i] for i in (LIGHT, DIMMER, SHUTTER))
            camera, outdoor = home.modules[CAMERA], home.modules[OUTDOOR]
            assert (light.on, dimmer.brightness, shutter.current_position) == (False, 60, 0)
            assert (camera.monitoring, outdoor.floodlight) == (True, "auto")

            assert await light.async_on() is True
            assert await dimmer.async_set_brightness(30) is True
            assert await shutter.async_open() is True
            assert await camera.async_monitoring_off() is True
            assert await outdoor.async_floodlight_on() is True
            await account.async_update_status(HOME_ID)
            assert (light.on, light.power) == (True, 20)
            assert (dimmer.on, dimmer.brightness) == (True, 30)
            assert (shutter.target_position, shutter.current_position) == (100, 0)
            assert camera.monitoring is False and outdoor.floodlight == "on"

            mockcloud.advance(25)
            await account.async_update_status(HOME_ID)
            assert shutter.current_position == 50
            assert await shutter.async_stop() is True
            await account.async_update_status(HOME_ID)
            assert (shutter.target_position, shutter.current_position) == (50, 50)
            # already so: pyatmo gets body.errors and answers False
            assert await outdoor.async_floodlight_on() is False
            assert await light.async_off() is True
            await account.async_update_status(HOME_ID)
            assert light.on is False

    asyncio.run(scenario())
    sent = [e["request"] for e in mockcloud.journal(vendor="netatmo", path="/api/setstate")]
    assert sent and all(r["method"] == "POST" for r in sent)
