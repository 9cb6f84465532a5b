"""pytest plugin (entry point ``mockcloud``): a live emulator for your tests.

Fixtures:

* ``mockcloud_server`` (session): the base URL of a real ``mockcloud serve`` on a free
  port, in memory, started by :class:`emulator.launcher.ServerProcess` with a random
  admin token; or the one at ``--mockcloud-url`` / ``MOCKCLOUD_URL`` if given (with
  ``--mockcloud-admin-token`` / ``MOCKCLOUD_ADMIN_TOKEN`` if it requires one).
* ``mockcloud_admin_token`` (session): the token that server's control plane wants
  (None if it wants none).
* ``mockcloud`` (function): an :class:`emulator.testing.Admin` on a tenant of its
  own, so tests (and xdist workers) never see each other's state. Use
  ``mockcloud.url("lightify")`` as the vendor base URL, and ``mockcloud.advance(3600)``
  to move its clock.
"""

from __future__ import annotations

import os
import re
import secrets
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from .testing import Admin, ServerProcess

_ADMIN_TOKEN = pytest.StashKey[str | None]()


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


@pytest.fixture(scope="session")
def mockcloud_server(request: pytest.FixtureRequest) -> Iterator[str]:
    config = request.config
    url = config.getoption("--mockcloud-url")
    if url:
        config.stash[_ADMIN_TOKEN] = config.getoption("--mockcloud-admin-token") or None
        yield url.rstrip("/")
        return
    args = []
    world = config.getoption("--mockcloud-world")
    if world:
        args += ["--world", str(config.invocation_params.dir / Path(world))]
    token = secrets.token_urlsafe(24)
    with ServerProcess(*args, admin_token=token) as server:
        config.stash[_ADMIN_TOKEN] = token
        yield server.url


@pytest.fixture(scope="session")
def mockcloud_admin_token(mockcloud_server: str, request: pytest.FixtureRequest) -> str | None:
    return request.config.stash.get(_ADMIN_TOKEN, None)


@pytest.fixture
def mockcloud(mockcloud_server: str, mockcloud_admin_token: str | None,
              request: pytest.FixtureRequest) -> Admin:
    name = re.sub(r"[^A-Za-z0-9_.-]", "-", request.node.name)[:40].strip("-.") or "t"
    return Admin(mockcloud_server, f"{name}-{uuid.uuid4().hex[:8]}", token=mockcloud_admin_token)
