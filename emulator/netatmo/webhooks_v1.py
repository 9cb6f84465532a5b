"""Netatmo's ``/webhooks/v1``: the webhook registration pyatmo 9.9 uses instead of
``addwebhook`` / ``dropwebhook`` (``pyatmo.auth``: ``async_addwebhook``,
``async_dropwebhook``, ``async_list_webhooks``). The same registry (``core.webhooks``):
one webhook per (app, user), the activation push on registration, the same pushes.

* ``POST /webhooks/v1`` with a JSON body ``{"url": ...}`` (a form or query ``url``
  is taken too): registers the app's webhook for the token's user and answers the
  bare success envelope. When one is already registered: 409 (``{"error": {"code":
  21, ...}}``), as pyatmo expects ("one webhook per application": it DELETEs the
  incumbent and POSTs once more). Missing ``url`` 400/10, a URL that is not
  absolute http(s) 400/21.
* ``DELETE /webhooks/v1``: forgets it (none registered: ok as well).
* ``GET /webhooks/v1``: ``body``: ``[{"url"}]``, the app's webhooks for the user
  (none or one).

INFERRED (the notes know only addwebhook / dropwebhook): the paths, methods and body
are pyatmo's; the answers are Netatmo's usual envelope; the 409 is for any webhook
already registered (the same URL too); the registry is per app and user as
addwebhook's, and the scopes are addwebhook's (any security read scope).
"""

from __future__ import annotations

import math
import time

from flask import Blueprint, request

from ..core import webhooks
from ..core.api import VendorAPI
from ..core.errors import MockcloudError
from ..core.oauth import Token
from . import security
from .transport import Params, _body, envelope, rated

PATH = "/webhooks/v1"


def register(bp: Blueprint, api: VendorAPI) -> None:
    guard = api.guard(list(security.READ_SCOPES))
    status = getattr(api.settings, "rate_limit_status", None)
    vendor = api.vendor

    @guard
    def serve(token: Token):
        started = time.perf_counter()
        ctx = api.ctx()
        now = ctx._now = float(math.floor(ctx.now()))
        registry = webhooks.Webhooks(ctx.store, ctx.tenant)
        if request.method == "GET":
            docs = registry.list(vendor.name, token.user_id, token.client_id)
            return envelope([{"url": d["url"]} for d in docs], now, started)
        if request.method == "DELETE":
            webhooks.drop(ctx, vendor, token.client_id, token.user_id)
            return envelope(None, now, started)
        params = Params.from_request(_body(api, None))
        url = params.str("url", required=True)
        if registry.get(webhooks.hook_id(vendor.name, token.client_id, token.user_id)):
            raise MockcloudError("conflict", "A webhook is already registered for this "
                                 "application: DELETE /webhooks/v1 first")
        webhooks.register(ctx, vendor, token.client_id, token.user_id, url)  # type: ignore[arg-type]
        return envelope(None, now, started)

    webhooks_v1 = rated(serve, status)
    webhooks_v1.scopes = security.READ_SCOPES  # type: ignore[attr-defined]
    bp.add_url_rule(PATH, "webhooks_v1", webhooks_v1, methods=["GET", "POST", "DELETE"])
