"""Qivivo's domain: one house per user, its thermostat, gateway and pilot-wire modules.

Documents:

* ``qivivo.home`` (key: the owner's user id): the house -- ``timezone``, ``place``
  (lat, lon, altitude: its weather), ``setup`` (epoch), its devices (``thermostat``,
  ``gateway``, ``modules``), the modules' own programs (``module_programs``), the
  control state's log (``base``, ``base_at``, ``events``, and the index of its sealed
  chunks: ``core.sealed``), and ``history``, the last writes as
  ``/habitation/data/events`` shows them (in time order);
* ``qivivo.home_chunk`` (key ``<owner>/<log>/<n>``): sealed events of a house's log;
* ``qivivo.device`` (key: a uuid): ``{owner, type}``, to find a device's house;
* ``qivivo.meta`` / ``world``: ``{seed}`` (physics noise and weather).

**History is exact.** A write validates against the state at the request's instant
and inserts one event in time order (one ``Store.update``); an event replaces the
events of the same instant and target (``control.target``: a read at that instant
sees only the last). Past ``MAX_EVENTS`` events, those older than ``WINDOW`` (the
physics window) are sealed into a chunk (all but the ``RECENT`` newest when that is
not enough), so a write rewrites a house of at most ``MAX_EVENTS`` events; a read
that needs instants before the log's base (a room's history, the last day's events,
a clock moved back) reads the chunks that cover them (``Qivivo.at``). So a reading
at t uses only the changes made at or before t.

**A write after the clock moved back** (INFERRED): the events stamped later than the
write are kept, not discarded: the write goes in before them, and they apply after
it as they were made (a program event that no longer applies -- its program gone,
or the one it deletes now active -- is a no-op: ``control.apply``). So nothing made
is lost silently, and moving the clock forward again shows them. The one
approximation left: a write before the log's ``base_at`` (the clock moved back past
sealed history) applies after that base.

Reads use ``Store.snapshot`` (shared, read-only documents), and so do writes
(``Store.update_shared``: a write copies the house's top, event list and history, and
shares the rest), so a write parses nothing.
"""

from __future__ import annotations

import bisect
from typing import Any

from ..core.devices import Overrides
from ..core.errors import MockcloudError
from ..core.sealed import SealedLog
from ..core.store import Store
from . import control, physics
from .errors import invalid, unexpected

HOME, DEVICE, META = "qivivo.home", "qivivo.device", "qivivo.meta"
CHUNK = "qivivo.home_chunk"
TYPES = ("thermostat", "wireless-module", "gateway")
MAX_EVENTS = 64                     # in the house document
RECENT = 16                         # left in it when younger events must be sealed too
WINDOW = 2 * 86400                  # events younger than this stay in the house if they can
LOG = SealedLog(CHUNK, control.fold, max_events=MAX_EVENTS, recent=RECENT,
                target=control.target)
HISTORY = 50
PRESENCE_STEP = 300                 # presence is sampled every 5 minutes
MAX_PROGRAMS = 20
MAX_DURATION = 7 * 24 * 60          # minutes: a week (temporary instruction, arrival)
COMMUNICATION = 5                   # minutes between two thermostat communications


def _at(entry: dict[str, Any]) -> float:
    return entry["t"]


def not_found(what: str, ident: str) -> MockcloudError:
    return MockcloudError("not_found", f"No {what} {ident!r} on this account.")


def world_seed(store: Store, tenant: str) -> int:
    meta = store.snapshot(tenant, META, "world")
    return int(meta["seed"]) if meta else 0


def program_id(raw: str) -> int:
    """A path's program id: a positive integer, else "Unexpected error" (what a
    client that sent a program's name got)."""
    if not raw.isdigit() or int(raw) < 1 or len(raw) > 9:
        raise unexpected(f"Program id {raw!r} is not a program number (ids are 1, 2, ... "
                         "in the order GET .../programs lists them).")
    return int(raw)


