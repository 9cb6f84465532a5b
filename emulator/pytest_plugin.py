"""pytest plugin (entry point ``mockcloud``): a live emulator for your tests.

Fixtures:

* ``mockcloud_server`` (session): the base URL of a real emulator on a free port of
  127.0.0.1, in memory, with a random admin token: ``mockcloud serve`` in a child
  process (``--mockcloud-server=process``, the default) or the same WSGI app in a
  daemon thread of the test process (``--mockcloud-server=thread``, env
  ``MOCKCLOUD_SERVER``: :class:`emulator.testing.ThreadedServer`, faster to start); or
  the one at ``--mockcloud-url`` / ``MOCKCLOUD_URL`` if given (with
  ``--mockcloud-admin-token`` / ``MOCKCLOUD_ADMIN_TOKEN`` if it requires one).
* ``mockcloud_admin_token`` (session): the token that server's control plane wants
  (None if it wants none).
* ``mockcloud`` (function): an :class:`emulator.testing.Admin` on a tenant of its
  own, so tests (and xdist workers) never see each other's state. Use
  ``mockcloud.url("lightify")`` as the vendor base URL, and ``mockcloud.advance(3600)``
  to move its clock. In live mode the tenant is deleted after the test unless it
  failed, so a shared server (``--mockcloud-url``) does not keep every test's tenant;
  after a test that failed it is kept, and the failure report names it (its journal:
  ``GET /_mockcloud/journal`` with ``X-Mockcloud-Tenant: <name>``).
  ``--mockcloud-keep-tenants`` (env ``MOCKCLOUD_KEEP_TENANTS=1``) keeps every one.
* ``mockcloud_vendor`` (function): a factory, ``mockcloud_vendor("netatmo", app=None,
  user=None, scope=None)`` -> :class:`emulator.testing.VendorHandle` on the test's
  tenant: ``base_url``, a ready ``token`` / ``access_token`` and ``headers`` (issued for
  the world's ``<vendor>-ci`` app and its user, every scope the app lists, unless told
  otherwise), ``clock`` (``advance``, ``set``, ``freeze``, ``now``, ``resume``),
  ``admin``.

Marker: ``@pytest.mark.mockcloud_world("worlds/two_homes.yaml")`` (a path relative to
the test file, or to the rootdir) or ``@pytest.mark.mockcloud_world({...})`` (a
mapping) loads that world into the test's tenant before the test.

Cassettes (``--mockcloud-mode``, env ``MOCKCLOUD_MODE``):

* ``live`` (default): the tests talk to the emulator;
* ``record``: the same, and each test's HTTP traffic (its own requests and the
  fixtures' control-plane calls) is written to a vcrpy cassette,
  ``<--mockcloud-cassettes>/<test module>/<test name>.yaml`` (default folder
  ``cassettes`` under the rootdir; env ``MOCKCLOUD_CASSETTES``), with the
  ``Authorization`` header filtered out; the tenant is named after the test (not
  random) and reset first, so the next recording asks the same questions;
* ``replay``: no server at all: every request is answered from the test's cassette
  (vcrpy, record mode ``none``), matched on method, path, query and body (not on host
  or port, which change from run to run); a request the cassette does not hold fails
  the test, and so does a missing cassette.

So one test runs against the emulator or against a recording with the same code, as
long as its requests do not depend on the wall clock (use ``clock.now()``).
"""

from __future__ import annotations

import hashlib
import os
import re
import secrets
import uuid
import warnings
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
import requests

from .testing import Admin, AdminError, ServerProcess, ThreadedServer, VendorHandle

_ADMIN_TOKEN = pytest.StashKey[str | None]()
_TENANT = pytest.StashKey[tuple[str, str]]()          # the test's tenant, its server
_OUTCOMES = pytest.StashKey[dict[str, str]]()         # phase -> passed / failed / skipped
SERVERS = ("process", "thread")
MODES = ("live", "record", "replay")
# where a replayed test "sends" its requests: nothing listens there, vcrpy answers
REPLAY_URL = "http://mockcloud.replay.invalid"


