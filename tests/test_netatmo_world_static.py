"""Static fields a Netatmo world may carry (passed through by homesdata, given back by
export), the legacy schedule forms, and the fields homestatus computes for weather,
OpenTherm and Smarther modules (emulator/netatmo/world.py, module_status.py)."""

from __future__ import annotations

import copy

import pytest

from emulator.core import world as core_world
from emulator.netatmo import VENDOR
from tests.netatmo_http import HOME_ID, STATION, USER, Netatmo

NOW = 1_736_150_400                      # Monday 2025-01-06 08:00 UTC
LIVING, BUREAU, CORRIDOR, HALL = "3100000101", "3100000102", "3100000103", "3100000104"
RELAY, THERM = "70:ee:50:aa:00:01", "04:00:00:aa:00:02"
OTH, OTM, BNS = "12:34:56:20:f5:44", "12:34:56:20:f5:8c", "10:20:30:bd:b8:1e"
MAIN, OUTDOOR = "70:ee:50:bb:00:01", "02:00:00:bb:00:02"
PILOT = "12:34:56:80:00:12:ac:f2"
WEEK, WINTER = "5e5c7a1b2d3e4f5061728c01", "5e5c7a1b2d3e4f5061728c02"
POWER, EVENTS = "5e5c7a1b2d3e4f5061728c03", "5e5c7a1b2d3e4f5061728c04"
CAPS = [{"name": "automatism", "available": True}]
ALARMS = {"default_alarm": [{"db_alarm_number": 0}],
          "personnalized": [{"threshold": 20, "data_type": 1, "direction": 0,
                             "db_alarm_number": 8}]}


def therm(sid: str, name: str, comfort: float, **extra) -> dict:
    return {"id": sid, "name": name, "type": "therm", "hg_temp": 7, "away_temp": 12,
            "zones": [{"id": 0, "name": "Comfort", "type": 0, "rooms": [
                {"id": LIVING, "therm_setpoint_temperature": comfort},
                {"id": BUREAU, "therm_setpoint_temperature": comfort},
                {"id": HALL, "therm_setpoint_fp": "comfort"}]},
                {"id": 1, "name": "Night", "type": 1, "rooms": [
                    {"id": LIVING, "therm_setpoint_temperature": 17,
                     "therm_setpoint_fp": "away"},
                    {"id": HALL, "therm_setpoint_fp": "frost_guard"}]}],
            "timetable": [{"zone_id": 1, "m_offset": 0}, {"zone_id": 0, "m_offset": 420}],
            **extra}


def home() -> dict:
    return {
        "id": HOME_ID, "name": "Villa", "timezone": "Europe/Paris", "city": "Lyon",
        "coordinates": [4.83, 45.76], "altitude": 170,
        "legacy_schedule_forms": ["therm_schedules", "rooms_temp"],
        "rooms": [{"id": LIVING, "name": "Living", "type": "livingroom"},
                  {"id": BUREAU, "name": "Bureau", "type": "electrical_cabinet",
                   "therm_relay": OTH, "true_temperature_available": True},
                  {"id": CORRIDOR, "name": "Corridor", "type": "corridor"},
                  {"id": HALL, "name": "Hall", "type": "custom"}],
        "modules": [
            {"id": RELAY, "type": "NAPlug", "name": "Relay"},
            {"id": THERM, "type": "NATherm1", "name": "Therm", "room_id": LIVING,
             "bridge": RELAY},
            {"id": OTH, "type": "OTH", "name": "Modulating Relay", "room_id": BUREAU,
             "hk_device_id": "12:34:56:20:d0:c5", "capabilities": CAPS,
             "max_modules_nb": 21},
            {"id": OTM, "type": "OTM", "name": "Bureau Modulate", "room_id": BUREAU,
             "bridge": OTH},
            {"id": BNS, "type": "BNS", "name": "Smarther", "room_id": CORRIDOR},
            {"id": MAIN, "type": "NAMain", "name": "Indoor", "customer_id": "C00016",
             "hardware_version": 251, "alarm_config": ALARMS,
             "module_offset": {MAIN: {"a": 0.1}}},
            {"id": OUTDOOR, "type": "NAModule1", "name": "Outdoor", "bridge": MAIN},
            {"id": PILOT, "type": "NLC", "name": "Radiator", "room_id": HALL,
             "bridge": RELAY, "appliance_type": "radiator"}],
        "schedules": [
            therm(WEEK, "Week", 20, selected=True),
            therm(WINTER, "Winter", 21),
            {"id": POWER, "name": "electricity", "type": "electricity", "selected": True,
             "tariff": "edf_tarif_bleu", "tariff_option": "peak_and_off_peak",
             "power_threshold": 6, "contract_power_unit": "kVA",
             "zones": [{"id": 0, "price": 0.27, "price_type": "peak"},
                       {"id": 1, "price": 0.2068, "price_type": "off_peak"}],
             "timetable": [{"zone_id": 1, "m_offset": 0}, {"zone_id": 0, "m_offset": 360}]},
            {"id": EVENTS, "name": "Actions", "type": "event", "selected": True,
             "timetable_sunrise": [{"day": 0, "zone_id": 1, "twilight_offset": 0}],
             "timetable_sunset": [],
             "zones": [{"id": 0, "modules": [{"id": PILOT, "bridge": RELAY, "on": False}]},
                       {"id": 1, "modules": [{"id": PILOT, "bridge": RELAY, "on": True}]}],
             "timetable": [{"zone_id": 0, "m_offset": 0}]}]}


