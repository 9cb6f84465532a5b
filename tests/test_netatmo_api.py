"""Netatmo's /api/* over HTTP: the transport (methods, content types, where the token
travels, parameters as strings), the error table, quotas, homesdata / homestatus and
the weather reads, host routing; plus the world section (validation, export, generate).
Every answer the ``netatmo`` fixture's session gets is checked against the contract."""

from __future__ import annotations

import copy

import pytest
import requests
from werkzeug.test import Client

from contracts.verify import validate_response
from emulator.core import world as core_world
from emulator.core.quotas import QuotaConfig, QuotaRule, Quotas
from emulator.core.store import MemoryStore
from emulator.generate import generate
from emulator.netatmo import VENDOR
from emulator.netatmo import world as nworld
from emulator.settings import DEFAULT_WORLD
from tests.netatmo_http import (
    HOLIDAYS,
    HOME_ID,
    HOMECOACH,
    STATION,
    USER,
    USER_ID,
    WEEK_SCHEDULE,
    Netatmo,
    api_error,
)

FORM = "application/x-www-form-urlencoded"
MONDAY_7AM_PARIS = "2026-11-30T06:00:00Z"     # a Monday; Paris is UTC+1 in winter


def ok(resp: requests.Response) -> dict:
    assert resp.status_code == 200, resp.text
    assert resp.headers["Content-Type"].startswith("application/json")
    doc = resp.json()
    assert doc["status"] == "ok" and isinstance(doc["time_server"], int)
    assert isinstance(doc["time_exec"], float)
    return doc


# ------------------------------------------------------------------------- transport

def test_get_and_post_and_every_way_to_send_the_token(netatmo: Netatmo, mockcloud):
    mockcloud.freeze()
    token = netatmo.issue()
    home = {"home_id": HOME_ID}
    answers = [
        netatmo.api("homestatus", token, http="GET", params=home),
        netatmo.api("homestatus", token, data=home),
        netatmo.api("homestatus", None, data={**home, "access_token": token}),
        netatmo.api("homestatus", None, http="GET", params={**home, "access_token": token}),
        netatmo.api("homestatus", None, params={"access_token": token}, data=home),
        netatmo.api("homestatus", token, json=home),
    ]
    bodies = [ok(r)["body"] for r in answers]
    assert [b == bodies[0] for b in bodies] == [True] * 6
    assert bodies[0]["home"]["id"] == HOME_ID


def test_what_real_clients_send(netatmo: Netatmo):
    token = netatmo.issue()
    # pyatmo: POST, form Content-Type, empty body
    pyatmo = netatmo.api("homesdata", token, data=b"", headers={"Content-Type": FORM})
    # lnetatmo: GET, form Content-Type, no body; home_id=None when no home is asked for
    lnetatmo = netatmo.api("getstationsdata", token, http="GET",
                           headers={"Content-Type": f"{FORM};charset=utf-8"})
    none = netatmo.api("homesdata", token, data={"home_id": "None"})
    assert ok(pyatmo)["body"] == ok(none)["body"]
    assert ok(lnetatmo)["body"]["devices"][0]["_id"] == STATION


FAVORITE = {"id": "70:ee:50:3a:ff:00", "station_name": "Neighbour", "favorite": True}


@pytest.mark.parametrize(("value", "favorites"), [
    ("true", True), ("TRUE", True), ("1", True), ("false", False), ("False", False),
    ("0", False), (None, False)])
def test_booleans_travel_as_strings(netatmo: Netatmo, mockcloud, value, favorites: bool):
    world = core_world.read_file(DEFAULT_WORLD)
    world["netatmo"]["users"][0]["stations"].append(FAVORITE)
    mockcloud.load_world(world)
    token = netatmo.issue()
    data = {} if value is None else {"get_favorites": value}
    body = ok(netatmo.api("getstationsdata", token, data=data))["body"]
    expected = [STATION, FAVORITE["id"]] if favorites else [STATION]
    assert [d["_id"] for d in body["devices"]] == expected


