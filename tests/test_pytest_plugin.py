"""The pytest plugin as a user meets it: an outside project (a temporary folder with its
own ``tests/test_x.py``) run by ``python -m pytest`` in a child process, the plugin
loaded through its entry point, the tests using ``requests``.

* ``mockcloud_vendor`` for each vendor: base URL, a ready token (CI app, first user,
  every scope), headers, the clock (an expired token is refused after advancing), the
  admin; the ``mockcloud_world`` marker (a file beside the test, and a mapping);
* in ``--mockcloud-server=process`` and ``thread`` modes (and ``MOCKCLOUD_SERVER``);
* ``--mockcloud-mode=record`` writes one cassette per test (no Authorization header in
  it), then ``replay`` passes with no server anywhere (the recorded URLs point at a port
  nobody listens on, and the plugin starts none), and a test whose requests changed
  fails in replay;
* ``emulator.testing.ThreadedServer`` outside pytest: starts, serves, stops (its port
  is closed after ``stop``).
"""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
import requests
import yaml

from emulator.testing import Admin, ThreadedServer

WORLD = """\
lightify:
  apps:
    - client_id: solo-ci
      client_secret: solo-secret
      redirect_uris: [https://example.com/callback]
      auto_approve: true
      auto_approve_user: solo@lightify.test
  users:
    - email: solo@lightify.test
      password: solo
      gateway: {id: "777777", name: OSR-SOLO, online: true}
      devices:
        - {id: 777777-d01, name: Only lamp, type: LIGHT, online: true, onOff: "on",
           brightness: 50}
"""

TESTS = '''\
import pytest
import requests


def get(handle, path, **kw):
    return requests.get(handle.base_url + path, headers=handle.headers, timeout=30, **kw)


def test_netatmo(mockcloud_vendor):
    netatmo = mockcloud_vendor("netatmo")
    assert netatmo.client_id == "netatmo-ci" and netatmo.user == "dev@netatmo.test"
    assert "write_thermostat" in netatmo.grant["scope"]
    resp = requests.post(netatmo.base_url + "/api/homesdata", headers=netatmo.headers,
                         timeout=30)
    assert resp.status_code == 200, resp.text
    assert resp.json()["body"]["homes"]
    before = netatmo.clock.now()
    netatmo.clock.advance(netatmo.grant["expires_in"] + 1)
    assert netatmo.clock.now() >= before + netatmo.grant["expires_in"] + 1
    resp = requests.post(netatmo.base_url + "/api/homesdata", headers=netatmo.headers,
                         timeout=30)
    assert resp.status_code == 403 and resp.json()["error"]["code"] == 3, resp.text


def test_qivivo_and_lightify(mockcloud_vendor):
    qivivo = mockcloud_vendor("qivivo", scope="read_devices")
    resp = get(qivivo, "/api/v2/devices")
    assert resp.status_code == 200, resp.text
    devices = resp.json()["devices"]
    assert {d["type"] for d in devices} >= {"thermostat", "gateway"}
    thermostat = next(d["uuid"] for d in devices if d["type"] == "thermostat")
    path = f"/api/v2/devices/thermostats/{thermostat}/temperature"
    assert get(qivivo, path).status_code == 403  # read_devices only
    assert get(mockcloud_vendor("qivivo"), path).status_code == 200  # every scope
    lightify = mockcloud_vendor("lightify")
    resp = get(lightify, "/v4/devices")
    assert resp.status_code == 200 and len(resp.json()["devices"]) > 3, resp.text
    lightify.admin.revoke(lightify.token)
    assert get(lightify, "/v4/devices").status_code == 401


@pytest.mark.mockcloud_world("world.yaml")
def test_world_from_a_file(mockcloud_vendor):
    lightify = mockcloud_vendor("lightify")
    assert (lightify.client_id, lightify.user) == ("solo-ci", "solo@lightify.test")
    resp = get(lightify, "/v4/devices")
    names = [d["name"] for d in resp.json()["devices"] if d["type"] != "GATEWAY"]
    assert names == ["Only lamp"], resp.text


@pytest.mark.mockcloud_world(WORLD_DICT)
def test_world_from_a_mapping(mockcloud_vendor):
    lightify = mockcloud_vendor("lightify", app="solo-ci", user="solo@lightify.test")
    resp = get(lightify, "/v4/devices/777777-d01")
    assert resp.status_code == 200 and resp.json()["name"] == "Only lamp", resp.text
'''


