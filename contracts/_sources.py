"""Read what ``verify`` checks: sample folders with a manifest.json, or vcrpy cassettes.

Manifest (a JSON list, as in ``real-samples/netatmo/manifest.json``; a dict
``{"vendor": ..., "samples": [...]}`` is accepted too), one entry per file::

    {"file": "x.json", "endpoint": "/api/homesdata", "kind": "response|error|request",
     "status": 200 | null, "method": "GET" (optional), "vendor": "netatmo" (optional)}

``status: null`` means "not recorded": the body must match one of the endpoint's error bodies.
Cassettes: vcrpy's format (YAML or JSON), ``interactions[].request/response``.
"""

from __future__ import annotations

import gzip
import json
import zlib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

CASSETTE_SUFFIXES = (".yaml", ".yml", ".json")


@dataclass
class Exchange:
    source: str  # file name, or "cassette.yaml#<n>"
    vendor: str | None  # hint; None = from the host / prefix / unique match
    method: str | None
    url: str
    kind: str  # "response", "error" or "request"
    status: int | None
    body: Any  # parsed JSON, raw text, or None when empty
    # what a replay needs (``mockcloud drift``): the recorded request's headers and raw
    # body (cassettes), and the manifest's notes (samples)
    request_headers: dict[str, str] = field(default_factory=dict)
    request_body: str | None = None
    notes: str = ""


@dataclass
class Problem:
    source: str
    message: str


class NotJSON(ValueError):
    """A body that does not parse as JSON."""


def read_path(path: Path) -> tuple[list[Exchange], list[Problem]]:
    """Every exchange under ``path`` plus the problems that made parts of it unusable."""
    if path.is_dir():
        manifest = path / "manifest.json"
        if manifest.is_file():
            return read_manifest(manifest)
        files = sorted(p for p in path.rglob("*") if p.suffix in CASSETTE_SUFFIXES and p.is_file())
        if not files:
            return [], [Problem(str(path), "no manifest.json and no cassette in this folder")]
        return merge(read_cassette(f) for f in files)
    if path.name == "manifest.json":
        return read_manifest(path)
    if path.is_file():
        return read_cassette(path)
    return [], [Problem(str(path), "no such file or folder")]


def merge(parts: Any) -> tuple[list[Exchange], list[Problem]]:
    exchanges: list[Exchange] = []
    problems: list[Problem] = []
    for found, trouble in parts:
        exchanges += found
        problems += trouble
    return exchanges, problems


def load_document(path: Path) -> Any:
    text = path.read_text(encoding="utf-8")
    if path.suffix == ".json":
        return json.loads(text)
    return yaml.safe_load(text)


# ---- manifests ------------------------------------------------------------------------------
def read_manifest(path: Path) -> tuple[list[Exchange], list[Problem]]:
    try:
        doc = load_document(path)
    except (OSError, ValueError, yaml.YAMLError) as exc:
        return [], [Problem(str(path), f"unreadable manifest: {exc}")]
    vendor = doc.get("vendor") if isinstance(doc, dict) else None
    entries = doc.get("samples") if isinstance(doc, dict) else doc
    if not isinstance(entries, list):
        return [], [Problem(str(path), "manifest is neither a list nor {samples: [...]}")]
    vendor = vendor or path.parent.name
    return merge(manifest_entry(path.parent, entry, vendor) for entry in entries)


def manifest_entry(folder: Path, entry: Any, vendor: str) -> tuple[list[Exchange], list[Problem]]:
    if not isinstance(entry, dict) or not entry.get("file") or not entry.get("endpoint"):
        where = str(folder / "manifest.json")
        return [], [Problem(where, f"entry needs file and endpoint: {entry}")]
    name = entry["file"]
    try:
        body = json.loads((folder / name).read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        return [], [Problem(name, f"unreadable sample: {exc}")]
    kind = entry.get("kind", "response")
    exchange = Exchange(name, entry.get("vendor", vendor), entry.get("method"), entry["endpoint"],
                        kind, entry.get("status"), body, notes=str(entry.get("notes") or ""))
    return [exchange], []


# ---- cassettes ------------------------------------------------------------------------------
def read_cassette(path: Path) -> tuple[list[Exchange], list[Problem]]:
    try:
        doc = load_document(path)
        interactions = doc["interactions"]
        if not isinstance(interactions, list):
            raise TypeError("interactions is not a list")
    except (OSError, ValueError, yaml.YAMLError, KeyError, TypeError) as exc:
        return [], [Problem(str(path), f"unreadable cassette: {exc!r}")]
    return merge(interaction(f"{path.name}#{i}", item) for i, item in enumerate(interactions))


def interaction(source: str, item: Any) -> tuple[list[Exchange], list[Problem]]:
    try:
        request, response = item["request"], item["response"]
        method, uri = request["method"], request["uri"]
        status = response["status"]["code"]
        body = decode_body(response.get("body"), response.get("headers") or {})
        sent = decode_body(request.get("body"), request.get("headers") or {})
        headers = {str(k): header(request.get("headers") or {}, str(k))
                   for k in (request.get("headers") or {})}
    except (KeyError, TypeError, OSError, zlib.error, AttributeError) as exc:
        return [], [Problem(source, f"malformed interaction: {exc!r}")]
    found = [Exchange(source, None, method, uri, "response", int(status), body,
                      request_headers=headers, request_body=sent)]
    request_body = request_json(request)
    if request_body is not None:
        found.append(Exchange(source, None, method, uri, "request", None, request_body))
    return found, []


def header(headers: dict[str, Any], name: str) -> str:
    for key, value in headers.items():
        if key.lower() == name.lower():
            return str(value[0] if isinstance(value, list) and value else value)
    return ""


def decode_body(body: Any, headers: dict[str, Any]) -> Any:
    raw = body.get("string") if isinstance(body, dict) else body
    if isinstance(raw, bytes):
        encoding = header(headers, "Content-Encoding").lower()
        if encoding == "gzip" or raw[:2] == b"\x1f\x8b":
            raw = gzip.decompress(raw)
        elif encoding == "deflate":
            raw = zlib.decompress(raw)
        raw = raw.decode("utf-8", errors="replace")
    if raw is None or raw == "":
        return None
    return raw


def request_json(request: dict[str, Any]) -> Any:
    """The JSON body of a recorded request, or None (empty, form-encoded, not JSON)."""
    content_type = header(request.get("headers") or {}, "Content-Type").lower()
    body = decode_body(request.get("body"), {})
    if body is None or "json" not in content_type:
        return None
    try:
        return parse_json(body)
    except NotJSON:
        return None


def parse_json(body: Any) -> Any:
    """Parse a str / bytes body; other values are already parsed."""
    if isinstance(body, bytes):
        body = body.decode("utf-8", errors="replace")
    if not isinstance(body, str):
        return body
    try:
        return json.loads(body)
    except ValueError as exc:
        raise NotJSON(f"body is not JSON: {body[:60]!r}") from exc
