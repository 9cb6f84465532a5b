"""The vendor-neutral core over real HTTP: tenants, clock, faults, quotas,
journal, world, persistence, serving options."""

from __future__ import annotations

import subprocess
import sys
import uuid

import pytest
import requests
import vcr
import yaml

from emulator.testing import Admin, AdminError, ServerProcess
from tests.conftest import ContractWatch, Lightify, watched_session

_WATCHES: list[ContractWatch] = []


@pytest.fixture(autouse=True)
def _contract_checked():
    _WATCHES.clear()
    yield
    problems = [p for w in _WATCHES for p in w.problems]
    assert not problems, "responses off contract:\n" + "\n".join(problems)


def _lightify(admin: Admin) -> Lightify:
    http, watch = watched_session("lightify")
    _WATCHES.append(watch)
    return Lightify(admin, http, watch)


# ----------------------------------------------------------------- tenancy

def test_tenants_are_isolated(mockcloud_server, mockcloud_admin_token, lightify, token):
    other = _lightify(Admin(mockcloud_server, f"iso-{uuid.uuid4().hex[:8]}",
                            token=mockcloud_admin_token))
    lightify.api("PATCH", "/devices/123456-d01", token, json={"brightness": 5})
    assert lightify.api("GET", "/devices/123456-d01", token).json()["brightness"] == 5
    assert other.api("GET", "/devices", token).status_code == 401  # tokens are per tenant
    other_token = other.login()["access_token"]
    assert other.api("GET", "/devices/123456-d01", other_token).json()["brightness"] == 23
    other.admin.advance(7200)
    assert lightify.api("GET", "/devices", token).status_code == 200  # own clock


def test_tenant_by_header(mockcloud_server, token, lightify):
    resp = requests.get(f"{mockcloud_server}/lightify/v4/devices", headers={
        "Authorization": f"Bearer {token}", "X-Mockcloud-Tenant": lightify.admin.tenant})
    assert resp.status_code == 200


def test_bad_tenant_name(mockcloud_server):
    resp = requests.get(f"{mockcloud_server}/_t/bad%20name!/lightify/v4/devices")
    assert resp.status_code == 400
    assert resp.json()["error"] == "invalid_tenant"


# ------------------------------------------------------------------- clock

def test_clock_freeze_advance_set_resume(mockcloud):
    frozen = mockcloud.freeze("2030-01-01T00:00:00Z")
    assert frozen["frozen"] and frozen["iso"] == "2030-01-01T00:00:00Z"
    assert mockcloud.advance(90)["iso"] == "2030-01-01T00:01:30Z"
    assert mockcloud.set_time(1893456000)["iso"] == "2030-01-01T00:00:00Z"
    resumed = mockcloud.resume()
    assert not resumed["frozen"] and resumed["now"] >= 1893456000


def test_date_header_follows_virtual_clock(mockcloud, lightify, token):
    mockcloud.freeze("2031-05-06T07:08:09Z")
    resp = lightify.api("GET", "/devices", token)
    assert resp.headers["Date"] == "Tue, 06 May 2031 07:08:09 GMT"


@pytest.mark.parametrize("body", [{"action": "advance"}, {"action": "advance", "seconds": "x"},
                                  {"action": "warp"}, {"action": "set", "at": "yesterday"},
                                  {"action": "set", "at": "2030-01-01T00:00:00"}])
def test_clock_bad_input(mockcloud, body):
    resp = requests.post(f"{mockcloud.url()}/_mockcloud/clock", json=body,
                         headers=mockcloud.headers)
    assert resp.status_code == 400
    assert resp.json()["message"]


# ------------------------------------------------------------------ faults

def test_fault_status_first_n(mockcloud, lightify, token):
    mockcloud.add_fault(vendor="lightify", method="GET", path="/v4/devices*", status=503,
                        first_n=2)
    codes = [lightify.api("GET", "/devices", token).status_code for _ in range(3)]
    assert codes == [503, 503, 200]
    resp = lightify.api("GET", "/groups", token)
    assert resp.status_code == 200


def test_fault_default_body_is_vendor_shaped(mockcloud, lightify, token):
    mockcloud.add_fault(path="/v4/*", status=502)
    resp = lightify.api("GET", "/devices", token)
    assert resp.status_code == 502
    assert set(resp.json()) == {"error", "error_description"}
    assert resp.headers["X-Mockcloud-Fault"]


