"""The real Netatmo client libraries, unchanged but for the base URL, against mockcloud
over real HTTP (a tenant per test; no mocks):

* **pyatmo** 9.x (Home Assistant's library): an ``AbstractAsyncAuth`` whose
  ``base_url`` is the emulator's ``.../netatmo/`` (pyatmo appends ``api/<method>``, so
  the trailing slash matters) and whose token the emulator issued; ``AsyncAccount``
  topology, status, room set point, home mode, schedule switch, weather stations and
  the home coach.
* **lnetatmo** 4.x: its module-level URL constants (computed at import from
  ``_BASE_URL = "https://api.netatmo.com/"``) re-pointed at the emulator, which is how a
  user of that module changes its base URL; ``ClientAuth`` with the app's id and secret
  and an emulator-issued refresh token, then its reads.

Each change made through a client shows in its next read, and advancing the emulator's
clock warms a room whose set point was raised.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable, Iterator
from typing import Any, TypeVar
from urllib.parse import parse_qs

import aiohttp
import lnetatmo
import pyatmo
import pytest
from pyatmo.exceptions import ApiError, ApiThrottlingError, InvalidHomeError

from emulator.testing import Admin
from tests.netatmo_http import (
    CI,
    HOLIDAYS,
    HOME_ID,
    HOMECOACH,
    STATION,
    USER,
    WEEK_SCHEDULE,
)

SCOPE = "read_station read_thermostat write_thermostat read_homecoach"
START = 1_800_000_000.0        # Fri 2027-01-15 09:00 in Paris (Week schedule: Eco)
LIVING, BEDROOM, OFFICE = "3100000001", "3100000002", "3100000003"
OUTDOOR = "02:00:00:3a:00:01"
REAL_BASE = "https://api.netatmo.com/"

T = TypeVar("T")


def issue(mockcloud: Admin, scope: str = SCOPE) -> dict[str, Any]:
    """A token pair for dev@netatmo.test through netatmo-ci, as /oauth2/token answers."""
    return mockcloud.issue_token("netatmo", CI[0], USER, scope)


def api_calls(mockcloud: Admin, method: str = "") -> list[dict[str, Any]]:
    return mockcloud.journal(vendor="netatmo", path=f"/api/{method}")


def sent_form(mockcloud: Admin, method: str) -> dict[str, str]:
    text = api_calls(mockcloud, method)[-1]["request"]["body"].get("text") or ""
    return {k: v[0] for k, v in parse_qs(text).items()}


# ======================================================================== pyatmo

class EmulatorAuth(pyatmo.AbstractAsyncAuth):
    """What an application gives pyatmo: its session, the base URL, a token."""

    def __init__(self, websession: aiohttp.ClientSession, base_url: str,
                 access_token: str) -> None:
        super().__init__(websession, base_url=base_url)
        self.access_token = access_token

    async def async_get_access_token(self) -> str:
        return self.access_token


@pytest.fixture
def pyatmo_run(mockcloud: Admin) -> Callable[[Callable[[pyatmo.AsyncAccount],
                                                        Awaitable[T]]], T]:
    """Run ``scenario(account)`` in a fresh event loop with a fresh aiohttp session;
    the tenant's clock is frozen at ``START`` (before the token is issued)."""
    mockcloud.freeze(START)
    base = mockcloud.url("netatmo") + "/"
    token = issue(mockcloud)["access_token"]

    def run(scenario: Callable[[pyatmo.AsyncAccount], Awaitable[T]]) -> T:
        async def main() -> T:
            async with aiohttp.ClientSession() as session:
                account = pyatmo.AsyncAccount(EmulatorAuth(session, base, token))
                return await scenario(account)

        return asyncio.run(main())

    return run


