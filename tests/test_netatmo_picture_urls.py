"""Netatmo picture URLs name the emulator the client used (issue 9).

Snapshots, vignettes and faces carry a ``url``: ``getcamerapicture`` with the picture's
id and key under the base URL of the request that got them (scheme, host, port, the
tenant's path, the ``/netatmo`` prefix when the path picked the vendor), so a client
fetches it from the same emulator. Shown with pyatmo, unchanged but for its base URL:
once under ``/_t/<tenant>/netatmo``, once on the Host ``api.netatmo.com`` (an aiohttp
resolver sends that name to the served emulator; the tenant in a header) -- each URL
it got is fetched with pyatmo's own ``async_get_image`` and opened with Pillow. The
remembered answers (``core.answers``) keep each base's own URLs, and webhook pushes
carry URLs under the base their webhook was registered from.
"""

from __future__ import annotations

import asyncio
import io
import socket
from typing import Any
from urllib.parse import urlsplit

import aiohttp
import pyatmo
import pytest
import requests
from aiohttp.abc import AbstractResolver
from PIL import Image

from clients.netatmo import NetatmoClient, WebhookReceiver
from emulator.testing import Admin
from tests.netatmo_http import CI, HOME_ID, USER
from tests.test_netatmo_clients import EmulatorAuth

T0 = 1_800_000_000                        # Fri 2027-01-15 09:00 in Paris
DAY = 86400
SCOPE = ("read_camera write_camera access_camera read_presence access_presence "
         "write_presence read_smokedetector read_thermostat write_thermostat")
SIZES = {"snapshot": (160, 120), "vignette": (64, 64), "face": (120, 120)}


class Loopback(AbstractResolver):
    """Every name resolves to 127.0.0.1 (the vendor's real host name, served here)."""

    async def resolve(self, host: str, port: int = 0, family: int = socket.AF_INET
                      ) -> list[dict[str, Any]]:
        return [{"hostname": host, "host": "127.0.0.1", "port": port,
                 "family": socket.AF_INET, "proto": 0, "flags": socket.AI_NUMERICHOST}]

    async def close(self) -> None:
        pass


@pytest.fixture
def house(mockcloud: Admin) -> tuple[Admin, str]:
    """A day of the routine (people, movement, outdoors) behind, then a token."""
    mockcloud.freeze(T0)
    mockcloud.set_quotas("netatmo", [], enabled=False)
    mockcloud.advance(DAY)
    return mockcloud, mockcloud.issue_token("netatmo", CI[0], USER, SCOPE)["access_token"]


def pictures_seen(base: str, token: str, headers: dict[str, str] | None = None,
                  resolver: AbstractResolver | None = None) -> list[tuple[str, str, bytes]]:
    """pyatmo at ``base``: topology (faces), events (snapshots, vignettes); every
    picture URL it got, fetched with its own ``async_get_image``: (role, url, bytes)."""
    async def scenario() -> list[tuple[str, str, bytes]]:
        connector = aiohttp.TCPConnector(resolver=resolver) if resolver else None
        async with aiohttp.ClientSession(headers=headers, connector=connector) as session:
            auth = EmulatorAuth(session, base, token)
            account = pyatmo.AsyncAccount(auth)
            await account.async_update_topology()
            home = account.homes[HOME_ID]
            await account.async_update_events(HOME_ID)
            urls = [("face", p.url) for p in home.persons.values()]
            for event in home.events.values():
                for role in ("snapshot", "vignette"):
                    media = getattr(event, role, None)
                    if media:
                        urls.append((role, media["url"]))
                for sub in event.subevents or ():
                    urls += [(role, getattr(sub, role)["url"]) for role in
                             ("snapshot", "vignette") if getattr(sub, role, None)]
            assert {r for r, _ in urls} == set(SIZES), urls
            return [(role, url, await auth.async_get_image(endpoint="", base_url=url))
                    for role, url in urls]

    return asyncio.run(scenario())


