"""Netatmo regressions over real HTTP: a world's energy log validated at load (and
round-tripping through export), schedule ids never handed out twice, measures that
start at the setup date, and bad inputs to the energy endpoints answered with
Netatmo's 4xx envelope without touching the state (the ``netatmo`` fixture checks
every answer against the contract)."""

from __future__ import annotations

import contextlib
import copy
import json
import re
from typing import Any

import pytest
import requests

from tests.netatmo_http import HOLIDAYS, HOME_ID, WEEK_SCHEDULE, Netatmo, api_error

MONDAY_7AM = 1796018400            # 2026-11-30T07:00 Paris, a Monday
LIVING, BEDROOM = "3100000001", "3100000002"
RELAY, THERMOSTAT = "70:ee:50:00:00:01", "04:00:00:00:00:01"
ZONES = [{"id": 0, "name": "Comfort", "type": 0, "rooms": [
             {"id": LIVING, "therm_setpoint_temperature": 21}]},
         {"id": 1, "name": "Night", "type": 1, "rooms": [
             {"id": LIVING, "therm_setpoint_temperature": 16}]}]
TIMETABLE = [{"zone_id": 1, "m_offset": 0}, {"zone_id": 0, "m_offset": 420}]
SCHEDULE = {"zones": ZONES, "timetable": TIMETABLE, "hg_temp": 7, "away_temp": 12}
SCALES = ("max", "30min", "1hour", "3hours", "1day", "1week", "1month")
MAX_EPOCH = 253_402_300_799


@pytest.fixture
def house(netatmo: Netatmo, mockcloud):
    mockcloud.freeze(MONDAY_7AM)
    mockcloud.set_quotas("netatmo", [], enabled=False)
    return netatmo, netatmo.issue(), mockcloud


def ok(resp) -> dict:
    assert resp.status_code == 200, resp.text
    doc = resp.json()
    assert doc["status"] == "ok"
    return doc


def call(netatmo: Netatmo, token: str, method: str, **data) -> requests.Response:
    return netatmo.api(method, token, data={"home_id": HOME_ID, **data})


def post_json(netatmo: Netatmo, token: str, method: str, body: Any) -> requests.Response:
    return netatmo.api(method, token, data=json.dumps(body),
                       headers={"Content-Type": "application/json"})


def snapshot(netatmo: Netatmo, token: str) -> tuple[dict, dict]:
    """What the home shows (homesdata, homestatus): equal before and after a refusal."""
    data = ok(call(netatmo, token, "homesdata"))["body"]["homes"][0]
    status = ok(call(netatmo, token, "homestatus"))["body"]
    return data, status


def schedule_ids(netatmo: Netatmo, token: str) -> list[str]:
    return [s["id"] for s in ok(call(netatmo, token, "homesdata"))["body"]["homes"][0][
        "schedules"]]


# ------------------------------------------------------------------ 1. the world's log

def load(mockcloud, world: dict) -> requests.Response:
    return mockcloud.http.put(f"{mockcloud.url()}/_mockcloud/world", json=world, timeout=30,
                              headers=mockcloud.headers)


def with_state(world: dict, state: Any) -> dict:
    world = copy.deepcopy(world)
    world["netatmo"]["users"][0]["homes"][0]["state"] = state
    return world


MODE = {"at": MONDAY_7AM, "kind": "mode", "mode": "away", "end": 0}
ROOM = {"at": MONDAY_7AM, "kind": "room", "room": LIVING, "mode": "manual", "temp": 21,
        "end": MONDAY_7AM + 3600}
BASE = {"at": MONDAY_7AM - 60, "mode": {"mode": "schedule", "start": 0, "end": 0},
        "rooms": {}}


