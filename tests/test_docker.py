"""The container, built with this machine's Docker and run with docker/compose.yaml: two
mockcloud containers on one Redis act as one cloud.

Marked ``docker`` (a minute or more): plain pytest leaves it out (pyproject's addopts
``-m 'not docker'``); ``pytest -m docker tests/test_docker.py`` runs it, and so does
``make test``, once, apart (``make docker-test``).

1. The base image: ``MOCKCLOUD_DOCKER_BASE`` when set; else the Dockerfile's default
   (``python:3.11-slim``) when Docker has it or can pull it; else a local Debian made by
   scripts/docker_base.py (debootstrap into a folder, ``docker import``; cached).
2. A build context copied from the checkout with a wheelhouse filled on the host
   (scripts/docker_base.py: the wheels for the base image's Python), built with
   ``PIP_NO_INDEX=1``: the build reaches no network, so the test does not depend on the
   containers reaching the package index (they may not: a TLS-inspecting proxy).
   Redis's image is built from the same base (Debian's redis-server, apt in the build).
3. ``docker-compose up`` (or ``docker compose``): OAuth on container a, the token on
   container b, the clock moved on b seen on a, a stopped while b serves, both restarted
   and the token and clock still there; the HEALTHCHECK turns healthy.

Without a Docker daemon (or debootstrap and root for a local base) the test skips with
the reason; under ``MOCKCLOUD_REQUIRE_SERVICES=1`` (CI) it fails.
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest
import requests

from tests.redis_server import unavailable

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "scripts"))
import docker_base  # noqa: E402

pytestmark = pytest.mark.docker

DEFAULT_BASE = "python:3.11-slim"
ADMIN_TOKEN = "docker-test-" + uuid.uuid4().hex[:8]
REDIRECT = "https://example.com/callback"
APP = {"client_id": "lightify-ci", "client_secret": "lightify-ci-secret"}
# what the build context holds (docker/Dockerfile.dockerignore lets in no more)
CONTEXT = ("pyproject.toml", "README.md", "emulator", "clients", "contracts", "docker")


def say(msg: str) -> None:
    print(f"test_docker: {msg}", file=sys.stderr, flush=True)


class Docker:
    def __init__(self) -> None:
        try:
            self.exe, self.env = docker_base.docker_client()
        except docker_base.BaseError as exc:
            unavailable(str(exc))
        info = subprocess.run([self.exe, "version", "--format", "{{.Server.Version}}"],
                              capture_output=True, text=True, env=self.env, timeout=60,
                              stdin=subprocess.DEVNULL, check=False)
        if info.returncode != 0:
            unavailable(f"no Docker daemon ({self.exe} version: "
                        f"{(info.stderr or info.stdout).strip()[-400:]}); "
                        "scripts/ensure_services.py docker starts it as root")
        compose = shutil.which("docker-compose")
        if compose is None:
            probe = subprocess.run([self.exe, "compose", "version"], capture_output=True,
                                   env=self.env, timeout=60, check=False)
            if probe.returncode != 0:
                unavailable("no docker-compose and no `docker compose`: install Debian's "
                            "docker-compose")
            self.compose = [self.exe, "compose"]
        else:
            self.compose = [compose]
        # docker-compose runs `docker` by name: the one that can build first
        self.env["PATH"] = f"{Path(self.exe).parent}:{self.env.get('PATH', '')}"

    def __call__(self, *args: str, timeout: float = 600, what: str = "") -> str:
        return docker_base.run([self.exe, *args], what or f"docker {args[0]}",
                               timeout=timeout, env=self.env)

    def ok(self, *args: str, timeout: float = 300) -> bool:
        return subprocess.run([self.exe, *args], capture_output=True, env=self.env,
                              timeout=timeout, stdin=subprocess.DEVNULL,
                              check=False).returncode == 0


def base_image(docker: Docker) -> str:
    if os.environ.get("MOCKCLOUD_DOCKER_BASE"):
        return os.environ["MOCKCLOUD_DOCKER_BASE"]
    if docker.ok("image", "inspect", DEFAULT_BASE) or docker.ok("pull", DEFAULT_BASE):
        return DEFAULT_BASE
    say(f"{DEFAULT_BASE} cannot be pulled (no registry): a local Debian base")
    try:
        return docker_base.ensure_base(log=say)
    except docker_base.BaseError as exc:
        unavailable(f"no base image: {DEFAULT_BASE} cannot be pulled and a local one "
                    f"cannot be made: {exc}")
    raise AssertionError("unreachable")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Any]]:
    docker = Docker()
    began = time.monotonic()
    base = base_image(docker)
    timings = {"base": time.monotonic() - began}
    ctx = tmp_path_factory.mktemp("docker-context")
    for name in CONTEXT:
        src = ROOT / name
        if src.is_dir():
            shutil.copytree(src, ctx / name, ignore=shutil.ignore_patterns(
                "__pycache__", "*.pyc", "*.whl"))
        else:
            shutil.copy2(src, ctx / name)
    began = time.monotonic()
    try:
        docker_base.fill_wheelhouse(ctx / "docker" / "wheelhouse", base, log=say)
    except docker_base.BaseError as exc:
        pytest.fail(f"the wheelhouse: {exc}", pytrace=False)
    timings["wheelhouse"] = time.monotonic() - began
    run_id = uuid.uuid4().hex[:8]
    image, redis_image = f"mockcloud:test-{run_id}", f"mockcloud-redis:test-{run_id}"
    began = time.monotonic()
    docker("build", "-q", "-f", str(ctx / "docker" / "Dockerfile"), "--build-arg",
           f"BASE={base}", "--build-arg", "PIP_NO_INDEX=1", "-t", image, str(ctx),
           timeout=900, what="building docker/Dockerfile")
    timings["build"] = time.monotonic() - began
    began = time.monotonic()
    docker("build", "-q", "-f", str(ctx / "docker" / "redis.Dockerfile"), "--build-arg",
           f"BASE={base}", "-t", redis_image, str(ctx / "docker"), timeout=900,
           what="building docker/redis.Dockerfile")
    timings["build_redis"] = time.monotonic() - began
    ports = {"a": free_port(), "b": free_port()}
    project = f"mctest{run_id}"
    env = {**docker.env, "MOCKCLOUD_ADMIN_TOKEN": ADMIN_TOKEN, "MOCKCLOUD_IMAGE": image,
           "MOCKCLOUD_REDIS_IMAGE": redis_image, "MOCKCLOUD_BASE_IMAGE": base,
           "MOCKCLOUD_PORT_A": str(ports["a"]), "MOCKCLOUD_PORT_B": str(ports["b"])}
    compose = [*docker.compose, "-p", project, "-f", str(ctx / "docker" / "compose.yaml")]

    def up(*args: str, timeout: float = 300) -> str:
        return docker_base.run([*compose, *args], f"compose {args[0]}", timeout=timeout,
                               env=env)

    urls = {k: f"http://127.0.0.1:{p}" for k, p in ports.items()}
    began = time.monotonic()
    try:
        up("up", "-d", "--no-build")
        for url in urls.values():
            wait_health(url)
        timings["compose_up"] = time.monotonic() - began
        say("timings: " + ", ".join(f"{k} {v:.1f} s" for k, v in timings.items()))
        yield {"urls": urls, "compose": up, "docker": docker, "project": project,
               "timings": timings}
    finally:
        logs = subprocess.run([*compose, "logs", "--no-color", "--tail", "40"],
                              capture_output=True, text=True, env=env, timeout=120,
                              check=False)
        say("compose logs (tail):\n" + logs.stdout[-4000:])
        subprocess.run([*compose, "down", "-v", "--timeout", "5"], capture_output=True,
                       env=env, timeout=300, check=False)
        for name in (image, redis_image):
            docker.ok("rmi", name)


def http() -> requests.Session:
    s = requests.Session()
    s.trust_env = False
    return s


ADMIN = {"Authorization": f"Bearer {ADMIN_TOKEN}"}


def wait_health(url: str, timeout: float = 120) -> dict[str, Any]:
    deadline = time.monotonic() + timeout
    last = ""
    while time.monotonic() < deadline:
        try:
            resp = http().get(url + "/_mockcloud/health", headers=ADMIN, timeout=5)
            if resp.status_code == 200:
                return resp.json()
            last = f"HTTP {resp.status_code}: {resp.text[:200]}"
        except requests.RequestException as exc:
            last = repr(exc)
        time.sleep(0.5)
    raise AssertionError(f"{url} not up within {timeout:.0f} s: {last}")


def lightify_token(url: str) -> str:
    base = url + "/lightify"
    resp = http().get(base + "/oauth2/authorize", allow_redirects=False, timeout=30,
                      params={"client_id": APP["client_id"], "redirect_uri": REDIRECT,
                              "response_type": "code", "state": "x"})
    assert resp.status_code == 302, resp.text
    code = parse_qs(urlsplit(resp.headers["Location"]).query)["code"][0]
    resp = http().post(base + "/oauth2/access_token", timeout=30,
                       data={"grant_type": "authorization_code", "code": code,
                             "redirect_uri": REDIRECT, **APP})
    assert resp.status_code == 200, resp.text
    return resp.json()["access_token"]


def devices(url: str, token: str) -> requests.Response:
    return http().get(url + "/lightify/v4/devices", timeout=30,
                      headers={"Authorization": f"Bearer {token}"})


def clock(url: str, **body: Any) -> float:
    resp = http().post(url + "/_mockcloud/clock", json=body, headers=ADMIN, timeout=30)
    assert resp.status_code == 200, resp.text
    return wait_health(url)["now"]


def health_status(docker: Docker, project: str, service: str) -> str:
    name = docker("ps", "-q", "--filter", f"label=com.docker.compose.project={project}",
                  "--filter", f"label=com.docker.compose.service={service}").split()[0]
    return docker("inspect", "--format", "{{.State.Health.Status}}", name).strip()


def test_two_containers_on_one_redis_act_as_one_cloud(cluster: dict[str, Any]) -> None:
    a, b = cluster["urls"]["a"], cluster["urls"]["b"]
    compose, docker = cluster["compose"], cluster["docker"]

    # the same world and tokens: a token issued by a works on b
    token = lightify_token(a)
    on_a, on_b = devices(a, token), devices(b, token)
    assert on_b.status_code == 200, on_b.text
    assert on_b.json() == on_a.json()
    assert on_b.json()["devices"]

    # the same clock: frozen on b, read on a
    frozen = clock(b, action="freeze")
    assert wait_health(a)["now"] == pytest.approx(frozen, abs=0.01)

    # a stopped: b still serves, with the token a issued
    began = time.monotonic()
    compose("stop", "-t", "5", "mockcloud-a")
    cluster["timings"]["stop_a"] = time.monotonic() - began
    with pytest.raises(requests.RequestException):
        http().get(a + "/_mockcloud/health", headers=ADMIN, timeout=3)
    assert devices(b, token).status_code == 200

    # both emulator containers restarted: the token and the clock are still there
    began = time.monotonic()
    compose("stop", "-t", "5", "mockcloud-b")
    compose("start", "mockcloud-a", "mockcloud-b")
    for url in (a, b):
        assert wait_health(url)["now"] == pytest.approx(frozen, abs=0.01)
    cluster["timings"]["restart"] = time.monotonic() - began
    assert devices(a, token).status_code == 200
    assert devices(b, token).status_code == 200

    # the clock moved on a past the token's hour: the token expires on b
    clock(a, action="advance", seconds=3601)
    assert devices(b, token).status_code == 401

    # the images' HEALTHCHECK (every 10 s, after a 20 s start period) turns healthy
    deadline = time.monotonic() + 90
    while True:
        states = {s: health_status(docker, cluster["project"], s)
                  for s in ("mockcloud-a", "mockcloud-b", "redis")}
        if set(states.values()) == {"healthy"} or time.monotonic() > deadline:
            break
        time.sleep(2)
    assert set(states.values()) == {"healthy"}, states
    say("timings: " + ", ".join(f"{k} {v:.1f} s" for k, v in cluster["timings"].items()))
