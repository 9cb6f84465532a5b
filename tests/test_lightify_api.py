"""Lightify devices, groups and scenes over HTTP: state, validation, quirks."""

from __future__ import annotations

import pytest
import requests

RGBW = {"red": 1, "green": 2, "blue": 3, "white": 4}


def test_device_list_gateway_first_with_cursor(lightify, token):
    body = lightify.api("GET", "/devices/", token).json()
    assert body["devices"][0]["type"] == "GATEWAY"
    assert body["devices"][0]["id"] == "123456"
    assert body["devices"][0]["firmwareVersion"] == "1.3.1.0, 2.1.0"
    assert isinstance(body["cursor"], str) and len(body["cursor"]) == 8
    ids = [d["id"] for d in body["devices"]]
    assert {"123456-d01", "123456-d03"} <= set(ids)
    assert "654321-d01" not in ids  # another user's


def test_collection_examples_unchanged(lightify, token):
    d03 = lightify.api("GET", "/devices/123456-d03", token).json()
    assert d03 == {"id": "123456-d03", "name": "bathroom", "type": "OUTLET", "online": False,
                   "onOff": "off", "brightness": 100, "deviceModel": "Lightify Switch",
                   "firmwareVersion": "01020492"}
    scene = lightify.api("GET", "/scenes/123456-s01", token).json()
    assert scene == {"id": "123456-s01", "name": "away", "groups": ["123456-g01"],
                     "gatewayId": "123456"}


@pytest.mark.parametrize("path", ["/devices", "/devices/", "/groups", "/groups/",
                                  "/scenes", "/scenes/"])
def test_trailing_slash_and_json_content_type_on_get(lightify, token, path):
    resp = lightify.api("GET", path, token, headers={"Content-Type": "application/json"})
    assert resp.status_code == 200
    assert resp.headers["Content-Type"] == "application/json; charset=utf-8"


@pytest.mark.parametrize("path", ["//devices", "/devices//123456-d01", "/devices//"])
def test_doubled_slashes_are_an_unknown_endpoint(lightify, token, path):
    """Express routes paths as sent: no redirect to a merged path, a JSON 404."""
    resp = lightify.api("GET", path, token)
    assert resp.status_code == 404
    assert resp.json()["error"] == "not_found"


@pytest.mark.parametrize("change,expect", [
    ({"onOff": "off"}, {"onOff": "off"}),
    ({"brightness": 50}, {"brightness": 50}),
    ({"brightness": 0}, {"brightness": 0}),
    ({"color": "red"}, {"colorRGBW": {"red": 255, "green": 0, "blue": 0, "white": 0}}),
    ({"color": "pink"}, {"colorRGBW": {"red": 255, "green": 192, "blue": 203, "white": 0}}),
    ({"colorTemperature": 2700}, {"colorTemperature": 2700}),
    ({"colorRGBW": RGBW}, {"colorRGBW": RGBW}),
    ({"onOff": "on", "brightness": 10, "colorTemperature": 6500},
     {"onOff": "on", "brightness": 10, "colorTemperature": 6500}),
])
def test_device_patch_persists(lightify, token, change, expect):
    resp = lightify.api("PATCH", "/devices/123456-d01", token, json=change)
    assert resp.status_code == 200, resp.text
    for k, v in expect.items():
        assert resp.json()[k] == v
    again = lightify.api("GET", "/devices/123456-d01", token).json()
    for k, v in expect.items():
        assert again[k] == v


@pytest.mark.parametrize("body", [
    {"brightness": 101}, {"brightness": -1}, {"brightness": "50"}, {"brightness": True},
    {"brightness": 50.5}, {"color": "magenta"}, {"color": 3}, {"onOff": True},
    {"onOff": "ON"}, {"colorTemperature": 1999}, {"colorTemperature": 6501},
    {"colorRGBW": {"red": 256, "green": 0, "blue": 0, "white": 0}},
    {"colorRGBW": {"red": 1, "green": 0, "blue": 0}}, {"colorRGBW": [1, 2, 3, 4]},
    {"colorRGBW": {**RGBW, "alpha": 1}}, {}, {"speed": 3}, [], "on", 5,
    {"color": "red", "colorRGBW": RGBW},
])
def test_device_patch_bad_values(lightify, token, body):
    before = lightify.api("GET", "/devices/123456-d01", token).json()
    resp = lightify.api("PATCH", "/devices/123456-d01", token, json=body)
    assert resp.status_code == 400, resp.text
    err = resp.json()
    assert err["error"] == "invalid_request" and err["error_description"]
    assert lightify.api("GET", "/devices/123456-d01", token).json() == before


