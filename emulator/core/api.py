"""What the core gives a vendor's routes: the OAuth routes, the guard, request bodies.

``oauth_blueprint`` mounts the profile's authorize, token and revoke paths.
``VendorAPI`` is what a vendor's ``routes(api)`` receives:

* ``api.guard(scopes)``: the decorator every API view goes through: bearer token
  (raising the reason it is refused: missing, malformed, unknown, expired, revoked,
  insufficient scope), then the quota. The view gets ``token`` (an ``oauth.Token``).
* ``api.json_body(schema)``: the request's JSON body, checked against the vendor's
  JSON Schema (``contracts/schemas/<vendor>/<schema>.json``), so the contract and the
  emulator refuse the same bodies; models keep only the semantic checks.
* ``api.ctx()``: the request's tenant, store and clock.

Quota keys: ``client`` counts all calls of one OAuth client (every user of an app),
``user`` all calls of one end user (whatever the app), ``app`` one client acting for
one user (the grant a token belongs to).
"""

from __future__ import annotations

import functools
import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import jsonschema_rs
import orjson
from flask import Blueprint, request
from jsonschema import Draft202012Validator
from jsonschema.exceptions import best_match
from referencing import Registry, Resource
from referencing.jsonschema import DRAFT202012

from . import consent
from .context import Ctx, current
from .errors import MockcloudError
from .oauth import VendorAuthServer
from .quotas import Quotas
from .vendor import Vendor


def oauth_blueprint(server: VendorAuthServer) -> Blueprint:
    """The vendor's OAuth endpoints, at the paths its profile names."""
    p = server.profile
    bp = Blueprint(f"{p.vendor}_oauth", __name__)
    if p.authorize_path:
        bp.add_url_rule(p.authorize_path, "authorize", lambda: consent.authorize(server),
                        methods=["GET", "POST"])
    bp.add_url_rule(p.token_path, "token", lambda: server.create_token_response(),
                    methods=["POST"])
    if p.revoke_path:
        bp.add_url_rule(p.revoke_path, "revoke",
                        lambda: server.create_endpoint_response("revocation"),
                        methods=["POST"])
    return bp


def count_call(ctx: Ctx, vendor: Vendor, client_id: str | None, user_id: str | None) -> None:
    """Count one call; raise ``rate_limited`` (with Retry-After) when over a quota."""
    quotas = Quotas(ctx.store, ctx.tenant)
    cfg = quotas.config(vendor.name, vendor.quotas)
    if not cfg.enabled:
        return
    keys = {"client": client_id, "user": user_id,
            "app": f"{client_id}:{user_id}" if client_id and user_id else None}
    result = quotas.hit(vendor.name, cfg, keys, ctx.now())
    if result.allowed:
        ctx.headers.extend(result.headers.items())
        return
    rule = result.rule
    raise MockcloudError(
        "rate_limited", f"Rate limit exceeded: {rule.limit} calls per {rule.window} s per "
        f"{rule.key}; retry in {result.retry_after} s.", status=cfg.status,
        headers=result.headers)


class VendorAPI:
    def __init__(self, vendor: Vendor, server: VendorAuthServer, settings: Any) -> None:
        self.vendor, self.server, self.settings = vendor, server, settings
        self._validators: dict[str, BodySchema] = {}

    @staticmethod
    def ctx() -> Ctx:
        return current()

    def guard(self, scopes: list[str] | None = None) -> Callable:
        """Decorator: the view gets ``token`` (an oauth.Token) as a keyword argument."""
        vendor, server = self.vendor, self.server

        def wrap(view: Callable) -> Callable:
            @functools.wraps(view)
            def inner(*args: Any, **kwargs: Any):
                environ = request.environ
                try:
                    token = server.bearer(scopes, environ)
                except MockcloudError as err:
                    status, code = vendor.errors.status_code(err)
                    if status == 401:
                        err.headers.append((
                            "WWW-Authenticate",
                            f'Bearer realm="{server.profile.realm}", error="{code}", '
                            f'error_description="{err.message}"'))
                    raise
                environ["mockcloud.token"] = token  # for the journal
                count_call(environ["mockcloud.ctx"], vendor, token.client_id, token.user_id)
                return view(*args, token=token, **kwargs)

            return inner

        return wrap

    # -- request bodies --------------------------------------------------------------

    def json_body(self, schema: str | None = None) -> Any:
        """The JSON body (raises ``invalid_request`` when missing or malformed), valid
        against the vendor's ``schema`` when one is named."""
        raw = request.environ.get("mockcloud.body")
        if raw is None:
            raw = request.get_data(cache=True)
        if not raw.strip():
            raise MockcloudError("invalid_request",
                                 "The request body is empty: send a JSON object.")
        try:
            body = orjson.loads(raw)
        except orjson.JSONDecodeError as exc:
            raise MockcloudError("invalid_request",
                                 f"The request body is not valid JSON: {exc}") from None
        if schema is not None:
            check_body(self.validator(schema), body)
        return body

    def validator(self, schema: str) -> BodySchema:
        if schema not in self._validators:
            if self.vendor.schemas is None:
                raise LookupError(f"vendor {self.vendor.name} declares no schema folder")
            self._validators[schema] = schema_validator(self.vendor.schemas, schema)
        return self._validators[schema]


@functools.lru_cache(maxsize=16)
def _resources(folder: Path) -> tuple[tuple[str, Any], ...]:
    out = []
    for path in sorted(folder.glob("*.json")):
        contents = json.loads(path.read_text(encoding="utf-8"))
        out.append((path.resolve().as_uri(), contents))
        if isinstance(contents, dict) and contents.get("$id"):
            out.append((contents["$id"], contents))
    return tuple(out)


class BodySchema:
    """One JSON Schema of a folder, its relative ``$ref``s resolved: checked by
    jsonschema-rs (about 0.3 us for a PATCH body, on the hot path), explained by
    jsonschema (only when a body is refused, for a message a person can act on)."""

    def __init__(self, folder: Path, name: str) -> None:
        folder = folder.resolve()
        resources = _resources(folder)
        ref = {"$ref": (folder / f"{name}.json").as_uri()}
        self.fast = jsonschema_rs.validator_for(ref, registry=jsonschema_rs.Registry(
            list(resources)))
        registry = Registry().with_resources(
            (uri, Resource.from_contents(doc, default_specification=DRAFT202012))
            for uri, doc in resources)
        self.slow = Draft202012Validator(ref, registry=registry)

    def is_valid(self, body: Any) -> bool:
        return self.fast.is_valid(body)


@functools.lru_cache(maxsize=64)
def schema_validator(folder: Path, name: str) -> BodySchema:
    """The checker for ``<folder>/<name>.json``."""
    return BodySchema(folder, name)


def check_body(schema: BodySchema, body: Any) -> None:
    """Raise ``invalid_request`` naming the first thing wrong in ``body``."""
    if schema.is_valid(body):
        return
    error = best_match(schema.slow.iter_errors(body))
    if error is None:  # the two libraries disagree: trust the stricter one
        raise MockcloudError("invalid_request", "Invalid request body.")
    where = ".".join(str(p) for p in error.absolute_path)
    if error.validator == "not":
        message = error.schema.get("description") or error.message
    elif error.validator == "minProperties" and error.instance == {}:
        names = ", ".join(error.schema.get("properties", {}))
        message = "Nothing to change: the object is empty" + (
            f"; send one or more of {names}." if names else ".")
    else:
        message = error.message
    raise MockcloudError("invalid_request",
                         f"Invalid request body{f' at {where!r}' if where else ''}: {message}")