def test_numbers_travel_as_strings(netatmo: Netatmo):
    token = netatmo.issue()
    body = ok(netatmo.api("getmeasure", token, data={
        "device_id": STATION, "scale": "max", "type": "Temperature,Humidity",
        "limit": "3", "optimize": "false", "real_time": "false"}))["body"]
    assert len(body) == 3 and all(len(v) == 2 for v in body.values())
    bad = netatmo.api("getstationsdata", token, data={"get_favorites": "maybe"})
    assert api_error(bad)[:2] == (400, 21) and "get_favorites" in api_error(bad)[2]


# ------------------------------------------------------------------------- errors

def test_token_errors(netatmo: Netatmo, mockcloud):
    assert api_error(netatmo.api("homesdata"))[:2] == (400, 1)
    assert api_error(netatmo.api("homesdata", "0" * 24 + "|" + "1" * 32)) == (
        403, 2, "Invalid access_token")
    assert api_error(netatmo.api("homesdata", headers={"Authorization": "Token abc"}))[:2] \
        == (403, 2)
    token = netatmo.issue()
    mockcloud.revoke(token)
    assert api_error(netatmo.api("homesdata", token)) == (403, 2, "Invalid access_token")
    token = netatmo.issue()
    mockcloud.advance(10800)
    assert api_error(netatmo.api("homesdata", token)) == (403, 3, "Access token expired")


@pytest.mark.parametrize(("method", "scope", "allowed"), [
    ("homesdata", "read_station", True),          # any read_ scope of the contract
    ("homesdata", "read_camera", True),
    ("homestatus", "read_homecoach", True),
    ("gethomecoachsdata", "read_station", False),
    ("getstationsdata", "read_thermostat", False),
    ("setthermmode", "read_thermostat", False),
    ("getmeasure", "read_homecoach", True),
])
def test_scopes(netatmo: Netatmo, method: str, scope: str, allowed: bool):
    token = netatmo.issue(scope)
    params = {"home_id": HOME_ID, "device_id": HOMECOACH, "scale": "max", "type": "co2"}
    resp = netatmo.api(method, token, data=params)
    if allowed:
        ok(resp)
    else:
        assert api_error(resp) == (403, 13, "Application does not have the good scope rights")


def test_endpoint_scopes_are_the_contracts():
    import yaml

    from emulator.app import create_app
    from emulator.settings import Settings

    doc = yaml.safe_load(VENDOR.openapi.read_text(encoding="utf-8"))
    app = create_app(Settings(world=str(DEFAULT_WORLD))).vendor_apps["netatmo"]
    checked = 0
    for path, item in doc["paths"].items():
        view = app.view_functions.get(f"netatmo.{path.removeprefix('/api/')}")
        if not path.startswith("/api/") or view is None:
            continue
        for method in ("get", "post"):
            wanted = {s for alt in item[method]["security"] for s in alt["netatmo_oauth"]}
            assert set(view.scopes) == wanted, path
        checked += 1
    assert checked >= 24  # every endpoint the emulator has and the contract lists


def test_argument_errors(netatmo: Netatmo):
    token = netatmo.issue()
    assert api_error(netatmo.api("homestatus", token)) == (400, 10, "Missing home_id")
    assert api_error(netatmo.api("homestatus", token, data={"home_id": "f" * 24})) == (
        400, 21, "Invalid id")
    assert api_error(netatmo.api("setthermmode", token, data={"home_id": HOME_ID})) == (
        400, 10, "mode is missing")
    status, code, message = api_error(netatmo.api("getmeasure", token, data={
        "device_id": STATION, "scale": "max", "type": "temperature", "limit": "5000"}))
    assert (status, code) == (400, 21) and "limit" in message
    status, code, message = api_error(netatmo.api("getmeasure", token, data={
        "device_id": STATION, "scale": "fortnight", "type": "temperature"}))
    assert (status, code) == (400, 21) and "scale" in message
    assert api_error(netatmo.api("getmeasure", token, data={"scale": "max"}))[:2] == (400, 10)
    status, code, _ = api_error(netatmo.api("getmeasure", token, data={
        "device_id": "70:ee:50:ff:ff:ff", "scale": "max", "type": "temperature"}))
    assert (status, code) == (404, 9)
    status, code, _ = api_error(netatmo.api("getpublicdata", token, data={
        "lat_ne": "95", "lon_ne": "2", "lat_sw": "48", "lon_sw": "1"}))
    assert (status, code) == (400, 21)


