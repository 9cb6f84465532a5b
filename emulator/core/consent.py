"""The authorization endpoint: a real HTML login + consent page on Authlib.

GET shows the page (or redirects at once for apps flagged ``auto_approve``);
POST checks the user's login and password against the world and redirects back
with ``code`` and ``state``, or ``error=access_denied``. An unknown client or an
unregistered redirect URI gets an error page and no redirect (RFC 6749 §4.1.2.1).

The form posts the authorization request's parameters as hidden fields to the
authorize URL *without* its query string: a form with no ``action`` would post to
the page's own URL, query included, and Authlib would then see every parameter
twice (``Multiple 'response_type' in request``). The action is relative to the
page ("./authorize"), so the browser resolves it against the URL it really used,
whichever way it came: ``/lightify/oauth2/authorize``, ``/_t/<tenant>/...``, or
``/oauth2/authorize`` on a vendor host name (where Flask sees the prefixed path).

Pages that take or show credentials (the consent page and the error page) are
sent with headers that keep them out of frames (clickjacking), out of caches and
out of Referer headers; their CSP allows only their own inline ``<style>``, by hash.
"""

from __future__ import annotations

import base64
import functools
import hashlib
import re
from typing import Any
from urllib.parse import quote

from authlib.oauth2 import OAuth2Error
from flask import Response, make_response, render_template, request

from .context import current
from .oauth import VendorAuthServer, find_user, same_secret

PARAMS = ("client_id", "redirect_uri", "state", "response_type", "scope",
          "code_challenge", "code_challenge_method")

# No ``form-action``: browsers apply it to the redirect that follows the POST too,
# and that redirect goes to the app's redirect URI on another origin.
CSP = ("default-src 'none'; style-src {styles}; base-uri 'none'; "
       "frame-ancestors 'none'")
PAGE_HEADERS = {
    "X-Frame-Options": "DENY",
    "Cache-Control": "no-store",
    "Pragma": "no-cache",
    "Referrer-Policy": "no-referrer",
    "X-Content-Type-Options": "nosniff",
}
_STYLE = re.compile(r"<style>(.*?)</style>", re.S)


@functools.lru_cache(maxsize=16)
def _style_hash(css: str) -> str:
    digest = hashlib.sha256(css.encode()).digest()
    return f"'sha256-{base64.b64encode(digest).decode()}'"


def content_security_policy(html: str) -> str:
    """A CSP that lets exactly the page's inline ``<style>`` blocks apply."""
    styles = " ".join(_style_hash(css) for css in _STYLE.findall(html)) or "'none'"
    return CSP.format(styles=styles)


def html_page(template: str, status: int, **context: Any) -> Response:
    """Render a credentials page with the headers that keep it unframed and uncached."""
    html = render_template(template, **context)
    resp = make_response(html, status)
    resp.headers.update(PAGE_HEADERS)
    resp.headers["Content-Security-Policy"] = content_security_policy(html)
    return resp


def form_action(path: str) -> str:
    """The authorize URL without its query, relative to the page at ``path``."""
    last = path.rsplit("/", 1)[-1]
    return "./" + quote(last) if last else "."


def _error_page(error: OAuth2Error | str, status: int = 400) -> Response:
    text = error if isinstance(error, str) else (error.description or error.error)
    code = "invalid_request" if isinstance(error, str) else error.error
    return html_page("oauth_error.html", status, error=code, description=text)


def _consent_page(server: VendorAuthServer, grant, message: str = "",
                  status: int = 200) -> Response:
    client = grant.request.client
    scope = grant.request.scope or ""
    hidden = {k: request.values.get(k) for k in PARAMS if request.values.get(k) is not None}
    return html_page(
        "consent.html", status, vendor=server.profile.vendor, client=client.doc,
        scopes=scope.split(), hidden=hidden, message=message,
        login=request.form.get("email", ""), action=form_action(request.path),
    )


def _validate(server: VendorAuthServer):
    """The grant for this request, or a response (error page or error redirect)."""
    try:
        return server.get_consent_grant(end_user=None), None
    except OAuth2Error as error:
        if getattr(error, "redirect_uri", None) and error.error != "invalid_client":
            return None, server.handle_error_response(request, error)
        return None, _error_page(error)
    except ValueError:  # Authlib refuses to echo unusual characters into a description
        return None, _error_page("A parameter holds characters that are not allowed here; "
                                 "check response_type, redirect_uri and scope.")


def authorize(server: VendorAuthServer):
    grant, failure = _validate(server)
    if failure is not None:
        return failure
    client = grant.request.client.doc
    if request.method == "GET":
        if client.get("auto_approve"):
            user = _auto_user(server, client)
            if user is None:
                return _error_page("auto_approve is set but the world has no user to approve "
                                   "as: give the app an 'auto_approve_user'.", 400)
            return server.create_authorization_response(grant=grant, grant_user=user)
        return _consent_page(server, grant)
    decision = request.form.get("decision", "")
    if decision == "deny":
        return server.create_authorization_response(grant=grant, grant_user=None)
    if decision != "approve":
        return _consent_page(server, grant, "Choose Approve or Deny.", 400)
    user = find_user(server.profile, request.form.get("email", ""))
    password = request.form.get("password", "")
    if user is None or not same_secret(user.get("password", ""), password):
        return _consent_page(server, grant, "Wrong email or password.", 200)
    return server.create_authorization_response(grant=grant, grant_user={"id": user["id"]})


def _auto_user(server: VendorAuthServer, client: dict[str, Any]) -> dict | None:
    ctx = current()
    login = client.get("auto_approve_user")
    if login:
        user = find_user(server.profile, login)
        return {"id": user["id"]} if user else None
    # (a world built now names the user on the app, core/world.py: only a state
    # built before that reads every user here)
    users = ctx.store.list(ctx.tenant, server.profile.kind("user"))
    return {"id": users[0][1]["id"]} if users else None
