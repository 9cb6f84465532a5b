"""Netatmo's lookups by id read a document or two, whatever the world's size.

Issue 11 wants a request's cost flat from 1 to 10,000 homes. Four Netatmo paths found
what they wanted by reading every home of the tenant:

* the admin API's device by id (``GET``/``PATCH /_mockcloud/devices/netatmo/<id>``),
  homes, stations and home coaches alike;
* an event injected on a module (``POST /_mockcloud/devices/netatmo/<id>/events``);
* a camera's own address (``/restricted/<ip>/<hash>/<hash>,,/live/...``);
* ``createnewhomeschedule``, whose new id must be none that another home names.

The world now builds lookups for them (``netatmo.world.indexes``, ``core.lookup``). A
state written by an older mockcloud (SQLite, Redis) has none: each path then reads every
home, as before, and answers the same; both are checked here on one world.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import orjson
import pytest
from werkzeug.test import Client

from emulator.app import create_app
from emulator.core import lookup, world
from emulator.generate import generate
from emulator.netatmo import home_devices
from emulator.netatmo.stations import HOMECOACH_KIND, STATION_KIND
from emulator.netatmo.world import (
    CAMERA_AT,
    DEVICE_AT,
    HOME,
    META,
    SCHEDULE_HOMES,
    hex_id,
)
from emulator.settings import Settings

HOMES = 30
DEFAULT_WORLD = Path(__file__).parents[1] / "emulator" / "worlds" / "default.yaml"
HOME_ID = "5e5c7a1b2d3e4f50617283a0"          # the default world's home
CAMERA, SMOKE, THERM = "70:ee:50:00:00:20", "70:ee:50:00:00:40", "04:00:00:00:00:01"
SCHEDULE = {"zones": [{"id": 0, "type": 0, "name": "Comfort", "rooms": []}],
            "timetable": [{"zone_id": 0, "m_offset": 0}], "hg_temp": 7, "away_temp": 12}
WHOLE = (HOME, STATION_KIND, HOMECOACH_KIND)


def _world() -> dict:
    """A generated world with the default world's Netatmo user (cameras, alarms) among
    its users, and the ids the default home's first three created schedules would get
    taken: by a schedule of another home, by another home, by another user."""
    data = world.parse(generate(homes=HOMES, seed=5))
    default = world.read_file(DEFAULT_WORLD)
    data["houses"] = default["houses"]
    users = data["netatmo"]["users"]
    users.append(default["netatmo"]["users"][0])
    users[HOMES // 2]["homes"][0]["schedules"][0]["id"] = created(1)
    users[HOMES // 3]["homes"][0]["id"] = created(2)
    users[HOMES // 4]["id"] = created(3)
    return data


def created(n: int) -> str:
    """The default home's n-th created schedule's id, when no other home names it."""
    return hex_id("created-schedule", HOME_ID, n)


@pytest.fixture(scope="module")
def big(tmp_path_factory):
    path = tmp_path_factory.mktemp("world") / "world.json"
    path.write_bytes(orjson.dumps(_world()))
    app = create_app(Settings(world=str(path), world_cache="off"))
    app.ensure_world("default", 0.0)
    return app, Client(app), path


class Reads:
    """The kinds the store is asked to read whole (``list``) while it is open."""

    def __init__(self, store) -> None:
        self.store, self.listed = store, []

    def __enter__(self) -> Reads:
        lister = self.store.list

        def listing(tenant, kind):
            if kind in WHOLE:
                self.listed.append(kind)
            return lister(tenant, kind)

        self.store.list = listing
        return self

    def __exit__(self, *exc) -> None:
        del self.store.list


class Unindexed:
    """The tenant's state as an older mockcloud wrote it: no index of ``kind``."""

    def __init__(self, app, kind: str) -> None:
        self.store, self.kind = app.store, kind

    def __enter__(self) -> None:
        self.head = self.store.get("default", self.kind, lookup.HEAD)
        self.store.delete("default", self.kind, lookup.HEAD)

    def __exit__(self, *exc) -> None:
        self.store.put("default", self.kind, lookup.HEAD, self.head)


def _token(client: Client) -> str:
    r = client.post("/_mockcloud/tokens", json={
        "vendor": "netatmo", "client_id": "netatmo-ci", "user": "dev@netatmo.test",
        "scope": "read_thermostat write_thermostat"})
    assert r.status_code in (200, 201), r.get_data()
    return r.json["access_token"]


def _ids(app) -> list[str]:
    """A device of each family: a module of the default home, of a generated home, a
    station, its module, a home coach."""
    store = app.store
    home = store.get("default", HOME, HOME_ID)
    other = next(d for k, d in store.list("default", HOME) if k != HOME_ID)
    station = next(d for _, d in sorted(store.list("default", STATION_KIND)))
    coach = next(d for _, d in sorted(store.list("default", HOMECOACH_KIND)))
    return [home["modules"][3]["id"], other["modules"][0]["id"], station["id"],
            station["modules"][0]["id"], coach["id"]]