def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("mockcloud")
    group.addoption("--mockcloud-url", default=os.environ.get("MOCKCLOUD_URL"),
                    help="use a running mockcloud instead of starting one (env MOCKCLOUD_URL)")
    group.addoption("--mockcloud-admin-token",
                    default=os.environ.get("MOCKCLOUD_ADMIN_TOKEN"),
                    help="admin token of the mockcloud at --mockcloud-url "
                         "(env MOCKCLOUD_ADMIN_TOKEN); a mockcloud the plugin starts gets "
                         "a random one")
    group.addoption("--mockcloud-world", default=None,
                    help="world file for the mockcloud the plugin starts")
    group.addoption("--mockcloud-server", choices=SERVERS,
                    default=os.environ.get("MOCKCLOUD_SERVER") or "process",
                    help="how the plugin runs the emulator: a `mockcloud serve` child "
                         "process, or a thread of the test process (env MOCKCLOUD_SERVER; "
                         "default process)")
    group.addoption("--mockcloud-mode", choices=MODES,
                    default=os.environ.get("MOCKCLOUD_MODE") or "live",
                    help="live: talk to the emulator; record: and write each test's "
                         "traffic to a vcrpy cassette; replay: answer from the cassettes, "
                         "no server (env MOCKCLOUD_MODE; default live)")
    group.addoption("--mockcloud-cassettes", default=os.environ.get("MOCKCLOUD_CASSETTES"),
                    help="folder of the cassettes for record and replay (env "
                         "MOCKCLOUD_CASSETTES; default: cassettes under the rootdir)")
    group.addoption("--mockcloud-keep-tenants", action="store_true",
                    default=os.environ.get("MOCKCLOUD_KEEP_TENANTS", "").lower() in
                    ("1", "true", "yes", "on"),
                    help="keep each test's tenant on the server after the test (default: "
                         "deleted after a test that passed, kept after one that failed; "
                         "env MOCKCLOUD_KEEP_TENANTS=1)")


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line(
        "markers", "mockcloud_world(world): load this world (a YAML/JSON file path, "
        "relative to the test file or the rootdir, or a mapping) into the test's mockcloud "
        "tenant before the test")
    for name, allowed in (("--mockcloud-server", SERVERS), ("--mockcloud-mode", MODES)):
        if config.getoption(name) not in allowed:  # an environment variable's value
            raise pytest.UsageError(f"{name}: {config.getoption(name)!r} is not one of "
                                    f"{', '.join(allowed)}")


def _mode(config: pytest.Config) -> str:
    return config.getoption("--mockcloud-mode")


@pytest.fixture(scope="session")
def mockcloud_server(request: pytest.FixtureRequest) -> Iterator[str]:
    config = request.config
    url = config.getoption("--mockcloud-url")
    if _mode(config) == "replay":
        config.stash[_ADMIN_TOKEN] = None
        yield REPLAY_URL
        return
    if url:
        config.stash[_ADMIN_TOKEN] = config.getoption("--mockcloud-admin-token") or None
        yield url.rstrip("/")
        return
    world = config.getoption("--mockcloud-world")
    world_path = str(config.invocation_params.dir / Path(world)) if world else None
    token = secrets.token_urlsafe(24)
    if config.getoption("--mockcloud-server") == "thread":
        extra = {"world": world_path} if world_path else {}
        with ThreadedServer(admin_token=token, **extra) as threaded:
            config.stash[_ADMIN_TOKEN] = token
            yield threaded.url
        return
    args = ["--world", world_path] if world_path else []
    with ServerProcess(*args, admin_token=token) as server:
        config.stash[_ADMIN_TOKEN] = token
        yield server.url


@pytest.fixture(scope="session")
def mockcloud_admin_token(mockcloud_server: str, request: pytest.FixtureRequest) -> str | None:
    return request.config.stash.get(_ADMIN_TOKEN, None)


def _tenant(node: pytest.Item, fixed: bool) -> str:
    name = re.sub(r"[^A-Za-z0-9_.-]", "-", node.name)[:40].strip("-.") or "t"
    if fixed:  # the same name at each recording and replay of this test
        return f"{name}-{hashlib.sha1(node.nodeid.encode()).hexdigest()[:8]}"
    return f"{name}-{uuid.uuid4().hex[:8]}"


def _cassette_path(node: pytest.Item, config: pytest.Config) -> Path:
    folder = config.getoption("--mockcloud-cassettes")
    root = Path(folder) if folder else config.rootpath / "cassettes"
    if not root.is_absolute():
        root = config.invocation_params.dir / root
    module = Path(node.nodeid.split("::")[0]).with_suffix("")
    test = re.sub(r"[^A-Za-z0-9_.\[\]-]", "-", "::".join(node.nodeid.split("::")[1:]))
    return root / module / f"{test or node.name}.yaml"


