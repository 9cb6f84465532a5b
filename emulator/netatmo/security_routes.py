"""The Security endpoints on Netatmo's blueprint (``routes.routes`` calls
:func:`register`): parameters in, ``security_views`` / ``security`` called, envelope
out (``transport``). ``getcamerapicture`` answers a JPEG, not the JSON envelope.

Scopes: reads take any of ``security.READ_SCOPES`` (the contract's alternatives);
``setpersonsaway`` / ``setpersonshome`` need ``write_camera``.

Webhooks (``core.webhooks``; payloads ``pushes``): ``addwebhook`` (``url``,
``app_types`` as sent, e.g. ``app_security``) registers the app's webhook for the
token's user -- one per (app, user): registering again replaces the URL -- and queues
the ``webhook_activation`` push; ``dropwebhook`` forgets it (none registered: ok as
well). Missing ``url`` 400/10, a URL that is not absolute http(s) 400/21. INFERRED:
both take any one of the six security read scopes the contract lists (the security
OpenAPI copy's; pyatmo checks none), so an app with only energy scopes cannot register
a webhook; every push of the user's homes (energy ones too) goes to every webhook of
the user, whatever ``app_types`` says.
"""

from __future__ import annotations

import math
import re

from flask import Blueprint

from ..core import webhooks
from ..core.api import VendorAPI
from ..core.context import Ctx
from ..core.errors import MockcloudError
from ..core.flaskapp import MockResponse
from ..core.oauth import Token
from . import security, security_views
from .transport import Params, endpoint, rated

READ = security.READ_SCOPES
WRITE = ("write_camera",)
INDEXED = re.compile(r"^person_ids\[(\d*)\]$")


def _size(params: Params, name: str = "size") -> int:
    return params.int(name, default=security.DEFAULT_SIZE, lo=0,
                      hi=security.MAX_SIZE)  # type: ignore[return-value]


def person_ids(params: Params) -> list[str] | None:
    """``person_ids`` in any form clients send: ``person_ids[]`` repeated (pyatmo),
    ``person_ids[0]``..., ``person_ids`` as a comma list or a JSON array."""
    def rank(name: str) -> tuple[int, int]:
        m = INDEXED.match(name)
        return (0, -1) if m is None else (1, int(m.group(1) or -1))

    names = sorted((n for n in params._values if n == "person_ids" or INDEXED.match(n)),
                   key=rank)
    out: list[str] = []
    for name in names:
        for value in params.list(name) or []:
            if not isinstance(value, str) or not value:
                raise MockcloudError("invalid_argument",
                                     f"Invalid {name}: person ids are strings")
            out.append(value)
    return out or None


def register(bp: Blueprint, api: VendorAPI) -> None:
    def home_id(params: Params) -> str:
        return params.str("home_id", required=True)  # type: ignore[return-value]

    @endpoint(bp, api, "gethomedata", READ, read=True)
    def gethomedata(params: Params, token: Token, ctx: Ctx):
        hid = params.str("home_id")
        return security_views.home_data(ctx, token.user_id,
                                        None if hid == "None" else hid, _size(params))

    @endpoint(bp, api, "getevents", READ, read=True)
    def getevents(params: Params, token: Token, ctx: Ctx):
        return security_views.events(
            ctx, token.user_id, home_id(params),
            device_types=params.list("device_types"), event_id=params.str("event_id"),
            person_id=params.str("person_id"), device_id=params.str("device_id"),
            module_id=params.str("module_id"),
            offset=params.int("offset", default=0, lo=0,
                              hi=security.MAX_OFFSET),  # type: ignore[arg-type]
            size=_size(params))

    @endpoint(bp, api, "geteventsuntil", READ, read=True)
    def geteventsuntil(params: Params, token: Token, ctx: Ctx):
        return security_views.events_until(ctx, token.user_id, home_id(params),
                                           params.str("event_id", required=True))

    @endpoint(bp, api, "getnextevents", READ, read=True)
    def getnextevents(params: Params, token: Token, ctx: Ctx):
        return security_views.next_events(ctx, token.user_id, home_id(params),
                                          params.str("event_id", required=True),
                                          _size(params))

    @endpoint(bp, api, "getlasteventof", READ, read=True)
    def getlasteventof(params: Params, token: Token, ctx: Ctx):
        return security_views.last_event_of(ctx, token.user_id, home_id(params),
                                            params.str("person_id", required=True),
                                            _size(params, "offset") or 1)

    @endpoint(bp, api, "setpersonsaway", WRITE)
    def setpersonsaway(params: Params, token: Token, ctx: Ctx):
        security.set_persons_away(ctx, token.user_id, home_id(params),
                                  params.str("person_id"), token.client_id)

    @endpoint(bp, api, "setpersonshome", WRITE)
    def setpersonshome(params: Params, token: Token, ctx: Ctx):
        security.set_persons_home(ctx, token.user_id, home_id(params), person_ids(params),
                                  token.client_id)

    @endpoint(bp, api, "addwebhook", READ)
    def addwebhook(params: Params, token: Token, ctx: Ctx):
        url = params.str("url", required=True)
        types = params.list("app_types") or []
        if not all(isinstance(t, str) for t in types):
            raise MockcloudError("invalid_argument", "Invalid app_types: expected strings")
        webhooks.register(ctx, api.vendor, token.client_id, token.user_id, url, types)

    @endpoint(bp, api, "dropwebhook", READ)
    def dropwebhook(params: Params, token: Token, ctx: Ctx):
        params.list("app_types")  # taken as sent (pyatmo: app_security)
        webhooks.drop(ctx, api.vendor, token.client_id, token.user_id)

    guard = api.guard(list(READ))
    status = getattr(api.settings, "rate_limit_status", None)

    @guard
    def picture(token: Token):
        ctx = api.ctx()
        params = Params.from_request()
        ctx._now = float(math.floor(ctx.now()))
        image = security_views.camera_picture(
            ctx, token.user_id, params.str("image_id", required=True),  # type: ignore[arg-type]
            params.str("key", required=True))  # type: ignore[arg-type]
        return MockResponse(image, status=200, content_type="image/jpeg")

    getcamerapicture = rated(picture, status)
    getcamerapicture.scopes = READ  # type: ignore[attr-defined]
    bp.add_url_rule("/api/getcamerapicture", "getcamerapicture", getcamerapicture,
                    methods=["GET", "POST"])
