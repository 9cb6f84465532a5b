"""``GET /health`` (and ``GET /``): is the emulator up; ``POST /reset``: the tenant back
to its start world and real time; ``DELETE /tenant``: the tenant gone."""

from __future__ import annotations

from flask import Blueprint, Response, jsonify

from .. import served, tenancy
from ..clock import iso
from ._base import ctx, mockcloud

bp = Blueprint("health", __name__)

TENANTS_NOTE = ("tenant names are listed only to a caller that sends the admin token: "
                "start mockcloud with --admin-token <token> (or MOCKCLOUD_ADMIN_TOKEN) and "
                "send 'Authorization: Bearer <token>'")


@bp.get("/")
@bp.get("/health")
def health() -> Response:
    c, mc = ctx(), mockcloud()
    body = {
        "status": "ok", "tenant": c.tenant, "vendors": sorted(mc.vendors),
        "state": getattr(c.store, "backend", "memory"),
        "now": c.now(), "now_iso": iso(c.now()),
    }
    why = served.mismatch(c.store, mc.world_base.digest)
    if why is not None:
        body["warnings"] = [why]
    # the lock has let only callers with the token through when one is set
    if mc.settings.admin_token:
        body["tenants"] = [t for t in c.store.tenants() if tenancy.valid(t)]
    else:
        body["tenants_note"] = TENANTS_NOTE
    return jsonify(body)


@bp.post("/reset")
def reset() -> Response:
    """The body (JSON, if any) is ignored."""
    c = ctx()
    mockcloud().reset(c.tenant)
    return jsonify({"status": "reset", "tenant": c.tenant})


@bp.delete("/tenant")
def delete_tenant() -> Response:
    """The tenant and everything of it go (``reset`` without the start world installed
    again); a request that names it later starts it afresh. ``default`` too."""
    c = ctx()
    mockcloud().delete_tenant(c.tenant)
    return jsonify({"status": "deleted", "tenant": c.tenant})