@pytest.mark.parametrize(("state", "message"), [
    ([], r"state must be a mapping"),
    ({"events": {}}, r"state.events must be a list"),
    ({"events": [1]}, r"state.events\[0\] must be a mapping"),
    ({"events": [{"at": 1, "kind": "party"}]}, r"events\[0\].kind must be one of"),
    ({"events": [{**MODE, "mode": "party"}]}, r"events\[0\].mode must be one of"),
    ({"events": [{**MODE, "end": MAX_EPOCH + 0.5}]}, r"events\[0\].end must be an epoch time"),
    ({"events": [{**MODE, "at": "soon"}]}, r"events\[0\].at must be a number"),
    ({"events": [{k: v for k, v in MODE.items() if k != "end"}]},
     r"events\[0\].end is missing"),
    ({"events": [{**ROOM, "room": "9"}]}, r"events\[0\].room '9' is no room"),
    ({"events": [{**ROOM, "temp": "hot"}]}, r"events\[0\].temp must be a number"),
    ({"events": [{**ROOM, "temp": 99}]}, r"events\[0\].temp must be 5 to 30"),
    ({"events": [{**ROOM, "end": 10**30}]}, r"events\[0\].end must be an epoch time"),
    ({"events": [{**ROOM, "colour": "red"}]}, r"events\[0\]: unknown field\(s\) colour"),
    ({"events": [ROOM, {**MODE, "at": MONDAY_7AM - 1}]},
     r"events\[1\].at .* comes before the previous event"),
    ({"events": [{"at": 1, "kind": "schedules", "schedules": [{"id": "x"}]}]},
     r"events\[0\].schedules\[0\].id must be 24 hex digits"),
    ({"events": [{"at": 1, "kind": "schedules", "schedules": "x"}]},
     r"events\[0\] needs at and a schedules list"),
    ({"events": [ROOM] * 257}, r"holds 257 events; at most 256"),
    ({"base": {"at": 1}}, r"state.base needs at and mode"),
    ({"base": {**BASE, "mode": {"mode": "away"}}}, r"base.mode.start is missing"),
    ({"base": {**BASE, "rooms": {"9": {}}}}, r"base.rooms: '9' is no room"),
    ({"base": {**BASE, "rooms": {LIVING: {"mode": "home", "temp": 20, "start": 0,
                                          "end": 0}}}}, r"base.rooms\['3100000001'\].mode"),
    ({"base": BASE, "events": [{**MODE, "at": 5}]}, r"comes before the previous base.at"),
    ({"schedules_created": -1}, r"schedules_created must be at least 0"),
    ({"overrides": {}}, r"state: unknown field\(s\) overrides"),
])
def test_a_malformed_energy_log_is_refused_at_load(house, state, message):
    netatmo, token, mockcloud = house
    before = snapshot(netatmo, token)
    world = mockcloud.export_world()
    resp = load(mockcloud, with_state(world, state))
    assert resp.status_code == 400, resp.text
    text = resp.text
    assert "netatmo.users[0].homes[0].state" in text, text
    assert re.search(message, text), text
    assert mockcloud.export_world() == world            # the tenant kept its world
    assert snapshot(netatmo, token) == before


def test_a_valid_hand_written_log_loads_and_answers(house):
    netatmo, token, mockcloud = house
    state = {"base": {**BASE, "rooms": {BEDROOM: {"mode": "max", "temp": 30, "start": 0,
                                                   "end": MONDAY_7AM + 7200}}},
             "events": [{**ROOM, "at": MONDAY_7AM - 30},
                        {"at": MONDAY_7AM - 10, "kind": "room", "room": LIVING,
                         "mode": "home"}],
             "schedules_created": 2}
    resp = load(mockcloud, with_state(mockcloud.export_world(), state))
    assert resp.status_code == 200, resp.text
    token = netatmo.issue()                  # a world load drops the tokens
    rooms = {r["id"]: r for r in ok(call(netatmo, token, "homestatus"))["body"]["home"][
        "rooms"]}
    assert rooms[BEDROOM]["therm_setpoint_mode"] == "max"
    assert rooms[LIVING]["therm_setpoint_mode"] == "schedule"
    exported = mockcloud.export_world()["netatmo"]["users"][0]["homes"][0]["state"]
    assert exported["events"][1] == {"at": MONDAY_7AM - 10, "kind": "room", "room": LIVING,
                                     "mode": "home", "temp": None, "end": 0}


def test_the_log_round_trips_through_export_and_load(house):
    netatmo, token, mockcloud = house
    ok(call(netatmo, token, "setthermmode", mode="away", endtime=str(MONDAY_7AM + 7200)))
    mockcloud.advance(60)
    ok(call(netatmo, token, "setroomthermpoint", room_id=LIVING, mode="manual", temp="22.5"))
    mockcloud.advance(60)
    made = ok(post_json(netatmo, token, "createnewhomeschedule",
                        {"home_id": HOME_ID, "name": "Été ☀", **SCHEDULE}))["schedule_id"]
    ok(call(netatmo, token, "switchhomeschedule", schedule_id=made))
    ok(call(netatmo, token, "deletehomeschedule", schedule_id=HOLIDAYS))
    mockcloud.advance(60)
    before = snapshot(netatmo, token)
    world = mockcloud.export_world()
    state = world["netatmo"]["users"][0]["homes"][0]["state"]
    assert [e["kind"] for e in state["events"]] == ["mode", "room", "schedules"]
    assert state["schedules_created"] == 1
    resp = load(mockcloud, world)
    assert resp.status_code == 200, resp.text
    assert mockcloud.export_world() == world
    assert snapshot(netatmo, netatmo.issue()) == before