def test_unknown_method_and_http_method(netatmo: Netatmo):
    token = netatmo.issue()
    assert api_error(netatmo.api("getnothing", token))[:2] == (404, 31)
    status, code, _ = api_error(netatmo.api("homesdata", token, http="PUT"))
    assert status == 405 and code == 31


def test_a_json_body_must_be_json(netatmo: Netatmo):
    token = netatmo.issue()
    resp = netatmo.api("homestatus", token, data=b"{nope",
                       headers={"Content-Type": "application/json"})
    assert api_error(resp)[:2] == (400, 21)


# ------------------------------------------------------------------------- quotas

def test_default_quota_per_user_of_an_app(netatmo: Netatmo, mockcloud):
    mockcloud.freeze()
    token = netatmo.issue()
    for _ in range(50):
        assert netatmo.api("homesdata", token).status_code == 200
    over = netatmo.api("homesdata", token)
    assert api_error(over) == (429, 26, "Maximum api usage reached")
    assert int(over.headers["Retry-After"]) >= 1
    assert over.headers["X-RateLimit-Limit"] == "50"
    assert over.headers["X-RateLimit-Remaining"] == "0"
    assert int(over.headers["X-RateLimit-Reset"]) > mockcloud.now()
    mockcloud.advance(int(over.headers["Retry-After"]))
    assert netatmo.api("homesdata", token).status_code == 200


def test_quota_status_403_and_switching_off(netatmo: Netatmo, mockcloud):
    mockcloud.freeze()
    token = netatmo.issue()
    mockcloud.set_quotas("netatmo", [{"key": "app", "limit": 1, "window": 60}], status=403)
    assert netatmo.api("homesdata", token).status_code == 200
    over = netatmo.api("homesdata", token)
    assert api_error(over) == (403, 26, "User usage reached") and "Retry-After" in over.headers
    mockcloud.set_quotas("netatmo", [], enabled=False)
    assert netatmo.api("homesdata", token).status_code == 200


def test_quota_status_setting(monkeypatch):
    """MOCKCLOUD_NETATMO_RATE_LIMIT_STATUS=403 (in process: the setting, not the world)."""
    from emulator.app import create_app
    from emulator.settings import Settings

    monkeypatch.setenv("MOCKCLOUD_NETATMO_RATE_LIMIT_STATUS", "403")
    app = create_app(Settings(world=str(DEFAULT_WORLD)))
    http = Client(app)
    http.post("/_mockcloud/clock/freeze", json={})
    token = http.post("/_mockcloud/tokens", json={
        "vendor": "netatmo", "client_id": "netatmo-ci", "user": USER,
        "scope": "read_station"}).json["access_token"]
    answers = [http.get(f"/netatmo/api/homesdata?access_token={token}") for _ in range(51)]
    assert [r.status_code for r in answers[:50]] == [200] * 50
    assert answers[50].status_code == 403
    assert answers[50].json["error"] == {"code": 26, "message": "User usage reached"}


