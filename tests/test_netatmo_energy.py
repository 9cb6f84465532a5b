"""Netatmo Energy over HTTP: every write shows in the next homesdata/homestatus, the clock
moves the house (end times, schedule boundaries, rooms warming and cooling), measures
equal homestatus at their instants, the boiler agrees with the heating, validation
codes, the admin API's device overrides; every answer checked against the contract
(the ``netatmo`` fixture)."""

from __future__ import annotations

import pytest

from tests.netatmo_http import HOLIDAYS, HOME_ID, WEEK_SCHEDULE, Netatmo, api_error

MONDAY_7AM = 1796018400            # 2026-11-30T07:00 Paris (UTC+1), a Monday: comfort
LIVING, BEDROOM, OFFICE = "3100000001", "3100000002", "3100000003"
RELAY, THERMOSTAT, VALVE = "70:ee:50:00:00:01", "04:00:00:00:00:01", "09:00:00:00:00:01"
ZONES = [{"id": 0, "name": "Comfort", "type": 0, "rooms": [
             {"id": LIVING, "therm_setpoint_temperature": 21},
             {"id": BEDROOM, "therm_setpoint_temperature": 18}]},
         {"id": 1, "name": "Night", "type": 1, "rooms": [
             {"id": LIVING, "therm_setpoint_temperature": 16},
             {"id": BEDROOM, "therm_setpoint_temperature": 15}]}]
TIMETABLE = [{"zone_id": 1, "m_offset": 0}, {"zone_id": 0, "m_offset": 420},
             {"zone_id": 1, "m_offset": 1320}]


class FreshToken:
    """An access token renewed (through the admin API) when the clock has moved past
    its life, so a test can advance the clock by days."""

    def __init__(self, netatmo: Netatmo, mockcloud) -> None:
        self.netatmo, self.clock, self.value, self.at = netatmo, mockcloud, "", -1e18

    def __str__(self) -> str:
        now = self.clock.now()
        if not self.at <= now < self.at + 3 * 3600:
            self.value, self.at = self.netatmo.issue(), now
        return self.value


@pytest.fixture
def house(netatmo: Netatmo, mockcloud):
    mockcloud.freeze(MONDAY_7AM)
    mockcloud.set_quotas("netatmo", [], enabled=False)
    return netatmo, FreshToken(netatmo, mockcloud), mockcloud


def ok(resp) -> dict:
    assert resp.status_code == 200, resp.text
    doc = resp.json()
    assert doc["status"] == "ok"
    return doc


def status(netatmo: Netatmo, token: str, **extra) -> dict:
    return ok(netatmo.api("homestatus", token, data={"home_id": HOME_ID, **extra}))["body"]


def rooms(netatmo: Netatmo, token: str) -> dict[str, dict]:
    return {r["id"]: r for r in status(netatmo, token)["home"].get("rooms", [])}


def home(netatmo: Netatmo, token: str) -> dict:
    return ok(netatmo.api("homesdata", token, data={"home_id": HOME_ID}))["body"]["homes"][0]


def write(netatmo: Netatmo, token: str, method: str, **data) -> dict:
    doc = ok(netatmo.api(method, token, data={"home_id": HOME_ID, **data}))
    assert "body" not in doc or method == "createnewhomeschedule"
    return doc


# ------------------------------------------------------------------------- modes

def test_away_until_an_endtime_then_back_to_the_schedule(house):
    netatmo, token, clock = house
    write(netatmo, token, "setthermmode", mode="away", endtime=str(MONDAY_7AM + 3600))
    assert home(netatmo, token)["therm_mode"] == "away"
    living = rooms(netatmo, token)[LIVING]
    assert (living["therm_setpoint_mode"], living["therm_setpoint_temperature"]) == ("away", 12)
    assert living["therm_setpoint_start_time"] == MONDAY_7AM
    assert living["therm_setpoint_end_time"] == MONDAY_7AM + 3600
    clock.advance(3600)
    assert home(netatmo, token)["therm_mode"] == "schedule"
    living = rooms(netatmo, token)[LIVING]
    assert (living["therm_setpoint_mode"], living["therm_setpoint_temperature"]) == (
        "schedule", 20)


