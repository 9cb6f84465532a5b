"""``/journal``: the tenant's recorded vendor exchanges (list, clear) and their export
as a vcrpy cassette. Secrets are ``REDACTED`` in both unless ``?redact=false``.
``?direction=inbound|outbound`` picks requests made to the vendors or webhook
deliveries made by them; a cassette holds the inbound ones unless asked."""

from __future__ import annotations

from typing import Any

from flask import Blueprint, Response, jsonify, request

from ..errors import MockcloudError
from ..journal import INBOUND, OUTBOUND, Journal, redact_entry, to_cassette
from ._base import ctx, flag_arg, int_arg, mockcloud

bp = Blueprint("journal", __name__)


def _journal() -> Journal:
    c = ctx()
    return Journal(c.store, c.tenant, mockcloud().settings.journal_size)


def _entries(direction: str | None = None) -> list[dict[str, Any]]:
    """The entries the query asks for: ``vendor``, ``status``, ``path``, ``since``,
    ``limit``, ``direction`` (default: ``direction``)."""
    direction = request.args.get("direction", direction)
    if direction not in (None, INBOUND, OUTBOUND):
        raise MockcloudError("invalid_request", f"'direction' must be {INBOUND} or "
                             f"{OUTBOUND}, not {direction[:40]!r}")
    return _journal().entries(
        vendor=request.args.get("vendor"), status=int_arg("status"),
        path=request.args.get("path"), since=int_arg("since", 0) or 0,
        limit=int_arg("limit"), direction=direction)


@bp.get("/journal")
def listing() -> Response:
    entries = _entries()
    if flag_arg("redact", True):
        entries = [redact_entry(e) for e in entries]
    return jsonify({"entries": entries})


@bp.delete("/journal")
def clear() -> Response:
    return jsonify({"cleared": _journal().clear()})


@bp.get("/journal/cassette")
def cassette() -> Response:
    return Response(to_cassette(_entries(INBOUND), redact=flag_arg("redact", True)),
                    mimetype="application/yaml")
