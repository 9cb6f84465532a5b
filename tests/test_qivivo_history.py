"""Qivivo's history (issue 10, the doubtful points): reads of the past use only the
changes made at or before t, however many writes came since (the log seals old
events into chunks and reads them back); a write after the clock moved back keeps
the later-stamped events; the habitation events and last presence equal a walk of
the 5-minute grid. In process (werkzeug's client on create_app), so the house
document itself can be looked at."""

from __future__ import annotations

import random

import pytest
from werkzeug.test import Client

from emulator.app import create_app
from emulator.core.sealed import SealedLog
from emulator.qivivo import control, physics
from emulator.qivivo import models as m
from emulator.settings import Settings
from tests.qivivo_http import CI, MONDAY_10, TH, WM

BASE = "/qivivo/api/v2"
EVERY = ("read_devices read_thermostats read_wireless_modules read_programmation "
         "update_programmation read_house_data update_house_settings")
USER_ID = "demo@qivivo.test"


class House:
    def __init__(self) -> None:
        self.app = create_app(Settings())
        self.http = Client(self.app)
        self.set_time(MONDAY_10 - 10 * 86400)
        token = self.http.post("/_mockcloud/tokens", json={
            "vendor": "qivivo", "client_id": CI[0], "user": USER_ID, "scope": EVERY}).json
        self.auth = {"Authorization": f"Bearer {token['access_token']}"}
        self.http.put("/_mockcloud/quotas/qivivo", json={"enabled": False, "rules": []})
        self.set_time(MONDAY_10)

    def set_time(self, t: float) -> None:
        assert self.http.post("/_mockcloud/clock/freeze", json={"at": t}).status_code == 200

    def call(self, method: str, path: str, body=None) -> dict:
        resp = self.http.open(BASE + path, method=method, json=body, headers=self.auth)
        assert resp.status_code == 200, resp.data
        return resp.json

    def order(self) -> float:
        return self.call("GET", f"/devices/thermostats/{TH}/temperature")[
            "current_temperature_order"]

    def doc(self) -> dict:
        return self.app.store.get("default", m.HOME, USER_ID)

    def model(self, t: float) -> m.Qivivo:
        return m.Qivivo(self.app.store, "default", USER_ID, t)


@pytest.fixture
def house(monkeypatch) -> House:
    monkeypatch.setenv("MOCKCLOUD_QIVIVO_EXPIRES_IN", str(400 * 86400))
    return House()


def temp_of(i: int) -> float:
    return 15.0 + (i % 20) * 0.5


def test_reads_of_the_past_are_exact_across_sealed_chunks(house: House) -> None:
    step = 600
    n = 300                                  # 50 h of writes, 10 minutes apart
    for i in range(n):
        house.set_time(MONDAY_10 + i * step)
        house.call("POST", f"/devices/thermostats/{TH}/temperature/temporary-instruction",
                   {"temperature": temp_of(i), "duration": 5})
    doc = house.doc()
    assert len(doc["events"]) <= m.MAX_EVENTS and len(doc["chunks"]) >= 3
    assert doc["base_at"] > MONDAY_10
    rng = random.Random(3)
    for i in sorted(rng.sample(range(n), 40), reverse=True):  # the clock goes back
        house.set_time(MONDAY_10 + i * step + 60)
        assert house.order() == temp_of(i), i
        house.set_time(MONDAY_10 + i * step + 400)      # the instruction has ended
        assert house.order() == 16.0 or i * step % 86400 > 8 * 3600
    # the room's temperature in the past does not see later writes either
    t = MONDAY_10 + 20 * step + 240
    house.set_time(t)
    before = house.call("GET", f"/devices/thermostats/{TH}/temperature")["temperature"]
    fresh = House()
    for i in range(21):
        fresh.set_time(MONDAY_10 + i * step)
        fresh.call("POST", f"/devices/thermostats/{TH}/temperature/temporary-instruction",
                   {"temperature": temp_of(i), "duration": 5})
    fresh.set_time(t)
    assert fresh.call("GET", f"/devices/thermostats/{TH}/temperature")["temperature"] == before


def test_a_write_after_the_clock_moved_back_keeps_what_came_later(house: House) -> None:
    house.set_time(MONDAY_10 + 3600)
    house.call("POST", f"/devices/thermostats/{TH}/temperature/temporary-instruction",
               {"temperature": 22.5, "duration": 60})
    house.call("PUT", "/habitation/settings/absence/alert", {"new_nb_day": 6})
    house.set_time(MONDAY_10)                          # back an hour, then a write
    house.call("PUT", "/habitation/settings/define_temperature",
               {"temperature_setting_name": "absence_temperature", "temperature": 17})
    assert house.order() == 17.0
    assert house.call("GET", "/habitation/data/settings")["settings"][
        "days_of_absence_before_alert"] == 3          # not yet
    house.set_time(MONDAY_10 + 3660)                   # forward again: both still there
    assert house.order() == 22.5
    settings = house.call("GET", "/habitation/data/settings")["settings"]
    assert (settings["absence_temperature"], settings["days_of_absence_before_alert"]) \
        == (17.0, 6)
    types = [e["type"] for e in house.call("GET", "/habitation/data/events")["events"]]
    assert types[:3] == ["absence_alert_defined", "temporary_instruction",
                         "setting_defined"]


