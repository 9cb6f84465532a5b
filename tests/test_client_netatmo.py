"""clients.netatmo end to end, over real HTTP against mockcloud (a tenant per test).

The tenant's clock is frozen at a round instant and the client's own clock (``now``) is
a ``TestClock`` that moves with it, so expiry is tested without sleeping; the client's
``sleep`` is recorded and, where the test wants time to pass, advances the emulator's
clock through the admin API. Every answer the client receives is checked against the
Netatmo contract.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest
import requests

from clients.base import ApiError, AuthError, RateLimitError
from clients.netatmo import API, NetatmoClient
from emulator.testing import Admin
from tests.client_time import START, Sleeps, TestClock
from tests.conftest import ContractWatch
from tests.netatmo_http import (
    CI,
    HOLIDAYS,
    HOME_ID,
    HOMECOACH,
    LEGACY,
    PASSWORD,
    REDIRECT,
    STATION,
    USER,
    USER_ID,
    WEEK_SCHEDULE,
)

EXPIRES_IN = 10800
SCOPES = ["read_station", "read_thermostat", "write_thermostat", "read_homecoach"]
TOKEN = re.compile(r"^[0-9a-f]{24}\|[0-9a-f]{32}$")
LIVING, BEDROOM, OFFICE = "3100000001", "3100000002", "3100000003"
OUTDOOR = "02:00:00:3a:00:01"
RELAY, THERMOSTAT = "70:ee:50:00:00:01", "04:00:00:00:00:01"


@pytest.fixture
def clock(mockcloud: Admin) -> TestClock:
    return TestClock(mockcloud)


@pytest.fixture
def tokens() -> list[dict[str, Any]]:
    return []


@pytest.fixture
def watch() -> Iterator[ContractWatch]:
    w = ContractWatch("netatmo")
    yield w
    assert not w.problems, "responses off contract:\n" + "\n".join(w.problems)


@pytest.fixture
def make_client(mockcloud: Admin, clock: TestClock, tokens: list[dict[str, Any]],
                watch: ContractWatch) -> Callable[..., NetatmoClient]:
    def make(app: tuple[str, str] = CI, **kwargs: Any) -> NetatmoClient:
        kwargs.setdefault("sleep", Sleeps())
        kwargs.setdefault("on_token", tokens.append)
        client = NetatmoClient(*app, mockcloud.url("netatmo"), now=clock, **kwargs)
        client.hooks["response"].append(watch.hook)
        return client

    return make


def get_code(client: NetatmoClient, scope: Any = SCOPES, **kw: Any) -> tuple[str, str | None]:
    """Follow the auto-approving app's authorize redirect by hand: (code, verifier)."""
    url, state, verifier = client.authorization_url(REDIRECT, scope=scope, **kw)
    resp = requests.get(url, allow_redirects=False, timeout=10)
    assert resp.status_code == 302, resp.text
    return client.code_from_redirect(resp.headers["Location"], state), verifier


def authorize(client: NetatmoClient, scope: Any = SCOPES) -> str:
    code, verifier = get_code(client, scope)
    client.fetch_token(code, REDIRECT, verifier)
    assert client.access_token
    return client.access_token


@pytest.fixture
def client(make_client: Callable[..., NetatmoClient]) -> NetatmoClient:
    c = make_client()
    authorize(c)
    return c


def api_calls(mockcloud: Admin, method: str = "") -> list[dict[str, Any]]:
    return mockcloud.journal(vendor="netatmo", path=f"/api/{method}")


def statuses(mockcloud: Admin, method: str = "") -> list[int]:
    return [e["response"]["status"] for e in api_calls(mockcloud, method)]


def sent(mockcloud: Admin, method: str) -> dict[str, str]:
    """The form (and query) the last ``method`` call carried."""
    request = api_calls(mockcloud, method)[-1]["request"]
    form = parse_qs(request["body"].get("text") or "")
    form.update(parse_qs(urlsplit(request["url"]).query))
    return {k: v[0] for k, v in form.items()}


