"""Lightify's error envelope.

Nothing public shows the v4 API's error bodies; the one hint (LightDefy) is that the
cloud's errors carried ``error`` and ``error_description``, as OAuth errors do. So
every error, OAuth or API, is ``{"error": <code>, "error_description": <text>}``
(INFERRED, documented in the contract). Codes: ``invalid_token`` 401 (whatever is
wrong with the token), ``insufficient_scope`` 403, ``not_found`` 404,
``invalid_request`` 400, ``rate_limited`` 429, plus the RFC 6749 codes on the OAuth
endpoints. The core's defaults (``core.errors.REASONS``) are Lightify's; nothing to
override.
"""

from __future__ import annotations

from ..core.errors import Envelope

ENVELOPE = Envelope(
    body=lambda status, code, message, err: {"error": code, "error_description": message},
    content_type="application/json; charset=utf-8",
)
