"""Bounded request journal per tenant, exportable as a vcrpy cassette.

Entries live in the store as a ring: slot ``seq % size``; a counter doc holds the
next sequence number. Bodies are kept up to ``max_body`` bytes (text, or base64 when
binary) so an export can be replayed by vcrpy.
"""

from __future__ import annotations

import base64
from typing import Any

import yaml

from .store import Store

KIND = "journal"


def _body(raw: bytes, limit: int) -> dict[str, Any]:
    cut = raw[:limit]
    try:
        text: dict[str, Any] = {"text": cut.decode("utf-8")}
    except UnicodeDecodeError:
        text = {"base64": base64.b64encode(cut).decode()}
    if len(raw) > limit:
        text["truncated"] = len(raw)
    return text


class Journal:
    def __init__(self, store: Store, tenant: str, size: int, max_body: int) -> None:
        self.store, self.tenant, self.size, self.max_body = store, tenant, size, max_body

    def record(self, entry: dict[str, Any], req_body: bytes, resp_body: bytes) -> None:
        if self.size <= 0:
            return
        entry["request"]["body"] = _body(req_body, self.max_body)
        entry["response"]["body"] = _body(resp_body, self.max_body)
        self.store.ring_append(self.tenant, KIND, entry, self.size)

    def entries(self, vendor: str | None = None, status: int | None = None,
                path: str | None = None, since: int = 0,
                limit: int | None = None) -> list[dict[str, Any]]:
        out = [d for d in self.store.ring_list(self.tenant, KIND)
               if d["seq"] > since
               and (vendor is None or d.get("vendor") == vendor)
               and (status is None or d["response"]["status"] == status)
               and (path is None or path in d["request"]["path"])]
        return out[-limit:] if limit else out

    def clear(self) -> int:
        return self.store.ring_clear(self.tenant, KIND)


def _cassette_body(body: dict[str, Any]) -> str | None:
    if "text" in body:
        return body["text"]
    return base64.b64decode(body["base64"]).decode("latin-1")


SECRET_HEADERS = {"authorization", "cookie", "proxy-authorization"}


def _redact(name: str, value: str) -> str:
    if name.lower() not in SECRET_HEADERS:
        return value
    scheme, _, rest = value.partition(" ")
    return f"{scheme} REDACTED" if rest else "REDACTED"


def to_cassette(entries: list[dict[str, Any]], redact: bool = True) -> str:
    """vcrpy's YAML cassette format (version 1). Credentials in request headers are
    replaced by ``REDACTED`` unless ``redact`` is false (vcrpy does not match on
    headers by default, so replay still works)."""
    interactions = []
    for e in entries:
        req, resp = e["request"], e["response"]
        interactions.append({
            "request": {
                "method": req["method"],
                "uri": req["url"],
                "body": _cassette_body(req["body"]) or None,
                "headers": {k: [_redact(k, v) if redact else v]
                            for k, v in req["headers"].items()},
            },
            "response": {
                "status": {"code": resp["status"], "message": resp["reason"]},
                "headers": {k: [v] for k, v in resp["headers"].items()},
                "body": {"string": _cassette_body(resp["body"]) or ""},
            },
        })
    return yaml.safe_dump({"interactions": interactions, "version": 1}, sort_keys=False,
                          allow_unicode=True)
