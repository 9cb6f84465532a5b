"""clients.lightify end to end, over real HTTP against mockcloud (the ``mockcloud``
fixture gives each test a tenant of its own).

The tenant's clock is frozen at a round instant and the client's own clock (``now``)
is a ``TestClock`` that moves with it, so expiry is tested without sleeping; the
client's ``sleep`` is recorded (and may move both clocks) instead of sleeping.
"""

from __future__ import annotations

from collections.abc import Callable
from email.utils import formatdate
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest
import requests

from clients.base import ApiError, AuthError, OAuth2Session, RateLimitError, pkce_pair
from clients.lightify import EMEA, NA, LightifyClient, region_url
from emulator.testing import Admin
from tests.client_time import START, Sleeps, TestClock

REDIRECT = "https://example.com/callback"
CI_APP = ("lightify-ci", "lightify-ci-secret")      # auto_approve as demo@lightify.test
EXPIRES_IN = 3600


@pytest.fixture
def clock(mockcloud: Admin) -> TestClock:
    return TestClock(mockcloud)


@pytest.fixture
def tokens() -> list[dict[str, Any]]:
    return []


@pytest.fixture
def make_client(mockcloud: Admin, clock: TestClock,
                tokens: list[dict[str, Any]]) -> Callable[..., LightifyClient]:
    def make(app: tuple[str, str] = CI_APP, **kwargs: Any) -> LightifyClient:
        kwargs.setdefault("sleep", Sleeps())
        return LightifyClient(*app, mockcloud.url("lightify"), now=clock,
                              on_token=tokens.append, **kwargs)

    return make


def get_code(client: LightifyClient) -> tuple[str, str | None]:
    """Follow the auto-approving app's authorize redirect by hand: (code, verifier)."""
    url, state, verifier = client.authorization_url(REDIRECT)
    resp = requests.get(url, allow_redirects=False, timeout=10)
    assert resp.status_code == 302, resp.text
    location = resp.headers["Location"]
    assert location.startswith(REDIRECT + "?")
    query = parse_qs(urlsplit(location).query)
    assert query["state"] == [state]
    assert client.code_from_redirect(location, state) == query["code"][0]
    return query["code"][0], verifier


def authorize(client: LightifyClient) -> str:
    """Run the code flow with PKCE through the auto-approving app; the access token."""
    code, verifier = get_code(client)
    client.fetch_token(code, REDIRECT, verifier)
    assert client.access_token
    return client.access_token


@pytest.fixture
def client(make_client: Callable[..., LightifyClient]) -> LightifyClient:
    c = make_client()
    authorize(c)
    return c


def api_calls(mockcloud: Admin, status: int | None = None) -> list[dict[str, Any]]:
    """The journal's calls to the device API (not to the OAuth endpoints)."""
    entries = mockcloud.journal(vendor="lightify", path="/v4/")
    return [e for e in entries if status in (None, e["response"]["status"])]


def token_calls(mockcloud: Admin) -> list[dict[str, Any]]:
    return mockcloud.journal(vendor="lightify", path="/oauth2/access_token")


# ------------------------------------------------------------------ the code flow

def test_authorization_url_carries_pkce_s256_and_the_real_paths() -> None:
    client = LightifyClient.for_region("emea", *CI_APP)
    url, state, verifier = client.authorization_url(REDIRECT, state="s-1", scope="x y")
    parts = urlsplit(url)
    query = {k: v[0] for k, v in parse_qs(parts.query).items()}
    assert f"{parts.scheme}://{parts.netloc}{parts.path}" == f"{EMEA}/oauth2/authorize"
    assert state == "s-1"
    assert query == {"client_id": "lightify-ci", "response_type": "code",
                     "redirect_uri": REDIRECT, "state": "s-1", "scope": "x y",
                     "code_challenge": query["code_challenge"],
                     "code_challenge_method": "S256"}
    assert verifier is not None and 43 <= len(verifier) <= 128
    assert client.authorization_url(REDIRECT, pkce=False)[2] is None


def test_pkce_challenge_is_s256_of_the_verifier() -> None:
    # RFC 7636 appendix B
    import base64
    import hashlib

    verifier, challenge = pkce_pair()
    expected = base64.urlsafe_b64encode(hashlib.sha256(verifier.encode()).digest())
    assert challenge == expected.rstrip(b"=").decode()


def test_regions() -> None:
    assert region_url("EMEA") == EMEA
    assert LightifyClient.for_region("na", *CI_APP).base_url == NA
    with pytest.raises(ValueError, match="emea, na"):
        region_url("apac")