def check_jpegs(seen: list[tuple[str, str, bytes]], base: str) -> None:
    for role, url, data in seen:
        assert url.startswith(f"{base}/api/getcamerapicture?image_id="), url
        image = Image.open(io.BytesIO(data))
        assert (image.format, image.size) == ("JPEG", SIZES[role]), url
        image.load()


def test_pyatmo_fetches_the_pictures_under_the_tenant_prefix(house):
    admin, token = house
    base = admin.url("netatmo")
    assert "/_t/" in base and base.endswith("/netatmo")
    seen = pictures_seen(base + "/", token)
    check_jpegs(seen, base)
    assert len({url for _, url, _ in seen}) == len(seen) > 3


def test_pyatmo_fetches_the_pictures_on_the_vendor_host(house):
    admin, token = house
    port = urlsplit(admin.base).port
    host = f"http://api.netatmo.com:{port}"
    seen = pictures_seen(host + "/", token, headers={"X-Mockcloud-Tenant": admin.tenant},
                         resolver=Loopback())
    # the tenant came in a header: the URL names it in its path, so it alone is enough
    check_jpegs(seen, f"{host}/_t/{admin.tenant}")


def test_each_base_gets_its_own_urls_from_remembered_answers(house):
    """The same read, the same second, the same token through two bases: the answer
    is remembered per base (core.answers), each with its own URLs."""
    admin, token = house
    port = urlsplit(admin.base).port
    auth = {"Authorization": f"Bearer {token}"}

    def snapshot_urls(url: str, **headers: str) -> set[str]:
        for _ in range(2):      # the second is the remembered answer
            resp = requests.get(url, params={"home_id": HOME_ID, "size": 30},
                                headers={**auth, **headers}, timeout=10)
            assert resp.status_code == 200, resp.text
            events = resp.json()["body"]["homes"][0]["events"]
            found = {e["snapshot"]["url"] for e in events if "snapshot" in e}
            assert found
        return found

    prefixed = snapshot_urls(f"{admin.url('netatmo')}/api/gethomedata")
    hosted = snapshot_urls(f"http://127.0.0.1:{port}/api/gethomedata",
                           Host=f"api.netatmo.com:{port}",
                           **{"X-Mockcloud-Tenant": admin.tenant})
    again = snapshot_urls(f"{admin.url('netatmo')}/api/gethomedata")
    assert again == prefixed
    assert all(u.startswith(admin.url("netatmo") + "/api/") for u in prefixed)
    assert all(u.startswith(f"http://api.netatmo.com:{port}/_t/{admin.tenant}/api/")
               for u in hosted)
    # the same pictures, by id and key
    assert {u.split("?")[1] for u in prefixed} == {u.split("?")[1] for u in hosted}


def test_webhook_pushes_carry_urls_under_the_registering_base(house):
    admin, token = house
    base = admin.url("netatmo")
    with WebhookReceiver() as receiver:
        client = NetatmoClient(*CI, base, token={"access_token": token})
        assert client.addwebhook(receiver.url, "app_security")["status"] == "ok"
        admin.advance(2 * 3600)
        admin.flush()
        pushes = [p for p in receiver.accepted() if p.get("push_type") in (
            "NACamera-person", "NACamera-movement")]
    assert pushes
    for push in pushes:
        urls = [push["snapshot_url"]] + [p["face_url"] for p in push.get("persons", ())
                                         if p.get("face_url")]
        if "vignette_url" in push:
            urls.append(push["vignette_url"])
        for url in urls:
            assert url.startswith(f"{base}/api/getcamerapicture?"), url
            resp = requests.get(url, headers={"Authorization": f"Bearer {token}"},
                                timeout=10)
            assert resp.status_code == 200 and resp.headers["Content-Type"] == "image/jpeg"
            Image.open(io.BytesIO(resp.content)).load()
    # the admin API's record shows what was sent
    (hook,) = admin.webhooks("netatmo")
    sent = [d["payload"] for d in admin.deliveries("netatmo", hook["id"])
            if d["payload"].get("push_type") in ("NACamera-person", "NACamera-movement")]
    assert sent and all(p["snapshot_url"].startswith(base) for p in sent)
