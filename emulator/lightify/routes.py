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
from flask import Blueprint, request

from ..core import consent
from ..core.api import guarded
from ..core.context import current
from ..core.flaskapp import MockResponse as Response
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


# the REST resources under /v4: path -> the model's (list, get, change) methods
RESOURCES = {"devices": ("devices", "device", "patch_device"),
             "groups": ("groups", "group", "patch_group"),
             "scenes": ("scenes", "scene", "apply_scene")}


def _model(token) -> Lightify:
    ctx = current()
    return Lightify(ctx.store, ctx.tenant, token.user_id)


def make_blueprint(vendor: Vendor, server: VendorAuthServer) -> Blueprint:
    bp = Blueprint("lightify", __name__)
    api = guarded(vendor, server)
    auth = server.profile

    @bp.errorhandler(LightifyError)
    def _lightify_error(exc: LightifyError):
        return render(exc.status, exc.code, exc.message)

    @bp.route(auth.authorize_path, methods=["GET", "POST"])
    def authorize():
        return consent.authorize(server)

    @bp.post(auth.token_path)
    def access_token():
        return server.create_token_response()

    @bp.post(auth.revoke_path)
    def revoke_token():
        return server.create_endpoint_response("revocation")

    for path, methods in RESOURCES.items():
        _mount_resource(bp, api, path, *methods)
    return bp


def _mount_resource(bp: Blueprint, api, path: str, list_all: str, get_one: str,
                    change: str) -> None:
    """GET /v4/<path>, GET /v4/<path>/<id> and PATCH /v4/<path>/<id>."""
    def list_view(token):
        return reply(getattr(_model(token), list_all)())

    def get_view(ident: str, token):
        return reply(getattr(_model(token), get_one)(ident))

    def patch_view(ident: str, token):
        return reply(getattr(_model(token), change)(ident, json_body()))

    bp.add_url_rule(f"/v4/{path}", f"list_{path}", api(list_view), methods=["GET"])
    bp.add_url_rule(f"/v4/{path}/<ident>", f"get_{path}", api(get_view), methods=["GET"])
    bp.add_url_rule(f"/v4/{path}/<ident>", f"patch_{path}", api(patch_view),
                    methods=["PATCH"])
