"""OSRAM Lightify cloud (v4 "Public API"), switched off on 31 Aug 2021.

Hosts ``emea.lightify-api.com`` and ``na.lightify-api.com``, or the ``/lightify``
prefix. See ``../shared/apis/lightify.md`` for what is SEEN; the choices made here
where the record is silent (all INFERRED):

* access tokens live ``MOCKCLOUD_LIGHTIFY_EXPIRES_IN`` seconds (default 3600);
  authorization codes 300 s ("valid only for 5 minutes"), single use;
* refresh rotates: the old access *and* refresh token die at once; revocation with
  either token kills both; refresh tokens do not expire by themselves;
* token responses are ``{access_token, refresh_token, token_type: "Bearer",
  expires_in}``; every error is ``{"error", "error_description"}`` (see errors.py);
* no rate limit unless one is configured (world file or admin API), then 429 with
  ``Retry-After`` and ``X-RateLimit-*``;
* device PATCH answers the whole updated device; group PATCH the group plus
  ``updated``/``skipped`` device ids; a PATCH a device cannot do is a 400, while a
  group silently skips the members that cannot; named colours map to CSS RGB
  values (models.COLORS); colour temperature is 2000-6500 K;
* PATCHing an offline device is accepted and stored (the gateway would apply it on
  reconnection). A device is offline by the world (``online: false``) or by the admin
  API (``PATCH /_mockcloud/devices/lightify/<id>`` with ``online``/``reachable``; see
  ``devices.py``); batteries, windows and weather Lightify devices have not (400).
"""

from __future__ import annotations

from dataclasses import dataclass

from contracts.files import contracts_dir

from ..core.oauth import AuthProfile
from ..core.quotas import QuotaConfig
from ..core.vendor import Vendor
from . import devices, from_reads, routes, world
from .errors import ENVELOPE

CONTRACTS = contracts_dir()


@dataclass
class Settings:
    """``MOCKCLOUD_LIGHTIFY_<FIELD>``."""

    expires_in: int = 3600      # access-token lifetime, s (INFERRED)
    code_ttl: int = 300         # authorization codes: "valid only for 5 minutes"


def auth(settings: Settings) -> AuthProfile:
    return AuthProfile(
        vendor="lightify",
        authorize_path="/oauth2/authorize",
        token_path="/oauth2/access_token",
        revoke_path="/oauth2/revoke_token",
        grants=("authorization_code", "refresh_token"),
        expires_in=settings.expires_in,
        code_ttl=settings.code_ttl,
        rotate_refresh=True,
        revoke_whole_grant=True,
        realm="lightify",
    )


VENDOR = Vendor(
    name="lightify",
    prefix="/lightify",
    hosts=("emea.lightify-api.com", "na.lightify-api.com"),
    auth=auth,
    routes=routes.routes,
    errors=ENVELOPE,
    world=world,
    settings=Settings,
    quotas=QuotaConfig(enabled=False),
    # the one captured reply (Apply Scene) came from nginx with HSTS
    headers=(("Server", "nginx"),
             ("Strict-Transport-Security", "max-age=31536000; includeSubDomains")),
    openapi=CONTRACTS / "openapi" / "lightify.yaml",
    schemas=CONTRACTS / "schemas" / "lightify",
    devices=devices.CONTROL,
    from_reads=from_reads.build,
)
