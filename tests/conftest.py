"""Shared fixtures: the live emulator comes from the mockcloud pytest plugin
(emulator/pytest_plugin.py, loaded through its entry point)."""

from __future__ import annotations

import base64
import hashlib
import os
import secrets
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import parse_qs, urlparse

import pytest
import requests
import urllib3

from emulator.testing import Admin

# real Redis servers (redis_url, redis_cluster_url) for the Redis store tests
pytest_plugins = ["tests.redis_server"]

urllib3.disable_warnings(urllib3.exceptions.InsecureRequestWarning)

# every store made by the tests (in-process or in a served subprocess, which inherits
# the environment) checks that no caller changes a shared snapshot (core/store.py)
os.environ.setdefault("MOCKCLOUD_CHECK_SNAPSHOTS", "1")

ROOT = Path(__file__).resolve().parents[1]
SHARED = ROOT.parent / "shared"
REDIRECT = "https://example.com/callback"
DEMO = ("lightify-demo", "lightify-demo-secret")
CI_APP = ("lightify-ci", "lightify-ci-secret")


def pkce_pair() -> tuple[str, str]:
    verifier = secrets.token_urlsafe(48)
    challenge = base64.urlsafe_b64encode(hashlib.sha256(verifier.encode()).digest())
    return verifier, challenge.rstrip(b"=").decode()


class ContractWatch:
    """Checks every response a test's session receives against the vendor contract."""

    def __init__(self, vendor: str) -> None:
        self.vendor = vendor
        self.problems: list[str] = []
        self.checked = 0

    def hook(self, resp: requests.Response, *args, **kwargs) -> None:
        from contracts.verify import EndpointNotFound, validate_response

        if resp.headers.get("X-Mockcloud-Fault"):
            return  # an injected fault answers what the test asked for
        try:
            body = resp.json() if "json" in resp.headers.get("Content-Type", "") else resp.text
        except ValueError:
            body = resp.text
        try:
            issues = validate_response(self.vendor, resp.request.method, resp.request.url,
                                       resp.status_code, body)
        except EndpointNotFound:
            return  # a path or method the vendor never had: nothing to hold it to
        self.checked += 1
        self.problems += [f"{resp.request.method} {resp.request.url} -> {resp.status_code}: "
                          f"{issue}" for issue in issues]


@dataclass
class Lightify:
    """Raw HTTP access to one tenant's Lightify cloud (no reference client)."""

    admin: Admin
    http: requests.Session
    watch: ContractWatch | None = None

    @property
    def base(self) -> str:
        return self.admin.url("lightify")

    def authorize(self, client=CI_APP, redirect=REDIRECT, **extra) -> requests.Response:
        params = {"client_id": client[0], "redirect_uri": redirect, "state": "S-1",
                  "response_type": "code", **extra}
        return self.http.get(f"{self.base}/oauth2/authorize", params=params,
                             allow_redirects=False)

    def code(self, client=CI_APP, redirect=REDIRECT, **extra) -> str:
        resp = self.authorize(client, redirect, **extra)
        assert resp.status_code == 302, resp.text
        return parse_qs(urlparse(resp.headers["Location"]).query)["code"][0]

    def token_request(self, client=CI_APP, **form) -> requests.Response:
        data = {"client_id": client[0], "client_secret": client[1], **form}
        return self.http.post(f"{self.base}/oauth2/access_token", data=data)

    def exchange(self, code: str, client=CI_APP, redirect=REDIRECT, **form) -> requests.Response:
        return self.token_request(client, grant_type="authorization_code", code=code,
                                  redirect_uri=redirect, **form)

    def login(self, client=CI_APP) -> dict:
        resp = self.exchange(self.code(client), client)
        assert resp.status_code == 200, resp.text
        return resp.json()

    def refresh(self, refresh_token: str, client=CI_APP) -> requests.Response:
        return self.token_request(client, grant_type="refresh_token",
                                  refresh_token=refresh_token)

    def revoke(self, token: str, hint: str | None = None, client=CI_APP) -> requests.Response:
        data = {"client_id": client[0], "client_secret": client[1], "token": token}
        if hint:
            data["token_type_hint"] = hint
        return self.http.post(f"{self.base}/oauth2/revoke_token", data=data)

    def api(self, method: str, path: str, token: str | None, **kw) -> requests.Response:
        headers = kw.pop("headers", {})
        if token:
            headers["Authorization"] = f"Bearer {token}"
        return self.http.request(method, f"{self.base}/v4{path}", headers=headers, **kw)


def watched_session(vendor: str) -> tuple[requests.Session, ContractWatch]:
    http = requests.Session()
    http.verify = False
    watch = ContractWatch(vendor)
    http.hooks["response"].append(watch.hook)
    return http, watch


@pytest.fixture
def lightify(mockcloud: Admin):
    http, watch = watched_session("lightify")
    yield Lightify(mockcloud, http, watch)
    assert not watch.problems, "responses off contract:\n" + "\n".join(watch.problems)


@pytest.fixture
def token(lightify: Lightify) -> str:
    """A token for the demo user through the lightify-ci app, issued by the admin API
    (the OAuth flow itself is tested in test_lightify_oauth.py and the browser test)."""
    return lightify.admin.issue_token("lightify", CI_APP[0], "demo@lightify.test")[
        "access_token"]


@pytest.fixture
def netatmo(mockcloud: Admin):
    """Raw HTTP access to one tenant's Netatmo cloud (tests/netatmo_http.py), every
    answer checked against the Netatmo contract."""
    from tests.netatmo_http import Netatmo

    http, watch = watched_session("netatmo")
    yield Netatmo(mockcloud, http, watch)
    assert not watch.problems, "responses off contract:\n" + "\n".join(watch.problems)


@pytest.fixture
def qivivo(mockcloud: Admin):
    """Raw HTTP access to one tenant's Qivivo cloud (tests/qivivo_http.py), every
    answer checked against the Qivivo contract."""
    from tests.qivivo_http import Qivivo

    http, watch = watched_session("qivivo")
    yield Qivivo(mockcloud, http, watch)
    assert not watch.problems, "responses off contract:\n" + "\n".join(watch.problems)
