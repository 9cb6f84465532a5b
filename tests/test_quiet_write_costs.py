"""What the Netatmo and Qivivo writes skip when it cannot matter (issues 8 and 10),
checked for what it must not change.

* ``pushes.announcing``: a tenant with no webhook at all runs a write in a shared
  do-nothing context (no scans, no claims). Over a real server: a set point made while
  nobody listens is never pushed, one made after ``addwebhook`` is pushed once, and
  a second user's webhook does not make the first user's writes pushed to it.
* ``Quotas.config``: the parsed configuration is kept by the identity of the store's
  snapshot, so it is parsed once while unchanged, and a change made through another
  handle of the same store (another worker) takes effect at the next call.
"""

from __future__ import annotations

from typing import Any

import pytest

from clients.netatmo import NetatmoClient, WebhookReceiver
from emulator.core.quotas import QuotaConfig, QuotaRule, Quotas
from emulator.core.store import MemoryStore, SqliteStore
from emulator.testing import Admin
from tests.netatmo_http import CI, HOME_ID, Netatmo

T0 = 1_800_000_000
ROOM = "3100000001"
SCOPE = "read_camera read_thermostat write_thermostat"


def _client(netatmo: Netatmo) -> NetatmoClient:
    c = NetatmoClient(*CI, netatmo.base, token={"access_token": netatmo.issue(SCOPE)})
    c.hooks["response"].append(netatmo.watch.hook)
    return c


def _energy(receiver: WebhookReceiver) -> list[dict[str, Any]]:
    return [p for p in receiver.accepted() if p.get("push_type") == "display_change"]


def test_a_write_while_nobody_listens_is_not_pushed_one_after_addwebhook_is_once(
        netatmo: Netatmo, mockcloud: Admin) -> None:
    mockcloud.freeze(T0)
    mockcloud.set_quotas("netatmo", [], enabled=False)
    assert mockcloud.webhooks("netatmo") == []
    c = _client(netatmo)
    c.setroomthermpoint(HOME_ID, ROOM, "manual", temp=19.5, endtime=T0 + 3600)
    receiver = WebhookReceiver()
    try:
        mockcloud.advance(10)
        assert c.addwebhook(receiver.url, "app_security")["status"] == "ok"
        mockcloud.flush()
        assert _energy(receiver) == []
        c.setroomthermpoint(HOME_ID, ROOM, "manual", temp=23.0, endtime=T0 + 3600)
        mockcloud.flush()
        mockcloud.advance(3600)
        mockcloud.flush()
        got = _energy(receiver)
        assert [(p["event_type"], p["temperature"]) for p in got] == [("set_point", 23.0)]
    finally:
        receiver.close()


@pytest.fixture(params=["memory", "sqlite"])
def two_handles(request, tmp_path):
    """Two handles on one store, as two workers have (memory: the same object)."""
    if request.param == "memory":
        s = MemoryStore()
        yield s, s
        s.close()
        return
    a, b = SqliteStore(str(tmp_path / "q.db")), SqliteStore(str(tmp_path / "q.db"))
    yield a, b
    a.close()
    b.close()


def test_the_quota_config_is_parsed_once_and_a_change_anywhere_is_seen_at_once(two_handles):
    a, b = two_handles
    default = QuotaConfig(enabled=True, rules=[QuotaRule("d", "client", 5, 10)])
    qa, qb = Quotas(a, "t"), Quotas(b, "t")
    assert qa.config("v", default) is default
    qb.set_config("v", QuotaConfig(enabled=False))
    first = qa.config("v", default)
    assert first.enabled is False and first.rules == []
    assert qa.config("v", default) is first            # unchanged: not parsed again
    qb.set_config("v", QuotaConfig(enabled=True, rules=[QuotaRule("r", "user", 2, 60)],
                                   status=403))
    now = qa.config("v", default)
    assert (now.enabled, now.status, [r.name for r in now.rules]) == (True, 403, ["r"])
    keys = {"user": "u"}
    assert [qa.hit("v", now, keys, 120.0).allowed for _ in range(3)] == [True, True, False]
    qb.set_config("v", QuotaConfig(enabled=False))
    assert qa.config("v", default).enabled is False
    b.delete("t", "quota.rules", "v")
    assert qa.config("v", default) is default
