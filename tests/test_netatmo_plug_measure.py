"""Plugs', dimmers' and lights' energy and power through getmeasure (issue 9;
emulator/netatmo/plug_measure.py), against homestatus on the clock, over HTTP.

A day in half hours: the plug and the dimmer switched and dimmed at some half hours
(setstate), homestatus read at every half hour. Then getmeasure must agree:

* the Wh of the buckets between two half hours add up to what homestatus's
  ``sum_energy_elec`` moved between them, hour and day buckets too;
* a 30min bucket's ``power`` (stamped at its start) is homestatus's ``power`` then;
* pyatmo, unchanged but for its base URL, reads the plug's history
  (``async_update_measures``: device_id its bridge, the four
  ``sum_energy_buy_from_grid`` columns) and sums it to the same Wh;
* every answer validates against the contract (the ``netatmo`` fixture); bad types
  and modules that measure nothing are a 400.
"""

from __future__ import annotations

import asyncio
from typing import Any

import aiohttp
import pyatmo
import pytest
from pyatmo.modules.module import MeasureInterval

from emulator.testing import Admin
from tests.netatmo_http import CI, HOME_ID, USER, Netatmo, api_error
from tests.test_netatmo_clients import EmulatorAuth

T0 = 1_800_000_000                        # a whole half hour (Fri 2027-01-15 09:00 Paris)
HALF, DAY = 1800, 86400
GATEWAY, PLUG, DIMMER, LIGHT, SHUTTER = (f"00:04:74:00:00:0{i}" for i in range(1, 6))
SCOPE = "read_thermostat write_thermostat read_magellan write_magellan"
GRID = "sum_energy_buy_from_grid,sum_energy_buy_from_grid$0,sum_energy_buy_from_grid$1," \
       "sum_energy_buy_from_grid$2"
# at these half hours (index from T0): what setstate does
SWITCHES = {1: [{"id": PLUG, "on": True}], 5: [{"id": DIMMER, "brightness": 75}],
            9: [{"id": PLUG, "on": False}], 14: [{"id": DIMMER, "brightness": 20}],
            20: [{"id": PLUG, "on": True}, {"id": LIGHT, "on": True}],
            31: [{"id": DIMMER, "on": False}], 40: [{"id": LIGHT, "on": False}]}


def call(netatmo: Netatmo, method: str, **kw: Any) -> Any:
    resp = netatmo.api(method, netatmo.issue(SCOPE), **kw)
    assert resp.status_code == 200, resp.text
    return resp.json().get("body")


def measure(netatmo: Netatmo, module: str, scale: str, types: str, **params: Any) -> Any:
    return call(netatmo, "getmeasure", data={"device_id": GATEWAY, "module_id": module,
                                             "scale": scale, "type": types, **params})


