"""Bounded request journal per tenant, exportable as a vcrpy cassette.

Entries live in the store as a ring: slot ``seq % size``; a counter doc holds the
next sequence number. Bodies are kept up to ``max_body`` bytes (text, or base64 when
binary) so an export can be replayed by vcrpy.
"""

from __future__ import annotations

import base64
from typing import Any, NamedTuple

import yaml

from .store import Store

KIND = "journal"


def _body(kept: bytes, size: int) -> dict[str, Any]:
    """A body as text (or base64), noting its full size when only a part was kept."""
    try:
        text: dict[str, Any] = {"text": kept.decode("utf-8")}
    except UnicodeDecodeError:
        text = {"base64": base64.b64encode(kept).decode()}
    if size > len(kept):
        text["truncated"] = size
    return text


class Exchange(NamedTuple):
    """One request and its reply, kept raw.

    The journal stores the plain tuple (``record`` takes ``tuple(Exchange)``-ordered
    values): a tuple of strings, numbers and bytes is not tracked by Python's garbage
    collector, so a full ring costs the hot path nothing while it waits to be read.
    It becomes a document only when read (or when a store has to serialise it).
    """

    time: float
    vendor: str | None
    tenant: str
    latency_ms: float
    client: str | None
    note: str | None
    method: str
    path: str
    url: str
    req_headers: tuple[tuple[str, str], ...]  # (environ key, value): HTTP_* and CONTENT_TYPE
    status_line: str
    resp_headers: tuple[tuple[str, str], ...]
    req_body: bytes        # the first max_body bytes
    resp_body: bytes
    req_size: int          # the whole body's size
    resp_size: int


def exchange(time: float, vendor: str | None, tenant: str, latency_ms: float,
             client: str | None, note: str | None, method: str, path: str, url: str,
             req_headers: Any, status_line: str, resp_headers: Any, req_body: bytes,
             resp_body: bytes, max_body: int) -> tuple:
    """The tuple ``record`` keeps; bodies cut to ``max_body`` bytes."""
    return (time, vendor, tenant, latency_ms, client, note, method, path, url,
            tuple(req_headers), status_line, tuple(resp_headers), req_body[:max_body],
            resp_body[:max_body], len(req_body), len(resp_body))


def to_doc(seq: int, entry: tuple) -> dict[str, Any]:
    """A recorded exchange as the admin API shows it."""
    e = Exchange._make(entry)
    code, _, reason = e.status_line.partition(" ")
    return {
        "seq": seq, "time": e.time, "vendor": e.vendor, "tenant": e.tenant,
        "latency_ms": round(e.latency_ms, 3), "client": e.client, "note": e.note,
        "request": {
            "method": e.method, "path": e.path, "url": e.url,
            "headers": {_header_name(k): v for k, v in e.req_headers},
            "body": _body(e.req_body, e.req_size),
        },
        "response": {
            "status": int(code), "reason": reason, "headers": dict(e.resp_headers),
            "body": _body(e.resp_body, e.resp_size),
        },
    }


def _header_name(environ_key: str) -> str:
    key = environ_key[5:] if environ_key.startswith("HTTP_") else environ_key
    return key.replace("_", "-").title()


class Journal:
    def __init__(self, store: Store, tenant: str, size: int) -> None:
        self.store, self.tenant, self.size = store, tenant, size

    def record(self, entry: tuple) -> None:
        """Keep an ``exchange(...)`` tuple."""
        if self.size > 0:
            self.store.ring_append(self.tenant, KIND, entry, self.size, to_doc)

    def entries(self, vendor: str | None = None, status: int | None = None,
                path: str | None = None, since: int = 0,
                limit: int | None = None) -> list[dict[str, Any]]:
        docs = self.store.ring_list(self.tenant, KIND, to_doc)
        out = [d for d in docs
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
