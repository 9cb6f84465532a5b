"""OAuth 2.0 on Authlib, shaped per vendor by an ``AuthProfile``.

Authlib does the RFC 6749/7009/7636 work: grants, client authentication, PKCE, error
semantics. This module gives it models backed by the store (clients, users, codes
and tokens per tenant, all on the virtual clock) and shapes responses per profile
(token format, extra fields such as Netatmo's ``expire_in``, scope as an array,
error rendering). It knows no vendor by name.

Store kinds, per vendor ``v``: ``v.client``, ``v.user``, ``v.code``, ``v.token``
(keyed by access token) and ``v.refresh`` (refresh token -> access token).
"""

from __future__ import annotations

import hmac
import json
import secrets
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from authlib.integrations.flask_oauth2 import AuthorizationServer
from authlib.oauth2 import OAuth2Error
from authlib.oauth2.rfc6749 import ClientMixin, ResourceProtector, TokenMixin, grants
from authlib.oauth2.rfc6749.errors import (
    InvalidClientError,
    InvalidGrantError,
    InvalidRequestError,
)
from authlib.oauth2.rfc6750 import BearerTokenGenerator, BearerTokenValidator
from authlib.oauth2.rfc7009 import RevocationEndpoint
from authlib.oauth2.rfc7636 import CodeChallenge
from flask import request

from .context import Ctx, current

CLIENT_AUTH = ["client_secret_basic", "client_secret_post"]
SWEEP_EVERY = 500          # token grants between two sweeps of dead tokens and codes
DEAD_KEPT_FOR = 3600.0     # seconds a dead grant stays visible before it is forgotten


@dataclass(frozen=True)
class AuthProfile:
    """How one vendor runs OAuth. Paths are relative to the vendor's mount."""

    vendor: str
    token_path: str
    authorize_path: str | None = None
    revoke_path: str | None = None
    grants: tuple[str, ...] = ("authorization_code", "refresh_token")
    expires_in: int = 3600
    code_ttl: int = 300
    refresh_ttl: int | None = None             # None: refresh tokens never expire
    rotate_refresh: bool = True                # refresh returns a new pair, old pair dies
    revoke_whole_grant: bool = True            # revoking either token kills both
    scopes_supported: tuple[str, ...] = ()
    scope_as_list: bool = False                # Netatmo answers scope as a JSON array
    token_type_in_response: bool = True
    extra_token_fields: Callable[[dict[str, Any]], dict[str, Any]] | None = None
    token_factory: Callable[[dict[str, Any], dict[str, Any]], str] | None = None
    render_error: Callable[[int, dict[str, Any], list], Any] | None = None
    realm: str = "api"

    def kind(self, name: str) -> str:
        return f"{self.vendor}.{name}"


def same_secret(expected: Any, given: Any) -> bool:
    """Constant-time comparison that takes any text (hmac refuses non-ASCII str)."""
    return hmac.compare_digest(str(expected).encode(), str(given).encode())


def random_token(length: int = 40) -> str:
    return secrets.token_urlsafe(length)[:length]


# --------------------------------------------------------------------------- models

@dataclass
class Client(ClientMixin):
    doc: dict[str, Any]

    def get_client_id(self) -> str:
        return self.doc["client_id"]

    def get_default_redirect_uri(self) -> str | None:
        uris = self.doc.get("redirect_uris") or []
        return uris[0] if len(uris) == 1 else None

    def get_allowed_scope(self, scope: str | None) -> str:
        allowed = self.doc.get("scopes")
        if not scope:
            return self.doc.get("default_scope", "")
        if not allowed:
            return scope
        return " ".join(s for s in scope.split() if s in allowed)

    def check_redirect_uri(self, redirect_uri: str) -> bool:
        return redirect_uri in (self.doc.get("redirect_uris") or [])

    def check_client_secret(self, client_secret: str) -> bool:
        return same_secret(self.doc.get("client_secret", ""), client_secret)

    def check_endpoint_auth_method(self, method: str, endpoint: str) -> bool:
        return method in CLIENT_AUTH

    def check_response_type(self, response_type: str) -> bool:
        return response_type == "code"

    def check_grant_type(self, grant_type: str) -> bool:
        return grant_type in self.doc.get("grants", [grant_type])


