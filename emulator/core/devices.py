"""Devices under the user's control: the admin API's overrides of a device's state.

A test takes a module offline, sets a battery level, opens a window or moves the
outdoor weather through ``/_mockcloud/devices/<vendor>[/<device_id>]`` (``admin.devices``).
The core owns the vocabulary, the request schema and the storage; a vendor says which
devices it has and which overrides each takes, and shows them in its own API. It does
so by giving its ``Vendor`` a ``devices`` value that is a :class:`DeviceControl`.

**Vocabulary** (``contracts/schemas/admin/device_override_request.json``), every field
optional, ``null`` drops that override (back to what the world and the model say):

* ``online`` (bool), ``reachable`` its alias (the core folds it into ``online``);
* ``battery_percent`` (integer 0-100);
* ``window_open`` (bool: rooms, valves, thermostats);
* ``weather``: outdoor values of a station or place, each absolute, each ``null`` to
  drop it, ``weather: null`` to drop them all: ``temperature`` (°C), ``humidity`` (%),
  ``pressure`` (hPa), ``rain`` (mm/h), ``wind_strength``, ``gust_strength`` (km/h),
  ``wind_angle``, ``gust_angle`` (degrees). The names are ``physics.weather``'s, so
  ``effective["weather"]`` can be handed to ``physics.weather.outdoor(adjust=...)``;
* ``clear: true`` drops every override first, then applies the rest of the body.

**Commands** (``COMMANDS``, in the same body): what a device's own controls do -- a
switch pressed, a dimmer turned, a shutter sent somewhere, a camera's monitoring or
floodlight set -- ``on`` (bool), ``brightness`` (0-100), ``target_position`` (0-100,
-1 stop, -2 the preferred position), ``monitoring`` ("on"/"off"), ``floodlight``
("on"/"off"/"auto"): the names of Netatmo's ``setstate``. Unlike overrides they are
not held: the vendor records the change in its own device state at the virtual now
(the same as its API's write would), and the device's state moves on from there.
A device lists in ``accepts`` the overrides and commands it takes.

**Events in time.** Each PATCH is an *event* ``{"at": <virtual now>, "changes":
{...}, "clear": bool}``. What is in force at an instant ``t`` is the fold of the events
with ``at <= t`` in time order (:func:`fold`), so a reading at ``t`` depends only on
what was done up to ``t`` (DESIGN, Physics): move the clock back before an override
and the device is as it was before it. :meth:`Overrides.timeline` gives one field's
value at the start of a window and each change inside it, for a model that integrates
through events (a window opened at 10:00 and closed at 10:20).

**Storage.** A separate store kind per vendor, ``<vendor>.override``, one document per
device that was ever overridden, keyed by the device id: ``{"device": id, "events":
[...sorted by at], "base": null | {"at": t, "state": {...}}}``. The vendor's own
documents are never touched, so its world build, world export and API stay as they
are; overrides are runtime state like tokens: a world load or a reset drops them, and
``GET /world`` shows the world, not the overrides. At most ``MAX_EVENTS`` events are
kept per device; older ones are folded into ``base`` (readings before the oldest kept
event then see that folded state: the one place history is approximated). Each event
also holds ``seq``, its sequence among the events of its instant (``seq_within``; the
base keeps the last folded one's), which trimming never changes.

**What a vendor writes** (Lightify's ``lightify/devices.py`` is the example): a class
with ``list``, ``get`` and ``override``. ``override`` finds the device (else
``MockcloudError("not_found")``), refuses what the device cannot take
(``MockcloudError("invalid_argument", "<Vendor> devices have no battery_percent ...")``,
see :func:`refused`), records the event with ``Overrides(store, tenant,
vendor).record(device_id, changes, now)`` and answers :func:`view`. Its API reads the
overrides in force with ``Overrides.at(device_id, now)`` (one device) or
``Overrides.all_at(now)`` (every device of the vendor, one store read) and lays them
over its own state.
"""

from __future__ import annotations

