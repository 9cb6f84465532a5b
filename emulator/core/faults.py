"""Fault rules: match -> effect, deterministic under a seed.

A rule matches on vendor, method and a path pattern (glob on the vendor-relative
path, e.g. ``/v4/devices/*``), optionally only inside a window of virtual time,
only for the first N matches or only after N matches, and with a probability drawn
from ``random.Random(f"{seed}:{rule id}:{match number}")`` so a run replays exactly.
Effects: a canned status + body (+ headers), added latency, or a dropped connection.
Rules and their counters live in the store, per tenant.
"""

from __future__ import annotations

import fnmatch
import random
from dataclasses import asdict, dataclass, field
from typing import Any

from .store import Store

KIND = "fault"
SEQ_KIND = "fault.seq"
METHODS = {"GET", "POST", "PUT", "PATCH", "DELETE", "HEAD", "OPTIONS", "*"}


@dataclass
class FaultRule:
    id: str = ""
    vendor: str = "*"
    method: str = "*"
    path: str = "*"
    status: int | None = None
    body: Any = None
    headers: dict[str, str] = field(default_factory=dict)
    latency_ms: int = 0
    drop: bool = False
    probability: float = 1.0
    seed: int = 0
    first_n: int | None = None
    after_n: int | None = None
    start: float | None = None        # virtual-time window [start, end)
    end: float | None = None
    matched: int = 0                  # requests that matched the pattern
    fired: int = 0                    # requests the effect was applied to

    def to_doc(self) -> dict[str, Any]:
        return asdict(self)


def _opt_int(raw: dict, name: str, lo: int, hi: int | None = None) -> int | None:
    v = raw.get(name)
    if v is None:
        return None
    if isinstance(v, bool) or not isinstance(v, int) or v < lo or (hi is not None and v > hi):
        bound = f"{lo}..{hi}" if hi is not None else f">= {lo}"
        raise ValueError(f"'{name}' must be an integer {bound}")
    return v


def parse_rule(raw: Any, now_parse) -> FaultRule:
    """Validate a rule posted to the admin API; ``now_parse`` parses instants."""
    if not isinstance(raw, dict):
        raise ValueError("a fault rule is a JSON object")
    known = set(FaultRule.__dataclass_fields__) - {"id", "matched", "fired"}
    unknown = set(raw) - known
    if unknown:
        raise ValueError(f"unknown fault rule field(s): {', '.join(sorted(unknown))}")
    rule = FaultRule()
    for name in ("vendor", "method", "path"):
        v = raw.get(name, "*")
        if not isinstance(v, str) or not v:
            raise ValueError(f"'{name}' must be a non-empty string")
        setattr(rule, name, v)
    rule.method = rule.method.upper()
    if rule.method not in METHODS:
        raise ValueError(f"'method' must be one of {', '.join(sorted(METHODS))}")
    rule.status = _opt_int(raw, "status", 100, 599)
    rule.latency_ms = _opt_int(raw, "latency_ms", 0, 60000) or 0
    rule.first_n = _opt_int(raw, "first_n", 1)
    rule.after_n = _opt_int(raw, "after_n", 0)
    rule.seed = _opt_int(raw, "seed", 0) or 0
    drop = raw.get("drop", False)
    if not isinstance(drop, bool):
        raise ValueError("'drop' must be true or false")
    rule.drop = drop
    p = raw.get("probability", 1.0)
    if isinstance(p, bool) or not isinstance(p, int | float) or not 0 <= p <= 1:
        raise ValueError("'probability' must be a number from 0 to 1")
    rule.probability = float(p)
    headers = raw.get("headers", {})
    if not isinstance(headers, dict) or not all(
            isinstance(k, str) and isinstance(v, str) for k, v in headers.items()):
        raise ValueError("'headers' must be an object of strings")
    rule.headers = headers
    rule.body = raw.get("body")
    for name in ("start", "end"):
        if raw.get(name) is not None:
            setattr(rule, name, now_parse(raw[name]))
    if rule.status is None and not rule.drop and not rule.latency_ms:
        raise ValueError("a fault rule needs an effect: 'status', 'latency_ms' or 'drop'")
    return rule


@dataclass
class Decision:
    rule: FaultRule
    respond: bool          # answer with rule.status/body instead of the vendor
    drop: bool
    latency_ms: int


class Faults:
    def __init__(self, store: Store, tenant: str) -> None:
        self.store, self.tenant = store, tenant

    def add(self, rule: FaultRule) -> FaultRule:
        seq = self.store.update(self.tenant, SEQ_KIND, "seq",
                                lambda d: {"n": (d or {"n": 0})["n"] + 1})["n"]
        rule.id = rule.id or f"f{seq}"
        self.store.put(self.tenant, KIND, rule.id, rule.to_doc())
        return rule

    def list(self) -> list[FaultRule]:
        rules = [FaultRule(**d) for _, d in self.store.list(self.tenant, KIND)]
        return sorted(rules, key=lambda r: int(r.id[1:]) if r.id[1:].isdigit() else 0)

    def remove(self, rule_id: str) -> bool:
        return self.store.delete(self.tenant, KIND, rule_id)

    def clear(self) -> None:
        for key, _ in self.store.list(self.tenant, KIND):
            self.store.delete(self.tenant, KIND, key)

    def decide(self, vendor: str, method: str, path: str, now: float) -> Decision | None:
        """The first rule that fires for this request, counting matches atomically."""
        if not self.store.count(self.tenant, KIND):
            return None
        for rule in self.list():
            if not _matches(rule, vendor, method, path, now):
                continue
            fired: dict[str, bool] = {}

            def count(doc, fired=fired):
                if doc is None:
                    return None
                doc["matched"] += 1
                n = doc["matched"]
                ok = (doc["first_n"] is None or n <= doc["first_n"]) and (
                    doc["after_n"] is None or n > doc["after_n"])
                if ok and doc["probability"] < 1.0:
                    rng = random.Random(f"{doc['seed']}:{doc['id']}:{n}")
                    ok = rng.random() < doc["probability"]
                if ok:
                    doc["fired"] += 1
                fired["ok"] = ok
                return doc

            doc = self.store.update(self.tenant, KIND, rule.id, count)
            if doc is not None and fired.get("ok"):
                r = FaultRule(**doc)
                return Decision(r, respond=r.status is not None, drop=r.drop,
                                latency_ms=r.latency_ms)
        return None


def _matches(rule: FaultRule, vendor: str, method: str, path: str, now: float) -> bool:
    if rule.vendor not in ("*", vendor):
        return False
    if rule.method not in ("*", method):
        return False
    if rule.start is not None and now < rule.start:
        return False
    if rule.end is not None and now >= rule.end:
        return False
    return fnmatch.fnmatchcase(path, rule.path) or fnmatch.fnmatchcase(
        path.rstrip("/"), rule.path.rstrip("/"))
