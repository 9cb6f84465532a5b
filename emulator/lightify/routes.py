"""Lightify's HTTP surface: parse, call the model, shape the reply.

Paths are the real cloud's, below the vendor mount: ``/v4/devices[/<id>]``,
``/v4/groups[/<id>]``, ``/v4/scenes[/<id>]``; trailing slashes are optional (the
OAuth routes are the core's, at the profile's paths). Replies are compact JSON with
an Express-style weak ETag, as the real (Express behind nginx) cloud sent; a GET
with a matching ``If-None-Match`` gets 304.
"""

from __future__ import annotations

import base64
import hashlib
from typing import Any

import orjson
from flask import Blueprint, request

from ..core.api import VendorAPI
from ..core.flaskapp import MockResponse as Response
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


# the REST resources under /v4: path -> the model's (list, get, change) methods and the
# JSON Schema of the change's body
RESOURCES = {"devices": ("devices", "device", "patch_device", "device_patch_request"),
             "groups": ("groups", "group", "patch_group", "group_patch_request"),
             "scenes": ("scenes", "scene", "apply_scene", "scene_patch_request")}


def routes(api: VendorAPI) -> Blueprint:
    bp = Blueprint("lightify", __name__)
    for path, methods in RESOURCES.items():
        _mount_resource(bp, api, path, *methods)
    return bp


def _mount_resource(bp: Blueprint, api: VendorAPI, path: str, list_all: str, get_one: str,
                    change: str, schema: str) -> None:
    """GET /v4/<path>, GET /v4/<path>/<id> and PATCH /v4/<path>/<id>."""
    def model(token) -> Lightify:
        ctx = api.ctx()
        return Lightify(ctx.store, ctx.tenant, token.user_id, ctx.now())

    def list_view(token):
        return reply(getattr(model(token), list_all)())

    def get_view(ident: str, token):
        return reply(getattr(model(token), get_one)(ident))

    def patch_view(ident: str, token):
        return reply(getattr(model(token), change)(ident, api.json_body(schema)))

    guard = api.guard()
    bp.add_url_rule(f"/v4/{path}", f"list_{path}", guard(list_view), methods=["GET"])
    bp.add_url_rule(f"/v4/{path}/<ident>", f"get_{path}", guard(get_view), methods=["GET"])
    bp.add_url_rule(f"/v4/{path}/<ident>", f"patch_{path}", guard(patch_view),
                    methods=["PATCH"])