@dataclass
class AuthCode:
    doc: dict[str, Any]

    def get_redirect_uri(self) -> str:
        return self.doc["redirect_uri"]

    def get_scope(self) -> str:
        return self.doc.get("scope", "")

    @property
    def code_challenge(self) -> str | None:
        return self.doc.get("code_challenge")

    @property
    def code_challenge_method(self) -> str | None:
        return self.doc.get("code_challenge_method")


@dataclass
class Token(TokenMixin):
    doc: dict[str, Any]
    now: float
    matched: str = "access"          # which of the pair a lookup matched

    def check_client(self, client: Client) -> bool:
        return self.doc["client_id"] == client.get_client_id()

    def get_scope(self) -> str:
        return self.doc.get("scope", "")

    def get_expires_in(self) -> int:
        return self.doc["expires_in"]

    def is_expired(self) -> bool:
        return self.now >= self.doc["issued_at"] + self.doc["expires_in"]

    def is_revoked(self) -> bool:
        return bool(self.doc.get("access_revoked"))

    def refresh_revoked(self) -> bool:
        return bool(self.doc.get("refresh_revoked"))

    def refresh_expired(self) -> bool:
        ttl = self.doc.get("refresh_ttl")
        return ttl is not None and self.now >= self.doc["issued_at"] + ttl

    def get_user(self) -> str:
        return self.doc["user_id"]

    def get_client(self) -> str:
        return self.doc["client_id"]

    @property
    def user_id(self) -> str:
        return self.doc["user_id"]

    @property
    def client_id(self) -> str:
        return self.doc["client_id"]


# ------------------------------------------------------------------- token registry

def revoke_doc(doc: dict[str, Any], now: float, part: str = "grant") -> dict[str, Any]:
    """Mark a token document revoked: the whole ``grant``, or its ``access`` or
    ``refresh`` token alone."""
    if part in ("grant", "access"):
        doc["access_revoked"] = True
    if part in ("grant", "refresh"):
        doc["refresh_revoked"] = True
    doc["revoked_at"] = now
    return doc


class Tokens:
    """Tokens of one vendor in one tenant's store (the admin API reads them too)."""

    def __init__(self, ctx: Ctx, vendor: str) -> None:
        self.ctx, self.vendor = ctx, vendor

    def kind(self, name: str) -> str:
        return f"{self.vendor}.{name}"

    def by_access(self, access: str) -> Token | None:
        doc = self.ctx.store.get(self.ctx.tenant, self.kind("token"), access)
        return None if doc is None else Token(doc, self.ctx.now())

    def by_refresh(self, refresh: str) -> Token | None:
        ref = self.ctx.store.get(self.ctx.tenant, self.kind("refresh"), refresh)
        if ref is None:
            return None
        tok = self.by_access(ref["access_token"])
        if tok is not None:
            tok.matched = "refresh"
        return tok

    def find(self, value: str, hint: str | None = None) -> Token | None:
        """The grant an access or refresh token belongs to; ``hint`` says which to try
        first (RFC 7009's ``token_type_hint``)."""
        order = (self.by_refresh, self.by_access) if hint == "refresh_token" \
            else (self.by_access, self.by_refresh)
        for lookup in order:
            tok = lookup(value)
            if tok is not None:
                return tok
        return None

    def save(self, token: dict[str, Any], client_id: str, user_id: str | None,
             profile: AuthProfile) -> None:
        doc = {
            "access_token": token["access_token"],
            "refresh_token": token.get("refresh_token"),
            "client_id": client_id,
            "user_id": user_id,
            "scope": token.get("scope", ""),
            "issued_at": self.ctx.now(),
            "expires_in": token["expires_in"],
            "refresh_ttl": profile.refresh_ttl,
            "access_revoked": False,
            "refresh_revoked": False,
        }
        s, t = self.ctx.store, self.ctx.tenant
        s.put(t, self.kind("token"), doc["access_token"], doc)
        if doc["refresh_token"]:
            s.put(t, self.kind("refresh"), doc["refresh_token"],
                  {"access_token": doc["access_token"]})
        issued = s.update(t, self.kind("sweep"), "count",
                          lambda d: {"n": (d or {"n": 0})["n"] + 1})["n"]
        if issued % SWEEP_EVERY == 0:
            self.sweep(profile.code_ttl)

    def sweep(self, code_ttl: float) -> int:
        """Forget what can never be used again, so a long run (a fuzzer refreshing for
        hours) does not grow without bound: grants dead on both sides for a while
        (they stay listed in the admin API meanwhile) and codes past their lifetime."""
        s, t, now = self.ctx.store, self.ctx.tenant, self.ctx.now()
        gone = 0
        for key, doc in s.list(t, self.kind("token")):
            tok = Token(doc, now)
            dead = (tok.is_revoked() or tok.is_expired()) and (
                tok.refresh_revoked() or tok.refresh_expired() or not doc["refresh_token"])
            since = doc.get("revoked_at") or doc["issued_at"] + doc["expires_in"]
            if dead and now - since > DEAD_KEPT_FOR:
                s.delete(t, self.kind("token"), key)
                if doc["refresh_token"]:
                    s.delete(t, self.kind("refresh"), doc["refresh_token"])
                gone += 1
        for key, doc in s.list(t, self.kind("code")):
            if now - doc["issued_at"] >= code_ttl:
                s.delete(t, self.kind("code"), key)
                gone += 1
        return gone

    def revoke(self, access: str, part: str = "grant") -> Token | None:
        """Revoke the whole grant, or only its ``access`` or ``refresh`` token."""
        def mark(doc):
            return None if doc is None else revoke_doc(doc, self.ctx.now(), part)

        doc = self.ctx.store.update(self.ctx.tenant, self.kind("token"), access, mark)
        return None if doc is None else Token(doc, self.ctx.now())

    def all(self) -> list[Token]:
        now = self.ctx.now()
        return [Token(d, now) for _, d in self.ctx.store.list(self.ctx.tenant,
                                                                self.kind("token"))]