def token_calls(mockcloud: Admin) -> list[dict[str, Any]]:
    return mockcloud.journal(vendor="netatmo", path="/oauth2/token")


# ------------------------------------------------------------------ the code flow

def test_authorization_url_has_space_separated_scopes_and_the_state() -> None:
    client = NetatmoClient(*CI)
    url, state, verifier = client.authorization_url(REDIRECT, state="s-1", scope=SCOPES)
    parts = urlsplit(url)
    query = {k: v[0] for k, v in parse_qs(parts.query).items()}
    assert f"{parts.scheme}://{parts.netloc}{parts.path}" == f"{API}/oauth2/authorize"
    assert (state, verifier) == ("s-1", None)
    assert query == {"client_id": "netatmo-ci", "response_type": "code",
                     "redirect_uri": REDIRECT, "state": "s-1", "scope": " ".join(SCOPES)}
    assert "scope=read_station&" in client.authorization_url(REDIRECT, scope="read_station")[0]
    assert "scope=" not in client.authorization_url(REDIRECT)[0]  # the app's default
    assert "code_challenge=" in client.authorization_url(REDIRECT, pkce=True)[0]


def test_code_flow_token_shape_and_on_token(make_client: Callable[..., NetatmoClient],
                                           clock: TestClock,
                                           tokens: list[dict[str, Any]]) -> None:
    client = make_client()
    authorize(client)
    assert len(tokens) == 1
    token = tokens[0]
    assert token["scope"] == SCOPES and client.scopes == SCOPES  # a JSON array
    assert token["expires_in"] == token["expire_in"] == EXPIRES_IN
    assert token["expires_at"] == clock() + EXPIRES_IN
    assert TOKEN.match(token["access_token"]) and TOKEN.match(token["refresh_token"])
    assert token["access_token"].startswith(USER_ID + "|")
    assert client.homesdata()["user"]["email"] == USER


def test_code_flow_with_pkce_and_with_basic_client_auth(
        make_client: Callable[..., NetatmoClient], mockcloud: Admin) -> None:
    client = make_client(client_auth="basic")
    code, verifier = get_code(client, pkce=True)
    assert verifier
    client.fetch_token(code, REDIRECT, verifier)
    assert client.getstationsdata()["devices"]
    headers = {k.lower(): v for k, v in token_calls(mockcloud)[-1]["request"]["headers"].items()}
    assert headers["authorization"].startswith("Basic ")
    # a wrong verifier is refused, flat
    code, _ = get_code(client, pkce=True)
    with pytest.raises(AuthError) as bad:
        client.fetch_token(code, REDIRECT, "x" * 64)
    assert (bad.value.status, bad.value.error, bad.value.code) == (400, "invalid_grant", None)


def test_token_endpoint_errors_are_auth_errors(make_client: Callable[..., NetatmoClient]
                                              ) -> None:
    client = make_client(app=("netatmo-ci", "wrong-secret"))
    with pytest.raises(AuthError) as exc:
        client.fetch_token("no-such-code", REDIRECT)
    assert exc.value.error == "invalid_client" and exc.value.status in (400, 401)
    with pytest.raises(AuthError, match="no_refresh_token"):
        make_client().refresh()


def test_legacy_password_grant(make_client: Callable[..., NetatmoClient],
                               tokens: list[dict[str, Any]]) -> None:
    legacy = make_client(app=LEGACY)
    token = legacy.password_login(USER, PASSWORD, ["read_station", "read_homecoach"])
    assert token["scope"] == ["read_station", "read_homecoach"]
    assert tokens == [token] and legacy.gethomecoachsdata()["devices"]
    with pytest.raises(AuthError) as exc:
        make_client().password_login(USER, PASSWORD, "read_station")
    assert exc.value.error == "unauthorized_client"
    with pytest.raises(AuthError) as wrong:
        make_client(app=LEGACY).password_login(USER, "not-the-password")
    # RFC 6749 says invalid_grant; the emulator answers Authlib's invalid_request
    assert wrong.value.status == 400 and wrong.value.error in ("invalid_grant",
                                                               "invalid_request")


