"""Qivivo's API end to end over HTTP on the virtual clock: every operation of the
checklist, the thermostat and the pilot-wire modules following programs, temporary
instructions, absences and arrivals, errors, tokens and the quota. Every answer is
checked against the Qivivo contract (the ``qivivo`` fixture)."""

from __future__ import annotations

import pytest

from tests.qivivo_http import GW, MONDAY_10, TH, WM, WZ, Qivivo

HOUR = 3600


@pytest.fixture
def tok(qivivo: Qivivo) -> str:
    qivivo.admin.freeze(MONDAY_10)
    return qivivo.access()


def advance(qivivo: Qivivo, seconds: float) -> str:
    """Move the clock; a fresh token (tokens live an hour)."""
    qivivo.admin.advance(seconds)
    return qivivo.access()


def order(qivivo: Qivivo, tok: str) -> float:
    return qivivo.get(f"/devices/thermostats/{TH}/temperature", tok)[
        "current_temperature_order"]


def module_order(qivivo: Qivivo, tok: str, uuid: str = WM) -> str:
    return qivivo.get(f"/devices/wireless-modules/{uuid}/pilot-wire-order", tok)[
        "current_pilot_wire_order"]


def test_every_read_of_the_default_house(qivivo: Qivivo, tok: str):
    devices = qivivo.get("/devices", tok)["devices"]
    assert devices[0] == {"uuid": TH, "type": "thermostat"}
    assert {d["uuid"] for d in devices} == {TH, GW, WM, WZ}
    info = qivivo.get(f"/devices/thermostats/{TH}/info", tok)
    assert info["lastCommunicationDate"] == "2024-01-08 10:00"
    assert info["currentTimeBetweenCommunication"] == 5
    assert 0 <= info["voltagePercentage"] <= 100
    assert qivivo.get(f"/devices/thermostats/{TH}/humidity", tok)["humidity"] > 0
    assert qivivo.get(f"/devices/thermostats/{TH}/presence", tok) == {
        "presence_detected": False}                   # a weekday at 10:00: out
    progs = qivivo.get(f"/devices/thermostats/{TH}/programs", tok)
    assert progs["user_active_program_id"] == 1
    assert [p["id"] for p in progs["user_programs"]] == [1, 2]
    for path in ("info", "temperature", "humidity", "pilot-wire-order", "programs"):
        qivivo.get(f"/devices/wireless-modules/{WM}/{path}", tok)
    both = qivivo.get(f"/devices/wireless-modules/{WM}/programs", tok)
    assert both["user_programs"] == both["user_multizone_programs"]
    assert qivivo.get(f"/devices/gateways/{GW}/info", tok)["serial"] == "GW-000045"
    assert qivivo.get("/habitation/data/settings", tok)["settings"][
        "days_of_absence_before_alert"] == 3
    last = qivivo.get("/habitation/data/last-presence", tok)["last_presence_recorded_time"]
    assert "2024-01-08 07:55" <= last <= "2024-01-08 09:00"   # left about 08:30
    assert isinstance(qivivo.get("/habitation/data/events", tok)["events"], list)
    assert qivivo.watch.checked >= 16


def test_the_program_drives_the_thermostat_and_the_modules_on_the_clock(qivivo, tok):
    assert order(qivivo, tok) == 16.0                 # 08:30-17:59 absence_temperature
    assert module_order(qivivo, tok) == "comfort_minus_two"   # presence 3
    assert module_order(qivivo, tok, WZ) == "monozone"
    tok = advance(qivivo, 8 * HOUR)                    # 18:00
    assert order(qivivo, tok) == 19.0                 # presence_temperature_1
    assert module_order(qivivo, tok) == "comfort_minus_one"
    tok = advance(qivivo, 4 * HOUR)                    # 22:00
    assert module_order(qivivo, tok) == "frost"
    tok = advance(qivivo, HOUR)                        # 23:00
    assert order(qivivo, tok) == 17.5                 # night
    assert qivivo.get(f"/devices/thermostats/{TH}/presence", tok)["presence_detected"]