def test_code_flow_with_pkce(make_client: Callable[..., LightifyClient], clock: TestClock,
                             tokens: list[dict[str, Any]]) -> None:
    client = make_client()
    authorize(client)
    assert len(tokens) == 1
    token = tokens[0]
    assert token["token_type"] == "Bearer"
    assert token["expires_in"] == EXPIRES_IN
    assert token["expires_at"] == clock() + EXPIRES_IN
    assert token["refresh_token"] and token["access_token"] == client.access_token
    assert client.devices()


def test_client_secret_basic_works_too(make_client: Callable[..., LightifyClient],
                                       mockcloud: Admin) -> None:
    client = make_client(client_auth="basic")
    authorize(client)
    assert client.refresh()["access_token"] == client.access_token
    headers = token_calls(mockcloud)[-1]["request"]["headers"]
    assert {k.lower(): v for k, v in headers.items()}["authorization"].startswith("Basic ")


def test_code_flow_rejects_a_wrong_verifier_and_a_reused_code(
        make_client: Callable[..., LightifyClient]) -> None:
    client = make_client()
    code, _ = get_code(client)
    other_verifier, _ = pkce_pair()
    with pytest.raises(AuthError) as bad:
        client.fetch_token(code, REDIRECT, other_verifier)
    assert (bad.value.status, bad.value.error) == (400, "invalid_grant")
    code, verifier = get_code(client)
    client.fetch_token(code, REDIRECT, verifier)
    with pytest.raises(AuthError) as reused:
        client.fetch_token(code, REDIRECT, verifier)
    assert reused.value.error == "invalid_grant"


def test_code_from_redirect_checks_state_and_errors() -> None:
    with pytest.raises(AuthError, match="state_mismatch"):
        OAuth2Session.code_from_redirect(f"{REDIRECT}?code=c&state=evil", "mine")
    with pytest.raises(AuthError) as denied:
        OAuth2Session.code_from_redirect(f"{REDIRECT}?error=access_denied&state=s", "s")
    assert denied.value.error == "access_denied"
    assert OAuth2Session.code_from_redirect(f"{REDIRECT}?code=c&state=s", "s") == "c"


def test_token_endpoint_failure_is_an_auth_error(
        make_client: Callable[..., LightifyClient]) -> None:
    client = make_client(app=("lightify-ci", "wrong-secret"))
    with pytest.raises(AuthError) as exc:
        client.fetch_token("no-such-code", REDIRECT)
    assert exc.value.status == 401
    assert exc.value.error == "invalid_client"
    assert exc.value.description


# ------------------------------------------------------------------- endpoints

def test_devices(client: LightifyClient) -> None:
    devices = client.devices()
    assert devices[0]["type"] == "GATEWAY"
    ids = {d["id"] for d in devices}
    assert {"123456", "123456-d01", "123456-d03"} <= ids
    assert client.device("123456-d01")["name"] == "living room"


def test_device_setters(client: LightifyClient) -> None:
    d = "123456-d01"
    assert client.turn_off(d)["onOff"] == "off"
    assert client.turn_on(d)["onOff"] == "on"
    assert client.set_brightness(d, 42)["brightness"] == 42
    assert client.set_color_temperature(d, 4000)["colorTemperature"] == 4000
    assert client.set_color(d, "red")["colorRGBW"] == {"red": 255, "green": 0, "blue": 0,
                                                       "white": 0}
    rgbw = {"red": 1, "green": 2, "blue": 3, "white": 4}
    assert client.set_rgbw(d, 1, 2, 3, 4)["colorRGBW"] == rgbw
    after = client.set_device(d, onOff="off", brightness=7)
    assert (after["onOff"], after["brightness"]) == ("off", 7)
    assert client.device(d) == after


def test_groups(client: LightifyClient) -> None:
    groups = client.groups()
    assert [g["id"] for g in groups][:2] == ["123456-g01", "123456-g02"]
    kitchen = client.group("123456-g02")
    assert kitchen["name"] == "Kitchen"
    result = client.set_group("123456-g02", onOff="off", brightness=10)
    assert result["id"] == "123456-g02"
    for dev_id in kitchen["devices"]:
        assert client.device(dev_id)["onOff"] == "off"


def test_scenes(client: LightifyClient) -> None:
    assert {s["id"] for s in client.scenes()} >= {"123456-s01", "123456-s02"}
    assert client.scene("123456-s01")["name"] == "away"
    applied = client.apply_scene("123456-s01")
    assert applied == {"id": "123456-s01", "name": "away", "type": "LIGHT",
                       "action": "apply"}
    assert client.device("123456-d07")["brightness"] == 20