def public_programs(programs: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [{"id": i, "name": p["name"], "program": p["program"]}
            for i, p in enumerate(programs, start=1)]


def canonical_periods(where: str, periods: list[dict[str, Any]]) -> list[dict[str, str]]:
    """Periods with English setting names, in time order; 422 when a period ends
    before it starts or two overlap."""
    out = []
    for p in periods:
        setting = control.FRENCH_SETTINGS.get(p["temperature_setting"],
                                              p["temperature_setting"])
        out.append({"period_start": p["period_start"], "period_end": p["period_end"],
                    "temperature_setting": setting})
    out.sort(key=lambda p: p["period_start"])
    last = -1
    for p in out:
        a, b = control.minute(p["period_start"]), control.minute(p["period_end"])
        if b < a:
            raise invalid(where, f"A period ends ({p['period_end']}) before it starts "
                          f"({p['period_start']}).")
        if a <= last:
            raise invalid(where, f"The period starting {p['period_start']} overlaps the "
                          "one before it.")
        last = b
    return out


def canonical_program(program: dict[str, list]) -> dict[str, list]:
    out: dict[str, list] = {}
    for day, periods in program.items():
        name = control.FRENCH_DAYS.get(day, day)
        if name in out:
            raise invalid(f"program.{day}", f"Day {name} is given twice.")
        out[name] = canonical_periods(f"program.{day}", periods)
    return {d: out[d] for d in control.DAYS if d in out}


def canonical_day(day: str) -> str:
    name = control.FRENCH_DAYS.get(day.lower(), day.lower())
    if name not in control.DAYS:
        raise invalid("day", f"Day {day!r} is not one of {', '.join(control.DAYS)}.")
    return name


class Qivivo:
    """One user's house in one tenant at the virtual instant ``now``."""

    def __init__(self, store: Store, tenant: str, user_id: str, now: float) -> None:
        self.store, self.tenant, self.user, self.now = store, tenant, user_id, now

    # ------------------------------------------------------------------ reads
    def home(self) -> dict[str, Any]:
        home = self.store.snapshot(self.tenant, HOME, self.user)
        if home is None:
            raise MockcloudError("not_found", "This account has no Qivivo house.")
        return home

    def device(self, uuid: str, kind: str) -> dict[str, Any]:
        """The house of device ``uuid`` of type ``kind`` (404 otherwise)."""
        self.check_device(uuid, kind)
        return self.home()

    def check_device(self, uuid: str, kind: str) -> None:
        """404 unless ``uuid`` is this user's device of type ``kind``."""
        dev = self.store.snapshot(self.tenant, DEVICE, uuid)
        if dev is None or dev["owner"] != self.user or dev["type"] != kind:
            raise not_found(kind, uuid)

    def seed(self) -> int:
        return world_seed(self.store, self.tenant)

    def at(self, home: dict[str, Any], since: float) -> dict[str, Any]:
        """The house to read instants from ``since`` on (its sealed history added
        when ``since`` is before its log's base)."""
        return LOG.with_history(self.store, self.tenant, home, self.user, since)

    def state(self, home: dict[str, Any], t: float | None = None) -> dict[str, Any]:
        """The control state at t (default: now)."""
        t = self.now if t is None else t
        return control.state_at(self.at(home, t), t)

    def tz(self, home: dict[str, Any]):
        return control.zone(home["timezone"])

    def devices(self) -> dict[str, Any]:
        home = self.store.snapshot(self.tenant, HOME, self.user)
        if home is None:
            return {"devices": []}
        out = [{"uuid": home["thermostat"]["uuid"], "type": "thermostat"}]
        if home.get("gateway"):
            out.append({"uuid": home["gateway"]["uuid"], "type": "gateway"})
        out += [{"uuid": m["uuid"], "type": "wireless-module"} for m in home["modules"]]
        return {"devices": out}

    def overrides(self) -> Overrides:
        return Overrides(self.store, self.tenant, "qivivo")

    def seen(self, home: dict[str, Any], uuid: str) -> float:
        """The instant a device's readings are from: now, or its last communication
        when it (or the gateway) is offline (admin overrides: ``devices.py``)."""
        from .devices import last_communication

        last = last_communication(self.overrides(), home, uuid, self.now)
        return self.now if last is None else min(self.now, last)

    def _info(self, home: dict[str, Any], dev: dict[str, Any]) -> dict[str, Any]:
        step = COMMUNICATION * 60
        last = max(home["setup"], (self.seen(home, dev["uuid"]) // step) * step)
        return {"serial": dev["serial"], "softwareVersion": dev["softwareVersion"],
                "lastCommunicationDate": control.wall(self.tz(home), last),
                "currentTimeBetweenCommunication": COMMUNICATION}

    def thermostat_info(self, uuid: str) -> dict[str, Any]:
        home = self.device(uuid, "thermostat")
        out = self._info(home, home["thermostat"])
        battery = self.overrides().at(uuid, self.now).get("battery_percent")
        out["voltagePercentage"] = battery if battery is not None else \
            physics.battery_percent(home["setup"], self.now,
                                    physics.home_seed(home, self.seed()))
        return out

    def thermostat_temperature(self, uuid: str) -> dict[str, Any]:
        home = self.device(uuid, "thermostat")
        t = self.seen(home, uuid)
        state = self.state(home, t)
        order = control.half(control.thermostat_at(state, self.tz(home), t)[1])
        temp = physics.temperature(self.at(home, physics.anchor(t)), None, t, self.seed())
        return {"temperature": physics.shown(temp), "current_temperature_order": order}

    def humidity(self, uuid: str, kind: str) -> dict[str, Any]:
        home = self.device(uuid, kind)
        room = None if kind == "thermostat" else uuid
        return {"humidity": physics.humidity(home, room, self.seed(), self.seen(home, uuid))}

    def presence(self, uuid: str) -> dict[str, Any]:
        home = self.device(uuid, "thermostat")
        t = self.seen(home, uuid)
        return {"presence_detected": physics.present(home, self.state(home, t), self.seed(),
                                                     t)}

    def programs(self, uuid: str) -> dict[str, Any]:
        home = self.device(uuid, "thermostat")
        state = self.state(home)
        return {"user_active_program_id": state["active"],
                "user_programs": public_programs(state["programs"])}

    def _module(self, home: dict[str, Any], uuid: str) -> dict[str, Any]:
        return next(m for m in home["modules"] if m["uuid"] == uuid)

    def module_info(self, uuid: str) -> dict[str, Any]:
        home = self.device(uuid, "wireless-module")
        return self._info(home, self._module(home, uuid))

    def module_temperature(self, uuid: str) -> dict[str, Any]:
        home = self.device(uuid, "wireless-module")
        t = self.seen(home, uuid)
        temp = physics.temperature(self.at(home, physics.anchor(t)), uuid, t, self.seed())
        return {"temperature": physics.shown(temp)}

    def module_order(self, uuid: str) -> dict[str, Any]:
        home = self.device(uuid, "wireless-module")
        t = self.seen(home, uuid)
        order = control.module_at(self.state(home, t), home, uuid, self.tz(home), t)[0]
        return {"current_pilot_wire_order": order}

    def module_programs(self, uuid: str) -> dict[str, Any]:
        """Both keys with the same list (clients read one or the other)."""
        home = self.device(uuid, "wireless-module")
        state = self.state(home)
        programs = public_programs(home["module_programs"][uuid])
        return {"user_active_program_id": state["modules"][uuid]["active"],
                "user_programs": programs, "user_multizone_programs": programs}

    def gateway_info(self, uuid: str) -> dict[str, Any]:
        home = self.device(uuid, "gateway")
        return self._info(home, home["gateway"])

    def _presence(self, home: dict[str, Any], span: float
                  ) -> tuple[float, bool, list[tuple[float, bool]]]:
        """Presence on the 5-minute grid over the ``span`` seconds up to now (not
        before the setup): (first grid instant, its value, the changes)."""
        step = PRESENCE_STEP
        t = (self.now // step) * step
        g0 = t - span
        if g0 < home["setup"]:
            g0 += -((g0 - home["setup"]) // step) * step
        if g0 > t:
            return t, False, []
        first, changes = physics.presence_changes(self.at(home, g0 - step), self.seed(),
                                                  g0, t, step)
        return g0, first, changes

    def last_presence(self) -> dict[str, Any]:
        """The last 5-minute mark (two weeks back at most) someone was home, each
        read with the control state in force then; else the setup."""
        home = self.home()
        tz = self.tz(home)
        step = PRESENCE_STEP
        g0, first, changes = self._presence(home, (14 * 288 - 1) * step)
        last = (self.now // step) * step
        if changes and not changes[-1][1]:
            last = changes[-1][0] - step
        elif not (changes or first) or last < home["setup"]:
            last = home["setup"]
        return {"last_presence_recorded_time": control.wall(tz, last)}

    def settings(self) -> dict[str, Any]:
        home = self.home()
        state = self.state(home)
        return {"settings": {**state["settings"],
                             "days_of_absence_before_alert": state["alert_days"]}}

    def events(self) -> dict[str, Any]:
        """The writes recorded (newest first), then the presence changes of the last
        day that the routine made (type ``presence_detected`` / ``absence_detected``),
        on the 5-minute grid."""
        home = self.home()
        tz = self.tz(home)
        items = [{**{k: v for k, v in e.items() if k != "t"},
                  "date": control.wall(tz, e["t"])}
                 for e in reversed(home["history"]) if e["t"] <= self.now]
        _, _, changes = self._presence(home, 86400)
        seen = [{"type": "presence_detected" if here else "absence_detected",
                 "date": control.wall(tz, x)} for x, here in changes]
        return {"events": items + seen[::-1]}

    # ----------------------------------------------------------------- writes
    def _write(self, make, history: dict[str, Any] | None = None,
               uuid: str | None = None, kind: str | None = None,
               needs_state: bool = True) -> None:
        """``make(state, home) -> event fields`` (or raise) against the state now
        (``state`` None when ``needs_state`` is false: the write checks nothing in
        it); the event goes into the log in the same store step, and any chunk it
        sealed is written after."""
        if uuid is not None:
            self.check_device(uuid, kind or "thermostat")
        now = self.now
        sealed: list = []

        def change(shared):
            if shared is None:
                raise MockcloudError("not_found", "This account has no Qivivo house.")
            doc = LOG.thawed(shared)          # the store's shared house: copy what changes
            state = self.state(doc, now) if needs_state else None
            LOG.insert(doc, {**make(state, doc), "t": now})
            if history is not None:
                entries = doc["history"] = list(doc["history"])
                entry = {**history, "t": now}
                if not entries or entries[-1]["t"] <= now:     # (the clock not moved back)
                    entries.append(entry)
                else:
                    entries.insert(bisect.bisect_right(entries, now, key=_at), entry)
                del entries[:-HISTORY]
            sealed[:] = LOG.seal(doc, self.user, now - WINDOW)   # an updater may run twice
            return doc

        self.store.update_shared(self.tenant, HOME, self.user, change)
        LOG.write_pending(self.store, self.tenant, sealed)

    def set_instruction(self, uuid: str, temperature: float, duration: int) -> dict:
        if duration > MAX_DURATION:
            raise invalid("duration", f"The duration is at most {MAX_DURATION} minutes.")
        self._write(lambda s, h: {"op": "instruction", "temperature": temperature,
                                  "duration": duration},
                    {"type": "temporary_instruction", "temperature": temperature,
                     "duration": duration}, uuid, needs_state=False)
        return {"message": "Temporary instruction set"}

    def cancel_instruction(self, uuid: str) -> dict:
        self._write(lambda s, h: {"op": "instruction_cancel"},
                    {"type": "temporary_instruction_cancelled"}, uuid, needs_state=False)
        return {"message": "Temporary instruction cancelled"}

    def set_absence(self, uuid: str, start: str, end: str) -> dict:
        home = self.device(uuid, "thermostat")
        tz = self.tz(home)
        times = []
        for field, text in (("start_date", start), ("end_date", end)):
            try:
                times.append(control.parse_wall(tz, text))
            except ValueError:
                raise invalid(field, f"{text!r} is not a date \"YYYY-MM-DD HH:MM\".") \
                    from None
        if times[1] <= times[0]:
            raise invalid("end_date", "The end date must be after the start date.")
        if times[1] <= self.now:
            raise invalid("end_date", "The end date is in the past.")
        self._write(lambda s, h: {"op": "absence", "start": times[0], "end": times[1]},
                    {"type": "absence", "start_date": start, "end_date": end},
                    needs_state=False)
        return {"message": "Absence set"}

    def cancel_absence(self, uuid: str) -> dict:
        self._write(lambda s, h: {"op": "absence_cancel"}, {"type": "absence_cancelled"},
                    uuid, needs_state=False)
        return {"message": "Absence cancelled"}

    def set_arrival(self, uuid: str, duration: int) -> dict:
        if duration > MAX_DURATION:
            raise invalid("duration", f"The duration is at most {MAX_DURATION} minutes.")
        home = self.device(uuid, "thermostat")
        tz = self.tz(home)

        def make(state, doc):
            end = control.next_change(state, tz, self.now + duration * 60)
            return {"op": "arrival", "duration": duration, "end": end}

        self._write(make, {"type": "arrival", "duration": duration})
        return {"message": "Arrival set"}

    def cancel_arrival(self, uuid: str) -> dict:
        self._write(lambda s, h: {"op": "arrival_cancel"}, {"type": "arrival_cancelled"},
                    uuid, needs_state=False)
        return {"message": "Arrival cancelled"}

    def create_program(self, uuid: str, name: str, program: dict[str, list]) -> dict:
        days = canonical_program(program)
        created: list[int] = []

        def make(state, doc):
            if len(state["programs"]) >= MAX_PROGRAMS:
                raise invalid("name", f"A thermostat holds at most {MAX_PROGRAMS} programs.")
            created.append(len(state["programs"]) + 1)
            return {"op": "program_create", "name": name, "program": days}

        self._write(make, {"type": "program_created", "name": name}, uuid)
        return {"message": "Program created", "id": created[0]}

    def _program(self, state: dict[str, Any], ident: int) -> None:
        if ident > len(state["programs"]):
            raise not_found("program", str(ident))

    def activate_program(self, uuid: str, raw: str) -> dict:
        ident = program_id(raw)

        def make(state, doc):
            self._program(state, ident)
            return {"op": "program_active", "id": ident}

        self._write(make, {"type": "program_activated", "program_id": ident}, uuid)
        return {"message": "Program activated"}

    def rename_program(self, uuid: str, raw: str, name: str) -> dict:
        ident = program_id(raw)

        def make(state, doc):
            self._program(state, ident)
            return {"op": "program_name", "id": ident, "name": name}

        self._write(make, {"type": "program_renamed", "program_id": ident,
                           "name": name}, uuid)
        return {"message": "Program renamed"}

    def update_day(self, uuid: str, raw: str, day: str, periods: list[dict]) -> dict:
        ident = program_id(raw)
        name = canonical_day(day)
        rows = canonical_periods("program_day_update", periods)

        def make(state, doc):
            self._program(state, ident)
            return {"op": "program_day", "id": ident, "day": name, "periods": rows}

        self._write(make, {"type": "program_day_updated", "program_id": ident,
                           "day": name}, uuid)
        return {"message": "Program updated"}

    def delete_program(self, uuid: str, raw: str) -> dict:
        ident = program_id(raw)

        def make(state, doc):
            self._program(state, ident)
            if state["active"] == ident:
                raise invalid("programId", "The active program cannot be deleted: "
                              "activate another one first.")
            return {"op": "program_delete", "id": ident}

        self._write(make, {"type": "program_deleted", "program_id": ident}, uuid)
        return {"message": "Program deleted"}

    def module_activate(self, uuid: str, raw: str) -> dict:
        ident = program_id(raw)

        def make(state, doc):
            if ident > len(doc["module_programs"][uuid]):
                raise not_found("program", str(ident))
            return {"op": "module_program", "uuid": uuid, "id": ident}

        self._write(make, {"type": "module_program_activated", "uuid": uuid,
                           "program_id": ident}, uuid, "wireless-module", needs_state=False)
        return {"message": "Program activated"}

    def module_zone(self, uuid: str) -> dict:
        self._write(lambda s, h: {"op": "module_zone", "uuid": uuid},
                    {"type": "module_follows_thermostat_zone", "uuid": uuid},
                    uuid, "wireless-module", needs_state=False)
        return {"message": "Module follows the thermostat zone"}

    def define_temperature(self, name: str, temperature: float) -> dict:
        value = control.half(temperature)
        self._write(lambda s, h: {"op": "setting", "name": name, "value": value},
                    {"type": "setting_defined", "temperature_setting_name": name,
                     "temperature": value}, needs_state=False)
        return {"message": "Temperature defined"}

    def absence_alert(self, days: int) -> dict:
        self._write(lambda s, h: {"op": "alert_days", "value": days},
                    {"type": "absence_alert_defined", "new_nb_day": days},
                    needs_state=False)
        return {"message": "Absence alert defined"}
