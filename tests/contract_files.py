"""Loading one area's contract files for tests: its OpenAPI document, its JSON Schema
files, a `referencing` registry that resolves both the document's relative refs and
the schemas' `$id`s, and cached validators."""

from __future__ import annotations

import json
from functools import cache
from pathlib import Path
from typing import Any

import yaml
from jsonschema import Draft202012Validator
from referencing import Registry, Resource
from referencing.jsonschema import DRAFT202012

REPO = Path(__file__).resolve().parents[1]
Json = Any
DIALECT = "https://json-schema.org/draft/2020-12/schema"


def check_schema_file(schema: dict[str, Json], area: str, name: str,
                      titled: bool = True) -> None:
    """A contract schema file: valid JSON Schema 2020-12 that says so, its $id ending in
    ``/<area>/<file name>``, a description (and a title when ``titled``)."""
    Draft202012Validator.check_schema(schema)
    assert schema["$schema"] == DIALECT
    assert schema["$id"].endswith(f"/{area}/{name}")
    assert schema.get("description")
    if titled:
        assert schema.get("title")


class ContractFiles:
    def __init__(self, area: str) -> None:
        self.openapi_path = REPO / "contracts" / "openapi" / f"{area}.yaml"
        self.schema_dir = REPO / "contracts" / "schemas" / area

    @cache  # noqa: B019 - one instance per area, alive for the test session
    def openapi(self) -> dict[str, Json]:
        return yaml.safe_load(self.openapi_path.read_text(encoding="utf-8"))

    @cache  # noqa: B019
    def schema_files(self) -> dict[Path, dict[str, Json]]:
        return {path: json.loads(path.read_text(encoding="utf-8"))
                for path in sorted(self.schema_dir.glob("*.json"))}

    @cache  # noqa: B019
    def registry(self) -> Registry:
        """Every schema file, by its file URI (the document's refs) and by its $id."""
        resources = []
        for path, schema in self.schema_files().items():
            resource = Resource(contents=schema, specification=DRAFT202012)
            resources += [(path.as_uri(), resource), (schema["$id"], resource)]
        return Registry().with_resources(resources)

    @cache  # noqa: B019
    def _validator(self, schema_json: str, base_uri: str) -> Draft202012Validator:
        schema = {**json.loads(schema_json), "$id": base_uri}
        return Draft202012Validator(schema, registry=self.registry())

    def validator(self, schema: dict[str, Json],
                  base_uri: str | None = None) -> Draft202012Validator:
        """A cached validator for a schema whose relative $refs resolve against base_uri
        (default: the OpenAPI document)."""
        return self._validator(json.dumps(schema, sort_keys=True),
                               base_uri or self.openapi_path.as_uri())
