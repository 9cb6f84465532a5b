"""``/quotas``: each vendor's quota config and the live counters; set a vendor's rules
(body: ``quota_config_request.json``); reset the counters."""

from __future__ import annotations

from flask import Blueprint, Response, jsonify

from ..errors import MockcloudError
from ..quotas import QuotaConfig, Quotas
from ._base import ctx, json_body, mockcloud, vendor_or_404
from .schemas import checked

bp = Blueprint("quotas", __name__)


def _quotas() -> Quotas:
    c = ctx()
    return Quotas(c.store, c.tenant)


@bp.get("/quotas")
def describe() -> Response:
    q = _quotas()
    return jsonify({
        "config": {name: q.config(name, v.quotas).to_doc()
                   for name, v in mockcloud().vendors.items()},
        "counters": q.inspect(ctx().now()),
    })


@bp.put("/quotas/<vendor>")
def configure(vendor: str) -> Response:
    """The vendor is checked first (404), then the body (400)."""
    vendor_or_404(vendor)
    body = checked("quota_config_request", json_body(), code="invalid_quota")
    try:
        cfg = QuotaConfig.parse(body)
    except ValueError as exc:
        raise MockcloudError("invalid_request", str(exc), code="invalid_quota") from None
    _quotas().set_config(vendor, cfg)
    return jsonify(cfg.to_doc())


@bp.delete("/quotas")
def reset() -> Response:
    _quotas().reset()
    return jsonify({"counters": []})
