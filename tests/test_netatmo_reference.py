"""The reference model of tests/netatmo_reference.py on hand-computed examples: the
default world's week schedule, weekly wrap, DST weeks (Europe/Paris, last Sundays of
March and October 2026; Australia/Lord_Howe's half-hour shift), home modes, room
overrides, schedules' writes and the refusals. Instants are written in UTC by hand."""

from __future__ import annotations

import copy
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from emulator.core import world as core_world
from emulator.settings import DEFAULT_WORLD
from tests.netatmo_reference import EnergyReference, Refusal, Room, slot, wall_instant

HOME = "5e5c7a1b2d3e4f50617283a0"
WEEK, HOLIDAYS = "5e5c7a1b2d3e4f50617283b0", "5e5c7a1b2d3e4f50617283b1"
LIVING, BEDROOM, OFFICE = "3100000001", "3100000002", "3100000003"
PARIS = ZoneInfo("Europe/Paris")


def utc(text: str) -> int:
    return int(datetime.fromisoformat(text).replace(tzinfo=UTC).timestamp())


def default_home() -> dict:
    return copy.deepcopy(core_world.read_file(DEFAULT_WORLD)["netatmo"]["users"][0]
                         ["homes"][0])


@pytest.fixture
def ref() -> EnergyReference:
    return EnergyReference(default_home())


def zone(zone_id: int, living=None, bedroom=None, office=None) -> dict:
    temps = {LIVING: living, BEDROOM: bedroom, OFFICE: office}
    return {"id": zone_id, "name": f"Z{zone_id}", "type": 0,
            "rooms": [{"id": r, "therm_setpoint_temperature": t}
                      for r, t in temps.items() if t is not None]}


def payload(timetable: list[tuple[int, int]], zones: list[dict] | None = None,
            hg: float = 7, away: float = 12) -> dict:
    return {"zones": zones or [zone(0, 21, 21, 21), zone(1, 16, 16, 16)],
            "timetable": [{"zone_id": z, "m_offset": m} for z, m in timetable],
            "hg_temp": hg, "away_temp": away}


def temps(ref: EnergyReference, t: int) -> list[float]:
    rooms = ref.expected_rooms(t).rooms
    return [rooms[r].temperature for r in (LIVING, BEDROOM, OFFICE)]


# Monday 2026-11-30, Paris in winter time (UTC+1)
MON_7AM = utc("2026-11-30T06:00:00")


# ------------------------------------------------------------------ the week schedule

def test_default_week_schedule_on_a_monday_morning(ref):
    snap = ref.expected_rooms(MON_7AM)
    assert snap.therm_mode == "schedule"
    assert snap.rooms[LIVING] == Room("schedule", 20, utc("2026-11-30T05:00:00"),
                                      utc("2026-11-30T07:30:00"))
    assert temps(ref, MON_7AM) == [20, 19, 20]
    assert temps(ref, MON_7AM + 2 * 3600) == [16.5, 16, 16]  # 9:00: eco
    # exactly on a boundary: the new entry (8:30 local = 7:30 UTC)
    at = utc("2026-11-30T07:30:00")
    assert ref.expected_rooms(at).rooms[LIVING] == Room("schedule", 16.5, at,
                                                        utc("2026-11-30T16:30:00"))
    assert ref.expected_rooms(at - 1).rooms[LIVING].temperature == 20


def test_the_week_wraps(ref):
    sunday_23h = utc("2026-11-29T22:00:00")
    # Sunday 22:00 (Night) -> next boundary is next Monday 00:00 (also Night: it counts)
    assert ref.expected_rooms(sunday_23h).rooms[LIVING] == Room(
        "schedule", 17, utc("2026-11-29T21:00:00"), utc("2026-11-29T23:00:00"))
    monday_0h30 = utc("2026-11-29T23:30:00")
    assert ref.expected_rooms(monday_0h30).rooms[LIVING] == Room(
        "schedule", 17, utc("2026-11-29T23:00:00"), utc("2026-11-30T05:00:00"))
    # Tuesday 03:00: still Monday 22:00's entry (no midnight boundary on Tuesday)
    assert ref.expected_rooms(utc("2026-12-01T02:00:00")).rooms[OFFICE] == Room(
        "schedule", 16, utc("2026-11-30T21:00:00"), utc("2026-12-01T05:00:00"))


