"""A new vendor needs only its domain: the toy vendor (tests/toy_vendor.py, under 150
lines) served by a real ``mockcloud serve`` gets OAuth, the guard, quotas, faults, the
journal, the admin API and world export from the core."""

from __future__ import annotations

from pathlib import Path
from urllib.parse import parse_qs, urlparse

import pytest
import requests
import yaml

from emulator.core import world as core_world
from emulator.generate import generate
from emulator.testing import Admin
from tests.toy_server import serve_toy

HERE = Path(__file__).resolve().parent


@pytest.fixture(scope="module")
def toy_server(tmp_path_factory):
    with serve_toy(tmp_path_factory.mktemp("toy")) as server:
        yield server.url


@pytest.fixture
def toy(toy_server, request) -> Admin:
    return Admin(toy_server, f"toy-{request.node.name[:40]}".replace("[", "-").strip("]"))


def token(toy: Admin, grant: str = "client_credentials", **form) -> requests.Response:
    data = {"grant_type": grant, "client_id": "toy-app", "client_secret": "toy-secret",
            "scope": "read_lamps write_lamps", **form}
    return requests.post(toy.url("toy") + "/oauth2/token", data=data)


def lamps(toy: Admin, access: str, **kw) -> requests.Response:
    return requests.get(toy.url("toy") + "/api/lamps", params={"access_token": access}, **kw)


@pytest.mark.parametrize("spelling", ["client_credentials", "client_credential"])
def test_client_credentials_act_for_the_owner(toy, spelling):
    resp = token(toy, spelling, scope="read_lamps")
    assert resp.status_code == 200, resp.text
    body = resp.json()
    assert body["scope"] == ["read_lamps"] and body["expire_in"] == body["expires_in"] == 600
    assert "refresh_token" not in body
    assert [lamp["id"] for lamp in lamps(toy, body["access_token"]).json()["body"]] == ["l1", "l2"]


def test_code_flow_refresh_and_the_vendors_token_errors(toy):
    base = toy.url("toy")
    resp = requests.get(base + "/oauth2/authorize", allow_redirects=False, params={
        "client_id": "toy-app", "redirect_uri": "https://example.com/cb",
        "response_type": "code", "state": "s", "scope": "read_lamps write_lamps"})
    assert resp.status_code == 302, resp.text
    code = parse_qs(urlparse(resp.headers["Location"]).query)["code"][0]
    pair = token(toy, "authorization_code", code=code,
                 redirect_uri="https://example.com/cb").json()
    fresh = token(toy, "refresh_token", refresh_token=pair["refresh_token"])
    assert fresh.status_code == 200 and fresh.json()["scope"] == ["read_lamps", "write_lamps"]
    again = token(toy, "refresh_token", refresh_token=pair["refresh_token"])
    assert (again.status_code, again.json()) == (400, {"error": "invalid_grant"})
    assert lamps(toy, fresh.json()["access_token"]).status_code == 200


def test_guard_reasons_in_the_vendors_envelope(toy):
    def code_of(resp: requests.Response) -> tuple[int, int]:
        return resp.status_code, resp.json()["error"]["code"]

    base = toy.url("toy")
    assert code_of(requests.get(base + "/api/lamps")) == (400, 1)
    assert code_of(lamps(toy, "nope")) == (403, 2)
    reader = token(toy, scope="read_lamps").json()["access_token"]
    writer = token(toy, scope="read_lamps write_lamps").json()["access_token"]
    auth = {"Authorization": f"Bearer {writer}"}
    assert code_of(requests.post(base + "/api/lamps/l1", data={"on": "true"},
                                 params={"access_token": reader})) == (403, 13)
    assert code_of(requests.post(base + "/api/lamps/l3", data={"on": "true"},
                                 headers=auth)) == (404, 9)  # bob's
    assert code_of(requests.post(base + "/api/lamps/l1", data={"on": "yes"},
                                 headers=auth)) == (400, 21)
    assert requests.post(base + "/api/lamps/l1", data={"on": "true"}, headers=auth).ok
    toy.advance(601)
    assert code_of(lamps(toy, reader)) == (403, 3)
    assert requests.get(base + "/api/nothing").json()["error"]["code"] == "not_found"


def test_quota_fault_journal_and_admin(toy):
    access = token(toy).json()["access_token"]
    toy.add_fault(vendor="toy", path="/api/lamps", status=503, first_n=1)
    fault = lamps(toy, access)
    assert (fault.status_code, fault.json()["error"]["code"]) == (503, 27)
    for _ in range(5):  # the faulted call never reached the quota
        assert lamps(toy, access).status_code == 200
    over = lamps(toy, access)
    assert (over.status_code, over.json()["error"]["code"]) == (429, 26)
    assert int(over.headers["Retry-After"]) > 0
    entries = toy.journal(vendor="toy")
    assert [e["response"]["status"] for e in entries][-7:] == [503] + [200] * 5 + [429]
    assert entries[-7]["note"].startswith("fault") and entries[-1]["client"] == "toy-app"
    assert {t["vendor"] for t in toy.tokens()} == {"toy"}


def test_world_export_round_trips(toy):
    access = token(toy).json()["access_token"]
    requests.post(toy.url("toy") + "/api/lamps/l2", data={"on": "true"},
                  params={"access_token": access})
    exported = toy.export_world()["toy"]
    ann, bob = exported["users"]
    assert ann["email"] == "ann@toy.test" and bob["id"] == "bob-1"
    assert {lamp["id"]: lamp["on"] for lamp in ann["lamps"]} == {"l1": False, "l2": True}
    assert exported["apps"][0]["owner"] == "ann@toy.test"
    toy.load_world(yaml.safe_dump({"toy": exported}))
    assert toy.export_world()["toy"] == exported


def test_world_generate_asks_the_vendor():
    import toy_vendor

    text = generate(homes=3, seed=1, vendors=(toy_vendor.VENDOR,))
    data = core_world.parse(text)
    assert len(data["toy"]["users"]) == 3 and all(u["lamps"] for u in data["toy"]["users"])
    rows = core_world.build(data, {"toy": toy_vendor.VENDOR}, 0)
    assert sum(kind == "toy.lamp" for kind, _, _ in rows) >= 3


def test_the_toy_vendor_is_small():
    assert len((HERE / "toy_vendor.py").read_text().splitlines()) < 150


def test_a_vendor_without_devices_under_control_is_400_on_the_device_routes(toy):
    """The toy gives no ``Vendor.devices``: the admin device routes say so (a vendor
    with them, Lightify, is on the same server)."""
    for method, path in [("GET", "/devices/toy"), ("GET", "/devices/toy/l1"),
                         ("PATCH", "/devices/toy/l1")]:
        resp = requests.request(method, f"{toy.url()}/_mockcloud{path}", timeout=30,
                                json={"online": False})
        assert resp.status_code == 400, (method, path, resp.text)
        assert resp.json()["error"] == "invalid_request"
        assert "no devices the admin API can control" in resp.json()["message"]
    assert toy.devices("lightify")