@pytest.fixture
def villa(netatmo: Netatmo, mockcloud):
    world = mockcloud.export_world()
    world["netatmo"]["users"][0]["homes"] = [home()]
    mockcloud.load_world(world)
    mockcloud.freeze(NOW)
    mockcloud.set_quotas("netatmo", [], enabled=False)
    return netatmo, netatmo.issue(), mockcloud


def ok(resp) -> dict:
    assert resp.status_code == 200, resp.text
    return resp.json()["body"]


def topology(netatmo: Netatmo, token: str) -> dict:
    return ok(netatmo.api("homesdata", token, data={"home_id": HOME_ID}))["homes"][0]


def test_homesdata_passes_static_fields_and_computes_reachable(villa):
    netatmo, token, admin = villa
    h = topology(netatmo, token)
    mods = {m["id"]: m for m in h["modules"]}
    assert mods[OTH]["capabilities"] == CAPS and mods[OTH]["max_modules_nb"] == 21
    assert mods[OTH]["hk_device_id"] == "12:34:56:20:d0:c5"
    assert mods[MAIN]["alarm_config"] == ALARMS and mods[MAIN]["customer_id"] == "C00016"
    assert mods[PILOT]["appliance_type"] == "radiator"
    assert mods[OTH]["reachable"] is True and mods[MAIN]["reachable"] is True
    assert "reachable" not in mods[RELAY] and "reachable" not in mods[OTM]
    rooms = {r["id"]: r for r in h["rooms"]}
    assert rooms[BUREAU]["therm_relay"] == OTH
    assert rooms[BUREAU]["true_temperature_available"] is True
    assert "city" not in h and "legacy_schedule_forms" not in h
    by_id = {s["id"]: s for s in h["schedules"]}
    power = by_id[POWER]
    assert (power["tariff"], power["power_threshold"]) == ("edf_tarif_bleu", 6)
    assert power["zones"][1] == {"id": 1, "price": 0.2068, "price_type": "off_peak"}
    assert "hg_temp" not in power
    assert by_id[EVENTS]["zones"][1]["modules"][0]["on"] is True
    assert by_id[EVENTS]["timetable_sunrise"][0]["twilight_offset"] == 0
    admin.override_device("netatmo", OTH, online=False)
    mods = {m["id"]: m for m in topology(netatmo, token)["modules"]}
    assert mods[OTH]["reachable"] is False and mods[MAIN]["reachable"] is True


def test_legacy_schedule_forms_follow_the_schedules(villa):
    netatmo, token, _ = villa
    h = topology(netatmo, token)
    week = next(s for s in h["schedules"] if s["id"] == WEEK)
    assert week["zones"][1]["rooms"] == [
        {"id": LIVING, "therm_setpoint_temperature": 17, "therm_setpoint_fp": "away"},
        {"id": HALL, "therm_setpoint_fp": "frost_guard"}]
    assert week["zones"][1]["rooms_temp"] == [
        {"room_id": LIVING, "temp": 17, "therm_setpoint_fp": "away"},
        {"room_id": HALL, "therm_setpoint_fp": "frost_guard"}]
    legacy = {s["id"]: s for s in h["therm_schedules"]}
    assert set(legacy) == {WEEK, WINTER}           # therm schedules only
    assert legacy[WEEK]["selected"] is True and "selected" not in legacy[WINTER]
    assert all("rooms" not in z for z in legacy[WEEK]["zones"])
    assert legacy[WEEK]["zones"][0]["rooms_temp"][0] == {"room_id": LIVING, "temp": 20}
    resp = netatmo.api("switchhomeschedule", token,
                       data={"home_id": HOME_ID, "schedule_id": WINTER})
    assert resp.status_code == 200, resp.text
    legacy = {s["id"]: s for s in topology(netatmo, token)["therm_schedules"]}
    assert legacy[WINTER]["selected"] is True and "selected" not in legacy[WEEK]


def test_static_fields_round_trip_through_export(villa):
    _, _, admin = villa
    exported = admin.export_world()
    mine = exported["netatmo"]["users"][0]["homes"][0]
    assert mine["city"] == "Lyon" and mine["legacy_schedule_forms"] == [
        "rooms_temp", "therm_schedules"]
    assert next(m for m in mine["modules"] if m["id"] == OTH)["capabilities"] == CAPS
    admin.load_world(exported)
    assert admin.export_world() == exported