def test_hg_and_off_and_schedule_clear_room_overrides(house):
    netatmo, token, _ = house
    write(netatmo, token, "setroomthermpoint", room_id=LIVING, mode="manual", temp="23")
    write(netatmo, token, "setthermmode", mode="hg")
    assert {r["therm_setpoint_mode"] for r in rooms(netatmo, token).values()} == {"hg"}
    assert rooms(netatmo, token)[LIVING]["therm_setpoint_end_time"] == 0
    write(netatmo, token, "setthermmode", mode="off")
    off = rooms(netatmo, token)[LIVING]
    assert (off["therm_setpoint_mode"], off["therm_setpoint_temperature"]) == ("off", 7)
    assert off["heating_power_request"] == 0
    write(netatmo, token, "setthermmode", mode="schedule", schedule_id=HOLIDAYS)
    schedules = {s["id"]: s for s in home(netatmo, token)["schedules"]}
    assert schedules[HOLIDAYS]["selected"] is True and "selected" not in schedules[WEEK_SCHEDULE]
    assert rooms(netatmo, token)[LIVING]["therm_setpoint_mode"] == "schedule"


def test_a_manual_set_point_lasts_the_default_duration(house):
    netatmo, token, clock = house
    write(netatmo, token, "setroomthermpoint", room_id=LIVING, mode="manual", temp="22.5")
    living = rooms(netatmo, token)[LIVING]
    assert living["therm_setpoint_mode"] == "manual"
    assert living["therm_setpoint_temperature"] == 22.5
    assert living["therm_setpoint_end_time"] == MONDAY_7AM + 180 * 60
    write(netatmo, token, "setroomthermpoint", room_id=BEDROOM, mode="max",
          endtime=str(MONDAY_7AM + 600))
    assert rooms(netatmo, token)[BEDROOM]["therm_setpoint_temperature"] == 30
    clock.advance(600)
    assert rooms(netatmo, token)[BEDROOM]["therm_setpoint_mode"] == "schedule"
    clock.advance(180 * 60)           # 10:10: the override is over, eco since 8:30
    living = rooms(netatmo, token)[LIVING]
    assert (living["therm_setpoint_mode"], living["therm_setpoint_temperature"]) == (
        "schedule", 16.5)
    write(netatmo, token, "setroomthermpoint", room_id=LIVING, mode="manual", temp="19")
    write(netatmo, token, "setroomthermpoint", room_id=LIVING, mode="home")
    assert rooms(netatmo, token)[LIVING]["therm_setpoint_mode"] == "schedule"


def test_schedule_boundaries_move_the_set_point(house):
    netatmo, token, clock = house
    before = rooms(netatmo, token)[LIVING]
    assert before["therm_setpoint_temperature"] == 20
    clock.set_time(before["therm_setpoint_end_time"])       # 8:30, eco
    after = rooms(netatmo, token)[LIVING]
    assert after["therm_setpoint_temperature"] == 16.5
    assert after["therm_setpoint_start_time"] == before["therm_setpoint_end_time"]


# ------------------------------------------------------------------------- physics

def test_a_manual_set_point_warms_the_room_and_off_cools_it(house):
    netatmo, token, clock = house
    write(netatmo, token, "setroomthermpoint", room_id=LIVING, mode="manual", temp="28",
          endtime=str(MONDAY_7AM + 12 * 3600))
    start = rooms(netatmo, token)[LIVING]
    assert start["heating_power_request"] > 0
    relay = next(m for m in status(netatmo, token)["home"]["modules"]
                 if m["type"] == "NATherm1")
    assert relay["boiler_status"] is True
    clock.advance(3600)
    warmer = rooms(netatmo, token)[LIVING]["therm_measured_temperature"]
    assert start["therm_measured_temperature"] < warmer < 28.05
    clock.advance(5 * 3600)
    assert rooms(netatmo, token)[LIVING]["therm_measured_temperature"] > warmer
    write(netatmo, token, "setthermmode", mode="off")
    hot = rooms(netatmo, token)[LIVING]["therm_measured_temperature"]
    clock.advance(4 * 3600)
    cold = rooms(netatmo, token)[LIVING]
    assert cold["therm_measured_temperature"] < hot - 3
    assert cold["heating_power_request"] == 0


