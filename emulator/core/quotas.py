"""Windowed quotas on the virtual clock.

A rule counts calls per key (``client``, ``user`` or ``app``) in fixed windows of
``window`` seconds aligned on the epoch of virtual time. Counters live in the store.
Rules come from the vendor's declaration, overridden per tenant through the admin API
or the world file. A vendor decides how an exceeded quota is rendered.

A ``client`` rule may grow with the app: with ``per_user`` set, its limit in a window
is ``max(limit, per_user x the users the client has tokens for)``, counted once, when
the window opens (Netatmo: 200 calls / 10 s per app, or 2 x users past 100 users).
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from typing import Any

from .store import Store

KIND = "quota.count"
RULES_KIND = "quota.rules"
KEYS = ("client", "user", "app")


@dataclass(frozen=True)
class QuotaRule:
    name: str
    key: str            # client | user | app
    limit: int
    window: int         # seconds
    per_user: int = 0   # client rules: the limit is at least per_user x the app's users

    @classmethod
    def parse(cls, raw: Any) -> QuotaRule:
        if not isinstance(raw, dict):
            raise ValueError("a quota rule is an object {name, key, limit, window}")
        key = raw.get("key", "client")
        if key not in KEYS:
            raise ValueError(f"quota key must be one of {', '.join(KEYS)}, not {key!r}")
        limit, window = raw.get("limit"), raw.get("window")
        for label, v in (("limit", limit), ("window", window)):
            if isinstance(v, bool) or not isinstance(v, int) or v < 1:
                raise ValueError(f"quota {label} must be a positive integer")
        name = raw.get("name") or f"{key}-{limit}-per-{window}s"
        if not isinstance(name, str):
            raise ValueError("quota name must be a string")
        per_user = raw.get("per_user") or 0
        if isinstance(per_user, bool) or not isinstance(per_user, int) or per_user < 0:
            raise ValueError("quota per_user must be a non-negative integer")
        if per_user and key != "client":
            raise ValueError("quota per_user applies to client rules only")
        return cls(name=name, key=key, limit=limit, window=window, per_user=per_user)


@dataclass
class QuotaConfig:
    enabled: bool = False
    rules: list[QuotaRule] = field(default_factory=list)
    status: int | None = None     # override the vendor's status for "exceeded"

    def to_doc(self) -> dict[str, Any]:
        rules = [{k: v for k, v in asdict(r).items() if v or k != "per_user"}
                 for r in self.rules]  # per_user only where set
        return {"enabled": self.enabled, "rules": rules, "status": self.status}

    @classmethod
    def parse(cls, raw: Any) -> QuotaConfig:
        if not isinstance(raw, dict):
            raise ValueError("quota config is an object {enabled, rules, status}")
        enabled = raw.get("enabled", True)
        if not isinstance(enabled, bool):
            raise ValueError("'enabled' must be true or false")
        rules = raw.get("rules", [])
        if not isinstance(rules, list):
            raise ValueError("'rules' must be a list")
        status = raw.get("status")
        if status is not None and (isinstance(status, bool) or not isinstance(status, int)
                                   or not 400 <= status <= 599):
            raise ValueError("'status' must be an HTTP error status (400-599)")
        return cls(enabled=enabled, rules=[QuotaRule.parse(r) for r in rules], status=status)


# parsed configurations by the id of the snapshot they were parsed from (``config``)
_PARSED: dict[int, tuple[Any, QuotaConfig]] = {}
_PARSED_SIZE = 256


@dataclass
class QuotaResult:
    allowed: bool
    headers: dict[str, str]
    retry_after: int = 0
    rule: QuotaRule | None = None
    remaining: int = 0


def config(store: Store, tenant: str, vendor: str, default: QuotaConfig) -> QuotaConfig:
    """The tenant's configuration for ``vendor`` (else ``default``). Every guarded call
    reads it (``Quotas(store, tenant).config``, without making the Quotas): the store's
    shared snapshot (no JSON parse while unchanged), and its ``QuotaConfig`` is kept by
    the snapshot's identity (``_PARSED``). A write of the document (admin API, world
    load; this worker or another sharing the store) makes a new snapshot, so it is
    parsed again at once. The config is shared: callers only read it."""
    doc = store.snapshot(tenant, RULES_KIND, vendor)
    if not doc:
        return default
    hit = _PARSED.get(id(doc))
    if hit is not None and hit[0] is doc:
        return hit[1]
    cfg = QuotaConfig.parse(doc)
    if len(_PARSED) >= _PARSED_SIZE:
        _PARSED.clear()
    _PARSED[id(doc)] = (doc, cfg)  # the doc is held: its id is not reused meanwhile
    return cfg


class Quotas:
    def __init__(self, store: Store, tenant: str) -> None:
        self.store, self.tenant = store, tenant

    def config(self, vendor: str, default: QuotaConfig) -> QuotaConfig:
        """The tenant's configuration for ``vendor`` (else ``default``): ``config``."""
        return config(self.store, self.tenant, vendor, default)

    def set_config(self, vendor: str, cfg: QuotaConfig) -> None:
        self.store.put(self.tenant, RULES_KIND, vendor, cfg.to_doc())

    def hit(self, vendor: str, cfg: QuotaConfig, keys: dict[str, str | None],
            now: float, users: Callable[[], int] | None = None) -> QuotaResult:
        """Count one call against every applicable rule; report the tightest.
        ``users()``: how many users the calling client has (``per_user`` rules)."""
        if not cfg.enabled or not cfg.rules:
            return QuotaResult(True, {})
        results: list[QuotaResult] = []
        for rule in cfg.rules:
            who = keys.get(rule.key)
            if who is None:
                continue
            start = math.floor(now / rule.window) * rule.window
            reset = start + rule.window
            counter = f"{vendor}|{rule.name}|{who}|{int(start)}"

            def bump(doc, start=start, rule=rule, who=who):
                n, limit = (doc["n"], doc.get("limit", rule.limit)) if doc else (0, rule.limit)
                return {"n": n + 1 if n < limit else n,
                        "over": n >= limit, "expires": start + rule.window,
                        "vendor": vendor, "rule": rule.name, "key": who, "start": start,
                        **({"limit": doc["limit"]} if doc and "limit" in doc else {})}

            doc = self.store.update(self.tenant, KIND, counter, bump)
            if rule.per_user and "limit" not in doc and users is not None:
                doc = self._scale(counter, max(rule.limit, rule.per_user * users()))
            limit = doc.get("limit", rule.limit)
            remaining = max(limit - doc["n"], 0)
            retry = max(1, math.ceil(reset - now))
            results.append(QuotaResult(
                allowed=not doc["over"],
                headers={"X-RateLimit-Limit": str(limit),
                         "X-RateLimit-Remaining": str(remaining),
                         "X-RateLimit-Reset": str(int(reset))},
                retry_after=retry, rule=rule, remaining=remaining))
        if not results:
            return QuotaResult(True, {})
        # a refusing rule first, else the one with the fewest calls left
        tightest = min(results, key=lambda r: (r.allowed, r.remaining))
        if not tightest.allowed:
            tightest.headers["Retry-After"] = str(tightest.retry_after)
        return tightest

    def _scale(self, counter: str, limit: int) -> dict[str, Any]:
        """Fix a window's limit (a per_user rule, once per window)."""
        return self.store.update(self.tenant, KIND, counter,
                                 lambda d: {**d, "limit": d.get("limit", limit)})

    def inspect(self, now: float) -> list[dict[str, Any]]:
        out = []
        for key, doc in self.store.list(self.tenant, KIND):
            if doc["expires"] <= now:
                self.store.delete(self.tenant, KIND, key)  # window over: forget it
                continue
            out.append({"vendor": doc["vendor"], "rule": doc["rule"], "key": doc["key"],
                        "window_start": int(doc["start"]), "count": doc["n"],
                        "resets_at": doc["expires"]})
        return out

    def reset(self) -> None:
        for key, _ in self.store.list(self.tenant, KIND):
            self.store.delete(self.tenant, KIND, key)
