"""Installed, not only cloned: build the wheel, install it into a fresh virtualenv outside
the checkout, and use it there as a new user would.

    .venv/bin/python scripts/check_wheel.py [--keep]

1. builds the wheel from a copy of the source tree (so no build/ or *.egg-info lands in
   the checkout and no stale build/lib file slips into the wheel), with
   ``pip wheel --no-deps`` (its build backend, setuptools, comes from pip's cache);
2. makes a virtualenv under a temporary folder (``venv --without-pip``: this Python's
   pip installs into it with ``--python``, which skips ensurepip) and installs the wheel
   and pytest (dependencies from the package index, through pip's cache);
3. in a temporary working folder outside the checkout, with no PYTHONPATH:
   * the venv imports ``emulator`` and ``contracts`` from its own site-packages;
   * ``mockcloud serve --port 0`` starts (through ``emulator.launcher``, the one
     launcher) and a Lightify call works: a code from the auto-approve app
     ``lightify-ci``, the token exchange, then ``GET /v4/devices`` -> 200;
   * ``mockcloud contracts verify qivivo`` passes on a copy of tests/data/qivivo;
   * a tiny outside project (one test file using the ``mockcloud`` fixture of the
     installed pytest plugin: a Lightify token, the devices, the clock moved through the
     control plane with the plugin's admin token; and ``mockcloud_vendor("netatmo")``)
     passes under the venv's pytest, and its ``mockcloud_vendor`` test again with
     ``--mockcloud-server=thread``;
   * ``mockcloud fuzz lightify`` (schemathesis is the ``fuzz`` extra, not installed
     here) exits 2 saying ``pip install 'mockcloud[fuzz]'``.

Each step prints how long it took. A failure prints why and exits 1. ``--keep`` keeps
the temporary folder (its path is printed) to look around.
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from _emulator import CI_APP, ROOT, ScriptError, http, local_env, run_main, say, tokens

from emulator.launcher import ServerError, ServerProcess

NAME = "check_wheel"
SAMPLES = ROOT / "tests" / "data" / "qivivo"
# what a clone has that a source tree to build from must not carry along
NOT_SOURCE = (".git", ".venv", "node_modules", "reports", "build", "dist", "*.egg-info",
              "__pycache__", "*.pyc", ".hypothesis", ".ruff_cache", ".schemathesis",
              ".mockcloud", "*.db")
# variables that would let the venv see the checkout or this venv, or steer the server
LEAKY = ("PYTHONPATH", "PYTHONHOME", "PYTHONSTARTUP", "VIRTUAL_ENV", "PYTEST_ADDOPTS",
         "PYTEST_PLUGINS", "MOCKCLOUD_URL", "__PYVENV_LAUNCHER__")

EXTERNAL_TEST = '''\
"""An outside project using the installed mockcloud's pytest plugin."""

from urllib.parse import parse_qs, urlsplit

import requests

REDIRECT = "https://example.com/callback"
APP = {"client_id": "lightify-ci", "client_secret": "lightify-ci-secret"}


def test_lightify_devices_through_the_plugin(mockcloud):
    import emulator

    assert "site-packages" in emulator.__file__, emulator.__file__  # not a checkout
    base = mockcloud.url("lightify")
    http = requests.Session()
    http.trust_env = False
    resp = http.get(base + "/oauth2/authorize", allow_redirects=False, timeout=30,
                    params={"client_id": APP["client_id"], "redirect_uri": REDIRECT,
                            "response_type": "code", "state": "x"})
    assert resp.status_code == 302, resp.text
    code = parse_qs(urlsplit(resp.headers["Location"]).query)["code"][0]
    resp = http.post(base + "/oauth2/access_token", timeout=30,
                     data={"grant_type": "authorization_code", "code": code,
                           "redirect_uri": REDIRECT, **APP})
    assert resp.status_code == 200, resp.text
    bearer = {"Authorization": "Bearer " + resp.json()["access_token"]}
    resp = http.get(base + "/v4/devices", headers=bearer, timeout=30)
    assert resp.status_code == 200, resp.text
    assert resp.json()["devices"], resp.text
    mockcloud.advance(3601)  # the control plane, with the plugin's admin token
    assert http.get(base + "/v4/devices", headers=bearer, timeout=30).status_code == 401


def test_netatmo_through_mockcloud_vendor(mockcloud_vendor):
    netatmo = mockcloud_vendor("netatmo")
    http = requests.Session()
    http.trust_env = False
    resp = http.post(netatmo.base_url + "/api/homesdata", headers=netatmo.headers, timeout=30)
    assert resp.status_code == 200 and resp.json()["body"]["homes"], resp.text
    netatmo.clock.advance(netatmo.grant["expires_in"] + 1)
    resp = http.post(netatmo.base_url + "/api/homesdata", headers=netatmo.headers, timeout=30)
    assert resp.status_code == 403, resp.text