def test_dst_weeks_in_paris(ref):
    # March: Saturday 22:00 CET -> Sunday 08:00 CEST is 9 hours
    assert ref.expected_rooms(utc("2026-03-29T03:00:00")).rooms[LIVING] == Room(
        "schedule", 17, utc("2026-03-28T21:00:00"), utc("2026-03-29T06:00:00"))
    # October: Saturday 22:00 CEST -> Sunday 08:00 CET is 11 hours
    assert ref.expected_rooms(utc("2026-10-25T03:00:00")).rooms[LIVING] == Room(
        "schedule", 17, utc("2026-10-24T20:00:00"), utc("2026-10-25T07:00:00"))
    # Sunday 08:00 CEST (Comfort) lasts until 22:00 CEST
    assert ref.expected_rooms(utc("2026-03-29T06:00:00")).rooms[LIVING] == Room(
        "schedule", 20, utc("2026-03-29T06:00:00"), utc("2026-03-29T20:00:00"))


def test_a_one_entry_week_across_dst_is_167_hours(ref):
    at = utc("2026-03-25T00:00:00")
    assert ref.synchomeschedule(at, HOME, None, None,
                                payload([(0, 0)], [zone(0, living=20)], hg=6)) is None
    snap = ref.expected_rooms(at + 12 * 3600)
    assert snap.rooms[LIVING] == Room("schedule", 20, utc("2026-03-22T23:00:00"),
                                      utc("2026-03-29T22:00:00"))
    assert snap.rooms[BEDROOM].temperature == 6  # absent from the zone: hg_temp
    # a read before the write does not see it
    assert ref.expected_rooms(at - 1).rooms[BEDROOM].temperature == 16


SUN = 6 * 1440   # m_offset of Sunday 00:00


def test_a_boundary_in_the_skipped_hour_happens_when_the_clock_jumps(ref):
    # Paris, Sunday 2026-03-29: 02:00 CET jumps to 03:00 CEST at 01:00 UTC
    ref.synchomeschedule(utc("2026-03-23T00:00:00"), HOME, None, None,
                         payload([(1, 0), (0, SUN + 150), (1, SUN + 210)]))
    before = ref.expected_rooms(utc("2026-03-29T00:59:59")).rooms[LIVING]
    assert before == Room("schedule", 16, utc("2026-03-22T23:00:00"),
                          utc("2026-03-29T01:00:00"))
    jump = utc("2026-03-29T01:00:00")
    # 02:30 does not exist: at 03:00 CEST; the next entry (03:30 CEST) at 01:30 UTC
    assert ref.expected_rooms(jump).rooms[LIVING] == Room(
        "schedule", 21, jump, utc("2026-03-29T01:30:00"))


def test_entries_squeezed_into_the_skipped_hour(ref):
    ref.synchomeschedule(utc("2026-03-23T00:00:00"), HOME, None, None, payload(
        [(1, 0), (0, SUN + 120), (2, SUN + 150), (1, SUN + 180)],
        [zone(0, 21, 21, 21), zone(1, 16, 16, 16), zone(2, 25, 25, 25)]))
    # 02:00, 02:30 and 03:00 all happen at 01:00 UTC: the last one is in force
    jump = utc("2026-03-29T01:00:00")
    assert ref.expected_rooms(jump).rooms[LIVING] == Room(
        "schedule", 16, jump, utc("2026-03-29T22:00:00"))
    assert ref.expected_rooms(jump - 1).rooms[LIVING].end == jump


def test_a_boundary_in_the_repeated_hour_happens_at_its_first_occurrence(ref):
    # Paris, Sunday 2026-10-25: 03:00 CEST falls back to 02:00 CET at 01:00 UTC
    ref.synchomeschedule(utc("2026-10-19T00:00:00"), HOME, None, None,
                         payload([(1, 0), (0, SUN + 150), (1, SUN + 180)]))
    first = utc("2026-10-25T00:30:00")  # 02:30 CEST
    assert ref.expected_rooms(first - 1).rooms[LIVING].temperature == 16
    in_force = Room("schedule", 21, first, utc("2026-10-25T02:00:00"))  # to 03:00 CET
    assert ref.expected_rooms(first).rooms[LIVING] == in_force
    # 02:15 CET, the second pass: the 02:30 boundary is behind us
    assert ref.expected_rooms(utc("2026-10-25T01:15:00")).rooms[LIVING] == in_force
    assert ref.expected_rooms(utc("2026-10-25T02:00:00")).rooms[LIVING] == Room(
        "schedule", 16, utc("2026-10-25T02:00:00"), utc("2026-10-25T23:00:00"))


