"""``mockcloud drift``: recorded exchanges replayed against a real emulator over HTTP.

The seed cassettes and the samples drift clean; a world where devices lack a field is
reported (exit 1, the missing path named); a cassette the journal exported after real
traffic drifts clean against the same emulator; unusable input exits 2 with a message.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
import requests
import yaml

from emulator.testing import Admin
from emulator.toolkit import drift

ROOT = Path(__file__).resolve().parents[1]
LIGHTIFY = ROOT / "fixtures" / "cassettes" / "lightify"
QIVIVO = ROOT / "tests" / "data" / "qivivo"
NETATMO = ROOT.parent / "shared" / "real-samples" / "netatmo"
DEFAULT_WORLD = ROOT / "emulator" / "worlds" / "default.yaml"
# known drift accepted by `make drift` (scripts/run_drift.py says why)
KNOWN = ["--ignore", "body.homes[].modules[].power", "--ignore",
         "body.homes[].modules[].last_seen"]


def run_json(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, dict]:
    code = drift.main([*argv, "--format", "json"])
    out = capsys.readouterr().out
    return code, json.loads(out)


@pytest.fixture
def against(mockcloud_server: str, mockcloud_admin_token: str | None) -> list[str]:
    args = ["--against", mockcloud_server]
    return args + ([f"--admin-token={mockcloud_admin_token}"] if mockcloud_admin_token else [])


def endpoint(report: dict, name: str) -> dict:
    return next(e for e in report["endpoints"] if e["endpoint"] == name)


def test_seed_cassettes_clean_with_its_own_server() -> None:
    """As a user runs it: the command starts its emulator, prints the table, exits 0."""
    proc = subprocess.run([sys.executable, "-m", "emulator.cli", "drift", str(LIGHTIFY)],
                          capture_output=True, text=True, timeout=180, cwd=ROOT)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "GET /v4/devices/{deviceId}" in proc.stdout
    assert "drift: clean (threshold: missing,type; 7 exchanges replayed)" in proc.stdout


def test_samples_clean_and_report_shape(capsys: pytest.CaptureFixture[str],
                                        against: list[str]) -> None:
    inputs = [str(LIGHTIFY), str(QIVIVO)] + ([str(NETATMO)] if NETATMO.is_dir() else [])
    code, report = run_json(capsys, *inputs, *against, *KNOWN)
    bad = [(e["vendor"], e["endpoint"], e["missing"], e["type_diffs"])
           for e in report["endpoints"] if e["missing"] or e["type_diffs"]]
    assert code == 0 and not report["failed"], bad
    assert report["threshold"] == "missing,type"
    for ep in report["endpoints"]:
        assert {"vendor", "endpoint", "replayed", "skipped", "status_equal", "present",
                "missing", "extra", "type_diffs", "value_diffs"} <= ep.keys()
    assert {e["vendor"] for e in report["endpoints"]} >= {"lightify", "qivivo"}
    devices = endpoint(report, "GET /v4/devices")
    assert devices["replayed"] == 1 and devices["status_equal"]
    assert "devices[].colorRGBW.white" in devices["present"]
    # the Qivivo samples' uuids are the default world's: kept, so values agree; the
    # unknown uuid of error_not_found.json is left as it is (404 both)
    info = endpoint(report, "GET /api/v2/devices/thermostats/{uuid}/info")
    assert info["replayed"] == 2 and info["status_equal"] and not info["value_diffs"], info
    assert {(s["recorded"], s["emulator"]) for s in info["statuses"]} == {(200, 200),
                                                                         (404, 404)}
    # error_too_many.json: asked with the client's quota spent (then put back)
    qdevices = endpoint(report, "GET /api/v2/devices")
    assert (429, 429) in {(s["recorded"], s["emulator"]) for s in qdevices["statuses"]}
    assert not qdevices["skipped"]
    # the seed cassettes' own inconsistency is a value difference (not in the threshold)
    scene = endpoint(report, "PATCH /v4/scenes/{sceneId}")
    assert scene["value_diffs"] == [{"path": "name", "recorded": "'entryway'",
                                     "emulator": "'away'"}]
    if NETATMO.is_dir():
        status = endpoint(report, "GET /api/homestatus")
        assert status["replayed"] >= 9 and status["status_equal"]
        # the disconnected samples, replayed with the module set unreachable
        assert "body.errors[].code" in status["present"]
        assert any("of type NLPC" in s for s in status["skipped"])  # not in the world
        assert "body.home.modules[].firmware_name" in status["present"]  # NOC, fixed


def test_value_threshold_fails_on_the_seed_inconsistency(
        capsys: pytest.CaptureFixture[str], against: list[str]) -> None:
    code, report = run_json(capsys, str(LIGHTIFY), *against, "--fail-on", "value,status")
    assert code == 1 and report["failed"] and report["threshold"] == "status,value"


def test_dropped_field_is_reported(capsys: pytest.CaptureFixture[str], against: list[str],
                                   tmp_path: Path) -> None:
    """A test world whose lights lack colorRGBW (drift loads it into its tenant)."""
    world = yaml.safe_load(DEFAULT_WORLD.read_text(encoding="utf-8"))
    for user in world["lightify"]["users"]:
        for dev in user.get("devices", []):
            dev.pop("colorRGBW", None)
    broken = tmp_path / "broken.yaml"
    broken.write_text(yaml.safe_dump(world), encoding="utf-8")
    code, report = run_json(capsys, str(LIGHTIFY), *against, "--world", str(broken))
    assert code == 1 and report["failed"]
    devices = endpoint(report, "GET /v4/devices")
    assert "devices[].colorRGBW" in devices["missing"]
    assert devices["missing_in"]["devices[].colorRGBW"] == "list_devices.yaml#0"
    assert not endpoint(report, "GET /v4/groups")["missing"]
    table = drift.main([str(LIGHTIFY), *against, "--world", str(broken)])
    assert table == 1
    assert "GET /v4/devices: missing devices[].colorRGBW " in capsys.readouterr().out


def test_journal_cassette_drifts_clean(capsys: pytest.CaptureFixture[str],
                                       against: list[str], mockcloud: Admin,
                                       tmp_path: Path) -> None:
    """Real traffic on a tenant, its journal exported (secrets redacted), replayed."""
    http = requests.Session()
    light = mockcloud.issue_token("lightify", "lightify-ci", "demo@lightify.test")
    bearer = {"Authorization": f"Bearer {light['access_token']}"}
    base = mockcloud.url("lightify")
    assert http.get(f"{base}/v4/devices/", headers=bearer).status_code == 200
    assert http.get(f"{base}/v4/devices/123456-d01", headers=bearer).status_code == 200
    assert http.patch(f"{base}/v4/devices/123456-d01", headers=bearer,
                      json={"onOff": "on", "brightness": 40}).status_code == 200
    assert http.get(f"{base}/v4/devices/nope", headers=bearer).status_code == 404
    net = mockcloud.issue_token("netatmo", "netatmo-ci", "dev@netatmo.test",
                                "read_thermostat write_thermostat read_station")
    nbase, nauth = mockcloud.url("netatmo"), {"Authorization": f"Bearer {net['access_token']}"}
    homes = http.get(f"{nbase}/api/homesdata", headers=nauth).json()["body"]["homes"]
    assert http.get(f"{nbase}/api/homestatus", headers=nauth,
                    params={"home_id": homes[0]["id"]}).status_code == 200
    assert http.post(f"{nbase}/api/getstationsdata",
                     data={"access_token": net["access_token"]}).status_code == 200
    cassette = tmp_path / "journal.yaml"
    cassette.write_text(mockcloud.cassette(), encoding="utf-8")
    code, report = run_json(capsys, str(cassette), *against, "--fail-on",
                            "missing,type,status")
    assert code == 0, [e for e in report["endpoints"] if e["missing"] or e["type_diffs"]
                       or not e["status_equal"]]
    names = {(e["vendor"], e["endpoint"]): e for e in report["endpoints"]}
    assert names[("lightify", "PATCH /v4/devices/{deviceId}")]["replayed"] == 1
    assert names[("lightify", "GET /v4/devices/{deviceId}")]["replayed"] == 2  # 200 and 404
    assert names[("netatmo", "POST /api/getstationsdata")]["replayed"] == 1  # token as param
    assert all(not e["skipped"] for e in report["endpoints"])


@pytest.mark.parametrize("content, message", [
    ("interactions: [{request: {}}]", "malformed interaction"),
    ("not: [a cassette", "unreadable cassette"),
])
def test_unusable_input_exits_2(tmp_path: Path, content: str, message: str) -> None:
    bad = tmp_path / "bad.yaml"
    bad.write_text(content, encoding="utf-8")
    proc = subprocess.run([sys.executable, "-m", "emulator.cli", "drift", str(bad)],
                          capture_output=True, text=True, timeout=60, cwd=ROOT)
    assert proc.returncode == 2
    assert message in proc.stderr and "Traceback" not in proc.stderr


def test_usage_errors_exit_2(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert drift.main([str(tmp_path / "missing.yaml")]) == 2
    assert "no such file or folder" in capsys.readouterr().err
    assert drift.main([str(LIGHTIFY), "--fail-on", "missing,colour"]) == 2
    assert "unknown colour" in capsys.readouterr().err
    assert drift.main([str(LIGHTIFY), "--world", str(tmp_path / "nope.yaml")]) == 2
    assert "no such file" in capsys.readouterr().err
    with pytest.raises(SystemExit) as exc:
        drift.main([])
    assert exc.value.code == 2


def test_scrubbed_recording_drifts_clean(capsys: pytest.CaptureFixture[str],
                                         against: list[str], mockcloud: Admin,
                                         tmp_path: Path) -> None:
    """Traffic recorded through `mockcloud record` (ids pseudonymised, secrets
    REDACTED): drift pairs the pseudonyms with the world's ids by role and order."""
    from tests.test_record import Proxy

    token = mockcloud.issue_token("netatmo", "netatmo-ci", "dev@netatmo.test",
                                  "read_thermostat read_station read_homecoach")
    auth = {"Authorization": f"Bearer {token['access_token']}"}
    with Proxy("--vendor", "netatmo", "--upstream", mockcloud.url("netatmo"),
               "--out", str(tmp_path), "--name", "run") as proxy:
        homes = requests.get(f"{proxy.url}/api/homesdata", headers=auth).json()
        home = homes["body"]["homes"][0]["id"]
        assert requests.get(f"{proxy.url}/api/homestatus", headers=auth,
                            params={"home_id": home}).status_code == 200
        assert requests.get(f"{proxy.url}/api/getstationsdata",
                            headers=auth).status_code == 200
    cassette = (tmp_path / "run.yaml").read_text(encoding="utf-8")
    assert home not in cassette  # pseudonymised
    code, report = run_json(capsys, str(tmp_path / "run.yaml"), *against,
                            "--fail-on", "missing,type,status")
    assert code == 0, report
    status = endpoint(report, "GET /api/homestatus")
    assert status["replayed"] == 1 and status["statuses"] == [{"recorded": 200,
                                                                "emulator": 200,
                                                                "first": "run.yaml#1"}]
    assert "body.home.rooms[].therm_measured_temperature" in status["present"]
    assert not status["skipped"]
