"""Request bodies checked against their contract: one JSON Schema file (2020-12) of a
folder of ``contracts/schemas/``, its relative ``$ref``s resolved. What a schema can say
(shape, types, ranges, required and unknown fields) is said there only; views and
models keep the semantic checks (capabilities, ownership, an instant that parses).

jsonschema-rs decides (about 0.3 us for a PATCH body, so it can sit on the hot path);
jsonschema explains, only for a refused body, with a message a person can act on:
``'rules[0].limit': 0 is less than the minimum of 1``. ``strict_integers`` (the admin
API) refuses ``5.0`` where an integer is due; vendors take JSON's one number type.
"""

from __future__ import annotations

import functools
import json
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl

import jsonschema_rs
from jsonschema import Draft202012Validator, validators
from jsonschema.exceptions import ValidationError, best_match
from referencing import Registry, Resource
from referencing.jsonschema import DRAFT202012

from .errors import MockcloudError

MAX_MESSAGE = 400  # characters of a value quoted in an error message
FORM_TYPE = "application/x-www-form-urlencoded"
BODY = "mockcloud.body"  # environ key: the request body the app buffered (app._buffer_input)


def buffered_form(environ: Mapping[str, Any], mimetype: Callable[[], str | None],
                  decode_errors: str, unquote_errors: str) -> list[tuple[str, str]] | None:
    """The fields of a url-encoded body the app has buffered, in order; None when the
    request has no buffered body or is not a form (the caller asks werkzeug then).

    The Content-Type a client usually sends is compared as it is; only another one is
    parsed (``mimetype()``, werkzeug's, lower-cased here). The body is decoded as UTF-8
    with ``decode_errors`` (``"strict"``: an undecodable body is an empty form, as
    werkzeug's form parser makes it) and unquoted by ``parse_qsl`` with
    ``unquote_errors``, blank values kept; a body with nothing to unquote (no ``%``,
    no ``+``) is only split, as ``parse_qsl`` would split it."""
    raw = environ.get(BODY)
    if raw is None or (environ.get("CONTENT_TYPE") != FORM_TYPE
                       and (mimetype() or "").lower() != FORM_TYPE):
        return None
    try:
        text = raw.decode("utf-8", decode_errors)
    except UnicodeDecodeError:
        return []
    if "%" in text or "+" in text:
        return parse_qsl(text, keep_blank_values=True, errors=unquote_errors)
    return [field.partition("=")[::2] for field in text.split("&") if field]


def _is_integer(_checker: Any, instance: Any) -> bool:
    return isinstance(instance, int) and not isinstance(instance, bool)


StrictValidator = validators.extend(
    Draft202012Validator,
    type_checker=Draft202012Validator.TYPE_CHECKER.redefine("integer", _is_integer))


@functools.lru_cache(maxsize=16)
def _resources(folder: Path) -> tuple[tuple[str, Any], ...]:
    """(URI, schema) of every file: by file URI and by ``$id``. Without ``$schema``, a
    ``$ref``'d file is checked by the caller's validator class too."""
    out = []
    for path in sorted(folder.glob("*.json")):
        contents = json.loads(path.read_text(encoding="utf-8"))
        if isinstance(contents, dict):
            contents.pop("$schema", None)
        out.append((path.resolve().as_uri(), contents))
        if isinstance(contents, dict) and contents.get("$id"):
            out.append((contents["$id"], contents))
    return tuple(out)


class BodySchema:
    def __init__(self, folder: Path, name: str, strict_integers: bool = False) -> None:
        folder = folder.resolve()
        resources = _resources(folder)
        ref = {"$ref": (folder / f"{name}.json").as_uri()}
        self.fast = None if strict_integers else jsonschema_rs.validator_for(
            ref, registry=jsonschema_rs.Registry(list(resources)))
        registry = Registry().with_resources(
            (uri, Resource(contents=doc, specification=DRAFT202012)) for uri, doc in resources)
        cls = StrictValidator if strict_integers else Draft202012Validator
        self.slow = cls(ref, registry=registry)

    def is_valid(self, body: Any) -> bool:
        return self.fast.is_valid(body) if self.fast is not None else self.slow.is_valid(body)

    def check(self, body: Any, code: str | None = None) -> Any:
        """``body`` when valid, else ``invalid_request`` naming the field (with ``code``
        as the error code, but when the body is not even of the right type)."""
        if self.is_valid(body):
            return body
        error = best_match(self.slow.iter_errors(body))
        if error is None:  # the two libraries disagree: say so rather than pass it
            raise MockcloudError("invalid_request", "the body is not valid", code=code)
        error = _focus(error)
        if not error.absolute_path and error.validator == "type":
            code = None
        raise MockcloudError("invalid_request", describe(error), code=code)


@functools.lru_cache(maxsize=128)
def schema(folder: Path, name: str, strict_integers: bool = False) -> BodySchema:
    """The checker of ``<folder>/<name>.json`` (made once)."""
    return BodySchema(folder, name, strict_integers)


def _focus(error: ValidationError) -> ValidationError:
    """Into an anyOf/oneOf, when only one of its branches is of the value's type (a
    fault rule or a list of them: an object is judged as a rule)."""
    while error.validator in ("anyOf", "oneOf") and error.context:
        branches: dict[Any, list[ValidationError]] = {}
        for sub in error.context:
            branches.setdefault(sub.relative_schema_path[0], []).append(sub)
        fitting = [errors for errors in branches.values()
                   if not any(e.validator == "type" and not e.relative_path for e in errors)]
        if len(fitting) != 1:
            break
        error = best_match(fitting[0]) or error
    return error


def describe(error: ValidationError) -> str:
    """Where the body is wrong and why. Keywords whose own message says little (anyOf,
    pattern, not) use the description the schema gives at that place; an empty object
    where something is due lists what may be sent."""
    where = _where(list(error.absolute_path))
    schema_ = error.schema if isinstance(error.schema, dict) else {}
    explained = schema_.get("description")
    if error.validator == "not" and isinstance(error.validator_value, dict):
        explained = error.validator_value.get("description") or explained  # the rule's own
    if error.validator in ("anyOf", "oneOf", "pattern", "not") \
            and isinstance(explained, str) and explained:
        return f"{where} is not valid ({_short(error.instance)}): {explained}"
    if error.validator == "minProperties" and error.instance == {}:
        names = ", ".join(schema_.get("properties", {}))
        return f"Nothing to change: {where} is empty" + (
            f"; send one or more of {names}" if names else "")
    return f"{where}: {_clip(error.message)}"


def _where(path: list[Any]) -> str:
    if not path:
        return "the body"
    text = ""
    for part in path:
        text += f"[{part}]" if isinstance(part, int) else (f".{part}" if text else str(part))
    return f"'{text}'"


def _short(value: Any) -> str:
    return _clip(json.dumps(value, ensure_ascii=False, default=str))


def _clip(text: str) -> str:
    return text if len(text) <= MAX_MESSAGE else text[:MAX_MESSAGE] + "..."
