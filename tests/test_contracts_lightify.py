"""The Lightify contracts against the recorded traffic and against themselves.

* contracts/openapi/lightify.yaml is a valid OpenAPI 3.1 document, every schema file is a
  valid JSON Schema 2020-12 that something references, and every operation declares the
  statuses and headers the emulator may answer with;
* every cassette in fixtures/cassettes/lightify validates: the response body against the
  schema the OpenAPI document gives for its method, path and status, the request body
  against the operation's request schema;
* every example in the OpenAPI document validates against its own schema, and the PATCH
  request examples are the collection's (when the seed is at hand);
* the schemas bite: removing a required field from any example, or changing the type of any
  field, makes validation fail; request bodies reject what the emulator rejects.

Nothing here needs the network or the emulator; contracts/verify.py is not used.
"""

from __future__ import annotations

import copy
import importlib.util
import json
import re
from collections.abc import Iterator
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from types import ModuleType
from typing import Any
from urllib.parse import urlsplit

import pytest
import requests
import vcr
import yaml
from jsonschema import Draft202012Validator
from vcr.serialize import deserialize
from vcr.serializers import yamlserializer

from tests.contract_files import ContractFiles, check_schema_file

REPO = Path(__file__).resolve().parents[1]
OPENAPI_PATH = REPO / "contracts" / "openapi" / "lightify.yaml"
SCHEMA_DIR = REPO / "contracts" / "schemas" / "lightify"
CASSETTE_DIR = REPO / "fixtures" / "cassettes" / "lightify"
GENERATOR_PATH = CASSETTE_DIR / "make_cassettes.py"

HTTP_METHODS = ("get", "put", "post", "delete", "options", "head", "patch", "trace")
API_ERROR_STATUSES = {"400", "401", "404", "429"}
OAUTH_ERROR_STATUSES = {"400", "401"}
RATE_LIMIT_HEADERS = {
    "Retry-After",
    "X-RateLimit-Limit",
    "X-RateLimit-Remaining",
    "X-RateLimit-Reset",
}
# The collection's requests that have an example response, as cassette names.
COLLECTION_EXAMPLES = (
    "list_devices",
    "get_device",
    "list_groups",
    "get_group",
    "list_scenes",
    "get_scene",
    "apply_scene",
)
# Response fields the contract calls optional ("lights may carry ..."); every other field
# an example carries is required.
OPTIONAL_RESPONSE_FIELDS = frozenset({"colorTemperature", "colorRGBW", "scope"})

Json = Any  # a decoded JSON value


# --------------------------------------------------------------------------- loading


FILES = ContractFiles("lightify")
openapi = FILES.openapi
schema_files = FILES.schema_files
registry = FILES.registry
validator = FILES.validator


def schema_validator(file_name: str) -> Draft202012Validator:
    return validator({"$ref": (SCHEMA_DIR / file_name).as_uri()})


def _pointer(ref: str) -> dict[str, Json]:
    node: Json = openapi()
    for part in ref[2:].split("/"):
        node = node[part]
    return node


def resolve(node: dict[str, Json]) -> dict[str, Json]:
    """Follow local OpenAPI references (#/components/...) until a concrete object."""
    while isinstance(node.get("$ref"), str) and node["$ref"].startswith("#/"):
        node = _pointer(node["$ref"])
    return node


@cache
def generator() -> ModuleType:
    spec = importlib.util.spec_from_file_location("lightify_make_cassettes", GENERATOR_PATH)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def seed_collection() -> dict[str, Json]:
    seed: Path = generator().DEFAULT_SEED
    if not seed.is_file():
        pytest.skip(f"seed collection not available at {seed}")
    return json.loads(seed.read_text(encoding="utf-8"))


# --------------------------------------------------------------------------- the OpenAPI map


def operations() -> Iterator[tuple[str, str, dict[str, Json]]]:
    """(path template, method, operation) for every operation of the document."""
    for template, item in openapi()["paths"].items():
        for method in HTTP_METHODS:
            if method in item:
                yield template, method, item[method]


def template_regex(template: str) -> re.Pattern[str]:
    pieces = re.split(r"(\{[^{}]+\})", template)
    return re.compile(
        "".join("[^/]+" if piece.startswith("{") else re.escape(piece) for piece in pieces) + "/?"
    )