def test_lord_howe_moves_half_an_hour():
    home = default_home() | {"timezone": "Australia/Lord_Howe"}
    ref = EnergyReference(home)
    # Sunday 2026-10-04: 02:00 +10:30 jumps to 02:30 +11 at 15:30 UTC the day before
    ref.synchomeschedule(utc("2026-09-28T00:00:00"), HOME, None, None,
                         payload([(1, 0), (0, SUN + 135)]))
    jump = utc("2026-10-03T15:30:00")
    assert ref.expected_rooms(jump - 1).rooms[LIVING].temperature == 16
    assert ref.expected_rooms(jump).rooms[LIVING] == Room(
        "schedule", 21, jump, utc("2026-10-04T13:00:00"))  # Monday 00:00 +11


def test_wall_instant_by_hand():
    assert wall_instant(datetime(2026, 3, 29, 2, 30), PARIS) == utc("2026-03-29T01:00:00")
    assert wall_instant(datetime(2026, 3, 29, 1, 59), PARIS) == utc("2026-03-29T00:59:00")
    assert wall_instant(datetime(2026, 10, 25, 2, 30), PARIS) == utc("2026-10-25T00:30:00")
    assert wall_instant(datetime(2026, 10, 25, 3, 0), PARIS) == utc("2026-10-25T02:00:00")


@settings(max_examples=300, deadline=None, derandomize=True)
@given(t=st.integers(utc("2025-01-01T00:00:00"), utc("2030-12-31T00:00:00")))
def test_slot_agrees_with_local_minutes_outside_the_repeated_hour(t):
    """Outside the second pass of a repeated hour, 'the last entry with m_offset <=
    minutes since local Monday' (the spec's wording) is the boundary lookup."""
    timetable = default_home()["schedules"][0]["timetable"]
    local = datetime.fromtimestamp(t, PARIS)
    if local.fold:
        return
    minutes = local.weekday() * 1440 + local.hour * 60 + local.minute
    expected = max(i for i, e in enumerate(timetable) if e["m_offset"] <= minutes)
    index, start, end = slot(timetable, PARIS, t)
    assert index == expected and start <= t < end
    assert end - start <= 7 * 86400 + 3600


# ------------------------------------------------------------------ home modes

def test_away_with_an_endtime_then_back_to_the_schedule(ref):
    end = MON_7AM + 3600
    assert ref.setthermmode(MON_7AM, HOME, "away", endtime=end) is None
    snap = ref.expected_rooms(MON_7AM)
    assert snap.therm_mode == "away"
    assert set(snap.rooms.values()) == {Room("away", 12, MON_7AM, end)}
    back = ref.expected_rooms(end)
    assert back.therm_mode == "schedule"
    assert back.rooms[LIVING] == Room("schedule", 20, utc("2026-11-30T05:00:00"),
                                      utc("2026-11-30T07:30:00"))
    assert ref.next_change(MON_7AM) == end


def test_hg_without_endtime_lasts_and_off_shows_seven(ref):
    ref.setthermmode(MON_7AM, HOME, "hg")
    week_later = ref.expected_rooms(MON_7AM + 7 * 86400)
    assert week_later.therm_mode == "hg"
    assert week_later.rooms[OFFICE] == Room("hg", 7, MON_7AM, 0)
    ref.setthermmode(MON_7AM + 60, HOME, "off", endtime=MON_7AM + 120)  # endtime ignored
    snap = ref.expected_rooms(MON_7AM + 200)
    assert snap.therm_mode == "off"
    assert snap.rooms[LIVING] == Room("off", 7, MON_7AM + 60, 0)
    ref.setthermmode(MON_7AM + 300, HOME, "schedule", endtime=MON_7AM)  # ignored too
    assert ref.expected_rooms(MON_7AM + 300).rooms[LIVING].mode == "schedule"