# ------------------------------------------------------------------ 2. schedule ids

def test_a_created_schedule_never_gets_a_deleted_ones_id(house):
    netatmo, token, mockcloud = house
    seen = set(schedule_ids(netatmo, token))

    def create() -> str:
        new = ok(post_json(netatmo, token, "createnewhomeschedule",
                           {"home_id": HOME_ID, "name": "New", **SCHEDULE}))["schedule_id"]
        assert new not in seen, "an id handed out twice"
        seen.add(new)
        return new

    # the old id (the home, now, the log's length) repeated here: same instant, and
    # deleting brought the log back to the length it had when the second was made
    a, b = create(), create()
    for sid in (b, a):
        ok(call(netatmo, token, "deletehomeschedule", schedule_id=sid))
    create()
    for _ in range(3):
        mockcloud.advance(20 * 86400)        # compaction folds the old events away
        token = netatmo.issue()
        sid = create()
        ok(call(netatmo, token, "deletehomeschedule", schedule_id=sid))
    # and through an export / load (the counter is in the exported log)
    world = mockcloud.export_world()
    assert load(mockcloud, world).status_code == 200
    token = netatmo.issue()
    create()


def test_a_created_schedule_id_is_no_id_the_world_already_uses(house):
    netatmo, token, mockcloud = house
    first = ok(post_json(netatmo, token, "createnewhomeschedule",
                         {"home_id": HOME_ID, "name": "New", **SCHEDULE}))["schedule_id"]
    # a world whose existing schedule holds the id the next creation would make
    ok(call(netatmo, token, "deletehomeschedule", schedule_id=first))
    world = mockcloud.export_world()
    home = world["netatmo"]["users"][0]["homes"][0]
    home["state"] = {}
    home["schedules"][1]["id"] = first
    assert load(mockcloud, world).status_code == 200
    token = netatmo.issue()
    second = ok(post_json(netatmo, token, "createnewhomeschedule",
                          {"home_id": HOME_ID, "name": "New", **SCHEDULE}))["schedule_id"]
    assert second != first
    assert sorted(schedule_ids(netatmo, token)) == sorted({WEEK_SCHEDULE, first, second})


# ------------------------------------------------------------------ 3. measures' start

def setup_date(mockcloud, module_id: str) -> int:
    home = mockcloud.export_world()["netatmo"]["users"][0]["homes"][0]
    return next(m.get("setup_date", 1_600_000_000) for m in home["modules"]
                if m["id"] == module_id)


def stamps(body: Any) -> list[int]:
    if isinstance(body, dict):
        return sorted(int(t) for t in body)
    return [run["beg_time"] + i * run["step_time"]
            for run in body for i in range(len(run["value"]))]


@pytest.mark.parametrize("scale", SCALES)
def test_measures_without_date_begin_start_at_the_setup_date(house, scale):
    netatmo, token, mockcloud = house
    since = setup_date(mockcloud, THERMOSTAT)
    # a bucket holding the setup date is the first (its start, a month at most before)
    room = ok(netatmo.api("getroommeasure", token, data={
        "home_id": HOME_ID, "room_id": LIVING, "scale": scale, "type": "Temperature",
        "real_time": "true"}))["body"]
    boiler = ok(netatmo.api("getmeasure", token, data={
        "device_id": RELAY, "module_id": THERMOSTAT, "scale": scale,
        "type": "boileron,temperature", "real_time": "true", "optimize": "false"}))["body"]
    for body in (room, boiler):
        times = stamps(body)
        assert times, body
        assert since - 32 * 86400 < times[0] <= MONDAY_7AM
        assert all(since - 32 * 86400 < t <= MONDAY_7AM for t in times)
    if scale in ("1week", "1month"):     # 1024 of them would reach back before 2020
        assert stamps(room)[0] <= since < stamps(room)[1]


