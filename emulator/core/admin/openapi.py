"""``GET /openapi.yaml`` (this API's document) and ``GET /openapi/<vendor>.yaml``: each
served self-contained (``bundle``) with this emulator's URL first in ``servers``."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import yaml
from flask import Blueprint, Response, request

from contracts.files import openapi_path

from ..errors import MockcloudError
from ._base import mockcloud

bp = Blueprint("openapi", __name__)
PREFIX = "/_mockcloud"


@bp.get("/openapi.yaml")
def admin_document() -> Response:
    return _served(openapi_path("admin"), PREFIX)


@bp.get("/openapi/<vendor>.yaml")
def vendor_document(vendor: str) -> Response:
    v = mockcloud().vendors.get(vendor)
    if v is None or v.openapi is None:
        raise MockcloudError("not_found", f"no OpenAPI document for {vendor[:40]!r}")
    return _served(Path(v.openapi), v.prefix)


def _served(path: Path, prefix: str | None) -> Response:
    if not path.exists():
        raise MockcloudError("not_found", f"{path.name} is not installed")
    doc = yaml.safe_load(path.read_text(encoding="utf-8"))
    base = request.host_url.rstrip("/") + request.script_root.replace(PREFIX, "")
    doc["servers"] = [{"url": base + (prefix or ""),
                       "description": "this mockcloud emulator"}] + doc.get("servers", [])
    doc = bundle(doc, path.parent)
    return Response(yaml.safe_dump(doc, sort_keys=False), mimetype="application/yaml")


def bundle(doc: dict[str, Any], base: Path) -> dict[str, Any]:
    """Make an OpenAPI document self-contained for a remote reader (schemathesis over
    HTTP): every JSON Schema file it ``$ref``s goes under ``components/schemas`` and
    every reference, in the document and inside the schemas, points there."""
    schemas = doc.setdefault("components", {}).setdefault("schemas", {})
    names: dict[Path, str] = {}

    def include(path: Path) -> str:
        if path not in names:
            name = path.stem
            while name in schemas and path not in names:
                name += "_"
            names[path] = name
            schema = json.loads(path.read_text(encoding="utf-8"))
            schema.pop("$id", None)
            schema.pop("$schema", None)
            schemas[name] = schema
            schemas[name] = rewrite(schema, path)
        return names[path]

    def rewrite(node: Any, current: Path | None) -> Any:
        if isinstance(node, list):
            return [rewrite(v, current) for v in node]
        if not isinstance(node, dict):
            return node
        out = {k: rewrite(v, current) for k, v in node.items()}
        ref = node.get("$ref")
        if isinstance(ref, str):
            file_part, _, pointer = ref.partition("#")
            if file_part:
                folder = current.parent if current else base
                out["$ref"] = f"#/components/schemas/{include((folder / file_part).resolve())}" \
                    + pointer
            elif current is not None:  # "#/$defs/x" inside a schema file
                out["$ref"] = f"#/components/schemas/{names[current]}{pointer}"
        return out

    rewritten = rewrite({k: v for k, v in doc.items() if k != "components"}, None)
    rewritten["components"] = rewrite(doc["components"], None)
    return rewritten
