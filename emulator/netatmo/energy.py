"""Netatmo Energy: thermostats, valves and schedules on the virtual clock.

``routes.py`` (its docstring) fixes the interface: the functions below, called with
typed, already-checked values; each raises ``MockcloudError`` for what the cloud
refuses. The state is an event log on the home document (``energy_state``: format,
sealed history chunks; ``with_history`` reads them); the rooms' temperatures, heating
and batteries come from the physics (``energy_physics``: the model, its cost); the
admin API's device overrides (offline, battery, open window) are laid on per module
(``devices``).

THE SPEC (from the lead: the emulator and the reference model both follow it)

## Netatmo energy semantics (the one spec both the emulator and the reference model
follow)

Time: epoch seconds of the tenant's virtual clock. "Local" = the home's `timezone`
(IANA, DST-aware via zoneinfo).
Everything is computed from the clock when read (no background thread); a read at t uses
only changes made at or before t.

Home mode (`therm_mode` in homesdata; homestatus carries none, as in the samples; set
by `setthermmode home_id mode [endtime] [schedule_id]`):
- `schedule` (optional `schedule_id`: also selects that schedule, as switchhomeschedule
  does; it must be a therm schedule of the home else 400/21 "schedule <id> is not therm
  schedule"): clears away/hg/off and every room override.
- `away` and `hg` (frost guard), optional `endtime` (> now, else 400/21): every room
  shows `therm_setpoint_mode` = "away" / "hg", temperature = the selected schedule's
  `away_temp` / `hg_temp`; the change clears room overrides. When the clock reaches
  `endtime` the home returns to `schedule` by itself. `therm_setpoint_start_time` = the
  instant the mode was set, `therm_setpoint_end_time` = endtime, or 0 when none.
- `off`: rooms show mode "off", `therm_setpoint_temperature` 7 (INFERRED; physics: no
  heating). Clears room overrides.
- `endtime` is ignored for `schedule` and `off` (INFERRED, lenient). Missing mode →
  400/10 "mode is missing". Unknown mode → 400/21 "mode not authorized".

Room override (`setroomthermpoint home_id room_id mode [temp] [endtime]`):
- `manual`: needs `temp` (400/10 "Missing temp" when absent), 7 ≤ temp ≤ 30 (else
  400/21); end = `endtime` if given (must be > now, else 400/21) else now + the home's
  `therm_setpoint_default_duration` MINUTES × 60 (the real samples carry 120 and 180,
  i.e. minutes; default 180). Room shows mode "manual", temp, start = now, end.
- `max`: temp 30, same end rule. Room shows mode "max".
- `home`: drops the room's override (back to what the home mode says). pyatmo sends
  `home` for "schedule".
- `hg`/`away`/`off` for a room (some clients send them): 400/21 "mode not authorized"
  (INFERRED).
- A room override is allowed in any home mode and wins over it until its end; at its end
  the room follows the home mode at that instant.
- A later home-mode change (setthermmode) clears all room overrides; a later
  switchhomeschedule does not.
- Unknown or foreign home_id → 400/21 "Invalid id" (real sample
  archive__home_status_error_invalid_id.json; pyatmo raises InvalidHomeError on it);
  unknown room_id or schedule_id → 400/21 with a message naming it. Missing home_id →
  400/10 "Missing home_id".

Schedule mode, per room, at instant t:
- The selected therm schedule's `timetable` is a list of {zone_id, m_offset} sorted by
  m_offset, first m_offset 0, m_offset = minutes since Monday 00:00 LOCAL (0 ≤ m_offset
  < 10080). The entry in force at t is the last one with m_offset ≤
  minutes-since-local-Monday(t); it wraps weekly.
- The room's temperature is the zone's `rooms[].therm_setpoint_temperature` for that
  room; a room absent from the zone gets the schedule's `hg_temp` (INFERRED).
- Room shows mode "schedule"; `therm_setpoint_start_time` = the instant the entry in
  force began (the most recent boundary, which may be last week's),
  `therm_setpoint_end_time` = the next boundary instant (next entry's m_offset, wrapping
  to the first entry of the next week). When two consecutive entries have the same zone
  the boundary still counts (INFERRED: simplest).
- DST: boundaries are local wall-clock instants; a boundary in a skipped hour happens at
  the first valid instant after it; in a repeated hour, at its first occurrence
  (zoneinfo fold=0).

Schedules' writes:
- `switchhomeschedule home_id schedule_id`: selects it (must exist, be a therm schedule:
  else 400/21); homesdata shows `selected: true` on it and no `selected` key on the
  others. Room overrides stay; home mode stays.
- `synchomeschedule home_id [schedule_id] [name] zones timetable hg_temp away_temp`
  (JSON body or form with JSON strings): replaces that schedule's (default: the selected
  one) zones, timetable, hg/away temps (and name if given). Validation (400/21 with a
  clear message): zones exist for every timetable zone_id, every zone room is a room of
  the home, timetable sorted by m_offset, starting at 0, offsets in [0, 10080),
  temperatures 7–30, hg_temp 5–15? → use: hg_temp in [5, 15], away_temp in [7, 30]
  (INFERRED).
- `createnewhomeschedule home_id name zones timetable hg_temp away_temp`: same
  validation, new 24-hex id, not selected; answers
  `{"status":"ok","time_server":..,"body":{"schedule_id": id}}` and ALSO `schedule_id`
  at top level (the notes' CONFLICT: both, INFERRED).
- `deletehomeschedule home_id schedule_id`: refused 400/21 for the selected schedule;
  else removed.
- `renamehomeschedule home_id schedule_id name`: renames.
Reading after a write at t: the change applies from t on (a read at t sees it).

## Decisions the spec leaves open (INFERRED here)

- Temperatures (setroomthermpoint/setstate ``temp``, synced schedules' zone, hg and
  away temperatures) are rounded to the nearest 0.5 degree before use (the contract's
  set points are multiples of 0.5; thermostats step by 0.5).
- ``setthermmode``: the checks run in this order: mode, schedule_id, endtime.
  ``schedule_id`` with a mode other than ``schedule`` is ignored. ``off`` shows
  ``therm_setpoint_start_time`` = the instant it was set (0 for the world's initial
  mode), end 0. The world's initial away/hg have start 0 and no end.
- ``endtime`` (setthermmode, setroomthermpoint, setstate's
  ``therm_setpoint_end_time``): a finite number of epoch seconds after now and at
  most 9999-12-31T23:59:59Z (``world.MAX_EPOCH``), else 400/21; a fraction is cut.
- ``setroomthermpoint``: any mode other than manual, max, home (including unknown
  strings) is "mode not authorized"; ``endtime`` and ``temp`` are ignored for ``home``
  and ``temp`` for ``max``. Any room of the home may take an override (homestatus lists
  the rooms that have a thermostat or valve).
- A schedule mode with no therm schedule selected: rooms at 7 (hg), start/end 0;
  away/hg with none: 12/7.
- ``synchomeschedule``/``createnewhomeschedule``: world.check_schedule's checks
  (strictly increasing m_offsets, unknown keys refused) plus the spec's ranges; the
  schedule keeps its id, type and selection; a sync does not clear room overrides.
  Unknown schedule ids: 400/21 "Invalid schedule_id: ..."; a known schedule of another
  type for switch/setthermmode: "schedule <id> is not therm schedule".
  Names (create, sync, rename) at most ``MAX_NAME`` (256) characters, any Unicode.
  A created schedule's id is ``hex_id("created-schedule", home, n)``, n the home's
  count of schedules ever created (``state.schedules_created``), skipping ids any
  home of the tenant names: never an id a deleted schedule had.
- ``setstate`` rooms: ``therm_`` or ``cooling_`` keys (pyatmo's prefix in a cooling
  home), handled as setroomthermpoint (a temperature without a mode is manual; neither
  is 400/10); all rooms are checked before any is applied; any module entry is 400/21
  "cannot set property ..." (lights and cameras come later).
- homestatus: a module is unreachable when the admin API takes it offline (or the
  world says ``reachable: false``) or its bridge is. One offline by itself whose
  bridge is reachable (a radio module: a valve, a door tag, a Legrand switch ...) is
  listed with ``reachable: false``, its ``bridge``, ``firmware_revision`` and
  ``last_seen`` (the instant it went offline; 0 when it never was online) and nothing
  it would measure (SEEN: homestatus_91763b24c43d3e344f424e8b's door tag and NLT; a
  door tag also ``status`` "no_news" and ``last_activity``); one with no bridge (a
  relay, gateway, camera ...: a Wi-Fi device) is left out and listed in
  ``body.errors`` as ``{"code": 6, "id"}`` (SEEN: home_status_error_disconnected,
  archive__home_status_error_and_data); the modules behind an unreachable bridge are
  only omitted (INFERRED: nothing reports them). A room shows when one of its
  thermostats/valves is reachable (the sample home_status_error_disconnected: the
  relay down, a home with its id only);
  ``modules``/``rooms`` are left out when empty. ``boiler_status``: any room heats.
  The physics goes on while a module is offline. NAPlug modules have no
  ``reachable`` key (as in the samples).
- Outdoor temperature: ``physics.weather`` at the home's coordinates, unadjusted
  (weather overrides made on a station move that station's readings only).
- getroommeasure: ``max`` is 30min; a bucket is the mean (min, max, their instants)
  of readings at its start and evenly through it: 1 per 30min, 2 per hour, 6 per 3
  hours, 48 per day, week and month, fewer when the answer would read more than
  ``SAMPLE_BUDGET`` instants; readings after now are not taken. 30min and 1hour
  buckets are aligned on UTC, longer ones on the home's local calendar (weeks from
  Monday). Stamps: the bucket's start with ``real_time=true``, its middle otherwise.
  So a 30min bucket's ``temperature`` stamped t (real_time) is homestatus's
  ``therm_measured_temperature`` at t, its ``sp_temperature`` the set point then.
  Nothing before the setup date (as the stations' getmeasure): the room's first
  thermostat or valve's ``setup_date`` (the home's first module's for a room with
  none); the first bucket is the one holding it, read from it on. Without
  ``date_begin``: ``limit`` buckets back from the end, then that floor; a
  ``date_begin`` after the end (or before the setup with an end before it too):
  an empty answer.
- energy getmeasure (``device_id`` a module of a home; ``module_id`` optional):
  ``boileron``/``sum_boiler_on`` are the seconds the boiler was on in the bucket,
  ``boileroff``/``sum_boiler_off`` the seconds off, read every 10 minutes (at most 48
  readings a bucket); the room types too, for a thermostat or valve's room. From
  the measured module's ``setup_date`` on, as getroommeasure. A light, dimmer or
  plug: its energy (``sum_energy_buy_from_grid``/``sum_energy_elec`` and their tariff
  columns) and ``power`` instead, as ``plug_measure`` says.
- getthermostatsdata: one device per NAPlug that bridges a NATherm1; ``place.location``
  [longitude, latitude] as the contract says (the archived sample has them the other
  way round); ``setpoint_mode`` ``program`` for schedule.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from ..core import lookup
from ..core.context import Ctx
from ..core.devices import Overrides, state_at
from ..core.errors import MockcloudError
from . import energy_physics as ep
from . import energy_state as es
from . import home_devices, models, module_status, plug_measure
from .world import (
    ACCOUNT,
    HOME,
    MAX_EPOCH,
    SCHEDULE_HOMES,
    check_schedule,
    hex_id,
    is_hex24,
    named_ids,
)

VENDOR = "netatmo"
THERM_DEVICES = frozenset({"NATherm1", "NRV", "OTM", "BNS"})
HOME_MODES = ("schedule", "away", "hg", "off")
ROOM_MODES = ("manual", "max", "home")
TEMP_RANGE = (7.0, 30.0)
NUMBER = (int, float)
HG_RANGE, AWAY_RANGE = (5.0, 15.0), (7.0, 30.0)
MAX_TEMP = 30
MAX_NAME = 256           # characters in a schedule's name (INFERRED)
SAMPLE_BUDGET = 4096
BOILER_STEP = 600
PER_BUCKET = {"30min": 1, "1hour": 2, "3hours": 6, "1day": 48, "1week": 48, "1month": 48}
ROOM_TYPES = ("temperature", "sp_temperature", "min_temp", "max_temp", "date_min_temp",
              "date_max_temp")
BOILER_TYPES = ("boileron", "boileroff", "sum_boiler_on", "sum_boiler_off")
# what homestatus shows per module type besides the physics (samples' values)
FIRMWARE = {"NAPlug": 174, "NATherm1": 65, "NRV": 79}
RF_BASE = {"NAPlug": 107, "NATherm1": 58, "NRV": 55}
WIFI = 42


def invalid(message: str) -> MockcloudError:
    return MockcloudError("invalid_argument", message)


# ------------------------------------------------------------------------ the live home

class Live:
    """One home at one request: its overrides (read once) and the helpers over them."""

    def __init__(self, ctx: Ctx, home: dict[str, Any]) -> None:
        self.home, self.seed = home, models.world_seed(ctx)
        ov = Overrides(ctx.store, ctx.tenant, VENDOR)
        self.docs = {m["id"]: d for m in home["modules"] if (d := ov.doc(m["id"]))}
        self.by_id = {m["id"]: m for m in home["modules"]}

    def overrides(self, module_id: str, t: float) -> dict[str, Any]:
        return state_at(self.docs.get(module_id), t)

    def online(self, module_id: str, t: float) -> bool:
        """The module's own reachability (its override, else the world's)."""
        state = self.overrides(module_id, t)
        if "online" in state:
            return bool(state["online"])
        return self.by_id[module_id].get("reachable", True)

    def reachable(self, module_id: str, t: float) -> bool:
        mod = self.by_id[module_id]
        if not self.online(module_id, t):
            return False
        bridge = mod.get("bridge")
        return bridge is None or bridge not in self.by_id or self.online(bridge, t)

    def offline_since(self, module_id: str, t: float) -> int:
        """When the module, offline at ``t``, went offline: the instant of the override
        that took it offline; 0 when it never was online (the world's ``reachable:
        false``, as the sample's NLT shows ``last_seen`` 0)."""
        doc = self.docs.get(module_id) or {}
        ats = sorted({e["at"] for e in doc.get("events", []) if e["at"] <= t})
        prev = bool(self.by_id[module_id].get("reachable", True))
        since: float = 0 if not prev else (ats[0] if ats else 0)
        for at in ats:
            cur = self.online(module_id, at)
            if prev and not cur:
                since = at
            prev = cur
        return int(since)

    def therm_modules(self, room_id: str) -> list[str]:
        return [m["id"] for m in self.home["modules"]
                if m.get("room_id") == room_id and m["type"] in THERM_DEVICES]

    def heated_rooms(self) -> list[str]:
        rooms = {m["room_id"] for m in self.home["modules"]
                 if m["type"] in THERM_DEVICES and "room_id" in m}
        return [r["id"] for r in self.home["rooms"] if r["id"] in rooms]

    def windows(self, room_id: str) -> ep.Windows:
        docs = [self.docs[m] for m in self.therm_modules(room_id) if m in self.docs]

        def timeline(a: float, b: float) -> tuple[bool, list[tuple[float, bool]]]:
            def open_at(t: float) -> bool:
                return any(state_at(d, t).get("window_open", False) for d in docs)
            if not docs:
                return False, []
            first = cur = open_at(a)
            changes = []
            for x in sorted({e["at"] for d in docs for e in d["events"] if a < e["at"] <= b}):
                v = open_at(x)
                if v != cur:
                    changes.append((x, v))
                    cur = v
            return first, changes
        return timeline

    def samples(self, room_id: str, times: list[float]) -> list[ep.Sample]:
        return ep.samples(self.home, room_id, times, self.seed, self.windows(room_id))


def current_home(ctx: Ctx, home: dict[str, Any], now: float) -> dict[str, Any]:
    """The home document as it is at ``now`` (therm_mode, schedules and selection)."""
    state = es.state_at(with_history(ctx, home, now), now)
    mode, _, _ = es.effective_mode(state, now)
    return {**home, "therm_mode": mode, "schedules": state.schedules}


# ------------------------------------------------------------------------ homestatus

def home_status(ctx: Ctx, user_id: str, home_id: str,
                device_types: list[str] | None) -> dict[str, Any]:
    """homestatus body: ``{"home": {"id", "modules"?, "rooms"?}, "errors"?}``."""
    now = ctx.now()
    home = with_history(ctx, models.home(ctx, user_id, home_id), ep.anchor(now))
    live = Live(ctx, home)
    state = es.state_at(home, now)
    kept = models.keep_modules(home["modules"], device_types)
    reach = {m["id"]: live.reachable(m["id"], now) for m in home["modules"]}
    rooms_out, heating, antic = [], False, {}
    kept_ids = {m["id"] for m in kept}
    for room_id in live.heated_rooms():
        [s] = live.samples(room_id, [now])
        heating = heating or s.power > 0
        antic[room_id] = ep.anticipating(home, room_id, state, s)
        mods = live.therm_modules(room_id)
        if not any(reach[m] and m in kept_ids for m in mods):
            continue
        rooms_out.append(_room_out(room_id, s, antic[room_id]))
    modules, errors, offline = [], [], {}
    for mod in kept:
        if not reach[mod["id"]]:
            bridge = mod.get("bridge")
            if bridge in live.by_id:      # a radio module
                if reach[bridge]:         # offline by itself: listed unreachable
                    offline[mod["id"]] = _offline_out(ctx, live, mod, now)
            else:                         # offline (a module behind it is not reported)
                errors.append({"code": 6, "id": mod["id"]})
            continue
        modules.append(_module_out(live, mod, now, heating, antic))
    out: dict[str, Any] = {"id": home["id"]}
    if modules:
        out["modules"] = modules
    if rooms_out:
        out["rooms"] = rooms_out
    # other module types' fields (weather, OpenTherm, Smarther), rooms' humidity
    module_status.complete(ctx, home, live, now, heating, out, device_types)
    if offline:                           # in the home's order, among the others
        order = {m["id"]: i for i, m in enumerate(kept)}
        out["modules"] = sorted([*out.get("modules", []), *offline.values()],
                                key=lambda m: order[m["id"]])
    body: dict[str, Any] = {"home": out}
    if errors:
        body["errors"] = errors
    return body


def _room_out(room_id: str, s: ep.Sample, anticipating: bool) -> dict[str, Any]:
    v = s.view
    return {"id": room_id, "reachable": True,
            "therm_measured_temperature": round(s.temperature, 1),
            "heating_power_request": s.power,
            "therm_setpoint_temperature": v.temp, "therm_setpoint_mode": v.mode,
            "therm_setpoint_start_time": v.start, "therm_setpoint_end_time": v.end,
            "anticipating": anticipating, "open_window": s.window}


def _offline_out(ctx: Ctx, live: Live, mod: dict[str, Any], now: float
                 ) -> dict[str, Any]:
    """A module offline by itself behind a reachable bridge, as homestatus lists it (a
    door tag also its last activity, as when it is online)."""
    kind, mid = mod["type"], mod["id"]
    spec = home_devices.SPECS.get(kind)
    firmware = mod.get("firmware_revision", FIRMWARE.get(kind)
                       or module_status.FIRMWARE.get(kind) or (spec and spec.firmware))
    out: dict[str, Any] = {"id": mid, "type": kind, "reachable": False,
                           "bridge": mod["bridge"]}
    if firmware:
        out["firmware_revision"] = firmware
    out["last_seen"] = live.offline_since(mid, now)
    if kind == "NACamDoorTag":
        last = module_status.tag_events(ctx.store, ctx.tenant, live.seed, live.home,
                                        now).get(mid)
        out.update(status="no_news", last_activity=int(
            last["time"] if last else mod.get("setup_date", 0)))
    return out


def _module_out(live: Live, mod: dict[str, Any], now: float, heating: bool,
                antic: dict[str, bool]) -> dict[str, Any]:
    kind, mid = mod["type"], mod["id"]
    firmware = mod.get("firmware_revision", FIRMWARE.get(kind))
    if kind == "NAPlug":
        return {"id": mid, "type": kind, "firmware_revision": firmware,
                "rf_strength": ep.rf_strength(live.seed, mid, RF_BASE[kind]),
                "wifi_strength": ep.rf_strength(live.seed, mid + "w", WIFI)}
    out: dict[str, Any] = {"id": mid, "reachable": True, "type": kind}
    if firmware is not None:
        out["firmware_revision"] = firmware
    if kind in ("NATherm1", "NRV"):
        out["rf_strength"] = ep.rf_strength(live.seed, mid, RF_BASE[kind])
        bat = ep.module_battery(mod, now, live.seed,
                                live.overrides(mid, now).get("battery_percent"))
        out["battery_level"] = bat.vp
        if kind == "NATherm1":
            out.update(boiler_valve_comfort_boost=False, boiler_status=heating,
                       anticipating=antic.get(mod.get("room_id", ""), False))
        if "bridge" in mod:
            out["bridge"] = mod["bridge"]
        out["battery_state"] = bat.state
    elif "bridge" in mod:
        out["bridge"] = mod["bridge"]
    return out


# ------------------------------------------------------------------------ measures

def _zone(home: dict[str, Any]) -> ZoneInfo:
    return ZoneInfo(home["timezone"])


def _floor(scale: str, tz: ZoneInfo, t: float) -> int:
    if scale in ("30min", "1hour"):
        step = 1800 if scale == "30min" else 3600
        return int(t // step * step)
    local = datetime.fromtimestamp(t, tz)
    day = local.replace(hour=0, minute=0, second=0, microsecond=0, tzinfo=None)
    if scale == "3hours":
        wall = day + timedelta(hours=local.hour // 3 * 3)
    elif scale == "1day":
        wall = day
    elif scale == "1week":
        wall = day - timedelta(days=local.weekday())
    else:
        wall = day.replace(day=1)
    return es._wall_epoch(wall, tz)


def _next(scale: str, tz: ZoneInfo, start: int) -> int:
    if scale in ("30min", "1hour"):
        return start + (1800 if scale == "30min" else 3600)
    local = datetime.fromtimestamp(start, tz).replace(tzinfo=None)
    if scale == "3hours":
        wall = local + timedelta(hours=3)
    elif scale == "1day":
        wall = local + timedelta(days=1)
    elif scale == "1week":
        wall = local + timedelta(days=7)
    else:
        wall = (local.replace(day=28) + timedelta(days=4)).replace(day=1)
    nxt = es._wall_epoch(wall, tz)
    return nxt if nxt > start else start + 3600


def _buckets(home: dict[str, Any], scale: str, date_begin: int | None,
             date_end: int | None, limit: int | None, now: float, since: int
             ) -> list[tuple[int, int]]:
    """The buckets from ``date_begin`` (default: ``limit`` buckets before the end)
    to ``date_end`` (at most now), never starting before ``since`` (the setup date of
    what is measured: as the stations' getmeasure, nothing is answered before it)."""
    tz = _zone(home)
    limit = limit or 1024
    end = min(date_end if date_end is not None else now, now)
    if date_begin is None:
        nominal = {"30min": 1800, "1hour": 3600, "3hours": 10800, "1day": 86400,
                   "1week": 7 * 86400, "1month": 31 * 86400}[scale]
        date_begin = int(end - (limit - 1) * nominal)
    date_begin = max(date_begin, since)
    out: list[tuple[int, int]] = []
    if date_begin > end:          # nothing to answer (and no calendar past year 9999)
        return out
    start = _floor(scale, tz, date_begin)
    while start <= end and len(out) < limit:
        stop = _next(scale, tz, start)
        out.append((start, stop))
        start = stop
    return out


def _instants(buckets: list[tuple[int, int]], per: int, now: float, since: int = 0
              ) -> list[list[int]]:
    """Each bucket's reading instants: ``per`` evenly from its start, none after now
    nor before ``since`` (a bucket holding ``since`` reads from it on)."""
    per = max(1, min(per, SAMPLE_BUDGET // max(1, len(buckets))))
    return [[t for i in range(per) if since <= (t := a + (i * (b - a)) // per) <= now]
            or [max(a, since)] for a, b in buckets]


def _scale(scale: str) -> str:
    return "30min" if scale == "max" else scale


def _room_columns(live: Live, room_id: str, names: list[str],
                  per_bucket: list[list[int]]) -> dict[str, list[Any]]:
    flat = sorted({t for ts in per_bucket for t in ts})
    by_t = {s.t: s for s in live.samples(room_id, flat)} if flat else {}
    cols: dict[str, list[Any]] = {n: [] for n in names}
    for ts in per_bucket:
        got = [by_t[t] for t in ts]
        temps = [s.temperature for s in got]
        lo = min(range(len(got)), key=lambda i: (temps[i], i))
        hi = min(range(len(got)), key=lambda i: (-temps[i], i))
        values = {"temperature": round(sum(temps) / len(temps), 1),
                  "sp_temperature": round(sum(s.view.temp for s in got) / len(got), 1),
                  "min_temp": round(temps[lo], 1), "max_temp": round(temps[hi], 1),
                  "date_min_temp": int(got[lo].t), "date_max_temp": int(got[hi].t)}
        for n in names:
            cols[n].append(values[n])
    return cols


def _boiler_columns(live: Live, names: list[str], buckets: list[tuple[int, int]],
                    now: float, since: int) -> dict[str, list[Any]]:
    per = max(1, min(48, (buckets[0][1] - buckets[0][0]) // BOILER_STEP)) if buckets else 1
    per_bucket = _instants(buckets, per, now, since)
    flat = sorted({t for ts in per_bucket for t in ts})
    on_at: set[float] = set()
    for room_id in live.heated_rooms():
        on_at.update(s.t for s in live.samples(room_id, flat) if s.power > 0)
    cols: dict[str, list[Any]] = {n: [] for n in names}
    for (a, b), ts in zip(buckets, per_bucket, strict=True):
        k = max(1, min(per, SAMPLE_BUDGET // max(1, len(buckets))))
        weight = (b - a) / k
        on = int(round(sum(weight for t in ts if t in on_at)))
        total = int(round(weight * len(ts)))
        for n in names:
            cols[n].append(on if n in ("boileron", "sum_boiler_on") else total - on)
    return cols


def _types(types: list[str], allowed: tuple[str, ...]) -> list[str]:
    names = [str(t).strip().lower() for t in types]
    bad = [t for t in names if t not in allowed]
    if bad:
        raise invalid(f"Invalid type: {', '.join(bad)} (known: {', '.join(allowed)})")
    return names


def _shape(buckets: list[tuple[int, int]], cols: dict[str, list[Any]], names: list[str],
           optimize: bool, real_time: bool) -> Any:
    stamps = [a if real_time else a + (b - a) // 2 for a, b in buckets]
    rows = [[cols[n][i] for n in names] for i in range(len(buckets))]
    if not optimize:
        return {str(t): row for t, row in zip(stamps, rows, strict=True)}
    runs: list[dict[str, Any]] = []
    for i, (t, row) in enumerate(zip(stamps, rows, strict=True)):
        if runs and i >= 1:
            run = runs[-1]
            step = t - stamps[i - 1]
            if len(run["value"]) == 1 or step == run["step_time"]:
                if len(run["value"]) == 1:
                    run["step_time"] = step
                run["value"].append(row)
                continue
        runs.append({"beg_time": t, "step_time": 0, "value": [row]})
    for run in runs:
        if len(run["value"]) == 1:
            run["step_time"] = int(buckets[0][1] - buckets[0][0]) if buckets else 0
    return runs


def room_measure(ctx: Ctx, user_id: str, home_id: str, room_id: str, scale: str,
                 types: list[str], date_begin: int | None, date_end: int | None,
                 limit: int | None, optimize: bool, real_time: bool) -> Any:
    home = models.home(ctx, user_id, home_id)
    if not any(r["id"] == room_id for r in home["rooms"]):
        raise invalid(f"Invalid room_id: no room {room_id} in home {home_id}")
    names = _types(types, ROOM_TYPES)
    scale, now = _scale(scale), ctx.now()
    live = Live(ctx, home)
    since = _setup(home, live.therm_modules(room_id) or [m["id"] for m in home["modules"]])
    buckets = _buckets(home, scale, date_begin, date_end, limit, now, since)
    live = _from(ctx, live, buckets)
    cols = _room_columns(live, room_id, names,
                         _instants(buckets, PER_BUCKET[scale], now, since))
    return _shape(buckets, cols, names, optimize, real_time)


def _from(ctx: Ctx, live: Live, buckets: list[tuple[int, int]]) -> Live:
    """``live`` over the home with the history its first bucket needs."""
    if not buckets:
        return live
    home = with_history(ctx, live.home, ep.anchor(buckets[0][0]))
    if home is not live.home:
        live.home = home
    return live


def _setup(home: dict[str, Any], module_ids: list[str]) -> int:
    """When the first of these modules was set up (a room is measured from its first
    thermostat or valve's setup, else the home's first module's; 0 with none)."""
    dates = [m.get("setup_date", 0) for m in home["modules"] if m["id"] in module_ids]
    return int(min(dates, default=0))


def energy_measure(ctx: Ctx, user_id: str, device_id: str, module_id: str | None,
                   scale: str, types: list[str], date_begin: int | None,
                   date_end: int | None, limit: int | None, optimize: bool,
                   real_time: bool, held: frozenset[str] | None = None) -> Any:
    """getmeasure for a module of a home (relay, thermostat, valve; a light, dimmer
    or plug: ``plug_measure``). ``held``: the token's scopes when only a device
    family's read scope let it in (None: it may read every module)."""
    _, home = models.device(ctx, user_id, device_id)
    wanted = (module_id or device_id).replace(" ", "").lower()
    mod = next((m for m in home["modules"] if m["id"] == wanted), None)
    if mod is None:
        raise MockcloudError("not_found", f"Device not found: {module_id}")
    family_scope = plug_measure.read_scope(mod)
    if held is not None and (family_scope is None or family_scope not in held):
        also = f" or {family_scope}" if family_scope else ""
        raise MockcloudError("insufficient_scope",
                             f"reading a {mod['type']}'s measures needs read_thermostat{also}")
    room_id = mod.get("room_id") if mod["type"] in THERM_DEVICES else None
    metered = plug_measure.metered(mod)
    names = _types(types, plug_measure.TYPES if metered
                   else BOILER_TYPES + (ROOM_TYPES if room_id else ()))
    scale, now = _scale(scale), ctx.now()
    since = _setup(home, [mod["id"]])
    buckets = _buckets(home, scale, date_begin, date_end, limit, now, since)
    live = _from(ctx, Live(ctx, home), buckets)
    cols: dict[str, list[Any]] = {}
    if metered:
        cols.update(plug_measure.columns(ctx, home, mod, names, buckets, _instants(
            buckets, PER_BUCKET[scale], now, since), now, since))
    boiler = [n for n in names if n in BOILER_TYPES]
    if boiler:
        cols.update(_boiler_columns(live, boiler, buckets, now, since))
    rooms = [n for n in names if n in ROOM_TYPES]
    if rooms and room_id:
        cols.update(_room_columns(live, room_id, rooms,
                                  _instants(buckets, PER_BUCKET[scale], now, since)))
    return _shape(buckets, cols, names, optimize, real_time)


# ------------------------------------------------------------------------ legacy read

LEGACY_MODE = {"schedule": "program"}


def thermostats_data(ctx: Ctx, user_id: str, device_id: str | None) -> dict[str, Any]:
    now = ctx.now()
    acc = models.account(ctx, user_id)
    devices = []
    for home in models.homes(ctx, user_id):
        home = with_history(ctx, home, ep.anchor(now))
        live, state = Live(ctx, home), es.state_at(home, now)
        for plug in home["modules"]:
            therms = [m for m in home["modules"]
                      if m.get("bridge") == plug["id"] and m["type"] == "NATherm1"]
            if plug["type"] != "NAPlug" or not therms:
                continue
            if device_id and device_id.replace(" ", "").lower() != plug["id"]:
                continue
            devices.append(_legacy_device(live, home, state, plug, therms, now))
    if device_id and not devices:
        raise MockcloudError("not_found", f"Device not found: {device_id}")
    return {"devices": devices, "user": models.weather_user(acc)}


def _legacy_device(live: Live, home: dict[str, Any], state: es.State,
                   plug: dict[str, Any], therms: list[dict[str, Any]], now: float
                   ) -> dict[str, Any]:
    lat, lon, alt = ep.place_of(home)
    local = datetime.fromtimestamp(now, _zone(home))
    modules = []
    for m in therms:
        room_id = m.get("room_id")
        s = live.samples(room_id, [now])[0] if room_id else None
        bat = ep.module_battery(m, now, live.seed,
                                live.overrides(m["id"], now).get("battery_percent"))
        out: dict[str, Any] = {
            "_id": m["id"], "module_name": m["name"], "type": "NATherm1",
            "firmware": m.get("firmware_revision", FIRMWARE["NATherm1"]),
            "last_message": int(now), "rf_status": ep.rf_strength(live.seed, m["id"], 58),
            "battery_vp": bat.vp, "therm_orientation": 3,
            "therm_relay_cmd": 100 if s and s.power > 0 else 0,
            "anticipating": bool(s and ep.anticipating(home, room_id, state, s)),
            "battery_percent": bat.percent,
            "event_history": {"boiler_not_responding_events": [],
                              "boiler_responding_events": []},
            "setpoint_history": _setpoint_history(home, state, m, now),
            "last_therm_seen": int(now)}
        if s is not None:
            setpoint: dict[str, Any] = {
                "setpoint_mode": LEGACY_MODE.get(s.view.mode, s.view.mode)}
            if s.view.mode in ("manual", "max"):
                setpoint.update(setpoint_temp=s.view.temp, setpoint_endpoint=s.view.end)
            out["setpoint"] = setpoint
            out["measured"] = {"time": int(now), "temperature": round(s.temperature, 1),
                               "setpoint_temp": s.view.temp}
        out["therm_program_list"] = [_program(sch, room_id) for sch in state.schedules
                                     if sch["type"] == "therm"]
        modules.append(out)
    return {"_id": plug["id"], "firmware": plug.get("firmware_revision", FIRMWARE["NAPlug"]),
            "last_bilan": {"y": local.year, "m": local.month},
            "last_setup": plug.get("setup_date", 0), "last_status_store": int(now),
            "place": {"altitude": alt, "country": home["country"],
                      "improveLocProposed": True, "location": [lon, lat],
                      "timezone": home["timezone"], "trust_location": True,
                      **({"city": home["city"]} if "city" in home else {})},
            "plug_connected_boiler": 1, "type": "NAPlug", "udp_conn": True,
            "wifi_status": ep.rf_strength(live.seed, plug["id"] + "w", WIFI),
            "modules": modules, "station_name": plug.get("name", home["name"]),
            "last_plug_seen": int(now)}


def _setpoint_history(home: dict[str, Any], state: es.State, therm: dict[str, Any],
                      now: float) -> list[dict[str, Any]]:
    """The home-mode changes up to now (the last ten); the mode in force since the
    module's setup when there were none."""
    out = [{"setpoint": {"setpoint_mode": LEGACY_MODE.get(e["mode"], e["mode"])},
            "timestamp": int(e["at"])}
           for e in es.events(home) if e["kind"] == "mode" and e["at"] <= now][-10:]
    if not out:
        out = [{"setpoint": {"setpoint_mode": LEGACY_MODE.get(state.mode, state.mode)},
                "timestamp": int(state.start or therm.get("setup_date", 0))}]
    return out


def _program(sch: dict[str, Any], room_id: str | None) -> dict[str, Any]:
    out: dict[str, Any] = {
        "zones": [{"type": z["type"], "name": z["name"], "id": z["id"],
                   "temp": es.zone_temp(sch, z["id"], room_id or "")} for z in sch["zones"]],
        "timetable": [{"m_offset": e["m_offset"], "id": e["zone_id"]}
                      for e in sch["timetable"]],
        "name": sch["name"], "program_id": sch["id"]}
    if sch.get("selected"):
        out["selected"] = True
    return out


# ------------------------------------------------------------------------ writes

def _half(value: float) -> float | int:
    """To the nearest 0.5 degree (an integer when whole, as the samples show)."""
    v = round(value * 2) / 2
    return int(v) if v == int(v) else v


class _Unchanged(Exception):
    """A write's change left the home as it was: nothing to store."""


def _write(ctx: Ctx, user_id: str, home_id: str,
           change: Callable[[dict[str, Any], es.State, float], bool | None],
           reads: bool = True) -> None:
    """Check and apply ``change(home, state at now, now)`` in one read-modify-write
    (``reads`` False: ``change`` never reads the state, and gets None for it). A
    ``change`` that returns False left the home exactly as it was (the same bytes): the
    store is not written (what it holds is already what the write would store)."""
    now = ctx.now()

    chunks: list[list[Any]] = []

    def update(shared: dict[str, Any] | None) -> dict[str, Any]:
        chunks.clear()                                   # (an update may run again)
        if shared is None or shared.get("owner") != user_id:   # models.home's check, first
            raise invalid("Invalid id")
        doc = es.thawed(shared)
        # the state before the write, from the snapshot (which the write leaves as it
        # is): folded only if ``change`` reads it (a set point does not)
        if change(doc, es.state_at(shared, now, frozen=True) if reads else None,
                  now) is False:
            raise _Unchanged
        chunks.extend(es.take_pending(doc))
        return doc

    # the home as the store shares it, copied only where the log changes (es.thawed):
    # a write parses nothing, and the next read finds the written home parsed
    try:
        ctx.store.update_shared(ctx.tenant, HOME, home_id, update)
    except _Unchanged:
        return
    for op, key, chunk in chunks:          # sealed history, once the home is written
        if op == "put":
            ctx.store.put(ctx.tenant, es.CHUNK, key, chunk)
        else:
            ctx.store.delete(ctx.tenant, es.CHUNK, key)


_HISTORY: dict[int, tuple[dict[str, Any], tuple[Any, ...], dict[str, Any]]] = {}


def with_history(ctx: Ctx, home: dict[str, Any], since: float) -> dict[str, Any]:
    """The home document to read instants from ``since`` on: itself, or, when
    ``since`` is before its log's base, the home as it was then, from the sealed chunks
    (``energy_state``; memoised per home and chunk snapshots, so a request and the
    next read the same object)."""
    need = es.history_needed(home, since)
    if not need:
        return home
    docs = [ctx.store.snapshot(ctx.tenant, es.CHUNK, key) for _, key in need]
    while None in docs:                    # missing (being written, or gone): after it
        docs = docs[docs.index(None) + 1:]
    if not docs:
        return home
    ids = tuple(id(d) for d in docs)
    hit = _HISTORY.get(id(home))
    if hit is not None and hit[0] is home and hit[1] == ids:
        return hit[2]
    out = es.extended(home, docs)
    if len(_HISTORY) >= 8:
        _HISTORY.clear()
    _HISTORY[id(home)] = (home, ids, out)
    return out


def _find_schedule(state: es.State, schedule_id: str) -> dict[str, Any]:
    sch = next((s for s in state.schedules if s["id"] == schedule_id), None)
    if sch is None:
        raise invalid(f"Invalid schedule_id: no schedule {schedule_id} in this home")
    return sch


def _therm_schedule(state: es.State, schedule_id: str) -> dict[str, Any]:
    sch = next((s for s in state.schedules if s["id"] == schedule_id), None)
    if sch is None or sch["type"] != "therm":
        raise invalid(f"schedule {schedule_id} is not therm schedule")
    return sch


def _select(schedules: list[dict[str, Any]], schedule_id: str) -> list[dict[str, Any]]:
    out = []
    for s in schedules:
        s = dict(s)
        if s["type"] == "therm":
            s.pop("selected", None)
            if s["id"] == schedule_id:
                s["selected"] = True
        out.append(s)
    return out


def _endtime(endtime: Any, now: float) -> int:
    """An ``endtime`` (setthermmode, setroomthermpoint, setstate's
    ``therm_setpoint_end_time``): whole epoch seconds after now, at most MAX_EPOCH."""
    if isinstance(endtime, bool) or not isinstance(endtime, NUMBER) \
            or not math.isfinite(endtime):
        raise invalid(f"Invalid endtime: {endtime!r} is not a number")
    if endtime <= now:
        raise invalid(f"Invalid endtime: {endtime} is not in the future")
    if endtime > MAX_EPOCH:
        raise invalid(f"Invalid endtime: {endtime} is after {MAX_EPOCH} (9999-12-31)")
    return int(endtime)


def _name(name: str) -> str:
    if len(name) > MAX_NAME:
        raise invalid(f"Invalid name: {len(name)} characters, at most {MAX_NAME}")
    return name


def set_therm_mode(ctx: Ctx, user_id: str, home_id: str, mode: str, endtime: int | None,
                   schedule_id: str | None) -> None:
    def change(home: dict[str, Any], state: es.State, now: float) -> None:
        if mode not in HOME_MODES:
            raise invalid("mode not authorized")
        if mode == "schedule" and schedule_id is not None:
            _therm_schedule(state, schedule_id)
        end = 0
        if mode in ("away", "hg") and endtime is not None:
            end = _endtime(endtime, now)
        if mode == "schedule" and schedule_id is not None:
            es.record(home, {"kind": "schedules",
                             "schedules": _select(state.schedules, schedule_id)}, now)
        es.record(home, {"kind": "mode", "mode": mode, "end": end}, now)

    _write(ctx, user_id, home_id, change)


def _room_event(home: dict[str, Any], room_id: str, mode: str | None, temp: Any,
                endtime: Any, now: float, prefix: str = "") -> dict[str, Any]:
    for r in home["rooms"]:
        if r["id"] == room_id:
            break
    else:
        raise invalid(f"Invalid room_id: no room {room_id} in this home")
    if mode is None:
        if temp is None:
            raise MockcloudError("missing_argument", f"Missing {prefix}setpoint_mode")
        mode = "manual"
    if mode not in ROOM_MODES:
        raise invalid("mode not authorized")
    if mode == "home":
        return {"kind": "room", "room": room_id, "mode": "home", "temp": None, "end": 0}
    if mode == "manual":
        if temp is None:
            raise MockcloudError("missing_argument", "Missing temp")
        if isinstance(temp, bool) or not isinstance(temp, NUMBER) \
                or not math.isfinite(temp):
            raise invalid(f"Invalid temp: {temp!r} is not a number")
        if not TEMP_RANGE[0] <= temp <= TEMP_RANGE[1]:
            raise invalid(f"Invalid temp: {temp} is out of range (must be from "
                          f"{TEMP_RANGE[0]:g} to {TEMP_RANGE[1]:g})")
        value: float | int = _half(temp)
    else:
        value = MAX_TEMP
    if endtime is not None:
        end: float = _endtime(endtime, now)
    else:
        end = now + home["therm_setpoint_default_duration"] * 60
    return {"kind": "room", "room": room_id, "mode": mode, "temp": value, "end": end}


def set_room_therm_point(ctx: Ctx, user_id: str, home_id: str, room_id: str, mode: str,
                         temp: float | None, endtime: int | None) -> None:
    def change(home: dict[str, Any], state: es.State | None, now: float) -> bool:
        return es.record(home, _room_event(home, room_id, mode, temp, endtime, now), now)

    _write(ctx, user_id, home_id, change, reads=False)


def switch_home_schedule(ctx: Ctx, user_id: str, home_id: str, schedule_id: str) -> None:
    def change(home: dict[str, Any], state: es.State, now: float) -> None:
        _find_schedule(state, schedule_id)
        _therm_schedule(state, schedule_id)
        es.record(home, {"kind": "schedules",
                         "schedules": _select(state.schedules, schedule_id)}, now)

    _write(ctx, user_id, home_id, change)


def _checked_schedule(home: dict[str, Any], base: dict[str, Any],
                      payload: dict[str, Any]) -> dict[str, Any]:
    raw = {k: base[k] for k in ("id", "name", "type") if k in base}
    if base.get("selected"):
        raw["selected"] = True
    zones = payload["zones"]
    if isinstance(zones, list):
        zones = [_half_zone(z) for z in zones]
    raw.update(zones=zones, timetable=payload["timetable"],
               hg_temp=_ranged("hg_temp", payload["hg_temp"], HG_RANGE),
               away_temp=_ranged("away_temp", payload["away_temp"], AWAY_RANGE))
    try:
        return check_schedule("schedule", raw, {r["id"] for r in home["rooms"]})
    except ValueError as exc:
        raise invalid(f"Invalid schedule: {exc}") from None


def _ranged(name: str, value: Any, span: tuple[float, float]) -> float | int:
    if isinstance(value, bool) or not isinstance(value, NUMBER):
        raise invalid(f"Invalid {name}: {value!r} is not a number")
    if not span[0] <= value <= span[1]:
        raise invalid(f"Invalid {name}: {value} is out of range (must be from "
                      f"{span[0]:g} to {span[1]:g})")
    return _half(value)


def _half_zone(zone: Any) -> Any:
    if not isinstance(zone, dict) or not isinstance(zone.get("rooms"), list):
        return zone
    rooms = []
    for r in zone["rooms"]:
        if isinstance(r, dict) and "therm_setpoint_temperature" in r:
            r = {**r, "therm_setpoint_temperature": _ranged(
                f"temperature of room {r.get('id')} in zone {zone.get('id')}",
                r["therm_setpoint_temperature"], TEMP_RANGE)}
        rooms.append(r)
    return {**zone, "rooms": rooms}


def sync_home_schedule(ctx: Ctx, user_id: str, home_id: str, schedule_id: str | None,
                       name: str | None, payload: dict[str, Any]) -> None:
    def change(home: dict[str, Any], state: es.State, now: float) -> None:
        if schedule_id is None:
            target = es.selected(state.schedules)
            if target is None:
                raise invalid("Invalid schedule_id: the home has no selected schedule")
        else:
            target = _find_schedule(state, schedule_id)
        new = _checked_schedule(home, {**target, **({"name": _name(name)} if name else {})},
                                payload)
        schedules = [new if s["id"] == target["id"] else s for s in state.schedules]
        es.record(home, {"kind": "schedules", "schedules": schedules}, now)

    _write(ctx, user_id, home_id, change)


def _named_elsewhere(ctx: Ctx, home_id: str) -> Callable[[str], bool]:
    """Whether another home of the tenant names an id (a new schedule's must be none
    of theirs: another home's id, its owner's, a schedule's): a home or a user of that
    id, or a schedule of another home as the world made it (the world's index,
    ``SCHEDULE_HOMES``; since then a home names only schedule ids made from its own,
    ``hex_id("created-schedule", home, n)``, none another's). In a state from before
    the index, every home is read (once)."""
    others: list[set[str]] = []

    def elsewhere(ident: str) -> bool:
        homes = lookup.get(ctx.store, ctx.tenant, SCHEDULE_HOMES, ident)
        if homes is not lookup.UNINDEXED:
            return any(h != home_id for h in homes or ()) \
                or ctx.store.snapshot(ctx.tenant, HOME, ident) is not None \
                or ctx.store.snapshot(ctx.tenant, ACCOUNT, ident) is not None
        if not others:
            others.append({i for key, doc in ctx.store.list(ctx.tenant, HOME)
                           if key != home_id for i in named_ids(doc) if is_hex24(i)})
        return ident in others[0]

    return elsewhere


def create_home_schedule(ctx: Ctx, user_id: str, home_id: str, name: str,
                         payload: dict[str, Any]) -> str:
    """A new therm schedule. Its id: ``hex_id("created-schedule", home, n)`` with n
    the home's count of schedules ever created (``state.schedules_created``, kept in
    the log and exported with it), skipping any id the tenant already names: never
    one a deleted schedule had, deterministic."""
    name = _name(name)
    models.home(ctx, user_id, home_id)          # Invalid id before reading the tenant
    elsewhere = _named_elsewhere(ctx, home_id)
    made: list[str] = []

    def change(home: dict[str, Any], state: es.State, now: float) -> None:
        mine = named_ids(home)
        log = home.setdefault("state", {})
        n = log.get("schedules_created", 0) + 1
        while (new_id := hex_id("created-schedule", home_id, n)) in mine \
                or elsewhere(new_id):
            n += 1
        new = _checked_schedule(home, {"id": new_id, "name": name, "type": "therm"},
                                payload)
        es.record(home, {"kind": "schedules", "schedules": [*state.schedules, new]}, now)
        log["schedules_created"] = n
        made.append(new_id)

    _write(ctx, user_id, home_id, change)
    return made[-1]


def delete_home_schedule(ctx: Ctx, user_id: str, home_id: str, schedule_id: str) -> None:
    def change(home: dict[str, Any], state: es.State, now: float) -> None:
        sch = _find_schedule(state, schedule_id)
        if sch.get("selected"):
            raise invalid(f"Cannot delete schedule {schedule_id}: it is the selected one")
        es.record(home, {"kind": "schedules", "schedules": [
            s for s in state.schedules if s["id"] != schedule_id]}, now)

    _write(ctx, user_id, home_id, change)


def rename_home_schedule(ctx: Ctx, user_id: str, home_id: str, schedule_id: str,
                         name: str) -> None:
    name = _name(name)

    def change(home: dict[str, Any], state: es.State, now: float) -> None:
        _find_schedule(state, schedule_id)
        es.record(home, {"kind": "schedules", "schedules": [
            {**s, "name": name} if s["id"] == schedule_id else s
            for s in state.schedules]}, now)

    _write(ctx, user_id, home_id, change)


def set_state(ctx: Ctx, user_id: str, payload: dict[str, Any],
              scopes: Any = None, already: str = "cameras",
              unreachable: str = "hard") -> dict[str, Any] | None:
    """setstate: rooms as setroomthermpoint (``therm_`` or ``cooling_`` keys; they need
    ``write_thermostat`` or ``write_smarther``), modules through ``home_devices`` (its
    docstring: checks, scopes, errors). Everything is checked before anything is
    written; per-module problems come back as ``{"home": {"id"}, "errors": [...]}``.
    ``scopes``: the token's (None: not checked)."""
    from . import home_devices  # (it builds on energy_physics, as this module)

    target = payload.get("home") if isinstance(payload, dict) else None
    if not isinstance(target, dict) or not isinstance(target.get("id"), str):
        raise MockcloudError("missing_argument", "Missing home.id")
    home_id = target["id"]
    rooms = target.get("rooms") or []
    modules = target.get("modules") or []
    if not isinstance(rooms, list) or not isinstance(modules, list):
        raise invalid("Invalid home: rooms and modules must be lists")
    home = models.home(ctx, user_id, home_id)
    held = None if scopes is None else set(scopes)
    if rooms and held is not None and not held & set(home_devices.ROOM_SCOPES):
        raise MockcloudError("insufficient_scope", "setting rooms needs write_thermostat")
    now = ctx.now()
    live = Live(ctx, home)
    commands, errors = home_devices.check_modules(
        home, modules, held, lambda module_id: live.reachable(module_id, now), unreachable)

    def change(home: dict[str, Any], state: es.State, now: float) -> None:
        made = []
        for room in rooms:
            if not isinstance(room, dict) or not isinstance(room.get("id"), str):
                raise MockcloudError("missing_argument", "Missing rooms[].id")
            prefix = "cooling_" if any(k.startswith("cooling_") for k in room) else "therm_"
            made.append(_room_event(
                home, room["id"], room.get(f"{prefix}setpoint_mode"),
                room.get(f"{prefix}setpoint_temperature"),
                room.get(f"{prefix}setpoint_end_time"), now, prefix))
        for event in made:
            es.record(home, event, now)

    if rooms:
        _write(ctx, user_id, home_id, change)
    errors += home_devices.apply_commands(ctx, home_id, commands, now, already)
    if errors:
        return {"home": {"id": home_id}, "errors": errors}
    return None