def test_app_quota_grows_with_its_users():
    store, now = MemoryStore(), 1_000_000.0
    rule = QuotaRule("app", "client", 2, 10, per_user=2)
    cfg = QuotaConfig(enabled=True, rules=[rule])
    quotas = Quotas(store, "t")
    hits = [quotas.hit("netatmo", cfg, {"client": "c"}, now, users=lambda: 3)
            for _ in range(7)]
    assert [h.allowed for h in hits] == [True] * 6 + [False]
    assert hits[0].headers["X-RateLimit-Limit"] == "6"
    few = [quotas.hit("netatmo", cfg, {"client": "d"}, now, users=lambda: 0)
           for _ in range(3)]
    assert [h.allowed for h in few] == [True, True, False]
    with pytest.raises(ValueError, match="client rules only"):
        QuotaRule.parse({"key": "user", "limit": 1, "window": 1, "per_user": 2})
    assert QuotaConfig.parse(cfg.to_doc()) == cfg


# ------------------------------------------------------------------------- homes

def test_homesdata(netatmo: Netatmo):
    token = netatmo.issue()
    doc = ok(netatmo.api("homesdata", token, http="GET"))
    assert validate_response("netatmo", "GET", "/api/homesdata", 200, doc) == []
    body = doc["body"]
    assert body["user"]["id"] == USER_ID and body["user"]["email"] == USER
    [home] = body["homes"]
    assert home["id"] == HOME_ID and home["therm_mode"] == "schedule"
    rooms = {r["id"]: r for r in home["rooms"]}
    assert rooms["3100000001"]["module_ids"] == [
        "04:00:00:00:00:01", "00:04:74:00:00:02", "00:04:74:00:00:03", "70:ee:50:00:00:20",
        "70:ee:50:00:00:50"]     # thermostat, plug, dimmer, camera, CO alarm
    relay = next(m for m in home["modules"] if m["type"] == "NAPlug")
    assert len(relay["modules_bridged"]) == 3 and "bridge" not in relay
    schedules = {s["id"]: s for s in home["schedules"]}
    assert schedules[WEEK_SCHEDULE]["selected"] is True
    assert "selected" not in schedules[HOLIDAYS]
    assert schedules[WEEK_SCHEDULE]["timetable"][0] == {"zone_id": 1, "m_offset": 0}
    one = ok(netatmo.api("homesdata", token, data={"home_id": HOME_ID}))["body"]
    assert one == body
    assert api_error(netatmo.api("homesdata", token, data={"home_id": "a" * 24}))[:2] == (
        400, 21)
    relays = ok(netatmo.api("homesdata", token, data={"gateway_types": "NAPlug"}))["body"]
    assert len(relays["homes"][0]["modules"]) == 4
    cameras = ok(netatmo.api("homesdata", token, data={"gateway_types": "NACamera"}))["body"]
    assert [m["type"] for m in cameras["homes"][0]["modules"]] == ["NACamera", "NACamDoorTag"]
    doorbells = ok(netatmo.api("homesdata", token, data={"gateway_types": "NDB"}))["body"]
    assert "modules" not in doorbells["homes"][0]


def test_homestatus_follows_the_schedule_on_the_clock(netatmo: Netatmo, mockcloud):
    mockcloud.freeze(MONDAY_7AM_PARIS)
    token = netatmo.issue()
    doc = ok(netatmo.api("homestatus", token, data={"home_id": HOME_ID}))
    assert validate_response("netatmo", "POST", "/api/homestatus", 200, doc) == []
    home = doc["body"]["home"]
    rooms = {r["id"]: r for r in home["rooms"]}
    assert {k: r["therm_setpoint_temperature"] for k, r in rooms.items()} == {
        "3100000001": 20, "3100000002": 19, "3100000003": 20}
    living = rooms["3100000001"]
    assert living["therm_setpoint_mode"] == "schedule"
    monday = 1795993200  # 2026-11-30T00:00 Paris
    assert living["therm_setpoint_start_time"] == monday + 6 * 3600
    assert living["therm_setpoint_end_time"] == monday + 8 * 3600 + 1800
    assert {m["type"] for m in home["modules"]} == {
        "NAPlug", "NATherm1", "NRV",       # and the other families (home_devices)
        "NLG", "NLP", "NLF", "NLL", "NLV", "NACamera", "NACamDoorTag", "NOC", "NSD", "NCO"}
    mockcloud.advance(2 * 3600)  # 9:00: eco
    rooms = {r["id"]: r for r in ok(netatmo.api("homestatus", token, data={
        "home_id": HOME_ID}))["body"]["home"]["rooms"]}
    assert rooms["3100000001"]["therm_setpoint_temperature"] == 16.5
    valves = ok(netatmo.api("homestatus", token, data={
        "home_id": HOME_ID, "device_types": "NRV"}))["body"]["home"]["modules"]
    assert {m["type"] for m in valves} == {"NRV"}