def query_client(profile: AuthProfile, client_id: str) -> Client | None:
    ctx = current()
    doc = ctx.store.get(ctx.tenant, profile.kind("client"), client_id)
    return None if doc is None else Client(doc)


def find_user(profile: AuthProfile, login: str) -> dict[str, Any] | None:
    ctx = current()
    return ctx.store.get(ctx.tenant, profile.kind("user"), login.strip().lower())


# ------------------------------------------------------------------ Authlib grants

def _grant_classes(profile: AuthProfile) -> list[tuple[type, list]]:
    p = profile

    class CodeGrant(grants.AuthorizationCodeGrant):
        TOKEN_ENDPOINT_AUTH_METHODS = CLIENT_AUTH

        def save_authorization_code(self, code: str, req) -> None:
            ctx = current()
            payload = req.payload
            ctx.store.put(ctx.tenant, p.kind("code"), code, {
                "code": code,
                "client_id": req.client.get_client_id(),
                "redirect_uri": payload.redirect_uri or "",
                "scope": req.scope or "",
                "user_id": req.user["id"],
                "code_challenge": payload.data.get("code_challenge"),
                "code_challenge_method": payload.data.get("code_challenge_method"),
                "issued_at": ctx.now(),
            })

        def query_authorization_code(self, code: str, client: Client) -> AuthCode | None:
            ctx = current()
            doc = ctx.store.get(ctx.tenant, p.kind("code"), code)
            if doc is None or doc["client_id"] != client.get_client_id():
                return None
            if ctx.now() - doc["issued_at"] >= p.code_ttl:
                raise InvalidGrantError(
                    f"The authorization code has expired (codes are valid {p.code_ttl} s).")
            return AuthCode(doc)

        def delete_authorization_code(self, authorization_code: AuthCode) -> None:
            ctx = current()
            ctx.store.delete(ctx.tenant, p.kind("code"), authorization_code.doc["code"])

        def authenticate_user(self, authorization_code: AuthCode) -> dict | None:
            return {"id": authorization_code.doc["user_id"]}

    class RefreshGrant(grants.RefreshTokenGrant):
        TOKEN_ENDPOINT_AUTH_METHODS = CLIENT_AUTH
        INCLUDE_NEW_REFRESH_TOKEN = p.rotate_refresh

        def authenticate_refresh_token(self, refresh_token: str) -> Token | None:
            tok = Tokens(current(), p.vendor).by_refresh(refresh_token)
            if tok is None or tok.refresh_revoked() or tok.refresh_expired():
                return None
            return tok

        def authenticate_user(self, refresh_token: Token) -> dict:
            return {"id": refresh_token.user_id}

        def revoke_old_credential(self, refresh_token: Token) -> None:
            if p.rotate_refresh:
                Tokens(current(), p.vendor).revoke(refresh_token.doc["access_token"])

    class ClientCredentialsGrant(grants.ClientCredentialsGrant):
        TOKEN_ENDPOINT_AUTH_METHODS = CLIENT_AUTH

    class PasswordGrant(grants.ResourceOwnerPasswordCredentialsGrant):
        TOKEN_ENDPOINT_AUTH_METHODS = CLIENT_AUTH

        def authenticate_user(self, username: str, password: str) -> dict | None:
            user = find_user(p, username)
            if user and same_secret(user.get("password", ""), password):
                return {"id": user["id"]}
            return None

    table: dict[str, tuple[type, list]] = {
        "authorization_code": (CodeGrant, [CodeChallenge(required=False)]),
        "refresh_token": (RefreshGrant, []),
        "client_credentials": (ClientCredentialsGrant, []),
        "password": (PasswordGrant, []),
    }
    return [table[g] for g in p.grants]


