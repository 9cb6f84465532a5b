"""``/webhooks``: the webhooks the vendors' apps registered (``core.webhooks``): list
them, read one (its cursor, counts and ban) and its deliveries, lift a ban, queue a
one-off push for a user, and ``POST /webhooks/flush``: send what is due now and wait
for it, so a test needs no sleep. Bodies: ``webhook_push_request.json``,
``webhook_flush_request.json``.

The vendor is checked first (404 unknown, 400 ``invalid_request`` when it sends no
webhooks), then the body, then the webhook or user (404).
"""

from __future__ import annotations

from typing import Any

from flask import Blueprint, Response, jsonify, request

from .. import webhooks
from ..clock import parse_instant
from ..errors import MockcloudError
from ..oauth import find_user
from ._base import ctx, int_arg, json_body, mockcloud, vendor_or_404
from .schemas import checked

bp = Blueprint("webhooks", __name__)
FLUSH_TIMEOUT = 10.0


def _vendor(name: str) -> Any:
    vendor = vendor_or_404(name)
    if vendor.push is None:
        raise MockcloudError("invalid_request", f"vendor {name!r} sends no webhooks (its "
                             f"Vendor gives no 'push')")
    return vendor


def _hook(vendor: str, hook_id: str) -> dict[str, Any]:
    _vendor(vendor)
    doc = _registry().get(hook_id)
    if doc is None or doc["vendor"] != vendor:
        raise MockcloudError("not_found", f"{vendor} has no webhook {hook_id[:40]!r} in this "
                             f"tenant (GET /_mockcloud/webhooks/{vendor} lists them)")
    return doc


def _registry() -> webhooks.Webhooks:
    c = ctx()
    return webhooks.Webhooks(c.store, c.tenant)


@bp.get("/webhooks/<vendor>")
def listing(vendor: str) -> Response:
    _vendor(vendor)
    docs = _registry().list(vendor, request.args.get("user"), request.args.get("client_id"))
    now = ctx().now()
    return jsonify({"webhooks": [webhooks.describe(d, now) for d in docs]})


@bp.get("/webhooks/<vendor>/<hook_id>")
def one(vendor: str, hook_id: str) -> Response:
    return jsonify(webhooks.describe(_hook(vendor, hook_id), ctx().now()))


@bp.get("/webhooks/<vendor>/<hook_id>/deliveries")
def deliveries(vendor: str, hook_id: str) -> Response:
    _hook(vendor, hook_id)
    return jsonify({"deliveries": _registry().deliveries(
        hook_id, since=int_arg("since", 0) or 0, limit=int_arg("limit"))})


@bp.delete("/webhooks/<vendor>/<hook_id>/ban")
def lift_ban(vendor: str, hook_id: str) -> Response:
    _hook(vendor, hook_id)
    doc = _registry().lift_ban(hook_id)
    if doc is None:  # dropped meanwhile
        raise MockcloudError("not_found", f"{vendor} has no webhook {hook_id[:40]!r}")
    return jsonify(webhooks.describe(doc, ctx().now()))


@bp.post("/webhooks/<vendor>/push")
def inject(vendor: str) -> tuple[Response, int]:
    """Queue ``payload`` for every webhook of ``user`` (of ``client_id`` if given), at
    ``at`` (default: the virtual now)."""
    spec = _vendor(vendor)
    body = checked("webhook_push_request", json_body())
    try:
        at = parse_instant(body["at"]) if body.get("at") is not None else ctx().now()
    except ValueError as exc:
        raise MockcloudError("invalid_request", f"'at': {exc}") from None
    user = find_user(mockcloud().auth[vendor].profile, body["user"])
    if user is None:
        raise MockcloudError("not_found", f"no {vendor} user {body['user'][:80]!r}")
    queued = _registry().push(spec.name, user["id"], body["payload"], at,
                              body.get("client_id"))
    if not queued:
        raise MockcloudError("not_found", f"{vendor} user {body['user'][:80]!r} has no "
                             f"webhook" + (f" of app {body['client_id'][:80]!r}"
                                           if body.get("client_id") else ""))
    return jsonify({"queued": queued, "at": at}), 201


@bp.post("/webhooks/flush")
def flush() -> Response:
    """Deliver what is due in this tenant now and wait for deliveries in progress (at
    most ``timeout`` real seconds)."""
    body = checked("webhook_flush_request", json_body())
    return jsonify(mockcloud().deliverer.flush(ctx().tenant,
                                               float(body.get("timeout", FLUSH_TIMEOUT))))
