"""``POST /devices/<vendor>/<device_id>/events``: inject an event a device reports -- a
smoke alarm going off, an unknown face at the door camera, a door tag opened -- at an
instant (default: the virtual now; the past and the future are fine: the vendor's API
shows it once the clock has reached it). Body: ``device_event_request.json``; answer
``device_event.json`` (201).

The vendor is checked first (404 unknown; 400 ``invalid_request`` when it has no
devices under control or they report no events), then the body (400
``invalid_event``), then the device (404), then what the device can report (400
``invalid_event``, e.g. smoke on a camera).

A vendor takes injections by giving its ``Vendor.devices`` (``core.devices``'
``DeviceControl``) a method ``inject(store, tenant, device_id, event, now) -> dict``:
``event`` is the checked body (``type``, ``at`` as epoch seconds or None, and the
vendor's own optional fields), the answer what the vendor made of it (its event id
...); it raises ``MockcloudError("not_found")`` for an unknown device and
``MockcloudError("invalid_argument")`` for an event the device cannot report. What an
event type means and which devices report it is the vendor's (Netatmo:
``emulator/netatmo/persons.py``, ``INJECTABLE``).
"""

from __future__ import annotations

from typing import Any

from flask import Blueprint, Response, jsonify

from ..clock import iso, parse_instant
from ..errors import MockcloudError
from ._base import ctx, json_body, vendor_or_404
from .schemas import checked

bp = Blueprint("events", __name__)


def _injector(name: str) -> Any:
    vendor = vendor_or_404(name)
    control = vendor.devices
    if control is None or not callable(getattr(control, "inject", None)):
        raise MockcloudError("invalid_request", f"vendor {name!r} has no devices that "
                             "report events (its DeviceControl has no 'inject')")
    return control


@bp.post("/devices/<vendor>/<device_id>/events")
def inject(vendor: str, device_id: str) -> tuple[Response, int]:
    control, c = _injector(vendor), ctx()
    event = dict(checked("device_event_request", json_body(), code="invalid_event"))
    if event.get("at") is not None:
        try:
            event["at"] = parse_instant(event["at"])
        except ValueError as exc:
            raise MockcloudError("invalid_request", f"'at': {exc}",
                                 code="invalid_event") from None
    try:
        made = control.inject(c.store, c.tenant, device_id, event, c.now())
    except MockcloudError as exc:
        if exc.reason == "not_found":
            raise MockcloudError("not_found", f"{vendor} has no device {device_id[:80]!r} "
                                 f"in this tenant (GET /_mockcloud/devices/{vendor} lists "
                                 "them)") from None
        if exc.reason in ("invalid_argument", "invalid_request") and exc.code is None:
            exc.code = "invalid_event"
        raise
    at = float(made.get("at", event.get("at") or c.now()))
    return jsonify({"vendor": vendor, "device_id": device_id, "type": event["type"],
                    "at": at, "iso": iso(at), "event": made}), 201