def test_weather_and_aircare_reads(netatmo: Netatmo):
    token = netatmo.issue()
    stations = ok(netatmo.api("getstationsdata", token))["body"]
    [station] = stations["devices"]
    assert station["_id"] == STATION and len(station["modules"]) == 4
    assert stations["user"]["mail"] == USER
    coaches = ok(netatmo.api("gethomecoachsdata", token, http="GET"))["body"]
    assert [d["_id"] for d in coaches["devices"]] == [HOMECOACH]
    measure = ok(netatmo.api("getmeasure", token, data={
        "device_id": STATION, "module_id": "02:00:00:3a:00:01", "scale": "1hour",
        "type": "temperature,humidity", "limit": "4"}))["body"]
    assert sum(len(run["value"]) for run in measure) == 4
    public = ok(netatmo.api("getpublicdata", token, data={
        "lat_ne": "48.9", "lon_ne": "2.45", "lat_sw": "48.8", "lon_sw": "2.25",
        "filtering": "true"}))["body"]
    assert isinstance(public, list)


def test_energy_writes_are_wired(netatmo: Netatmo):
    """The routes reach energy.py (whose writes come next): parameters checked first."""
    token = netatmo.issue()
    assert api_error(netatmo.api("setroomthermpoint", token, data={
        "home_id": HOME_ID, "mode": "manual"})) == (400, 10, "Missing room_id")
    assert api_error(netatmo.api("switchhomeschedule", token, data={
        "home_id": HOME_ID})) == (400, 10, "Missing schedule_id")


# ------------------------------------------------------------------------- hosts

@pytest.mark.parametrize("host", ["api.netatmo.com", "api.netatmo.net"])
def test_real_host_names(mockcloud, mockcloud_server: str, host: str):
    token = mockcloud.issue_token("netatmo", "netatmo-ci", USER, "read_station")
    resp = requests.post(f"{mockcloud_server}/api/homesdata", data={"access_token": token[
        "access_token"]}, headers={"Host": host, "X-Mockcloud-Tenant": mockcloud.tenant})
    assert ok(resp)["body"]["homes"][0]["id"] == HOME_ID
    refresh = requests.post(f"{mockcloud_server}/oauth2/token", data={
        "grant_type": "refresh_token", "refresh_token": token["refresh_token"],
        "client_id": "netatmo-ci", "client_secret": "netatmo-ci-secret"},
        headers={"Host": host, "X-Mockcloud-Tenant": mockcloud.tenant})
    assert refresh.status_code == 200 and refresh.json()["expire_in"] == 10800


# ------------------------------------------------------------------------- world

def default_section() -> dict:
    return copy.deepcopy(core_world.read_file(DEFAULT_WORLD)["netatmo"])


def build(section: dict) -> list:
    """The section built as the default world builds it (with its houses)."""
    houses = core_world.read_file(DEFAULT_WORLD).get("houses", [])
    return core_world.build({"houses": houses, "netatmo": section}, {"netatmo": VENDOR}, 0)


def home_of(section: dict) -> dict:
    return section["users"][0]["homes"][0]


