"""Netatmo's devices under the admin API's control (``Vendor.devices``; see
``core.devices`` for the vocabulary, the events and their storage).

What each device takes:

==========================  ===============================================
NAPlug (relay), other home  ``online``
modules (OTH, OTM, ...)
NATherm1, NRV               ``online``, ``battery_percent``, ``window_open``
NAMain, NHC                 ``online``, ``weather``
NAModule1-4                 ``online``, ``battery_percent``, ``weather``
==========================  ===============================================

Energy modules: the API reads the overrides itself (``energy.Live``): an offline
module leaves homestatus's ``modules`` for ``body.errors`` (code 6) and takes the
modules it bridges with it; ``battery_percent`` sets its battery; ``window_open`` on
a thermostat or valve opens its room's window (``open_window``, no heating, the room
cools fast) from the override's instant to the one closing it.

Stations and Home Coaches: :func:`with_overrides` turns the core's events into
``stations.py``'s ``doc["state"]`` timeline (each entry the whole override state from
its ``since``; ``online`` is its ``reachable``), merged over the world's own entries
key by key, before the routes hand the documents to ``stations``. A ``weather``
override moves that station's (or module's) readings only: a home at the same place
keeps the unadjusted weather (INFERRED, simple).

Security devices (cameras, door tags, smoke and CO alarms) also take injected events
(``inject``: ``POST /_mockcloud/devices/netatmo/<id>/events``, see ``security``).

Lights, dimmers, plugs, shutters, gateways, cameras, door tags, smoke and CO alarms
(``home_devices.TYPES``): the view's ``state`` carries homestatus's fields for the
module at now (``module_status.device_fields``: on, brightness, power,
sum_energy_elec; current and target position; monitoring, floodlight; a door tag's
status and battery ...) beside ``reachable``, ``home_id``, ``room_id`` and
``bridge``. They take
``online`` (a door tag also ``battery_percent``) and, as *commands*, the properties
setstate sets on them (``home_devices.SPECS``: ``on``, ``brightness``,
``target_position``, ``monitoring``, ``floodlight``): what the module's own controls
do, recorded in the home's device log at the whole second as setstate records it
(``home_devices.check_command``: setstate's checks of names and values; no scope and
no reachability: INFERRED), pushed to webhooks as setstate's changes are.
"""

from __future__ import annotations

import math
from typing import Any

from ..core.devices import Overrides, commands, refused, state_at, view
from ..core.errors import MockcloudError
from ..core.store import Store
from . import energy_physics as ep
from . import home_devices, pushes
from .world import META, all_devices, find_device

VENDOR = "netatmo"
KIND = f"{VENDOR}.override"
ACCEPTS: dict[str, tuple[str, ...]] = {
    "NATherm1": ("online", "battery_percent", "window_open"),
    "NRV": ("online", "battery_percent", "window_open"),
    "NAMain": ("online", "weather"), "NHC": ("online", "weather"),
    "NAModule1": ("online", "battery_percent", "weather"),
    "NAModule2": ("online", "battery_percent", "weather"),
    "NAModule3": ("online", "battery_percent", "weather"),
    "NAModule4": ("online", "battery_percent", "weather"),
    **{t: ("online", *spec.props) for t, spec in home_devices.SPECS.items()},
    "NACamDoorTag": ("online", "battery_percent"),
}


def _seed(store: Store, tenant: str) -> int:
    doc = store.get(tenant, META, "world")
    return int(doc["seed"]) if doc else 0


def _state(dev: dict[str, Any], parent: dict[str, Any], family: str,
           overrides: Overrides, seed: int, now: float) -> dict[str, Any]:
    forced = overrides.at(dev["id"], now)
    out: dict[str, Any] = {"reachable": bool(forced.get("online",
                                                        dev.get("reachable", True)))}
    if family == "home":
        out["home_id"] = parent["id"]
        for key in ("room_id", "bridge"):
            if key in dev:
                out[key] = dev[key]
        if dev["type"] in ("NATherm1", "NRV"):
            out["battery_percent"] = ep.module_battery(
                dev, now, seed, forced.get("battery_percent")).percent
            out["window_open"] = bool(forced.get("window_open", False))
        elif dev["type"] in home_devices.TYPES:
            out.update(_home_device(dev, parent, forced, overrides.store, overrides.tenant,
                                    seed, now))
    else:
        if "battery_percent" in forced:
            out["battery_percent"] = forced["battery_percent"]
        if "weather" in forced:
            out["weather"] = forced["weather"]
    return out


def _home_device(dev: dict[str, Any], home: dict[str, Any], forced: dict[str, Any],
                 store: Store, tenant: str, seed: int, now: float) -> dict[str, Any]:
    """homestatus's fields of a ``home_devices`` module at ``now`` (the whole second,
    as the API reads it)."""
    from . import module_status  # (it builds on this module)

    now = math.floor(now)
    log = ((store.get(tenant, home_devices.KIND, home["id"]) or {}).get("modules")
           or {}).get(dev["id"])
    tag = module_status.tag_events(store, tenant, seed, home, now).get(dev["id"]) \
        if dev["type"] == "NACamDoorTag" else None
    return module_status.device_fields(dev, log, now, seed, forced.get("battery_percent"),
                                       tag)


