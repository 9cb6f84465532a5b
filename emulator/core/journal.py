"""Bounded request journal per tenant, exportable as a vcrpy cassette.

An entry is an exchange with a ``direction``: ``inbound`` (a request a client made to
a vendor) or ``outbound`` (a webhook delivery the emulator made, ``core.webhooks``:
its headers are kept under their own names, and a delivery that got no reply has
status 0 and the error as its reason). Entries live in the store as a ring: slot
``seq % size``; a counter doc holds the next sequence number. Bodies are kept up to
``max_body`` bytes (text, or base64 when binary) so an export can be replayed by vcrpy.
Entries are kept as they were; what the admin API shows or exports has its secrets
``REDACTED`` (``redact_entry``).
"""

from __future__ import annotations

import base64
import json
import re
from collections.abc import Iterable
from typing import Any, NamedTuple
from urllib.parse import unquote_plus

import yaml

from .store import Store

KIND = "journal"
INBOUND, OUTBOUND = "inbound", "outbound"


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
    direction: str         # INBOUND: environ header keys; OUTBOUND: header names


def exchange(time: float, vendor: str | None, tenant: str, latency_ms: float,
             client: str | None, note: str | None, method: str, path: str, url: str,
             req_headers: Any, status_line: str, resp_headers: Any, req_body: bytes,
             resp_body: bytes, max_body: int, direction: str = INBOUND) -> tuple:
    """The tuple ``record`` keeps; bodies cut to ``max_body`` bytes."""
    return (time, vendor, tenant, latency_ms, client, note, method, path, url,
            tuple(req_headers), status_line, tuple(resp_headers), req_body[:max_body],
            resp_body[:max_body], len(req_body), len(resp_body), direction)


_HEADER_KEYS: dict[tuple[str, ...], tuple[str, ...]] = {}


def request_headers(environ: dict[str, Any]) -> list[tuple[str, Any]]:
    """A request's headers as ``exchange`` keeps them: the environ's ``HTTP_*`` items and
    ``CONTENT_TYPE``, in its order. Which keys those are is worked out once per set of
    keys, not by a test of every key at each request: an environ is the server's keys
    (granian copies the process environment into each, some 60 keys) and those of the
    headers a client sends, so one set per kind of client and endpoint."""
    keys = tuple(environ)
    names = _HEADER_KEYS.get(keys)
    if names is None:
        if len(_HEADER_KEYS) >= 256:
            _HEADER_KEYS.clear()
        names = _HEADER_KEYS[keys] = tuple(
            k for k in keys if k.startswith("HTTP_") or k == "CONTENT_TYPE")
    return [(k, environ[k]) for k in names]


