"""Qivivo's devices under the admin API's control (``Vendor.devices``; see
``core.devices`` for the vocabulary, the events and their storage).

=====================  =================================
thermostat             ``online``, ``battery_percent``
wireless-module        ``online``
gateway                ``online``
=====================  =================================

What the API shows (INFERRED: the API only relayed what the devices last sent, every
``COMMUNICATION`` minutes, through the gateway):

* an offline device stops communicating: its ``info`` keeps the
  ``lastCommunicationDate`` of its last communication before it went offline, and
  its readings (temperature, humidity, presence, order) are the values of that
  instant; an offline gateway does that to every device of the house (they talk to
  the cloud through it). Back online, everything is current again. Writes are still
  accepted (the cloud keeps them; the thermostat follows them, as its state shows
  once it communicates again);
* ``battery_percent`` replaces the thermostat's ``voltagePercentage``.

The overrides are read at the request's instant with ``Store.snapshot`` (so
remembered answers stay valid exactly while the overrides are unchanged).
"""

from __future__ import annotations

import math
from typing import Any

from ..core.devices import Overrides, fold, refused, view
from ..core.errors import MockcloudError
from ..core.store import Store
from . import models as m

VENDOR = "qivivo"
ACCEPTS = {"thermostat": ("online", "battery_percent"), "wireless-module": ("online",),
           "gateway": ("online",)}


def offline_since(overrides: Overrides, device_id: str, t: float) -> float | None:
    """The instant the device went offline, if it is offline at t (None: online)."""
    doc = overrides.doc(device_id)
    if not doc:
        return None
    base = doc.get("base") or {"at": 0.0, "state": {}}
    state = fold([], base["state"])
    since = None if state.get("online", True) else float(base["at"])
    for event in doc["events"]:
        if event["at"] > t:
            break
        was = state.get("online", True)
        state = fold([event], state)
        if not state.get("online", True):
            since = float(event["at"]) if was else since
        else:
            since = None
    return since


def last_communication(overrides: Overrides, home: dict[str, Any], device_id: str,
                       t: float) -> float | None:
    """The instant of the device's last communication, if it (or the gateway it talks
    through) is offline at t; None when it is online."""
    ids = [device_id]
    if home.get("gateway") and home["gateway"]["uuid"] != device_id:
        ids.append(home["gateway"]["uuid"])
    gone = [s for s in (offline_since(overrides, i, t) for i in ids) if s is not None]
    if not gone:
        return None
    step = m.COMMUNICATION * 60
    return max(float(home["setup"]), math.ceil(min(gone) / step) * step - step)


def _name(home: dict[str, Any], uuid: str, kind: str) -> str:
    if kind == "wireless-module":
        return next(mod["name"] for mod in home["modules"] if mod["uuid"] == uuid)
    return "Thermostat" if kind == "thermostat" else "Gateway"


def _state(model: m.Qivivo, uuid: str, kind: str) -> dict[str, Any]:
    if kind == "thermostat":
        return {**model.thermostat_info(uuid), **model.thermostat_temperature(uuid)}
    if kind == "wireless-module":
        return {**model.module_info(uuid), **model.module_order(uuid)}
    return model.gateway_info(uuid)


def _view(store: Store, tenant: str, uuid: str, dev: dict[str, Any],
          now: float) -> dict[str, Any]:
    model = m.Qivivo(store, tenant, dev["owner"], float(int(now)))
    home = model.home()
    return view(VENDOR, uuid, name=_name(home, uuid, dev["type"]), type=dev["type"],
                owner=dev["owner"], accepts=ACCEPTS[dev["type"]],
                state=_state(model, uuid, dev["type"]),
                overrides=Overrides(store, tenant, VENDOR), now=now)


class QivivoDevices:
    def list(self, store: Store, tenant: str, now: float) -> list[dict[str, Any]]:
        devices = sorted(store.list(tenant, m.DEVICE),
                         key=lambda kv: (kv[1]["owner"], m.TYPES.index(kv[1]["type"]), kv[0]))
        return [_view(store, tenant, uuid, dev, now) for uuid, dev in devices]

    def get(self, store: Store, tenant: str, device_id: str,
            now: float) -> dict[str, Any] | None:
        dev = store.get(tenant, m.DEVICE, device_id)
        return None if dev is None else _view(store, tenant, device_id, dev, now)

    def override(self, store: Store, tenant: str, device_id: str,
                 changes: dict[str, Any], now: float) -> dict[str, Any]:
        dev = store.get(tenant, m.DEVICE, device_id)
        if dev is None:
            raise MockcloudError("not_found", f"no Qivivo device {device_id!r}")
        no = refused(changes, ACCEPTS[dev["type"]])
        if no:
            raise MockcloudError(
                "invalid_argument",
                f"a Qivivo {dev['type']} has no {' or '.join(no)}: it takes only "
                f"{', '.join(ACCEPTS[dev['type']])}" +
                (" ('reachable' is 'online')" if "online" in ACCEPTS[dev["type"]] else ""))
        Overrides(store, tenant, VENDOR).record(device_id, changes, now)
        return _view(store, tenant, device_id, dev, now)


CONTROL = QivivoDevices()
