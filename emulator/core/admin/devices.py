"""``/devices/<vendor>[/<device_id>]``: read a vendor's devices and override their state
(offline, battery, open window, outdoor weather). Body of the PATCH:
``device_override_request.json``; answers: ``device_state.json``, ``device_list.json``.

The vendor is checked first (404 unknown, 400 ``invalid_request`` without devices under
control), then the body (400 ``invalid_override``), then the device (404), then what the
device can take (400 ``invalid_override``). The vocabulary, the storage and the event
semantics are ``core.devices``'; each vendor implements ``Vendor.devices``.
"""

from __future__ import annotations

from flask import Blueprint, Response, jsonify

from ..devices import DeviceControl, normalise
from ..errors import MockcloudError
from ._base import ctx, json_body, vendor_or_404
from .schemas import checked

bp = Blueprint("devices", __name__)


def _control(name: str) -> DeviceControl:
    vendor = vendor_or_404(name)
    if vendor.devices is None:
        raise MockcloudError("invalid_request", f"vendor {name!r} has no devices the admin "
                             f"API can control (its Vendor gives no 'devices')")
    return vendor.devices


def _device_not_found(vendor: str, device_id: str) -> MockcloudError:
    return MockcloudError("not_found", f"{vendor} has no device {device_id!r} in this tenant "
                          f"(GET /_mockcloud/devices/{vendor} lists them)")


@bp.get("/devices/<vendor>")
def list_devices(vendor: str) -> Response:
    control, c = _control(vendor), ctx()
    return jsonify({"devices": control.list(c.store, c.tenant, c.now())})


@bp.get("/devices/<vendor>/<device_id>")
def get_device(vendor: str, device_id: str) -> Response:
    control, c = _control(vendor), ctx()
    device = control.get(c.store, c.tenant, device_id, c.now())
    if device is None:
        raise _device_not_found(vendor, device_id)
    return jsonify(device)


@bp.patch("/devices/<vendor>/<device_id>")
def override_device(vendor: str, device_id: str) -> Response:
    control, c = _control(vendor), ctx()
    changes = normalise(checked("device_override_request", json_body(),
                                code="invalid_override"))
    try:
        return jsonify(control.override(c.store, c.tenant, device_id, changes, c.now()))
    except MockcloudError as exc:
        if exc.reason == "not_found":
            raise _device_not_found(vendor, device_id) from None
        if exc.reason in ("invalid_argument", "invalid_request") and exc.code is None:
            exc.code = "invalid_override"
        raise
