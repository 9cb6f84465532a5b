"""Load the OpenAPI documents and JSON Schemas under contracts/ and map requests to operations.

Generic on purpose: every ``openapi/*.yaml`` is one vendor (its file stem), every
``schemas/**/*.json`` is registered under its ``$id`` and its file URI, so the relative
``$ref: ../schemas/<vendor>/<name>.json`` of an OpenAPI document resolves in the registry.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import yaml
from jsonschema import Draft202012Validator
from referencing import Registry, Resource
from referencing.jsonschema import DRAFT202012

from contracts.files import contracts_dir

CONTRACTS_DIR = contracts_dir()  # through the package: a checkout or an installed wheel
METHODS = ("get", "post", "put", "delete", "patch")
JSON_TYPES = ("application/json",)

# Real hosts of each vendor, used on top of the hosts found in each document's servers.
KNOWN_HOSTS = {
    "api.netatmo.com": "netatmo",
    "api.netatmo.net": "netatmo",
    "data.qivivo.com": "qivivo",
    "account.qivivo.com": "qivivo",
    "emea.lightify-api.com": "lightify",
    "na.lightify-api.com": "lightify",
}
TENANT_PREFIX = re.compile(r"^/_t/[^/]+(?=/|$)")


class ContractError(Exception):
    """Unusable contracts or input (exit status 2 in the CLI)."""


class EndpointNotFound(ContractError, LookupError):
    """No operation of the contracts matches a request."""


@dataclass(frozen=True)
class Operation:
    vendor: str
    method: str  # upper case
    path: str  # template as written in the OpenAPI document
    pointer: str = field(repr=False)  # JSON pointer of the operation object in its document
    doc: dict[str, Any] = field(repr=False, compare=False, hash=False)
    base_uri: str = field(repr=False, compare=False)

    @property
    def key(self) -> str:
        return f"{self.vendor} {self.method} {self.path}"

    @property
    def spec(self) -> dict[str, Any]:
        return resolve_pointer(self.doc, self.pointer)

    @cached_property
    def regex(self) -> re.Pattern[str]:
        parts = re.split(r"(\{[^}/]+\})", self.path)
        body = "".join("[^/]+" if p.startswith("{") else re.escape(p) for p in parts)
        return re.compile(f"^{body}$")

    @property
    def literal_weight(self) -> int:
        """Literal characters in the template: more literal = more specific."""
        return len(re.sub(r"\{[^}/]+\}", "", self.path))

    def response_schema(self, status: str) -> tuple[bool, str | None]:
        """(declared?, JSON pointer of the JSON body schema or None) for a status key."""
        if status not in self.spec.get("responses", {}):
            return False, None
        where = follow_refs(self.doc, f"{self.pointer}/responses/{escape(status)}")
        return True, json_schema_pointer(self.doc, where)

    def request_schema(self) -> str | None:
        if "requestBody" not in self.spec:
            return None
        return json_schema_pointer(self.doc, follow_refs(self.doc, f"{self.pointer}/requestBody"))

    def error_statuses(self) -> list[str]:
        keys = self.spec.get("responses", {})
        return [k for k in keys if k == "default" or k[:1] in "45"]


def escape(token: str) -> str:
    return token.replace("~", "~0").replace("/", "~1")


def resolve_pointer(doc: Any, pointer: str) -> Any:
    node = doc
    for token in pointer.split("/")[1:]:
        token = token.replace("~1", "/").replace("~0", "~")
        node = node[int(token)] if isinstance(node, list) else node[token]
    return node


def follow_refs(doc: dict[str, Any], pointer: str) -> str:
    """Pointer of the node after following local '#/...' $refs (responses, request bodies)."""
    for _ in range(20):
        node = resolve_pointer(doc, pointer)
        ref = node.get("$ref") if isinstance(node, dict) else None
        if not (isinstance(ref, str) and ref.startswith("#/")):
            return pointer
        pointer = ref[1:]
    raise ContractError(f"$ref loop at {pointer}")


def json_schema_pointer(doc: dict[str, Any], pointer: str) -> str | None:
    for media, content in (resolve_pointer(doc, pointer).get("content") or {}).items():
        if media.split(";")[0].strip() in JSON_TYPES or media.endswith("+json"):
            return f"{pointer}/content/{escape(media)}/schema" if "schema" in content else None
    return None


@dataclass
class Vendor:
    name: str
    prefix: str
    hosts: set[str]
    operations: list[Operation]


@dataclass
class Catalogue:
    root: Path
    registry: Registry
    vendors: dict[str, Vendor]
    _validators: dict[tuple[str, str], Draft202012Validator] = field(default_factory=dict)

    # ---- lookups -------------------------------------------------------------------------
    def find(self, vendor: str | None, method: str | None, url: str) -> Operation:
        """The operation for a request; raises EndpointNotFound with a message naming it."""
        host_vendor, path = split_url(url, self)
        vendor = vendor or host_vendor
        candidates = [self.vendors[vendor]] if vendor in self.vendors else []
        if vendor and not candidates:
            raise EndpointNotFound(f"unknown vendor {vendor!r} for {url}")
        path, vendor_from_prefix = strip_prefixes(path, candidates or self.vendors.values())
        if vendor_from_prefix:
            candidates = [self.vendors[vendor_from_prefix]]
        matches = self._match(candidates or list(self.vendors.values()), path)
        return pick_method(matches, method, url)

    def _match(self, vendors: Iterable[Vendor], path: str) -> list[Operation]:
        found = [op for v in vendors for op in v.operations if op.regex.match(path)]
        if not found:
            return []
        best = max(op.literal_weight for op in found)
        found = [op for op in found if op.literal_weight == best]
        owners = {op.vendor for op in found}
        if len(owners) > 1:
            raise EndpointNotFound(f"path {path} is ambiguous between {sorted(owners)}")
        return found

    # ---- validation ----------------------------------------------------------------------
    def validator(self, op: Operation, pointer: str) -> Draft202012Validator:
        """A validator for the schema at ``pointer`` in the operation's OpenAPI document."""
        key = (op.base_uri, pointer)
        if key not in self._validators:
            schema = {"$ref": f"{op.base_uri}#{pointer}"}
            self._validators[key] = Draft202012Validator(schema, registry=self.registry)
        return self._validators[key]