def test_the_world_indexes_every_device_once(big):
    app, _, _ = big
    assert lookup.get(app.store, "default", DEVICE_AT, CAMERA) == ["home", HOME_ID]
    assert lookup.get(app.store, "default", DEVICE_AT, "no:such:device") is None
    head = app.store.get("default", DEVICE_AT, lookup.HEAD)
    indexed = {k for _, doc in app.store.list("default", DEVICE_AT) if "buckets" not in doc
               for k in doc}
    homes = app.store.list("default", HOME)
    mods = {m["id"] for _, h in homes for m in h["modules"]}
    stations = {i for kind in (STATION_KIND, HOMECOACH_KIND)
                for _, d in app.store.list("default", kind)
                for i in (d["id"], *(m["id"] for m in d.get("modules", ())))}
    assert indexed == mods | stations
    assert head["buckets"] == -(-len(indexed) // lookup.PER_BUCKET)
    assert len(homes) == HOMES + 1


def test_the_admin_api_finds_a_device_without_reading_every_home(big):
    app, client, _ = big
    for device_id in _ids(app):
        with Reads(app.store) as reads:
            r = client.get(f"/_mockcloud/devices/netatmo/{device_id}")
        assert r.status_code == 200, (device_id, r.get_data())
        assert r.json["id"] == device_id and reads.listed == []
        with Unindexed(app, DEVICE_AT), Reads(app.store) as reads:
            scanned = client.get(f"/_mockcloud/devices/netatmo/{device_id}")
        assert scanned.get_data() == r.get_data() and reads.listed == list(WHOLE)
    with Reads(app.store) as reads:
        r = client.get("/_mockcloud/devices/netatmo/00:00:00:00:00:99")
    assert r.status_code == 404 and reads.listed == []
    with Reads(app.store) as reads:
        r = client.patch(f"/_mockcloud/devices/netatmo/{THERM}", json={"online": False})
    assert r.status_code == 200 and r.json["state"]["reachable"] is False
    assert reads.listed == []
    client.patch(f"/_mockcloud/devices/netatmo/{THERM}", json={"clear": True})


def test_an_event_is_injected_without_reading_every_home(big):
    app, client, _ = big
    with Reads(app.store) as reads:
        r = client.post(f"/_mockcloud/devices/netatmo/{SMOKE}/events", json={"type": "smoke"})
    assert r.status_code == 201, r.get_data()
    assert r.json["event"]["home_id"] == HOME_ID and reads.listed == []
    with Unindexed(app, DEVICE_AT), Reads(app.store) as reads:
        again = client.post(f"/_mockcloud/devices/netatmo/{SMOKE}/events",
                            json={"type": "smoke"})
    assert again.status_code == 201 and again.json["event"]["home_id"] == HOME_ID
    assert HOME in reads.listed
    with Reads(app.store) as reads:
        r = client.post("/_mockcloud/devices/netatmo/00:00:00:00:00:99/events",
                        json={"type": "smoke"})
    assert r.status_code == 404 and reads.listed == []


def test_a_camera_is_found_by_its_address_without_reading_every_home(big):
    app, client, _ = big
    seed = app.store.get("default", META, "world")["seed"]
    path = home_devices.vpn_path(seed, CAMERA)
    assert lookup.get(app.store, "default", CAMERA_AT, path) == [HOME_ID, CAMERA]
    with Reads(app.store) as reads:
        r = client.post(f"/netatmo{path}/command/ping")
    assert r.status_code == 200, r.get_data()
    assert r.json["local_url"].endswith(path) and reads.listed == []
    with Unindexed(app, CAMERA_AT), Reads(app.store) as reads:
        scanned = client.post(f"/netatmo{path}/command/ping")
    assert scanned.get_data() == r.get_data() and reads.listed == [HOME]
    other = path.replace("/restricted/10.255.", "/restricted/10.254.")
    with Reads(app.store) as reads:
        r = client.post(f"/netatmo{other}/command/ping")
    assert r.status_code == 404 and reads.listed == []


def test_a_created_schedule_id_is_checked_against_the_index(big):
    """Other homes and users name the ids the default home's first three created
    schedules would have: the new schedules skip them, with the index or without."""
    app, client, _ = big
    assert lookup.get(app.store, "default", SCHEDULE_HOMES, created(1)) not in (
        None, [HOME_ID])
    headers = {"Authorization": f"Bearer {_token(client)}"}
    body = {"home_id": HOME_ID, "name": "Night", **SCHEDULE}
    made = []
    for unindexed in (False, True):
        with Reads(app.store) as reads:
            if unindexed:
                with Unindexed(app, SCHEDULE_HOMES):
                    r = client.post("/netatmo/api/createnewhomeschedule", json=body,
                                    headers=headers)
            else:
                r = client.post("/netatmo/api/createnewhomeschedule", json=body,
                                headers=headers)
        assert r.status_code == 200, r.get_data()
        made.append(r.json["schedule_id"])
        assert reads.listed == ([HOME] if unindexed else [])
    assert made == [created(4), created(5)]


def test_the_built_world_is_the_same_whatever_the_hash_seed(big):
    """Every process builds the same documents (a world's digest names its bytes;
    servers on one Redis agree on it): the indexes are built from sets."""
    _, _, path = big
    code = ("import sys, json; from emulator.app import VENDORS; "
            "from emulator.core import worldcache; "
            "b = worldcache.build(sys.argv[1], {v.name: v for v in VENDORS}, 0, jobs=1); "
            "print(json.dumps(b.digest))")
    digests = set()
    for hash_seed in ("1", "2"):
        out = subprocess.run([sys.executable, "-c", code, str(path)], check=True,
                             capture_output=True, text=True,
                             env={**os.environ, "PYTHONHASHSEED": hash_seed},
                             cwd=Path(__file__).parents[1])
        digests.add(json.loads(out.stdout))
    assert len(digests) == 1