def test_a_temporary_instruction_warms_the_house_until_it_ends(qivivo, tok):
    before = qivivo.get(f"/devices/thermostats/{TH}/temperature", tok)["temperature"]
    resp = qivivo.api("POST", f"/devices/thermostats/{TH}/temperature/temporary-instruction",
                      tok, json={"temperature": 22.51, "duration": 120})
    assert resp.status_code == 200 and resp.json()["message"]
    assert order(qivivo, tok) == 22.5
    tok = advance(qivivo, HOUR)
    after = qivivo.get(f"/devices/thermostats/{TH}/temperature", tok)["temperature"]
    assert after > before + 1
    tok = advance(qivivo, HOUR)
    assert order(qivivo, tok) == 16.0                 # it ended with its duration
    qivivo.api("POST", f"/devices/thermostats/{TH}/temperature/temporary-instruction",
               tok, json={"temperature": 21, "duration": 60})
    assert order(qivivo, tok) == 21.0
    resp = qivivo.api("DELETE", f"/devices/thermostats/{TH}/temperature/temporary-instruction",
                      tok)
    assert resp.status_code == 200
    assert order(qivivo, tok) == 16.0


def test_absence_between_its_dates_and_an_arrival_over_it(qivivo, tok):
    resp = qivivo.api("POST", f"/devices/thermostats/{TH}/absence", tok,
                      json={"start_date": "2024-01-08 12:00", "end_date": "2024-01-10 12:00"})
    assert resp.status_code == 200, resp.text
    assert order(qivivo, tok) == 16.0
    tok = advance(qivivo, 3 * HOUR)                    # 13:00: away
    assert order(qivivo, tok) == 7.0
    assert module_order(qivivo, tok) == "frost"
    assert not qivivo.get(f"/devices/thermostats/{TH}/presence", tok)["presence_detected"]
    resp = qivivo.api("POST", f"/devices/thermostats/{TH}/arrival", tok, json={"duration": 30})
    assert resp.status_code == 200
    assert order(qivivo, tok) == 19.0                 # presence_temperature_1
    assert qivivo.get(f"/devices/thermostats/{TH}/presence", tok)["presence_detected"]
    qivivo.api("DELETE", f"/devices/thermostats/{TH}/arrival", tok)
    assert order(qivivo, tok) == 7.0
    qivivo.api("DELETE", f"/devices/thermostats/{TH}/absence", tok)
    assert order(qivivo, tok) == 16.0
    kinds = [e["type"] for e in qivivo.get("/habitation/data/events", tok)["events"]]
    assert kinds[:4] == ["absence_cancelled", "arrival_cancelled", "arrival", "absence"]


def test_programs_create_rename_replace_a_day_activate_delete(qivivo, tok):
    base = f"/devices/thermostats/{TH}/programs"
    day = [{"period_start": "00:00", "period_end": "23:59",
            "temperature_setting": "presence_temperature_4"}]
    resp = qivivo.api("POST", base, tok, json={"name": "Test", "program": {"lundi": day}})
    assert resp.status_code == 200 and resp.json()["id"] == 3
    assert qivivo.api("PUT", f"{base}/3/name", tok, json={"new_name": "Cosy"}).ok
    assert qivivo.api("PUT", f"{base}/3/active", tok).ok
    assert order(qivivo, tok) == 20.5
    assert qivivo.api("PUT", f"{base}/3/day/monday", tok, json={"program_day_update": [
        {"period_start": "00:00", "period_end": "23:59", "temperature_setting": "nuit"}]}).ok
    assert order(qivivo, tok) == 17.5
    listed = qivivo.get(base, tok)
    assert listed["user_active_program_id"] == 3
    assert listed["user_programs"][2]["name"] == "Cosy"
    assert listed["user_programs"][2]["program"]["monday"][0]["temperature_setting"] == \
        "night_temperature"
    refused = qivivo.api("DELETE", f"{base}/3", tok)
    assert refused.status_code == 422 and "programId" in refused.json()["errors"]
    assert qivivo.api("DELETE", f"{base}/1", tok).ok
    listed = qivivo.get(base, tok)                    # ids stay positions
    assert listed["user_active_program_id"] == 2
    assert [p["name"] for p in listed["user_programs"]] == ["Semaine Vacances", "Cosy"]
    assert qivivo.api("PUT", f"{base}/9/active", tok).status_code == 404
    bad = qivivo.api("PUT", f"{base}/Cosy/active", tok)
    assert bad.status_code == 400 and bad.json()["message"] == "Unexpected error"


