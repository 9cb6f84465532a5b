"""Netatmo Security over HTTP (emulator/netatmo/security.py and its neighbours): the
default world's home, its residents and cameras on the clock; every answer checked
against the contract by the ``netatmo`` fixture.

* a week of events appears when the clock is advanced a week, the same events (ids,
  order) whatever the steps; paging and filters; the legacy lookups by event id;
* setpersonsaway / setpersonshome show in gethomedata and homestatus and make events;
* admin-injected events (smoke, unknown face, tag opened) show at their instant; the
  admin answers against the admin contract;
* getcamerapicture answers a JPEG that Pillow opens, the same bytes twice;
* a camera with monitoring off or offline records nothing; the floodlight fires at
  night;
* the webhook payloads (pushes.push_events) validate against their schemas and do not
  depend on how the interval is cut;
* pyatmo, unchanged but for its base URL, reads persons and events and sets persons
  away and home.
"""

from __future__ import annotations

import asyncio
import copy
import io
import json
from typing import Any

import aiohttp
import pyatmo
import pytest
from PIL import Image
from werkzeug.test import Client

from contracts.verify import load_contracts
from emulator.core import world as core_world
from emulator.netatmo import VENDOR, pushes, security, security_routine
from emulator.physics.sun import is_dark
from emulator.settings import DEFAULT_WORLD
from emulator.testing import Admin, AdminError
from tests.netatmo_http import CI, HOME_ID, USER, Netatmo, api_error
from tests.test_netatmo_clients import EmulatorAuth

T0 = 1_800_000_000                        # Fri 2027-01-15 09:00 in Paris
DAY, WEEK = 86400, 7 * 86400
CAMERA, TAG, OUTDOOR, SMOKE, CO = ("70:ee:50:00:00:20", "70:ee:50:00:00:21",
                                   "70:ee:50:00:00:30", "70:ee:50:00:00:40",
                                   "70:ee:50:00:00:50")
ALICE, BOB, CHLOE = (f"5e5c7a1b-2d3e-4f50-6172-8394000000{x}" for x in ("a1", "b2", "c3"))
SCOPE = ("read_camera write_camera access_camera read_presence access_presence "
         "write_presence read_smokedetector read_carbonmonoxidedetector read_thermostat "
         "write_thermostat")
LAT, LON = 48.8566, 2.3522


@pytest.fixture
def house(netatmo: Netatmo, mockcloud: Admin):
    mockcloud.freeze(T0)
    mockcloud.set_quotas("netatmo", [], enabled=False)
    return netatmo, mockcloud


def api(netatmo: Netatmo, method: str, scope: str = SCOPE, **data: Any):
    """One call with a fresh token (tokens live 3 virtual hours; tests move days)."""
    return netatmo.api(method, netatmo.issue(scope), data=data)


def ok(resp) -> dict:
    assert resp.status_code == 200, resp.text
    doc = resp.json()
    assert doc["status"] == "ok"
    return doc


def body(resp) -> Any:
    return ok(resp)["body"]


def events(netatmo: Netatmo, after: float = T0, page: int = 100, **filters: Any
           ) -> list[dict]:
    """getevents paged through, newest first, down to ``after`` (excluded)."""
    out: list[dict] = []
    offset = 0
    while True:
        got = body(api(netatmo, "getevents", home_id=HOME_ID, offset=offset, size=page,
                       **filters))["home"]["events"]
        out += [e for e in got if e["time"] > after]
        if len(got) < page or got[-1]["time"] <= after:
            return out
        offset += page


def homedata(netatmo: Netatmo, **params: Any) -> dict:
    return body(api(netatmo, "gethomedata", home_id=HOME_ID, **params))["homes"][0]


def persons(netatmo: Netatmo) -> dict[str, dict]:
    return {p["id"]: p for p in homedata(netatmo)["persons"]}


def status_persons(netatmo: Netatmo) -> dict[str, dict]:
    home = body(api(netatmo, "homestatus", home_id=HOME_ID))["home"]
    return {p["id"]: p for p in home["persons"]}


def setstate(netatmo: Netatmo, modules: list[dict]) -> None:
    resp = netatmo.api("setstate", netatmo.issue(SCOPE),
                       json={"home": {"id": HOME_ID, "modules": modules}})
    assert resp.status_code == 200, resp.text


# ------------------------------------------------------------------ the week

