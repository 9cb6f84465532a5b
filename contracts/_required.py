"""Find the required fields a schema enforces on a concrete instance, and mutate them.

Used by the generated "schemas bite" tests: for a sample that validates, every field the
schema requires (at any depth, through $ref / allOf / the matching anyOf-oneOf branch) is
removed or given another JSON type, and validation must then fail.
"""

from __future__ import annotations

import copy
import json
import os
import pathlib
import re
from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

from jsonschema import Draft202012Validator

from contracts._catalogue import Catalogue, Operation

if TYPE_CHECKING:
    from referencing._core import Resolver

Path = tuple[str | int, ...]
PathLike = str | os.PathLike[str]


def required_fields(validator: Draft202012Validator, instance: Any) -> list[Path]:
    """Paths (into ``instance``) of required fields, first occurrence per schema location."""
    seen: set[tuple[int, str]] = set()
    found: list[Path] = []
    resolver = validator._resolver  # jsonschema keeps the registry-bound resolver here
    for path, schema_id in _walk(validator, validator.schema, resolver, instance, ()):
        key = (schema_id, str(path[-1]))
        if key not in seen:
            seen.add(key)
            found.append(path)
    return found


def _walk(validator: Draft202012Validator, schema: Any, resolver: Resolver, instance: Any,
          path: Path) -> Iterator[tuple[Path, int]]:
    if not isinstance(schema, dict):
        return
    if "$ref" in schema:
        resolved = resolver.lookup(schema["$ref"])
        yield from _walk(validator, resolved.contents, resolved.resolver, instance, path)
    for sub in schema.get("allOf", []):
        yield from _walk(validator, sub, resolver, instance, path)
    for keyword in ("anyOf", "oneOf"):
        matching = [sub for sub in schema.get(keyword, [])
                    if validator.evolve(schema=sub, _resolver=resolver).is_valid(instance)]
        if len(matching) == 1:  # with several matching alternatives no one of them is required
            yield from _walk(validator, matching[0], resolver, instance, path)
    if isinstance(instance, dict):
        yield from _walk_object(validator, schema, resolver, instance, path)
    elif isinstance(instance, list):
        items = schema.get("items")
        for index, item in enumerate(instance):
            yield from _walk(validator, items, resolver, item, path + (index,))


def _walk_object(validator: Draft202012Validator, schema: dict[str, Any], resolver: Resolver,
                 instance: dict[str, Any], path: Path) -> Iterator[tuple[Path, int]]:
    for name in schema.get("required", []):
        if name in instance:
            yield path + (name,), id(schema)
    properties = schema.get("properties", {})
    patterns = schema.get("patternProperties", {})
    for name, value in instance.items():
        if name in properties:
            yield from _walk(validator, properties[name], resolver, value, path + (name,))
            continue
        matched = [s for p, s in patterns.items() if re.search(p, name)]
        for sub in matched:
            yield from _walk(validator, sub, resolver, value, path + (name,))
        if not matched and isinstance(schema.get("additionalProperties"), dict):
            yield from _walk(validator, schema["additionalProperties"], resolver, value,
                             path + (name,))


def other_type(value: Any) -> Any:
    """A value of another JSON type, the way drift usually looks (numbers as strings...)."""
    if isinstance(value, bool):
        return str(value).lower()
    if isinstance(value, int | float):
        return str(value)
    if isinstance(value, str):
        return {"unexpected": value}
    if value is None:
        return {"unexpected": None}
    return "unexpected"


def mutated(instance: Any, path: Path, how: str) -> Any:
    """A deep copy of ``instance`` with the field at ``path`` removed (how="remove") or
    given another type (how="retype")."""
    clone = copy.deepcopy(instance)
    parent = clone
    for part in path[:-1]:
        parent = parent[part]
    if how == "remove":
        del parent[path[-1]]
    else:
        parent[path[-1]] = other_type(parent[path[-1]])
    return clone


def pointer(path: Path) -> str:
    return "".join("/" + str(p).replace("~", "~0").replace("/", "~1") for p in path)


def sample_validator(catalogue: Catalogue, vendor: str, entry: dict[str, Any],
                     body: Any) -> Draft202012Validator:
    """The validator a manifest sample is checked with (request body, status, or for an
    unrecorded status the first error body it matches)."""
    method = entry.get("method") or ("POST" if entry.get("kind") == "request" else None)
    op: Operation = catalogue.find(vendor, method, entry["endpoint"])
    if entry.get("kind") == "request":
        return catalogue.validator(op, _must(op.request_schema(), op))
    if entry.get("status") is not None:
        return catalogue.validator(op, _must(op.response_schema(str(entry["status"]))[1], op))
    for status in op.error_statuses():
        where = op.response_schema(status)[1]
        if where and catalogue.validator(op, where).is_valid(body):
            return catalogue.validator(op, where)
    raise AssertionError(f"{entry['file']}: no error body of {op.key} accepts it")


def _must(where: str | None, op: Operation) -> str:
    if where is None:
        raise AssertionError(f"{op.key}: no JSON schema for this sample")
    return where


def load_manifest(folder: PathLike) -> list[dict[str, Any]]:
    return json.loads((pathlib.Path(folder) / "manifest.json").read_text(encoding="utf-8"))


def bite_cases(catalogue: Catalogue, vendor: str, folder: PathLike) -> list[tuple[str, Path]]:
    """(sample file, required-field path) for every sample of a manifest folder."""
    cases = []
    for entry in load_manifest(folder):
        body = json.loads((pathlib.Path(folder) / entry["file"]).read_text(encoding="utf-8"))
        validator = sample_validator(catalogue, vendor, entry, body)
        cases += [(entry["file"], path) for path in required_fields(validator, body)]
    return cases