class UnsupportedTokenHint(OAuth2Error):
    """RFC 7009 §2.2.1: an unknown ``token_type_hint`` is a 400, not a 401."""

    error = "unsupported_token_type"
    status_code = 400


class _Revocation(RevocationEndpoint):
    CLIENT_AUTH_METHODS = CLIENT_AUTH
    profile: AuthProfile

    def check_params(self, req, client) -> None:
        if not req.form.get("token"):
            raise InvalidRequestError("Missing 'token' to revoke.")
        hint = req.form.get("token_type_hint")
        if hint and hint not in self.SUPPORTED_TOKEN_TYPES:
            raise UnsupportedTokenHint(
                "token_type_hint must be access_token or refresh_token.")

    def query_token(self, token_string: str, token_type_hint: str | None) -> Token | None:
        return Tokens(current(), self.profile.vendor).find(token_string, token_type_hint)

    def revoke_token(self, token: Token, req) -> None:
        part = "grant" if self.profile.revoke_whole_grant else token.matched
        Tokens(current(), self.profile.vendor).revoke(token.doc["access_token"], part)


class VendorAuthServer(AuthorizationServer):
    """Authlib's Flask server with store-backed models and profile-shaped replies."""

    def __init__(self, profile: AuthProfile) -> None:
        super().__init__()
        self.profile = profile
        self._query_client = lambda cid: query_client(profile, cid)
        self._save_token = self._store_token
        self.scopes_supported = list(profile.scopes_supported) or None
        self.register_token_generator("default", BearerTokenGenerator(
            access_token_generator=self._make_access_token,
            refresh_token_generator=lambda **kw: random_token(48),
            expires_generator=lambda client, grant_type: profile.expires_in,
        ))
        for cls, extensions in _grant_classes(profile):
            self.register_grant(cls, extensions)
        if profile.revoke_path:
            endpoint = type("Revocation", (_Revocation,), {"profile": profile})
            self.register_endpoint(endpoint)

    def create_token_response(self, request=None):
        return self._undecodable_is_client_error(super().create_token_response, request)

    def create_endpoint_response(self, name, request=None):
        return self._undecodable_is_client_error(
            lambda req: super(VendorAuthServer, self).create_endpoint_response(name, req),
            request)

    def _undecodable_is_client_error(self, respond, req):
        try:
            return respond(req)
        except UnicodeError:  # Authlib decodes HTTP Basic credentials as UTF-8 blindly
            error = InvalidClientError(description="HTTP Basic credentials are not UTF-8.")
            return self.handle_error_response(req, error)

    def _explain(self, status: int, payload: dict[str, Any]) -> tuple[int, dict[str, Any]]:
        """Authlib's error, said so a person can act on it."""
        error, text = payload["error"], payload.get("error_description")
        if error == "invalid_client":  # 401 (RFC 6749 §5.2), however the client authed
            return 401, {**payload, "error_description": (
                "Unknown client_id or wrong client_secret: send both in the form body "
                "or with HTTP Basic.")}
        if text in (None, "", error):
            if error == "unsupported_grant_type":
                text = f"grant_type must be {' or '.join(self.profile.grants)} " \
                       "(as a form field)."
            elif error == "invalid_request":
                text = "The request is missing a parameter or has a malformed one."
        return status, {**payload, "error_description": text} if text else payload

    def _make_access_token(self, client: Client, grant_type: str, user: Any,
                           scope: str) -> str:
        if self.profile.token_factory:
            return self.profile.token_factory(client.doc, user or {})
        return random_token(40)

    def _store_token(self, token: dict[str, Any], req) -> None:
        user = req.user["id"] if req.user else None
        Tokens(current(), self.profile.vendor).save(token, req.client.get_client_id(), user,
                                                    self.profile)

    def handle_response(self, status_code: int, payload: Any, headers: list):
        if isinstance(payload, dict):
            if "access_token" in payload:
                payload = self._shape_token(payload)
            elif "error" in payload:
                status_code, payload = self._explain(status_code, payload)
                if self.profile.render_error:
                    return self.profile.render_error(status_code, payload, headers)
            payload = json.dumps(payload, separators=(",", ":"))
        return super().handle_response(status_code, payload, headers)

    def _shape_token(self, token: dict[str, Any]) -> dict[str, Any]:
        p = self.profile
        order = ("access_token", "refresh_token", "token_type", "expires_in", "scope")
        out = {k: token[k] for k in order if k in token}
        out.update({k: v for k, v in token.items() if k not in out})
        if not p.token_type_in_response:
            out.pop("token_type", None)
        if p.scope_as_list:
            out["scope"] = (out.get("scope") or "").split()
        elif not out.get("scope"):
            out.pop("scope", None)
        if p.extra_token_fields:
            out.update(p.extra_token_fields(out))
        return out

    # -- resource protection ------------------------------------------------------

    def protector(self) -> ResourceProtector:
        profile = self.profile

        class Validator(BearerTokenValidator):
            def authenticate_token(self, token_string: str) -> Token | None:
                return Tokens(current(), profile.vendor).by_access(token_string)

        rp = ResourceProtector()
        rp.register_token_validator(Validator(realm=profile.realm))
        return rp