def find_operation(method: str, uri: str) -> dict[str, Json]:
    """The operation serving method + absolute uri (a trailing slash is optional)."""
    parts = urlsplit(uri)
    servers = {server["url"] for server in openapi()["servers"]}
    assert f"{parts.scheme}://{parts.netloc}" in servers, f"{uri} is on no declared server"
    matches = [
        operation
        for template, op_method, operation in operations()
        if op_method == method.lower() and template_regex(template).fullmatch(parts.path)
    ]
    assert len(matches) == 1, f"{method} {uri} matches {len(matches)} operations"
    return matches[0]


def media_schema(content: dict[str, Json], content_type: str | None) -> dict[str, Json]:
    """The schema of the media type content_type (parameters ignored) in an OpenAPI content map."""
    media_type = (content_type or "application/json").split(";")[0].strip().lower()
    assert media_type in content, f"media type {media_type} not declared ({sorted(content)})"
    return content[media_type]["schema"]


def response_schema(operation: dict[str, Json], status: int, content_type: str | None) -> dict:
    responses = operation["responses"]
    assert str(status) in responses, f"status {status} not declared"
    return media_schema(resolve(responses[str(status)])["content"], content_type)


def request_content(operation: dict[str, Json]) -> dict[str, Json]:
    return resolve(operation["requestBody"])["content"]


def request_schema(operation: dict[str, Json], content_type: str | None) -> dict[str, Json]:
    return media_schema(request_content(operation), content_type)


# --------------------------------------------------------------------------- examples


@dataclass(frozen=True)
class Example:
    """A JSON body together with the schema it must satisfy."""

    name: str
    body: Json
    schema: dict[str, Json]
    is_response: bool


def header(headers: dict[str, list[str]], name: str) -> str | None:
    values = [v for key, vs in headers.items() if key.lower() == name.lower() for v in vs]
    return values[0] if values else None


@cache
def cassettes() -> dict[str, dict[str, Json]]:
    return {
        path.name: yaml.safe_load(path.read_text(encoding="utf-8"))
        for path in sorted(CASSETTE_DIR.glob("*.yaml"))
    }


def interactions() -> Iterator[tuple[str, dict[str, Json]]]:
    for name, cassette in cassettes().items():
        for index, exchange in enumerate(cassette["interactions"]):
            yield f"{name}#{index}", exchange


def cassette_examples() -> Iterator[Example]:
    """Each recorded response and request body, with the schema the OpenAPI gives it.

    An exchange the document does not serve is left out here, and reported by
    test_cassette_exchange_is_declared.
    """
    for name, exchange in interactions():
        try:
            yield from exchange_examples(name, exchange["request"], exchange["response"])
        except AssertionError:
            continue


def exchange_examples(
    name: str, request: dict[str, Json], response: dict[str, Json]
) -> Iterator[Example]:
    operation = find_operation(request["method"], request["uri"])
    content_type = header(response["headers"], "Content-Type")
    schema = response_schema(operation, response["status"]["code"], content_type)
    yield Example(f"{name}:response", json.loads(response["body"]["string"]), schema, True)
    if request["body"] is not None:
        schema = request_schema(operation, header(request["headers"], "Content-Type"))
        yield Example(f"{name}:request", json.loads(request["body"]), schema, False)


def openapi_examples() -> Iterator[Example]:
    """Each example the OpenAPI document gives for a request or response body."""
    for template, method, operation in operations():
        bodies = [("request", resolve(operation.get("requestBody", {})), False)]
        bodies += [(status, resolve(r), True) for status, r in operation["responses"].items()]
        for label, body, is_response in bodies:
            for media_type, media in body.get("content", {}).items():
                for key, example in media.get("examples", {}).items():
                    name = f"{method.upper()} {template} {label} {media_type} {key}"
                    yield Example(name, resolve(example)["value"], media["schema"], is_response)


ALL_EXAMPLES = [*cassette_examples(), *openapi_examples()]


def example_params(*, responses_only: bool = False) -> list[Any]:
    return [
        pytest.param(example, id=example.name)
        for example in ALL_EXAMPLES
        if example.is_response or not responses_only
    ]


# --------------------------------------------------------------------------- the document


def test_openapi_document_is_valid() -> None:
    validator_module = pytest.importorskip("openapi_spec_validator")
    validator_module.validate(openapi(), base_uri=OPENAPI_PATH.as_uri())
    assert openapi()["openapi"].startswith("3.1")