def project(tmp_path: Path, tests: str = TESTS) -> Path:
    root = tmp_path / "project"
    (root / "tests").mkdir(parents=True)
    (root / "tests" / "world.yaml").write_text(WORLD)
    world_dict = repr(yaml.safe_load(WORLD))
    (root / "tests" / "test_x.py").write_text(tests.replace("WORLD_DICT", world_dict))
    (root / "pytest.ini").write_text("[pytest]\naddopts = -p no:cacheprovider\n")
    return root


def run(root: Path, *args: str, env: dict[str, str] | None = None
        ) -> subprocess.CompletedProcess[str]:
    base = {k: v for k, v in os.environ.items()
            if not k.startswith(("MOCKCLOUD_", "PYTEST_")) and k != "PYTHONPATH"}
    base["PYTHONPATH"] = str(Path(__file__).resolve().parents[1])  # the checkout's plugin
    done = subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "mockcloud", *args],
                          cwd=root, capture_output=True, text=True, timeout=300,
                          env={**base, **(env or {})}, stdin=subprocess.DEVNULL)
    return done


@pytest.mark.parametrize("how", ["--mockcloud-server=process", "--mockcloud-server=thread",
                                 "MOCKCLOUD_SERVER=thread"])
def test_fixtures_in_an_outside_project(tmp_path: Path, how: str) -> None:
    root = project(tmp_path)
    if how.startswith("--"):
        done = run(root, how)
    else:
        done = run(root, env=dict([how.split("=")]))
    assert done.returncode == 0, done.stdout + done.stderr
    assert "4 passed" in done.stdout


def test_record_then_replay_without_a_server(tmp_path: Path) -> None:
    root = project(tmp_path)
    done = run(root, "--mockcloud-server=thread", "--mockcloud-mode=record",
               "--mockcloud-cassettes=recorded")
    assert done.returncode == 0, done.stdout + done.stderr
    cassettes = sorted((root / "recorded" / "tests" / "test_x").glob("*.yaml"))
    assert [c.stem for c in cassettes] == ["test_netatmo", "test_qivivo_and_lightify",
                                           "test_world_from_a_file",
                                           "test_world_from_a_mapping"]
    netatmo = yaml.safe_load(cassettes[0].read_text())["interactions"]
    paths = [i["request"]["uri"].split("/", 3)[3] for i in netatmo]
    assert any(p.endswith("/_mockcloud/tokens") for p in paths)
    assert any(p.endswith("/netatmo/api/homesdata") for p in paths)
    assert all("authorization" not in {h.lower() for h in i["request"]["headers"]}
               for c in cassettes for i in yaml.safe_load(c.read_text())["interactions"])

    # the plugin starts nothing in replay: a sitecustomize refusing every connection
    # that is not vcrpy's would show any request that reached the network
    done = run(root, "--mockcloud-mode=replay", "--mockcloud-cassettes=recorded",
               "-p", "no_network", env={"PYTHONPATH": os.pathsep.join([
                   str(Path(__file__).resolve().parents[1]), str(no_network(tmp_path))])})
    assert done.returncode == 0, done.stdout + done.stderr
    assert "4 passed" in done.stdout

    # a request the recording does not hold fails the test in replay
    changed = TESTS.replace('"/v4/devices/777777-d01"', '"/v4/devices/777777-d02"')
    (root / "tests" / "test_x.py").write_text(
        changed.replace("WORLD_DICT", repr(yaml.safe_load(WORLD))))
    done = run(root, "--mockcloud-mode=replay", "--mockcloud-cassettes=recorded")
    assert done.returncode == 1, done.stdout + done.stderr
    assert "1 failed, 3 passed" in done.stdout
    assert "CannotOverwriteExistingCassetteException" in done.stdout


