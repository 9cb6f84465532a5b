"""Netatmo contracts: real-shaped samples pass, the schemas bite, the OpenAPI is complete."""

from __future__ import annotations

import json
from functools import cache
from pathlib import Path
from typing import Any

import pytest

from contracts._catalogue import CONTRACTS_DIR
from contracts._required import bite_cases, load_manifest, mutated, pointer, sample_validator
from contracts.verify import Issue, load_contracts, validate_request, validate_response
from tests.contract_files import check_schema_file

SHARED = Path(__file__).resolve().parents[1].parent / "shared"
SAMPLES = SHARED / "real-samples" / "netatmo"
NO_SAMPLES = f"real Netatmo samples not found at {SAMPLES} (../shared is absent)"
SCHEMAS = CONTRACTS_DIR / "schemas" / "netatmo"
ENDPOINTS = [
    "getstationsdata", "getmeasure", "gethomecoachsdata", "getpublicdata", "homesdata",
    "homestatus", "getroommeasure", "setroomthermpoint", "setthermmode", "switchhomeschedule",
    "synchomeschedule", "createnewhomeschedule", "deletehomeschedule", "renamehomeschedule",
    "setstate", "gethomedata", "getevents", "setpersonsaway", "setpersonshome",
    "geteventsuntil", "getnextevents", "getlasteventof", "addwebhook", "dropwebhook",
]
CATALOGUE = load_contracts()
DOC = CATALOGUE.vendors["netatmo"].operations[0].doc
MANIFEST = load_manifest(SAMPLES) if SAMPLES.is_dir() else []
needs_samples = pytest.mark.skipif(not SAMPLES.is_dir(), reason=NO_SAMPLES)


def manifest_params() -> list[Any]:
    if not SAMPLES.is_dir():
        return [pytest.param(None, marks=pytest.mark.skip(reason=NO_SAMPLES))]
    return [pytest.param(e, id=e["file"]) for e in MANIFEST]


def bite_params() -> list[Any]:
    if not SAMPLES.is_dir():
        return [pytest.param(None, None, marks=pytest.mark.skip(reason=NO_SAMPLES))]
    cases = bite_cases(CATALOGUE, "netatmo", SAMPLES)
    return [pytest.param(f, p, id=f"{f}:{pointer(p)}") for f, p in cases]


@cache
def sample(name: str) -> Any:
    return json.loads((SAMPLES / name).read_text(encoding="utf-8"))


def check(method: str | None, path: str, status: int | None, body: Any) -> list[Issue]:
    return validate_response("netatmo", method, path, status, body)


# ---- every real sample passes ------------------------------------------------------------------
@pytest.mark.parametrize("entry", manifest_params())
def test_real_sample_honours_contract(entry: dict[str, Any]) -> None:
    body = sample(entry["file"])
    if entry["kind"] == "request":
        issues = validate_request("netatmo", "POST", entry["endpoint"], body)
    else:
        issues = check(None, entry["endpoint"], entry["status"], body)
    assert issues == [], [str(i) for i in issues]


# ---- the schemas bite ---------------------------------------------------------------------------
@pytest.mark.parametrize(("file", "path"), bite_params())
@pytest.mark.parametrize("how", ["remove", "retype"])
def test_required_field_mutation_fails(file: str, path: tuple[Any, ...], how: str) -> None:
    entry = next(e for e in MANIFEST if e["file"] == file)
    body = sample(file)
    validator = sample_validator(CATALOGUE, "netatmo", entry, body)
    assert not validator.is_valid(mutated(body, path, how)), f"{how} {pointer(path)} still valid"


@needs_samples
def test_bite_cases_reach_deep_fields() -> None:
    paths = {(f, pointer(p)) for f, p in bite_cases(CATALOGUE, "netatmo", SAMPLES)}
    assert ("home_status_simple.json", "/body/home/rooms/0/therm_setpoint_mode") in paths
    assert ("archive__oauth2_token.json", "/expire_in") in paths
    assert ("home_status_error_disconnected.json", "/body/errors/0/code") in paths


# ---- schema files ------------------------------------------------------------------------------
@pytest.mark.parametrize("path", sorted(SCHEMAS.glob("*.json")), ids=lambda p: p.name)
def test_schema_file_is_valid_2020_12(path: Path) -> None:
    check_schema_file(json.loads(path.read_text(encoding="utf-8")), "netatmo", path.name,
                      titled=False)