def test_homestatus_computes_weather_opentherm_and_smarther_fields(villa):
    netatmo, token, _ = villa
    body = ok(netatmo.api("homestatus", token, data={"home_id": HOME_ID}))
    mods = {m["id"]: m for m in body["home"]["modules"]}
    main, outdoor = mods[MAIN], mods[OUTDOOR]
    for key in ("temperature", "co2", "humidity", "noise", "pressure",
                "absolute_pressure", "ts", "wifi_strength", "wifi_state",
                "firmware_revision"):
        assert key in main, key
    assert "reachable" not in main and main["ts"] <= NOW
    for key in ("temperature", "humidity", "battery_level", "battery_state", "rf_strength",
                "rf_state", "last_seen", "firmware_revision", "ts"):
        assert key in outdoor, key
    assert outdoor["reachable"] is True and outdoor["bridge"] == MAIN
    oth = mods[OTH]
    assert (oth["boiler_control"], oth["dhw_control"]) == ("onoff", "none")
    assert isinstance(oth["outdoor_temperature"], float) and "reachable" not in oth
    assert oth["hardware_version"] == 222
    otm = mods[OTM]
    assert otm["battery_state"] in ("full", "high", "medium", "low", "very_low")
    assert otm["radio_id"] == 2 and otm["bridge"] == OTH and otm["reachable"] is True
    assert isinstance(otm["boiler_status"], bool)
    assert mods[BNS]["cooler_status"] is False and "reachable" not in mods[BNS]
    rooms = {r["id"]: r for r in body["home"]["rooms"]}
    assert 0 <= rooms[CORRIDOR]["humidity"] <= 100
    assert "humidity" not in rooms[LIVING]


def test_home_weather_module_reads_as_the_station_of_that_id(netatmo: Netatmo, mockcloud):
    """A home's NAMain that is also the user's station shows getstationsdata's
    readings."""
    world = mockcloud.export_world()
    user = world["netatmo"]["users"][0]
    station = next(s for s in user["stations"] if s["id"] == STATION)
    others = [m for m in home()["modules"] if m["id"] not in (MAIN, OUTDOOR)]
    user["homes"] = [{**home(), "modules": [
        *others, {"id": STATION, "type": "NAMain", "name": "Indoor"},
        *({"id": m["id"], "type": m["type"], "bridge": STATION}
          for m in station.get("modules", []))]}]
    mockcloud.load_world(world)
    mockcloud.freeze(NOW)
    token = netatmo.issue()
    dev = next(d for d in ok(netatmo.api("getstationsdata", token))["devices"]
               if d["_id"] == STATION)
    mods = {m["id"]: m for m in ok(netatmo.api(
        "homestatus", token, data={"home_id": HOME_ID}))["home"]["modules"]}
    assert mods[STATION]["temperature"] == dev["dashboard_data"]["Temperature"]
    assert mods[STATION]["ts"] == dev["dashboard_data"]["time_utc"]
    for m in dev["modules"]:
        if "dashboard_data" in m and "Temperature" in m["dashboard_data"]:
            assert mods[m["_id"]]["temperature"] == m["dashboard_data"]["Temperature"]


def test_modules_of_an_unreachable_station_name_it(netatmo: Netatmo, mockcloud):
    token = netatmo.issue()
    mockcloud.override_device("netatmo", STATION, online=False)
    dev = next(d for d in ok(netatmo.api("getstationsdata", token))["devices"]
               if d["_id"] == STATION)
    assert dev["reachable"] is False
    assert dev["modules"] and all(m["main_device"] == STATION for m in dev["modules"])
    mockcloud.override_device("netatmo", STATION, online=None)
    dev = next(d for d in ok(netatmo.api("getstationsdata", token))["devices"]
               if d["_id"] == STATION)
    assert all("main_device" not in m for m in dev["modules"])


def build(h: dict) -> list:
    section = {"users": [{"email": USER, "password": "x", "homes": [h]}]}
    return core_world.build({"netatmo": section}, {"netatmo": VENDOR}, 0)


@pytest.mark.parametrize(("change", "message"), [
    (lambda h: h["modules"][2].update(capabilities={1, 2}), "must be a JSON value"),
    (lambda h: h["modules"][2].update(max_modules_nb=float("nan")), "finite number"),
    (lambda h: h["modules"][2].update(colour="red"), r"unknown field\(s\) colour"),
    (lambda h: h["rooms"][1].update(therm_relay="nope"), "therm_relay 'nope' is no module"),
    (lambda h: h["rooms"][1].update(true_temperature_available="yes"), "true or false"),
    (lambda h: h.update(legacy_schedule_forms=["rooms"]), "must be one of rooms_temp"),
    (lambda h: h["schedules"][0]["zones"][0]["rooms"][0].pop("therm_setpoint_temperature")
     or h["schedules"][0]["zones"][0]["rooms"][0].update(therm_setpoint_fp="comfort"),
     "therm_setpoint_temperature must be a number"),   # a heated room needs a set point
    (lambda h: h["schedules"][2]["zones"][0].update(modules=[{"on": True}]),
     "mappings with an id"),
    (lambda h: h["schedules"][2].update(tarif="x"), r"unknown field\(s\) tarif"),
])
def test_static_fields_are_validated(change, message):
    build(home())                                        # the villa itself is valid
    h = copy.deepcopy(home())
    change(h)
    with pytest.raises(core_world.WorldError, match=message):
        build(h)
