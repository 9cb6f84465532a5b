"""Property-based, stateful: any sequence of device, group and scene changes (valid or
not) leaves the Lightify cloud in the state a simple reference model predicts. Runs
in-process against the whole WSGI app (tenancy, faults, journal and all); the HTTP
suites cover the wire."""

from __future__ import annotations

from typing import Any
from urllib.parse import parse_qs, urlparse

from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, initialize, invariant, rule
from werkzeug.test import Client

from emulator.app import create_app
from emulator.lightify.models import COLORS
from emulator.settings import Settings

APP = create_app(Settings(journal_size=50))
DEVICES = ["123456-d01", "123456-d02", "123456-d03", "123456-d04", "123456-d07",
           "123456-d22"]
GROUPS = ["123456-g01", "123456-g02", "123456-g03"]
SCENES = ["123456-s01", "123456-s02", "123456-s03"]
STATE = ("onOff", "brightness", "colorTemperature", "colorRGBW")

values = {
    "onOff": st.sampled_from(["on", "off"]),
    "brightness": st.integers(0, 100),
    "color": st.sampled_from(sorted(COLORS)),
    "colorTemperature": st.integers(2000, 6500),
    "colorRGBW": st.fixed_dictionaries({k: st.integers(0, 255)
                                        for k in ("red", "green", "blue", "white")}),
}
valid_body = st.dictionaries(st.sampled_from(sorted(values)), st.none(), min_size=1).flatmap(
    lambda keys: st.fixed_dictionaries({k: values[k] for k in keys})).filter(
    lambda b: not ("color" in b and "colorRGBW" in b))
invalid_body = st.one_of(
    st.fixed_dictionaries({"brightness": st.integers(101, 10**6)}),
    st.fixed_dictionaries({"colorTemperature": st.integers(-10, 1999)}),
    st.fixed_dictionaries({"color": st.text(max_size=8).filter(lambda c: c not in COLORS)}),
    st.fixed_dictionaries({"onOff": st.one_of(st.booleans(), st.integers(), st.none())}),
    st.dictionaries(st.text(max_size=6).filter(lambda k: k not in values), st.integers(),
                    min_size=1),
    st.just({}),
)


class LightifyMachine(RuleBasedStateMachine):
    @initialize()
    def login(self) -> None:
        self.tenant = f"prop-{id(self)}"
        self.client = Client(APP)
        h = {"X-Mockcloud-Tenant": self.tenant}
        assert self.client.post("/_mockcloud/reset", headers=h, json={}).status_code == 200
        self.grant()
        self.devices = {d["id"]: d for d in self._get("/devices")["devices"]}
        self.groups = {g: self._get(f"/groups/{g}") for g in GROUPS}
        world = self.client.get("/_mockcloud/world", headers=h).get_json()
        scenes = world["lightify"]["users"][0]["scenes"]
        self.scene_states = {s["id"]: s["states"] for s in scenes}

    def _get(self, path: str) -> Any:
        resp = self.client.get(f"/lightify/v4{path}", headers=self.headers)
        assert resp.status_code == 200, resp.get_data(as_text=True)
        return resp.get_json()

    def _patch(self, path: str, body: Any) -> Any:
        return self.client.patch(f"/lightify/v4{path}", json=body, headers=self.headers)

    def _apply(self, dev_id: str, body: dict[str, Any]) -> bool:
        """Apply to the model what the device supports; whether anything applied."""
        dev = self.devices[dev_id]
        caps = _capabilities(dev)
        applied = False
        for key, value in body.items():
            if key not in caps:
                continue
            applied = True
            if key == "color":
                dev["colorRGBW"] = dict(COLORS[value])
            else:
                dev[key] = value
        return applied

    @rule(dev=st.sampled_from(DEVICES), body=valid_body)
    def patch_device(self, dev: str, body: dict[str, Any]) -> None:
        resp = self._patch(f"/devices/{dev}", body)
        supported = set(body) <= _capabilities(self.devices[dev])
        assert resp.status_code == (200 if supported else 400), resp.get_data(as_text=True)
        if supported:
            self._apply(dev, body)

    @rule(dev=st.sampled_from(DEVICES + ["123456-d99"]), body=invalid_body)
    def patch_device_badly(self, dev: str, body: Any) -> None:
        resp = self._patch(f"/devices/{dev}", body)
        assert resp.status_code in (400, 404)

    @rule(group=st.sampled_from(GROUPS), body=valid_body)
    def patch_group(self, group: str, body: dict[str, Any]) -> None:
        resp = self._patch(f"/groups/{group}", body)
        assert resp.status_code == 200
        expect_updated = [d for d in self.groups[group]["devices"] if self._apply(d, body)]
        assert resp.get_json()["updated"] == expect_updated

    @rule(scene=st.sampled_from(SCENES))
    def apply_scene(self, scene: str) -> None:
        assert self._patch(f"/scenes/{scene}", {"action": "apply"}).status_code == 200
        for dev, state in self.scene_states[scene].items():
            self._apply(dev, state)

    @rule(seconds=st.integers(0, 3000))
    def time_passes(self, seconds: int) -> None:
        self.client.post("/_mockcloud/clock/advance", json={"seconds": seconds},
                         headers={"X-Mockcloud-Tenant": self.tenant})
        resp = self.client.get("/lightify/v4/devices", headers=self.headers)
        if resp.status_code == 401:  # the token expired: a fresh grant, same state
            self.grant()

    def grant(self) -> None:
        """A fresh token through the real code flow (the auto-approve app)."""
        h = {"X-Mockcloud-Tenant": self.tenant}
        resp = self.client.get(
            "/lightify/oauth2/authorize?client_id=lightify-ci&state=s&response_type=code"
            "&redirect_uri=https://example.com/callback", headers=h)
        code = parse_qs(urlparse(resp.headers["Location"]).query)["code"][0]
        tok = self.client.post("/lightify/oauth2/access_token", headers=h, data={
            "grant_type": "authorization_code", "code": code, "client_id": "lightify-ci",
            "client_secret": "lightify-ci-secret",
            "redirect_uri": "https://example.com/callback"}).get_json()
        self.headers = {**h, "Authorization": f"Bearer {tok['access_token']}"}

    @invariant()
    def devices_match_the_model(self) -> None:
        if not hasattr(self, "headers"):
            return
        live = {d["id"]: d for d in self._get("/devices")["devices"]}
        for dev_id, dev in self.devices.items():
            for key in STATE:
                assert live[dev_id].get(key) == dev.get(key), (dev_id, key)


def _capabilities(dev: dict[str, Any]) -> set[str]:
    if dev["type"] == "GATEWAY":
        return set()
    if dev["type"] == "OUTLET":
        return {"onOff"}
    caps = {"onOff", "brightness"}
    if "colorTemperature" in dev:
        caps.add("colorTemperature")
    if "colorRGBW" in dev:
        caps |= {"color", "colorRGBW"}
    return caps


LightifyMachine.TestCase.settings = settings(
    max_examples=40, stateful_step_count=25, deadline=None, derandomize=True,
    suppress_health_check=list(HealthCheck))
TestLightifyState = LightifyMachine.TestCase
