"""``mockcloud fuzz`` as its user runs it: the real command in a child process, against a
real ``mockcloud serve`` (``--against``), with schemathesis as installed.

* usage errors exit 2 with a line saying what is wrong; without schemathesis the command
  says how to install it (exit 2);
* a small clean run exits 0, writes its reports (report.json with the cases, junit.xml,
  output.txt, the served document and the schemathesis.toml it used) and leaves every
  grant's token active;
* a 5xx the fuzzer meets is a failure: a fault rule answering 500 on one Qivivo
  operation, in a tenant kept as it is (``--no-reset``), makes the run exit 1 and name
  the check.

(The bounded run of every vendor is ``make fuzz``, in ``make test``.)
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from emulator.testing import Admin, ServerProcess

ADMIN_TOKEN = "fuzz-command-admin-token"


def fuzz(*args: str, timeout: float = 300) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "emulator.cli", "fuzz", *args],
                          capture_output=True, text=True, timeout=timeout,
                          stdin=subprocess.DEVNULL)


@pytest.fixture(scope="module")
def server():
    with ServerProcess(admin_token=ADMIN_TOKEN) as srv:
        yield srv


def test_usage_errors_exit_2() -> None:
    done = fuzz()
    assert done.returncode == 2 and "VENDOR" in done.stderr
    done = fuzz("nosuchcloud")
    assert done.returncode == 2 and "unknown vendor nosuchcloud" in done.stderr
    done = fuzz("lightify", "--max-examples", "0")
    assert done.returncode == 2 and "--max-examples" in done.stderr


def test_without_schemathesis_it_says_how_to_install_it() -> None:
    code = ("import sys; sys.modules['schemathesis'] = None; "
            "from emulator.toolkit.fuzz import main; sys.exit(main(['lightify']))")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          timeout=60)
    assert done.returncode == 2
    assert "pip install 'mockcloud[fuzz]'" in done.stderr


def test_a_clean_run_exits_0_with_reports(server: ServerProcess, tmp_path: Path) -> None:
    out = tmp_path / "reports"
    done = fuzz("qivivo", "--against", server.url, "--admin-token", ADMIN_TOKEN,
                "--max-examples", "2", "--report-dir", str(out), "--quiet")
    assert done.returncode == 0, done.stdout + done.stderr
    report = json.loads((out / "report.json").read_text())
    assert report["test_cases"]["generated"] > 50
    assert report["operations"]["tested"] == report["operations"]["total"] > 20
    assert report["failures"] == []
    for name in ("junit.xml", "output.txt", "openapi.yaml", "schemathesis.toml"):
        assert (out / name).stat().st_size > 0, name
    assert ("tokens after the run: client_credentials active, authorization_code active, "
            "refresh_token active") in done.stdout
    assert "OK (qivivo)" in done.stdout


def test_a_server_error_fails_the_run(server: ServerProcess, tmp_path: Path) -> None:
    tenant = "fuzz-boom"
    admin = Admin(server.url, tenant, token=ADMIN_TOKEN)
    admin.reset()
    admin.add_fault(vendor="qivivo", method="GET", path="/api/v2/devices/thermostats/*/info",
                    status=500, body={"message": "boom"})
    out = tmp_path / "reports"
    done = fuzz("qivivo", "--against", server.url, "--admin-token", ADMIN_TOKEN,
                "--tenant", tenant, "--no-reset", "--max-examples", "2",
                "--report-dir", str(out), "--quiet")
    assert done.returncode == 1, done.stdout + done.stderr
    report = json.loads((out / "report.json").read_text())
    assert report["test_cases"]["with_failures"] > 0
    assert "FAIL (qivivo)" in done.stdout
    assert "GET /api/v2/devices/thermostats/{uuid}/info" in done.stdout
