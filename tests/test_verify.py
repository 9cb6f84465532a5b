"""The verify command and library API: inputs, endpoint mapping, reports, exit statuses."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml

from contracts._catalogue import CONTRACTS_DIR
from contracts.verify import EndpointNotFound, find_operation, main, validate_response

ROOT = Path(__file__).resolve().parents[1]
SAMPLES = ROOT.parent / "shared" / "real-samples" / "netatmo"
QIVIVO = ROOT / "tests" / "data" / "qivivo"
needs_samples = pytest.mark.skipif(not SAMPLES.is_dir(),
                                   reason=f"real Netatmo samples not found at {SAMPLES}")
OK = {"status": "ok", "time_server": 1559162635, "time_exec": 0.02}


def interaction(method: str, uri: str, status: int, body: Any,
                request_body: str | None = None) -> dict[str, Any]:
    text = body if isinstance(body, str) else json.dumps(body)
    headers = {"Content-Type": ["application/json"]} if request_body else {}
    return {"request": {"method": method, "uri": uri, "body": request_body, "headers": headers},
            "response": {"status": {"code": status, "message": "OK"},
                         "headers": {"Content-Type": ["application/json"]},
                         "body": {"string": text}}}


def cassette(path: Path, *interactions: dict[str, Any]) -> Path:
    doc = {"interactions": list(interactions), "version": 1}
    text = json.dumps(doc) if path.suffix == ".json" else yaml.safe_dump(doc)
    path.write_text(text)
    return path


def run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str]:
    code = main(list(argv))
    return code, capsys.readouterr().out


# ---- real samples and examples -----------------------------------------------------------------
@needs_samples
def test_real_netatmo_samples_pass(capsys: pytest.CaptureFixture[str]) -> None:
    code, out = run(capsys, "verify", str(SAMPLES))
    assert code == 0, out
    assert "netatmo GET /api/homestatus" in out
    assert "0 failed, 0 unusable" in out


@needs_samples
def test_json_format(capsys: pytest.CaptureFixture[str]) -> None:
    code, out = run(capsys, str(SAMPLES), "--format", "json")
    report = json.loads(out)
    assert code == 0 and report["ok"] is True
    rows = {r["endpoint"]: r for r in report["endpoints"]}
    assert rows["netatmo GET /api/homesdata"]["passed"] == 8


def test_qivivo_examples_pass(capsys: pytest.CaptureFixture[str]) -> None:
    code, out = run(capsys, str(QIVIVO))
    assert code == 0, out


def test_module_entry_point_runs() -> None:
    done = subprocess.run([sys.executable, "-m", "contracts.verify", str(QIVIVO), "--format",
                           "json"], cwd=ROOT, capture_output=True, text=True, check=False)
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout)["ok"] is True


# ---- cassettes ---------------------------------------------------------------------------------
@pytest.mark.parametrize("suffix", [".yaml", ".json"])
def test_cassette_pass_and_fail(tmp_path: Path, capsys: pytest.CaptureFixture[str],
                                suffix: str) -> None:
    path = cassette(tmp_path / f"c{suffix}",
                    interaction("POST", "https://api.netatmo.com/api/setthermmode", 200, OK),
                    interaction("GET", "http://127.0.0.1:5000/netatmo/api/homesdata", 200,
                                {**OK, "body": {"homes": "none"}}))
    code, out = run(capsys, str(path))
    assert code == 1
    assert "netatmo POST /api/setthermmode" in out
    assert "/body/homes: 'none' is not of type 'array'" in out


def test_cassette_request_bodies_are_checked(tmp_path: Path,
                                             capsys: pytest.CaptureFixture[str]) -> None:
    bad_request = interaction("POST", "/netatmo/api/setstate", 200, OK, request_body='{"home": {}}')
    path = cassette(tmp_path / "c.yaml", bad_request)
    code, out = run(capsys, str(path))
    assert code == 1
    assert "POST /api/setstate (request)" in out and "'id' is a required property" in out


def test_folder_of_cassettes(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    cassette(tmp_path / "a.yaml", interaction("POST", "/qivivo/oauth/token", 200,
                                              {"access_token": "t", "token_type": "Bearer",
                                               "expires_in": 3600}))
    (tmp_path / "sub").mkdir()
    devices = interaction("GET", "https://data.qivivo.com/api/v2//devices/", 200, {"devices": []})
    cassette(tmp_path / "sub" / "b.json", devices)
    code, out = run(capsys, str(tmp_path))
    assert code == 0, out
    assert "2 samples, 2 passed" in out


# ---- unusable input: exit 2, named ---------------------------------------------------------------
def test_unknown_endpoint_is_named(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = cassette(tmp_path / "c.yaml",
                    interaction("GET", "https://api.netatmo.com/api/setthermmode", 200, OK),
                    interaction("GET", "https://api.netatmo.com/api/nosuchthing", 200, OK))
    code, out = run(capsys, str(path))
    assert code == 2
    assert "UNUSABLE c.yaml#1: no endpoint in the contracts matches " \
           "https://api.netatmo.com/api/nosuchthing" in out


@pytest.mark.parametrize("content", ["{not json", "interactions: 3\n", ""])
def test_unreadable_cassette(tmp_path: Path, capsys: pytest.CaptureFixture[str],
                             content: str) -> None:
    path = tmp_path / "broken.yaml"
    path.write_text(content)
    code, out = run(capsys, str(path))
    assert code == 2 and "UNUSABLE" in out and "broken.yaml" in out


def test_missing_sample_and_missing_path(tmp_path: Path,
                                         capsys: pytest.CaptureFixture[str]) -> None:
    (tmp_path / "manifest.json").write_text(json.dumps(
        [{"file": "gone.json", "endpoint": "/api/homesdata", "kind": "response", "status": 200}]))
    code, out = run(capsys, str(tmp_path), str(tmp_path / "nope"))
    assert code == 2
    assert "UNUSABLE gone.json: unreadable sample" in out and "no such file or folder" in out


def test_not_json_body_fails(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = cassette(tmp_path / "c.yaml",
                    interaction("GET", "/netatmo/api/homesdata", 200, "<html>oops</html>"))
    code, out = run(capsys, str(path), "--format", "json")
    assert code == 1
    assert json.loads(out)["failures"][0]["message"].startswith("body is not JSON")


def test_unrecorded_status_must_match_an_error_body(tmp_path: Path,
                                                    capsys: pytest.CaptureFixture[str]) -> None:
    (tmp_path / "e.json").write_text('{"error": "too_many_connections"}')
    (tmp_path / "f.json").write_text('{"status": "ok"}')
    (tmp_path / "manifest.json").write_text(json.dumps({"vendor": "netatmo", "samples": [
        {"file": "e.json", "endpoint": "/oauth2/token", "kind": "error", "status": None},
        {"file": "f.json", "endpoint": "/oauth2/token", "kind": "error", "status": None}]}))
    code, out = run(capsys, str(tmp_path), "--format", "json")
    report = json.loads(out)
    assert code == 1
    assert [f["sample"] for f in report["failures"]] == ["f.json"]


# ---- endpoint mapping ----------------------------------------------------------------------
@pytest.mark.parametrize(("url", "vendor", "path"), [
    ("https://api.netatmo.com/api/homesdata", "netatmo", "/api/homesdata"),
    ("https://api.netatmo.com/oauth2/token", "netatmo", "/oauth2/token"),
    ("/netatmo/api/homesdata?home_id=1", "netatmo", "/api/homesdata"),
    ("/_t/w1/netatmo/api/homesdata", "netatmo", "/api/homesdata"),
    ("http://localhost:8000/netatmo/_t/w1/api/homestatus", "netatmo", "/api/homestatus"),
    ("/api/homesdata", "netatmo", "/api/homesdata"),
    ("https://data.qivivo.com/api/v2//devices/", "qivivo", "/api/v2/devices"),
    ("https://account.qivivo.com/oauth/token", "qivivo", "/oauth/token"),
    ("/qivivo/api/v2/devices/thermostats/abc/info", "qivivo",
     "/api/v2/devices/thermostats/{uuid}/info"),
    ("/qivivo/api/v2/devices/wireless-modules/x/programs/thermostat-zone", "qivivo",
     "/api/v2/devices/wireless-modules/{uuid}/programs/thermostat-zone"),
])
def test_request_maps_to_operation(url: str, vendor: str, path: str) -> None:
    op = find_operation(None, None, url)
    assert (op.vendor, op.path) == (vendor, path)


def test_mapping_errors() -> None:
    with pytest.raises(EndpointNotFound, match="method not in the contracts"):
        find_operation("qivivo", "PATCH", "/api/v2/devices")
    with pytest.raises(EndpointNotFound, match="unknown vendor"):
        find_operation("acme", "GET", "/api/v2/devices")
    with pytest.raises(EndpointNotFound, match="no endpoint"):
        validate_response(None, "GET", "/nothing/here", 200, {})


def test_bytes_and_text_bodies() -> None:
    assert validate_response("netatmo", "POST", "/api/setthermmode", 200, json.dumps(OK)) == []
    assert validate_response("netatmo", "POST", "/api/setthermmode", 200,
                             json.dumps(OK).encode()) == []
    assert validate_response("netatmo", "POST", "/api/setthermmode", 200, None)


# ---- generic: any openapi/*.yaml is picked up ----------------------------------------------
def test_new_vendor_document_is_picked_up(tmp_path: Path,
                                          capsys: pytest.CaptureFixture[str]) -> None:
    contracts = tmp_path / "contracts"
    shutil.copytree(CONTRACTS_DIR / "schemas", contracts / "schemas")
    shutil.copytree(CONTRACTS_DIR / "openapi", contracts / "openapi")
    (contracts / "openapi" / "acme.yaml").write_text(yaml.safe_dump({
        "openapi": "3.1.0", "info": {"title": "acme", "version": "1"},
        "servers": [{"url": "https://cloud.acme.test"}],
        "paths": {"/v1/lamps/{id}": {"get": {"responses": {"200": {
            "description": "ok", "content": {"application/json": {"schema": {
                "$ref": "#/components/schemas/Lamp"}}}}}}}},
        "components": {"schemas": {"Lamp": {"type": "object", "required": ["on"],
                                            "properties": {"on": {"type": "boolean"}}}}}}))
    path = cassette(tmp_path / "c.yaml",
                    interaction("GET", "https://cloud.acme.test/v1/lamps/7/", 200, {"on": True}),
                    interaction("GET", "/acme/v1/lamps/8", 200, {"on": "yes"}))
    code, out = run(capsys, str(path), "--contracts", str(contracts))
    assert code == 1
    assert "acme GET /v1/lamps/{id}" in out and "/on: 'yes' is not of type 'boolean'" in out
