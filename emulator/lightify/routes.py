"""Lightify's HTTP surface: parse, call the model, shape the reply.

Paths are the real cloud's, below the vendor mount: ``/oauth2/authorize``,
``/oauth2/access_token``, ``/oauth2/revoke_token``, ``/v4/devices[/<id>]``,
``/v4/groups[/<id>]``, ``/v4/scenes[/<id>]``; trailing slashes are optional.
Replies are compact JSON with an Express-style weak ETag, as the real (Express
behind nginx) cloud sent; a GET with a matching ``If-None-Match`` gets 304.
"""

from __future__ import annotations

import base64
import hashlib
from typing import Any

import orjson
from flask import Blueprint, Response, request

from ..core import consent
from ..core.api import guarded
from ..core.context import current
from ..core.oauth import VendorAuthServer
from ..core.vendor import Vendor
from .errors import LightifyError, bad_request, render
from .models import Lightify

JSON_TYPE = "application/json; charset=utf-8"


def express_etag(body: bytes) -> str:
    digest = base64.b64encode(hashlib.sha1(body).digest()).decode()[:27]
    return f'W/"{len(body):x}-{digest}"'


def reply(payload: Any, status: int = 200) -> Response:
    body = orjson.dumps(payload)
    etag = express_etag(body)
    environ = request.environ
    if environ["REQUEST_METHOD"] == "GET" and status == 200 and etag in environ.get(
            "HTTP_IF_NONE_MATCH", ""):
        resp = Response(status=304)
    else:
        resp = Response(body, status=status, content_type=JSON_TYPE)
    resp.headers.add("ETag", etag)
    return resp


def json_body() -> Any:
    raw = request.environ.get("mockcloud.body")
    if raw is None:
        raw = request.get_data(cache=True)
    if not raw.strip():
        raise bad_request("The request body is empty: send a JSON object.")
    try:
        return orjson.loads(raw)
    except orjson.JSONDecodeError as exc:
        raise bad_request(f"The request body is not valid JSON: {exc}") from None


def make_blueprint(vendor: Vendor, server: VendorAuthServer) -> Blueprint:
    bp = Blueprint("lightify", __name__)
    api = guarded(vendor, server)

    def model(token) -> Lightify:
        ctx = current()
        return Lightify(ctx.store, ctx.tenant, token.user_id)

    @bp.errorhandler(LightifyError)
    def _lightify_error(exc: LightifyError):
        return render(exc.status, exc.code, exc.message)

    @bp.route("/oauth2/authorize", methods=["GET", "POST"])
    def authorize():
        return consent.authorize(server)

    @bp.post("/oauth2/access_token")
    def access_token():
        return server.create_token_response()

    @bp.post("/oauth2/revoke_token")
    def revoke_token():
        return server.create_endpoint_response("revocation")

    @bp.get("/v4/devices")
    @api
    def list_devices(token):
        return reply(model(token).devices())

    @bp.get("/v4/devices/<ident>")
    @api
    def get_device(ident: str, token):
        return reply(model(token).device(ident))

    @bp.patch("/v4/devices/<ident>")
    @api
    def patch_device(ident: str, token):
        return reply(model(token).patch_device(ident, json_body()))

    @bp.get("/v4/groups")
    @api
    def list_groups(token):
        return reply(model(token).groups())

    @bp.get("/v4/groups/<ident>")
    @api
    def get_group(ident: str, token):
        return reply(model(token).group(ident))

    @bp.patch("/v4/groups/<ident>")
    @api
    def patch_group(ident: str, token):
        return reply(model(token).patch_group(ident, json_body()))

    @bp.get("/v4/scenes")
    @api
    def list_scenes(token):
        return reply(model(token).scenes())

    @bp.get("/v4/scenes/<ident>")
    @api
    def get_scene(ident: str, token):
        return reply(model(token).scene(ident))

    @bp.patch("/v4/scenes/<ident>")
    @api
    def apply_scene(ident: str, token):
        return reply(model(token).apply_scene(ident, json_body()))

    return bp