# ---------------------------------------------------------------------- rotation

def test_refresh_rotates_and_the_old_pair_dies(
        client: NetatmoClient, make_client: Callable[..., NetatmoClient],
        tokens: list[dict[str, Any]], mockcloud: Admin) -> None:
    old = dict(client.token)
    new = client.refresh()
    assert len(tokens) == 2 and tokens[1] == client.token == new
    assert new["access_token"] != old["access_token"]
    assert new["refresh_token"] != old["refresh_token"]
    assert new["scope"] == SCOPES
    # the old refresh token is dead: invalid_grant, flat
    stale = make_client(token=old, on_token=None)
    with pytest.raises(AuthError) as exc:
        stale.refresh()
    assert (exc.value.status, exc.value.error) == (400, "invalid_grant")
    assert token_calls(mockcloud)[-1]["response"]["body"]["text"].replace(" ", "") == \
        '{"error":"invalid_grant"}'
    # the old access token too: 403 code 2 (a session without refresh token just fails)
    bare = make_client(token={"access_token": old["access_token"]})
    with pytest.raises(ApiError) as dead:
        bare.homesdata()
    assert (dead.value.status, dead.value.code, dead.value.description) == \
        (403, 2, "Invalid access_token")
    # the rotated pair goes on working, in a new session too
    assert make_client(token=new).homestatus(HOME_ID)["home"]["id"] == HOME_ID


def test_refreshes_up_front_on_the_client_clock(
        client: NetatmoClient, clock: TestClock, mockcloud: Admin,
        tokens: list[dict[str, Any]]) -> None:
    clock.advance(EXPIRES_IN + 1)
    assert client.homesdata()["homes"]
    assert len(tokens) == 2 and tokens[1]["expires_at"] == clock() + EXPIRES_IN
    assert statuses(mockcloud) == [200]  # refreshed before the call, no 403


def test_expired_token_403_code_3_refreshes_once_and_retries(
        client: NetatmoClient, clock: TestClock, mockcloud: Admin,
        tokens: list[dict[str, Any]]) -> None:
    clock.advance(EXPIRES_IN + 1, client=False)  # only the server sees the expiry
    assert client.getstationsdata()["devices"]
    calls = api_calls(mockcloud)
    assert [e["response"]["status"] for e in calls] == [403, 200]
    assert '"code":3' in calls[0]["response"]["body"]["text"].replace(" ", "")
    assert len(tokens) == 2 and len(token_calls(mockcloud)) == 2


def test_a_revoked_grant_refreshes_once_then_fails(
        client: NetatmoClient, mockcloud: Admin, tokens: list[dict[str, Any]]) -> None:
    mockcloud.revoke(client.access_token or "")
    with pytest.raises(AuthError) as exc:
        client.homesdata()
    assert (exc.value.status, exc.value.error) == (400, "invalid_grant")
    assert statuses(mockcloud) == [403] and len(tokens) == 1


# ------------------------------------------------------------------------ reads

def test_homesdata_and_homestatus(client: NetatmoClient, mockcloud: Admin) -> None:
    body = client.homesdata()
    home = body["homes"][0]
    assert (home["id"], home["name"], home["timezone"]) == (HOME_ID, "Dev home",
                                                           "Europe/Paris")
    assert [r["id"] for r in home["rooms"]] == [LIVING, BEDROOM, OFFICE]
    assert {s["id"]: s.get("selected") for s in home["schedules"]} == \
        {WEEK_SCHEDULE: True, HOLIDAYS: None}
    only = client.homesdata(home_id=HOME_ID, gateway_types=["NAPlug"])["homes"]
    assert [h["id"] for h in only] == [HOME_ID]
    assert sent(mockcloud, "homesdata") == {"home_id": HOME_ID, "gateway_types": "NAPlug"}

    status = client.homestatus(HOME_ID)["home"]
    assert status["id"] == HOME_ID
    assert {r["id"] for r in status["rooms"]} == {LIVING, BEDROOM, OFFICE}
    rooms = {r["id"]: r for r in status["rooms"]}
    # Friday 09:00 in Paris: the Week schedule's Eco zone (08:30-17:30)
    assert rooms[LIVING]["therm_setpoint_mode"] == "schedule"
    assert rooms[LIVING]["therm_setpoint_temperature"] == 16.5
    assert rooms[LIVING]["therm_setpoint_end_time"] == START + 8.5 * 3600
    valves = client.homestatus(HOME_ID, device_types=["NRV"])["home"]["modules"]
    assert {m["type"] for m in valves} == {"NRV"}
    assert sent(mockcloud, "homestatus") == {"home_id": HOME_ID, "device_types": "NRV"}