def test_fault_custom_body_and_after_n(mockcloud, lightify, token):
    mockcloud.add_fault(method="PATCH", path="/v4/devices/*", status=418,
                        body={"teapot": True}, after_n=1, headers={"X-Why": "tea"})
    ok = lightify.api("PATCH", "/devices/123456-d01", token, json={"onOff": "on"})
    assert ok.status_code == 200
    bad = lightify.api("PATCH", "/devices/123456-d01", token, json={"onOff": "off"})
    assert (bad.status_code, bad.json(), bad.headers["X-Why"]) == (418, {"teapot": True}, "tea")
    # the faulted PATCH never reached the device
    assert lightify.api("GET", "/devices/123456-d01", token).json()["onOff"] == "on"


def test_fault_drop_connection(mockcloud, lightify, token):
    mockcloud.add_fault(path="/v4/scenes", drop=True, first_n=1)
    broken = (requests.exceptions.ConnectionError, requests.exceptions.ChunkedEncodingError)
    with pytest.raises(broken):
        lightify.api("GET", "/scenes", token)
    assert lightify.api("GET", "/scenes", token).status_code == 200


def test_fault_latency(mockcloud, lightify, token):
    mockcloud.add_fault(path="/v4/groups", latency_ms=150, first_n=1)
    resp = lightify.api("GET", "/groups", token)
    assert resp.status_code == 200
    assert resp.elapsed.total_seconds() >= 0.15


def test_fault_probability_is_deterministic_under_a_seed(mockcloud_server, mockcloud_admin_token,
                                                         token):
    def run() -> list[int]:
        admin = Admin(mockcloud_server, f"chaos-{uuid.uuid4().hex[:8]}",
                      token=mockcloud_admin_token)
        api = _lightify(admin)
        tok = api.login()["access_token"]
        admin.add_fault(path="/v4/devices", status=500, probability=0.5, seed=42)
        return [api.api("GET", "/devices", tok).status_code for _ in range(20)]

    first, second = run(), run()
    assert first == second
    assert 500 in first and 200 in first


def test_fault_window_on_virtual_clock(mockcloud, lightify, token):
    now = mockcloud.freeze()["now"]
    mockcloud.add_fault(path="/v4/devices", status=500, start=now + 60, end=now + 120)
    assert lightify.api("GET", "/devices", token).status_code == 200
    mockcloud.advance(60)
    assert lightify.api("GET", "/devices", token).status_code == 500
    mockcloud.advance(60)
    assert lightify.api("GET", "/devices", token).status_code == 200


@pytest.mark.parametrize("rule", [{}, {"status": "500"}, {"status": 500, "probability": 2},
                                  {"status": 500, "method": "FETCH"}, {"status": 500, "x": 1},
                                  [{"drop": "yes"}]])
def test_fault_bad_rules(mockcloud, rule):
    resp = requests.post(f"{mockcloud.url()}/_mockcloud/faults", json=rule,
                         headers=mockcloud.headers)
    assert resp.status_code == 400
    assert resp.json()["error"] == "invalid_fault" and resp.json()["message"]
    assert mockcloud.faults() == []


# ------------------------------------------------------------------ quotas

def test_quota_answers_429_with_retry_after(mockcloud, lightify):
    mockcloud.freeze("2030-01-01T00:00:10Z")
    token = lightify.login()["access_token"]
    mockcloud.set_quotas("lightify", [{"key": "client", "limit": 3, "window": 60}])
    resps = [lightify.api("GET", "/devices", token) for _ in range(4)]
    assert [r.status_code for r in resps] == [200, 200, 200, 429]
    assert resps[0].headers["X-RateLimit-Limit"] == "3"
    assert resps[0].headers["X-RateLimit-Remaining"] == "2"
    limited = resps[3]
    assert limited.json()["error"] == "rate_limited"
    assert limited.headers["Retry-After"] == "50"
    assert limited.headers["X-RateLimit-Remaining"] == "0"
    assert limited.headers["X-RateLimit-Reset"] == str(1893456000 + 60)
    mockcloud.advance(50)
    assert lightify.api("GET", "/devices", token).status_code == 200
    counters = mockcloud.quotas()["counters"]
    assert counters and counters[0]["vendor"] == "lightify"


def test_quota_per_user_spans_apps_and_status_is_configurable(mockcloud, lightify, token):
    mockcloud.set_quotas("lightify", [{"key": "user", "limit": 1, "window": 3600}], status=403)
    assert lightify.api("GET", "/devices", token).status_code == 200
    other_app = lightify.login(("lightify-ci", "lightify-ci-secret"))["access_token"]
    assert lightify.api("GET", "/devices", other_app).status_code == 403
    # 403 is this test's own choice; the Lightify contract knows only 429
    lightify.watch.problems = [p for p in lightify.watch.problems if "-> 403" not in p]