def split_url(url: str, catalogue: Catalogue) -> tuple[str | None, str]:
    """(vendor known from the host or None, path) of a URL or a bare path."""
    parts = urlsplit(url)
    host = (parts.hostname or "").lower()
    vendor = None
    if host:
        vendor = next((v.name for v in catalogue.vendors.values() if host in v.hosts), None)
    return vendor, normalise_path(parts.path if parts.scheme or parts.netloc else url.split("?")[0])


def normalise_path(path: str) -> str:
    path = re.sub(r"/{2,}", "/", "/" + path)
    return path.rstrip("/") or "/"


def strip_prefixes(path: str, vendors: Iterable[Vendor]) -> tuple[str, str | None]:
    """Remove /_t/<tenant>/ and a vendor prefix (in either order)."""
    path = normalise_path(TENANT_PREFIX.sub("", path))
    for vendor in vendors:
        prefix = vendor.prefix.rstrip("/")
        if prefix and (path == prefix or path.startswith(prefix + "/")):
            rest = normalise_path(TENANT_PREFIX.sub("", path[len(prefix):]))
            return rest, vendor.name
    return path, None


def pick_method(matches: list[Operation], method: str | None, url: str) -> Operation:
    if not matches:
        raise EndpointNotFound(f"no endpoint in the contracts matches {url}")
    if method is None:
        order = {m.upper(): i for i, m in enumerate(METHODS)}
        return min(matches, key=lambda op: order.get(op.method, 99))
    for op in matches:
        if op.method == method.upper():
            return op
    allowed = sorted(op.method for op in matches)
    raise EndpointNotFound(f"{method.upper()} {url}: method not in the contracts (has {allowed})")


# ---- loading --------------------------------------------------------------------------------
def load_catalogue(root: Path | str | None = None) -> Catalogue:
    root = Path(root) if root else CONTRACTS_DIR
    openapi_dir = root / "openapi"
    if not openapi_dir.is_dir():
        raise ContractError(f"no openapi/ folder in {root}")
    registry = load_schemas(root / "schemas")
    vendors = {}
    for path in sorted(openapi_dir.glob("*.yaml")):
        vendor, doc = load_vendor(path)
        vendors[vendor.name] = vendor
        resource = Resource.from_contents(doc, default_specification=DRAFT202012)
        registry = registry.with_resource(path.resolve().as_uri(), resource)
    if not vendors:
        raise ContractError(f"no OpenAPI document in {openapi_dir}")
    return Catalogue(root=root, registry=registry.crawl(), vendors=vendors)


def load_schemas(folder: Path) -> Registry:
    resources = []
    for path in sorted(folder.rglob("*.json")):
        try:
            contents = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, ValueError) as exc:
            raise ContractError(f"unreadable schema {path}: {exc}") from exc
        resource = Resource.from_contents(contents, default_specification=DRAFT202012)
        resources.append((path.resolve().as_uri(), resource))
        if isinstance(contents, dict) and contents.get("$id"):
            resources.append((contents["$id"], resource))
    return Registry().with_resources(resources)


def load_vendor(path: Path) -> tuple[Vendor, dict[str, Any]]:
    try:
        doc = yaml.safe_load(path.read_text(encoding="utf-8"))
    except (OSError, yaml.YAMLError) as exc:
        raise ContractError(f"unreadable OpenAPI document {path}: {exc}") from exc
    if not isinstance(doc, dict) or not isinstance(doc.get("paths", {}), dict):
        raise ContractError(f"{path} is not an OpenAPI document")
    name = path.stem
    base_uri = path.resolve().as_uri()
    hosts = {h for h, v in KNOWN_HOSTS.items() if v == name}
    prefix = doc.get("x-mockcloud-prefix") or f"/{name}"
    operations = []
    for template, item in (doc.get("paths") or {}).items():
        hosts |= server_hosts(item.get("servers", []))
        for method in METHODS:
            if method in item:
                pointer = f"/paths/{escape(template)}/{method}"
                operations.append(Operation(name, method.upper(), template, pointer, doc, base_uri))
    hosts |= server_hosts(doc.get("servers", []))
    return Vendor(name, prefix, hosts, operations), doc


LOCAL_HOSTS = {"localhost", "127.0.0.1", "::1", "0.0.0.0"}


def server_hosts(servers: list[dict[str, Any]]) -> set[str]:
    """Hosts that identify a vendor; a local emulator address identifies none."""
    hosts = {(urlsplit(s.get("url", "")).hostname or "").lower() for s in servers}
    return {h for h in hosts if h and h not in LOCAL_HOSTS}