@pytest.mark.parametrize(("change", "message"), [
    (lambda h: h["rooms"].append(dict(h["rooms"][0])), "room id '3100000001' is used twice"),
    (lambda h: h["modules"][1].update(room_id="9"), r"modules\[1\].room_id '9' is no room"),
    (lambda h: h["modules"][1].update(type="NAFridge"), "no Netatmo module type"),
    (lambda h: h["modules"][2].update(bridge="nope"), r"modules\[2\].bridge 'nope'"),
    (lambda h: h["schedules"][0]["timetable"].reverse(), "must come after"),
    (lambda h: h["schedules"][0]["timetable"].pop(0), "must start at m_offset 0"),
    (lambda h: h["schedules"][0]["timetable"][3].update(zone_id=9), "zone_id 9 is no zone"),
    # past a run of right slots or rooms (checked at once), the bad one is named
    (lambda h: h["schedules"][0]["timetable"][2].update(x=1),
     r"timetable\[2\]: unknown field\(s\) x"),
    (lambda h: h["schedules"][0]["timetable"][4].update(m_offset=7 * 24 * 60),
     r"timetable\[4\].m_offset must be between 0 and 10079"),
    (lambda h: h["schedules"][0]["zones"][0]["rooms"][-1].update(
        therm_setpoint_temperature=True),
     r"zones\[0\].rooms\[\d\].therm_setpoint_temperature must be a number"),
    (lambda h: h["schedules"][0]["zones"][0]["rooms"][0].update(
        therm_setpoint_temperature=20.3), "0.5 steps"),
    (lambda h: h["schedules"][1].update(selected=True), "2 therm schedules are selected"),
    (lambda h: h.update(timezone="Mars/Olympus"), "no IANA time zone"),
    (lambda h: h.update(therm_mode="party"), "therm_mode must be one of"),
    (lambda h: h.update(colour="red"), r"unknown field\(s\) colour"),
    (lambda h: h.update(id="not-hex"), "24 hex digits"),
])
def test_world_validation_names_the_entry(change, message):
    section = default_section()
    change(home_of(section))
    with pytest.raises(core_world.WorldError, match=message) as info:
        build(section)
    assert "netatmo.users[0].homes[0]" in str(info.value)


def test_world_user_ids_are_derived_and_checked():
    section = default_section()
    del section["users"][0]["id"]
    accounts = [d for k, _, d in build(section) if k == nworld.ACCOUNT]
    assert nworld.is_hex24(accounts[0]["id"]) and accounts[0]["id"] == VENDOR.user_id(
        USER, 0)
    section["users"][0]["id"] = "alice"
    with pytest.raises(core_world.WorldError, match="24 hex digits"):
        build(section)
    section = default_section()
    section["apps"][2]["colour"] = "red"
    with pytest.raises(core_world.WorldError, match="colour"):
        build(section)


def test_world_export_round_trips(netatmo: Netatmo, mockcloud):
    exported = mockcloud.export_world()
    assert exported["netatmo"]["users"][0]["homes"][0]["id"] == HOME_ID
    assert exported["netatmo"]["apps"][2]["legacy_password"] is True
    mockcloud.load_world(exported)
    assert mockcloud.export_world() == exported
    token = netatmo.issue()
    ok(netatmo.api("homesdata", token))


def test_generated_worlds_build():
    data = core_world.parse(generate(homes=3, seed=5))
    from emulator.app import VENDORS

    rows = core_world.build(data, {v.name: v for v in VENDORS}, 5)
    homes = [d for k, _, d in rows if k == nworld.HOME]
    assert len(homes) == 3
    for home in homes:
        assert 2 <= len(home["rooms"]) <= 3
        assert {m["type"] for m in home["modules"]} == {"NAPlug", "NATherm1", "NRV"}
        assert sum(bool(s.get("selected")) for s in home["schedules"]) == 1
    assert generate(homes=3, seed=5) == generate(homes=3, seed=5)