'''


class Timer:
    def __init__(self) -> None:
        self.start = time.monotonic()
        self.steps: list[tuple[str, float]] = []

    @contextmanager
    def step(self, key: str, what: str) -> Iterator[None]:
        say(f"{NAME}: {what} ...")
        began = time.monotonic()
        yield
        took = time.monotonic() - began
        self.steps.append((key, took))
        say(f"{NAME}:   ok ({took:.1f} s)")

    def total(self) -> float:
        return time.monotonic() - self.start


def run(cmd: list[str], what: str, *, timeout: float, **kw: Any) -> str:
    """Run a command to its end; its output, or a ScriptError with the output's tail."""
    try:
        proc = subprocess.run(cmd, stdin=subprocess.DEVNULL, capture_output=True, text=True,
                              errors="replace", timeout=timeout, **kw)
    except subprocess.TimeoutExpired as exc:
        raise ScriptError(f"{what}: no end within {timeout:.0f} s: {' '.join(cmd)}") from exc
    except OSError as exc:
        raise ScriptError(f"{what}: cannot run {cmd[0]}: {exc}") from exc
    out = (proc.stdout or "") + (proc.stderr or "")
    if proc.returncode != 0:
        raise ScriptError(f"{what} failed (exit status {proc.returncode}): {' '.join(cmd)}\n"
                          + out[-4000:])
    return out


def venv_env(venv: Path, *, local: bool) -> dict[str, str]:
    """The environment of the new venv's commands: its bin/ first, nothing pointing at the
    checkout; ``local``: no proxies either (everything then talks to 127.0.0.1)."""
    base = local_env() if local else dict(os.environ)
    env = {k: v for k, v in base.items()
           if k not in LEAKY and not (k.startswith("MOCKCLOUD_") and k != "MOCKCLOUD_HOME")}
    env["PATH"] = os.pathsep.join([str(venv / "bin"), env.get("PATH", "")])
    env["PYTHONDONTWRITEBYTECODE"] = "1"
    return env


def build_wheel(tmp: Path) -> Path:
    src, dist = tmp / "src", tmp / "dist"
    shutil.copytree(ROOT, src, ignore=shutil.ignore_patterns(*NOT_SOURCE))
    run([sys.executable, "-m", "pip", "wheel", "--no-deps", "--disable-pip-version-check",
         "-q", "-w", str(dist), str(src)], "building the wheel", timeout=300)
    wheels = sorted(dist.glob("mockcloud-*.whl"))
    if len(wheels) != 1:
        raise ScriptError(f"expected one mockcloud wheel in {dist}, found {wheels}")
    return wheels[0]


def install(tmp: Path, wheel: Path) -> Path:
    venv = tmp / "venv"
    run([sys.executable, "-m", "venv", "--without-pip", str(venv)], "making the virtualenv",
        timeout=120)
    python = venv / "bin" / "python"
    run([sys.executable, "-m", "pip", "--python", str(python), "install",
         "--disable-pip-version-check", "--prefer-binary", "-q", str(wheel), "pytest"],
        "installing the wheel and pytest into the virtualenv", timeout=600,
        env=venv_env(venv, local=False), cwd=tmp)
    return venv


def check_imports(venv: Path, work: Path) -> None:
    out = run([str(venv / "bin" / "python"), "-c",
               "import contracts, emulator, emulator.pytest_plugin; "
               "print(emulator.__file__); print(contracts.__file__)"],
              "importing the installed packages", timeout=60, cwd=work,
              env=venv_env(venv, local=True))
    site = str(venv.resolve())
    for line in out.splitlines():
        if not Path(line).resolve().is_relative_to(site):
            raise ScriptError(f"the venv imports {line}, not its own installed copy")


def check_serve(venv: Path, work: Path) -> None:
    server = ServerProcess(program=[str(venv / "bin" / "mockcloud")], cwd=work, timeout=60,
                           base_env=venv_env(venv, local=True))
    try:
        server.start()
    except ServerError as exc:
        raise ScriptError(f"the installed `mockcloud serve --port 0` did not start: {exc}") \
            from None
    try:
        base = server.url + "/lightify"
        access = tokens(base, CI_APP)["access_token"]
        resp = http().get(base + "/v4/devices", timeout=30,
                          headers={"Authorization": f"Bearer {access}"})
        if resp.status_code != 200 or not resp.json().get("devices"):
            raise ScriptError(f"GET /lightify/v4/devices answered HTTP {resp.status_code}: "
                              f"{resp.text[:300]}")
        say(f"{NAME}:   {server.url}: token through lightify-ci, "
            f"{len(resp.json()['devices'])} devices")
    except ScriptError as exc:
        raise ScriptError(f"{exc}\nserver log:\n{server.log_tail(2000)}") from None
    finally:
        server.stop()


def check_contracts(venv: Path, work: Path) -> None:
    shutil.copytree(SAMPLES, work / "qivivo")
    out = run([str(venv / "bin" / "mockcloud"), "contracts", "verify", "qivivo"],
              "`mockcloud contracts verify qivivo`", timeout=120, cwd=work,
              env=venv_env(venv, local=True))
    say(f"{NAME}:   " + (out.strip().splitlines() or ["(no output)"])[-1])


def check_plugin(venv: Path, work: Path) -> None:
    project = work / "project"
    project.mkdir()
    (project / "pytest.ini").write_text("[pytest]\naddopts = -p no:cacheprovider\n")
    (project / "test_installed_mockcloud.py").write_text(EXTERNAL_TEST)
    out = run([str(venv / "bin" / "python"), "-m", "pytest", "-q", "-rA"],
              "the outside project's pytest with the mockcloud plugin", timeout=300,
              cwd=project, env=venv_env(venv, local=True))
    say(f"{NAME}:   " + (out.strip().splitlines() or ["(no output)"])[-1])
    out = run([str(venv / "bin" / "python"), "-m", "pytest", "-q", "-rA",
               "--mockcloud-server=thread", "-k", "mockcloud_vendor"],
              "the outside project's pytest, the emulator in a thread", timeout=300,
              cwd=project, env=venv_env(venv, local=True))
    say(f"{NAME}:   thread: " + (out.strip().splitlines() or ["(no output)"])[-1])


def check_fuzz_hint(venv: Path, work: Path) -> None:
    """schemathesis is an extra: without it `mockcloud fuzz` says how to get it (exit 2)."""
    cmd = [str(venv / "bin" / "mockcloud"), "fuzz", "lightify"]
    done = subprocess.run(cmd, stdin=subprocess.DEVNULL, capture_output=True, text=True,
                          timeout=60, cwd=work, env=venv_env(venv, local=True))
    if done.returncode != 2 or "pip install 'mockcloud[fuzz]'" not in done.stderr:
        raise ScriptError(f"`mockcloud fuzz lightify` without schemathesis: exit "
                          f"{done.returncode}, {(done.stdout + done.stderr)[-600:]}")
    say(f"{NAME}:   " + done.stderr.strip().splitlines()[-1])


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--keep", action="store_true", help="keep the temporary folder")
    args = parser.parse_args()
    if not SAMPLES.is_dir():
        raise ScriptError(f"no sample folder {SAMPLES}")
    timer = Timer()
    tmp = Path(tempfile.mkdtemp(prefix="mockcloud-wheel-check-")).resolve()
    if tmp.is_relative_to(ROOT.resolve()):
        raise ScriptError(f"the temporary folder {tmp} is inside the checkout; set TMPDIR")
    work = tmp / "work"
    work.mkdir()
    try:
        with timer.step("build", "building the wheel"):
            wheel = build_wheel(tmp)
            say(f"{NAME}:   {wheel.name} ({wheel.stat().st_size // 1024} KiB)")
        with timer.step("install", "installing it and pytest into a fresh virtualenv"):
            venv = install(tmp, wheel)
        with timer.step("imports", "the venv imports its own installed packages"):
            check_imports(venv, work)
        with timer.step("serve", "`mockcloud serve --port 0` from the venv answers Lightify"):
            check_serve(venv, work)
        with timer.step("verify", "`mockcloud contracts verify` on the qivivo samples"):
            check_contracts(venv, work)
        with timer.step("plugin", "an outside project's pytest with the installed plugin"):
            check_plugin(venv, work)
        with timer.step("fuzz", "`mockcloud fuzz` without its extra says how to install it"):
            check_fuzz_hint(venv, work)
    finally:
        if args.keep:
            say(f"{NAME}: kept {tmp}")
        else:
            shutil.rmtree(tmp, ignore_errors=True)
    steps = ", ".join(f"{key} {took:.1f} s" for key, took in timer.steps)
    say(f"{NAME}: OK: the installed wheel works outside the checkout "
        f"({timer.total():.1f} s in all; {steps})")
    return 0


if __name__ == "__main__":
    run_main(main)