def to_doc(seq: int, entry: tuple) -> dict[str, Any]:
    """A recorded exchange as the admin API shows it."""
    e = Exchange._make(entry)
    code, _, reason = e.status_line.partition(" ")
    name = _header_name if e.direction == INBOUND else str
    return {
        "seq": seq, "time": e.time, "vendor": e.vendor, "tenant": e.tenant,
        "direction": e.direction,
        "latency_ms": round(e.latency_ms, 3), "client": e.client, "note": e.note,
        "request": {
            "method": e.method, "path": e.path, "url": e.url,
            "headers": {name(k): v for k, v in e.req_headers},
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
                path: str | None = None, since: int = 0, limit: int | None = None,
                direction: str | None = None) -> list[dict[str, Any]]:
        docs = self.store.ring_list(self.tenant, KIND, to_doc)
        for d in docs:  # kept by an older mockcloud (SQLite state)
            d.setdefault("direction", INBOUND)
        out = [d for d in docs
               if d["seq"] > since
               and (vendor is None or d.get("vendor") == vendor)
               and (direction is None or d["direction"] == direction)
               and (status is None or d["response"]["status"] == status)
               and (path is None or path in d["request"]["path"])]
        return out[-limit:] if limit else out

    def clear(self) -> int:
        return self.store.ring_clear(self.tenant, KIND)


def _cassette_body(body: dict[str, Any]) -> str | None:
    if "text" in body:
        return body["text"]
    return base64.b64decode(body["base64"]).decode("latin-1")


# ------------------------------------------------------------------ redaction

REDACTED = "REDACTED"
# request headers whose value is a credential; the scheme of "Bearer <token>" is kept
SECRET_HEADERS = frozenset({"authorization", "cookie", "proxy-authorization"})
# parameters and JSON fields whose (string) value is a secret, wherever they appear:
# form bodies, JSON bodies at any depth, query strings and fragments of URLs
SECRET_FIELDS = frozenset({"client_secret", "code", "access_token", "refresh_token",
                           "password", "id_token", "code_verifier", "token"})
# ... and any other field named like a credential: *token, *secret, password, key,
# *_key, but not token_type(_hint); and the names vendors declare
# (``Vendor.secret_fields``, added by the app: ``add_secret_fields``). One rule for the
# journal's export and for ``mockcloud record`` (emulator/toolkit/scrub.py imports it).
_SECRET_NAME = re.compile(r"(?i)(token|secret|passw(or)?d|api_?key|code_verifier|^key|_key)$")
NOT_SECRET_FIELDS = frozenset({"token_type", "token_type_hint"})
_DECLARED: set[str] = set()


def add_secret_fields(names: Iterable[str]) -> None:
    """Field names a vendor declares secret beside the rule's (``Vendor.secret_fields``)."""
    _DECLARED.update(names)


def is_secret_field(name: str) -> bool:
    """Whether a parameter or JSON field named so holds a secret."""
    return name in SECRET_FIELDS or name in _DECLARED or (
        name not in NOT_SECRET_FIELDS and bool(_SECRET_NAME.search(name)))

_SECRET_JSON = re.compile(
    r'("(?:' + "|".join(sorted(SECRET_FIELDS)) + r')"\s*:\s*)"(?:[^"\\]|\\.)*"?')


def _redact_header(name: str, value: str) -> str:
    if name.lower() not in SECRET_HEADERS:
        return value
    scheme, _, rest = value.partition(" ")
    # a Cookie has no scheme: "a=1; b=2" is redacted whole
    return f"{scheme} {REDACTED}" if rest and name.lower() != "cookie" else REDACTED


def redact_pairs(text: str) -> str:
    """``a=1&code=xyz`` -> ``a=1&code=REDACTED``: a form body or a query string, every
    other byte kept as it was."""
    parts = text.split("&")
    for i, part in enumerate(parts):
        key, eq, value = part.partition("=")
        if eq and value and is_secret_field(unquote_plus(key)):
            parts[i] = f"{key}={REDACTED}"
    return "&".join(parts)


def redact_url(url: str) -> str:
    """Secret parameters of a URL's query string and fragment."""
    rest, hash_, fragment = url.partition("#")
    base, q, query = rest.partition("?")
    out = base + q + redact_pairs(query) if q else base
    return out + hash_ + redact_pairs(fragment) if hash_ else out


def _redact_json(value: Any) -> tuple[Any, bool]:
    if isinstance(value, dict):
        changed, out = False, {}
        for k, v in value.items():
            if is_secret_field(k) and isinstance(v, str) and v != REDACTED:
                out[k], changed = REDACTED, True
            else:
                out[k], sub = _redact_json(v)
                changed = changed or sub
        return out, changed
    if isinstance(value, list):
        items = [_redact_json(v) for v in value]
        return [v for v, _ in items], any(c for _, c in items)
    return value, False


def redact_text(text: str, content_type: str | None) -> str:
    """A body's text with its secrets replaced: JSON (any depth; a cut-off JSON body
    by pattern) or form-encoded. Other text is kept, and so is an unchanged body."""
    ctype = (content_type or "").lower()
    if "x-www-form-urlencoded" in ctype:
        return redact_pairs(text)
    if text.lstrip()[:1] in ("{", "["):
        try:
            doc, changed = _redact_json(json.loads(text))
        except (ValueError, RecursionError):  # cut off, or too deep: by pattern
            return _SECRET_JSON.sub(rf'\1"{REDACTED}"', text)
        return json.dumps(doc, ensure_ascii=False, separators=(",", ":")) if changed else text
    if not ctype and "=" in text:
        return redact_pairs(text)
    return text


def _redact_body(body: dict[str, Any], headers: dict[str, str]) -> dict[str, Any]:
    if "text" not in body:
        return body  # binary, kept as base64
    ctype = next((v for k, v in headers.items() if k.lower() == "content-type"), None)
    return {**body, "text": redact_text(body["text"], ctype)}


def redact_entry(doc: dict[str, Any]) -> dict[str, Any]:
    """A journal entry (``to_doc``) with its secrets ``REDACTED``: credential headers,
    secret parameters of the URL and the ``Location`` header, secret fields of both
    bodies, ``Set-Cookie``."""
    req, resp = doc["request"], doc["response"]
    resp_headers = {}
    for k, v in resp["headers"].items():
        name = k.lower()
        resp_headers[k] = (redact_url(v) if name == "location"
                           else REDACTED if name == "set-cookie" else v)
    return {**doc,
            "request": {**req, "url": redact_url(req["url"]),
                        "headers": {k: _redact_header(k, v) for k, v in req["headers"].items()},
                        "body": _redact_body(req["body"], req["headers"])},
            "response": {**resp, "headers": resp_headers,
                         "body": _redact_body(resp["body"], resp["headers"])}}


def to_cassette(entries: list[dict[str, Any]], redact: bool = True) -> str:
    """vcrpy's YAML cassette format (version 1). Unless ``redact`` is false, secrets
    are replaced by ``REDACTED`` (``redact_entry``): credential headers, secret fields
    of both bodies, secret parameters of the URL and of ``Location``.

    It still replays with vcrpy's default matching (method, scheme, host, port, path,
    query): headers and bodies are not matched, and a URL only carries a secret the
    client got from an earlier reply, which the cassette gives it redacted too (an
    authorization code read from ``Location`` comes back as ``REDACTED``, and so it is
    sent)."""
    interactions = []
    for e in entries:
        shown = redact_entry(e) if redact else e
        req, resp = shown["request"], shown["response"]
        interactions.append({
            "request": {
                "method": req["method"],
                "uri": req["url"],
                "body": _cassette_body(req["body"]) or None,
                "headers": {k: [v] for k, v in req["headers"].items()},
            },
            "response": {
                "status": {"code": resp["status"], "message": resp["reason"]},
                "headers": {k: [v] for k, v in resp["headers"].items()},
                "body": {"string": _cassette_body(resp["body"]) or ""},
            },
        })
    return yaml.safe_dump({"interactions": interactions, "version": 1}, sort_keys=False,
                          allow_unicode=True)