def test_away_shows_the_selected_schedules_away_temp_when_read(ref):
    ref.setthermmode(MON_7AM, HOME, "away")
    assert ref.switchhomeschedule(MON_7AM + 10, HOME, HOLIDAYS) is None
    assert temps(ref, MON_7AM + 10) == [14, 14, 14]
    assert temps(ref, MON_7AM + 9) == [12, 12, 12]
    assert ref.expected_rooms(MON_7AM + 10).therm_mode == "away"   # the mode stays


def test_schedule_mode_with_a_schedule_id_selects_it(ref):
    assert ref.setthermmode(MON_7AM, HOME, "schedule", schedule_id=HOLIDAYS) is None
    assert ref.selected(MON_7AM) == HOLIDAYS
    # Holidays: Monday 00:00 Night until 08:00
    assert ref.expected_rooms(MON_7AM).rooms[BEDROOM] == Room(
        "schedule", 17, utc("2026-11-29T23:00:00"), utc("2026-11-30T07:00:00"))


# ------------------------------------------------------------------ room overrides

def test_manual_default_duration_and_its_end(ref):
    assert ref.setroomthermpoint(MON_7AM, HOME, LIVING, "manual", temp=21.5) is None
    end = MON_7AM + 180 * 60
    assert ref.expected_rooms(MON_7AM).rooms[LIVING] == Room("manual", 21.5, MON_7AM, end)
    assert ref.expected_rooms(MON_7AM).rooms[BEDROOM].mode == "schedule"
    assert ref.expected_rooms(end - 1).rooms[LIVING].mode == "manual"
    assert ref.expected_rooms(end).rooms[LIVING] == Room(   # 10:00: eco
        "schedule", 16.5, utc("2026-11-30T07:30:00"), utc("2026-11-30T16:30:00"))


def test_the_default_duration_is_the_homes_in_minutes():
    ref = EnergyReference(default_home() | {"therm_setpoint_default_duration": 120})
    ref.setroomthermpoint(MON_7AM, HOME, OFFICE, "max")
    assert ref.expected_rooms(MON_7AM).rooms[OFFICE] == Room("max", 30, MON_7AM,
                                                             MON_7AM + 7200)


def test_an_override_wins_over_the_home_mode_until_its_end(ref):
    ref.setthermmode(MON_7AM, HOME, "away", endtime=MON_7AM + 600)
    ref.setroomthermpoint(MON_7AM + 60, HOME, LIVING, "manual", temp=22,
                          endtime=MON_7AM + 1200)
    assert ref.expected_rooms(MON_7AM + 60).rooms[LIVING] == Room(
        "manual", 22, MON_7AM + 60, MON_7AM + 1200)
    # the away ends: the override stays; then it ends and the room follows the schedule
    snap = ref.expected_rooms(MON_7AM + 600)
    assert snap.therm_mode == "schedule" and snap.rooms[LIVING].mode == "manual"
    assert ref.expected_rooms(MON_7AM + 1200).rooms[LIVING].mode == "schedule"


def test_override_then_off_then_override(ref):
    ref.setthermmode(MON_7AM, HOME, "off")
    ref.setroomthermpoint(MON_7AM + 1, HOME, BEDROOM, "max", endtime=MON_7AM + 100)
    assert ref.expected_rooms(MON_7AM + 99).rooms[BEDROOM].mode == "max"
    assert ref.expected_rooms(MON_7AM + 100).rooms[BEDROOM] == Room("off", 7, MON_7AM, 0)


def test_a_home_mode_change_clears_overrides_a_switch_does_not(ref):
    ref.setroomthermpoint(MON_7AM, HOME, LIVING, "manual", temp=23)
    ref.switchhomeschedule(MON_7AM + 1, HOME, HOLIDAYS)
    assert ref.expected_rooms(MON_7AM + 1).rooms[LIVING].mode == "manual"
    ref.setthermmode(MON_7AM + 2, HOME, "schedule")
    assert ref.expected_rooms(MON_7AM + 2).rooms[LIVING].mode == "schedule"
    assert ref.selected(MON_7AM + 2) == HOLIDAYS
    ref.setroomthermpoint(MON_7AM + 3, HOME, OFFICE, "max")
    ref.setroomthermpoint(MON_7AM + 4, HOME, OFFICE, "home")
    assert ref.expected_rooms(MON_7AM + 4).rooms[OFFICE].mode == "schedule"
    assert ref.expected_rooms(MON_7AM + 3).rooms[OFFICE].mode == "max"