SHARED = '''\
import requests


def test_passes(mockcloud_vendor):
    lightify = mockcloud_vendor("lightify")
    assert requests.get(lightify.base_url + "/v4/devices", headers=lightify.headers,
                        timeout=30).status_code == 200


def test_skips(mockcloud_vendor):
    mockcloud_vendor("lightify")
    import pytest
    pytest.skip("on purpose")


def test_fails(mockcloud_vendor):
    lightify = mockcloud_vendor("lightify")
    requests.patch(lightify.base_url + "/v4/devices/123456-d01", json={"brightness": 7},
                   headers=lightify.headers, timeout=30)
    assert False, "on purpose"
'''


@pytest.mark.parametrize("keep", [False, True])
def test_a_shared_server_keeps_only_the_tenants_of_failed_tests(tmp_path: Path,
                                                                keep: bool) -> None:
    """Against a running server (``--mockcloud-url``): a passed (or skipped) test's
    tenant is deleted after it, a failed test's is kept and named in the report (its
    journal holds what the test did); ``--mockcloud-keep-tenants`` keeps them all."""
    from emulator.launcher import ServerProcess

    root = project(tmp_path)
    (root / "tests" / "test_x.py").write_text(SHARED)
    with ServerProcess(admin_token="shared-t0k") as server:
        done = run(root, *(["--mockcloud-keep-tenants"] if keep else []),
                   env={"MOCKCLOUD_URL": server.url, "MOCKCLOUD_ADMIN_TOKEN": "shared-t0k"})
        assert "1 failed, 1 passed, 1 skipped" in done.stdout, done.stdout + done.stderr
        tenants = requests.get(server.url + "/_mockcloud/health", headers=server.headers,
                               timeout=30).json()["tenants"]
        kept = {t.rsplit("-", 1)[0] for t in tenants} - {"default"}  # (health's own)
        assert kept == ({"test_passes", "test_skips", "test_fails"} if keep
                        else {"test_fails"}), tenants
        failed = next(t for t in tenants if t.startswith("test_fails-"))
        assert f"the test's tenant is kept on {server.url}: {failed}" in done.stdout
        journal = Admin(server.url, failed, token="shared-t0k").journal()
        assert any(e["request"]["method"] == "PATCH" for e in journal)


def no_network(tmp_path: Path) -> Path:
    """A plugin module that makes every real socket connection raise."""
    folder = tmp_path / "no_network"
    folder.mkdir()
    (folder / "no_network.py").write_text(textwrap.dedent('''\
        import socket

        def refuse(*args, **kwargs):
            raise OSError("no network in replay: " + repr(args[:2]))

        socket.socket.connect = refuse
        socket.create_connection = refuse
    '''))
    return folder


def test_replay_without_a_cassette_fails_clearly(tmp_path: Path) -> None:
    root = project(tmp_path)
    done = run(root, "--mockcloud-mode=replay", "--mockcloud-cassettes=none-here",
               "tests/test_x.py::test_netatmo")
    assert done.returncode == 1
    assert "no cassette for this test at" in done.stdout
    assert "--mockcloud-mode=record" in done.stdout


def test_threaded_server_outside_pytest() -> None:
    with ThreadedServer(admin_token="t0k") as server:
        admin = Admin(server.url, "outside", token="t0k")
        qivivo = admin.vendor("qivivo")
        resp = requests.get(qivivo.base_url + "/api/v2/devices", headers=qivivo.headers,
                            timeout=30)
        assert resp.status_code == 200, resp.text
        assert requests.get(server.url + "/_mockcloud/health", timeout=30).status_code == 401
        url = server.url
    with pytest.raises(requests.ConnectionError):
        requests.get(url + "/_mockcloud/health", timeout=5)
