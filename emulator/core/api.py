"""What the core gives a vendor's routes: the OAuth routes, the guard, request bodies.

``oauth_blueprint`` mounts the profile's authorize, token and revoke paths.
``VendorAPI`` is what a vendor's ``routes(api)`` receives:

* ``api.guard(scopes)``: the decorator every API view goes through: bearer token
  (raising the reason it is refused: missing, malformed, unknown, expired, revoked,
  insufficient scope), then the quota. The view gets ``token`` (an ``oauth.Token``).
* ``api.json_body(schema)``: the request's JSON body, checked (``core.bodies``) against
  the vendor's JSON Schema (``contracts/schemas/<vendor>/<schema>.json``), so the
  contract and the emulator refuse the same bodies; models keep only the semantic
  checks.
* ``api.ctx()``: the request's tenant, store and clock.

Quota keys: ``client`` counts all calls of one OAuth client (every user of an app),
``user`` all calls of one end user (whatever the app), ``app`` one client acting for
one user (the grant a token belongs to).
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any

import orjson
from flask import Blueprint, request

from . import bodies, consent
from .context import CURRENT, Ctx, current
from .errors import MockcloudError
from .oauth import Tokens, VendorAuthServer
from .quotas import Quotas
from .quotas import config as quota_config
from .vendor import Vendor


def oauth_blueprint(server: VendorAuthServer) -> Blueprint:
    """The vendor's OAuth endpoints, at the paths its profile names."""
    p = server.profile
    bp = Blueprint(f"{p.vendor}_oauth", __name__)
    if p.authorize_path:
        bp.add_url_rule(p.authorize_path, "authorize", lambda: consent.authorize(server),
                        methods=["GET", "POST"])

    def token():
        if p.token_request is not None:
            p.token_request(request.environ)
        return server.create_token_response()

    bp.add_url_rule(p.token_path, "token", token, methods=["POST"])
    if p.revoke_path:
        bp.add_url_rule(p.revoke_path, "revoke",
                        lambda: server.create_endpoint_response("revocation"),
                        methods=["POST"])
    return bp


def count_call(ctx: Ctx, vendor: Vendor, client_id: str | None, user_id: str | None) -> None:
    """Count one call; raise ``rate_limited`` (with Retry-After) when over a quota."""
    cfg = quota_config(ctx.store, ctx.tenant, vendor.name, vendor.quotas)
    if not cfg.enabled:
        return
    quotas = Quotas(ctx.store, ctx.tenant)
    keys = {"client": client_id, "user": user_id,
            "app": f"{client_id}:{user_id}" if client_id and user_id else None}
    result = quotas.hit(vendor.name, cfg, keys, ctx.now(),
                        users=lambda: app_users(ctx, vendor, client_id))
    if result.allowed:
        ctx.headers.extend(result.headers.items())
        return
    rule = result.rule
    raise MockcloudError(
        "rate_limited", f"Rate limit exceeded: {rule.limit} calls per {rule.window} s per "
        f"{rule.key}; retry in {result.retry_after} s.", status=cfg.status,
        headers=result.headers)


def app_users(ctx: Ctx, vendor: Vendor, client_id: str | None) -> int:
    """How many users an app has: the users it holds tokens for (live or not yet
    swept). Read only when a quota window of a ``per_user`` rule opens."""
    return len({t.user_id for t in Tokens(ctx, vendor.name).all()
                if t.client_id == client_id and t.user_id})


class VendorAPI:
    def __init__(self, vendor: Vendor, server: VendorAuthServer, settings: Any) -> None:
        self.vendor, self.server, self.settings = vendor, server, settings
        self._schemas: dict[str, bodies.BodySchema] = {}

    @staticmethod
    def ctx() -> Ctx:
        return current()

    def guard(self, scopes: list[str] | None = None) -> Callable:
        """Decorator: the view gets ``token`` (an oauth.Token) as a keyword argument."""
        vendor, server = self.vendor, self.server

        def wrap(view: Callable) -> Callable:
            @functools.wraps(view)
            def inner(*args: Any, **kwargs: Any):
                ctx = CURRENT.get()   # (the app's, which holds the environ: no proxy)
                environ = ctx.environ if ctx is not None and ctx.environ is not None \
                    else request.environ
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
            checker = self._schemas.get(schema)
            if checker is None:
                if self.vendor.schemas is None:
                    raise LookupError(f"vendor {self.vendor.name} declares no schema folder")
                checker = self._schemas[schema] = bodies.schema(self.vendor.schemas, schema)
            checker.check(body)
        return body
