"""pyatmo 9.9's webhook calls (``/webhooks/v1``; emulator/netatmo/webhooks_v1.py) on a
served emulator, pyatmo unchanged but for its base URL, a real receiver
(``clients.netatmo.WebhookReceiver``):

* ``async_addwebhook`` registers (the activation push arrives), ``async_list_webhooks``
  lists it; registering again meets the 409 pyatmo expects, and pyatmo's own way out
  (DELETE, POST again) moves the webhook to the new URL (a new activation there);
* the events then go to the new receiver, none to the old; ``async_dropwebhook``
  stops them; the list is empty;
* bad input: no url 400/10, a bad url 400/21, no security scope 403/13, bad JSON 400;
  every answer against the contract (the ``netatmo`` fixture).
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

import aiohttp
import pyatmo
import pytest
from pyatmo.exceptions import ApiError

from clients.netatmo import WebhookReceiver
from emulator.testing import Admin
from tests.netatmo_http import CI, USER, Netatmo, api_error
from tests.test_netatmo_clients import EmulatorAuth

T0 = 1_800_000_000
HOUR = 3600
SCOPE = "read_camera write_camera read_presence read_smokedetector"
T = TypeVar("T")


@pytest.fixture
def house(mockcloud: Admin) -> Admin:
    mockcloud.freeze(T0)
    mockcloud.set_quotas("netatmo", [], enabled=False)
    return mockcloud


def with_pyatmo(admin: Admin, scenario: Callable[[pyatmo.AbstractAsyncAuth], Awaitable[T]],
                scope: str = SCOPE) -> T:
    token = admin.issue_token("netatmo", CI[0], USER, scope)["access_token"]

    async def main() -> T:
        async with aiohttp.ClientSession() as session:
            return await scenario(EmulatorAuth(session, admin.url("netatmo") + "/", token))

    return asyncio.run(main())


def camera_pushes(receiver: WebhookReceiver) -> list[dict[str, Any]]:
    return [p for p in receiver.accepted() if p.get("push_type") != "webhook_activation"]


def test_pyatmo_adds_lists_moves_and_drops_its_webhook(house):
    with WebhookReceiver() as first, WebhookReceiver() as second:
        async def add(auth):
            await auth.async_addwebhook(first.url)
            return await auth.async_list_webhooks()

        assert with_pyatmo(house, add) == [first.url]
        house.flush()
        assert first.accepted() == [{"push_type": "webhook_activation"}]

        async def move(auth):
            await auth.async_addwebhook(second.url)   # 409, DELETE, POST again
            return await auth.async_list_webhooks()

        assert with_pyatmo(house, move) == [second.url]
        (hook,) = house.webhooks("netatmo")
        assert hook["url"] == second.url
        calls = [(e["request"]["method"], e["response"]["status"])
                 for e in house.journal(vendor="netatmo")
                 if e["request"]["path"].endswith("/webhooks/v1")]
        assert calls[-4:] == [("POST", 409), ("DELETE", 200), ("POST", 200),
                              ("GET", 200)]
        house.advance(6 * HOUR)
        house.flush()
        assert second.accepted()[0] == {"push_type": "webhook_activation"}
        assert camera_pushes(second) and camera_pushes(first) == []

        async def drop(auth):
            await auth.async_dropwebhook()
            return await auth.async_list_webhooks()

        assert with_pyatmo(house, drop) == []
        count = len(second.pushes)
        house.advance(6 * HOUR)
        house.flush()
        assert len(second.pushes) == count and house.webhooks("netatmo") == []


def test_webhooks_v1_refuses_bad_input(house, netatmo: Netatmo):
    url = f"{netatmo.base}/webhooks/v1"
    token = netatmo.issue(SCOPE)
    auth = {"Authorization": f"Bearer {token}"}
    assert api_error(netatmo.http.post(url, json={}, headers=auth))[:2] == (400, 10)
    assert api_error(netatmo.http.post(url, json={"url": "ftp://x"},
                                       headers=auth))[:2] == (400, 21)
    assert api_error(netatmo.http.post(url, data=b"{nope", headers={
        **auth, "Content-Type": "application/json"}))[0] == 400
    energy = {"Authorization": f"Bearer {netatmo.issue('read_thermostat')}"}
    assert api_error(netatmo.http.post(url, json={"url": "http://127.0.0.1:9/h"},
                                       headers=energy))[:2] == (403, 13)
    assert api_error(netatmo.http.get(url))[0] in (400, 401)
    # a form url works as the JSON one; DELETE without a webhook is fine
    resp = netatmo.http.post(url, data={"url": "http://127.0.0.1:9/h"}, headers=auth)
    assert resp.status_code == 200 and resp.json()["status"] == "ok", resp.text
    assert netatmo.http.get(url, headers=auth).json()["body"] == [
        {"url": "http://127.0.0.1:9/h"}]
    assert netatmo.http.delete(url, headers=auth).status_code == 200
    assert netatmo.http.delete(url, headers=auth).status_code == 200
    assert netatmo.http.get(url, headers=auth).json()["body"] == []


def test_pyatmo_registering_the_same_url_again_replaces_it(house):
    """The same URL again conflicts too: pyatmo replaces the webhook; a token without
    a security scope cannot list it."""
    with WebhookReceiver() as receiver:
        async def twice(auth):
            await auth.async_addwebhook(receiver.url)
            await auth.async_addwebhook(receiver.url)   # conflict, replaced
            return await auth.async_list_webhooks()

        assert with_pyatmo(house, twice) == [receiver.url]
        house.flush()
        # the first activation may have been dropped with its webhook before it went
        got = receiver.accepted()
        assert got in ([{"push_type": "webhook_activation"}] * 2,
                       [{"push_type": "webhook_activation"}])
        assert len(house.webhooks("netatmo")) == 1

        async def listing(auth):
            return await auth.async_list_webhooks()

        assert with_pyatmo(house, listing) == [receiver.url]
        with pytest.raises(ApiError):
            with_pyatmo(house, listing, scope="read_thermostat")