def test_a_measure_before_the_setup_date_or_beyond_year_9999_is_empty(house):
    netatmo, token, mockcloud = house
    since = setup_date(mockcloud, THERMOSTAT)
    for extra in ({"date_begin": "0", "date_end": str(since - 86400)},
                  {"date_begin": str(MONDAY_7AM + 86400)},
                  {"date_begin": "1e30"}, {"date_begin": str(MAX_EPOCH + 1)}):
        for scale in SCALES:
            body = ok(netatmo.api("getroommeasure", token, data={
                "home_id": HOME_ID, "room_id": LIVING, "scale": scale,
                "type": "temperature", **extra}))["body"]
            assert body == [], (extra, scale)
            body = ok(netatmo.api("getmeasure", token, data={
                "device_id": RELAY, "scale": scale, "type": "boileron",
                "optimize": "false", **extra}))["body"]
            assert body == {}, (extra, scale)
    # from 1970 on: the first bucket is the setup date's
    body = ok(netatmo.api("getroommeasure", token, data={
        "home_id": HOME_ID, "room_id": LIVING, "scale": "1day", "type": "temperature",
        "date_begin": "0", "limit": "3", "real_time": "true"}))["body"]
    assert since - 86400 < stamps(body)[0] <= since


# ------------------------------------------------------------------ 5. bad inputs

BAD_TIMES = ["abc", "NaN", "inf", "-inf", "1e400", "-1", "1e30", str(MAX_EPOCH + 1),
             "99999999999999999999999"]


def refused(resp: requests.Response, status: int = 400) -> tuple[int, str]:
    code, num, message = api_error(resp)
    assert code == status and message, resp.text
    return num, message


@pytest.mark.parametrize("value", BAD_TIMES)
def test_bad_end_times_are_refused_and_change_nothing(house, value):
    netatmo, token, _ = house
    before = snapshot(netatmo, token)
    refused(call(netatmo, token, "setthermmode", mode="away", endtime=value))
    refused(call(netatmo, token, "setroomthermpoint", room_id=LIVING, mode="manual",
                 temp="20", endtime=value))
    refused(call(netatmo, token, "setroomthermpoint", room_id=LIVING, mode="manual",
                 temp=value))
    number: Any = value
    with contextlib.suppress(ValueError):
        number = json.loads(value)
    if isinstance(number, int | float):
        room = {"id": LIVING, "therm_setpoint_mode": "manual",
                "therm_setpoint_temperature": 20, "therm_setpoint_end_time": number}
        refused(post_json(netatmo, token, "setstate",
                          {"home": {"id": HOME_ID, "rooms": [room]}}))
    assert snapshot(netatmo, token) == before


def test_an_end_time_in_year_3000_is_kept(house):
    netatmo, token, _ = house
    year_3000 = 32503680000
    ok(call(netatmo, token, "setroomthermpoint", room_id=LIVING, mode="manual", temp="20",
            endtime=str(year_3000)))
    ok(call(netatmo, token, "setthermmode", mode="hg", endtime=str(MAX_EPOCH)))
    status = ok(call(netatmo, token, "homestatus"))["body"]["home"]["rooms"]
    assert {r["therm_setpoint_end_time"] for r in status} == {MAX_EPOCH}
    ok(netatmo.api("getthermostatsdata", token))


NOT_A_SCHEDULE: list[Any] = [[], "x", 1, None, [1, 2], {"home_id": [1]},
                             {"home_id": HOME_ID, "zones": "x", "timetable": [],
                              "hg_temp": 7, "away_temp": 12}]