def test_a_week_of_events_appears(house):
    netatmo, mockcloud = house
    assert events(netatmo) == []                      # nothing after now
    before = events(netatmo, after=T0 - DAY)
    assert before and all(e["time"] <= T0 for e in before)
    mockcloud.advance(WEEK)
    week = events(netatmo)
    assert 70 <= len(week) <= 7 * 60                  # tens a day
    assert all(T0 < e["time"] <= T0 + WEEK for e in week)
    assert [e["time"] for e in week] == sorted((e["time"] for e in week), reverse=True)
    assert len({e["id"] for e in week}) == len(week)
    kinds = {e["type"] for e in week}
    assert {"person", "person_away", "movement", "outdoor"} <= kinds
    days = {(e["time"] - T0) // DAY for e in week}
    assert days == set(range(7))                      # every day has events
    seen = {e.get("person_id") for e in week if e["type"] == "person"}
    assert {ALICE, BOB, CHLOE} <= seen
    # the residents leave and come back: Alice, out on weekdays, left and is back
    alice = [e for e in week if e.get("person_id") == ALICE]
    assert {"person", "person_away"} <= {e["type"] for e in alice}
    assert any(e["type"] == "outdoor" and e["subevents"][0]["type"] == "human" for e in week)
    # what came before the week is unchanged by the clock moving
    assert events(netatmo, after=T0 - DAY)[len(week):] == before


def test_any_steps_of_the_clock_give_the_same_events(house, mockcloud_server,
                                                     mockcloud_admin_token):
    netatmo, mockcloud = house
    steps = [3617, 2 * DAY + 5, 1, 3 * DAY - 7, 41, WEEK]
    for step in steps:                                # read after each odd step
        mockcloud.set_time(min(T0 + sum(steps[:steps.index(step) + 1]), T0 + WEEK))
        events(netatmo)
    stepped = events(netatmo)
    other = Admin(mockcloud_server, mockcloud.tenant + "-b", token=mockcloud_admin_token)
    other.freeze(T0)
    other.set_quotas("netatmo", [], enabled=False)
    other.advance(WEEK)                               # one step, a fresh tenant
    single = events(Netatmo(other, netatmo.http, netatmo.watch))
    assert [(e["id"], e["type"], e["time"]) for e in stepped] == \
        [(e["id"], e["type"], e["time"]) for e in single]
    # the same but for the picture URLs' base (each names its own tenant)
    assert json.loads(json.dumps(stepped).replace(mockcloud.url("netatmo"), "BASE")) == \
        json.loads(json.dumps(single).replace(other.url("netatmo"), "BASE"))


def test_paging_is_stable_and_filters_narrow(house):
    netatmo, mockcloud = house
    mockcloud.advance(3 * DAY)
    whole = events(netatmo, page=300)
    assert events(netatmo, page=7) == whole == events(netatmo, page=300)
    page = body(api(netatmo, "getevents", home_id=HOME_ID, offset=5, size=5))
    assert page["home"]["events"] == whole[5:10]
    outdoor = events(netatmo, device_types="NOC")
    assert outdoor and {e["module_id"] for e in outdoor} == {OUTDOOR}
    assert outdoor == [e for e in whole if e["module_id"] == OUTDOOR]
    both = events(netatmo, device_types="NACamera,NOC")
    assert both == [e for e in whole if e["module_id"] in (CAMERA, OUTDOOR)]
    alice = events(netatmo, person_id=ALICE)
    assert alice and all(e.get("person_id") == ALICE for e in alice)
    assert events(netatmo, module_id=CAMERA) == [e for e in whole
                                                 if e["module_id"] == CAMERA]
    assert events(netatmo, device_id=OUTDOOR) == outdoor
    one = whole[3]
    got = body(api(netatmo, "getevents", home_id=HOME_ID, event_id=one["id"]))
    assert got["home"]["events"] == [one]


def test_legacy_lookups_by_event_and_person(house):
    netatmo, mockcloud = house
    mockcloud.advance(2 * DAY)
    latest = homedata(netatmo, size=50)["events"]
    assert len(latest) == 50
    assert [e["id"] for e in events(netatmo, after=0, page=50)[:50]] == \
        [e["id"] for e in latest]
    mark = latest[10]
    until = body(api(netatmo, "geteventsuntil", home_id=HOME_ID,
                     event_id=mark["id"]))["events_list"]
    assert until == latest[:11]
    nxt = body(api(netatmo, "getnextevents", home_id=HOME_ID, event_id=mark["id"],
                   size=20))["events_list"]
    assert nxt[:39] == latest[11:11 + min(20, 39)][:len(nxt[:39])]
    assert len(nxt) == 20 and nxt[0] == latest[11]
    last = body(api(netatmo, "getlasteventof", home_id=HOME_ID,
                    person_id=BOB))["events_list"]
    assert last[-1]["person_id"] == BOB
    assert all(e.get("person_id") != BOB or e is last[-1] for e in last)
    assert last == latest[:len(last)] or len(last) == 30
    for method, params in [("geteventsuntil", {"event_id": "f" * 24}),
                           ("getnextevents", {"event_id": "nope"}),
                           ("getevents", {"event_id": "0" * 24}),
                           ("getlasteventof", {"person_id": "nobody"})]:
        assert api_error(api(netatmo, method, home_id=HOME_ID, **params))[:2] == (400, 21)
    assert api_error(api(netatmo, "geteventsuntil", home_id=HOME_ID))[:2] == (400, 10)


# ------------------------------------------------------------------ persons

def test_persons_away_and_home(house):
    netatmo, mockcloud = house
    start = persons(netatmo)
    assert {p["pseudo"] for p in start.values()} == {"Alice", "Bob", "Chloe"}
    assert start[ALICE]["out_of_sight"] is True        # Friday 09:00: at work
    assert start[BOB]["out_of_sight"] is False         # not on Fridays
    assert status_persons(netatmo) == {k: {"id": k, "last_seen": v["last_seen"],
                                           "out_of_sight": v["out_of_sight"]}
                                       for k, v in start.items()}
    assert "body" not in ok(api(netatmo, "setpersonsaway", home_id=HOME_ID, person_id=BOB))
    assert persons(netatmo)[BOB]["out_of_sight"] is True
    assert status_persons(netatmo)[BOB]["out_of_sight"] is True
    [away] = [e for e in events(netatmo, after=T0 - 1) if e["type"] == "person_away"]
    assert (away["person_id"], away["time"]) == (BOB, T0)
    mockcloud.advance(60)
    ok(api(netatmo, "setpersonshome", home_id=HOME_ID, person_ids=BOB))
    assert persons(netatmo)[BOB]["out_of_sight"] is False
    home = [e for e in events(netatmo, after=T0 - 1) if e["type"] == "person_home"]
    assert home[0]["time"] == T0 + 60 and "Bob" in home[0]["message"]
    mockcloud.advance(60)
    ok(api(netatmo, "setpersonsaway", home_id=HOME_ID))          # the home empty
    assert {p["out_of_sight"] for p in persons(netatmo).values()} == {True}
    legacy = homedata(netatmo, size=3)["events"][0]
    assert legacy["type"] == "person_away" and "person_id" not in legacy
    # a read back in time sees none of it
    mockcloud.set_time(T0 - 1)
    assert persons(netatmo) == start


def test_person_writes_refuse_bad_input(house):
    netatmo, _ = house
    assert api_error(api(netatmo, "setpersonsaway", home_id=HOME_ID,
                         person_id="nobody"))[:2] == (400, 21)
    assert api_error(api(netatmo, "setpersonshome", home_id=HOME_ID,
                         person_ids='["nobody"]'))[:2] == (400, 21)
    assert api_error(api(netatmo, "setpersonshome", home_id=HOME_ID,
                         person_ids="[1, 2]"))[:2] == (400, 21)
    assert api_error(api(netatmo, "setpersonshome", home_id=HOME_ID,
                         person_ids="[nope"))[:2] == (400, 21)
    assert api_error(api(netatmo, "setpersonsaway"))[:2] == (400, 10)
    assert api_error(api(netatmo, "setpersonsaway", home_id="0" * 24))[:2] == (400, 21)
    assert api_error(api(netatmo, "setpersonsaway", scope="read_camera",
                         home_id=HOME_ID))[:2] == (403, 13)
    assert api_error(api(netatmo, "gethomedata", scope="read_thermostat"))[:2] == (403, 13)
    # indexed and repeated forms (pyatmo sends person_ids[] repeated)
    resp = netatmo.api("setpersonshome", netatmo.issue(SCOPE),
                       data=[("home_id", HOME_ID), ("person_ids[]", ALICE),
                             ("person_ids[]", BOB)])
    ok(resp)
    assert persons(netatmo)[ALICE]["out_of_sight"] is False


@pytest.mark.parametrize(("method", "params"), [
    ("getevents", {"home_id": HOME_ID, "size": "-1"}),
    ("getevents", {"home_id": HOME_ID, "size": "many"}),
    ("getevents", {"home_id": HOME_ID, "size": "301"}),
    ("getevents", {"home_id": HOME_ID, "offset": "1e9"}),
    ("getevents", {}),
    ("gethomedata", {"size": "1.5"}),
    ("getnextevents", {"home_id": HOME_ID, "event_id": "zz" * 12}),
    ("getlasteventof", {"home_id": HOME_ID, "person_id": ALICE, "offset": "x"}),
    ("getcamerapicture", {"image_id": "x"}),
    ("getcamerapicture", {"image_id": "0" * 24, "key": "k"}),
    ("getcamerapicture", {"image_id": "zz" * 12, "key": "k"}),
])
def test_bad_input_is_a_4xx(house, method, params):
    netatmo, _ = house
    status, code, message = api_error(api(netatmo, method, **params))
    assert status in (400, 404) and code in (10, 21) and message


# ------------------------------------------------------------------ injection

def test_injected_events_show_at_their_instant(house):
    netatmo, mockcloud = house
    smoke = mockcloud.inject_event("netatmo", SMOKE, "smoke", at=T0 - 600)
    face = mockcloud.inject_event("netatmo", CAMERA, "unknown_face", at=T0 - 300)
    tag = mockcloud.inject_event("netatmo", TAG, "tag_open", at="2027-01-15T07:58:20Z")
    later = mockcloud.inject_event("netatmo", SMOKE, "smoke_cleared", at=T0 + 600)
    assert (smoke["type"], smoke["at"], smoke["event"]["module_id"]) == ("smoke", T0 - 600,
                                                                         SMOKE)
    assert tag["at"] == T0 - 100
    recent = {e["id"]: e for e in events(netatmo, after=T0 - 3600)}
    assert recent[smoke["event"]["id"]]["type"] == "smoke"
    assert recent[smoke["event"]["id"]]["sub_type"] == 1
    seen = recent[face["event"]["id"]]
    assert seen["type"] == "person" and seen["module_id"] == CAMERA
    assert recent[tag["event"]["id"]]["module_id"] == TAG
    assert later["event"]["id"] not in recent
    legacy = {e["id"]: e for e in homedata(netatmo)["events"]}
    assert legacy[tag["event"]["id"]]["camera_id"] == CAMERA   # the tag's camera
    stranger = persons(netatmo)[seen["person_id"]]
    assert "pseudo" not in stranger and stranger["out_of_sight"] is False
    assert stranger["last_seen"] == T0 - 300
    mockcloud.advance(3600)                                     # out of sight an hour on
    assert persons(netatmo)[seen["person_id"]]["out_of_sight"] is True
    cleared = [e for e in events(netatmo) if e["id"] == later["event"]["id"]]
    assert cleared and cleared[0]["sub_type"] == 0
    for device, kind, why in [(CAMERA, "smoke", "NSD"), (SMOKE, "teleport", "one of"),
                              (OUTDOOR, "person", "NACamera")]:
        with pytest.raises(AdminError, match=why):
            mockcloud.inject_event("netatmo", device, kind)
    with pytest.raises(AdminError, match="404"):
        mockcloud.inject_event("netatmo", "00:00:00:00:00:00", "smoke")
    with pytest.raises(AdminError, match="invalid_event"):
        mockcloud.inject_event("netatmo", CAMERA, "person", person_id="nobody")


def test_events_with_their_details_as_a_recording_has_them(house):
    """The details a recorded event carries (world from-cassette scripts them, the admin
    API injects them): an arrival, a movement's category, an outdoor event's several
    detections, a smoke alarm's Wi-Fi status and failed sound test, a person leaving
    and persons set home; each checked against the contract by the fixture."""
    netatmo, mockcloud = house
    made = {kind: mockcloud.inject_event("netatmo", device, kind, at=T0 - 100 + i,
                                         **details)["event"]["id"]
            for i, (device, kind, details) in enumerate([
                (CAMERA, "person", {"person_id": BOB, "arrival": True}),
                (CAMERA, "movement", {"category": "animal"}),
                (OUTDOOR, "vehicle", {"detections": ["vehicle", "human", "animal"]}),
                (SMOKE, "wifi_status", {"sub_type": 0}),
                (SMOKE, "sound_test", {"sub_type": 1}),
                (CAMERA, "person_away", {"person_id": ALICE}),
                (CAMERA, "person_home", {"person_ids": [ALICE, BOB]})])}
    legacy = {e["id"]: e for e in homedata(netatmo, size=100)["events"]}
    current = {e["id"]: e for e in events(netatmo, after=T0 - 3600)}
    assert legacy[made["person"]]["is_arrival"] is True
    assert legacy[made["movement"]]["category"] == "animal"
    assert [d["type"] for d in legacy[made["vehicle"]]["event_list"]] == [
        "vehicle", "human", "animal"]
    assert [d["type"] for d in current[made["vehicle"]]["subevents"]] == [
        "vehicle", "human", "animal"]
    wifi, test = current[made["wifi_status"]], current[made["sound_test"]]
    assert (wifi["type"], wifi["sub_type"], test["sub_type"]) == ("wifi_status", 0, 1)
    assert "failed" in wifi["message"] and "failed" in test["message"]
    assert current[made["person_away"]]["person_id"] == ALICE
    assert "Alice and Bob" in current[made["person_home"]]["message"]
    assert persons(netatmo)[ALICE]["out_of_sight"] is False       # set home last
    for device, kind, details, why in [
            (CAMERA, "movement", {"category": "robot"}, "category"),
            (CAMERA, "person", {"sub_type": 1}, "not for a person event"),
            (OUTDOOR, "human", {"detections": ["vehicle"]}, "the first the event's type"),
            (SMOKE, "wifi_status", {"sub_type": 1.5}, "sub_type"),
            (CAMERA, "person_home", {"person_ids": ["nobody"]}, "person_ids")]:
        with pytest.raises(AdminError, match=why):
            mockcloud.inject_event("netatmo", device, kind, **details)


def test_routine_from_leaves_the_past_to_the_script(netatmo: Netatmo, mockcloud: Admin):
    """A home's routine_from: before it only the scripted (recorded) events, from it
    the seeded routine as usual (the same events as without the key)."""
    world = core_world.read_file(DEFAULT_WORLD)
    home = world["netatmo"]["users"][0]["homes"][0]
    home["security_events"] = [{"at": T0 - 2 * DAY, "type": "wifi_status"}]
    mockcloud.load_world(world)
    mockcloud.freeze(T0)
    mockcloud.set_quotas("netatmo", [], enabled=False)
    before = events(netatmo, after=T0 - 3 * DAY)
    home["routine_from"] = T0 - DAY
    mockcloud.load_world(world)
    mockcloud.freeze(T0)
    mockcloud.set_quotas("netatmo", [], enabled=False)
    after = events(netatmo, after=T0 - 3 * DAY)
    assert [e for e in before if e["time"] >= T0 - DAY] == [
        e for e in after if e["time"] >= T0 - DAY]
    assert [e["type"] for e in after if e["time"] < T0 - DAY] == ["wifi_status"]
    assert len([e for e in before if e["time"] < T0 - DAY]) > 1
    assert mockcloud.export_world()["netatmo"]["users"][0]["homes"][0][
        "routine_from"] == T0 - DAY
    home["routine_from"] = "yesterday"
    with pytest.raises(AdminError, match="routine_from"):
        mockcloud.load_world(world)


def test_admin_injection_against_the_admin_contract(mockcloud: Admin):
    from tests.test_contracts_admin import INJECTING_VENDOR, AdminHttp

    call = AdminHttp(mockcloud)
    call("POST", "/clock/freeze", 200, json={"at": T0})
    made = call("POST", f"/devices/netatmo/{SMOKE}/events", 201, json={"type": "smoke"})
    assert made["at"] == T0 and made["event"]["home_id"] == HOME_ID
    call("POST", f"/devices/netatmo/{CAMERA}/events", 201,
         json={"type": "person", "person_id": ALICE, "at": T0 - 5})
    for bad in [{}, {"type": 7}, {"type": "smoke", "colour": "red"}, {"type": "smoke",
                "at": "yesterday"}, {"type": "smoke", "at": 1e20}, {"type": "hush"}]:
        assert call("POST", f"/devices/netatmo/{CAMERA}/events", 400,
                    json=bad)["error"] == "invalid_event", bad
    assert call("POST", f"/devices/netatmo/{CAMERA}/events", 400,
                json=[])["error"] == "invalid_request"
    assert call("POST", "/devices/netatmo/nope/events", 404,
                json={"type": "smoke"})["error"] == "not_found"
    assert call.seen >= INJECTING_VENDOR


# ------------------------------------------------------------------ pictures

def test_camera_pictures_are_real_jpegs(house):
    netatmo, mockcloud = house
    snap = next(e["snapshot"] for e in events(netatmo, after=T0 - DAY)
                if e["type"] == "person")
    first = api(netatmo, "getcamerapicture", image_id=snap["id"], key=snap["key"])
    assert first.status_code == 200 and first.headers["Content-Type"] == "image/jpeg"
    image = Image.open(io.BytesIO(first.content))
    assert (image.format, image.size) == ("JPEG", (160, 120))
    image.load()
    again = netatmo.http.get(f"{netatmo.base}/api/getcamerapicture", params={
        "image_id": snap["id"], "key": snap["key"],
        "access_token": netatmo.issue(SCOPE)})
    assert again.content == first.content
    assert snap["url"].endswith(f"image_id={snap['id']}&key={snap['key']}")
    outdoor = next(e for e in events(netatmo, after=T0 - DAY) if e["type"] == "outdoor")
    vignette = outdoor["subevents"][0]["vignette"]
    small = api(netatmo, "getcamerapicture", image_id=vignette["id"], key=vignette["key"])
    assert Image.open(io.BytesIO(small.content)).size == (64, 64)
    face = persons(netatmo)[ALICE]["face"]
    portrait = api(netatmo, "getcamerapicture", image_id=face["id"], key=face["key"])
    assert Image.open(io.BytesIO(portrait.content)).size == (120, 120)
    assert api_error(api(netatmo, "getcamerapicture", image_id=snap["id"],
                         key=face["key"]))[:2] == (400, 21)
    assert api_error(api(netatmo, "getcamerapicture", image_id=snap["id"]))[:2] == (400, 10)


# ------------------------------------------------------------------ cameras

def test_a_camera_with_monitoring_off_records_nothing(house):
    netatmo, mockcloud = house
    setstate(netatmo, [{"id": CAMERA, "monitoring": "off"}])
    mockcloud.advance(DAY)
    mockcloud.inject_event("netatmo", TAG, "tag_open")          # its tag neither
    mockcloud.inject_event("netatmo", SMOKE, "smoke")           # the alarm does
    mockcloud.advance(DAY)
    indoor = [e for e in events(netatmo, after=T0 - 1) if e["module_id"] in (CAMERA, TAG)]
    assert [(e["type"], e["time"]) for e in indoor] == [("off", T0)]
    assert any(e["type"] == "smoke" for e in events(netatmo))
    assert any(e["module_id"] == OUTDOOR for e in events(netatmo))
    assert homedata(netatmo)["cameras"][0]["status"] == "off"
    setstate(netatmo, [{"id": CAMERA, "monitoring": "on"}])
    mockcloud.advance(DAY)
    after = [e for e in events(netatmo, after=T0 + 2 * DAY - 1) if e["module_id"] == CAMERA]
    assert after[-1]["type"] == "on" and len(after) > 1


def test_an_offline_camera_disconnects_and_boots(house):
    netatmo, mockcloud = house
    mockcloud.override_device("netatmo", OUTDOOR, online=False)
    mockcloud.advance(DAY)
    mockcloud.override_device("netatmo", OUTDOOR, online=True)
    mockcloud.advance(3600)
    mine = [(e["type"], e["time"]) for e in reversed(events(netatmo, after=T0 - 1))
            if e["module_id"] == OUTDOOR]
    assert mine[0] == ("disconnection", T0)
    assert mine[1:3] == [("boot", T0 + DAY), ("connection", T0 + DAY + 24)]
    assert all(t > T0 + DAY for _, t in mine[3:])
    mockcloud.set_time(T0 + 3600)
    cams = {c["id"]: c for c in homedata(netatmo)["cameras"]}
    assert cams[OUTDOOR]["status"] == "disconnected" and "vpn_url" not in cams[OUTDOOR]


def test_the_floodlight_fires_at_night(house):
    netatmo, mockcloud = house
    mockcloud.advance(3 * DAY)
    outdoor = [e for e in events(netatmo) if e["type"] == "outdoor"]
    dark = [e for e in outdoor if is_dark(LAT, LON, e["time"])]
    assert dark and len(dark) < len(outdoor)
    assert all(e.get("floodlight_triggered") is (True if e in dark else None)
               for e in outdoor)
    setstate(netatmo, [{"id": OUTDOOR, "floodlight": "off"}])
    mockcloud.advance(3 * DAY)
    later = [e for e in events(netatmo, after=T0 + 3 * DAY) if e["type"] == "outdoor"]
    assert later and not any(e.get("floodlight_triggered") for e in later)


# ------------------------------------------------------------------ webhook payloads

@pytest.fixture
def local():
    """The emulator in process (its store is this test's to read)."""
    from emulator.app import create_app
    from emulator.settings import Settings

    app = create_app(Settings(world=str(DEFAULT_WORLD)))
    http = Client(app)
    http.post("/_mockcloud/clock/freeze", json={"at": T0})
    http.put("/_mockcloud/quotas/netatmo", json={"enabled": False})
    return app, http


def _token(http: Client) -> dict[str, str]:
    tok = http.post("/_mockcloud/tokens", json={"vendor": "netatmo", "client_id": CI[0],
                                               "user": USER, "scope": SCOPE}).json
    return {"Authorization": f"Bearer {tok['access_token']}"}


def test_push_payloads_validate_and_do_not_depend_on_the_steps(local):
    from jsonschema import Draft202012Validator

    app, http = local
    uid = "5e5c7a1b2d3e4f5061728394"
    http.post(f"/_mockcloud/devices/netatmo/{SMOKE}/events", json={"type": "smoke",
                                                                  "at": T0 + 5000})
    http.post(f"/_mockcloud/devices/netatmo/{TAG}/events", json={"type": "tag_open",
                                                                "at": T0 + 6000})
    http.post("/netatmo/api/setpersonsaway", headers=_token(http), data={
        "home_id": HOME_ID, "person_id": CHLOE})
    http.post("/netatmo/api/setroomthermpoint", headers=_token(http), data={
        "home_id": HOME_ID, "room_id": "3100000001", "mode": "manual", "temp": "22"})
    http.post("/netatmo/api/setstate", headers=_token(http), json={"home": {
        "id": HOME_ID, "modules": [{"id": OUTDOOR, "floodlight": "on"}]}})
    store = app.store
    whole = pushes.push_events(store, "default", uid, T0 - 1, T0 + WEEK)
    cuts = [T0 - 1, T0, T0 + 1, T0 + 3617, T0 + DAY, T0 + 3 * DAY + 7, T0 + WEEK]
    pieces = [p for a, b in zip(cuts, cuts[1:], strict=False) for p in
              pushes.push_events(store, "default", uid, a, b)]
    assert pieces == whole
    assert [at for at, _ in whole] == sorted(at for at, _ in whole)
    assert all(T0 - 1 < at <= T0 + WEEK for at, _ in whole)
    validator = Draft202012Validator(
        {"$ref": "https://mockcloud.local/contracts/schemas/netatmo/webhook.json"},
        registry=load_contracts().registry)
    problems = [(p["push_type"], e.message) for _, p in whole
                for e in validator.iter_errors(p)]
    assert problems == []
    assert not validator.is_valid({**whole[0][1], "push_type": "NACamera-teleport"})
    kinds = {p["push_type"] for _, p in whole}
    assert {"NACamera-person", "NACamera-movement", "NACamera-person_away", "NOC-human",
            "NOC-vehicle", "NSD-smoke", "NACamera-tag_open", "NOC-light_mode",
            "display_change"} <= kinds
    assert validator.is_valid(pushes.activation())
    assert pushes.push_events(store, "default", uid, T0 + 10, T0 + 10) == []
    # the webhook source gives what the clock brings; the rest ("made": requests,
    # admin calls at their instant, the energy log) is pushed by those calls
    hook = type("Hook", (), {"user_id": uid})()
    clock = pushes.source(store, "default", hook, T0 - 1, T0 + WEEK)
    made = pushes.push_events(store, "default", uid, T0 - 1, T0 + WEEK, which="made")
    assert clock == pushes.push_events(store, "default", uid, T0 - 1, T0 + WEEK,
                                       which="clock")
    assert sorted(map(repr, clock + made)) == sorted(map(repr, whole))
    assert "display_change" not in {p["push_type"] for _, p in clock}
    assert "NACamera-person_away" in {p["push_type"] for _, p in made}
    assert ("NSD-smoke", T0 + 5000) in {(p["push_type"], at) for at, p in clock}
    assert pushes.push_events(store, "default", "0" * 24, T0, T0 + WEEK) == []
    routine_only = pushes.push_events(store, "default", uid, T0 - 1, T0 + WEEK,
                                      sources={"routine"})
    assert {p["push_type"] for _, p in routine_only} <= kinds - {
        "NSD-smoke", "NACamera-tag_open", "NOC-light_mode", "display_change"}


def test_reading_a_day_costs_the_same_whatever_the_clock(local, monkeypatch):
    app, http = local
    draws: list[int] = []
    real = security_routine._draw
    monkeypatch.setattr(security_routine, "_draw",
                        lambda seed, home, d: draws.append(d) or real(seed, home, d))
    security_routine.MEMO.clear()
    http.post("/_mockcloud/clock/advance", json={"seconds": 20 * 365 * DAY})
    auth = _token(http)
    assert http.post("/netatmo/api/gethomedata", headers=auth).status_code == 200
    assert http.post("/netatmo/api/homestatus", headers=auth,
                     data={"home_id": HOME_ID}).status_code == 200
    assert 1 <= len(draws) <= security.LOOKBACK_DAYS + 2
    assert len(set(draws)) == len(draws)                  # each day drawn once


# ------------------------------------------------------------------ the world format

def test_world_persons_are_checked_and_exported(mockcloud: Admin):
    world = core_world.read_file(DEFAULT_WORLD)
    home = world["netatmo"]["users"][0]["homes"][0]
    home["persons"].append({"pseudo": "Dave", "routine": {
        "leave": "09:00", "back": "17:00", "days": ["sat"], "jitter": 0}})
    home["security_events"] = [{"at": T0 - 60, "type": "smoke"}]
    mockcloud.load_world(world)
    exported = mockcloud.export_world()["netatmo"]["users"][0]["homes"][0]
    dave = exported["persons"][3]
    assert dave["pseudo"] == "Dave" and dave["routine"]["sightings"] == 3
    assert exported["security_events"] == [{"at": T0 - 60, "type": "smoke",
                                            "module_id": SMOKE}]
    mockcloud.load_world(world | {"netatmo": {**world["netatmo"]}})  # loads again
    for change, message in [
        ({"persons": [{"pseudo": ""}]}, r"persons\[0\]\.pseudo"),
        ({"persons": [{"id": "a b"}]}, r"persons\[0\]\.id"),
        ({"persons": [{"routine": {"leave": "25:00", "back": "18:00"}}]},
         r"routine\.leave"),
        ({"persons": [{"routine": {"leave": "09:00", "back": "08:00"}}]}, "after leave"),
        ({"persons": [{"routine": {"leave": "09:00", "back": "10:00", "days": ["xyz"]}}]},
         r"routine\.days"),
        ({"persons": [{"id": "x"}, {"id": "x"}]}, "used twice"),
        ({"persons": [{"colour": "red"}]}, "unknown field"),
        ({"security_events": [{"at": 1, "type": "smoke", "module_id": CAMERA}]},
         r"security_events\[0\]"),
        ({"security_events": [{"at": -1, "type": "smoke"}]}, r"\.at"),
    ]:
        section = copy.deepcopy(world["netatmo"])
        section["users"][0]["homes"][0].update(change)
        with pytest.raises(core_world.WorldError, match=message):
            core_world.build({"houses": core_world.read_file(DEFAULT_WORLD)["houses"],
                          "netatmo": section}, {"netatmo": VENDOR}, 0)


# ------------------------------------------------------------------ pyatmo

def test_pyatmo_reads_persons_and_events_and_sets_them(mockcloud: Admin) -> None:
    mockcloud.freeze(T0)
    mockcloud.set_quotas("netatmo", [], enabled=False)
    base = mockcloud.url("netatmo") + "/"
    token = mockcloud.issue_token("netatmo", CI[0], USER, SCOPE)["access_token"]

    async def scenario() -> dict[str, Any]:
        async with aiohttp.ClientSession() as session:
            account = pyatmo.AsyncAccount(EmulatorAuth(session, base, token))
            await account.async_update_topology()
            home = account.homes[HOME_ID]
            assert {p.pseudo for p in home.persons.values()} == {"Alice", "Bob", "Chloe"}
            await account.async_update_status(HOME_ID)
            assert home.persons[ALICE].out_of_sight is True
            assert home.persons[BOB].out_of_sight is False
            await account.async_update_events(HOME_ID)
            assert home.events and all(e.event_time <= T0 for e in home.events.values())
            camera = home.modules[CAMERA]
            assert camera.events and {e.module_id for e in camera.events} == {CAMERA}
            kinds = {e.event_type for e in home.events.values()}
            assert "person" in kinds or "movement" in kinds

            await home.async_set_persons_away(BOB)
            await account.async_update_status(HOME_ID)
            assert home.persons[BOB].out_of_sight is True
            await home.async_set_persons_home([BOB, ALICE])
            await account.async_update_status(HOME_ID)
            assert home.persons[BOB].out_of_sight is False
            assert home.persons[ALICE].out_of_sight is False
            await home.async_set_persons_away()
            await account.async_update_status(HOME_ID)
            return {p.entity_id: p.out_of_sight for p in home.persons.values()}

    assert set(asyncio.run(scenario()).values()) == {True}
    sent = mockcloud.journal(vendor="netatmo", path="/api/setpersonshome")[-1]
    assert "person_ids%5B%5D=" in (sent["request"]["body"].get("text") or "")


# ------------------------------------------------------------------ the real samples

@pytest.mark.parametrize(("file", "allowed"), [
    ("getevents.json", set()),
    ("archive__camera_home_data.json", set()),
    ("archive__camera_data_events_until.json", set()),
    ("archive__camera_home_data_no_homes.json", set()),
    ("archive__camera_data_empty.json", set()),
])
def test_security_answers_carry_the_samples_key_paths(mockcloud_server,
                                                      mockcloud_admin_token, request,
                                                      file, allowed):
    from tests.conftest import watched_session
    from tests.netatmo_sample_world import MANIFEST, key_paths, load, manifest, plan
    from tests.test_netatmo_samples import answer

    if not MANIFEST.exists():
        pytest.skip(f"real samples absent ({MANIFEST})")
    [entry] = [e for e in manifest() if e["file"] == file]
    p = plan(entry)
    admin = Admin(mockcloud_server, f"sec-samples-{request.node.callspec.id[:20]}",
                  token=mockcloud_admin_token)
    http, watch = watched_session("netatmo")
    status, got = answer(admin, p, http)
    assert status == 200 and not watch.problems, (got, watch.problems)
    assert key_paths(load(file)) - key_paths(got) == allowed


def test_local_days_tile_across_daylight_saving_changes():
    from datetime import date
    from zoneinfo import ZoneInfo

    from emulator.netatmo.persons import check_persons

    home = {"id": HOME_ID, "timezone": "Europe/Paris", "coordinates": [LON, LAT],
            "modules": [{"id": CAMERA, "type": "NACamera"}, {"id": OUTDOOR, "type": "NOC"}],
            "persons": check_persons("p", [{"pseudo": "A"}, {"pseudo": "B"}], HOME_ID)}
    zone = ZoneInfo("Europe/Paris")
    for day, hours in [(date(2027, 3, 28), 23), (date(2027, 10, 31), 25),
                       (date(2027, 1, 15), 24)]:
        d = day.toordinal()
        start, end = security_routine.bounds(zone, d)
        assert end - start == hours * 3600
        assert security_routine.bounds(zone, d + 1)[0] == end
        drawn = security_routine.day(0, home, d)
        assert drawn == security_routine._draw(0, home, d)          # pure
        assert drawn and all(start <= e["time"] < end for e in drawn)
        assert security_routine.day(1, home, d) != drawn             # seeded


def test_a_door_tag_shows_open_after_tag_open_then_closed(house):
    netatmo, mockcloud = house

    def tag_status() -> tuple[str, int]:
        mods = ok(api(netatmo, "homestatus", home_id=HOME_ID))["body"]["home"]["modules"]
        tag = next(m for m in mods if m["id"] == TAG)
        return tag["status"], tag["last_activity"]

    assert tag_status()[0] == "closed"
    mockcloud.inject_event("netatmo", TAG, "tag_open")              # now
    assert tag_status() == ("open", T0)
    mockcloud.set_time(T0 + 59)
    assert tag_status() == ("open", T0)
    mockcloud.set_time(T0 + 60)                                     # closed by itself
    assert tag_status() == ("closed", T0)
    mockcloud.set_time(T0 - 1)                                      # before it: closed
    assert tag_status()[0] == "closed"
