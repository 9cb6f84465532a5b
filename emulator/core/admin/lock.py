"""The lock on the control plane: who may call ``/_mockcloud/`` at all.

Checked before every admin view, in this order:

1. **Host** (DNS rebinding). While mockcloud listens on a loopback address (the
   ``host`` setting is in 127.0.0.0/8, ``::1`` or ``localhost``), the Host header must
   name a loopback host too: ``localhost``, ``*.localhost``, ``127.x.y.z`` or ``[::1]``,
   any port. A page on ``evil.example`` whose name was re-pointed at 127.0.0.1 sends
   ``Host: evil.example`` and is refused 403 ``forbidden``.
2. **Origin** (cross-site requests). A request with an ``Origin`` header other than
   the emulator's own (scheme://host:port of the request) comes from a web page of
   another site: 403 ``forbidden``, reads and writes alike. Test code and tools send no
   Origin.
3. **Admin token.** When the ``admin_token`` setting is set (``--admin-token``,
   ``MOCKCLOUD_ADMIN_TOKEN``), every call needs ``Authorization: Bearer <token>`` or
   ``X-Mockcloud-Admin-Token: <token>`` (compared in constant time), else 401
   ``unauthorized`` with ``WWW-Authenticate: Bearer realm="mockcloud-admin"``.
4. **Content-Type.** A write (POST, PUT, PATCH) must say its body is JSON
   (``application/json``; the world loader also takes YAML), even when the body is
   empty, else 415 ``unsupported_media_type``. A browser can send ``text/plain`` or a
   form to any site without a CORS preflight, never ``application/json``: so a web page
   can never make the admin API act.
"""

from __future__ import annotations

import hmac

from flask import current_app, request

from ..errors import MockcloudError
from ..loopback import binds_loopback, is_loopback
from ._base import JSON, media_types, mockcloud

WRITES = frozenset({"POST", "PUT", "PATCH"})
REALM = 'Bearer realm="mockcloud-admin"'
TOKEN_HEADER = "X-Mockcloud-Admin-Token"
_DEFAULT_PORTS = {"http": "80", "https": "443"}


def check() -> None:
    """The before-request hook of the admin blueprint: raises MockcloudError."""
    settings = mockcloud().settings
    check_host(settings.host, request.host)
    check_origin(request.headers.get("Origin"), request.scheme, request.host)
    check_token(settings.admin_token)
    check_content_type()


# ------------------------------------------------------------------------ host

def split_host(host: str) -> tuple[str, str]:
    """(name, port) of a Host header value: ``[::1]:8080`` -> ``("[::1]", "8080")``."""
    host = host.strip()
    if host.startswith("["):
        end = host.find("]")
        if end < 0:
            return host, ""
        return host[:end + 1], host[end + 2:] if host[end + 1:end + 2] == ":" else ""
    name, _, port = host.rpartition(":") if host.count(":") == 1 else (host, "", "")
    return name, port


def check_host(bound: str, host: str) -> None:
    if not binds_loopback(bound):
        return
    name, _ = split_host(host)
    if not is_loopback(name):
        raise MockcloudError(
            "forbidden",
            f"the admin API answers only loopback host names while mockcloud listens on "
            f"{bound} (this request's Host is {host[:100]!r}): call it as "
            f"http://127.0.0.1:<port>/_mockcloud/ or http://localhost:<port>/_mockcloud/. "
            f"Other names are refused so that a web page cannot reach it by DNS rebinding.")


# ---------------------------------------------------------------------- origin

def _origin(scheme: str, host: str) -> tuple[str, str, str]:
    name, port = split_host(host)
    scheme = scheme.lower()
    return scheme, name.lower().rstrip("."), port or _DEFAULT_PORTS.get(scheme, "")


def same_origin(origin: str, scheme: str, host: str) -> bool:
    """Whether an Origin header names the emulator itself as the request reached it."""
    their_scheme, sep, rest = origin.strip().partition("://")
    if not sep or "/" in rest:
        return False
    return _origin(their_scheme, rest) == _origin(scheme, host)


def check_origin(origin: str | None, scheme: str, host: str) -> None:
    if origin is None or same_origin(origin, scheme, host):
        return
    raise MockcloudError(
        "forbidden",
        f"requests from web pages of another origin are refused (Origin: {origin[:100]!r}); "
        f"the admin API is for test code and tools, which send no Origin header, or pages "
        f"served by this emulator itself ({scheme}://{host[:100]}).")


# ----------------------------------------------------------------------- token

def presented_tokens() -> list[str]:
    found = []
    scheme, _, value = request.headers.get("Authorization", "").strip().partition(" ")
    if scheme.lower() == "bearer" and value.strip():
        found.append(value.strip())
    header = request.headers.get(TOKEN_HEADER)
    if header:
        found.append(header.strip())
    return found


def token_matches(expected: str, given: str) -> bool:
    return hmac.compare_digest(expected.encode(), given.encode())


def check_token(expected: str) -> None:
    if not expected:
        return
    given = presented_tokens()
    if any(token_matches(expected, t) for t in given):
        return
    what = "the admin token given is wrong" if given else "this mockcloud needs its admin token"
    raise MockcloudError(
        "unauthorized",
        f"{what}: send 'Authorization: Bearer <token>' or '{TOKEN_HEADER}: <token>' "
        f"with the token the server was started with (--admin-token or "
        f"MOCKCLOUD_ADMIN_TOKEN).",
        headers=[("WWW-Authenticate", REALM)])


# ---------------------------------------------------------------- content type

def check_content_type() -> None:
    if request.method not in WRITES:
        return
    accepted = media_types(current_app.view_functions.get(request.endpoint or ""))
    if request.mimetype in accepted:
        return
    sent = request.headers.get("Content-Type")
    others = [t for t in accepted if t != JSON]
    wanted = "'Content-Type: application/json'" + (
        f" (or {', '.join(others)})" if others else "")
    raise MockcloudError(
        "unsupported_media_type",
        f"{request.method} {request.path} takes a body sent with {wanted}, even an empty "
        f"one; this request's Content-Type is "
        f"{repr(sent[:100]) if sent else 'missing'}. (Browsers cannot send that type to "
        f"another site without asking first, which is what keeps web pages out.)")