def test_writes_at_one_instant_apply_in_order(ref):
    ref.setroomthermpoint(MON_7AM, HOME, LIVING, "manual", temp=23)
    ref.setthermmode(MON_7AM, HOME, "hg")
    ref.setroomthermpoint(MON_7AM, HOME, OFFICE, "manual", temp=8)
    rooms = ref.expected_rooms(MON_7AM).rooms
    assert [rooms[r].mode for r in (LIVING, BEDROOM, OFFICE)] == ["hg", "hg", "manual"]


# ------------------------------------------------------------------ schedules

def test_create_rename_delete(ref):
    new = "a" * 24
    assert ref.createnewhomeschedule(MON_7AM, HOME, "Night shift", payload([(0, 0)]),
                                     new) is None
    assert ref.schedules(MON_7AM)[new]["name"] == "Night shift"
    assert ref.selected(MON_7AM) == WEEK
    assert ref.renamehomeschedule(MON_7AM, HOME, new, "Days") is None
    assert ref.schedules(MON_7AM)[new]["name"] == "Days"
    assert ref.deletehomeschedule(MON_7AM, HOME, WEEK) == Refusal(400, 21)
    assert ref.switchhomeschedule(MON_7AM + 1, HOME, new) is None
    assert ref.deletehomeschedule(MON_7AM + 1, HOME, WEEK) is None
    assert set(ref.schedules(MON_7AM + 1)) == {HOLIDAYS, new}
    assert set(ref.schedules(MON_7AM)) == {WEEK, HOLIDAYS, new}
    assert temps(ref, MON_7AM + 1) == [21, 21, 21]


def test_sync_targets_the_selected_schedule_by_default(ref):
    ref.switchhomeschedule(MON_7AM, HOME, HOLIDAYS)
    ref.synchomeschedule(MON_7AM, HOME, None, "Renamed", payload([(1, 0)], hg=5, away=30))
    schedules = ref.schedules(MON_7AM)
    assert schedules[HOLIDAYS]["name"] == "Renamed"
    assert schedules[HOLIDAYS]["timetable"] == [{"zone_id": 1, "m_offset": 0}]
    assert schedules[WEEK]["name"] == "Week" and len(schedules[WEEK]["timetable"]) == 25
    ref.synchomeschedule(MON_7AM, HOME, WEEK, None, payload([(0, 0)]))
    assert ref.schedules(MON_7AM)[WEEK]["name"] == "Week"


# ------------------------------------------------------------------ refusals

BAD = "f" * 24


