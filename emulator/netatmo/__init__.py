"""Netatmo Connect: its OAuth server and the ``/api/<method>`` cloud.

Hosts ``api.netatmo.com`` and the legacy ``api.netatmo.net``, or the ``/netatmo``
prefix (``/netatmo/oauth2/token``, ``/netatmo/api/homesdata``). See
``../shared/apis/netatmo.md`` for what is SEEN; the choices made here:

* OAuth (§1): ``/oauth2/authorize`` is the core's consent page (``scope``
  space-separated; a scope outside ``SCOPES`` is refused with ``invalid_scope``;
  no ``scope``: the app's ``default_scope``, ``read_station`` in the default world).
  ``/oauth2/token`` takes ``authorization_code``, ``refresh_token`` (rotation: the
  old access and refresh token die at once, reusing the old refresh token is
  ``invalid_grant``) and ``password`` only for apps the world marks
  ``legacy_password: true`` (Netatmo removed it in July 2023; others get
  ``unauthorized_client``). Client credentials in the form body or HTTP Basic.
  There is no revocation endpoint (none is documented).
* Token replies: ``access_token`` and ``refresh_token`` shaped ``<user id>|<32 hex>``
  (the user id is 24 hex digits, derived from the world seed and the login when the
  world gives none), ``scope`` a JSON array, ``expires_in`` and ``expire_in`` (both
  ``MOCKCLOUD_NETATMO_EXPIRES_IN``, default 10800), no ``token_type`` (the sample has
  none). Refresh tokens never expire unless ``MOCKCLOUD_NETATMO_REFRESH_TTL`` > 0
  ("typically a year" is unverified). Codes live ``CODE_TTL`` s (INFERRED 300), once.
* Token errors are flat, ``{"error": "invalid_grant"}`` (SEEN), with an
  ``error_description`` only when ``MOCKCLOUD_NETATMO_OAUTH_ERROR_DESCRIPTION`` is
  true. A bad client is the core's 401 ``invalid_client`` (RFC 6749; one report shows
  400, so the contract allows both).
* API errors and their codes: ``errors.py``. The transport (GET and POST, form and
  query and JSON bodies, ``access_token`` as a parameter): ``transport.py``.
* Quotas (§3.4), on by default: per user of an app (core key ``app``, INFERRED from
  "per user token") 50 calls / 10 s and 500 / hour; per application (key ``client``)
  200 / 10 s and 2,000 / hour, or 2 x users / 10 s and 20 x users / hour past 100
  users (``per_user`` rules: users = those the app holds tokens for). Over a limit:
  code 26 at ``MOCKCLOUD_NETATMO_RATE_LIMIT_STATUS`` (429 "Maximum api usage
  reached", default, as seen since 2025; or 403 "User usage reached", the older
  behaviour pyatmo turns into ``ApiThrottlingError``), unless the tenant's quota
  config (world ``netatmo.quotas`` or ``PUT /_mockcloud/quotas/netatmo``) sets a status.
* ``setstate`` on lights, dimmers, plugs, shutters, cameras, alarms and tags:
  ``home_devices`` (each family needs its write scope: write_magellan,
  write_bubendorff, write_camera, write_presence; rooms write_thermostat or
  write_smarther). ``MOCKCLOUD_NETATMO_SETSTATE_ALREADY`` (cameras | all | none) and
  ``MOCKCLOUD_NETATMO_SETSTATE_UNREACHABLE`` (hard | partial) pick the answers real
  clients disagree on (INFERRED defaults: cameras, hard).
* Security (``security``: persons, events, pictures; ``pushes``: webhook payloads):
  events are computed from the clock (a seeded routine per local day plus stored
  facts), never stored. INFERRED there: getevents' paging defaults and ``event_id``
  meaning, geteventsuntil / getnextevents / getlasteventof semantics, English
  messages, ``floodlight_triggered`` on outdoor events at night, videos kept 30 days,
  an unknown picture 400/21, the ``home_away`` / ``person_home`` pushes, unknown faces
  out of sight an hour after they were seen; ``setpersonshome`` takes person ids in
  every form clients send (``person_ids[]`` repeated, indexed, comma or JSON list).
* Webhooks (``addwebhook`` / ``dropwebhook`` in ``security_routes``; delivery by
  ``core.webhooks``, payloads and who pushes what in ``pushes``): one webhook per app
  and user, a ``webhook_activation`` push on registration, then every event POSTed as
  JSON in order, once; five failed deliveries within an hour ban it for 24 virtual
  hours (SEEN); no retry, events falling in a ban are skipped, not sent later
  (INFERRED). addwebhook / dropwebhook take any security read scope (INFERRED).
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from typing import Any

from authlib.oauth2.rfc6749.errors import UnauthorizedClientError

from contracts.files import contracts_dir

from ..core.entropy import token_hex
from ..core.oauth import AuthProfile, PasswordGrant
from ..core.quotas import QuotaConfig, QuotaRule
from ..core.vendor import Vendor
from ..core.webhooks import PushSpec
from . import devices, from_reads, pushes, routes, world
from .errors import ENVELOPE

CONTRACTS = contracts_dir()

# pyatmo's ALL_SCOPES (§1.6) plus write_doorbell (openHAB)
SCOPES = (
    "access_camera", "access_doorbell", "access_presence", "read_bubendorff", "read_bfi",
    "read_camera", "read_carbonmonoxidedetector", "read_doorbell", "read_homecoach",
    "read_magellan", "read_mhs1", "read_mx", "read_presence", "read_smarther",
    "read_smokedetector", "read_station", "read_thermostat", "write_bubendorff",
    "write_bfi", "write_camera", "write_magellan", "write_mhs1", "write_mx",
    "write_presence", "write_smarther", "write_thermostat", "write_doorbell",
)

QUOTAS = QuotaConfig(enabled=True, rules=[
    QuotaRule("user-50-per-10s", "app", 50, 10),
    QuotaRule("user-500-per-hour", "app", 500, 3600),
    QuotaRule("app-200-per-10s", "client", 200, 10, per_user=2),
    QuotaRule("app-2000-per-hour", "client", 2000, 3600, per_user=20),
])


@dataclass
class Settings:
    """``MOCKCLOUD_NETATMO_<FIELD>``."""

    expires_in: int = 10800              # access-token lifetime, s (SEEN)
    code_ttl: int = 300                  # authorization codes, s (INFERRED)
    refresh_ttl: int = 0                 # refresh-token lifetime, s; 0: never expires
    rate_limit_status: int = 429         # 429 (since 2025) or 403 (older behaviour)
    oauth_error_description: bool = False  # add error_description to token errors
    # setstate (home_devices): which "Already on" answers (code 23 in body.errors) are
    # given -- cameras (SEEN), all (lights and plugs too) or none; and how a command
    # to an unreachable module fails -- hard (403/41 for the request) or partial
    # (200, that module in body.errors with code 6, the others applied)
    setstate_already: str = "cameras"
    setstate_unreachable: str = "hard"

    def __post_init__(self) -> None:
        from .home_devices import ALREADY_MODES, UNREACHABLE_MODES

        for name, options in (("setstate_already", ALREADY_MODES),
                              ("setstate_unreachable", UNREACHABLE_MODES)):
            if getattr(self, name) not in options:
                raise ValueError(f"MOCKCLOUD_NETATMO_{name.upper()} must be one of "
                                 f"{', '.join(options)}, not {getattr(self, name)!r}")


def user_id(login: str, seed: int) -> str:
    """A Netatmo user id (24 hex digits) for a world user that names none."""
    return hashlib.sha256(f"netatmo-user:{seed}:{login}".encode()).hexdigest()[:24]


def _token(client: dict[str, Any], user: dict[str, Any]) -> str:
    return f"{user.get('id') or client.get('owner') or '0' * 24}|{token_hex(16)}"


class LegacyPasswordGrant(PasswordGrant):
    """The removed ``password`` grant, kept for apps marked ``legacy_password``."""

    def authenticate_token_endpoint_client(self):
        client = super().authenticate_token_endpoint_client()
        if not client.doc.get("legacy_password"):
            raise UnauthorizedClientError(
                "grant_type=password was removed by Netatmo in July 2023; this app is not "
                "marked legacy_password: use the authorization code flow.")
        return client


def auth(settings: Settings) -> AuthProfile:
    def error_body(payload: dict[str, Any]) -> dict[str, Any]:
        if settings.oauth_error_description and payload.get("error_description"):
            return {"error": payload["error"],
                    "error_description": payload["error_description"]}
        return {"error": payload["error"]}

    return AuthProfile(
        vendor="netatmo",
        authorize_path="/oauth2/authorize",
        token_path="/oauth2/token",
        grants=("authorization_code", "refresh_token"),
        extra_grants=(LegacyPasswordGrant,),
        expires_in=settings.expires_in,
        code_ttl=settings.code_ttl,
        refresh_ttl=settings.refresh_ttl or None,
        rotate_refresh=True,
        revoke_whole_grant=True,
        scopes_supported=SCOPES,
        scope_as_list=True,
        token_type_in_response=False,
        extra_token_fields=lambda t: {"expire_in": t["expires_in"]},
        token_factory=_token,
        refresh_token_factory=_token,
        oauth_error_body=error_body,
        token_params=("access_token",),
        realm="netatmo",
    )


VENDOR = Vendor(
    name="netatmo",
    prefix="/netatmo",
    hosts=("api.netatmo.com", "api.netatmo.net"),
    secret_fields=("vpn_url",),                 # a camera's live stream, no token asked
    auth=auth,
    routes=routes.routes,
    errors=ENVELOPE,
    world=world,
    settings=Settings,
    quotas=QUOTAS,
    openapi=CONTRACTS / "openapi" / "netatmo.yaml",
    schemas=CONTRACTS / "schemas" / "netatmo",
    app_fields=("legacy_password",),
    user_id=user_id,
    devices=devices.CONTROL,
    from_reads=from_reads.build,
    # 5 failed deliveries within an hour ban the webhook for 24 h (SEEN, §3.4); no
    # retry (INFERRED); the payloads and who pushes what: pushes
    push=PushSpec(source=pushes.source, activation=pushes.activation,
                  render=pushes.render, max_failures=5,
                  failure_window=3600, ban=86400, retries=0),
)