def test_getroommeasure_equals_homestatus_at_its_instants(house):
    netatmo, token, clock = house
    seen = {}
    write(netatmo, token, "setroomthermpoint", room_id=LIVING, mode="manual", temp="24")
    for _ in range(6):
        r = rooms(netatmo, token)[LIVING]
        seen[clock.now()] = [r["therm_measured_temperature"], r["therm_setpoint_temperature"]]
        clock.advance(1800)
    first, last = min(seen), max(seen)
    body = ok(netatmo.api("getroommeasure", token, data={
        "home_id": HOME_ID, "room_id": LIVING, "scale": "30min",
        "type": "temperature,sp_temperature", "date_begin": str(int(first)),
        "date_end": str(int(last)), "real_time": "true", "optimize": "false"}))["body"]
    assert {float(k): v for k, v in body.items()} == seen
    runs = ok(netatmo.api("getroommeasure", token, data={
        "home_id": HOME_ID, "room_id": LIVING, "scale": "30min", "type": "temperature",
        "date_begin": str(int(first)), "date_end": str(int(last)),
        "real_time": "true"}))["body"]
    assert runs[0]["beg_time"] == first and runs[0]["step_time"] == 1800
    assert [v[0] for v in runs[0]["value"]] == [seen[t][0] for t in sorted(seen)]
    day = ok(netatmo.api("getroommeasure", token, data={
        "home_id": HOME_ID, "room_id": LIVING, "scale": "1day",
        "type": "min_temp,max_temp,date_min_temp,date_max_temp", "limit": "3"}))["body"]
    assert sum(len(run["value"]) for run in day) == 3


def test_a_long_series_costs_its_points_not_the_clock(house):
    netatmo, token, clock = house
    clock.advance(400 * 86400)
    body = ok(netatmo.api("getroommeasure", token, data={
        "home_id": HOME_ID, "room_id": BEDROOM, "scale": "30min", "type": "temperature",
        "limit": "1024"}))["body"]
    assert sum(len(run["value"]) for run in body) == 1024


def test_boiler_seconds_agree_with_the_heating(house):
    netatmo, token, clock = house
    for room in (LIVING, BEDROOM, OFFICE):
        write(netatmo, token, "setroomthermpoint", room_id=room, mode="max",
              endtime=str(MONDAY_7AM + 3600))
    clock.advance(3600)
    write(netatmo, token, "setthermmode", mode="off")
    clock.advance(3600)
    body = ok(netatmo.api("getmeasure", token, data={
        "device_id": RELAY, "scale": "1hour", "type": "boileron,boileroff,sum_boiler_on",
        "date_begin": str(MONDAY_7AM), "date_end": str(MONDAY_7AM + 3600),
        "real_time": "true", "optimize": "false"}))["body"]
    assert body == {str(MONDAY_7AM): [3600, 0, 3600], str(MONDAY_7AM + 3600): [0, 3600, 0]}


# ------------------------------------------------------------------------- schedules

def test_schedule_writes_show_in_homesdata(house):
    netatmo, token, clock = house
    write(netatmo, token, "switchhomeschedule", schedule_id=HOLIDAYS)
    assert next(s for s in home(netatmo, token)["schedules"] if s.get("selected"))[
        "id"] == HOLIDAYS
    ok(netatmo.api("synchomeschedule", token, params={
        "home_id": HOME_ID, "schedule_id": HOLIDAYS, "name": "Winter"},
        json={"zones": ZONES, "timetable": TIMETABLE, "hg_temp": 7, "away_temp": 14}))
    synced = next(s for s in home(netatmo, token)["schedules"] if s["id"] == HOLIDAYS)
    assert synced["name"] == "Winter" and synced["timetable"] == TIMETABLE
    assert rooms(netatmo, token)[LIVING]["therm_setpoint_temperature"] == 21
    created = ok(netatmo.api("createnewhomeschedule", token, json={
        "home_id": HOME_ID, "name": "Spare", "zones": ZONES, "timetable": TIMETABLE,
        "hg_temp": 7, "away_temp": 12}))
    new_id = created["schedule_id"]
    assert created["body"]["schedule_id"] == new_id
    write(netatmo, token, "renamehomeschedule", schedule_id=new_id, name="Spare room")
    assert {s["id"]: s["name"] for s in home(netatmo, token)["schedules"]}[new_id] == \
        "Spare room"
    write(netatmo, token, "deletehomeschedule", schedule_id=new_id)
    assert new_id not in {s["id"] for s in home(netatmo, token)["schedules"]}
    assert api_error(netatmo.api("deletehomeschedule", token, data={
        "home_id": HOME_ID, "schedule_id": HOLIDAYS}))[:2] == (400, 21)
    # the past is kept: an hour ago the week schedule was selected
    clock.advance(60)
    past = ok(netatmo.api("getroommeasure", token, data={
        "home_id": HOME_ID, "room_id": LIVING, "scale": "30min", "type": "sp_temperature",
        "date_begin": str(MONDAY_7AM - 1800), "date_end": str(MONDAY_7AM),
        "real_time": "true", "optimize": "false"}))["body"]
    assert past == {str(MONDAY_7AM - 1800): [20], str(MONDAY_7AM): [21]}