def test_stations_and_home_coach(client: NetatmoClient, mockcloud: Admin) -> None:
    body = client.getstationsdata(get_favorites=True)
    assert sent(mockcloud, "getstationsdata") == {"get_favorites": "true"}
    station = body["devices"][0]
    assert (station["_id"], station["type"]) == (STATION, "NAMain")
    assert {m["type"] for m in station["modules"]} == {"NAModule1", "NAModule2",
                                                      "NAModule3", "NAModule4"}
    assert station["dashboard_data"]["time_utc"] <= START
    assert body["user"]["mail"] == USER
    assert client.getstationsdata(device_id=STATION)["devices"][0]["_id"] == STATION

    coach = client.gethomecoachsdata()["devices"][0]
    assert (coach["_id"], coach["type"]) == (HOMECOACH, "NHC")
    assert 0 <= coach["dashboard_data"]["health_idx"] <= 4
    assert client.gethomecoachsdata(device_id=HOMECOACH)["devices"][0]["_id"] == HOMECOACH


def test_getmeasure_both_formats(client: NetatmoClient, mockcloud: Admin) -> None:
    begin = datetime.fromtimestamp(START - 3600, UTC)
    listed = client.getmeasure(STATION, "max", ["Temperature", "Humidity"],
                               date_begin=begin, date_end=START, limit=6)
    assert sent(mockcloud, "getmeasure") == {
        "device_id": STATION, "scale": "max", "type": "Temperature,Humidity",
        "date_begin": str(int(START - 3600)), "date_end": str(int(START)), "limit": "6"}
    assert isinstance(listed, list) and listed[0]["step_time"] == 300
    values = [v for chunk in listed for v in chunk["value"]]
    assert len(values) == 6 and all(len(v) == 2 for v in values)

    mapped = client.getmeasure(STATION, "1hour", "min_temp,max_temp", module_id=OUTDOOR,
                               date_begin=START - 6 * 3600, date_end=START,
                               optimize=False, real_time=True)
    form = sent(mockcloud, "getmeasure")
    assert (form["optimize"], form["real_time"], form["module_id"]) == \
        ("false", "true", OUTDOOR)
    assert isinstance(mapped, dict) and mapped
    for stamp, (low, high) in mapped.items():
        assert START - 6 * 3600 <= int(stamp) <= START and low <= high


def test_getpublicdata(client: NetatmoClient, mockcloud: Admin) -> None:
    stations = client.getpublicdata(48.9, 2.4, 48.8, 2.3, required_data="temperature",
                                    filter=True)
    assert sent(mockcloud, "getpublicdata") == {
        "lat_ne": "48.9", "lon_ne": "2.4", "lat_sw": "48.8", "lon_sw": "2.3",
        "required_data": "temperature", "filter": "true"}
    for station in stations:
        lon, lat = station["place"]["location"]
        assert 48.8 <= lat <= 48.9 and 2.3 <= lon <= 2.4
    assert client.getpublicdata(48.9, 2.4, 48.8, 2.3, required_data="temperature",
                                filter=True) == stations  # seeded, stable
    with pytest.raises(ApiError) as exc:
        client.getpublicdata(91, 2.4, 48.8, 2.3)
    assert (exc.value.status, exc.value.code) == (400, 21)
    assert "lat_ne" in exc.value.description