def test_a_later_program_event_that_no_longer_applies_is_a_no_op(house: House) -> None:
    day = [{"period_start": "00:00", "period_end": "23:59",
            "temperature_setting": "presence_temperature_4"}]
    house.set_time(MONDAY_10 + 600)
    house.call("POST", f"/devices/thermostats/{TH}/programs", {"name": "X",
                                                                "program": {"monday": day}})
    house.call("DELETE", f"/devices/thermostats/{TH}/programs/2")   # later: delete 2
    house.set_time(MONDAY_10)
    house.call("PUT", f"/devices/thermostats/{TH}/programs/2/active")  # earlier: 2 active
    house.set_time(MONDAY_10 + 1200)
    progs = house.call("GET", f"/devices/thermostats/{TH}/programs")
    assert progs["user_active_program_id"] == 2                # the delete did nothing
    assert [p["name"] for p in progs["user_programs"]] == ["Semaine Travail",
                                                           "Semaine Vacances", "X"]


def test_same_instant_writes_replace_each_other(house: House) -> None:
    for temp in (18.0, 19.0, 20.5):
        house.call("POST", f"/devices/thermostats/{TH}/temperature/temporary-instruction",
                   {"temperature": temp, "duration": 30})
    assert [e["op"] for e in house.doc()["events"]] == ["instruction"]
    assert house.order() == 20.5


def _walk(model: m.Qivivo, span: float) -> list[tuple[float, bool]]:
    """The reference: every 5-minute mark read with the state in force then."""
    home = model.at(model.home(), model.now - span - 600)
    seed = model.seed()
    t = (model.now // 300) * 300
    out, before = [], None
    for x in range(int(t - span), int(t) + 1, 300):
        if x < home["setup"]:
            continue
        here = physics.present(home, control.state_at(home, x), seed, x)
        if before is not None and here != before:
            out.append((float(x), here))
        before = here
    return out


@pytest.mark.parametrize("seed", range(4))
def test_presence_changes_equal_the_grid_walk(house: House, seed: int) -> None:
    rng = random.Random(seed)
    t = MONDAY_10 - 3 * 86400
    for _ in range(12):
        t += rng.randrange(600, 6 * 3600)
        house.set_time(t)
        what = rng.randrange(3)
        if what == 0:
            house.call("POST", f"/devices/thermostats/{TH}/arrival",
                       {"duration": rng.randrange(5, 300)})
        elif what == 1:
            a = control.wall(control.zone("Europe/Paris"), t + rng.randrange(-7200, 3000))
            b = control.wall(control.zone("Europe/Paris"), t + rng.randrange(3600, 20000))
            house.call("POST", f"/devices/thermostats/{TH}/absence",
                       {"start_date": a, "end_date": b})
        else:
            house.call("DELETE", f"/devices/thermostats/{TH}/absence")
    for end in (t, t + 3 * 3600, t + 86400 * 1.5):
        model = house.model(float(int(end)))
        home = model.home()
        _, _, changes = model._presence(home, 86400)
        assert changes == _walk(model, 86400)
        events = [e for e in model.events()["events"] if e["type"].endswith("_detected")]
        assert len(events) == len(changes)


def test_module_reads_still_work_after_sealing(house: House) -> None:
    for i in range(80):
        house.set_time(MONDAY_10 + i * 60)
        house.call("PUT", f"/devices/wireless-modules/{WM}/programs/{1 + i % 2}/active")
    assert len(house.doc()["events"]) <= m.MAX_EVENTS
    house.set_time(MONDAY_10 + 30)
    assert house.call("GET", f"/devices/wireless-modules/{WM}/pilot-wire-order") == {
        "current_pilot_wire_order": "comfort_minus_two"}          # program 1 at 10:00
    house.set_time(MONDAY_10 + 90)
    assert house.call("GET", f"/devices/wireless-modules/{WM}/pilot-wire-order") == {
        "current_pilot_wire_order": "frost"}                      # program 2


# ---------------------------------------------------------------- core.sealed

def _fold(base: list, events: list) -> list:
    return [*base, *(e["v"] for e in events)]


def test_sealed_log_insert_seal_and_read_back() -> None:
    from emulator.core.store import MemoryStore

    log = SealedLog("x.chunk", _fold, max_events=8, recent=2,
                    target=lambda e: e.get("k"))
    doc: dict = {"base": [], "events": []}
    store = MemoryStore()
    for i in range(30):
        log.insert(doc, {"t": float(i), "v": i})
        log.write_pending(store, "t", log.seal(doc, "o", float(i) - 3))
        assert len(doc["events"]) <= 8
    assert doc["base"] == list(range(doc["events"][0]["v"]))
    for since in (0.0, 5.0, 12.5, 29.0):
        full = log.with_history(store, "t", doc, "o", since)
        assert full["base_at"] is None or full["base_at"] <= since
        assert _fold(full["base"], full["events"]) == list(range(30))
    # same instant: a target replaces its own kind after the last untargeted event
    doc = {"base": [], "events": []}
    for e in ({"t": 1.0, "v": "a", "k": "x"}, {"t": 1.0, "v": "b"},
              {"t": 1.0, "v": "c", "k": "x"}, {"t": 1.0, "v": "d", "k": "x"},
              {"t": 0.5, "v": "e", "k": "x"}):
        log.insert(doc, e)
    assert [e["v"] for e in doc["events"]] == ["e", "a", "b", "d"]