@pytest.mark.parametrize("raw", [b"{", b"not json", b"", b"\xff\xfe", b'{"onOff": "on"'])
def test_malformed_json(lightify, token, raw):
    resp = lightify.api("PATCH", "/devices/123456-d01", token, data=raw,
                        headers={"Content-Type": "application/json"})
    assert resp.status_code == 400
    assert resp.json()["error"] == "invalid_request"


def test_unsupported_property_on_a_device_is_400(lightify, token):
    resp = lightify.api("PATCH", "/devices/123456-d03", token, json={"color": "red"})
    assert resp.status_code == 400
    assert "does not support color" in resp.json()["error_description"]
    gw = lightify.api("PATCH", "/devices/123456", token, json={"onOff": "on"})
    assert gw.status_code == 400


@pytest.mark.parametrize("method,path", [
    ("GET", "/devices/123456-d99"), ("PATCH", "/devices/123456-d99"),
    ("GET", "/groups/123456-g99"), ("PATCH", "/groups/123456-g99"),
    ("GET", "/scenes/123456-s99"), ("PATCH", "/scenes/123456-s99"),
    ("GET", "/devices/654321-d01"),  # exists, but another user's
])
def test_unknown_ids_are_404(lightify, token, method, path):
    body = {"action": "apply"} if "scenes" in path else {"onOff": "on"}
    resp = lightify.api(method, path, token, json=body if method == "PATCH" else None)
    assert resp.status_code == 404
    assert resp.json()["error"] == "not_found"


@pytest.mark.parametrize("headers", [{}, {"Authorization": "Bearer nope"},
                                     {"Authorization": "Basic Zm9vOmJhcg=="},
                                     {"Authorization": "Bearer"}])
def test_missing_or_bad_token_is_401(lightify, headers):
    resp = lightify.api("GET", "/devices", None, headers=headers)
    assert resp.status_code == 401
    assert resp.json()["error"] == "invalid_token"
    assert "Bearer" in resp.headers["WWW-Authenticate"]


def test_group_patch_applies_to_supporting_members_and_skips_others(lightify, token):
    resp = lightify.api("PATCH", "/groups/123456-g01", token,
                        json={"brightness": 50, "color": "red"})
    assert resp.status_code == 200, resp.text
    body = resp.json()
    assert body["id"] == "123456-g01"
    assert body["updated"] == ["123456-d07"]
    assert sorted(body["skipped"]) == ["123456-d03", "123456-d22"]
    d07 = lightify.api("GET", "/devices/123456-d07", token).json()
    assert d07["brightness"] == 50 and d07["colorRGBW"]["red"] == 255
    d22 = lightify.api("GET", "/devices/123456-d22", token).json()
    assert d22["brightness"] == 100  # plug: untouched


def test_group_on_off_reaches_plugs(lightify, token):
    body = lightify.api("PATCH", "/groups/123456-g01", token, json={"onOff": "off"}).json()
    assert sorted(body["updated"]) == ["123456-d03", "123456-d07", "123456-d22"]
    assert lightify.api("GET", "/devices/123456-d22", token).json()["onOff"] == "off"


def test_group_patch_validates_like_a_device(lightify, token):
    resp = lightify.api("PATCH", "/groups/123456-g01", token, json={"brightness": 500})
    assert resp.status_code == 400


def test_scene_apply_sets_stored_states(lightify, token):
    lightify.api("PATCH", "/devices/123456-d07", token, json={"onOff": "off", "brightness": 90})
    resp = lightify.api("PATCH", "/scenes/123456-s01", token, json={"action": "apply"})
    assert resp.status_code == 200
    assert resp.json() == {"id": "123456-s01", "name": "away", "type": "LIGHT",
                           "action": "apply"}
    d07 = lightify.api("GET", "/devices/123456-d07", token).json()
    assert (d07["onOff"], d07["brightness"], d07["colorTemperature"]) == ("on", 20, 2700)