def test_api_errors_carry_the_numeric_code(make_client: Callable[..., NetatmoClient],
                                           client: NetatmoClient) -> None:
    with pytest.raises(ApiError) as invalid:
        client.homestatus("000000000000000000000000")
    assert (invalid.value.status, invalid.value.code, invalid.value.error) == (400, 21, "21")
    assert invalid.value.description == "Invalid id"
    assert not isinstance(invalid.value, AuthError | RateLimitError)

    stations_only = make_client()
    authorize(stations_only, scope="read_station")
    assert stations_only.scopes == ["read_station"]
    with pytest.raises(ApiError) as scope:
        stations_only.gethomecoachsdata()
    assert (scope.value.status, scope.value.code) == (403, 13)
    assert scope.value.description == "Application does not have the good scope rights"


def test_security_endpoints_send_what_the_contract_says(
        make_client: Callable[..., NetatmoClient], mockcloud: Admin) -> None:
    """Cameras, persons and events (emulator/netatmo/security.py): what the client
    sends, and the answers (unknown event and person ids are 400/21)."""
    client = make_client()
    authorize(client, SCOPES + ["read_camera", "write_camera", "read_presence"])
    alice = "5e5c7a1b-2d3e-4f50-6172-8394000000a1"
    calls: list[tuple[str, Callable[[], Any], dict[str, str], Any]] = [
        ("gethomedata", lambda: client.gethomedata(HOME_ID, size=5),
         {"home_id": HOME_ID, "size": "5"}, None),
        ("getevents", lambda: client.getevents(HOME_ID, device_types=["NACamera", "NOC"],
                                               size=10, locale="fr"),
         {"home_id": HOME_ID, "device_types": "NACamera,NOC", "size": "10",
          "locale": "fr"}, None),
        ("geteventsuntil", lambda: client.geteventsuntil(HOME_ID, "e1"),
         {"home_id": HOME_ID, "event_id": "e1"}, (400, 21)),
        ("setpersonsaway", lambda: client.setpersonsaway(HOME_ID, "p1"),
         {"home_id": HOME_ID, "person_id": "p1"}, (400, 21)),
        ("setpersonshome", lambda: client.setpersonshome(HOME_ID, [alice]),
         {"home_id": HOME_ID, "person_ids": f'["{alice}"]'}, None),
    ]
    for method, call, form, error in calls:
        try:
            call()
            assert error is None, method
        except ApiError as exc:
            assert (exc.status, exc.code) == error, exc
        assert sent(mockcloud, method) == form
    homes = client.gethomedata(HOME_ID)["homes"]
    assert {p["id"]: p["out_of_sight"] for p in homes[0]["persons"]}[alice] is False


# ---------------------------------------------------------------- usage limits

@pytest.fixture
def tiny_quota(mockcloud: Admin) -> Callable[[int | None], None]:
    def set_quota(status: int | None = None) -> None:
        mockcloud.set_quotas("netatmo", [{"key": "app", "limit": 2, "window": 10}],
                             status=status)
    return set_quota


@pytest.mark.parametrize("status, message", [(429, "Maximum api usage reached"),
                                             (403, "User usage reached")])
def test_code_26_waits_retry_after_then_succeeds(
        make_client: Callable[..., NetatmoClient], clock: TestClock, mockcloud: Admin,
        tiny_quota: Callable[[int | None], None], status: int, message: str) -> None:
    tiny_quota(status)
    sleeps = Sleeps(clock)  # the wait moves the emulator's clock
    client = make_client(sleep=sleeps)
    authorize(client)
    for _ in range(3):
        assert client.homesdata()["homes"]
    limited = [e for e in api_calls(mockcloud) if e["response"]["status"] == status]
    assert len(limited) == 1
    assert message in limited[0]["response"]["body"]["text"]
    retry_after = float(limited[0]["response"]["headers"]["Retry-After"])
    assert sleeps == [retry_after] and 0 < retry_after <= 10
    assert statuses(mockcloud) == [200, 200, status, 200]


