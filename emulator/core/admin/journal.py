"""``/journal``: the tenant's recorded vendor exchanges (list, clear) and their export
as a vcrpy cassette. Secrets are ``REDACTED`` in both unless ``?redact=false``."""

from __future__ import annotations

from typing import Any

from flask import Blueprint, Response, jsonify, request

from ..journal import Journal, redact_entry, to_cassette
from ._base import ctx, flag_arg, int_arg, mockcloud

bp = Blueprint("journal", __name__)


def _journal() -> Journal:
    c = ctx()
    return Journal(c.store, c.tenant, mockcloud().settings.journal_size)


def _entries() -> list[dict[str, Any]]:
    """The entries the query asks for: ``vendor``, ``status``, ``path``, ``since``,
    ``limit``."""
    return _journal().entries(
        vendor=request.args.get("vendor"), status=int_arg("status"),
        path=request.args.get("path"), since=int_arg("since", 0) or 0,
        limit=int_arg("limit"))


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
    return Response(to_cassette(_entries(), redact=flag_arg("redact", True)),
                    mimetype="application/yaml")
