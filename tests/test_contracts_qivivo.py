"""Qivivo contracts: hand-written examples from apis/qivivo.md pass, schemas bite, catalogue is
complete (checklist of apis/qivivo.md section 2.7)."""

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

EXAMPLES = Path(__file__).resolve().parent / "data" / "qivivo"
SCHEMAS = CONTRACTS_DIR / "schemas" / "qivivo"
CATALOGUE = load_contracts()
MANIFEST = load_manifest(EXAMPLES)
TH = "/api/v2/devices/thermostats/2b3f3c2e-1d2a-4c55-9a51-1f7a6e0c9b01"
CHECKLIST = """
GET    /devices
GET    /devices/thermostats/{uuid}/info
GET    /devices/thermostats/{uuid}/temperature
GET    /devices/thermostats/{uuid}/humidity
GET    /devices/thermostats/{uuid}/presence
POST   /devices/thermostats/{uuid}/temperature/temporary-instruction
DELETE /devices/thermostats/{uuid}/temperature/temporary-instruction
POST   /devices/thermostats/{uuid}/absence
DELETE /devices/thermostats/{uuid}/absence
POST   /devices/thermostats/{uuid}/arrival
DELETE /devices/thermostats/{uuid}/arrival
GET    /devices/thermostats/{uuid}/programs
POST   /devices/thermostats/{uuid}/programs
PUT    /devices/thermostats/{uuid}/programs/{programId}/active
PUT    /devices/thermostats/{uuid}/programs/{programId}/name
PUT    /devices/thermostats/{uuid}/programs/{programId}/day/{day}
DELETE /devices/thermostats/{uuid}/programs/{programId}
GET    /devices/wireless-modules/{uuid}/info
GET    /devices/wireless-modules/{uuid}/temperature
GET    /devices/wireless-modules/{uuid}/humidity
GET    /devices/wireless-modules/{uuid}/pilot-wire-order
GET    /devices/wireless-modules/{uuid}/programs
PUT    /devices/wireless-modules/{uuid}/programs/{programId}/active
PUT    /devices/wireless-modules/{uuid}/programs/thermostat-zone
GET    /devices/gateways/{uuid}/info
GET    /habitation/data/last-presence
GET    /habitation/data/settings
GET    /habitation/data/events
PUT    /habitation/settings/define_temperature
PUT    /habitation/settings/absence/alert
"""
CHECKED = [tuple(line.split()) for line in CHECKLIST.strip().splitlines()]


@cache
def example(name: str) -> Any:
    return json.loads((EXAMPLES / name).read_text(encoding="utf-8"))


def check(method: str, path: str, status: int, body: Any) -> list[Issue]:
    return validate_response("qivivo", method, path, status, body)


@pytest.mark.parametrize("entry", MANIFEST, ids=lambda e: e["file"])
def test_example_honours_contract(entry: dict[str, Any]) -> None:
    body = example(entry["file"])
    if entry["kind"] == "request":
        issues = validate_request("qivivo", entry["method"], entry["endpoint"], body)
    else:
        issues = check(entry["method"], entry["endpoint"], entry["status"], body)
    assert issues == [], [str(i) for i in issues]


@pytest.mark.parametrize(("file", "path"), [pytest.param(f, p, id=f"{f}:{pointer(p)}")
                                            for f, p in bite_cases(CATALOGUE, "qivivo", EXAMPLES)])
@pytest.mark.parametrize("how", ["remove", "retype"])
def test_required_field_mutation_fails(file: str, path: tuple[Any, ...], how: str) -> None:
    entry = next(e for e in MANIFEST if e["file"] == file)
    validator = sample_validator(CATALOGUE, "qivivo", entry, example(file))
    assert not validator.is_valid(mutated(example(file), path, how)), f"{how} {pointer(path)}"


@pytest.mark.parametrize(("method", "path"), CHECKED, ids=lambda x: x)
def test_checklist_endpoint_is_in_the_catalogue(method: str, path: str) -> None:
    op = CATALOGUE.find("qivivo", method, "/api/v2" + path)
    assert op.path == "/api/v2" + path
    assert op.spec["security"]
    assert op.response_schema("200")[1]
    for status in ("401", "403", "404", "422", "429"):
        assert op.response_schema(status)[1], f"{op.key} lacks {status}"


def test_every_checklist_endpoint_has_an_example() -> None:
    covered = {(e["method"], CATALOGUE.find("qivivo", e["method"], e["endpoint"]).path)
               for e in MANIFEST}
    missing = [(m, p) for m, p in CHECKED if (m, "/api/v2" + p) not in covered]
    # programs deletion, module active program, absence cancel: same {message} reply, covered
    assert len(missing) <= 6, missing


@pytest.mark.parametrize("path", sorted(SCHEMAS.glob("*.json")), ids=lambda p: p.name)
def test_schema_file_is_valid_2020_12(path: Path) -> None:
    check_schema_file(json.loads(path.read_text(encoding="utf-8")), "qivivo", path.name,
                      titled=False)


@pytest.mark.parametrize("name", ["error", "token-error", "message"])
def test_inferred_choices_are_recorded(name: str) -> None:
    description = json.loads((SCHEMAS / f"{name}.json").read_text())["description"]
    assert "INFERRED" in description


def test_paths_tolerate_double_and_trailing_slashes() -> None:
    body = {"temperature": 19.8, "current_temperature_order": 17.5}
    for url in (f"https://data.qivivo.com/api/v2//devices/thermostats//{TH[29:]}/temperature",
                "/qivivo/api/v2/devices/thermostats/x/temperature/",
                "http://localhost:8080/_t/worker1/qivivo/api/v2//devices/thermostats/x/temperature"):
        assert validate_response(None, "GET", url, 200, body) == [], url


def test_dates_steps_and_enums_are_pinned() -> None:
    info = example("thermostat_info.json")
    url = TH + "/info"
    assert check("GET", url, 200, {**info, "lastCommunicationDate": "2018-05-17 14:05:33"})
    assert check("GET", url, 200, {**info, "lastCommunicationDate": "2018-05-17T14:05"})
    temp = TH + "/temperature"
    assert check("GET", temp, 200, {"temperature": 19.8, "current_temperature_order": 17.3})
    order = "/api/v2/devices/wireless-modules/x/pilot-wire-order"
    assert check("GET", order, 200, {"current_pilot_wire_order": "confort"})
    assert check("GET", "/api/v2/devices", 200, {"devices": [{"uuid": "x", "type": "thermostat"}]})


def test_token_contract() -> None:
    token = {"access_token": "t", "token_type": "Bearer", "expires_in": 3600}
    url = "https://account.qivivo.com/oauth/token"
    assert check("POST", url, 200, token) == []
    assert check("POST", url, 200, {**token, "expires_in": "3600"})
    assert check("POST", url, 200, {**token, "token_type": "mac"})
    assert check("POST", url, 401, {"error": "invalid_client"})  # message is required


def test_requests_are_lenient_where_clients_cheat() -> None:
    url = TH + "/temperature/temporary-instruction"
    assert validate_request("qivivo", "POST", url, {"temperature": 21.01, "duration": 20}) == []
    assert validate_request("qivivo", "POST", url, {"temperature": 21, "duration": "20"})
    alert = "/api/v2/habitation/settings/absence/alert"
    assert validate_request("qivivo", "PUT", alert, {"new_nb_day": 1.5})
