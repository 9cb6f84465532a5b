"""One error type for the whole emulator, rendered in one place per vendor.

Code anywhere (core, models, admin) raises :class:`MockcloudError` with a *reason*
(what went wrong, vendor-neutral) and a message a person can act on. Only the
rendering differs: each vendor's ``errors.py`` gives an :class:`Envelope`, a table
from reason to (status, code) and the shape of its error body. The admin API has
its own envelope (``ADMIN``). Nothing else renders errors (as moto's ``RESTError``).

``REASONS`` below lists the reasons and their default status (a vendor's table may
say otherwise: Netatmo answers an expired token 403/3 where Lightify answers 401).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

import orjson
from flask import Response

REASONS: dict[str, int] = {
    # bearer guard
    "token_missing": 401,        # no token at all
    "token_malformed": 401,      # an Authorization header that is not "Bearer <token>"
    "token_unknown": 401,        # a token this tenant never issued (or forgot)
    "token_expired": 401,
    "token_revoked": 401,
    "insufficient_scope": 403,
    # input
    "invalid_request": 400,      # malformed request (bad JSON, wrong shape)
    "missing_argument": 400,
    "invalid_argument": 400,
    "unsupported_media_type": 415,
    "too_large": 413,
    # resources
    "not_found": 404,            # an id that does not exist (or is not the caller's)
    "no_endpoint": 404,          # a path no route has
    "method_not_allowed": 405,
    "conflict": 409,
    "forbidden": 403,
    "unauthorized": 401,         # the admin token is missing or wrong
    # limits and injected failures
    "rate_limited": 429,
    "bad_gateway": 502,
    "unavailable": 503,
    "gateway_timeout": 504,
    "internal": 500,
}
# the reason an injected status (a fault rule without a body) stands for
_BY_STATUS: dict[int, str] = {400: "invalid_request", 401: "token_unknown", 403: "forbidden",
                              404: "not_found", 405: "method_not_allowed", 409: "conflict",
                              413: "too_large", 415: "unsupported_media_type",
                              429: "rate_limited", 500: "internal", 502: "bad_gateway",
                              503: "unavailable", 504: "gateway_timeout"}


class MockcloudError(Exception):
    """An error with a reason; ``status``/``code`` override the envelope's table."""

    def __init__(self, reason: str, message: str, *, status: int | None = None,
                 code: str | None = None, headers: Iterable[tuple[str, str]] = (),
                 **detail: Any) -> None:
        super().__init__(message)
        self.reason, self.message = reason, message
        self.status, self.code = status, code
        self.headers = list(headers.items() if isinstance(headers, Mapping) else headers)
        self.detail = detail

    @classmethod
    def for_status(cls, status: int, message: str, **kw: Any) -> MockcloudError:
        """An error of a given HTTP status (an injected fault, a werkzeug error)."""
        return cls(_BY_STATUS.get(status, "error"), message, status=status, **kw)

    def __repr__(self) -> str:
        return f"MockcloudError({self.reason!r}, {self.message!r})"


def _default_code(reason: str) -> str:
    return {"token_missing": "invalid_token", "token_malformed": "invalid_token",
            "token_unknown": "invalid_token", "token_expired": "invalid_token",
            "token_revoked": "invalid_token", "missing_argument": "invalid_request",
            "invalid_argument": "invalid_request", "no_endpoint": "not_found",
            "too_large": "request_too_large", "internal": "internal_error",
            "unavailable": "service_unavailable"}.get(reason, reason)


@dataclass(frozen=True)
class Envelope:
    """How one API says an error: ``codes`` maps a reason to (status, code) where it
    differs from the defaults; ``body`` makes the JSON body from (status, code,
    message, error)."""

    body: Callable[[int, Any, str, MockcloudError], Any]
    codes: Mapping[str, tuple[int, Any]] = field(default_factory=dict)
    content_type: str = "application/json"

    def status_code(self, err: MockcloudError) -> tuple[int, Any]:
        status, code = self.codes.get(err.reason) or (
            REASONS.get(err.reason, 400), _default_code(err.reason))
        return (err.status or status), (err.code if err.code is not None else code)

    def render(self, err: MockcloudError) -> Response:
        status, code = self.status_code(err)
        # a message may quote what the caller sent, lone surrogates too (a JSON "\ud800"
        # escape, YAML): shown escaped, as no UTF-8 (nor orjson) takes them
        message = err.message.encode("utf-8", "backslashreplace").decode("utf-8")
        resp = Response(orjson.dumps(self.body(status, code, message, err)),
                        status=status, content_type=self.content_type)
        for k, v in err.headers:
            if k.lower() not in ("content-type", "content-length"):
                resp.headers[k] = v
        return resp


# the control plane's own envelope: {"error": <code>, "message": <text>}
ADMIN = Envelope(body=lambda status, code, message, err: {"error": code, "message": message},
                 codes={"invalid_request": (400, "invalid_request")})
