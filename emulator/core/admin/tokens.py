"""``/tokens``: the tenant's OAuth tokens of every vendor: list, revoke, introspect, and
issue one without the authorization-code flow (``POST /tokens``). Bodies:
``token_request.json`` (a token), ``token_issue_request.json``."""

from __future__ import annotations

from typing import Any

from flask import Blueprint, Response, jsonify, request

from ..errors import MockcloudError
from ..oauth import Token, Tokens
from ._base import ctx, json_body, mockcloud, vendor_or_404
from .schemas import checked

bp = Blueprint("tokens", __name__)


def view(vendor: str, tok: Token) -> dict[str, Any]:
    """A token as the admin API shows it (``token.json``)."""
    doc = tok.doc
    state = "revoked" if tok.is_revoked() else "expired" if tok.is_expired() else "active"
    return {"vendor": vendor, "access_token": doc["access_token"],
            "refresh_token": doc.get("refresh_token"), "client_id": doc["client_id"],
            "user": doc.get("user_id"), "scope": doc.get("scope", ""),
            "issued_at": doc["issued_at"], "expires_at": doc["issued_at"] + doc["expires_in"],
            "state": state, "refresh_revoked": tok.refresh_revoked()}


def find(value: str) -> tuple[str, Token] | None:
    """The vendor and token an access or refresh token string belongs to."""
    for name in mockcloud().vendors:
        tok = Tokens(ctx(), name).find(value)
        if tok is not None:
            return name, tok
    return None


def _token_arg() -> str:
    return checked("token_request", json_body())["token"]


@bp.get("/tokens")
def listing() -> Response:
    want_vendor, want_state = request.args.get("vendor"), request.args.get("state")
    views = [view(name, tok) for name in mockcloud().vendors if want_vendor in (None, name)
             for tok in Tokens(ctx(), name).all()]
    return jsonify({"tokens": [t for t in views if want_state in (None, t["state"])]})


@bp.post("/tokens")
def issue() -> tuple[Response, int]:
    """A token pair for ``client_id`` acting for ``user``, as the vendor's token
    endpoint would answer it (tests skip the authorization-code flow)."""
    body = checked("token_issue_request", json_body())
    vendor = body["vendor"]
    vendor_or_404(vendor)
    server = mockcloud().auth[vendor]
    return jsonify(server.issue(body["client_id"], body.get("user"), body.get("scope"))), 201


@bp.post("/tokens/revoke")
def revoke() -> Response:
    found = find(_token_arg())
    if found is None:
        raise MockcloudError("not_found", "no such access or refresh token in this tenant")
    vendor, tok = found
    return jsonify(view(vendor, Tokens(ctx(), vendor).revoke(tok.doc["access_token"])))


@bp.post("/tokens/introspect")
def introspect() -> Response:
    """RFC 7662-shaped; an unknown token is ``{"active": false}``, not an error."""
    found = find(_token_arg())
    if found is None:
        return jsonify({"active": False})
    shown = view(*found)
    return jsonify({"active": shown["state"] == "active", **shown,
                    "exp": int(shown["expires_at"]), "iat": int(shown["issued_at"])})