def test_requests_use_the_real_paths(client: LightifyClient, mockcloud: Admin) -> None:
    client.devices()
    client.device("123456-d01")
    client.groups()
    client.apply_scene("123456-s01")
    paths = [(e["request"]["method"], e["request"]["path"].removeprefix("/lightify"))
             for e in mockcloud.journal(vendor="lightify")]
    assert paths == [("GET", "/oauth2/authorize"), ("POST", "/oauth2/access_token"),
                     ("GET", "/v4/devices/"), ("GET", "/v4/devices/123456-d01"),
                     ("GET", "/v4/groups/"), ("PATCH", "/v4/scenes/123456-s01")]


# ---------------------------------------------------------------------- errors

@pytest.mark.parametrize("call", [
    lambda c: c.device("123456-d99"),
    lambda c: c.group("123456-g99"),
    lambda c: c.scene("123456-s99"),
    lambda c: c.apply_scene("123456-s99"),
])
def test_unknown_ids_raise_a_404_api_error(client: LightifyClient,
                                           call: Callable[[LightifyClient], Any]) -> None:
    with pytest.raises(ApiError) as exc:
        call(client)
    assert (exc.value.status, exc.value.error) == (404, "not_found")
    assert "99" in exc.value.description
    assert not isinstance(exc.value, AuthError)


@pytest.mark.parametrize("call, words", [
    (lambda c: c.set_brightness("123456-d01", 101), "brightness"),
    (lambda c: c.set_color("123456-d01", "teal"), "color"),
    (lambda c: c.set_color_temperature("123456-d03", 3000), "does not support"),
    (lambda c: c.set_device("123456-d01"), "Nothing to change"),
])
def test_bad_values_raise_a_400_api_error(client: LightifyClient,
                                          call: Callable[[LightifyClient], Any],
                                          words: str) -> None:
    with pytest.raises(ApiError) as exc:
        call(client)
    assert (exc.value.status, exc.value.error) == (400, "invalid_request")
    assert words in exc.value.description
    assert words in str(exc.value)


# ------------------------------------------------------------ refresh and revoke

def test_refreshes_before_expiry_and_reports_the_rotated_token(
        client: LightifyClient, clock: TestClock, mockcloud: Admin,
        tokens: list[dict[str, Any]], make_client: Callable[..., LightifyClient]) -> None:
    first = dict(client.token)
    clock.advance(EXPIRES_IN + 1)
    assert client.devices()
    assert len(tokens) == 2
    rotated = tokens[1]
    assert rotated["access_token"] != first["access_token"]
    assert rotated["refresh_token"] != first["refresh_token"]
    assert rotated["expires_at"] == clock() + EXPIRES_IN
    assert client.token == rotated
    assert api_calls(mockcloud, 401) == []  # refreshed up front, not after a 401
    assert mockcloud.introspect(first["refresh_token"])["state"] == "revoked"
    # the persisted token is enough to carry on in a new session
    assert make_client(token=rotated).device("123456-d01")


def test_refreshes_once_on_401_when_the_clocks_disagree(
        client: LightifyClient, clock: TestClock, mockcloud: Admin,
        tokens: list[dict[str, Any]]) -> None:
    clock.advance(EXPIRES_IN + 1, client=False)  # only the server sees the expiry
    assert client.devices()
    assert [e["response"]["status"] for e in api_calls(mockcloud)] == [401, 200]
    assert len(tokens) == 2 and len(token_calls(mockcloud)) == 2


def test_refreshes_once_on_an_injected_invalid_token_401(
        client: LightifyClient, mockcloud: Admin, tokens: list[dict[str, Any]]) -> None:
    mockcloud.add_fault(vendor="lightify", path="/v4/devices*", status=401, first_n=1,
                        body={"error": "invalid_token", "error_description": "gone"})
    assert client.devices()
    assert len(tokens) == 2


def test_gives_up_when_the_retry_after_refresh_is_401_again(
        client: LightifyClient, mockcloud: Admin, tokens: list[dict[str, Any]]) -> None:
    mockcloud.add_fault(vendor="lightify", path="/v4/devices*", status=401,
                        body={"error": "invalid_token", "error_description": "gone"})
    with pytest.raises(ApiError) as exc:
        client.devices()
    assert (exc.value.status, exc.value.error) == (401, "invalid_token")
    assert len(api_calls(mockcloud)) == 2 and len(tokens) == 2


