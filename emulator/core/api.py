"""The guard every vendor API route goes through: bearer token, then quota.

Quota keys: ``client`` counts all calls of one OAuth client (every user of an app),
``user`` all calls of one end user (whatever the app), ``app`` one client acting for
one user (the grant a token belongs to).
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any

from authlib.oauth2 import OAuth2Error
from flask import request

from .context import Ctx
from .oauth import VendorAuthServer, authenticate, describe_error
from .quotas import Quotas
from .vendor import Vendor


def count_call(ctx: Ctx, vendor: Vendor, client_id: str | None, user_id: str | None):
    """Count one call; a vendor-shaped 429 (or configured status) response if over."""
    quotas = Quotas(ctx.store, ctx.tenant)
    cfg = quotas.config(vendor.name, vendor.quotas)
    if not cfg.enabled:
        return None
    keys = {"client": client_id, "user": user_id,
            "app": f"{client_id}:{user_id}" if client_id and user_id else None}
    result = quotas.hit(vendor.name, cfg, keys, ctx.now())
    if result.allowed:
        ctx.headers.extend(result.headers.items())
        return None
    rule = result.rule
    return vendor.render_error(
        cfg.status or 429, "rate_limited",
        f"Rate limit exceeded: {rule.limit} calls per {rule.window} s per {rule.key}; "
        f"retry in {result.retry_after} s.", result.headers)


def guarded(vendor: Vendor, server: VendorAuthServer,
            scopes: list[str] | None = None) -> Callable:
    """Decorator: the view gets ``token`` (an oauth.Token) as a keyword argument."""
    rp = server.protector()

    def wrap(view: Callable) -> Callable:
        @functools.wraps(view)
        def inner(*args: Any, **kwargs: Any):
            environ = request.environ
            try:
                token = authenticate(rp, scopes, environ)
            except OAuth2Error as error:
                status, code, text, headers = describe_error(error)
                if code in ("missing_authorization", "unsupported_token_type"):
                    status, code = 401, "invalid_token"
                if status == 401:
                    headers = [("WWW-Authenticate",
                                f'Bearer realm="{server.profile.realm}", error="{code}", '
                                f'error_description="{text}"')]
                return vendor.render_error(status, code, text, headers)
            environ["mockcloud.token"] = token  # for the journal
            limited = count_call(environ["mockcloud.ctx"], vendor, token.client_id,
                                 token.user_id)
            if limited is not None:
                return limited
            return view(*args, token=token, **kwargs)

        return inner

    return wrap