def test_modules_follow_their_program_or_the_thermostat_zone(qivivo, tok):
    base = f"/devices/wireless-modules/{WM}/programs"
    assert qivivo.api("PUT", f"{base}/2/active", tok).ok
    assert module_order(qivivo, tok) == "frost"       # the "Hors-gel" program
    assert qivivo.api("PUT", f"{base}/thermostat-zone", tok).ok
    assert module_order(qivivo, tok) == "monozone"
    assert qivivo.api("PUT", f"{base}/7/active", tok).status_code == 404
    assert qivivo.api("PUT", f"/devices/wireless-modules/{TH}/programs/1/active",
                      tok).status_code == 404         # a thermostat is no module


def test_settings_define_a_temperature_and_the_alert_days(qivivo, tok):
    resp = qivivo.api("PUT", "/habitation/settings/define_temperature", tok,
                      json={"temperature_setting_name": "absence_temperature",
                            "temperature": 15.01})
    assert resp.status_code == 200
    assert order(qivivo, tok) == 15.0
    assert qivivo.api("PUT", "/habitation/settings/absence/alert", tok,
                      json={"new_nb_day": 2}).ok
    bad = qivivo.api("PUT", "/habitation/settings/absence/alert", tok, json={"new_nb_day": 1.5})
    assert bad.status_code == 422 and "new_nb_day" in bad.json()["errors"]
    settings = qivivo.get("/habitation/data/settings", tok)["settings"]
    assert settings["absence_temperature"] == 15.0
    assert settings["days_of_absence_before_alert"] == 2


@pytest.mark.parametrize(("path", "body", "field"), [
    (f"/devices/thermostats/{TH}/temperature/temporary-instruction", {"temperature": 20},
     "duration"),
    (f"/devices/thermostats/{TH}/temperature/temporary-instruction",
     {"temperature": "hot", "duration": 10}, "temperature"),
    (f"/devices/thermostats/{TH}/absence", {"start_date": "2024-01-09 10:00",
                                            "end_date": "2024-01-09 09:00"}, "end_date"),
    (f"/devices/thermostats/{TH}/absence", {"start_date": "201612071530",
                                            "end_date": "2024-01-09 09:00"}, "start_date"),
    (f"/devices/thermostats/{TH}/programs", {"name": "x", "program": {"monday": [
        {"period_start": "10:00", "period_end": "09:00",
         "temperature_setting": "night_temperature"}]}}, "program.monday"),
    (f"/devices/thermostats/{TH}/programs/1/day/someday", {"program_day_update": [
        {"period_start": "00:00", "period_end": "23:59",
         "temperature_setting": "night_temperature"}]}, "day"),
])
def test_validation_errors_name_their_field(qivivo, tok, path, body, field):
    method = "PUT" if "/day/" in path else "POST"
    resp = qivivo.api(method, path, tok, json=body)
    assert resp.status_code == 422, resp.text
    assert resp.json()["message"] == "The given data was invalid."
    assert field in resp.json()["errors"]