@pytest.mark.parametrize("name", ENDPOINTS)
def test_every_endpoint_has_a_response_schema(name: str) -> None:
    assert (SCHEMAS / f"{name}.json").is_file()


@pytest.mark.parametrize("name", ["setstate", "synchomeschedule", "createnewhomeschedule"])
def test_json_request_bodies_have_schemas(name: str) -> None:
    op = CATALOGUE.find("netatmo", "POST", f"/api/{name}")
    assert op.request_schema() is not None
    assert (SCHEMAS / f"{name}-request.json").is_file()


# ---- OpenAPI document --------------------------------------------------------------------------
@pytest.mark.parametrize("name", ENDPOINTS)
@pytest.mark.parametrize("method", ["GET", "POST"])
def test_endpoint_has_both_methods_scopes_and_errors(name: str, method: str) -> None:
    op = CATALOGUE.find("netatmo", method, f"/api/{name}")
    assert op.spec["security"] and all(s["netatmo_oauth"] for s in op.spec["security"])
    for status in ("200", "400", "401", "403", "404", "429"):
        assert op.response_schema(status)[1], f"{op.key} lacks a JSON {status}"
    assert op.response_schema("429")[1].startswith("/components/responses/ApiError429")


def test_rate_limit_headers_are_declared() -> None:
    for status in ("403", "429"):
        headers = DOC["components"]["responses"][f"ApiError{status}"]["headers"]
        limits = {"X-RateLimit-Limit", "X-RateLimit-Remaining", "X-RateLimit-Reset"}
        assert limits | {"Retry-After"} <= set(headers)


def test_get_reads_query_and_post_reads_form() -> None:
    get = CATALOGUE.find("netatmo", "GET", "/api/homestatus").spec
    post = CATALOGUE.find("netatmo", "POST", "/api/homestatus").spec
    assert any(p.get("name") == "home_id" and p.get("in") == "query" for p in get["parameters"])
    form = post["requestBody"]["content"]["application/x-www-form-urlencoded"]["schema"]
    assert "home_id" in form["required"]


# ---- the contract pins what clients depend on --------------------------------------------------
TOKEN = {"access_token": "a|b", "refresh_token": "c|d", "scope": ["read_station"],
         "expires_in": 10800, "expire_in": 10800}


def test_token_contract() -> None:
    url = "https://api.netatmo.com/oauth2/token"
    assert check("POST", url, 200, TOKEN) == []
    assert check("POST", url, 200, {**TOKEN, "scope": "read_station"})[0].pointer == "/scope"
    assert check("POST", url, 200, {k: v for k, v in TOKEN.items() if k != "expire_in"})
    assert check("POST", url, 200, {**TOKEN, "scope": ["read_everything"]})[0].pointer == "/scope/0"


def test_error_envelopes() -> None:
    scope = {"error": {"code": 13, "message": "Application does not have the good scope rights"}}
    assert check("GET", "/api/homesdata", 403, scope) == []
    assert check("GET", "/api/homesdata", 429, {"error": "busy"})
    assert check("POST", "/oauth2/token", 400, {"error": "invalid_grant"}) == []
    assert check("POST", "/oauth2/token", 400, {"error": "nope"})
    assert check("GET", "/api/homesdata", 418, scope)[0].message.startswith("status 418")


def test_envelope_types_are_pinned() -> None:
    ok = {"status": "ok", "time_server": 1559162635, "time_exec": 0.02}
    assert check("POST", "/api/setthermmode", 200, ok) == []
    assert check("POST", "/api/setthermmode", 200, {**ok, "time_server": "1559162635"})
    assert check("POST", "/api/setthermmode", 200, {**ok, "status": "error"})
    assert check("POST", "/api/setthermmode", 200, {**ok, "extra": 1}) == []


def test_homestatus_module_errors_with_200() -> None:
    body = {"status": "ok", "time_server": 1,
            "body": {"home": {"id": "h"}, "errors": [{"code": 6, "id": "m"}]}}
    assert check("GET", "/api/homestatus", 200, body) == []
    body["body"]["errors"][0]["code"] = "6"
    assert check("GET", "/api/homestatus", 200, body)[0].pointer == "/body/errors/0/code"


def homestatus(room: dict[str, Any], module: dict[str, Any]) -> list[Issue]:
    base_room = {"id": "1", "reachable": True, "therm_measured_temperature": 19.8,
                 "therm_setpoint_temperature": 19.5, "therm_setpoint_mode": "manual",
                 "therm_setpoint_start_time": 0, "therm_setpoint_end_time": 0}
    home = {"id": "h", "rooms": [{**base_room, **room}],
            "modules": [{"id": "m", "type": "NATherm1", **module}]}
    return check("GET", "/api/homestatus", 200, {"status": "ok", "time_server": 1,
                                                  "body": {"home": home}})


