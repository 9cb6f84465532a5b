"""Netatmo Energy: thermostats, valves and schedules on the virtual clock.

FIRST CUT (the wiring, end to end): ``home_status`` answers from the stored home, the
rooms' set points from the selected therm schedule (or the home's mode) at the clock's
now, every module reachable unless the world says otherwise; no physics yet (a room
measures its set point). The writes answer 501 until they are written. ``routes.py``
(see its docstring) fixes the interface: the signatures below, called with typed,
already-checked values; each raises ``MockcloudError`` for what the cloud refuses
("Invalid id" for a home that is not the caller's comes from ``models.home``).

State goes in the home document's ``state`` mapping (plain JSON, world-exported), e.g.
an event log of mode / set-point / schedule changes with their virtual times; topology
edits (a schedule synced, renamed, created, deleted, selected) may rewrite the home's
``schedules`` too. ``current_home`` gives homesdata the home as it is at ``now``.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from ..core.context import Ctx
from ..core.errors import MockcloudError
from . import models

WEEK = 7 * 24 * 60
THERM_DEVICES = frozenset({"NATherm1", "NRV", "OTM", "BNS"})
# what homestatus shows per module type before physics (sample home_status_simple.json)
MODULE_STATUS: dict[str, dict[str, Any]] = {
    "NAPlug": {"firmware_revision": 174, "rf_strength": 107, "wifi_strength": 42},
    "NATherm1": {"firmware_revision": 65, "rf_strength": 58, "battery_level": 3780,
                 "boiler_valve_comfort_boost": False, "boiler_status": False,
                 "anticipating": False, "battery_state": "high"},
    "NRV": {"firmware_revision": 79, "rf_strength": 51, "battery_level": 3025,
            "battery_state": "full"},
}


def not_yet(what: str) -> MockcloudError:
    return MockcloudError("not_implemented", f"{what} is not emulated yet.", status=501)


# ------------------------------------------------------------------------ reads

def current_home(ctx: Ctx, home: dict[str, Any], now: float) -> dict[str, Any]:
    """The home document as it is at ``now`` (therm_mode, schedules' ``selected``)."""
    return home


def week_minute(home: dict[str, Any], now: float) -> tuple[int, datetime]:
    """(minutes since Monday 00:00 local time, that Monday 00:00 as a local datetime)."""
    local = datetime.fromtimestamp(now, ZoneInfo(home["timezone"]))
    minute = local.weekday() * 1440 + local.hour * 60 + local.minute
    monday = (local - timedelta(days=local.weekday())).replace(
        hour=0, minute=0, second=0, microsecond=0)
    return minute, monday


def at_offset(monday: datetime, m_offset: int) -> int:
    """The epoch of a timetable offset (local wall-clock time, so DST weeks are right)."""
    return int((monday + timedelta(minutes=m_offset)).timestamp())


def selected_schedule(home: dict[str, Any], kind: str = "therm") -> dict[str, Any] | None:
    return next((s for s in home["schedules"] if s["type"] == kind and s.get("selected")),
                None)


def schedule_slot(schedule: dict[str, Any], minute: int) -> tuple[int, int, int]:
    """(zone id, slot start minute, next boundary minute) for a minute of the week."""
    table = schedule["timetable"]
    index = max(i for i, slot in enumerate(table) if slot["m_offset"] <= minute)
    end = table[index + 1]["m_offset"] if index + 1 < len(table) else WEEK
    return table[index]["zone_id"], table[index]["m_offset"], end


def home_status(ctx: Ctx, user_id: str, home_id: str,
                device_types: list[str] | None) -> dict[str, Any]:
    """homestatus body: ``{"home": {"id", "modules", "rooms"}, "errors"?}``."""
    home = current_home(ctx, models.home(ctx, user_id, home_id), ctx.now())
    now = ctx.now()
    modules, errors = [], []
    for mod in models.keep_modules(home["modules"], device_types):
        if mod.get("reachable", True) is False:
            errors.append({"code": 6, "id": mod["id"]})
            continue
        out = {"id": mod["id"], "type": mod["type"], "reachable": True,
               **MODULE_STATUS.get(mod["type"], {})}
        if "firmware_revision" in mod:
            out["firmware_revision"] = mod["firmware_revision"]
        if "bridge" in mod:
            out["bridge"] = mod["bridge"]
        modules.append(out)
    heated = {m["room_id"] for m in home["modules"]
              if m["type"] in THERM_DEVICES and "room_id" in m}
    rooms = [_room_status(home, room["id"], now) for room in home["rooms"]
             if room["id"] in heated]
    body: dict[str, Any] = {"home": {"id": home["id"], "modules": modules, "rooms": rooms}}
    if errors:
        body["errors"] = errors
    return body


def _room_status(home: dict[str, Any], room_id: str, now: float) -> dict[str, Any]:
    mode, start, end = home["therm_mode"], 0, 0
    schedule = selected_schedule(home)
    if mode == "off":
        temp: float = 0
    elif mode in ("away", "hg") or schedule is None:
        mode = mode if mode in ("away", "hg") else "hg"
        temp = schedule[f"{mode}_temp"] if schedule else 7
    else:
        minute, monday = week_minute(home, now)
        zone_id, begin, stop = schedule_slot(schedule, minute)
        zone = next(z for z in schedule["zones"] if z["id"] == zone_id)
        temp = next((r["therm_setpoint_temperature"] for r in zone["rooms"]
                     if r["id"] == room_id), schedule["hg_temp"])
        mode, start, end = "schedule", at_offset(monday, begin), at_offset(monday, stop)
    return {"id": room_id, "reachable": True, "therm_measured_temperature": temp,
            "heating_power_request": 0, "therm_setpoint_temperature": temp,
            "therm_setpoint_mode": mode, "therm_setpoint_start_time": start,
            "therm_setpoint_end_time": end, "anticipating": False, "open_window": False}


def room_measure(ctx: Ctx, user_id: str, home_id: str, room_id: str, scale: str,
                 types: list[str], date_begin: int | None, date_end: int | None,
                 limit: int | None, optimize: bool, real_time: bool) -> Any:
    raise not_yet("getroommeasure")


def energy_measure(ctx: Ctx, user_id: str, device_id: str, module_id: str | None,
                   scale: str, types: list[str], date_begin: int | None,
                   date_end: int | None, limit: int | None, optimize: bool,
                   real_time: bool) -> Any:
    """getmeasure for a device that is no weather station or home coach (a relay)."""
    raise not_yet("getmeasure for energy devices")


def thermostats_data(ctx: Ctx, user_id: str, device_id: str | None) -> dict[str, Any]:
    raise not_yet("getthermostatsdata")


# ------------------------------------------------------------------------ writes

def set_therm_mode(ctx: Ctx, user_id: str, home_id: str, mode: str, endtime: int | None,
                   schedule_id: str | None) -> None:
    raise not_yet("setthermmode")


def set_room_therm_point(ctx: Ctx, user_id: str, home_id: str, room_id: str, mode: str,
                         temp: float | None, endtime: int | None) -> None:
    raise not_yet("setroomthermpoint")


def switch_home_schedule(ctx: Ctx, user_id: str, home_id: str, schedule_id: str) -> None:
    raise not_yet("switchhomeschedule")


def sync_home_schedule(ctx: Ctx, user_id: str, home_id: str, schedule_id: str | None,
                       name: str | None, payload: dict[str, Any]) -> None:
    raise not_yet("synchomeschedule")


def create_home_schedule(ctx: Ctx, user_id: str, home_id: str, name: str,
                         payload: dict[str, Any]) -> str:
    raise not_yet("createnewhomeschedule")


def delete_home_schedule(ctx: Ctx, user_id: str, home_id: str, schedule_id: str) -> None:
    raise not_yet("deletehomeschedule")


def rename_home_schedule(ctx: Ctx, user_id: str, home_id: str, schedule_id: str,
                         name: str) -> None:
    raise not_yet("renamehomeschedule")


def set_state(ctx: Ctx, user_id: str, payload: dict[str, Any]) -> dict[str, Any] | None:
    raise not_yet("setstate")