def test_openapi_loads_in_schemathesis() -> None:
    schemathesis = pytest.importorskip("schemathesis")
    schema = schemathesis.openapi.from_path(str(OPENAPI_PATH))
    labels = {result.ok().label for result in schema.get_all_operations()}
    assert labels == {f"{method.upper()} {template}" for template, method, _ in operations()}


@pytest.mark.parametrize("path", sorted(SCHEMA_DIR.glob("*.json")), ids=lambda p: p.name)
def test_schema_file_is_valid_2020_12(path: Path) -> None:
    check_schema_file(schema_files()[path], "lightify", path.name)


def test_every_schema_file_is_referenced() -> None:
    texts = [OPENAPI_PATH.read_text(encoding="utf-8")]
    texts += [json.dumps(schema) for schema in schema_files().values()]
    unused = [p.name for p in schema_files() if not any(f'{p.name}"' in t for t in texts)]
    assert not unused


@pytest.mark.parametrize(("template", "method", "operation"), list(operations()))
def test_operation_declares_its_statuses(template: str, method: str, operation: dict) -> None:
    declared = set(operation["responses"])
    if template.startswith("/v4/"):
        assert declared >= API_ERROR_STATUSES
        assert ("304" in declared) == (method == "get")
        assert operation.get("security", openapi()["security"])  # bearer token required
    elif template != "/oauth2/authorize":
        assert declared >= OAUTH_ERROR_STATUSES
    assert "405" not in declared


def test_error_responses_declare_their_headers() -> None:
    responses = openapi()["components"]["responses"]
    assert set(responses["RateLimited"]["headers"]) >= RATE_LIMIT_HEADERS
    assert "WWW-Authenticate" in responses["Unauthorized"]["headers"]
    assert "Location" in responses["RedirectToClient"]["headers"]


# --------------------------------------------------------------------------- cassettes


def test_every_collection_example_has_its_cassette() -> None:
    assert set(cassettes()) == {f"{name}.yaml" for name in COLLECTION_EXAMPLES}


@pytest.mark.parametrize("name", sorted(cassettes()))
def test_cassette_loads_in_vcrpy(name: str) -> None:
    text = (CASSETTE_DIR / name).read_text(encoding="utf-8")
    recorded_requests, responses = deserialize(text, yamlserializer)
    assert recorded_requests and len(recorded_requests) == len(responses)
    assert all(response["body"]["string"] for response in responses)


@pytest.mark.parametrize(("name", "exchange"), list(interactions()))
def test_cassette_replays(name: str, exchange: dict[str, Json]) -> None:
    """A client replaying the cassette gets the recorded status and body, byte for byte."""
    request, response = exchange["request"], exchange["response"]
    cassette = CASSETTE_DIR / name.split("#")[0]
    with vcr.use_cassette(str(cassette), record_mode="none"):
        reply = requests.request(
            request["method"],
            request["uri"],
            headers={key: values[0] for key, values in request["headers"].items()},
            data=request["body"],
        )
    assert reply.status_code == response["status"]["code"]
    assert reply.content == response["body"]["string"].encode("utf-8")


@pytest.mark.parametrize(("name", "exchange"), list(interactions()))
def test_cassette_exchange_is_declared(name: str, exchange: dict[str, Json]) -> None:
    """Method, URI, status and content types of the exchange are all in the document."""
    examples = list(exchange_examples(name, exchange["request"], exchange["response"]))
    assert len(examples) == 1 + (exchange["request"]["body"] is not None)


def test_cassettes_are_what_the_seed_gives() -> None:
    seed_collection()
    expected = generator().rendered_cassettes(generator().DEFAULT_SEED)
    assert set(expected) == set(cassettes())
    for name, text in expected.items():
        assert (CASSETTE_DIR / name).read_text(encoding="utf-8") == text, name


def test_openapi_patch_examples_are_the_collections() -> None:
    """The collection's PATCH bodies, by request name, are exactly the OpenAPI examples."""
    collection = {
        item["name"]: json.loads(item["request"]["body"]["raw"])
        for item in generator().collection_requests(seed_collection()["item"])
        if item["request"]["method"] == "PATCH"
    }
    documented = {
        example["summary"]: example["value"]
        for _, method, operation in operations()
        if method == "patch"
        for example in request_content(operation)["application/json"]["examples"].values()
    }
    assert documented == collection


# --------------------------------------------------------------------------- validation


