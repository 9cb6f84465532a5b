"""Raw HTTP access to one tenant's Netatmo cloud, for the Netatmo tests (no client
library), and the default world's user, apps and home. The ``netatmo`` fixture (in
conftest.py) gives a ``Netatmo`` whose session checks every answer against the
contract."""

from __future__ import annotations

from dataclasses import dataclass
from urllib.parse import parse_qs, urlparse

import requests

from emulator.testing import Admin
from tests.conftest import ContractWatch

REDIRECT = "https://example.com/callback"
CI = ("netatmo-ci", "netatmo-ci-secret")
DEMO = ("netatmo-demo", "netatmo-demo-secret")
LEGACY = ("netatmo-legacy", "netatmo-legacy-secret")
USER, PASSWORD = "dev@netatmo.test", "dev"
USER_ID = "5e5c7a1b2d3e4f5061728394"
HOME_ID = "5e5c7a1b2d3e4f50617283a0"
WEEK_SCHEDULE, HOLIDAYS = "5e5c7a1b2d3e4f50617283b0", "5e5c7a1b2d3e4f50617283b1"
STATION, HOMECOACH = "70:ee:50:3a:00:00", "70:ee:50:3a:00:80"
ALL_SCOPES = "read_station read_thermostat write_thermostat read_homecoach"


@dataclass
class Netatmo:
    admin: Admin
    http: requests.Session
    watch: ContractWatch

    @property
    def base(self) -> str:
        return self.admin.url("netatmo")

    # -- OAuth
    def authorize(self, client=CI, redirect=REDIRECT, **extra) -> requests.Response:
        params = {"client_id": client[0], "redirect_uri": redirect, "state": "S-1",
                  "response_type": "code", **extra}
        return self.http.get(f"{self.base}/oauth2/authorize", params=params,
                             allow_redirects=False)

    def code(self, client=CI, **extra) -> str:
        resp = self.authorize(client, **extra)
        assert resp.status_code == 302, resp.text
        return parse_qs(urlparse(resp.headers["Location"]).query)["code"][0]

    def token_request(self, client=CI, basic: bool = False, **form) -> requests.Response:
        if basic:
            return self.http.post(f"{self.base}/oauth2/token", data=form, auth=client)
        data = {"client_id": client[0], "client_secret": client[1], **form}
        return self.http.post(f"{self.base}/oauth2/token", data=data)

    def login(self, client=CI, scope: str = ALL_SCOPES) -> dict:
        code = self.code(client, scope=scope)
        resp = self.token_request(client, grant_type="authorization_code", code=code,
                                  redirect_uri=REDIRECT, scope=scope)
        assert resp.status_code == 200, resp.text
        return resp.json()

    def refresh(self, refresh_token: str, client=CI) -> requests.Response:
        return self.token_request(client, grant_type="refresh_token",
                                  refresh_token=refresh_token)

    def issue(self, scope: str = ALL_SCOPES, client=CI) -> str:
        """An access token without the flow (the admin API)."""
        return self.admin.issue_token("netatmo", client[0], USER, scope)["access_token"]

    # -- API
    def api(self, method: str, token: str | None = None, *, http: str = "POST",
            **kw) -> requests.Response:
        headers = kw.pop("headers", {})
        if token:
            headers["Authorization"] = f"Bearer {token}"
        return self.http.request(http, f"{self.base}/api/{method}", headers=headers, **kw)


def api_error(resp: requests.Response) -> tuple[int, int, str]:
    """(status, Netatmo code, message) of an API error answer."""
    assert resp.headers["Content-Type"].startswith("application/json"), resp.headers
    err = resp.json()["error"]
    return resp.status_code, err["code"], err["message"]
