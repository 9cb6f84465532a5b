"""pytest plugin (entry point ``mockcloud``): a live emulator for your tests.

Fixtures:

* ``mockcloud_server`` (session): a real ``mockcloud serve`` on a free port, in
  memory; or the one at ``--mockcloud-url`` / ``MOCKCLOUD_URL`` if given.
* ``mockcloud`` (function): an :class:`emulator.testing.Admin` on a tenant of its
  own, so tests (and xdist workers) never see each other's state. Use
  ``mockcloud.url("lightify")`` as the vendor base URL, and ``mockcloud.advance(3600)``
  to move its clock.
"""

from __future__ import annotations

import os
import re
import uuid

import pytest

from .testing import Admin, ServerProcess


def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("mockcloud")
    group.addoption("--mockcloud-url", default=os.environ.get("MOCKCLOUD_URL"),
                    help="use a running mockcloud instead of starting one")
    group.addoption("--mockcloud-world", default=None,
                    help="world file for the mockcloud the plugin starts")


@pytest.fixture(scope="session")
def mockcloud_server(request: pytest.FixtureRequest):
    url = request.config.getoption("--mockcloud-url")
    if url:
        yield url.rstrip("/")
        return
    args = []
    world = request.config.getoption("--mockcloud-world")
    if world:
        args += ["--world", world]
    with ServerProcess(*args) as server:
        yield server.url


@pytest.fixture
def mockcloud(mockcloud_server: str, request: pytest.FixtureRequest) -> Admin:
    name = re.sub(r"[^A-Za-z0-9_.-]", "-", request.node.name)[:40].strip("-.") or "t"
    return Admin(mockcloud_server, f"{name}-{uuid.uuid4().hex[:8]}")