def test_schedule_validation(house):
    netatmo, token, _ = house

    def sync(**change):
        payload = {"zones": ZONES, "timetable": TIMETABLE, "hg_temp": 7, "away_temp": 14,
                   **change}
        return api_error(netatmo.api("synchomeschedule", token,
                                     params={"home_id": HOME_ID}, json=payload))

    assert sync(timetable=[{"zone_id": 0, "m_offset": 60}])[:2] == (400, 21)
    assert sync(timetable=[{"zone_id": 9, "m_offset": 0}])[:2] == (400, 21)
    assert sync(timetable=list(reversed(TIMETABLE)))[:2] == (400, 21)
    assert sync(hg_temp=20)[:2] == (400, 21)
    bad_room = [{"id": 0, "name": "C", "type": 0, "rooms": [
        {"id": "999", "therm_setpoint_temperature": 20}]}]
    assert sync(zones=bad_room, timetable=[{"zone_id": 0, "m_offset": 0}])[:2] == (400, 21)


# ------------------------------------------------------------------------- errors

@pytest.mark.parametrize(("method", "data", "expected"), [
    ("setthermmode", {}, (400, 10, "mode is missing")),
    ("setthermmode", {"mode": "party"}, (400, 21, "mode not authorized")),
    ("setthermmode", {"mode": "schedule", "schedule_id": "a" * 24},
     (400, 21, f"schedule {'a' * 24} is not therm schedule")),
    ("setthermmode", {"mode": "away", "endtime": str(MONDAY_7AM)}, (400, 21, None)),
    ("setroomthermpoint", {"room_id": LIVING, "mode": "manual"}, (400, 10, "Missing temp")),
    ("setroomthermpoint", {"room_id": LIVING, "mode": "manual", "temp": "31"},
     (400, 21, None)),
    ("setroomthermpoint", {"room_id": LIVING, "mode": "away"},
     (400, 21, "mode not authorized")),
    ("setroomthermpoint", {"room_id": "404", "mode": "max"}, (400, 21, None)),
    ("setroomthermpoint", {"room_id": LIVING, "mode": "max", "endtime": "1"},
     (400, 21, None)),
    ("switchhomeschedule", {"schedule_id": "b" * 24}, (400, 21, None)),
    ("renamehomeschedule", {"schedule_id": "b" * 24, "name": "x"}, (400, 21, None)),
    ("getroommeasure", {"room_id": LIVING, "scale": "1hour", "type": "humidity"},
     (400, 21, None)),
    ("getroommeasure", {"room_id": "404", "scale": "1hour", "type": "temperature"},
     (400, 21, None)),
])
def test_validation_codes(house, method, data, expected):
    netatmo, token, _ = house
    got = api_error(netatmo.api(method, token, data={"home_id": HOME_ID, **data}))
    assert got[:2] == expected[:2], got
    if expected[2]:
        assert got[2] == expected[2]


def test_a_foreign_home_is_an_invalid_id(house):
    netatmo, token, _ = house
    for method in ("setthermmode", "setroomthermpoint", "homestatus"):
        got = api_error(netatmo.api(method, token, data={
            "home_id": "c" * 24, "room_id": LIVING, "mode": "max"}))
        assert got == (400, 21, "Invalid id")


# ------------------------------------------------------------------------- setstate

