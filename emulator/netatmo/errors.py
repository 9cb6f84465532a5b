"""Netatmo's error envelopes.

API errors (``/api/*``) are ``{"error": {"code": <int>, "message": <text>}}`` with the
status of the table below (research notes §3.2 and §5). OAuth endpoint errors are flat,
``{"error": "invalid_grant"}`` (see ``__init__.oauth_error_body``), never this envelope.

=====================  ======  ====  ==================================================
reason                 status  code  message
=====================  ======  ====  ==================================================
token_missing          400     1     ours (no message recorded)
token_malformed        403     2     "Invalid access_token" (SEEN, client code)
token_unknown          403     2     "Invalid access_token" (SEEN, client code)
token_revoked          403     2     "Invalid access_token" (INFERRED: a dead token)
token_expired          403     3     "Access token expired" (SEEN, homebridge-eveatmo)
insufficient_scope     403     13    "Application does not have the good scope rights"
                                     (SEEN, sample archive__error_scope.json)
missing_argument       400     10    "Missing <name>" as the samples ("Missing home_id",
                                     "mode is missing" in home_status_error_*.json)
invalid_argument       400     21    ours, naming the argument ("Invalid id" in samples)
invalid_request        400     21    ours (a malformed JSON body)
not_found              404     9     ours ("Device not found" family, INFERRED wording)
no_endpoint            404     31    ours (METHOD_NOT_FOUND, INFERRED)
method_not_allowed     405     31    ours (INFERRED: every /api/* takes GET and POST)
unsupported_media...   415     21    ours
too_large              413     21    ours
forbidden              403     13    ours
rate_limited           429     26    "Maximum api usage reached" (SEEN at 429, 2025) or,
                       or 403        at 403, "User usage reached" (SEEN, older behaviour);
                                     the status is ``Settings.rate_limit_status`` unless
                                     the tenant's quota config names one
internal               500     0     ours (code 0: backend error, SEEN mongo sample)
unavailable            503     0     ours
=====================  ======  ====  ==================================================

Tokens: the real cloud's statuses for bad tokens vary by source (401 in one table, 403
in what clients observe); 403 is what pyatmo/lnetatmo see, so 403 here. The messages of
token and scope errors are the cloud's fixed texts (clients compare them); others are
ours, written so a person can act on them.
"""

from __future__ import annotations

from typing import Any

from ..core.errors import Envelope, MockcloudError

INVALID_TOKEN = "Invalid access_token"
EXPIRED_TOKEN = "Access token expired"
SCOPE = "Application does not have the good scope rights"
USAGE_429 = "Maximum api usage reached"
USAGE_403 = "User usage reached"

CODES: dict[str, tuple[int, int]] = {
    "token_missing": (400, 1),
    "token_malformed": (403, 2),
    "token_unknown": (403, 2),
    "token_revoked": (403, 2),
    "token_expired": (403, 3),
    "insufficient_scope": (403, 13),
    "forbidden": (403, 13),
    "missing_argument": (400, 10),
    "invalid_argument": (400, 21),
    "invalid_request": (400, 21),
    "unsupported_media_type": (415, 21),
    "too_large": (413, 21),
    "not_found": (404, 9),
    "no_endpoint": (404, 31),
    "method_not_allowed": (405, 31),
    "conflict": (409, 21),
    "rate_limited": (429, 26),
    "internal": (500, 0),
    "bad_gateway": (502, 0),
    "unavailable": (503, 0),
    "gateway_timeout": (504, 0),
}
# fixed texts the real cloud sends (clients compare some of them)
FIXED: dict[str, str] = {
    "token_malformed": INVALID_TOKEN,
    "token_unknown": INVALID_TOKEN,
    "token_revoked": INVALID_TOKEN,
    "token_expired": EXPIRED_TOKEN,
    "insufficient_scope": SCOPE,
}


def message_for(status: int, message: str, err: MockcloudError) -> str:
    if err.reason == "rate_limited":
        return USAGE_403 if status == 403 else USAGE_429
    return FIXED.get(err.reason, message)


def body(status: int, code: Any, message: str, err: MockcloudError) -> dict[str, Any]:
    if not isinstance(code, int):  # an injected fault's status without a Netatmo code
        code = CODES.get(err.reason, (status, 0))[1]
    return {"error": {"code": code, "message": message_for(status, message, err)}}


ENVELOPE = Envelope(body=body, codes=CODES, content_type="application/json")