def test_quota_bad_config(mockcloud):
    base, auth = f"{mockcloud.url()}/_mockcloud", mockcloud.headers
    resp = requests.put(f"{base}/quotas/lightify", headers=auth,
                        json={"rules": [{"key": "planet", "limit": 1, "window": 1}]})
    assert resp.status_code == 400
    assert "'rules[0].key'" in resp.json()["message"]
    assert requests.put(f"{base}/quotas/nope", json={}, headers=auth).status_code == 404


# ----------------------------------------------------------------- journal

def test_journal_records_and_exports_a_vcrpy_cassette(mockcloud, lightify, token, tmp_path):
    lightify.api("PATCH", "/devices/123456-d01", token, json={"brightness": 42})
    lightify.api("GET", "/devices/123456-d01", token)
    entries = mockcloud.journal(vendor="lightify")
    assert [e["request"]["method"] for e in entries][-2:] == ["PATCH", "GET"]
    last = entries[-1]
    assert last["response"]["status"] == 200 and last["latency_ms"] >= 0
    assert '"brightness":42' in last["response"]["body"]["text"]
    cassette = tmp_path / "replay.yaml"
    cassette.write_text(mockcloud.cassette(path="/v4/devices/123456-d01"))
    data = yaml.safe_load(cassette.read_text())
    assert len(data["interactions"]) == 2
    url = data["interactions"][1]["request"]["uri"]
    with vcr.use_cassette(str(cassette), record_mode="none"):
        replay = requests.get(url, headers={"Authorization": f"Bearer {token}"})
    assert replay.json()["brightness"] == 42


def test_journal_is_bounded_and_clearable(mockcloud_server):
    # HTTP_PROXY in the server's environment must not become a request header
    with ServerProcess(env={"MOCKCLOUD_JOURNAL_SIZE": "5",
                            "HTTP_PROXY": "http://proxy.invalid:3128"}) as server:
        admin = Admin(server.url, "bounded", token=server.admin_token)
        api = _lightify(admin)
        tok = api.login()["access_token"]
        for _ in range(12):
            api.api("GET", "/devices", tok)
        entries = admin.journal()
        assert len(entries) == 5
        assert all("Proxy" not in e["request"]["headers"] for e in entries)
        assert [e["seq"] for e in entries] == sorted(e["seq"] for e in entries)
        requests.delete(f"{admin.url()}/_mockcloud/journal", headers=admin.headers)
        assert admin.journal() == []


# ------------------------------------------------------------------- world

def test_world_load_bad_keeps_state(mockcloud, lightify, token):
    for bad in ("lightify: [", "lightify:\n  users:\n    - email: x\n      devices:\n"
                "        - {id: a, type: TOASTER}\n", "netatmo2: {}\n",
                "lightify:\n  users:\n    - email: x\n      groups: [{id: g, devices: [ghost]}]\n"):
        with pytest.raises(AdminError, match="400"):
            mockcloud.load_world(bad)
    assert lightify.api("GET", "/devices", token).status_code == 200


def test_world_load_export_roundtrip(mockcloud, lightify):
    world = """
lightify:
  apps:
    - {client_id: lightify-ci, client_secret: lightify-ci-secret,
       redirect_uris: ["https://example.com/callback"], auto_approve: true}
  users:
    - email: solo@test
      password: pw
      gateway: {id: "777", name: GW}
      devices:
        - {id: 777-d01, name: lamp, type: LIGHT, onOff: "on", brightness: 9}
"""
    mockcloud.load_world(world)
    tok = lightify.login()["access_token"]
    devices = lightify.api("GET", "/devices", tok).json()["devices"]
    assert [d["id"] for d in devices] == ["777", "777-d01"]
    lightify.api("PATCH", "/devices/777-d01", tok, json={"brightness": 10})
    exported = mockcloud.export_world()
    assert exported["lightify"]["users"][0]["devices"][0]["brightness"] == 10
    mockcloud.load_world(yaml.safe_dump(exported))
    tok = lightify.login()["access_token"]
    assert lightify.api("GET", "/devices/777-d01", tok).json()["brightness"] == 10