def test_code_26_gives_up_after_max_retries(
        make_client: Callable[..., NetatmoClient], mockcloud: Admin,
        tiny_quota: Callable[[int | None], None]) -> None:
    tiny_quota(403)
    sleeps = Sleeps()  # time stands still: the window never resets
    client = make_client(sleep=sleeps, max_retries=2)
    authorize(client)
    client.homesdata()
    client.homesdata()
    with pytest.raises(RateLimitError) as exc:
        client.homesdata()
    assert (exc.value.status, exc.value.code, exc.value.description) == \
        (403, 26, "User usage reached")
    assert exc.value.retry_after == 10 and sleeps == [10.0, 10.0]
    assert statuses(mockcloud) == [200, 200, 403, 403, 403]


def test_the_wait_is_capped(make_client: Callable[..., NetatmoClient],
                            mockcloud: Admin) -> None:
    mockcloud.set_quotas("netatmo", [{"key": "app", "limit": 1, "window": 3600}])
    sleeps = Sleeps()
    client = make_client(sleep=sleeps, max_retries=3, max_retry_wait=5)
    authorize(client)
    client.homesdata()
    with pytest.raises(RateLimitError) as exc:
        client.homesdata()
    assert (exc.value.status, exc.value.code) == (429, 26)
    assert exc.value.retry_after == 3600 and sleeps == [5.0, 5.0, 5.0]


def test_other_403s_are_not_retried(client: NetatmoClient, mockcloud: Admin) -> None:
    mockcloud.add_fault(vendor="netatmo", path="/api/homesdata", status=403, first_n=1,
                        body={"error": {"code": 13, "message": "nope"}})
    with pytest.raises(ApiError) as exc:
        client.homesdata()
    assert (exc.value.status, exc.value.code) == (403, 13)
    assert client.sleep == [] and not isinstance(exc.value, RateLimitError)


# ------------------------------------------------------------- energy writes
# Each change made through the client shows in its next read (homesdata / homestatus).

def rooms_of(client: NetatmoClient) -> dict[str, dict[str, Any]]:
    return {r["id"]: r for r in client.homestatus(HOME_ID)["home"]["rooms"]}


def home_of(client: NetatmoClient) -> dict[str, Any]:
    return client.homesdata(home_id=HOME_ID)["homes"][0]


def test_setthermmode(client: NetatmoClient, clock: TestClock, mockcloud: Admin) -> None:
    answer = client.setthermmode(HOME_ID, "away", endtime=START + 3600)
    assert answer["status"] == "ok" and "body" not in answer
    assert answer["time_server"] == START
    assert sent(mockcloud, "setthermmode") == {"home_id": HOME_ID, "mode": "away",
                                               "endtime": str(int(START + 3600))}
    assert home_of(client)["therm_mode"] == "away"
    living = rooms_of(client)[LIVING]
    assert (living["therm_setpoint_mode"], living["therm_setpoint_temperature"]) == \
        ("away", 12)
    assert (living["therm_setpoint_start_time"], living["therm_setpoint_end_time"]) == \
        (START, START + 3600)
    clock.advance(3600)  # the end time passes: back to the schedule by itself
    assert rooms_of(client)[LIVING]["therm_setpoint_mode"] == "schedule"
    assert home_of(client)["therm_mode"] == "schedule"

    client.setthermmode(HOME_ID, "hg")
    assert {r["therm_setpoint_mode"] for r in rooms_of(client).values()} == {"hg"}
    assert rooms_of(client)[BEDROOM]["therm_setpoint_temperature"] == 7
    client.setthermmode(HOME_ID, "schedule", schedule_id=HOLIDAYS)
    assert {s["id"] for s in home_of(client)["schedules"] if s.get("selected")} == \
        {HOLIDAYS}
    assert rooms_of(client)[LIVING]["therm_setpoint_mode"] == "schedule"
    with pytest.raises(ApiError) as exc:
        client.setthermmode(HOME_ID, "party")
    assert (exc.value.status, exc.value.code) == (400, 21)


