"""Lightify's error envelope.

Nothing public shows the v4 API's error bodies; the one hint (LightDefy) is that the
cloud's errors carried ``error`` and ``error_description``, as OAuth errors do. So
every error, OAuth or API, is ``{"error": <code>, "error_description": <text>}``
(INFERRED, documented in the contract). Codes: ``invalid_token`` 401, ``not_found``
404, ``invalid_request`` 400, ``rate_limited`` 429, plus the RFC 6749 codes on the
OAuth endpoints.
"""

from __future__ import annotations

from flask import jsonify


class LightifyError(Exception):
    def __init__(self, status: int, code: str, message: str) -> None:
        super().__init__(message)
        self.status, self.code, self.message = status, code, message


def bad_request(message: str) -> LightifyError:
    return LightifyError(400, "invalid_request", message)


def not_found(what: str, ident: str) -> LightifyError:
    return LightifyError(404, "not_found", f"No {what} with id {ident!r} on this account.")


def render(status: int, code: str, message: str, headers: dict | list | None = None):
    resp = jsonify({"error": code, "error_description": message})
    resp.status_code = status
    resp.content_type = "application/json; charset=utf-8"
    items = headers.items() if isinstance(headers, dict) else (headers or [])
    for k, v in items:
        if k.lower() not in ("content-type", "content-length"):
            resp.headers[k] = v
    return resp


def render_oauth(status: int, payload: dict, headers: list):
    """Authlib's OAuth error (already RFC 6749 shaped) in Lightify's envelope."""
    return render(status, payload.get("error", "invalid_request"),
                  payload.get("error_description") or payload.get("error", ""), headers)