def test_refresh_leeway_is_measured_on_the_client_clock(
        make_client: Callable[..., LightifyClient], clock: TestClock, mockcloud: Admin,
        tokens: list[dict[str, Any]]) -> None:
    client = make_client(refresh_leeway=120)
    authorize(client)
    clock.advance(EXPIRES_IN - 121)  # just outside the leeway: the token is kept
    assert client.devices()
    assert len(tokens) == 1
    clock.advance(2)  # 119 s before expiry: refreshed up front
    assert client.devices()
    assert len(tokens) == 2 and tokens[1]["expires_at"] == clock() + EXPIRES_IN
    assert api_calls(mockcloud, 401) == []


def test_expiry_follows_the_injected_clock_not_time_time(
        client: LightifyClient, mockcloud: Admin) -> None:
    # expires_at lies decades in the past of time.time() but ahead of this client's clock
    early = LightifyClient(*CI_APP, mockcloud.url("lightify"), now=lambda: 1000.0,
                           token={**client.token, "expires_at": 1000 + EXPIRES_IN})
    assert early.devices()
    assert len(token_calls(mockcloud)) == 1  # no refresh
    # a token handed over without expires_at gets one from expires_in on the client clock
    bare = {k: v for k, v in client.token.items() if k != "expires_at"}
    assert LightifyClient(*CI_APP, now=lambda: 1000.0, token=bare).expires_at == \
        1000 + EXPIRES_IN


def test_server_side_revocation_refreshes_once_then_fails(
        client: LightifyClient, mockcloud: Admin, tokens: list[dict[str, Any]]) -> None:
    # Lightify revokes the whole grant, so the refresh the 401 triggers fails too.
    mockcloud.revoke(client.access_token or "")
    with pytest.raises(AuthError) as exc:
        client.devices()
    assert (exc.value.status, exc.value.error) == (400, "invalid_grant")
    assert [e["response"]["status"] for e in api_calls(mockcloud)] == [401]
    assert len(token_calls(mockcloud)) == 2 and len(tokens) == 1


def test_revoke(client: LightifyClient, mockcloud: Admin) -> None:
    access, refresh = client.access_token or "", client.refresh_token or ""
    client.revoke()
    assert client.token == {}
    assert mockcloud.introspect(access)["active"] is False
    assert mockcloud.introspect(refresh)["state"] == "revoked"
    revoke_calls = mockcloud.journal(vendor="lightify", path="/oauth2/revoke_token")
    assert [e["response"]["status"] for e in revoke_calls] == [200]
    with pytest.raises(ApiError) as exc:
        client.devices()
    assert exc.value.status == 401


def test_revoke_uses_the_refresh_token_once_the_access_token_expired(
        client: LightifyClient, clock: TestClock, mockcloud: Admin) -> None:
    refresh = client.refresh_token or ""
    clock.advance(EXPIRES_IN + 1)
    client.revoke()
    assert mockcloud.introspect(refresh)["state"] == "revoked"
    body = mockcloud.journal(path="/oauth2/revoke_token")[0]["request"]["body"]["text"]
    assert "token_type_hint=refresh_token" in body


def test_revoke_authenticates_like_the_token_endpoint(
        make_client: Callable[..., LightifyClient], mockcloud: Admin) -> None:
    client = make_client(client_auth="basic")
    access = authorize(client)
    client.revoke()
    assert mockcloud.introspect(access)["active"] is False
    entry = mockcloud.journal(path="/oauth2/revoke_token")[0]["request"]
    assert {k.lower(): v for k, v in entry["headers"].items()}["authorization"].startswith(
        "Basic ")
    assert "token_type_hint=access_token" in entry["body"]["text"]


def test_revoke_failures_are_auth_errors_and_keep_the_tokens(
        client: LightifyClient, mockcloud: Admin) -> None:
    mockcloud.add_fault(vendor="lightify", path="/oauth2/revoke_token", status=503,
                        body={"error": "temporarily_unavailable", "error_description": "down"})
    before = dict(client.token)
    with pytest.raises(AuthError) as exc:
        client.revoke()
    assert (exc.value.status, exc.value.error, exc.value.description) == \
        (503, "temporarily_unavailable", "down")
    assert client.token == before
    with pytest.raises(AuthError, match="no_token"):
        LightifyClient(*CI_APP, mockcloud.url("lightify")).revoke()


# ---------------------------------------------------------------------- quotas

@pytest.fixture
def quota(mockcloud: Admin) -> None:
    mockcloud.set_quotas("lightify", [{"key": "client", "limit": 2, "window": 60}])