def schedule_cases() -> list[tuple[dict, str]]:
    def zone(**kw) -> list[dict]:
        return [{**ZONES[0], **kw}, ZONES[1]]
    return [
        ({"zones": [ZONES[0], ZONES[0], ZONES[1]]}, "zone id 0 is used twice"),
        ({"zones": zone(rooms=ZONES[0]["rooms"] * 2)}, "room id '3100000001' is used twice"),
        ({"zones": zone(id=-1)}, "must be at least 0|less than the minimum"),
        ({"zones": zone(id=1.5)}, "integer"),
        ({"zones": zone(name="")}, "must be a non-empty string"),
        ({"zones": zone(rooms=[{"id": LIVING, "therm_setpoint_temperature": "20"}])},
         "number"),
        ({"zones": zone(rooms=[{"id": LIVING, "therm_setpoint_temperature": 1e308}])},
         "out of range"),
        ({"zones": zone(rooms=[{"id": "nope", "therm_setpoint_temperature": 20}])},
         "is no room of this home"),
        ({"zones": zone(rooms="x")}, "must be a list|not of type 'array'"),
        ({"zones": "x"}, "must be a list|not of type 'array'"),
        ({"zones": []}, "needs zones and a timetable|should be non-empty"),
        ({"timetable": []}, "needs zones and a timetable|should be non-empty"),
        ({"timetable": [{"zone_id": 0, "m_offset": 10080}]}, "between 0 and 10079"),
        ({"timetable": [{"zone_id": 0, "m_offset": 0}, {"zone_id": 1, "m_offset": 0}]},
         "must come after"),
        ({"timetable": [{"zone_id": 5, "m_offset": 0}]}, "zone_id 5 is no zone"),
        ({"timetable": [{"zone_id": 0, "m_offset": 60}]}, "must start at m_offset 0"),
        ({"hg_temp": 99}, "out of range"),
        ({"away_temp": "warm"}, "is not a number|not of type 'number'"),
        ({"name": "n" * 257}, "at most 256"),
    ]


@pytest.mark.parametrize("method", ["synchomeschedule", "createnewhomeschedule"])
def test_bad_schedule_bodies_are_refused_and_change_nothing(house, method):
    netatmo, token, _ = house
    before = snapshot(netatmo, token)
    for body in NOT_A_SCHEDULE:
        refused(post_json(netatmo, token, method, body))
    resp = netatmo.api(method, token, data="{", headers={"Content-Type": "application/json"})
    refused(resp)
    for change, message in schedule_cases():
        body = {"home_id": HOME_ID, "name": "N", **SCHEDULE, **change}
        _, text = refused(post_json(netatmo, token, method, body))
        assert re.search(message, text), (change, text)
        # the same as a form (JSON texts for zones and timetable)
        form = {k: v if isinstance(v, str) else json.dumps(v) for k, v in body.items()}
        refused(netatmo.api(method, token, data=form))
    assert snapshot(netatmo, token) == before


def test_unicode_names_are_kept(house):
    netatmo, token, _ = house
    name = "Chambre d'été ☀ 日本 " + "é" * 200
    new = ok(post_json(netatmo, token, "createnewhomeschedule",
                       {"home_id": HOME_ID, "name": name, **SCHEDULE}))["schedule_id"]
    ok(call(netatmo, token, "renamehomeschedule", schedule_id=new, name=name[::-1]))
    names = {s["id"]: s["name"] for s in ok(call(netatmo, token, "homesdata"))["body"][
        "homes"][0]["schedules"]}
    assert names[new] == name[::-1]
    before = snapshot(netatmo, token)
    refused(call(netatmo, token, "renamehomeschedule", schedule_id=new, name="x" * 257))
    assert snapshot(netatmo, token) == before


@pytest.mark.parametrize("body", [
    [], "x", 1, None, {}, {"home": []}, {"home": "x"}, {"home": {"id": 1}},
    {"home": {"id": HOME_ID, "rooms": "x"}}, {"home": {"id": HOME_ID, "rooms": [1]}},
    {"home": {"id": HOME_ID, "rooms": {"a": 1}}},
    {"home": {"id": HOME_ID, "rooms": [{"id": LIVING, "therm_setpoint_mode": "manual",
                                        "therm_setpoint_temperature": "20"}]}},
    {"home": {"id": HOME_ID, "rooms": [{"id": LIVING, "therm_setpoint_mode": ["manual"],
                                        "therm_setpoint_temperature": 20}]}},
    {"home": {"id": HOME_ID, "rooms": [{"id": LIVING, "therm_setpoint_mode": "manual",
                                        "therm_setpoint_temperature": 20},
                                       {"id": "nope", "therm_setpoint_mode": "max"}]}},
    {"home": {"id": HOME_ID, "modules": [{"id": RELAY, "on": True}]}},
])
def test_bad_setstate_bodies_are_refused_and_change_nothing(house, body):
    netatmo, token, _ = house
    before = snapshot(netatmo, token)
    refused(post_json(netatmo, token, "setstate", body))
    if isinstance(body, dict) and "home" in body:
        refused(netatmo.api("setstate", token, data={"home": json.dumps(body["home"])}))
    assert snapshot(netatmo, token) == before