def test_setroomthermpoint(client: NetatmoClient, clock: TestClock,
                           mockcloud: Admin) -> None:
    client.setroomthermpoint(HOME_ID, LIVING, "manual", temp=21.5, endtime=START + 1800)
    assert sent(mockcloud, "setroomthermpoint") == {
        "home_id": HOME_ID, "room_id": LIVING, "mode": "manual", "temp": "21.5",
        "endtime": str(int(START + 1800))}
    rooms = rooms_of(client)
    assert rooms[LIVING]["therm_setpoint_mode"] == "manual"
    assert rooms[LIVING]["therm_setpoint_temperature"] == 21.5
    assert (rooms[LIVING]["therm_setpoint_start_time"],
            rooms[LIVING]["therm_setpoint_end_time"]) == (START, START + 1800)
    assert rooms[BEDROOM]["therm_setpoint_mode"] == "schedule"  # only that room
    clock.advance(1800)
    assert rooms_of(client)[LIVING]["therm_setpoint_mode"] == "schedule"

    client.setroomthermpoint(HOME_ID, BEDROOM, "max")  # default duration: 180 min
    bedroom = rooms_of(client)[BEDROOM]
    assert (bedroom["therm_setpoint_mode"], bedroom["therm_setpoint_temperature"]) == \
        ("max", 30)
    assert bedroom["therm_setpoint_end_time"] == clock() + 180 * 60
    client.setroomthermpoint(HOME_ID, BEDROOM, "home")
    assert rooms_of(client)[BEDROOM]["therm_setpoint_mode"] == "schedule"
    with pytest.raises(ApiError) as missing:
        client.setroomthermpoint(HOME_ID, LIVING, "manual")
    assert (missing.value.status, missing.value.code) == (400, 10)


def test_switchhomeschedule(client: NetatmoClient) -> None:
    assert rooms_of(client)[LIVING]["therm_setpoint_temperature"] == 16.5  # Week: eco
    client.switchhomeschedule(HOME_ID, HOLIDAYS)
    assert {s["id"]: s.get("selected") for s in home_of(client)["schedules"]} == \
        {WEEK_SCHEDULE: None, HOLIDAYS: True}
    assert rooms_of(client)[LIVING]["therm_setpoint_temperature"] == 21  # comfort
    with pytest.raises(ApiError) as exc:
        client.switchhomeschedule(HOME_ID, "5e5c7a1b2d3e4f5061728fff")
    assert (exc.value.status, exc.value.code) == (400, 21)


ZONES = [{"id": 0, "name": "Warm", "type": 0,
          "rooms": [{"id": LIVING, "therm_setpoint_temperature": 22},
                    {"id": BEDROOM, "therm_setpoint_temperature": 20},
                    {"id": OFFICE, "therm_setpoint_temperature": 21}]},
         {"id": 1, "name": "Cool", "type": 1,
          "rooms": [{"id": LIVING, "therm_setpoint_temperature": 15},
                    {"id": BEDROOM, "therm_setpoint_temperature": 15},
                    {"id": OFFICE, "therm_setpoint_temperature": 15}]}]
# Friday 09:00 is minute 6300 of the week: Warm from Friday 08:00 to 12:00
TIMETABLE = [{"zone_id": 1, "m_offset": 0}, {"zone_id": 0, "m_offset": 6240},
             {"zone_id": 1, "m_offset": 6480}]


