"""Netatmo cameras' ``vpn_url`` served by the emulator (emulator/netatmo/camera_live.py):
pyatmo, unchanged but for its base URL, reads homestatus and gets the live snapshot
of the indoor and the outdoor camera from the address it was given (no request leaves
for Netatmo's VPN), a JPEG Pillow opens; the ping answers a local URL; a camera
offline or switched off, or an address naming no camera, is a 404.
"""

from __future__ import annotations

import asyncio
import io
from typing import Any

import aiohttp
import pyatmo
import pytest
import requests
from PIL import Image

from emulator.testing import Admin
from tests.netatmo_http import CI, HOME_ID, USER
from tests.test_netatmo_clients import EmulatorAuth

T0 = 1_800_000_000                        # Fri 2027-01-15 09:00 in Paris (daylight)
CAMERA, OUTDOOR = "70:ee:50:00:00:20", "70:ee:50:00:00:30"
SCOPE = "read_camera write_camera read_presence write_presence access_camera"


@pytest.fixture
def house(mockcloud: Admin) -> tuple[Admin, str]:
    mockcloud.freeze(T0)
    mockcloud.set_quotas("netatmo", [], enabled=False)
    return mockcloud, mockcloud.issue_token("netatmo", CI[0], USER, SCOPE)["access_token"]


def live(admin: Admin, token: str) -> dict[str, Any]:
    """pyatmo: homestatus, then each camera's vpn_url and live snapshot (or the
    ApiError's text)."""
    async def scenario() -> dict[str, Any]:
        async with aiohttp.ClientSession() as session:
            account = pyatmo.AsyncAccount(EmulatorAuth(session, admin.url("netatmo") + "/",
                                                       token))
            await account.async_update_topology()
            await account.async_update_status(HOME_ID)
            out: dict[str, Any] = {}
            for mid in (CAMERA, OUTDOOR):
                cam = account.homes[HOME_ID].modules[mid]
                try:
                    shot: Any = await cam.async_get_live_snapshot()
                except pyatmo.ApiError as err:
                    shot = str(err)
                out[mid] = (cam.vpn_url, shot)
            return out

    return asyncio.run(scenario())


def test_pyatmo_gets_live_snapshots_from_the_emulator(house):
    admin, token = house
    got = live(admin, token)
    for mid, (url, shot) in got.items():
        assert url.startswith(admin.url("netatmo") + "/restricted/10.255."), url
        image = Image.open(io.BytesIO(shot))
        assert (image.format, image.size) == ("JPEG", (1280, 720)), mid
        image.load()
    # a second later: another picture; the same second: the same bytes
    assert live(admin, token)[CAMERA][1] == got[CAMERA][1]
    admin.advance(1)
    assert live(admin, token)[CAMERA][1] != got[CAMERA][1]
    # the ping pyatmo uses to check a camera's address
    ping = requests.post(got[CAMERA][0] + "/command/ping", timeout=10)
    assert ping.status_code == 200 and ping.json()["local_url"] == got[CAMERA][0]


def test_a_camera_offline_or_off_does_not_answer(house):
    admin, token = house
    urls = {mid: url for mid, (url, _) in live(admin, token).items()}
    requests.post(f"{admin.url('netatmo')}/api/setstate", timeout=10,
                  headers={"Authorization": f"Bearer {token}"},
                  json={"home": {"id": HOME_ID, "modules": [{"id": OUTDOOR,
                                                             "monitoring": "off"}]}})
    admin.override_device("netatmo", CAMERA, online=False)
    for mid in (CAMERA, OUTDOOR):
        resp = requests.get(urls[mid] + "/live/snapshot_720.jpg", timeout=10)
        assert resp.status_code == 404 and resp.json()["error"]["code"] == 9, mid
    admin.override_device("netatmo", CAMERA, online=True)
    _, shot = live(admin, token)[CAMERA]
    Image.open(io.BytesIO(shot)).load()
    # an address naming no camera, a path no camera serves
    other = urls[CAMERA].replace("/restricted/10.255.", "/restricted/10.254.")
    assert requests.get(other + "/live/snapshot_720.jpg", timeout=10).status_code == 404
    assert requests.get(urls[CAMERA] + "/live/other.jpg", timeout=10).status_code == 404