class _EnvironRequest:
    """What Authlib's resource protector reads of a request: its headers."""

    __slots__ = ("_environ", "headers")

    def __init__(self, environ: dict[str, Any]) -> None:
        self._environ = environ
        self.headers = self  # .headers.get("Authorization") reads the WSGI environ

    def get(self, name: str, default: Any = None) -> Any:
        return self._environ.get("HTTP_" + name.upper().replace("-", "_"), default)


def authenticate(rp: ResourceProtector, scopes: list[str] | None = None,
                 environ: dict[str, Any] | None = None) -> Token:
    """The request's bearer token, valid now; raises Authlib's OAuth2Error."""
    return rp.validate_request(scopes, _EnvironRequest(environ or request.environ))


def describe_error(error: OAuth2Error) -> tuple[int, str, str, list]:
    """(status, code, human description, headers) of an Authlib error."""
    descriptions = {
        "missing_authorization": "No access token: send 'Authorization: Bearer <token>'.",
        "unsupported_token_type": "The Authorization header must be 'Bearer <token>'.",
        "invalid_token": "The access token is invalid, expired or revoked.",
        "insufficient_scope": "The access token lacks the scope this call needs.",
    }
    code = error.error or "invalid_request"
    text = descriptions.get(code) or error.description or code.replace("_", " ")
    return error.status_code or 400, code, text, list(error.get_headers())


__all__ = ["AuthProfile", "Token", "Tokens", "VendorAuthServer", "authenticate",
           "describe_error", "find_user", "query_client", "revoke_doc", "same_secret"]