@pytest.mark.parametrize(("call", "refusal"), [
    (lambda r: r.setthermmode(MON_7AM, None, "away"), Refusal(400, 10, "Missing home_id")),
    (lambda r: r.setthermmode(MON_7AM, BAD, "away"), Refusal(400, 21, "Invalid id")),
    (lambda r: r.setthermmode(MON_7AM, HOME, None), Refusal(400, 10, "mode is missing")),
    (lambda r: r.setthermmode(MON_7AM, HOME, "party"), Refusal(400, 21, "mode not authorized")),
    (lambda r: r.setthermmode(MON_7AM, HOME, "manual"),
     Refusal(400, 21, "mode not authorized")),
    (lambda r: r.setthermmode(MON_7AM, HOME, "away", endtime=MON_7AM), Refusal(400, 21)),
    (lambda r: r.setthermmode(MON_7AM, HOME, "hg", endtime=MON_7AM - 5), Refusal(400, 21)),
    (lambda r: r.setthermmode(MON_7AM, HOME, "schedule", schedule_id=BAD),
     Refusal(400, 21, f"schedule {BAD} is not therm schedule")),
    (lambda r: r.setroomthermpoint(MON_7AM, HOME, "3100000009", "max"),
     Refusal(400, 21, mentions="3100000009")),
    (lambda r: r.setroomthermpoint(MON_7AM, HOME, None, "max"),
     Refusal(400, 10, "Missing room_id")),
    (lambda r: r.setroomthermpoint(MON_7AM, HOME, LIVING, "manual"),
     Refusal(400, 10, "Missing temp")),
    (lambda r: r.setroomthermpoint(MON_7AM, HOME, LIVING, "manual", temp=6.5),
     Refusal(400, 21)),
    (lambda r: r.setroomthermpoint(MON_7AM, HOME, LIVING, "manual", temp=30.5),
     Refusal(400, 21)),
    (lambda r: r.setroomthermpoint(MON_7AM, HOME, LIVING, "manual", temp=20,
                                   endtime=MON_7AM), Refusal(400, 21)),
    (lambda r: r.setroomthermpoint(MON_7AM, HOME, LIVING, "max", endtime=1),
     Refusal(400, 21)),
    (lambda r: r.setroomthermpoint(MON_7AM, HOME, LIVING, "away"),
     Refusal(400, 21, "mode not authorized")),
    (lambda r: r.setroomthermpoint(MON_7AM, BAD, LIVING, "max"),
     Refusal(400, 21, "Invalid id")),
    (lambda r: r.switchhomeschedule(MON_7AM, HOME, BAD), Refusal(400, 21, mentions=BAD)),
    (lambda r: r.deletehomeschedule(MON_7AM, HOME, BAD), Refusal(400, 21, mentions=BAD)),
    (lambda r: r.deletehomeschedule(MON_7AM, HOME, WEEK), Refusal(400, 21)),
    (lambda r: r.renamehomeschedule(MON_7AM, HOME, BAD, "x"), Refusal(400, 21, mentions=BAD)),
    (lambda r: r.synchomeschedule(MON_7AM, HOME, BAD, None, payload([(0, 0)])),
     Refusal(400, 21, mentions=BAD)),
    (lambda r: r.synchomeschedule(MON_7AM, HOME, None, None, payload([(0, 10)])),
     Refusal(400, 21)),
    (lambda r: r.synchomeschedule(MON_7AM, HOME, None, None, payload([(0, 0), (1, 10080)])),
     Refusal(400, 21)),
    (lambda r: r.synchomeschedule(MON_7AM, HOME, None, None,
                                  payload([(0, 0), (1, 500), (0, 400)])), Refusal(400, 21)),
    (lambda r: r.synchomeschedule(MON_7AM, HOME, None, None, payload([(0, 0), (7, 60)])),
     Refusal(400, 21)),
    (lambda r: r.synchomeschedule(MON_7AM, HOME, None, None, payload(
        [(0, 0)], [{"id": 0, "name": "Z", "type": 0, "rooms": [
            {"id": "3100000009", "therm_setpoint_temperature": 20}]}])),
     Refusal(400, 21, mentions="3100000009")),
    (lambda r: r.synchomeschedule(MON_7AM, HOME, None, None,
                                  payload([(0, 0)], [zone(0, living=31)])), Refusal(400, 21)),
    (lambda r: r.synchomeschedule(MON_7AM, HOME, None, None, payload([(0, 0)], hg=4.5)),
     Refusal(400, 21)),
    (lambda r: r.synchomeschedule(MON_7AM, HOME, None, None, payload([(0, 0)], hg=15.5)),
     Refusal(400, 21)),
    (lambda r: r.synchomeschedule(MON_7AM, HOME, None, None, payload([(0, 0)], away=6.5)),
     Refusal(400, 21)),
    (lambda r: r.createnewhomeschedule(MON_7AM, HOME, "n", payload([(0, 5)]), "b" * 24),
     Refusal(400, 21)),
])
def test_refusals_change_nothing(ref, call, refusal: Refusal):
    assert call(ref) == refusal
    assert ref.log == []


def test_limits_are_accepted(ref):
    assert ref.setroomthermpoint(MON_7AM, HOME, LIVING, "manual", temp=7) is None
    assert ref.setroomthermpoint(MON_7AM, HOME, LIVING, "manual", temp=30,
                                 endtime=MON_7AM + 1) is None
    assert ref.synchomeschedule(MON_7AM, HOME, None, None, payload(
        [(0, 0), (1, 10079)], [zone(0, 7, 30), zone(1, 16)], hg=15, away=7)) is None
    assert ref.expected_rooms(MON_7AM + 1).rooms[LIVING] == Room(
        "schedule", 7, utc("2026-11-29T23:00:00"), utc("2026-12-06T22:59:00"))
    assert ref.next_change(MON_7AM + 1) == utc("2026-12-06T22:59:00")
    assert timedelta(seconds=ref.next_change(MON_7AM + 1) - MON_7AM) > timedelta(days=6)
