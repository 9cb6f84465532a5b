"""One house behind three clouds (core/world.py: ``houses`` and ``place: <id>``): the
default world's demo home is one place for Lightify, Netatmo and Qivivo, so one
outdoor weather through every API."""

from __future__ import annotations

import pytest

from emulator.physics.weather import Place, outdoor
from emulator.testing import AdminError
from tests.netatmo_http import Netatmo

NOW = 1_796_000_000          # 2026-11-30T00:53:20Z
OUTDOOR = "02:00:00:3a:00:01"


def test_the_default_worlds_vendors_share_the_house(mockcloud):
    world = mockcloud.export_world()
    [house] = world["houses"]
    assert house["id"] == "dev-house"
    [home] = world["netatmo"]["users"][0]["homes"]
    assert home["coordinates"] == [house["lon"], house["lat"]]
    assert (home["timezone"], home["altitude"]) == (house["timezone"], house["altitude"])
    [station] = world["netatmo"]["users"][0]["stations"]
    assert {k: station["place"][k] for k in ("lat", "lon", "altitude", "timezone")} == {
        k: house[k] for k in ("lat", "lon", "altitude", "timezone")}
    qhouse = world["qivivo"]["users"][0]["house"]
    assert qhouse["place"] == {k: house[k] for k in ("lat", "lon", "altitude")}
    assert qhouse["timezone"] == house["timezone"]
    mockcloud.load_world(world)                   # the export loads back


def test_one_outdoor_weather_through_netatmo_at_the_houses_place(netatmo: Netatmo,
                                                                 mockcloud):
    house = mockcloud.export_world()["houses"][0]
    mockcloud.freeze(NOW)
    body = netatmo.api("getstationsdata", netatmo.issue("read_station")).json()["body"]
    [dev] = body["devices"]
    mod = next(m for m in dev["modules"] if m["_id"] == OUTDOOR)
    shown = mod["dashboard_data"]
    place = Place(lat=house["lat"], lon=house["lon"], altitude=house["altitude"])
    expected = outdoor(place, 0, shown["time_utc"]).temperature
    assert shown["Temperature"] == pytest.approx(expected, abs=0.051)


@pytest.mark.parametrize(("where", "edit"), [
    ("netatmo.users[0].homes[0].place",
     lambda w: w["netatmo"]["users"][0]["homes"][0].update(place="nowhere")),
    ("qivivo.users[0].house.place",
     lambda w: w["qivivo"]["users"][0]["house"].update(place="nowhere")),
    ("lightify.users[0].place",
     lambda w: w["lightify"]["users"][0].update(place="nowhere")),
    ("houses[0].lat", lambda w: w["houses"][0].update(lat=123)),
])
def test_a_place_that_names_no_house_is_refused(mockcloud, where, edit):
    world = mockcloud.export_world()
    world["lightify"]["users"][0]["place"] = "dev-house"
    edit(world)
    with pytest.raises(AdminError, match=where.replace("[", r"\[").replace("]", r"\]")):
        mockcloud.load_world(world)