def test_pyatmo_topology_and_status(pyatmo_run, mockcloud: Admin) -> None:

    async def scenario(account: pyatmo.AsyncAccount) -> None:
        await account.async_update_topology()
        assert account.user == USER
        home = account.homes[HOME_ID]
        assert home.name == "Dev home"
        assert {r.name for r in home.rooms.values()} == {"Living room", "Bedroom", "Office"}
        assert home.get_selected_schedule().entity_id == WEEK_SCHEDULE
        assert {s.name for s in home.get_available_schedules()} == {"Week", "Holidays"}
        assert home.rooms[LIVING].climate_type == pyatmo.modules.device_types.DeviceType.NATherm1

        await account.async_update_status(HOME_ID)
        living = home.rooms[LIVING]
        assert living.reachable is True
        assert (living.therm_setpoint_mode, living.therm_setpoint_temperature) == \
            ("schedule", 16.5)
        assert living.therm_measured_temperature is not None
        assert home.modules["04:00:00:00:00:01"].reachable is True
        with pytest.raises(InvalidHomeError):
            await account.async_update_status("000000000000000000000000")

    pyatmo_run(scenario)
    calls = [(e["request"]["method"], e["request"]["path"].rsplit("/", 1)[1])
             for e in api_calls(mockcloud)]
    assert calls == [("POST", "homesdata"), ("POST", "homestatus"), ("POST", "homestatus")]


def test_pyatmo_weather_stations_and_home_coach(pyatmo_run, mockcloud: Admin) -> None:
    async def scenario(account: pyatmo.AsyncAccount) -> None:
        await account.async_update_weather_stations()
        # the station names its home (home_id, home_name): pyatmo files it there
        weather_home = next(h for h in account.homes.values() if STATION in h.modules)
        assert weather_home.name == "Dev home"
        station = weather_home.modules[STATION]
        assert station.temperature is not None and station.co2 is not None
        assert station.pressure is not None and station.reachable is True
        outdoor = weather_home.modules[OUTDOOR]
        assert outdoor.temperature is not None and outdoor.battery is not None

        await account.async_update_air_care()
        coach = account.modules[HOMECOACH]
        assert coach.health_idx in range(5)
        assert coach.humidity is not None and coach.noise is not None

    pyatmo_run(scenario)
    assert sent_form(mockcloud, "getstationsdata") == {"get_favorites": "true"}


def test_pyatmo_room_set_point_mode_and_schedule(pyatmo_run, mockcloud: Admin) -> None:
    end = int(START + 3600)

    async def scenario(account: pyatmo.AsyncAccount) -> None:
        await account.async_update_topology()
        home = account.homes[HOME_ID]
        living = home.rooms[LIVING]

        await living.async_therm_manual(23, end)
        await account.async_update_status(HOME_ID)
        assert (living.therm_setpoint_mode, living.therm_setpoint_temperature,
                living.therm_setpoint_end_time) == ("manual", 23, end)

        await living.async_therm_home()  # pyatmo sends mode=home
        await account.async_update_status(HOME_ID)
        assert (living.therm_setpoint_mode, living.therm_setpoint_temperature) == \
            ("schedule", 16.5)

        assert await home.async_set_thermmode("away", end_time=end)
        await account.async_update_status(HOME_ID)
        assert {r.therm_setpoint_mode for r in home.rooms.values()} == {"away"}
        assert living.therm_setpoint_temperature == 12
        await account.async_update_topology()
        assert home.therm_mode == "away"

        assert await home.async_set_thermmode("schedule")
        assert await home.async_switch_schedule(HOLIDAYS)
        await account.async_update_topology()
        assert home.get_selected_schedule().entity_id == HOLIDAYS
        await account.async_update_status(HOME_ID)
        assert (living.therm_setpoint_mode, living.therm_setpoint_temperature) == \
            ("schedule", 21)

    pyatmo_run(scenario)
    assert sent_form(mockcloud, "setroomthermpoint")["mode"] == "home"
    assert sent_form(mockcloud, "switchhomeschedule") == {"home_id": HOME_ID,
                                                          "schedule_id": HOLIDAYS}


