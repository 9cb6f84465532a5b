"""Qivivo devices under the admin API (``/_mockcloud/devices/qivivo``): the thermostat,
a module or the gateway offline, the thermostat's battery; the API shows the effect
(every answer checked against the Qivivo contract)."""

from __future__ import annotations

import pytest

from emulator.testing import AdminError
from tests import test_qivivo_api
from tests.qivivo_http import GW, TH, WM, WZ, Qivivo

HOUR = 3600
tok = test_qivivo_api.tok          # the fixture: the clock frozen at MONDAY_10, a token


def test_the_list_and_what_each_device_takes(qivivo: Qivivo, tok: str) -> None:
    devices = {d["id"]: d for d in qivivo.admin.devices("qivivo")}
    assert set(devices) == {TH, GW, WM, WZ} and list(devices)[0] == TH
    assert devices[TH]["accepts"] == ["online", "battery_percent"]
    assert devices[WM]["accepts"] == ["online"] and devices[WM]["name"] == "Bedroom"
    assert devices[TH]["state"]["current_temperature_order"] == 16.0
    with pytest.raises(AdminError, match=": 400 .*no battery_percent"):
        qivivo.admin.override_device("qivivo", WM, battery_percent=50)
    with pytest.raises(AdminError, match=": 404 "):
        qivivo.admin.override_device("qivivo", "nope", online=False)


def test_battery(qivivo: Qivivo, tok: str) -> None:
    qivivo.admin.override_device("qivivo", TH, battery_percent=7)
    assert qivivo.get(f"/devices/thermostats/{TH}/info", tok)["voltagePercentage"] == 7
    qivivo.admin.override_device("qivivo", TH, battery_percent=None)
    assert qivivo.get(f"/devices/thermostats/{TH}/info", tok)["voltagePercentage"] != 7


def test_an_offline_thermostat_keeps_its_last_communication(qivivo: Qivivo,
                                                            tok: str) -> None:
    before = qivivo.get(f"/devices/thermostats/{TH}/temperature", tok)
    qivivo.admin.advance(120)
    qivivo.admin.override_device("qivivo", TH, online=False)
    qivivo.admin.advance(8 * HOUR)                   # 18:02: the program says 19.0
    tok = qivivo.access()
    info = qivivo.get(f"/devices/thermostats/{TH}/info", tok)
    assert info["lastCommunicationDate"] == "2024-01-08 10:00"
    assert qivivo.get(f"/devices/thermostats/{TH}/temperature", tok) == before
    assert qivivo.get(f"/devices/thermostats/{TH}/presence", tok) == {
        "presence_detected": False}
    # a module is not affected; writes are still taken
    assert qivivo.get(f"/devices/wireless-modules/{WM}/info", tok)[
        "lastCommunicationDate"] == "2024-01-08 18:00"
    resp = qivivo.api("POST", f"/devices/thermostats/{TH}/temperature/temporary-instruction",
                      tok, json={"temperature": 22.0, "duration": 60})
    assert resp.status_code == 200
    qivivo.admin.override_device("qivivo", TH, reachable=True)
    now = qivivo.get(f"/devices/thermostats/{TH}/temperature", tok)
    assert now["current_temperature_order"] == 22.0
    assert qivivo.get(f"/devices/thermostats/{TH}/info", tok)[
        "lastCommunicationDate"] == "2024-01-08 18:00"


def test_an_offline_gateway_takes_every_device_with_it(qivivo: Qivivo, tok: str) -> None:
    order = qivivo.get(f"/devices/wireless-modules/{WM}/pilot-wire-order", tok)
    qivivo.admin.override_device("qivivo", GW, online=False)
    qivivo.admin.advance(12 * HOUR)
    tok = qivivo.access()
    for path in (f"/devices/thermostats/{TH}/info", f"/devices/wireless-modules/{WM}/info",
                 f"/devices/wireless-modules/{WZ}/info", f"/devices/gateways/{GW}/info"):
        assert qivivo.get(path, tok)["lastCommunicationDate"] == "2024-01-08 09:55", path
    assert qivivo.get(f"/devices/wireless-modules/{WM}/pilot-wire-order", tok) == order
    qivivo.admin.override_device("qivivo", GW, clear=True)
    assert qivivo.get(f"/devices/gateways/{GW}/info", tok)[
        "lastCommunicationDate"] == "2024-01-08 22:00"
