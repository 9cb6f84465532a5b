"""Raw HTTP access to one tenant's Qivivo cloud for the Qivivo tests (the ``qivivo``
fixture in conftest.py checks every answer against the contract), and the default
world's house."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import requests

from emulator.testing import Admin
from tests.conftest import ContractWatch

CI = ("qivivo-ci", "qivivo-ci-secret")
DEMO = ("qivivo-demo", "qivivo-demo-secret")
USER, PASSWORD = "demo@qivivo.test", "demo"
REDIRECT = "https://qivivo.com/authorize"
TH = "2b3f3c2e-1d2a-4c55-9a51-1f7a6e0c9b01"
GW = "9d5a9e34-7a43-4a8e-8d8c-3c1c2f4e5a02"
WM = "fcb231fd-3eda-4089-8fb0-643c966d2ef3"        # on its own program
WZ = "5a6b7c8d-9e0f-4a1b-8c2d-3e4f5a6b7c8d"        # follows the thermostat zone
SCOPES = ("user_basic_information read_devices read_thermostats read_wireless_modules "
          "read_programmation update_programmation read_house_data update_house_settings")
# a Monday 10:00 in Paris (winter: UTC+1), inside "Semaine Travail"'s 08:30-17:59
MONDAY_10 = 1704704400.0                             # 2024-01-08T09:00:00Z


@dataclass
class Qivivo:
    admin: Admin
    http: requests.Session
    watch: ContractWatch

    @property
    def base(self) -> str:
        return self.admin.url("qivivo")

    def token(self, client=CI, **form: str) -> requests.Response:
        data = {"grant_type": "client_credentials", "client_id": client[0],
                "client_secret": client[1], **form}
        return self.http.post(f"{self.base}/oauth/token", data=data)

    def access(self, client=CI) -> str:
        resp = self.token(client)
        assert resp.status_code == 200, resp.text
        return resp.json()["access_token"]

    def api(self, method: str, path: str, token: str | None = None,
            json: Any = None, **kw: Any) -> requests.Response:
        headers = kw.pop("headers", {})
        if token:
            headers.setdefault("Authorization", f"Bearer {token}")
        return self.http.request(method, f"{self.base}/api/v2{path}", headers=headers,
                                 json=json, **kw)

    def get(self, path: str, token: str) -> dict:
        resp = self.api("GET", path, token)
        assert resp.status_code == 200, resp.text
        return resp.json()