def test_setstate_rooms_behave_like_setroomthermpoint(house):
    netatmo, token, _ = house
    ok(netatmo.api("setstate", token, json={"home": {"id": HOME_ID, "rooms": [
        {"id": LIVING, "therm_setpoint_mode": "manual", "therm_setpoint_temperature": 21.5,
         "therm_setpoint_end_time": MONDAY_7AM + 600},
        {"id": BEDROOM, "cooling_setpoint_mode": "max"}]}}))
    now = rooms(netatmo, token)
    assert (now[LIVING]["therm_setpoint_temperature"], now[LIVING]["therm_setpoint_end_time"]
            ) == (21.5, MONDAY_7AM + 600)
    assert now[BEDROOM]["therm_setpoint_mode"] == "max"
    got = api_error(netatmo.api("setstate", token, json={"home": {"id": HOME_ID, "modules": [
        {"id": RELAY, "on": True}]}}))
    assert got[:2] == (400, 21) and got[2].startswith("cannot set property on")
    assert api_error(netatmo.api("setstate", token, json={"home": {"id": HOME_ID, "rooms": [
        {"id": LIVING, "therm_setpoint_mode": "manual"}]}}))[:2] == (400, 10)


# ------------------------------------------------------------------------- overrides

def test_window_and_unreachable_modules(house):
    netatmo, token, _ = house
    house[2].override_device("netatmo", VALVE, window_open=True)
    assert rooms(netatmo, token)[BEDROOM]["open_window"] is True
    assert rooms(netatmo, token)[BEDROOM]["heating_power_request"] == 0
    house[2].advance(600)
    house[2].override_device("netatmo", VALVE, reachable=False)
    house[2].advance(60)
    body = status(netatmo, token)
    # a radio module offline behind its reachable relay: listed unreachable, with when
    # it was last seen and nothing it would measure (as the sample's door tag and NLT)
    assert "errors" not in body
    valve = next(m for m in body["home"]["modules"] if m["id"] == VALVE)
    assert valve == {"id": VALVE, "type": "NRV", "reachable": False, "bridge": RELAY,
                     "firmware_revision": 79, "last_seen": MONDAY_7AM + 600}
    assert [m["id"] for m in body["home"]["modules"]].index(VALVE) > 0   # home order
    assert BEDROOM not in {r["id"] for r in body["home"]["rooms"]}
    house[2].override_device("netatmo", RELAY, online=False)
    body = status(netatmo, token, device_types="NAPlug")   # the relay and what it bridges
    # a Wi-Fi relay offline: body.errors (as home_status_error_disconnected); what it
    # bridges is not reported
    assert body == {"home": {"id": HOME_ID}, "errors": [{"code": 6, "id": RELAY}]}
    house[2].override_device("netatmo", RELAY, clear=True)
    house[2].override_device("netatmo", VALVE, clear=True)
    assert "errors" not in status(netatmo, token)
    house[2].override_device("netatmo", THERMOSTAT, battery_percent=5)
    therm = next(m for m in status(netatmo, token)["home"]["modules"]
                 if m["id"] == THERMOSTAT)
    assert therm["battery_state"] == "very_low"


def test_station_overrides_reach_getstationsdata(house):
    netatmo, token, mockcloud = house
    outdoor = "02:00:00:3a:00:01"
    mockcloud.override_device("netatmo", outdoor, reachable=False)
    [station] = ok(netatmo.api("getstationsdata", token))["body"]["devices"]
    module = next(m for m in station["modules"] if m["_id"] == outdoor)
    assert module["reachable"] is False and "dashboard_data" not in module
    mockcloud.override_device("netatmo", outdoor, online=None,
                              weather={"temperature": 35})
    [station] = ok(netatmo.api("getstationsdata", token))["body"]["devices"]
    module = next(m for m in station["modules"] if m["_id"] == outdoor)
    assert module["reachable"] is True
    assert any(d["id"] == VALVE and "window_open" in d["accepts"]
               for d in mockcloud.devices("netatmo"))


def test_getthermostatsdata_from_the_same_state(house):
    netatmo, token, _ = house
    write(netatmo, token, "setthermmode", mode="away")
    body = ok(netatmo.api("getthermostatsdata", token))["body"]
    [device] = body["devices"]
    assert device["_id"] == RELAY
    [therm] = device["modules"]
    assert therm["setpoint"]["setpoint_mode"] == "away"
    assert therm["measured"]["temperature"] == rooms(netatmo, token)[LIVING][
        "therm_measured_temperature"]