def test_enums_and_half_degree_steps() -> None:
    assert homestatus({}, {}) == []
    assert homestatus({"therm_setpoint_mode": "turbo"}, {})
    assert homestatus({"therm_setpoint_temperature": 19.3}, {})
    assert homestatus({}, {"type": "NAThermostat"})
    assert homestatus({}, {"battery_state": "empty"})


def test_getmeasure_both_forms() -> None:
    env = {"status": "ok", "time_server": 1}
    optimised = [{"beg_time": 1, "step_time": 600, "value": [[20.1, None], [20.3, 45]]}]
    assert check("GET", "/api/getmeasure", 200, {**env, "body": optimised}) == []
    assert check("GET", "/api/getmeasure", 200, {**env, "body": {"1544558433": [28.1]}}) == []
    assert check("GET", "/api/getmeasure", 200, {**env, "body": {"x": [1]}})
    assert check("GET", "/api/getroommeasure", 200, {**env, "body": optimised}) == []


def test_setstate_partial_failure_and_request() -> None:
    partial = {"status": "ok", "time_server": 1, "body": {"home": {"id": "h"}, "errors": [
        {"code": 23, "message": "Already on", "id": "m", "command": "command/changestatus"}]}}
    assert check("POST", "/api/setstate", 200, partial) == []
    request = {"home": {"id": "h", "rooms": [{"id": "1", "therm_setpoint_mode": "manual",
                                              "therm_setpoint_temperature": 21}]}}
    assert validate_request("netatmo", "POST", "/api/setstate", request) == []
    issues = validate_request("netatmo", "POST", "/api/setstate", {"home": {}})
    assert issues[0].message == "'id' is a required property"


def test_createnewhomeschedule_accepts_both_schedule_id_places() -> None:
    env = {"status": "ok", "time_server": 1}
    sid = "5a819e6113475d09c28b497a"
    url = "/api/createnewhomeschedule"
    assert check("POST", url, 200, {**env, "schedule_id": sid}) == []
    assert check("POST", url, 200, {**env, "body": {"schedule_id": sid}}) == []
    assert check("POST", url, 200, env)


def test_getcamerapicture_answers_a_jpeg() -> None:
    for method in ("GET", "POST"):
        op = CATALOGUE.find("netatmo", method, "/api/getcamerapicture")
        assert op.spec["security"]
        assert set(op.spec["responses"]["200"]["content"]) == {"image/jpeg"}
        for status in ("400", "403", "429"):
            assert op.response_schema(status)[1]
    assert check("GET", "/api/getcamerapicture", 200, b"\xff\xd8") == []


WEBHOOK_SCHEMA = "https://mockcloud.local/contracts/schemas/netatmo/webhook.json"


def test_webhook_payload_schemas_dispatch_on_push_type() -> None:
    """webhook.json picks the family's schema by push_type (the emulator's pushes are
    validated in tests/test_netatmo_security.py)."""
    from jsonschema import Draft202012Validator

    validator = Draft202012Validator({"$ref": WEBHOOK_SCHEMA}, registry=CATALOGUE.registry)
    base = {"user_id": "u", "home_id": "h", "home_name": "Home"}
    device = {**base, "event_id": "0" * 24, "device_id": "d", "camera_id": "d",
              "message": "m"}
    good = [
        {"push_type": "webhook_activation"},
        {**device, "push_type": "NSD-smoke", "event_type": "smoke", "sub_type": 1},
        {**device, "push_type": "NACamera-person_away", "event_type": "person_away",
         "person_id": "p"},
        {**base, "push_type": "home_event_changed", "event_type": "therm_mode",
         "mode": "hg", "home": {"id": "h", "therm_mode": "hg"}},
    ]
    bad = [
        {"push_type": "NSD-smoke"},                                   # no ids
        {**device, "push_type": "NACamera-person", "event_type": "person"},  # no persons
        {**device, "push_type": "NOC-light_mode", "event_type": "light_mode",
         "sub_type": "disco"},
        {"push_type": "somebody_else"},
    ]
    assert [list(validator.iter_errors(p)) for p in good] == [[]] * len(good)
    assert all(not validator.is_valid(p) for p in bad)

