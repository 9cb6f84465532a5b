"""A Netatmo world's schedule timetables (issue 11): their form is checked once per
distinct timetable (homes share a few, emulator/netatmo/world.py ``_timetable``), their
zones for each schedule; a world that shares a timetable between schedules is refused
with the same message, naming the same slot, whatever was checked before it."""

from __future__ import annotations

import copy

import pytest

from emulator.core import world as core_world
from emulator.netatmo import VENDOR

ROOMS = ["3100000101", "3100000102"]
WEEK = [{"zone_id": 0, "m_offset": 0}, {"zone_id": 1, "m_offset": 420},
        {"zone_id": 0, "m_offset": 1380}, {"zone_id": 2, "m_offset": 1860}]


def schedule(index: int, zones: int, timetable: list) -> dict:
    return {"id": f"5e5c7a1b2d3e4f50617280{index:02x}", "name": f"S{index}", "type": "therm",
            "zones": [{"id": z, "name": f"Z{z}", "type": z,
                       "rooms": [{"id": r, "therm_setpoint_temperature": 19 + z}
                                 for r in ROOMS]} for z in range(zones)],
            "timetable": copy.deepcopy(timetable)}


def build(*schedules: dict) -> list:
    home = {"id": "5e5c7a1b2d3e4f5061728a01", "name": "Home",
            "rooms": [{"id": r, "name": r} for r in ROOMS],
            "schedules": list(schedules)}
    section = {"users": [{"email": "a@netatmo.test", "password": "x", "homes": [home]}]}
    return core_world.build({"netatmo": section}, {"netatmo": VENDOR}, 0)


def timetables(rows: list) -> list:
    home = next(doc for kind, _, doc in rows if kind.endswith("home"))
    return [s["timetable"] for s in home["schedules"]]


@pytest.mark.parametrize("first_ok", [True, False])
def test_a_shared_timetable_is_checked_against_each_schedules_zones(first_ok):
    good, bad = schedule(1, 3, WEEK), schedule(2, 2, WEEK)     # bad has no zone 2
    order = (good, bad) if first_ok else (bad, good)
    with pytest.raises(core_world.WorldError,
                       match=rf"schedules\[{order.index(bad)}\]\.timetable\[3\]\.zone_id 2 "
                             "is no zone of this schedule"):
        build(*order)
    assert timetables(build(good, schedule(3, 3, WEEK))) == [WEEK, WEEK]


def test_a_timetable_out_of_order_is_named_by_its_slot_each_time():
    late = copy.deepcopy(WEEK)
    late[3]["m_offset"] = 1000
    build(schedule(1, 3, WEEK))                         # the good form met first
    for _ in range(2):                                  # and the bad one met before
        with pytest.raises(core_world.WorldError,
                           match=r"timetable\[3\]\.m_offset 1000 must come after 1380"):
            build(schedule(1, 3, late))


def test_a_timetable_of_another_form_still_builds_the_same_slots():
    floats = [{"m_offset": 0, "zone_id": 0}, {"zone_id": 1, "m_offset": 420}]
    with pytest.raises(core_world.WorldError, match=r"timetable\[1\]\.zone_id 1 is no zone"):
        build(schedule(1, 1, floats))
    assert timetables(build(schedule(1, 2, floats))) == [
        [{"zone_id": 0, "m_offset": 0}, {"zone_id": 1, "m_offset": 420}]]