import bisect
from collections.abc import Iterable
from typing import TYPE_CHECKING, Any, Protocol

from .clock import iso

if TYPE_CHECKING:  # pragma: no cover
    from .store import Store

FIELDS = ("online", "battery_percent", "window_open", "weather")
COMMANDS = ("on", "brightness", "target_position", "monitoring", "floodlight")
ALIASES = {"reachable": "online"}
WEATHER = ("temperature", "humidity", "pressure", "rain", "wind_strength", "wind_angle",
           "gust_strength", "gust_angle")
MAX_EVENTS = 256

State = dict[str, Any]


class DeviceControl(Protocol):
    """A vendor's devices as the admin API sees them (``Vendor.devices``).

    Each method answers a device as :func:`view` makes it. ``now`` is the request's
    virtual instant. ``changes`` come checked against the request schema and
    normalised (:func:`normalise`: ``reachable`` is ``online``; ``clear`` is a bool);
    raise ``MockcloudError("not_found", ...)`` for an unknown device and
    ``MockcloudError("invalid_argument", ...)`` for what the device cannot take."""

    def list(self, store: Store, tenant: str, now: float) -> list[dict[str, Any]]: ...

    def get(self, store: Store, tenant: str, device_id: str,
            now: float) -> dict[str, Any] | None: ...

    def override(self, store: Store, tenant: str, device_id: str,
                 changes: dict[str, Any], now: float) -> dict[str, Any]: ...


def normalise(body: dict[str, Any]) -> dict[str, Any]:
    """A body the schema accepted -> changes: aliases folded, ``clear`` a bool."""
    changes = {ALIASES.get(k, k): v for k, v in body.items()}
    changes["clear"] = bool(changes.get("clear", False))
    return changes


def refused(changes: dict[str, Any], accepted: Iterable[str]) -> list[str]:
    """The override and command fields in ``changes`` that are not in ``accepted``
    (``clear`` is always accepted), in vocabulary order."""
    accepted = set(accepted)
    return [f for f in (*FIELDS, *COMMANDS) if f in changes and f not in accepted]


def commands(changes: dict[str, Any]) -> tuple[dict[str, Any], dict[str, Any]]:
    """``changes`` split: (the overrides and ``clear``, the commands)."""
    return ({k: v for k, v in changes.items() if k not in COMMANDS},
            {k: v for k, v in changes.items() if k in COMMANDS})


def fold(events: Iterable[dict[str, Any]], state: State | None = None) -> State:
    """The overrides in force after ``events`` (in order), starting from ``state``."""
    out: State = {k: (dict(v) if isinstance(v, dict) else v)
                  for k, v in (state or {}).items()}
    for event in events:
        if event.get("clear"):
            out = {}
        for name, value in event["changes"].items():
            if name == "weather" and value is not None:
                weather = {**out.get("weather", {})}
                for key, v in value.items():
                    if v is None:
                        weather.pop(key, None)
                    else:
                        weather[key] = v
                if weather:
                    out["weather"] = weather
                else:
                    out.pop("weather", None)
            elif value is None:
                out.pop(name, None)
            else:
                out[name] = value
    return out


def _event(changes: dict[str, Any], now: float) -> dict[str, Any]:
    return {"at": now, "clear": bool(changes.get("clear")),
            "changes": {k: v for k, v in changes.items() if k in FIELDS}}


def seq_within(events: list[dict[str, Any]], base: dict[str, Any] | None,
               now: float) -> int:
    """The sequence of a new log entry among those at the same instant ``now`` (0 for
    the first): one more than the greatest ``seq`` of that instant in ``events`` or in
    ``base`` (the last folded entry's, kept when older entries fold), so an entry's
    ``seq`` never changes and is never reused however the log is trimmed (a vendor's
    event ids are made of it: netatmo.security)."""
    same = [e.get("seq", 0) for e in events if e["at"] == now]
    if base and base.get("at") == now:
        same.append(base.get("seq", 0))
    return max(same) + 1 if same else 0


