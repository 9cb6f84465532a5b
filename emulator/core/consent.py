"""The authorization endpoint: a real HTML login + consent page on Authlib.

GET shows the page (or redirects at once for apps flagged ``auto_approve``);
POST checks the user's login and password against the world and redirects back
with ``code`` and ``state``, or ``error=access_denied``. An unknown client or an
unregistered redirect URI gets an error page and no redirect (RFC 6749 §4.1.2.1).
"""

from __future__ import annotations

from typing import Any

from authlib.oauth2 import OAuth2Error
from flask import render_template, request

from .context import current
from .oauth import VendorAuthServer, find_user, same_secret

PARAMS = ("client_id", "redirect_uri", "state", "response_type", "scope",
          "code_challenge", "code_challenge_method")


def _error_page(error: OAuth2Error | str, status: int = 400):
    text = error if isinstance(error, str) else (error.description or error.error)
    code = "invalid_request" if isinstance(error, str) else error.error
    return render_template("oauth_error.html", error=code, description=text), status


def _consent_page(server: VendorAuthServer, grant, message: str = "", status: int = 200):
    client = grant.request.client
    scope = grant.request.scope or ""
    hidden = {k: request.values.get(k) for k in PARAMS if request.values.get(k) is not None}
    return render_template(
        "consent.html", vendor=server.profile.vendor, client=client.doc,
        scopes=scope.split(), hidden=hidden, message=message,
        login=request.form.get("email", ""),
    ), status


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
    users = ctx.store.list(ctx.tenant, server.profile.kind("user"))
    return {"id": users[0][1]["id"]} if users else None
