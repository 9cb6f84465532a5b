"""``/faults``: the tenant's fault rules (list, add, clear, remove one). Body of POST:
``fault_rules_request.json``; what no schema can say (instants) is checked by
``faults.parse_rule``."""

from __future__ import annotations

from flask import Blueprint, Response, jsonify

from ..clock import parse_instant
from ..errors import MockcloudError
from ..faults import Faults, parse_rule
from ._base import ctx, json_body
from .schemas import checked

bp = Blueprint("faults", __name__)


def _faults() -> Faults:
    c = ctx()
    return Faults(c.store, c.tenant)


@bp.get("/faults")
def listing() -> Response:
    return jsonify({"faults": [r.to_doc() for r in _faults().list()]})


@bp.post("/faults")
def add() -> tuple[Response, int]:
    """One rule or a list of them, all validated before any is added."""
    body = checked("fault_rules_request", json_body(), code="invalid_fault")
    items = body if isinstance(body, list) else [body]
    try:
        rules = [parse_rule(item, parse_instant) for item in items]
    except ValueError as exc:
        raise MockcloudError("invalid_request", str(exc), code="invalid_fault") from None
    faults = _faults()
    return jsonify({"faults": [faults.add(r).to_doc() for r in rules]}), 201


@bp.delete("/faults")
def clear() -> Response:
    _faults().clear()
    return jsonify({"faults": []})


@bp.delete("/faults/<rule_id>")
def remove(rule_id: str) -> Response:
    if not _faults().remove(rule_id):
        raise MockcloudError("not_found", f"no fault rule {rule_id[:40]!r} in this tenant")
    return jsonify({"removed": rule_id})