def test_scene_named_colour_state(lightify, token):
    lightify.api("PATCH", "/scenes/123456-s02", token, json={"action": "apply"})
    d01 = lightify.api("GET", "/devices/123456-d01", token).json()
    assert d01["colorRGBW"] == {"red": 255, "green": 165, "blue": 0, "white": 0}


@pytest.mark.parametrize("body", [{"action": "recall"}, {}, {"action": "apply", "x": 1},
                                  {"action": 1}, ["apply"]])
def test_scene_bad_action(lightify, token, body):
    resp = lightify.api("PATCH", "/scenes/123456-s01", token, json=body)
    assert resp.status_code == 400


def test_etag_and_if_none_match(lightify, token):
    first = lightify.api("GET", "/devices/123456-d01", token)
    etag = first.headers["ETag"]
    assert etag.startswith('W/"')
    assert int(etag[3:].split("-")[0], 16) == len(first.content)
    again = lightify.api("GET", "/devices/123456-d01", token, headers={"If-None-Match": etag})
    assert again.status_code == 304
    lightify.api("PATCH", "/devices/123456-d01", token, json={"brightness": 77})
    changed = lightify.api("GET", "/devices/123456-d01", token, headers={"If-None-Match": etag})
    assert changed.status_code == 200


def test_reachable_by_real_host_name(mockcloud, lightify, token):
    # The vendor's real host in the Host header, the vendor's real paths.
    for host in ("emea.lightify-api.com", "na.lightify-api.com"):
        resp = requests.get(f"{mockcloud.base}/v4/devices/", headers={
            "Host": host, "Authorization": f"Bearer {token}",
            "X-Mockcloud-Tenant": mockcloud.tenant})
        assert resp.status_code == 200, resp.text
        assert resp.json()["devices"][0]["type"] == "GATEWAY"


def test_unknown_path_is_vendor_shaped_404(lightify, token):
    resp = lightify.api("GET", "/lamps", token)
    assert resp.status_code == 404
    assert resp.json()["error"] == "not_found"


def test_wrong_method_is_vendor_shaped_405(lightify, token):
    resp = lightify.api("DELETE", "/devices/123456-d01", token)
    assert resp.status_code == 405
    assert resp.json()["error"] == "method_not_allowed"


def test_every_response_is_checked_against_the_contract(lightify, token):
    lightify.api("GET", "/devices", token)
    lightify.api("GET", "/devices/123456-d01", token)
    assert lightify.watch.checked >= 2
    drifted = requests.Response()
    drifted.status_code = 200
    drifted._content = b'{"id": "123456-d01", "type": "LAMP"}'
    drifted.headers["Content-Type"] = "application/json"
    drifted.request = requests.Request("GET", f"{lightify.base}/v4/devices/x").prepare()
    lightify.watch.hook(drifted)
    assert lightify.watch.problems
    lightify.watch.problems.clear()


def test_served_openapi_is_self_contained(mockcloud):
    import json

    import yaml
    from openapi_spec_validator import validate

    text = requests.get(f"{mockcloud.url()}/_mockcloud/openapi/lightify.yaml",
                        headers={"Authorization": f"Bearer {mockcloud.token}"}).text
    doc = yaml.safe_load(text)
    validate(doc)
    refs = [r for r in json.dumps(doc).split('"$ref": "')[1:]]
    assert refs and all(r.startswith("#/") for r in refs)
    assert doc["servers"][0]["url"].endswith(f"/_t/{mockcloud.tenant}/lightify")


def test_oversized_body_is_413_and_changes_nothing(lightify, token):
    huge = b'{"brightness": 5, "pad": "' + b"x" * (2 * 1024 * 1024) + b'"}'
    resp = lightify.api("PATCH", "/devices/123456-d01", token, data=huge,
                        headers={"Content-Type": "application/json"})
    assert resp.status_code == 413
    assert resp.json()["error"] == "request_too_large"
    assert lightify.api("GET", "/devices/123456-d01", token).json()["brightness"] == 23
    # the watch does not know 413 (not a Lightify status): it is the emulator's guard
    lightify.watch.problems = [p for p in lightify.watch.problems if "-> 413" not in p]