@pytest.mark.usefixtures("quota")
def test_waits_retry_after_on_429_then_succeeds(
        make_client: Callable[..., LightifyClient], clock: TestClock,
        mockcloud: Admin) -> None:
    sleeps = Sleeps(clock)  # sleeping lets the virtual time pass
    client = make_client(sleep=sleeps)
    authorize(client)
    for _ in range(3):
        assert client.devices()
    limited = api_calls(mockcloud, 429)
    assert len(limited) == 1
    assert limited[0]["response"]["headers"]["Retry-After"] == "60"
    assert sleeps == [60.0]


@pytest.mark.usefixtures("quota")
def test_gives_up_on_429_after_max_retries(
        make_client: Callable[..., LightifyClient], mockcloud: Admin) -> None:
    sleeps = Sleeps()  # time stands still: the quota never resets
    client = make_client(sleep=sleeps, max_retries=2)
    authorize(client)
    client.devices()
    client.devices()
    with pytest.raises(RateLimitError) as exc:
        client.devices()
    assert (exc.value.status, exc.value.error) == (429, "rate_limited")
    assert exc.value.retry_after == 60
    assert sleeps == [60.0, 60.0]
    assert len(api_calls(mockcloud, 429)) == 3


@pytest.mark.usefixtures("quota")
def test_429_wait_is_capped(make_client: Callable[..., LightifyClient]) -> None:
    sleeps = Sleeps()
    client = make_client(sleep=sleeps, max_retries=3, max_retry_wait=5)
    authorize(client)
    client.devices()
    client.devices()
    with pytest.raises(RateLimitError):
        client.devices()
    assert sleeps == [5.0, 5.0, 5.0]


def test_waits_an_http_date_retry_after_on_the_client_clock(
        client: LightifyClient, mockcloud: Admin) -> None:
    in_42s = formatdate(START + 42, usegmt=True)
    mockcloud.add_fault(vendor="lightify", path="/v4/devices*", status=429, first_n=1,
                        headers={"Retry-After": in_42s},
                        body={"error": "rate_limited", "error_description": "slow down"})
    assert client.devices()
    assert client.sleep == [42.0]
    assert [e["response"]["status"] for e in api_calls(mockcloud)] == [429, 200]


def test_token_endpoint_429_is_retried_then_raised(
        make_client: Callable[..., LightifyClient], mockcloud: Admin) -> None:
    sleeps = Sleeps()
    client = make_client(sleep=sleeps, max_retries=1)
    mockcloud.add_fault(vendor="lightify", path="/oauth2/access_token", status=429,
                        first_n=1, headers={"Retry-After": "3"}, body={"error": "rate_limited"})
    authorize(client)  # the first answer is a 429, the retry gets the token
    assert sleeps == [3.0]
    mockcloud.add_fault(vendor="lightify", path="/oauth2/access_token", status=429,
                        headers={"Retry-After": "7"}, body={"error": "rate_limited"})
    with pytest.raises(RateLimitError) as exc:
        client.refresh()
    assert (exc.value.status, exc.value.error, exc.value.retry_after) == (429, "rate_limited", 7)
    assert sleeps == [3.0, 7.0]


def _response(status: int, headers: dict[str, str]) -> requests.Response:
    resp = requests.Response()
    resp.status_code = status
    resp.headers.update(headers)
    return resp


def test_retry_delay_reads_http_dates_and_falls_back_to_backoff() -> None:
    client = LightifyClient(*CI_APP, now=lambda: START, max_retry_wait=10)
    in_7s = formatdate(START + 7, usegmt=True)
    assert client.retry_delay(_response(429, {"Retry-After": in_7s}), 0) == 7
    assert client.retry_delay(_response(429, {}), 0) == 1
    assert client.retry_delay(_response(429, {}), 2) == 4
    assert client.retry_delay(_response(429, {}), 9) == 10
    assert client.retry_delay(_response(429, {"Retry-After": "junk"}), 1) == 2


def test_is_a_requests_session_that_keeps_the_bearer_home(
        client: LightifyClient, mockcloud_server: str,
        mockcloud_admin_token: str | None) -> None:
    resp = client.get("/v4/devices/")
    assert resp.status_code == 200 and resp.json()["devices"]
    assert resp.request.headers["Authorization"] == f"Bearer {client.access_token}"
    # the control plane wants its own token, sent here without using Authorization
    admin = {"X-Mockcloud-Admin-Token": mockcloud_admin_token} if mockcloud_admin_token else {}
    foreign = client.get(f"{mockcloud_server}/_mockcloud/health", headers=admin)
    assert foreign.ok and "Authorization" not in foreign.request.headers
