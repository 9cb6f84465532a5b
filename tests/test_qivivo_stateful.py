"""A Hypothesis state machine over HTTP: programs (create, activate, replace a day,
delete), temporary instructions, absences and arrivals, over moves of the clock,
against an independent reference model of the thermostat (a minute-by-minute reading
of the rules in emulator/qivivo/control.py's docstring, written apart from it).

MOCKCLOUD_HYPOTHESIS_EXAMPLES sets the number of examples (default 15)."""

from __future__ import annotations

import math
import os
import uuid
from datetime import datetime
from zoneinfo import ZoneInfo

import requests
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, initialize, invariant, rule

from emulator.testing import Admin
from tests.qivivo_http import CI, MONDAY_10, TH

PARIS = ZoneInfo("Europe/Paris")
DAYS = ("monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday")
SETTINGS = {"presence_temperature_1": 19.0, "presence_temperature_2": 19.5,
            "presence_temperature_3": 20.0, "presence_temperature_4": 20.5,
            "night_temperature": 17.5, "absence_temperature": 16.0,
            "frost_protection_temperature": 7.0}
WORK = [("00:00", "06:29", "night_temperature"), ("06:30", "08:29", "presence_temperature_1"),
        ("08:30", "17:59", "absence_temperature"), ("18:00", "22:29", "presence_temperature_1"),
        ("22:30", "23:59", "night_temperature")]
WEEKEND = [("00:00", "07:59", "night_temperature"), ("08:00", "22:59", "presence_temperature_2"),
           ("23:00", "23:59", "night_temperature")]
HOLIDAY = [("00:00", "07:59", "night_temperature"), ("08:00", "22:59", "presence_temperature_1"),
           ("23:00", "23:59", "night_temperature")]
SERVER: dict[str, str] = {}


def _min(hhmm: str) -> int:
    return int(hhmm[:2]) * 60 + int(hhmm[3:])


