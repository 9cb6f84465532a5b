"""Qivivo public API v2 (switched off in September 2020), emulated as its contract.

Hosts ``data.qivivo.com`` (the API, ``/api/v2/...``) and ``account.qivivo.com`` (the
authorization page at its root ``/`` and ``/oauth/token``), or the ``/qivivo``
prefix. The two hosts' paths do not collide, so both base URLs map onto the one
prefix: ``https://account.qivivo.com`` -> ``http://<emulator>/qivivo`` (authorize at
``/qivivo/?response_type=code&...``, token at ``/qivivo/oauth/token``) and
``https://data.qivivo.com/api/v2`` -> ``http://<emulator>/qivivo/api/v2``.

What is SEEN is in ``../shared/apis/qivivo.md``; the choices made where the record is
silent (INFERRED):

* OAuth: ``client_credentials`` (also spelt ``client_credential``),
  ``authorization_code`` and ``refresh_token``; parameters from the query string and
  the body, a wrong ``Content-Type`` ignored, client authentication by HTTP Basic or
  in the parameters (``oauth.py``); refresh with a ``client_id`` and no secret for an
  app marked ``refresh_without_secret`` (rQivivo). Scopes: the eight documented
  ones; anything else (``update_thermostat`` too: "scope is invalid") is refused
  with ``invalid_scope``. A client-credentials token acts for the app's ``owner``,
  has no refresh token, and carries the scope as requested (echoed, so oauthlib does
  not warn), or the app's ``default_scope`` when none is sent ("client credentials
  without scope = full access" in the default world). Tokens live
  ``MOCKCLOUD_QIVIVO_EXPIRES_IN`` (3600) s; codes 300 s, once; refresh rotates.
* Token replies ``{access_token, refresh_token?, token_type: "Bearer", expires_in,
  scope}``; token errors ``{error, error_description, message}`` (league/oauth2-server).
* API errors: ``errors.py`` (Laravel shapes). Scopes per endpoint: the contract's
  (e.g. the temporary instruction takes ``update_thermostat`` or
  ``update_programmation``).
* The thermostat on the clock (``control.py``), the rooms' physics (``physics.py``),
  the house and its writes (``models.py``): program ids are positions (1..n, renumbered
  when one is deleted, so ``user_programs[id - 1]`` works); the active program cannot
  be deleted (422); a non-numeric program id is 400 "Unexpected error"; a temporary
  instruction shows in ``current_temperature_order`` at once (rounded to 0.5).
* Admin device overrides (``devices.py``): a thermostat, module or gateway offline
  (its readings and ``lastCommunicationDate`` stay at its last communication; the
  gateway takes every device with it), the thermostat's ``battery_percent``
  (``voltagePercentage``).
* Quota: 1,000 calls per hour per client (core key ``client``) on the API (not the
  token endpoint), then 429 ``Too Many Attempts.`` with ``Retry-After`` and
  ``X-RateLimit-*``; on by default, changeable per world (``qivivo.quotas``) or with
  ``PUT /_mockcloud/quotas/qivivo``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from contracts.files import contracts_dir

from ..core.oauth import AuthProfile
from ..core.quotas import QuotaConfig, QuotaRule
from ..core.vendor import Vendor
from . import devices, from_reads, oauth, routes, world
from .errors import ENVELOPE

CONTRACTS = contracts_dir()
SCOPES = ("user_basic_information", "read_devices", "read_thermostats",
          "read_wireless_modules", "read_programmation", "update_programmation",
          "read_house_data", "update_house_settings")
QUOTAS = QuotaConfig(enabled=True, rules=[QuotaRule("client-1000-per-hour", "client",
                                                    1000, 3600)])


@dataclass
class Settings:
    """``MOCKCLOUD_QIVIVO_<FIELD>``."""

    expires_in: int = 3600      # access-token lifetime, s (documented)
    code_ttl: int = 300         # authorization codes, s (INFERRED)


def error_body(payload: dict[str, Any]) -> dict[str, Any]:
    text = payload.get("error_description") or payload["error"]
    return {"error": payload["error"], "error_description": text, "message": text}


def auth(settings: Settings) -> AuthProfile:
    return AuthProfile(
        vendor="qivivo",
        authorize_path="/",
        token_path="/oauth/token",
        grants=("authorization_code", "refresh_token", "client_credentials"),
        expires_in=settings.expires_in,
        code_ttl=settings.code_ttl,
        rotate_refresh=True,
        revoke_whole_grant=True,
        scopes_supported=SCOPES,
        oauth_error_body=error_body,
        token_request=oauth.normalise,
        realm="qivivo",
    )


VENDOR = Vendor(
    name="qivivo",
    prefix="/qivivo",
    hosts=("data.qivivo.com", "account.qivivo.com"),
    auth=auth,
    routes=routes.routes,
    errors=ENVELOPE,
    world=world,
    settings=Settings,
    quotas=QUOTAS,
    collapse_slashes=True,
    openapi=CONTRACTS / "openapi" / "qivivo.yaml",
    schemas=CONTRACTS / "schemas" / "qivivo",
    app_fields=("refresh_without_secret",),
    devices=devices.CONTROL,
    from_reads=from_reads.build,
)
