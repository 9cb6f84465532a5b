"""Qivivo's error envelope (rendering only).

No error reply of the real cloud was ever captured; the shapes are Laravel's (the
``/oauth/token`` route is Laravel Passport's), as the contract chose them
(``contracts/schemas/qivivo/error.json``, all INFERRED):

=====================  ======  ==========================================================
reason                 status  body
=====================  ======  ==========================================================
token_* (any)          401     ``{"message": "Unauthenticated."}``
insufficient_scope     403     ``{"message": "This action is unauthorized."}``
not_found              404     ``{"message": "Not found."}`` (unknown device or program)
no_endpoint            404     ``{"message": "Not found."}``
invalid_* / missing_*  422     ``{"message": "The given data was invalid.",
                               "errors": {<field>: [<text>, ...]}}``
unexpected             400     ``{"message": "Unexpected error"}`` (a program id that is
                               not a number: the one message a client tests for,
                               LorkScorguar ``qivivo.js``)
rate_limited           429     ``{"message": "Too Many Attempts."}`` + ``Retry-After``,
                               ``X-RateLimit-Limit``/``-Remaining``/``-Reset``
internal               500     ``{"message": "Unexpected error"}``
=====================  ======  ==========================================================

Fixed Laravel texts go in ``message`` (clients compare them); what a person can act
on (which token, which device, which field) goes in ``hint`` beside it.
"""

from __future__ import annotations

from typing import Any

from ..core.errors import Envelope, MockcloudError

UNAUTHENTICATED = "Unauthenticated."
INVALID = "The given data was invalid."
UNEXPECTED = "Unexpected error"

CODES: dict[str, tuple[int, str]] = {
    "token_missing": (401, "unauthenticated"),
    "token_malformed": (401, "unauthenticated"),
    "token_unknown": (401, "unauthenticated"),
    "token_expired": (401, "unauthenticated"),
    "token_revoked": (401, "unauthenticated"),
    "insufficient_scope": (403, "unauthorized"),
    "forbidden": (403, "unauthorized"),
    "not_found": (404, "not_found"),
    "no_endpoint": (404, "not_found"),
    "invalid_request": (422, "invalid"),
    "invalid_argument": (422, "invalid"),
    "missing_argument": (422, "invalid"),
    "conflict": (422, "invalid"),
    "unexpected": (400, "unexpected"),
    "rate_limited": (429, "rate_limited"),
    "internal": (500, "unexpected"),
}
FIXED: dict[str, str] = {
    "unauthenticated": UNAUTHENTICATED,
    "unauthorized": "This action is unauthorized.",
    "not_found": "Not found.",
    "invalid": INVALID,
    "unexpected": UNEXPECTED,
    "rate_limited": "Too Many Attempts.",
}


def body(status: int, code: Any, message: str, err: MockcloudError) -> dict[str, Any]:
    fixed = FIXED.get(code) if isinstance(code, str) else None
    if fixed is None and status >= 500:
        fixed = UNEXPECTED
    out: dict[str, Any] = {"message": fixed or message}
    if code == "invalid":
        errors = err.detail.get("errors")
        out["errors"] = errors if isinstance(errors, dict) and errors else {
            err.detail.get("field", "body"): [message]}
    if fixed is not None and message and message != fixed:
        out["hint"] = message
    return out


def invalid(field: str, message: str) -> MockcloudError:
    """A 422 naming one field."""
    return MockcloudError("invalid_argument", message, errors={field: [message]})


def unexpected(message: str) -> MockcloudError:
    return MockcloudError("unexpected", message)


ENVELOPE = Envelope(body=body, codes=CODES, content_type="application/json")