class Overrides:
    """The override log of one vendor's devices in one tenant."""

    def __init__(self, store: Store, tenant: str, vendor: str) -> None:
        self.store, self.tenant = store, tenant
        self.kind = f"{vendor}.override"

    def doc(self, device_id: str) -> dict[str, Any] | None:
        """The device's log, shared (``Store.snapshot``): read it, never change it."""
        return self.store.snapshot(self.tenant, self.kind, device_id)

    def record(self, device_id: str, changes: dict[str, Any], now: float) -> dict[str, Any]:
        """Add the event of ``changes`` made at ``now`` (kept in time order; an event at
        the same instant as others comes after them). Returns the device's log."""
        event = _event(changes, now)

        def add(doc: dict[str, Any] | None) -> dict[str, Any]:
            doc = doc or {"device": device_id, "events": [], "base": None}
            events = doc["events"]
            event["seq"] = seq_within(events, doc.get("base"), now)
            events.insert(bisect.bisect_right([e["at"] for e in events], now), event)
            if len(events) > MAX_EVENTS:
                old, doc["events"] = events[:-MAX_EVENTS], events[-MAX_EVENTS:]
                base = doc.get("base") or {"state": {}}
                doc["base"] = {"at": old[-1]["at"], "state": fold(old, base["state"]),
                               "seq": old[-1].get("seq", 0)}
            return doc

        return self.store.update(self.tenant, self.kind, device_id, add)  # type: ignore[return-value]

    def at(self, device_id: str, t: float) -> State:
        """The overrides of one device in force at ``t`` (``{}`` if none)."""
        return state_at(self.doc(device_id), t)

    def all_at(self, t: float) -> dict[str, State]:
        """Every overridden device's overrides in force at ``t``, by device id (devices
        with none in force are left out)."""
        out = {}
        for key, doc in self.store.list(self.tenant, self.kind):
            state = state_at(doc, t)
            if state:
                out[key] = state
        return out

    def events(self, device_id: str) -> list[dict[str, Any]]:
        doc = self.doc(device_id)
        return list(doc["events"]) if doc else []

    def timeline(self, device_id: str, field: str, start: float, end: float
                 ) -> tuple[Any, list[tuple[float, Any]]]:
        """One field's override over ``[start, end]``: (its value in force at ``start``,
        [(instant, new value), ...] for each change after ``start`` up to ``end``). A
        value of None means "not overridden" (the model's own)."""
        doc = self.doc(device_id)
        if not doc:
            return None, []
        first = state_at(doc, start).get(field)
        changes, current = [], first
        state = state_at(doc, start)
        for event in doc["events"]:
            if start < event["at"] <= end:
                state = fold([event], state)
                value = state.get(field)
                if value != current:
                    changes.append((event["at"], value))
                    current = value
        return first, changes


def state_at(doc: dict[str, Any] | None, t: float) -> State:
    if not doc:
        return {}
    base = doc.get("base") or {"state": {}}
    events = doc["events"]
    upto = bisect.bisect_right([e["at"] for e in events], t)
    return fold(events[:upto], base["state"])


def view(vendor: str, device_id: str, *, name: str | None, type: str,
         owner: str | None, accepts: Iterable[str], state: dict[str, Any],
         overrides: Overrides, now: float) -> dict[str, Any]:
    """A device as the admin API answers it (``device_state.json``): who it is, what
    overrides it takes, its state as the vendor's API shows it now, the overrides in
    force now and the events recorded."""
    doc = overrides.doc(device_id)
    return {
        "vendor": vendor, "id": device_id, "name": name, "type": type, "owner": owner,
        "accepts": [f for f in (*FIELDS, *COMMANDS) if f in set(accepts)],
        "state": state,
        "overrides": state_at(doc, now),
        "events": [{**{k: v for k, v in e.items() if k != "seq"}, "iso": iso(e["at"])}
                   for e in (doc["events"] if doc else [])],
    }
