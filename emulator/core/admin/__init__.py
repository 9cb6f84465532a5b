"""The control plane under ``/_mockcloud/``: plain views, one module per area.

* ``health``  ``GET /`` and ``/health``, ``POST /reset``
* ``world``   ``GET``, ``PUT``, ``POST /world``
* ``clock``   ``GET /clock``, ``POST /clock[/<action>]``
* ``faults``  ``GET``, ``POST``, ``DELETE /faults``, ``DELETE /faults/<id>``
* ``journal`` ``GET``, ``DELETE /journal``, ``GET /journal/cassette``
* ``tokens``  ``GET``, ``POST /tokens``, ``POST /tokens/revoke``, ``/tokens/introspect``
* ``quotas``  ``GET``, ``DELETE /quotas``, ``PUT /quotas/<vendor>``
* ``devices`` ``GET /devices/<vendor>``, ``GET``, ``PATCH /devices/<vendor>/<device_id>``
* ``events``  ``POST /devices/<vendor>/<device_id>/events`` (inject a device's event)
* ``webhooks`` ``GET /webhooks/<vendor>[/<id>[/deliveries]]``, ``DELETE .../<id>/ban``,
  ``POST /webhooks/<vendor>/push``, ``POST /webhooks/flush``
* ``openapi`` ``GET /openapi.yaml``, ``GET /openapi/<vendor>.yaml``

Per tenant, like everything. Views reach the emulator through
``current_app.extensions["mockcloud"]`` and the request's tenant through
``core.context.current()``. Every call passes ``lock.check`` first (host, origin, admin
token, content type); request bodies are checked against
``contracts/schemas/admin/*_request.json`` (``schemas``). Errors are
``MockcloudError``s rendered by ``errors.ADMIN``: ``{"error": <code>, "message": <text>}``.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from flask import Blueprint

from ..errors import ADMIN, MockcloudError
from . import (
    clock,
    devices,
    events,
    faults,
    health,
    journal,
    lock,
    openapi,
    quotas,
    tokens,
    webhooks,
    world,
)
from .openapi import bundle

if TYPE_CHECKING:  # pragma: no cover
    from ...app import Mockcloud

__all__ = ["AREAS", "bundle", "make_admin"]

AREAS = (health, world, clock, faults, journal, tokens, quotas, devices, events, webhooks,
         openapi)


def make_admin(mc: Mockcloud) -> Blueprint:
    """The admin blueprint (the app mounts it at ``/_mockcloud``). ``mc`` is the
    emulator the views will serve; they find it through ``current_app``."""
    admin = Blueprint("admin", __name__)
    admin.before_request(lock.check)
    admin.register_error_handler(MockcloudError, ADMIN.render)
    for area in AREAS:
        admin.register_blueprint(area.bp)
    return admin