def test_auto_approve_without_a_user_approves_as_the_worlds_first(mockcloud, lightify):
    """An app with ``auto_approve`` and no ``auto_approve_user`` approves as the
    vendor's first user in the world file (named on the app when the world is built,
    not looked for among every user at each authorization): here not the first by
    login or id."""
    users = "".join(f"""
    - email: {name}@test
      gateway: {{id: "{gw}", name: GW}}
      devices:
        - {{id: {gw}-d01, name: lamp, type: LIGHT}}""" for name, gw in
                    (("zed", "900"), ("amy", "100"), ("bob", "500")))
    mockcloud.load_world(f"""
lightify:
  apps:
    - {{client_id: lightify-ci, client_secret: lightify-ci-secret,
       redirect_uris: ["https://example.com/callback"], auto_approve: true}}
  users:{users}
""")
    tok = lightify.login()["access_token"]
    devices = lightify.api("GET", "/devices", tok).json()["devices"]
    assert [d["id"] for d in devices] == ["900", "900-d01"]
    app, = mockcloud.export_world()["lightify"]["apps"]
    assert app["auto_approve_user"] == "zed@test"


def test_reset_restores_the_default_world(mockcloud, lightify, token):
    lightify.api("PATCH", "/devices/123456-d01", token, json={"brightness": 1})
    mockcloud.reset()
    assert lightify.api("GET", "/devices", token).status_code == 401
    tok = lightify.login()["access_token"]
    assert lightify.api("GET", "/devices/123456-d01", tok).json()["brightness"] == 23


# ----------------------------------------------------- serving and persistence

def test_sqlite_state_survives_a_restart(tmp_path):
    url = f"sqlite:///{tmp_path}/state.db"
    with ServerProcess("--state", url) as server:
        api = _lightify(Admin(server.url, "persist", token=server.admin_token))
        tok = api.login()
        api.api("PATCH", "/devices/123456-d01", tok["access_token"], json={"color": "blue"})
    with ServerProcess("--state", url) as server:
        api = _lightify(Admin(server.url, "persist", token=server.admin_token))
        dev = api.api("GET", "/devices/123456-d01", tok["access_token"]).json()
        assert dev["colorRGBW"]["blue"] == 255
        assert api.refresh(tok["refresh_token"]).status_code == 200


def test_sqlite_with_two_workers_shares_state(tmp_path):
    with ServerProcess("--state", f"sqlite:///{tmp_path}/w.db", "--workers", "2") as server:
        api = _lightify(Admin(server.url, "workers", token=server.admin_token))
        tok = api.login()["access_token"]
        for level in range(10, 30):
            assert api.api("PATCH", "/devices/123456-d01", tok,
                           json={"brightness": level}).status_code == 200
            assert api.api("GET", "/devices/123456-d01", tok).json()["brightness"] == level


def test_memory_with_workers_is_refused():
    proc = subprocess.run([sys.executable, "-m", "emulator.cli", "serve", "--workers", "2"],
                          capture_output=True, text=True, timeout=60)
    assert proc.returncode == 2
    assert "shared store" in proc.stderr


def test_tls_serves_https(tmp_path):
    with ServerProcess("--tls", env={"MOCKCLOUD_HOME": str(tmp_path)}) as server:
        assert server.url.startswith("https://")
        resp = requests.get(server.url + "/_mockcloud/health", headers=server.headers,
                            verify=False)
        assert resp.json()["status"] == "ok"
        cert = tmp_path / "tls" / "cert.pem"
        assert cert.exists()
        resp = requests.get(server.url + "/_mockcloud/health", headers=server.headers,
                            verify=str(cert))
        assert resp.status_code == 200


def test_bad_world_file_fails_fast(tmp_path):
    bad = tmp_path / "w.yaml"
    bad.write_text("lightify: {users: 3}\n")
    proc = subprocess.run([sys.executable, "-m", "emulator.cli", "serve", "--world", str(bad)],
                          capture_output=True, text=True, timeout=60)
    assert proc.returncode == 2
    assert "users must be a list" in proc.stderr


def test_empty_tenant_prefix_is_refused(mockcloud_server):
    resp = requests.get(f"{mockcloud_server}/_t//lightify/v4/devices")
    assert resp.status_code == 400
    assert resp.json()["error"] == "invalid_tenant"


@pytest.mark.parametrize("args,message", [(["--threads", "0"], "--threads"),
                                          (["--state", "mongodb://x"], "unknown state backend"),
                                          (["--state", "redis://127.0.0.1:1/0"],
                                           "cannot reach Redis"),
                                          (["--cert", "/nope.pem"], "--cert and --key")])
def test_bad_serve_options_are_refused(args, message):
    proc = subprocess.run([sys.executable, "-m", "emulator.cli", "serve", *args],
                          capture_output=True, text=True, timeout=60)
    assert proc.returncode == 2
    assert message in proc.stderr
