"""Lightify's devices under the admin API's control (``Vendor.devices``; see
``core.devices``).

A Lightify device (gateway, light, plug) has one thing to override: ``online``
(``reachable`` is the core's alias of it). Batteries, windows and weather it has not:
400. The override does not change the device's document; the API lays the overrides
in force at the request's virtual instant over it (``models.Lightify``), so
``GET /v4/devices`` shows ``online: false`` from the moment of the override on, and a
PATCH of an offline device is accepted and stored, as for any offline device
(see the package docstring).
"""

from __future__ import annotations

from typing import Any

from ..core.devices import Overrides, refused, view
from ..core.errors import MockcloudError
from ..core.store import Store
from . import models as m

VENDOR = "lightify"
ACCEPTS = ("online",)


def _view(doc: dict[str, Any], overrides: Overrides, now: float) -> dict[str, Any]:
    state = m.public_device(doc, overrides.at(doc["id"], now))
    return view(VENDOR, doc["id"], name=doc.get("name"), type=doc["type"],
                owner=doc.get("owner"), accepts=ACCEPTS, state=state,
                overrides=overrides, now=now)


class LightifyDevices:
    def list(self, store: Store, tenant: str, now: float) -> list[dict[str, Any]]:
        overrides = Overrides(store, tenant, VENDOR)
        docs = sorted((d for _, d in store.list(tenant, m.DEVICE)),
                      key=lambda d: (str(d.get("owner", "")), d.get("order", 0), d["id"]))
        return [_view(d, overrides, now) for d in docs]

    def get(self, store: Store, tenant: str, device_id: str,
            now: float) -> dict[str, Any] | None:
        doc = store.get(tenant, m.DEVICE, device_id)
        return None if doc is None else _view(doc, Overrides(store, tenant, VENDOR), now)

    def override(self, store: Store, tenant: str, device_id: str,
                 changes: dict[str, Any], now: float) -> dict[str, Any]:
        doc = store.get(tenant, m.DEVICE, device_id)
        if doc is None:
            raise MockcloudError("not_found", f"no Lightify device {device_id!r}")
        no = refused(changes, ACCEPTS)
        if no:
            raise MockcloudError(
                "invalid_argument",
                f"Lightify devices have no {' or '.join(no)}: a {doc['type']} "
                f"({doc.get('deviceModel', '')}) takes only 'online' (or 'reachable')")
        overrides = Overrides(store, tenant, VENDOR)
        overrides.record(device_id, changes, now)
        return _view(doc, overrides, now)


CONTROL = LightifyDevices()