class Reference:
    """The thermostat's order, from a log of accepted writes."""

    def __init__(self) -> None:
        self.programs = [{d: list(WORK if i < 5 else WEEKEND) for i, d in enumerate(DAYS)},
                         {d: list(HOLIDAY) for d in DAYS}]
        self.active = 1
        self.instruction: tuple[float, float, float] | None = None   # temp, start, end
        self.absence: tuple[float, float] | None = None
        self.arrival: tuple[float, float] | None = None

    def setting(self, program: dict, t: float) -> str | None:
        lt = datetime.fromtimestamp(t, PARIS)
        m = lt.hour * 60 + lt.minute
        for a, b, s in program.get(DAYS[lt.weekday()], []):
            if _min(a) <= m <= _min(b):
                return s
        return None

    def order(self, t: float) -> float:
        if self.instruction and self.instruction[1] <= t < self.instruction[2]:
            return math.floor(self.instruction[0] * 2 + 0.5) / 2   # half up
        if self.arrival and self.arrival[0] <= t < self.arrival[1]:
            return SETTINGS["presence_temperature_1"]
        if self.absence and self.absence[0] <= t < self.absence[1]:
            return SETTINGS["frost_protection_temperature"]
        s = self.setting(self.programs[self.active - 1], t)
        return SETTINGS[s or "frost_protection_temperature"]

    def arrival_end(self, now: float, minutes: int) -> float:
        start = now + minutes * 60
        program = self.programs[self.active - 1]
        here = self.setting(program, start)
        t = (start // 60) * 60
        while t < start + 7 * 86400:
            t += 60
            if self.setting(program, t) != here:
                return t
        return start + 7 * 86400


periods = st.lists(st.tuples(st.integers(0, 23), st.sampled_from(sorted(SETTINGS))),
                   min_size=1, max_size=4, unique_by=lambda p: p[0]).map(
    lambda items: [(f"{h:02d}:00", f"{nxt - 1 if nxt else 23:02d}:59", s)
                   for (h, s), nxt in zip(sorted(items), [*[h for h, _ in sorted(items)][1:], 0],
                                          strict=True)])


class QivivoMachine(RuleBasedStateMachine):
    @initialize()
    def start(self) -> None:
        self.admin = Admin(SERVER["url"], f"qsm-{uuid.uuid4().hex[:10]}",
                           token=SERVER.get("token"))
        self.admin.freeze(MONDAY_10)
        self.now = MONDAY_10
        self.http = requests.Session()
        self.ref = Reference()
        self._login()

    def _login(self) -> None:
        resp = self.http.post(f"{self.admin.url('qivivo')}/oauth/token", data={
            "grant_type": "client_credentials", "client_id": CI[0], "client_secret": CI[1]})
        assert resp.status_code == 200, resp.text
        self.http.headers["Authorization"] = f"Bearer {resp.json()['access_token']}"

    def call(self, method: str, path: str, body=None) -> requests.Response:
        url = f"{self.admin.url('qivivo')}/api/v2/devices/thermostats/{TH}{path}"
        resp = self.http.request(method, url, json=body)
        assert resp.status_code < 500, resp.text
        return resp

    @rule(seconds=st.sampled_from([60, 600, 1800, 3599, 5400, 6 * 3600, 86400, 3 * 86400]))
    def advance(self, seconds: int) -> None:
        self.admin.advance(seconds)
        self.now += seconds
        self._login()

    @rule(temp=st.floats(5, 30).map(lambda x: round(x, 2)), minutes=st.integers(1, 600))
    def instruction(self, temp: float, minutes: int) -> None:
        resp = self.call("POST", "/temperature/temporary-instruction",
                         {"temperature": temp, "duration": minutes})
        assert resp.status_code == 200, resp.text
        self.ref.instruction = (temp, self.now, self.now + minutes * 60)

    @rule()
    def cancel_instruction(self) -> None:
        assert self.call("DELETE", "/temperature/temporary-instruction").status_code == 200
        self.ref.instruction = None

    @rule(start=st.integers(-2, 48), hours=st.integers(-3, 72))
    def absence(self, start: int, hours: int) -> None:
        a = (self.now // 60) * 60 + start * 3600
        b = a + hours * 3600
        fmt = "%Y-%m-%d %H:%M"
        resp = self.call("POST", "/absence", {
            "start_date": datetime.fromtimestamp(a, PARIS).strftime(fmt),
            "end_date": datetime.fromtimestamp(b, PARIS).strftime(fmt)})
        if b <= a or b <= self.now:
            assert resp.status_code == 422, resp.text
        else:
            assert resp.status_code == 200, resp.text
            self.ref.absence = (a, b)

    @rule()
    def cancel_absence(self) -> None:
        assert self.call("DELETE", "/absence").status_code == 200
        self.ref.absence = None

    @rule(minutes=st.integers(0, 240))
    def arrival(self, minutes: int) -> None:
        assert self.call("POST", "/arrival", {"duration": minutes}).status_code == 200
        self.ref.arrival = (self.now, self.ref.arrival_end(self.now, minutes))

    @rule()
    def cancel_arrival(self) -> None:
        assert self.call("DELETE", "/arrival").status_code == 200
        self.ref.arrival = None

    @rule(days=st.lists(st.sampled_from(DAYS), min_size=1, max_size=7, unique=True),
          day=periods)
    def create(self, days: list[str], day: list) -> None:
        rows = [{"period_start": a, "period_end": b, "temperature_setting": s}
                for a, b, s in day]
        resp = self.call("POST", "/programs", {"name": "p", "program": dict.fromkeys(days, rows)})
        if len(self.ref.programs) >= 20:
            assert resp.status_code == 422
            return
        assert resp.status_code == 200, resp.text
        self.ref.programs.append(dict.fromkeys(days, list(day)))
        assert resp.json()["id"] == len(self.ref.programs)

    @rule(n=st.integers(1, 6))
    def activate(self, n: int) -> None:
        resp = self.call("PUT", f"/programs/{n}/active")
        if n > len(self.ref.programs):
            assert resp.status_code == 404
        else:
            assert resp.status_code == 200, resp.text
            self.ref.active = n

    @rule(n=st.integers(1, 6), name=st.sampled_from(DAYS), day=periods)
    def replace_day(self, n: int, name: str, day: list) -> None:
        rows = [{"period_start": a, "period_end": b, "temperature_setting": s}
                for a, b, s in day]
        resp = self.call("PUT", f"/programs/{n}/day/{name}", {"program_day_update": rows})
        if n > len(self.ref.programs):
            assert resp.status_code == 404
        else:
            assert resp.status_code == 200, resp.text
            self.ref.programs[n - 1][name] = list(day)

    @rule(n=st.integers(1, 6))
    def delete(self, n: int) -> None:
        resp = self.call("DELETE", f"/programs/{n}")
        if n > len(self.ref.programs):
            assert resp.status_code == 404
        elif n == self.ref.active:
            assert resp.status_code == 422
        else:
            assert resp.status_code == 200, resp.text
            del self.ref.programs[n - 1]
            if self.ref.active > n:
                self.ref.active -= 1

    @invariant()
    def the_order_is_the_references(self) -> None:
        if not hasattr(self, "ref"):
            return
        resp = self.call("GET", "/temperature")
        assert resp.status_code == 200, resp.text
        assert resp.json()["current_temperature_order"] == self.ref.order(self.now)
        listed = self.call("GET", "/programs").json()
        assert listed["user_active_program_id"] == self.ref.active
        assert len(listed["user_programs"]) == len(self.ref.programs)


def test_the_thermostat_follows_the_reference(mockcloud_server, mockcloud_admin_token):
    SERVER.update(url=mockcloud_server, token=mockcloud_admin_token or "")
    n = int(os.environ.get("MOCKCLOUD_HYPOTHESIS_EXAMPLES", "15"))
    run = QivivoMachine.TestCase
    run.settings = settings(max_examples=n, stateful_step_count=15, deadline=None,
                            suppress_health_check=list(HealthCheck))
    run().runTest()
