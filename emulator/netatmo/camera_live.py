"""Netatmo cameras' own addresses: the ``vpn_url`` homestatus and gethomedata give a
camera (``home_devices.vpn_path`` under the client's base URL) is served here, so
pyatmo's ``async_get_live_snapshot`` (GET ``<vpn_url>/live/snapshot_720.jpg``) and
its URL check (POST ``<vpn_url>/command/ping``) reach the emulator instead of
Netatmo's VPN.

* ``/live/snapshot_720.jpg``: a 1280 x 720 JPEG of what the camera sees at the
  virtual now (``pictures.live``: its room or garden, dark outdoors at night unless
  the floodlight is on).
* ``/command/ping``: ``{"local_url": <vpn_url>, "product_name"}`` (what pyatmo reads;
  the camera is not on the client's network, so the local URL is the VPN one).

INFERRED (the notes do not cover cameras' addresses): the address is the capability,
as the cloud's VPN URLs are: no token is asked and no quota counted; an address that
names no camera of the tenant 404/9; a camera offline (admin override, world
``reachable``) or with its monitoring off answers 404/9 ``camera unreachable`` (the
real one does not answer at all). Other paths under a camera's address: 404/9.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from typing import Any

import orjson
from flask import Blueprint

from ..core import lookup
from ..core.api import VendorAPI
from ..core.context import Ctx
from ..core.errors import MockcloudError
from ..core.flaskapp import MockResponse
from ..physics.sun import is_dark
from . import home_devices, models, pictures
from .security import View
from .world import CAMERA_AT, CAMERAS, HOME

SNAPSHOT, PING = "/live/snapshot_720.jpg", "/command/ping"
PRODUCT = {"NACamera": "Welcome Netatmo", "NOC": "Presence Netatmo"}


def _camera(ctx: Ctx, seed: int, prefix: str) -> tuple[dict[str, Any], dict[str, Any]]:
    """(home, camera) whose VPN path is ``prefix``; else ``not_found``. Found by the
    world's index (``CAMERA_AT``); in a state from before it, among every home."""
    at = lookup.get(ctx.store, ctx.tenant, CAMERA_AT, prefix)
    if at is lookup.UNINDEXED:
        homes: Iterable[dict[str, Any]] = (h for _, h in ctx.store.list(ctx.tenant, HOME))
    else:
        home = ctx.store.snapshot(ctx.tenant, HOME, at[0]) if at else None
        homes = [home] if home is not None else []
    for home in homes:
        for mod in home["modules"]:
            if mod["type"] in CAMERAS and home_devices.vpn_path(seed, mod["id"]) == prefix:
                return home, mod
    raise MockcloudError("not_found", "No camera at this address")


def register(bp: Blueprint, api: VendorAPI) -> None:
    def camera_live(rest: str):
        ctx = api.ctx()
        now = ctx._now = float(math.floor(ctx.now()))
        path = "/restricted/" + rest
        suffix = next((s for s in (SNAPSHOT, PING) if path.endswith(s)), None)
        if suffix is None:
            raise MockcloudError("not_found", "Nothing at this camera address")
        seed = models.world_seed(ctx)
        home, cam = _camera(ctx, seed, path[:-len(suffix)])
        view = View(ctx.store, ctx.tenant, seed, home, ctx.base)
        state = view.device_state(cam["id"], now)
        if not view.online(cam["id"], now) or state.get("monitoring", "on") != "on":
            raise MockcloudError("not_found", f"camera unreachable: {cam['id']}")
        if suffix == PING:
            body = {"local_url": home_devices._vpn_url(seed, cam["id"], ctx.base),
                    "product_name": PRODUCT[cam["type"]]}
            return MockResponse(orjson.dumps(body), status=200,
                                content_type="application/json")
        outdoor = cam["type"] == "NOC"
        image = pictures.live(cam["id"], int(now), outdoor,
                              outdoor and is_dark(view.lat, view.lon, now),
                              state.get("floodlight") == "on")
        return MockResponse(image, status=200, content_type="image/jpeg")

    bp.add_url_rule("/restricted/<path:rest>", "camera_live", camera_live,
                    methods=["GET", "POST"])