def _view(dev: dict[str, Any], parent: dict[str, Any], family: str,
          overrides: Overrides, seed: int, now: float) -> dict[str, Any]:
    name = dev.get("name") or dev.get("module_name") or dev.get("station_name")
    return view(VENDOR, dev["id"], name=name, type=dev["type"], owner=parent.get("owner"),
                accepts=ACCEPTS.get(dev["type"], ("online",)),
                state=_state(dev, parent, family, overrides, seed, now),
                overrides=overrides, now=now)


class NetatmoDevices:
    def list(self, store: Store, tenant: str, now: float) -> list[dict[str, Any]]:
        overrides, seed = Overrides(store, tenant, VENDOR), _seed(store, tenant)
        return [_view(d, p, f, overrides, seed, now)
                for d, p, f in all_devices(store, tenant)]

    def _find(self, store: Store, tenant: str, device_id: str
              ) -> tuple[dict[str, Any], dict[str, Any], str] | None:
        return find_device(store, tenant, device_id)

    def get(self, store: Store, tenant: str, device_id: str,
            now: float) -> dict[str, Any] | None:
        found = self._find(store, tenant, device_id)
        if found is None:
            return None
        return _view(*found, Overrides(store, tenant, VENDOR), _seed(store, tenant), now)

    def override(self, store: Store, tenant: str, device_id: str,
                 changes: dict[str, Any], now: float) -> dict[str, Any]:
        found = self._find(store, tenant, device_id)
        if found is None:
            raise MockcloudError("not_found", f"no Netatmo device {device_id!r}")
        dev = found[0]
        accepts = ACCEPTS.get(dev["type"], ("online",))
        no = refused(changes, accepts)
        if no:
            raise MockcloudError(
                "invalid_argument",
                f"a Netatmo {dev['type']} has no {' or '.join(no)}: it takes "
                f"{', '.join(accepts)} ('reachable' is 'online')")
        held, commanded = commands(changes)
        command = home_devices.check_command(dev, commanded) if commanded else None
        # at the whole second, as Netatmo's API reads it (transport.endpoint)
        now = math.floor(now)
        overrides = Overrides(store, tenant, VENDOR)
        owners = [found[1].get("owner")] if found[2] == "home" else []
        # pushed: a camera's (dis)connection, monitoring or floodlight
        with pushes.announcing(store, tenant, owners, now,
                               horizon=pushes.sec.BOOT_TO_CONNECTION + 1):
            if held.get("clear") or len(held) > 1:
                overrides.record(dev["id"], held, now)
            if command is not None:
                home_devices.record_commands(store, tenant, found[1]["id"], [command], now,
                                             already="none")
        return _view(*found, overrides, _seed(store, tenant), now)

    def inject(self, store: Store, tenant: str, device_id: str, event: dict[str, Any],
               now: float) -> dict[str, Any]:
        """An event the device reports (``core.admin.events``): a smoke alarm, an
        unknown face, a door tag opened ... at ``event["at"]`` (``security.inject``;
        the types: ``persons.INJECTABLE``)."""
        from . import persons as pz
        from .security import _home_of, inject

        at = math.floor(event["at"] if event.get("at") is not None else now)
        home = _home_of(store, tenant, device_id)
        owners = [home.get("owner")] if home else []
        # pushed now when it is not later than now, else by the clock (pushes)
        with pushes.announcing(store, tenant, owners, at):
            return inject(store, tenant, device_id, event["type"], at,
                          stored=math.floor(now),
                          **{k: event[k] for k in pz.EVENT_KEYS - {"at", "type", "module_id"}
                             if event.get(k) is not None})


CONTROL = NetatmoDevices()


# ------------------------------------------------------------- stations' doc["state"]

def _world_snapshot(entries: list[dict[str, Any]], t: float) -> dict[str, Any]:
    snap: dict[str, Any] = {}
    for e in entries:
        if e.get("since", -math.inf) > t:
            break
        snap = e
    return {k: v for k, v in snap.items() if k != "since"}


def timeline(world: list[dict[str, Any]], doc: dict[str, Any] | None
             ) -> list[dict[str, Any]]:
    """One id's ``stations`` override timeline: the world's entries with the admin
    API's events laid over them (key by key; ``weather`` field by field)."""
    if not doc:
        return world
    instants = sorted({-math.inf, *(e.get("since", -math.inf) for e in world),
                       *(e["at"] for e in doc["events"])})
    out = []
    for x in instants:
        entry = _world_snapshot(world, x)
        forced = state_at(doc, x)
        if "online" in forced:
            entry["reachable"] = forced["online"]
        if "battery_percent" in forced:
            entry["battery_percent"] = forced["battery_percent"]
        if "weather" in forced:
            entry["weather"] = {**entry.get("weather", {}), **forced["weather"]}
        if x != -math.inf:
            entry["since"] = x
        out.append(entry)
    return out


def with_overrides(store: Store, tenant: str, docs: list[dict[str, Any]]
                   ) -> list[dict[str, Any]]:
    """Station / Home Coach documents with the admin API's overrides in their
    ``state`` (documents without any are returned as they are)."""
    overrides = Overrides(store, tenant, VENDOR)
    out = []
    for doc in docs:
        ids = [doc["id"], *(m["id"] for m in doc.get("modules", []))]
        logs = {i: d for i in ids if (d := overrides.doc(i))}
        if not logs:
            out.append(doc)
            continue
        state = dict(doc.get("state") or {})
        for ident, log in logs.items():
            world = state.get(ident) or []
            state[ident] = timeline(world if isinstance(world, list) else [world], log)
        out.append({**doc, "state": state})
    return out