@pytest.fixture
def day(netatmo: Netatmo, mockcloud: Admin) -> dict[int, dict[str, dict]]:
    """The day lived: homestatus's modules at each half hour (index from T0)."""
    mockcloud.freeze(T0)
    mockcloud.set_quotas("netatmo", [], enabled=False)
    seen: dict[int, dict[str, dict]] = {}
    for i in range(DAY // HALF + 1):
        if i in SWITCHES:
            call(netatmo, "setstate", json={"home": {"id": HOME_ID,
                                                     "modules": SWITCHES[i]}})
        body = call(netatmo, "homestatus", data={"home_id": HOME_ID})
        seen[i] = {m["id"]: m for m in body["home"]["modules"]}
        if i < DAY // HALF:
            mockcloud.advance(HALF)
    return seen


def rows(body: list[dict[str, Any]]) -> list[tuple[int, list[Any]]]:
    """(stamp, row) of an optimize=true answer."""
    out = []
    for run in body:
        for k, row in enumerate(run["value"]):
            out.append((run["beg_time"] + k * run["step_time"], row))
    return out


@pytest.mark.parametrize("module", [PLUG, DIMMER, LIGHT])
def test_buckets_add_up_to_homestatus_counter(netatmo, day, module):
    half = rows(measure(netatmo, module, "30min", GRID, date_begin=T0,
                        date_end=T0 + DAY, real_time="true"))
    assert [t for t, _ in half][:48] == [T0 + i * HALF for i in range(48)]
    counter = [day[i][module]["sum_energy_elec"] for i in range(49)]
    assert counter[-1] > counter[0]
    for i, (_, row) in enumerate(half[:48]):
        # one column carries the Wh (the base tariff's), the others are null
        assert row[0] is None and row[2] is None and row[3] is None
        assert row[1] == counter[i + 1] - counter[i], i
    # longer buckets say the same: hours stamped in their middle, as pyatmo expects
    hours = rows(measure(netatmo, module, "1hour", "sum_energy_elec", date_begin=T0,
                         date_end=T0 + DAY - 1))
    assert [t for t, _ in hours] == [T0 + 1800 + h * 3600 for h in range(24)]
    assert [r[0] for _, r in hours] == [counter[2 * h + 2] - counter[2 * h]
                                        for h in range(24)]


@pytest.mark.parametrize("module", [PLUG, DIMMER, LIGHT])
def test_power_of_a_half_hour_is_homestatus_power_at_its_start(netatmo, day, module):
    half = rows(measure(netatmo, module, "30min", "power,sum_energy_elec",
                        date_begin=T0, date_end=T0 + DAY - 1, real_time="true"))
    assert [r[0] for _, r in half] == [day[i][module]["power"] for i in range(48)]
    assert {r[0] for _, r in half} != {0}
    # optimize=false: the same rows under their stamps
    flat = measure(netatmo, module, "30min", "power,sum_energy_elec", date_begin=T0,
                   date_end=T0 + DAY - 1, real_time="true", optimize="false")
    assert [flat[str(t)] for t, _ in half] == [r for _, r in half]


def test_pyatmo_reads_the_plug_history(netatmo, day, mockcloud):
    token = mockcloud.issue_token("netatmo", CI[0], USER, SCOPE)["access_token"]

    async def scenario() -> tuple[float, list[dict[str, Any]]]:
        async with aiohttp.ClientSession() as session:
            account = pyatmo.AsyncAccount(EmulatorAuth(session, mockcloud.url("netatmo")
                                                       + "/", token))
            await account.async_update_topology()
            plug = account.homes[HOME_ID].modules[PLUG]
            await plug.async_update_measures(start_time=T0, end_time=T0 + DAY,
                                             interval=MeasureInterval.HOUR)
            return plug.sum_energy_elec, plug.historical_data

    total, history = asyncio.run(scenario())
    assert total == day[48][PLUG]["sum_energy_elec"] - day[0][PLUG]["sum_energy_elec"]
    # 24 hours, and the hour that starts at the end (now): nothing in it yet
    assert len(history) == 25 and history[0]["startTimeUnix"] == T0
    assert [h["Wh"] for h in history] == [
        day[2 * h + 2][PLUG]["sum_energy_elec"] - day[2 * h][PLUG]["sum_energy_elec"]
        for h in range(24)] + [0]


def test_what_a_plug_does_not_measure_is_a_400(netatmo, mockcloud):
    mockcloud.freeze(T0)
    token = netatmo.issue(SCOPE)
    for module, types in ((PLUG, "temperature"), (PLUG, "boileron"),
                          (SHUTTER, "sum_energy_elec"), (PLUG, "sum_energy_elec$3")):
        resp = netatmo.api("getmeasure", token, data={
            "device_id": GATEWAY, "module_id": module, "scale": "1hour", "type": types})
        assert api_error(resp)[:2] == (400, 21), (module, types)


def test_the_lights_and_plugs_read_scope_reads_their_energy_and_nothing_else(
        netatmo, mockcloud):
    """read_magellan (Legrand's lights, dimmers and plugs; the read twin of setstate's
    write_magellan) alone reads those modules' getmeasure, the same rows as
    read_thermostat; any other device is 403/13 (INFERRED, contract's alternatives)."""
    mockcloud.freeze(T0)
    mockcloud.set_quotas("netatmo", [], enabled=False)
    call(netatmo, "setstate", json={"home": {"id": HOME_ID, "modules": [
        {"id": PLUG, "on": True}, {"id": LIGHT, "on": True}]}})
    mockcloud.advance(3 * HALF)
    family, energy = netatmo.issue("read_magellan"), netatmo.issue("read_thermostat")
    for module in (PLUG, DIMMER, LIGHT):
        for http in ("GET", "POST"):
            kw = {"device_id": GATEWAY, "module_id": module, "scale": "30min",
                  "type": GRID + ",power", "date_begin": T0, "real_time": "true"}
            asked = {"params": kw} if http == "GET" else {"data": kw}
            mine = netatmo.api("getmeasure", family, http=http, **asked)
            theirs = netatmo.api("getmeasure", energy, http=http, **asked)
            assert mine.status_code == theirs.status_code == 200, mine.text
            assert mine.json()["body"] == theirs.json()["body"]
    assert sum(r[1] for _, r in rows(mine.json()["body"])) > 0
    station = netatmo.api("getstationsdata", netatmo.issue("read_station")).json()[
        "body"]["devices"][0]["_id"]
    for device, module in ((GATEWAY, None), (GATEWAY, "04:00:00:00:00:01"),
                           (GATEWAY, SHUTTER), (station, None)):
        data = {"device_id": device, "scale": "1hour", "type": "sum_energy_elec"}
        if module:
            data["module_id"] = module
        assert api_error(netatmo.api("getmeasure", family, data=data))[:2] == (403, 13), \
            (device, module)
        # a token of another family's read scope is refused at the door
    assert api_error(netatmo.api("getmeasure", netatmo.issue("read_bubendorff"), data={
        "device_id": GATEWAY, "module_id": PLUG, "scale": "1hour",
        "type": "sum_energy_elec"}))[:2] == (403, 13)
