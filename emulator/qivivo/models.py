"""Qivivo's domain: one house per user, its thermostat, gateway and pilot-wire modules.

Documents:

* ``qivivo.home`` (key: the owner's user id): the house -- ``timezone``, ``place``
  (lat, lon, altitude: its weather), ``setup`` (epoch), its devices (``thermostat``,
  ``gateway``, ``modules``), the modules' own programs (``module_programs``), the
  control state's ``base`` and the ``events`` written since (``control``), and
  ``history``, the last writes as ``/habitation/data/events`` shows them;
* ``qivivo.device`` (key: a uuid): ``{owner, type}``, to find a device's house;
* ``qivivo.meta`` / ``world``: ``{seed}`` (physics noise and weather).

A write validates against the state at the request's instant and appends one event
(in a single ``Store.update``); past ``MAX_EVENTS`` the events older than two days
(the physics window) are folded into the base. Reads use ``Store.snapshot`` (shared,
read-only documents).
"""

from __future__ import annotations

from typing import Any

from ..core.errors import MockcloudError
from ..core.store import Store
from . import control, physics
from .errors import invalid, unexpected

HOME, DEVICE, META = "qivivo.home", "qivivo.device", "qivivo.meta"
TYPES = ("thermostat", "wireless-module", "gateway")
MAX_EVENTS = 64
KEEP_EVENTS = 32
HARD_CAP = 256                      # events kept whatever their age
HISTORY = 50
MAX_PROGRAMS = 20
MAX_DURATION = 7 * 24 * 60          # minutes: a week (temporary instruction, arrival)
COMMUNICATION = 5                   # minutes between two thermostat communications


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
        dev = self.store.snapshot(self.tenant, DEVICE, uuid)
        if dev is None or dev["owner"] != self.user or dev["type"] != kind:
            raise not_found(kind, uuid)
        return self.home()

    def seed(self) -> int:
        return world_seed(self.store, self.tenant)

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

    def _info(self, home: dict[str, Any], dev: dict[str, Any]) -> dict[str, Any]:
        step = COMMUNICATION * 60
        last = max(home["setup"], (self.now // step) * step)
        return {"serial": dev["serial"], "softwareVersion": dev["softwareVersion"],
                "lastCommunicationDate": control.wall(self.tz(home), last),
                "currentTimeBetweenCommunication": COMMUNICATION}

    def thermostat_info(self, uuid: str) -> dict[str, Any]:
        home = self.device(uuid, "thermostat")
        out = self._info(home, home["thermostat"])
        out["voltagePercentage"] = physics.battery_percent(
            home["setup"], self.now, physics.home_seed(home, self.seed()))
        return out

    def thermostat_temperature(self, uuid: str) -> dict[str, Any]:
        home = self.device(uuid, "thermostat")
        state = control.state_at(home, self.now)
        order = control.half(control.thermostat_at(state, self.tz(home), self.now)[1])
        temp = physics.temperature(home, None, self.now, self.seed())
        return {"temperature": physics.shown(temp), "current_temperature_order": order}

    def humidity(self, uuid: str, kind: str) -> dict[str, Any]:
        home = self.device(uuid, kind)
        room = None if kind == "thermostat" else uuid
        return {"humidity": physics.humidity(home, room, self.seed(), self.now)}

    def presence(self, uuid: str) -> dict[str, Any]:
        home = self.device(uuid, "thermostat")
        state = control.state_at(home, self.now)
        return {"presence_detected": physics.present(home, state, self.seed(), self.now)}

    def programs(self, uuid: str) -> dict[str, Any]:
        home = self.device(uuid, "thermostat")
        state = control.state_at(home, self.now)
        return {"user_active_program_id": state["active"],
                "user_programs": public_programs(state["programs"])}

    def _module(self, home: dict[str, Any], uuid: str) -> dict[str, Any]:
        return next(m for m in home["modules"] if m["uuid"] == uuid)

    def module_info(self, uuid: str) -> dict[str, Any]:
        home = self.device(uuid, "wireless-module")
        return self._info(home, self._module(home, uuid))

    def module_temperature(self, uuid: str) -> dict[str, Any]:
        home = self.device(uuid, "wireless-module")
        temp = physics.temperature(home, uuid, self.now, self.seed())
        return {"temperature": physics.shown(temp)}

    def module_order(self, uuid: str) -> dict[str, Any]:
        home = self.device(uuid, "wireless-module")
        state = control.state_at(home, self.now)
        order = control.module_at(state, home, uuid, self.tz(home), self.now)[0]
        return {"current_pilot_wire_order": order}

    def module_programs(self, uuid: str) -> dict[str, Any]:
        """Both keys with the same list (clients read one or the other)."""
        home = self.device(uuid, "wireless-module")
        state = control.state_at(home, self.now)
        programs = public_programs(home["module_programs"][uuid])
        return {"user_active_program_id": state["modules"][uuid]["active"],
                "user_programs": programs, "user_multizone_programs": programs}

    def gateway_info(self, uuid: str) -> dict[str, Any]:
        home = self.device(uuid, "gateway")
        return self._info(home, home["gateway"])

    def last_presence(self) -> dict[str, Any]:
        home = self.home()
        seed = self.seed()
        step = 300
        t = (self.now // step) * step
        state = control.state_at(home, self.now)
        for _ in range(14 * 288):          # two weeks back, five minutes at a time
            if t < home["setup"]:
                break
            if physics.present(home, state, seed, t):
                return {"last_presence_recorded_time": control.wall(self.tz(home), t)}
            t -= step
        return {"last_presence_recorded_time": control.wall(self.tz(home), home["setup"])}

    def settings(self) -> dict[str, Any]:
        home = self.home()
        state = control.state_at(home, self.now)
        return {"settings": {**state["settings"],
                             "days_of_absence_before_alert": state["alert_days"]}}

    def events(self) -> dict[str, Any]:
        """The writes recorded (newest first), then the presence changes of the last
        day that the routine made (type ``presence_detected`` / ``absence_detected``)."""
        home = self.home()
        tz = self.tz(home)
        items = [{**{k: v for k, v in e.items() if k != "t"},
                  "date": control.wall(tz, e["t"])}
                 for e in reversed(home["history"]) if e["t"] <= self.now]
        seed = self.seed()
        step = 300
        t = (self.now // step) * step
        seen: list[dict[str, Any]] = []
        before = None
        for x in range(int(t - 86400), int(t) + 1, step):
            if x < home["setup"]:
                continue
            state = control.state_at(home, x)
            here = physics.present(home, state, seed, x)
            if before is not None and here != before:
                seen.append({"type": "presence_detected" if here else "absence_detected",
                             "date": control.wall(tz, x)})
            before = here
        return {"events": items + seen[::-1]}

    # ----------------------------------------------------------------- writes
    def _write(self, make, history: dict[str, Any] | None = None,
               uuid: str | None = None, kind: str | None = None) -> None:
        """``make(state, home) -> event fields`` (or raise) against the state now;
        the event is appended in the same store step."""
        if uuid is not None:
            self.device(uuid, kind or "thermostat")
        now = self.now

        def change(doc):
            if doc is None:
                raise MockcloudError("not_found", "This account has no Qivivo house.")
            state = control.state_at(doc, now)
            fields = make(state, doc)
            events = doc["events"]
            while events and events[-1]["t"] > now:   # written later, before a clock
                events.pop()                          # moved back: that future is gone
            events.append({**fields, "t": now})
            if history is not None:
                doc["history"] = [*doc["history"][-(HISTORY - 1):],
                                  {**history, "t": now}]
            if len(events) > MAX_EVENTS:
                _compact(doc, now)
            return doc

        self.store.update(self.tenant, HOME, self.user, change)

    def set_instruction(self, uuid: str, temperature: float, duration: int) -> dict:
        if duration > MAX_DURATION:
            raise invalid("duration", f"The duration is at most {MAX_DURATION} minutes.")
        self._write(lambda s, h: {"op": "instruction", "temperature": temperature,
                                  "duration": duration},
                    {"type": "temporary_instruction", "temperature": temperature,
                     "duration": duration}, uuid)
        return {"message": "Temporary instruction set"}

    def cancel_instruction(self, uuid: str) -> dict:
        self._write(lambda s, h: {"op": "instruction_cancel"},
                    {"type": "temporary_instruction_cancelled"}, uuid)
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
                    {"type": "absence", "start_date": start, "end_date": end})
        return {"message": "Absence set"}

    def cancel_absence(self, uuid: str) -> dict:
        self._write(lambda s, h: {"op": "absence_cancel"}, {"type": "absence_cancelled"},
                    uuid)
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
                    uuid)
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
                           "program_id": ident}, uuid, "wireless-module")
        return {"message": "Program activated"}

    def module_zone(self, uuid: str) -> dict:
        self._write(lambda s, h: {"op": "module_zone", "uuid": uuid},
                    {"type": "module_follows_thermostat_zone", "uuid": uuid},
                    uuid, "wireless-module")
        return {"message": "Module follows the thermostat zone"}

    def define_temperature(self, name: str, temperature: float) -> dict:
        value = control.half(temperature)
        self._write(lambda s, h: {"op": "setting", "name": name, "value": value},
                    {"type": "setting_defined", "temperature_setting_name": name,
                     "temperature": value})
        return {"message": "Temperature defined"}

    def absence_alert(self, days: int) -> dict:
        self._write(lambda s, h: {"op": "alert_days", "value": days},
                    {"type": "absence_alert_defined", "new_nb_day": days})
        return {"message": "Absence alert defined"}


def _compact(doc: dict[str, Any], now: float) -> None:
    """Fold the events older than two days (but the last ``KEEP_EVENTS``) into the
    base; a read before the base's instant then sees the base (documented limit)."""
    events = doc["events"]
    horizon = now - 2 * 86400
    n = 0
    while n < len(events) - KEEP_EVENTS and (events[n]["t"] < horizon
                                              or len(events) - n > HARD_CAP):
        n += 1
    if n == 0:
        return
    state = doc["base"]
    for event in events[:n]:
        control.apply(state, event)
    doc["events"] = events[n:]