def test_schedules_created_synced_renamed_deleted(client: NetatmoClient,
                                                  mockcloud: Admin) -> None:
    created = client.createnewhomeschedule(HOME_ID, "Winter", zones=ZONES,
                                           timetable=TIMETABLE, hg_temp=7, away_temp=14)
    new_id = NetatmoClient.new_schedule_id(created)
    assert re.fullmatch(r"[0-9a-f]{24}", new_id)
    schedules = {s["id"]: s for s in home_of(client)["schedules"]}
    assert schedules[new_id]["name"] == "Winter" and "selected" not in schedules[new_id]
    assert schedules[new_id]["timetable"] == TIMETABLE

    client.renamehomeschedule(HOME_ID, new_id, "Winter 2027")
    assert {s["id"]: s["name"] for s in home_of(client)["schedules"]}[new_id] == \
        "Winter 2027"

    warmer = [{**ZONES[0], "rooms": [{**r, "therm_setpoint_temperature": 23}
                                     for r in ZONES[0]["rooms"]]}, ZONES[1]]
    client.synchomeschedule(HOME_ID, schedule_id=new_id, name="Winter+", zones=warmer,
                            timetable=TIMETABLE, hg_temp=8, away_temp=15)
    request = api_calls(mockcloud, "synchomeschedule")[-1]["request"]
    assert parse_qs(urlsplit(request["url"]).query) == {
        "home_id": [HOME_ID], "schedule_id": [new_id], "name": ["Winter+"]}
    assert request["headers"]["Content-Type"] == "application/json"
    synced = {s["id"]: s for s in home_of(client)["schedules"]}[new_id]
    assert (synced["name"], synced["hg_temp"], synced["away_temp"]) == ("Winter+", 8, 15)
    client.switchhomeschedule(HOME_ID, new_id)
    assert rooms_of(client)[LIVING]["therm_setpoint_temperature"] == 23

    with pytest.raises(ApiError) as selected:
        client.deletehomeschedule(HOME_ID, new_id)
    assert (selected.value.status, selected.value.code) == (400, 21)
    client.switchhomeschedule(HOME_ID, WEEK_SCHEDULE)
    client.deletehomeschedule(HOME_ID, new_id)
    assert new_id not in {s["id"] for s in home_of(client)["schedules"]}

    with pytest.raises(ApiError) as unsorted:
        client.synchomeschedule(HOME_ID, zones=ZONES, timetable=TIMETABLE[::-1],
                                hg_temp=7, away_temp=14)
    assert (unsorted.value.status, unsorted.value.code) == (400, 21)


def test_setstate_sets_a_room(client: NetatmoClient, mockcloud: Admin) -> None:
    answer = client.setstate(HOME_ID, rooms=[{
        "id": OFFICE, "therm_setpoint_mode": "manual", "therm_setpoint_temperature": 22,
        "therm_setpoint_end_time": int(START + 600)}])
    assert answer["status"] == "ok"
    request = api_calls(mockcloud, "setstate")[-1]["request"]
    assert request["headers"]["Content-Type"] == "application/json"
    office = rooms_of(client)[OFFICE]
    assert (office["therm_setpoint_mode"], office["therm_setpoint_temperature"],
            office["therm_setpoint_end_time"]) == ("manual", 22, START + 600)


def test_getroommeasure_and_getthermostatsdata(client: NetatmoClient,
                                               clock: TestClock) -> None:
    client.setroomthermpoint(HOME_ID, LIVING, "manual", temp=24, endtime=START + 4 * 3600)
    clock.advance(3 * 3600)
    measure = client.getroommeasure(HOME_ID, LIVING, "30min",
                                    ["temperature", "sp_temperature"],
                                    date_begin=START, date_end=START + 3 * 3600,
                                    optimize=False)
    assert isinstance(measure, dict) and measure
    points = sorted((int(t), v) for t, v in measure.items())
    assert all(sp == 24 for t, (_, sp) in points if t >= START)
    assert points[-1][1][0] > points[0][1][0]  # the room warmed towards 24
    # the energy getmeasure of the thermostat (on its relay) agrees: the boiler ran
    boiler = client.getmeasure(RELAY, "1hour", ["sum_boiler_on"], module_id=THERMOSTAT,
                               date_begin=START, date_end=START + 3 * 3600)
    assert isinstance(boiler, list) and boiler
    assert sum(v[0] or 0 for chunk in boiler for v in chunk["value"]) > 0
    thermostats = client.getthermostatsdata()
    assert thermostats["devices"][0]["_id"] == RELAY
    assert client.getthermostatsdata(device_id=RELAY)["devices"]
