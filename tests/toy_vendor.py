"""A toy cloud, for tests only: everything a new vendor writes, and nothing else.

Served with ``MOCKCLOUD_VENDORS=toy_vendor:VENDOR`` (this folder on PYTHONPATH), it
gets OAuth (code, refresh, client credentials under two spellings), the bearer guard,
quotas, faults, the journal, the admin API and world load/export from the core.
Its cloud: each user has lamps; ``GET /api/lamps`` lists them, ``POST
/api/lamps/<id>`` with ``on=true|false`` (form or query) switches one; ``POST
/api/addwebhook`` (url) and ``/api/dropwebhook``: a webhook gets a tick every 10 virtual
minutes. Errors and tokens are shaped the way Netatmo shapes them, to show a vendor
decides that alone.
"""

from __future__ import annotations

import random
from typing import Any

from faker import Faker
from flask import Blueprint, jsonify, request

from emulator.core import webhooks
from emulator.core.api import VendorAPI
from emulator.core.errors import Envelope, MockcloudError
from emulator.core.oauth import AuthProfile
from emulator.core.quotas import QuotaConfig, QuotaRule
from emulator.core.store import Store
from emulator.core.vendor import DocRow, Vendor, WorldUser
from emulator.core.webhooks import PushSpec, Webhook

LAMP = "toy.lamp"

# ---------------------------------------------------------------- errors.py (codes)
ERRORS = Envelope(
    body=lambda status, code, message, err: {"error": {"code": code, "message": message}},
    codes={"token_missing": (400, 1), "token_unknown": (403, 2), "token_revoked": (403, 2),
           "token_expired": (403, 3), "insufficient_scope": (403, 13),
           "not_found": (404, 9), "invalid_argument": (400, 21), "rate_limited": (429, 26),
           "unavailable": (503, 27)})


# ---------------------------------------------------------------------- world.py
class World:
    def build(self, section: dict, users: list[WorldUser], seed: int) -> list[DocRow]:
        if section:
            raise ValueError(f"unknown field(s) {', '.join(sorted(section))}")
        rows = []
        for user in users:
            for i, lamp in enumerate(user.fields.get("lamps", [])):
                if not isinstance(lamp, dict) or not isinstance(lamp.get("id"), str):
                    raise ValueError(f"{user.where}.lamps[{i}] needs an id")
                rows.append((LAMP, lamp["id"], {"on": False, **lamp, "owner": user.id}))
        return rows

    def export(self, store: Store, tenant: str, users: list[dict]) -> tuple[dict, dict]:
        lamps: dict[str, list] = {}
        for _, doc in store.list(tenant, LAMP):
            owner = doc.pop("owner")
            lamps.setdefault(owner, []).append(doc)
        return {u["id"]: {"lamps": lamps.get(u["id"], [])} for u in users}, {}

    def generate(self, fake: Faker, rng: random.Random, index: int) -> dict[str, Any]:
        return {"lamps": [{"id": f"lamp-{index}-{n}", "name": fake.word()}
                          for n in range(rng.randrange(1, 4))]}


# ---------------------------------------------------------------------- models.py
def lamps(store: Store, tenant: str, owner: str) -> list[dict]:
    return sorted((d for _, d in store.list(tenant, LAMP) if d["owner"] == owner),
                  key=lambda d: d["id"])


def switch(store: Store, tenant: str, owner: str, ident: str, on: bool) -> dict:
    def change(doc):
        if doc is not None and doc["owner"] == owner:
            doc["on"] = on
        return doc

    doc = store.update(tenant, LAMP, ident, change)
    if doc is None or doc["owner"] != owner:
        raise MockcloudError("not_found", f"no lamp {ident!r}")
    return doc


TICK = 600  # the event source: a tick every TICK virtual seconds, for every webhook


def ticks(store: Store, tenant: str, hook: Webhook, t0: float, t1: float) -> list:
    return [(k * TICK, {"push_type": "tick", "user_id": hook.user_id, "tick": k})
            for k in range(int(t0 // TICK) + 1, int(t1 // TICK) + 1)]


# ---------------------------------------------------------------------- routes.py
def routes(api: VendorAPI) -> Blueprint:
    bp = Blueprint("toy", __name__)

    @bp.route("/api/lamps", methods=["GET", "POST"])
    @api.guard(["read_lamps"])
    def list_lamps(token):
        ctx = api.ctx()
        return jsonify({"body": lamps(ctx.store, ctx.tenant, token.user_id), "status": "ok"})

    @bp.post("/api/lamps/<ident>")
    @api.guard(["write_lamps"])
    def switch_lamp(ident: str, token):
        value = request.values.get("on")
        if value not in ("true", "false"):
            raise MockcloudError("invalid_argument", "'on' must be true or false")
        ctx = api.ctx()
        switch(ctx.store, ctx.tenant, token.user_id, ident, value == "true")
        return jsonify({"status": "ok"})

    @bp.post("/api/addwebhook")
    @api.guard(["read_lamps"])
    def add_webhook(token):
        webhooks.register(api.ctx(), api.vendor, token.client_id, token.user_id,
                          request.values.get("url"), request.values.getlist("app_types"))
        return jsonify({"status": "ok"})

    @bp.post("/api/dropwebhook")
    @api.guard(["read_lamps"])
    def drop_webhook(token):
        if not webhooks.drop(api.ctx(), api.vendor, token.client_id, token.user_id):
            raise MockcloudError("not_found", "no webhook to drop")
        return jsonify({"status": "ok"})

    return bp


# -------------------------------------------------------------------- __init__.py
def auth(settings: Any) -> AuthProfile:
    return AuthProfile(
        vendor="toy", authorize_path="/oauth2/authorize", token_path="/oauth2/token",
        grants=("authorization_code", "refresh_token", "client_credentials"),
        grant_aliases={"client_credential": "client_credentials"},
        scopes_supported=("read_lamps", "write_lamps"), scope_as_list=True,
        extra_token_fields=lambda t: {"expire_in": t["expires_in"]},
        oauth_error_body=lambda payload: {"error": payload["error"]},
        token_params=("access_token",), expires_in=600)


VENDOR = Vendor(
    name="toy", prefix="/toy", hosts=("api.toy.test",), auth=auth, routes=routes,
    errors=ERRORS, world=World(),
    quotas=QuotaConfig(enabled=True, rules=[QuotaRule("per-app", "client", 5, 60)]),
    push=PushSpec(source=ticks, activation=lambda hook: {
        "push_type": "webhook_activation", "user_id": hook.user_id}))