def test_pyatmo_advancing_the_clock_warms_the_room(pyatmo_run, mockcloud: Admin) -> None:
    readings: list[float] = []

    async def read(account: pyatmo.AsyncAccount) -> float:
        await account.async_update_status(HOME_ID)
        return account.homes[HOME_ID].rooms[LIVING].therm_measured_temperature

    async def scenario(account: pyatmo.AsyncAccount) -> None:
        await account.async_update_topology()
        readings.append(await read(account))
        await account.homes[HOME_ID].rooms[LIVING].async_therm_manual(
            25, int(START + 6 * 3600))
        for _ in range(3):  # 40 minutes at a time (the token lives 3 hours)
            mockcloud.advance(2400)
            readings.append(await read(account))

    pyatmo_run(scenario)
    assert readings[0] < 25
    assert readings[0] < readings[1] < readings[2] < readings[3] <= 25, readings


@pytest.mark.parametrize("status", [403, 429])
def test_pyatmo_sees_the_usage_limit(pyatmo_run, mockcloud: Admin, status: int) -> None:
    """pyatmo raises ApiThrottlingError for 403/26 (the older behaviour) and a plain
    ApiError for 429/26 (what the cloud answers since 2025), without retrying either."""
    mockcloud.set_quotas("netatmo", [{"key": "app", "limit": 1, "window": 60}],
                         status=status)

    async def scenario(account: pyatmo.AsyncAccount) -> BaseException:
        await account.async_update_air_care()
        with pytest.raises(ApiError) as exc:
            await account.async_update_air_care()
        return exc.value

    error = pyatmo_run(scenario)
    assert isinstance(error, ApiThrottlingError) == (status == 403)
    assert (error.status, error.code) == (status, 26)
    assert [e["response"]["status"] for e in api_calls(mockcloud)] == [200, status]


# ====================================================================== lnetatmo