@pytest.mark.parametrize("example", example_params())
def test_example_matches_its_schema(example: Example) -> None:
    errors = [error.message for error in validator(example.schema).iter_errors(example.body)]
    assert not errors


@pytest.mark.parametrize("example", example_params(responses_only=True))
def test_responses_tolerate_unknown_properties(example: Example) -> None:
    body = example.body
    if isinstance(body, dict) and body:
        assert validator(example.schema).is_valid({**body, "addedByTheCloud": [1, "x"]})


# --------------------------------------------------------------------------- schema bites


def retyped(value: Json) -> Json:
    """A value of another JSON type than value."""
    match value:
        case bool():
            return str(value).lower()
        case int() | float():
            return str(value)
        case str():
            return len(value)
        case list():
            return {"items": value}
        case dict():
            return list(value.values())
        case _:
            return 0


def mutations(body: Json, is_response: bool) -> Iterator[tuple[str, Json]]:
    """(label, mutated copy): each field retyped, each required response field removed."""

    def walk(node: Json, path: tuple[str | int, ...]) -> Iterator[tuple[str, Json]]:
        children = node.items() if isinstance(node, dict) else enumerate(node)
        for key, value in children:
            where = "/".join(map(str, (*path, key)))
            yield f"{where}:retyped", _replaced(body, (*path, key), retyped(value))
            if is_response and isinstance(node, dict) and key not in OPTIONAL_RESPONSE_FIELDS:
                yield f"{where}:removed", _replaced(body, (*path, key), None, remove=True)
            if isinstance(value, dict | list):
                yield from walk(value, (*path, key))

    yield from walk(body, ())


def _replaced(body: Json, path: tuple[str | int, ...], value: Json, remove: bool = False) -> Json:
    mutated = copy.deepcopy(body)
    parent = mutated
    for key in path[:-1]:
        parent = parent[key]
    if remove:
        del parent[path[-1]]
    else:
        parent[path[-1]] = value
    return mutated


BITES = [
    pytest.param(example.schema, mutated, id=f"{example.name}:{label}")
    for example in ALL_EXAMPLES
    for label, mutated in mutations(example.body, example.is_response)
]


@pytest.mark.parametrize(("schema", "mutated"), BITES)
def test_schema_bites(schema: dict[str, Json], mutated: Json) -> None:
    assert not validator(schema).is_valid(mutated)


RGBW = {"red": 255, "green": 126, "blue": 0, "white": 0}
PATCH_BODIES: list[tuple[Json, bool]] = [
    ({"onOff": "off"}, True),
    ({"brightness": 0}, True),
    ({"brightness": 100}, True),
    ({"color": "pink"}, True),
    ({"colorTemperature": 2000}, True),
    ({"colorTemperature": 6500}, True),
    ({"colorRGBW": {"red": 0, "green": 0, "blue": 0, "white": 255}}, True),
    ({"onOff": "on", "brightness": 5, "color": "red", "colorTemperature": 2700}, True),
    ({"onOff": "on", "brightness": 5, "colorTemperature": 2700, "colorRGBW": RGBW}, True),
    ({"color": "red", "colorRGBW": RGBW}, False),  # the emulator refuses it too
    ({}, False),
    ([], False),
    ("on", False),
    ({"onOff": "ON"}, False),
    ({"onOff": True}, False),
    ({"brightness": -1}, False),
    ({"brightness": 101}, False),
    ({"brightness": 50.5}, False),
    ({"brightness": True}, False),
    ({"brightness": "50"}, False),
    ({"color": "black"}, False),
    ({"color": "Red"}, False),
    ({"colorTemperature": 1999}, False),
    ({"colorTemperature": 6501}, False),
    ({"colorRGBW": {"red": 255, "green": 126, "blue": 0}}, False),
    ({"colorRGBW": {**RGBW, "white": 256}}, False),
    ({"colorRGBW": {**RGBW, "red": -1}}, False),
    ({"colorRGBW": {**RGBW, "alpha": 0}}, False),
    ({"colorHSV": {"hue": 0, "saturation": 1, "brightness": 50}}, False),
    ({"onOff": "on", "name": "renamed"}, False),
]
# a dimmable white light, as the device schema wants it
BULB: Json = {"id": "1-d2", "name": "bulb", "type": "LIGHT", "online": True, "deviceModel": "m",
              "firmwareVersion": "1", "onOff": "on", "brightness": 100}