@pytest.fixture
def _mockcloud_cassette(request: pytest.FixtureRequest) -> Iterator[None]:
    """In record and replay modes, the test's vcrpy cassette around the test and the
    fixtures that depend on it (the tenant's set-up included)."""
    mode = _mode(request.config)
    if mode == "live":
        yield
        return
    import vcr

    path = _cassette_path(request.node, request.config)
    if mode == "replay" and not path.exists():
        pytest.fail(f"no cassette for this test at {path}: record it first "
                    "(--mockcloud-mode=record)", pytrace=False)
    path.parent.mkdir(parents=True, exist_ok=True)
    recorder = vcr.VCR(record_mode="all" if mode == "record" else "none",
                       match_on=("method", "path", "query", "body"),
                       filter_headers=["authorization"], decode_compressed_response=True)
    with recorder.use_cassette(str(path)):
        yield


def _world_of(marker: pytest.Mark, node: pytest.Item, config: pytest.Config) -> str | dict:
    if len(marker.args) != 1 or marker.kwargs:
        raise pytest.UsageError(f"{node.nodeid}: mockcloud_world takes one argument: a world "
                                "file's path or a mapping")
    world = marker.args[0]
    if isinstance(world, dict):
        return world
    if not isinstance(world, (str, os.PathLike)):
        raise pytest.UsageError(f"{node.nodeid}: mockcloud_world wants a path or a mapping, "
                                f"not {type(world).__name__}")
    given = Path(world)
    for base in (Path(str(node.path)).parent, config.rootpath, config.invocation_params.dir):
        candidate = given if given.is_absolute() else base / given
        if candidate.is_file():
            return candidate.read_text(encoding="utf-8")
    raise pytest.UsageError(f"{node.nodeid}: mockcloud_world: no file {world} (looked "
                            "beside the test file and under the rootdir)")


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]
                              ) -> Iterator[None]:
    """Each phase's outcome, for the ``mockcloud`` fixture's teardown; a failed test's
    report names its tenant (kept on the server)."""
    report = yield
    item.stash.setdefault(_OUTCOMES, {})[report.when] = report.outcome
    tenant = item.stash.get(_TENANT, None)
    if tenant is not None and report.failed and report.when in ("setup", "call"):
        report.sections.append(("mockcloud", f"the test's tenant is kept on {tenant[1]}: "
                                f"{tenant[0]} (its journal: GET {tenant[1]}/_t/{tenant[0]}"
                                f"/_mockcloud/journal)"))
    return report


@pytest.fixture
def mockcloud(mockcloud_server: str, mockcloud_admin_token: str | None,
              _mockcloud_cassette: None, request: pytest.FixtureRequest) -> Iterator[Admin]:
    mode = _mode(request.config)
    admin = Admin(mockcloud_server, _tenant(request.node, fixed=mode != "live"),
                  token=mockcloud_admin_token)
    request.node.stash[_TENANT] = (admin.tenant, admin.base)
    if mode == "record":
        admin.reset()  # a named tenant on a server that may have seen it before
    marker = request.node.get_closest_marker("mockcloud_world")
    if marker is not None:
        admin.load_world(_world_of(marker, request.node, request.config))
    yield admin
    # a failed test's tenant is kept for a look (a skipped one's is not)
    failed = "failed" in request.node.stash.get(_OUTCOMES, {}).values()
    if mode != "live" or failed or request.config.getoption("--mockcloud-keep-tenants"):
        return
    try:
        admin.delete_tenant()
    except (AdminError, requests.RequestException) as exc:  # the test passed all the same
        warnings.warn(f"mockcloud: could not delete the tenant {admin.tenant}: {exc}",
                      stacklevel=1)


@pytest.fixture
def mockcloud_vendor(mockcloud: Admin) -> Callable[..., VendorHandle]:
    """``mockcloud_vendor("netatmo", app=None, user=None, scope=None)``: the test's
    tenant's vendor with a ready token (see :meth:`emulator.testing.Admin.vendor`)."""

    def make(vendor: str, app: str | None = None, user: str | None = None,
             scope: str | None = None, **unknown: Any) -> VendorHandle:
        if unknown:
            raise TypeError(f"mockcloud_vendor: unknown argument(s) {', '.join(unknown)}")
        return mockcloud.vendor(vendor, app=app, user=user, scope=scope)

    return make