@pytest.fixture
def lnetatmo_at(mockcloud: Admin, monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    """lnetatmo pointed at the emulator: every URL constant it derived from
    ``_BASE_URL`` at import gets the emulator's base instead (restored afterwards)."""
    base = mockcloud.url("netatmo") + "/"
    changed = 0
    for name, value in list(vars(lnetatmo).items()):
        if isinstance(value, str) and value.startswith(REAL_BASE):
            monkeypatch.setattr(lnetatmo, name, base + value.removeprefix(REAL_BASE))
            changed += 1
    pointed = lnetatmo._BASE_URL, lnetatmo._AUTH_REQ
    assert pointed == (base, base + "oauth2/token")
    assert changed >= 10
    for var in ("CLIENT_ID", "CLIENT_SECRET", "REFRESH_TOKEN"):  # they would win
        monkeypatch.delenv(var, raising=False)
    yield base


@pytest.fixture
def lnetatmo_auth(lnetatmo_at: str, mockcloud: Admin) -> lnetatmo.ClientAuth:
    return lnetatmo.ClientAuth(clientId=CI[0], clientSecret=CI[1],
                               refreshToken=issue(mockcloud)["refresh_token"])


def test_lnetatmo_token_renewal_with_rotation_and_expire_in(
        lnetatmo_auth: lnetatmo.ClientAuth, mockcloud: Admin) -> None:
    first_refresh = lnetatmo_auth.refreshToken
    before = time.time()
    access = lnetatmo_auth.accessToken  # expiration 0: renews at once
    assert lnetatmo_auth.refreshToken != first_refresh  # rotated, kept by the library
    assert mockcloud.introspect(first_refresh)["active"] is False
    # expiration comes from expire_in (10800 s), on lnetatmo's real clock
    assert before + 10800 - 1 <= lnetatmo_auth.expiration <= time.time() + 10800
    assert lnetatmo.HomesData(lnetatmo_auth).homeid == HOME_ID

    # the emulator's clock passes the expiry; lnetatmo's real clock does not, and it
    # renews on its own clock only: its call is refused (any 403 is OutOfScope to it)
    mockcloud.advance(10801)
    with pytest.raises(lnetatmo.OutOfScope):
        lnetatmo.HomesData(lnetatmo_auth)
    # once its own clock says so (as three real hours would), it renews and carries on
    lnetatmo_auth.expiration = 0
    assert lnetatmo.HomesData(lnetatmo_auth).homeid == HOME_ID
    assert lnetatmo_auth.accessToken != access
    assert [e["response"]["status"] for e in mockcloud.journal(path="/oauth2/token")] == \
        [200, 200]


def test_lnetatmo_weather_station_and_measures(lnetatmo_auth: lnetatmo.ClientAuth,
                                               mockcloud: Admin) -> None:
    weather = lnetatmo.WeatherStationData(lnetatmo_auth)
    assert weather.default_station == "Dev home"
    assert weather.user.mail == USER
    last = weather.lastData()
    assert set(last) == {"Living room", "Outdoor", "Wind", "Rain", "Bedroom"}
    assert last["Living room"]["Temperature"] is not None
    assert last["Outdoor"]["battery_percent"] is not None
    # (modulesNamesList() without a station forgets the default one: pass it)
    assert set(weather.modulesNamesList("Dev home")) == set(last)
    assert weather.getModule("Outdoor")["_id"] == OUTDOOR

    now = mockcloud.now()
    resp = weather.getMeasure(STATION, "max", "Temperature,Humidity",
                              date_begin=now - 3600, date_end=now)
    assert sent_form(mockcloud, "getmeasure")["optimize"] == "false"
    measures = resp["body"]
    assert measures and all(len(v) == 2 for v in measures.values())
    assert all(now - 3600 <= int(t) <= now for t in measures)


def test_lnetatmo_home_coach_homes_and_status(lnetatmo_auth: lnetatmo.ClientAuth,
                                              mockcloud: Admin) -> None:
    coach = lnetatmo.HomeCoach(lnetatmo_auth)
    dashboard = coach.Dashboard(HOMECOACH)
    assert dashboard["health_idx"] in range(5) and dashboard["CO2"] > 0

    assert lnetatmo.HomesData(lnetatmo_auth).homeid == HOME_ID
    assert sent_form(mockcloud, "homesdata")["home_id"] == "None"  # what lnetatmo sends
    assert lnetatmo.HomesData(lnetatmo_auth, home=HOME_ID).Homes_Data["name"] == \
        "Dev home"
    assert sent_form(mockcloud, "homesdata")["home_id"] == HOME_ID

    status = lnetatmo.HomeStatus(lnetatmo_auth, HOME_ID)
    assert set(status.getRoomsId()) == {LIVING, BEDROOM, OFFICE}
    assert status.getRoomParam(LIVING, "therm_setpoint_mode") == "schedule"
    assert "04:00:00:00:00:01" in status.getModulesId()
    assert status.getModuleParam("04:00:00:00:00:01", "type") == "NATherm1"


def test_lnetatmo_a_change_shows_in_the_next_read(lnetatmo_auth: lnetatmo.ClientAuth,
                                                  mockcloud: Admin) -> None:
    """lnetatmo has no energy writes of its own: its rawAPI sends one."""
    end = int(mockcloud.now() + 3600)
    answer = lnetatmo.rawAPI(lnetatmo_auth, "setroomthermpoint", {
        "home_id": HOME_ID, "room_id": BEDROOM, "mode": "manual", "temp": "22",
        "endtime": str(end)})
    assert answer["status"] == "ok"
    status = lnetatmo.HomeStatus(lnetatmo_auth, HOME_ID)
    assert status.getRoomParam(BEDROOM, "therm_setpoint_mode") == "manual"
    assert status.getRoomParam(BEDROOM, "therm_setpoint_temperature") == 22
    assert status.getRoomParam(BEDROOM, "therm_setpoint_end_time") == end