def test_each_missing_field_is_named_once(qivivo, tok):
    resp = qivivo.api("POST", f"/devices/thermostats/{TH}/temperature/temporary-instruction",
                      tok, json={})
    assert resp.status_code == 422, resp.text
    assert resp.json()["errors"] == {"temperature": ["The temperature field is required."],
                                     "duration": ["The duration field is required."]}


def test_bad_bodies_never_500(qivivo, tok):
    path = f"/devices/thermostats/{TH}/temperature/temporary-instruction"
    for data in (b"", b"{", b"[1]", b"null", b"\xff\xfe", b'{"temperature": 1e999}'):
        resp = qivivo.api("POST", path, tok, data=data,
                          headers={"Content-Type": "application/json"})
        assert resp.status_code == 422, (data, resp.text)
    assert order(qivivo, tok) == 16.0


def test_tokens_expire_and_revocation_bite_at_once(qivivo, tok):
    assert qivivo.api("GET", "/devices", tok).status_code == 200
    qivivo.admin.advance(3600)
    resp = qivivo.api("GET", "/devices", tok)
    assert resp.status_code == 401 and resp.json()["message"] == "Unauthenticated."
    other = qivivo.access()
    qivivo.admin.revoke(other)
    assert qivivo.api("GET", "/devices", other).status_code == 401
    assert qivivo.api("GET", "/devices").status_code == 401


def test_the_quota_answers_429_with_its_headers(qivivo, tok):
    ok = qivivo.api("GET", "/devices", tok)
    assert ok.headers["X-RateLimit-Limit"] == "1000"
    qivivo.admin.set_quotas("qivivo", [{"id": "tiny", "key": "client", "limit": 2,
                                        "window": 3600}])
    codes = [qivivo.api("GET", "/devices", tok).status_code for _ in range(3)]
    assert codes == [200, 200, 429]
    resp = qivivo.api("GET", "/devices", tok)
    assert resp.json()["message"] == "Too Many Attempts."
    assert int(resp.headers["Retry-After"]) > 0
    assert resp.headers["X-RateLimit-Remaining"] == "0"


def test_unknown_devices_and_endpoints_are_404(qivivo, tok):
    assert qivivo.api("GET", f"/devices/thermostats/{WM}/info", tok).status_code == 404
    assert qivivo.api("GET", "/devices/thermostats/nope/temperature", tok).status_code == 404
    assert qivivo.api("GET", "/nothing/here", tok).status_code == 404


def test_world_programs_checked_once_are_still_each_houses():
    """A program repeated across houses is checked once (world building's memo): each
    house still gets it canonical, and a bad one is named wherever it is."""
    from emulator.core import world as core_world
    from emulator.qivivo import VENDOR as QIVIVO

    day = [{"period_start": "00:00", "period_end": "23:59",
            "temperature_setting": "nuit"}]
    prog = {"name": "Nuit", "program": {"lundi": day, "tuesday": day}}

    def house(programs):
        return {"house": {"modules": [{"name": "M", "programs": programs}]}}

    users = [{"email": f"u{i}@q.test", **house([prog, dict(prog)])} for i in range(3)]
    rows = core_world.build({"qivivo": {"users": users}}, {"qivivo": QIVIVO}, 0)
    homes = [d for kind, _, d in rows if kind == "qivivo.home"]
    assert len(homes) == 3
    for home in homes:
        (progs,) = home["module_programs"].values()
        assert [sorted(p["program"]) for p in progs] == [["monday", "tuesday"]] * 2
        assert progs[0]["program"]["monday"][0]["temperature_setting"] == \
            "night_temperature"
    bad = {"name": "Bad", "program": {"monday": [{**day[0], "period_end": "25:00"}]}}
    users[2] = {"email": "u2@q.test", **house([prog, bad])}
    with pytest.raises(core_world.WorldError, match=r"users\[2\]\.house\.modules\[0\]"
                                                    r"\.programs\[1\]"):
        core_world.build({"qivivo": {"users": users}}, {"qivivo": QIVIVO}, 0)