DECISIONS: list[tuple[str, Json, bool]] = [
    *(
        (schema, body, ok)
        for schema in ("device_patch_request.json", "group_patch_request.json")
        for body, ok in PATCH_BODIES
    ),
    ("scene_patch_request.json", {"action": "apply"}, True),
    ("scene_patch_request.json", {"action": "recall"}, False),
    ("scene_patch_request.json", {}, False),
    ("scene_patch_request.json", {"action": "apply", "groupId": "123456-g01"}, False),
    (
        "token_request.json",
        {
            "grant_type": "authorization_code",
            "code": "c",
            "redirect_uri": "https://a/cb",
            "client_id": "i",
            "client_secret": "s",
        },
        True,
    ),
    (
        "token_request.json",
        {
            "grant_type": "authorization_code",
            "code": "c",
            "redirect_uri": "https://a/cb",
            "code_verifier": "v" * 43,
        },
        True,
    ),
    (
        "token_request.json",
        {
            "grant_type": "refresh_token",
            "refresh_token": "r",
            "client_id": "i",
            "client_secret": "s",
        },
        True,
    ),
    ("token_request.json", {"grant_type": "password", "username": "u", "password": "p"}, False),
    (
        "token_request.json",
        {"grant_type": "authorization_code", "redirect_uri": "https://a/cb"},
        False,
    ),
    (
        "token_request.json",
        {
            "grant_type": "authorization_code",
            "code": "c",
            "redirect_uri": "https://a/cb",
            "code_verifier": "short",
        },
        False,
    ),
    (
        "token_request.json",
        {"grant_type": "refresh_token", "refresh_token": "r", "code": "c"},
        False,
    ),
    (
        "token_request.json",
        {"grant_type": "refresh_token", "refresh_token": "r", "scope": "all"},
        False,
    ),
    ("token_request.json", {"grant_type": "refresh_token", "refresh_token": ""}, False),
    ("revoke_request.json", {"token": "t", "token_type_hint": "refresh_token"}, True),
    ("revoke_request.json", {"token": "t", "token_type_hint": "id_token"}, False),
    ("revoke_request.json", {"token_type_hint": "access_token"}, False),
    ("revoke_request.json", {"token": "t", "extra": "x"}, False),
    (
        "authorize_form.json",
        {
            "client_id": "i",
            "redirect_uri": "https://a/cb",
            "response_type": "code",
            "state": "STATE-1",
            "decision": "deny",
        },
        True,
    ),
    (
        "authorize_form.json",
        {
            "client_id": "i",
            "redirect_uri": "https://a/cb",
            "response_type": "code",
            "decision": "approve",
            "email": "a@b.c",
        },
        False,
    ),
    (
        "authorize_form.json",
        {
            "client_id": "i",
            "redirect_uri": "https://a/cb",
            "response_type": "code",
            "decision": "maybe",
        },
        False,
    ),
    ("revoke_response.json", {}, True),
    ("revoke_response.json", {"error": "invalid_request"}, False),
    (
        "device.json",
        {
            "id": "1",
            "name": "hub",
            "type": "GATEWAY",
            "online": True,
            "deviceModel": "m",
            "firmwareVersion": "1",
            "onOff": "on",
        },
        False,
    ),
    (
        "device.json",
        {
            "id": "1-d1",
            "name": "plug",
            "type": "OUTLET",
            "online": True,
            "deviceModel": "m",
            "firmwareVersion": "1",
            "onOff": "on",
            "brightness": 100,
            "colorTemperature": 2700,
        },
        False,
    ),
    (
        "device.json",
        BULB,
        True,
    ),
    (
        "device.json",
        {**BULB, "type": "SENSOR"},
        False,
    ),
    (
        "device_list.json",
        {
            "devices": [
                BULB
            ],
            "cursor": "",
        },
        False,
    ),
    (
        "group.json",
        {"id": "g", "name": "n", "devices": ["d", "d"], "scenes": [], "gatewayId": "1"},
        False,
    ),
]


@pytest.mark.parametrize(
    ("schema_file", "body", "valid"),
    [pytest.param(*case, id=f"{case[0]}:{json.dumps(case[1])}") for case in DECISIONS],
)
def test_schema_decides(schema_file: str, body: Json, valid: bool) -> None:
    assert schema_validator(schema_file).is_valid(body) is valid
