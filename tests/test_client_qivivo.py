"""clients.qivivo end to end, over real HTTP against mockcloud (a tenant per test).

The tenant's clock is frozen and the client's own clock (``now``) is a ``TestClock``
that moves with it, so expiry is tested without sleeping; the client's ``sleep`` is
recorded (and, given the clock, lets the time pass on both sides). Every answer the
client receives is checked against the Qivivo contract.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from datetime import datetime
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest
import requests

from clients.base import ApiError, AuthError, RateLimitError
from clients.qivivo import ACCOUNT, DATA, QivivoClient
from emulator.testing import Admin
from tests.client_time import Sleeps, TestClock
from tests.conftest import ContractWatch
from tests.qivivo_http import CI, GW, MONDAY_10, REDIRECT, SCOPES, TH, WM, WZ

READ = "read_devices read_thermostats read_programmation read_house_data"


@pytest.fixture
def clock(mockcloud: Admin) -> TestClock:
    return TestClock(mockcloud, MONDAY_10)


@pytest.fixture
def tokens() -> list[dict[str, Any]]:
    return []


@pytest.fixture
def watch() -> Iterator[ContractWatch]:
    w = ContractWatch("qivivo")
    yield w
    assert not w.problems, "responses off contract:\n" + "\n".join(w.problems)
    assert w.checked


@pytest.fixture
def make_client(mockcloud: Admin, clock: TestClock, tokens: list[dict[str, Any]],
                watch: ContractWatch) -> Callable[..., QivivoClient]:
    def make(app: tuple[str, str] = CI, **kwargs: Any) -> QivivoClient:
        kwargs.setdefault("sleep", Sleeps())
        kwargs.setdefault("on_token", tokens.append)
        client = QivivoClient(*app, mockcloud.url("qivivo"), now=clock, **kwargs)
        client.hooks["response"].append(watch.hook)
        return client

    return make


@pytest.fixture
def client(make_client: Callable[..., QivivoClient]) -> QivivoClient:
    c = make_client()
    c.login()
    return c


def authorize(client: QivivoClient, scope: str = SCOPES) -> None:
    url, state, _ = client.authorization_url(REDIRECT, scope=scope)
    resp = requests.get(url, allow_redirects=False, timeout=10)
    assert resp.status_code == 302, resp.text
    client.fetch_token(client.code_from_redirect(resp.headers["Location"], state), REDIRECT)


def api_statuses(mockcloud: Admin) -> list[int]:
    return [e["response"]["status"] for e in mockcloud.journal(vendor="qivivo", path="/api/")]


def token_grants(mockcloud: Admin) -> list[str]:
    out = []
    for e in mockcloud.journal(vendor="qivivo", path="/oauth/token"):
        form = parse_qs(e["request"]["body"].get("text") or "")
        out.append(form.get("grant_type", ["?"])[0])
    return out


# ------------------------------------------------------------------------ OAuth

def test_urls_of_the_real_cloud_and_of_mockcloud() -> None:
    real = QivivoClient(*CI)
    assert (real.base_url, real.auth_base_url) == (DATA, ACCOUNT)
    url, state, verifier = real.authorization_url(REDIRECT, state="s", scope=["read_devices",
                                                                            "read_house_data"])
    parts = urlsplit(url)
    assert f"{parts.scheme}://{parts.netloc}{parts.path}" == ACCOUNT + "/"
    assert parse_qs(parts.query)["scope"] == ["read_devices read_house_data"]
    assert verifier is None and real.is_api_url(DATA + "/api/v2/devices")
    local = QivivoClient(*CI, "http://127.0.0.1:9/qivivo")
    assert local.auth_url("/oauth/token") == "http://127.0.0.1:9/qivivo/oauth/token"
    assert not local.is_api_url("http://127.0.0.1:9/qivivo/oauth/token")


def test_client_credentials_login_and_relogin_when_expired(
        make_client: Callable[..., QivivoClient], clock: TestClock,
        tokens: list[dict[str, Any]], mockcloud: Admin) -> None:
    client = make_client()
    token = client.login(READ)
    assert tokens == [token] and token["scope"] == READ and "refresh_token" not in token
    assert token["expires_at"] == clock() + 3600
    assert client.devices()[0] == {"uuid": TH, "type": "thermostat"}
    clock.advance(3600)                       # expired on both clocks: a new login first
    assert client.thermostat_uuid() == TH
    assert len(tokens) == 2 and tokens[1]["access_token"] != token["access_token"]
    assert token_grants(mockcloud) == ["client_credentials", "client_credentials"]
    assert api_statuses(mockcloud) == [200, 200]


def test_client_credentials_relogin_on_401(client: QivivoClient, mockcloud: Admin,
                                           tokens: list[dict[str, Any]]) -> None:
    mockcloud.revoke(client.access_token)
    assert client.settings()["settings"]["days_of_absence_before_alert"] == 3
    assert api_statuses(mockcloud) == [401, 200] and len(tokens) == 2


def test_code_flow_refresh_rotates_through_on_token(
        make_client: Callable[..., QivivoClient], clock: TestClock,
        tokens: list[dict[str, Any]], mockcloud: Admin) -> None:
    client = make_client(client_auth="basic")
    authorize(client)
    first = dict(client.token)
    assert first["refresh_token"] and first["scope"] == SCOPES and tokens == [first]
    clock.advance(3600)
    assert client.presence(TH) == {"presence_detected": False}
    assert len(tokens) == 2 and tokens[1]["refresh_token"] != first["refresh_token"]
    assert token_grants(mockcloud)[-1] == "refresh_token"
    # the rotated-away refresh token is dead
    stale = make_client(token=first)
    with pytest.raises(AuthError) as exc:
        stale.refresh()
    assert exc.value.status in (400, 401) and exc.value.error == "invalid_grant"
    # a 401 on a live-looking token: one refresh, one retry
    mockcloud.revoke(client.access_token)
    with pytest.raises(AuthError):   # the grant is revoked with it (revoke_whole_grant)
        client.devices()


def test_token_errors_are_auth_errors(make_client: Callable[..., QivivoClient]) -> None:
    with pytest.raises(AuthError) as exc:
        make_client(app=("qivivo-ci", "wrong")).login()
    assert exc.value.error == "invalid_client" and exc.value.status in (400, 401)
    with pytest.raises(AuthError) as scope:
        make_client().login("update_thermostat")
    assert scope.value.error == "invalid_scope"


# ------------------------------------------------------------------- operations

def test_every_read(client: QivivoClient) -> None:
    assert {d["uuid"] for d in client.devices()} == {TH, GW, WM, WZ}
    info = client.thermostat_info(TH)
    assert info["lastCommunicationDate"] == "2024-01-08 10:00"
    temp = client.thermostat_temperature(TH)
    assert temp["current_temperature_order"] == 16.0 and 5 < temp["temperature"] < 30
    assert 0 < client.thermostat_humidity(TH)["humidity"] <= 100
    assert client.presence(TH) == {"presence_detected": False}
    assert [p["id"] for p in client.programs(TH)["user_programs"]] == [1, 2]
    assert client.module_info(WM)["serial"] == "00:1e:c0:3a:00:11"
    assert 5 < client.module_temperature(WM)["temperature"] < 30
    assert 0 < client.module_humidity(WM)["humidity"] <= 100
    assert client.pilot_wire_order(WZ) == {"current_pilot_wire_order": "monozone"}
    assert client.module_programs(WM)["user_active_program_id"] == 1
    assert client.gateway_info(GW)["serial"] == "GW-000045"
    assert client.last_presence()["last_presence_recorded_time"] <= "2024-01-08 10:00"
    assert set(client.settings()["settings"]) >= {"night_temperature",
                                                  "days_of_absence_before_alert"}
    assert isinstance(client.events(), list)


def test_every_write_and_what_it_does(client: QivivoClient, clock: TestClock) -> None:
    assert client.set_temporary_instruction(TH, 21, 60)["message"]
    assert client.thermostat_temperature(TH)["current_temperature_order"] == 21.0
    client.cancel_temporary_instruction(TH)
    assert client.thermostat_temperature(TH)["current_temperature_order"] == 16.0
    client.set_arrival(TH, 30)
    assert client.presence(TH) == {"presence_detected": True}
    client.cancel_arrival(TH)
    client.set_absence(TH, datetime(2024, 1, 8, 10, 0), "2024-01-09 10:00")
    assert client.thermostat_temperature(TH)["current_temperature_order"] == 7.0
    client.cancel_absence(TH)
    day = [{"period_start": "00:00", "period_end": "23:59",
            "temperature_setting": "presence_temperature_3"}]
    created = client.create_program(TH, "Tout confort", {"monday": day, "tuesday": day})
    assert created["id"] == 3
    client.rename_program(TH, 3, "Confort")
    client.update_program_day(TH, 3, "wednesday", day)
    client.activate_program(TH, 3)
    progs = client.programs(TH)
    assert progs["user_active_program_id"] == 3
    assert progs["user_programs"][2]["name"] == "Confort"
    assert client.thermostat_temperature(TH)["current_temperature_order"] == 20.0
    client.activate_program(TH, 1)
    client.delete_program(TH, 3)
    assert len(client.programs(TH)["user_programs"]) == 2
    client.follow_thermostat_zone(WM)
    assert client.pilot_wire_order(WM) == {"current_pilot_wire_order": "monozone"}
    client.activate_module_program(WM, 2)
    assert client.pilot_wire_order(WM) == {"current_pilot_wire_order": "frost"}
    client.define_temperature("absence_temperature", 15.5)
    client.set_absence_alert(5)
    settings = client.settings()["settings"]
    assert (settings["absence_temperature"], settings["days_of_absence_before_alert"]) == \
        (15.5, 5)
    assert client.events()[0]["type"] == "absence_alert_defined"


def test_api_errors(client: QivivoClient) -> None:
    with pytest.raises(ApiError) as missing:
        client.thermostat_info(WM)            # a module is no thermostat
    assert (missing.value.status, missing.value.description[:10]) == (404, "Not found.")
    with pytest.raises(ApiError) as invalid:
        client.set_temporary_instruction(TH, 21, 100000)
    assert invalid.value.status == 422
    assert list(QivivoClient.field_errors(invalid.value)) == ["duration"]
    with pytest.raises(ApiError) as active:
        client.delete_program(TH, 1)
    assert active.value.status == 422
    with pytest.raises(ApiError) as unexpected:
        client.call("PUT", f"/api/v2/devices/thermostats/{TH}/programs/Semaine/active")
    assert (unexpected.value.status, unexpected.value.description[:16]) == \
        (400, "Unexpected error")


# ------------------------------------------------------------------ rate limits

def test_429_waits_retry_after_then_succeeds(make_client: Callable[..., QivivoClient],
                                             clock: TestClock, mockcloud: Admin) -> None:
    mockcloud.set_quotas("qivivo", [{"key": "client", "limit": 2, "window": 10}])
    sleeps = Sleeps(clock)
    client = make_client(sleep=sleeps)
    client.login()
    for _ in range(3):
        client.devices()
    assert api_statuses(mockcloud) == [200, 200, 429, 200]
    limited = mockcloud.journal(vendor="qivivo", path="/api/")[2]["response"]
    assert "Too Many Attempts." in limited["body"]["text"]
    assert sleeps == [float(limited["headers"]["Retry-After"])] and 0 < sleeps[0] <= 10


def test_429_gives_up_after_max_retries_and_caps_the_wait(
        make_client: Callable[..., QivivoClient], mockcloud: Admin) -> None:
    mockcloud.set_quotas("qivivo", [{"key": "client", "limit": 1, "window": 3600}])
    sleeps = Sleeps()
    client = make_client(sleep=sleeps, max_retries=2, max_retry_wait=5)
    client.login()
    client.devices()
    with pytest.raises(RateLimitError) as exc:
        client.devices()
    assert exc.value.status == 429 and exc.value.retry_after == 3600
    assert sleeps == [5.0, 5.0] and api_statuses(mockcloud) == [200, 429, 429, 429]
