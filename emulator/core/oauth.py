"""OAuth 2.0 on Authlib, shaped per vendor by an ``AuthProfile``.

Authlib does the RFC 6749/7009/7636 work: grants, client authentication, PKCE, error
semantics. This module gives it models backed by the store (clients, users, codes
and tokens per tenant, all on the virtual clock) and shapes responses per profile
(token format, extra fields such as Netatmo's ``expire_in``, scope as an array,
error body). It knows no vendor by name. Grants and the revocation endpoint are
written as Authlib's own example server writes them: classes at module level that
read their vendor's profile from ``self.server``.

Store kinds, per vendor ``v``: ``v.client``, ``v.user`` (keyed by lower-case login),
``v.code``, ``v.token`` (keyed by access token) and ``v.refresh`` (refresh token ->
access token).

One step, atomic in every store (``Store.update``), both uses and spends a
credential: an authorization code is claimed (marked used) before its tokens are
made, a rotating refresh token is revoked, with its access token, as it is accepted.
Two clients racing with one code or one refresh token: exactly one wins, the other
gets ``invalid_grant``. A code used twice revokes every token issued from it,
refreshed descendants included (RFC 6749 §4.1.2), and the journal says so.
"""

from __future__ import annotations

import binascii
import hmac
from collections import defaultdict
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

import orjson
from authlib.integrations.flask_oauth2 import (
    AuthorizationServer,
    client_authenticated,
    token_revoked,
)
from authlib.oauth2 import OAuth2Error
from authlib.oauth2.rfc6749 import (
    AuthorizationCodeMixin,
    ClientMixin,
    OAuth2Payload,
    OAuth2Request,
    ResourceProtector,
    TokenMixin,
    grants,
)
from authlib.oauth2.rfc6749.errors import (
    InvalidClientError,
    InvalidGrantError,
    InvalidRequestError,
    InvalidScopeError,
    MissingAuthorizationError,
    UnsupportedGrantTypeError,
    UnsupportedTokenTypeError,
)
from authlib.oauth2.rfc6749.grants import TokenEndpointMixin
from authlib.oauth2.rfc6750 import BearerTokenGenerator, BearerTokenValidator
from authlib.oauth2.rfc7009 import RevocationEndpoint
from authlib.oauth2.rfc7636 import CodeChallenge
from flask import Response, request
from werkzeug.datastructures import CombinedMultiDict, EnvironHeaders, ImmutableMultiDict

from .bodies import buffered_form
from .context import Ctx, current
from .entropy import random_bytes
from .errors import ADMIN, Envelope, MockcloudError
from .flaskapp import MockResponse
from .world import USER_ID

CLIENT_AUTH = ["client_secret_basic", "client_secret_post"]
SWEEP_EVERY = 500          # token grants between two sweeps of dead tokens and codes
DEAD_KEPT_FOR = 3600.0     # seconds a dead grant (or used code) stays before it is forgotten
NOTE = "mockcloud.note"    # environ key: a line for the journal entry of this exchange
# Authlib's test of a token request's grant type (``VendorAuthServer.get_token_grant``)
_TOKEN_CHECK = TokenEndpointMixin.check_token_endpoint.__func__
# Authlib's Flask signals by the name its server sends them under (its send_signal's)
_SIGNALS = {"after_authenticate_client": client_authenticated,
            "after_revoke_token": token_revoked}


@dataclass(frozen=True)
class AuthProfile:
    """How one vendor runs OAuth. Paths are relative to the vendor's mount."""

    vendor: str
    token_path: str
    authorize_path: str | None = None
    revoke_path: str | None = None
    grants: tuple[str, ...] = ("authorization_code", "refresh_token")
    # other spellings a vendor accepts for a grant, e.g. {"client_credential":
    # "client_credentials"}; and the vendor's own Authlib grant classes
    grant_aliases: Mapping[str, str] = field(default_factory=dict)
    extra_grants: tuple[type, ...] = ()
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
    # (client doc, user) -> refresh token, as token_factory for access tokens
    refresh_token_factory: Callable[[dict[str, Any], dict[str, Any]], str] | None = None
    # the RFC 6749 error body {"error", "error_description"} -> the vendor's body
    oauth_error_body: Callable[[dict[str, Any]], Any] | None = None
    token_params: tuple[str, ...] = ()         # also take the bearer token from these
    realm: str = "api"
    # rewrites the token request's WSGI environ before Authlib reads it (a vendor whose
    # clients send parameters in odd places: the query string, a wrong Content-Type)
    token_request: Callable[[dict[str, Any]], None] | None = None

    def kind(self, name: str) -> str:
        return f"{self.vendor}.{name}"


def same_secret(expected: Any, given: Any) -> bool:
    """Constant-time comparison that takes any text (hmac refuses non-ASCII str)."""
    return hmac.compare_digest(str(expected).encode(), str(given).encode())


_URLSAFE = bytes.maketrans(b"+/", b"-_")


def random_token(length: int = 40) -> str:
    """``length`` characters of URL-safe base64 (``secrets.token_urlsafe``'s alphabet,
    6 random bits each) of as many bytes from the system's CSPRNG as that takes
    (``core.entropy``: read a block at a time, not a call of ``os.urandom`` each): the
    token endpoint makes two a grant, and ``token_urlsafe(length)[:length]`` went
    through three Python-level calls for a longer string it then cut."""
    raw = binascii.b2a_base64(random_bytes(-(-length * 3 // 4)), newline=False)
    return raw.translate(_URLSAFE)[:length].decode()


def random_pair(first: int = 40, second: int = 48) -> tuple[str, str]:
    """``(random_token(first), random_token(second))``, from one draw of the pool and
    one encoding when both lengths are whole base64 quanta (multiples of 4: the
    encoding of the bytes of both is each one's encoding, one after the other)."""
    if first % 4 or second % 4:
        return random_token(first), random_token(second)
    raw = binascii.b2a_base64(random_bytes((first + second) * 3 // 4), newline=False)
    text = raw.translate(_URLSAFE).decode()
    return text[:first], text[first:]


class _once:
    """``functools.cached_property`` without its lock (Python 3.11's takes an RLock at
    each first read): for the objects of one request, which one thread reads. The
    value is kept in the instance's ``__dict__``, where later reads find it."""

    def __init__(self, func: Callable[[Any], Any]) -> None:
        self.func, self.name, self.__doc__ = func, func.__name__, func.__doc__

    def __get__(self, obj: Any, owner: Any = None) -> Any:
        if obj is None:
            return self
        value = obj.__dict__[self.name] = self.func(obj)
        return value


def _note(text: str) -> None:
    environ = request.environ
    environ[NOTE] = f"{environ[NOTE]}; {text}" if environ.get(NOTE) else text


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

    @property
    def owner(self) -> str | None:
        """The user a client acts for without one (client credentials)."""
        return self.doc.get("owner")


@dataclass
class AuthCode(AuthorizationCodeMixin):
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

    def refresh_usable(self) -> bool:
        return bool(self.doc.get("refresh_token")) and not (
            self.refresh_revoked() or self.refresh_expired())

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
    doc.setdefault("revoked_at", now)
    return doc


def _bearer_token(environ: dict[str, Any]) -> str | None:
    """The token of ``Authorization: Bearer <token>``, read as Authlib's
    ``ResourceProtector.parse_request_authorization`` reads it (split once on
    whitespace, the scheme compared case-insensitively); None for anything else."""
    auth = environ.get("HTTP_AUTHORIZATION")
    if auth:
        parts = auth.split(None, 1)
        if len(parts) == 2 and parts[0].lower() == "bearer":
            return parts[1]
    return None


class Tokens:
    """Tokens of one vendor in one tenant's store (the admin API reads them too)."""

    def __init__(self, ctx: Ctx, vendor: str) -> None:
        self.ctx, self.vendor = ctx, vendor
        self.token_kind, self.refresh_kind = f"{vendor}.token", f"{vendor}.refresh"

    def kind(self, name: str) -> str:
        return f"{self.vendor}.{name}"

    def by_access(self, access: str) -> Token | None:
        doc = self.ctx.store.get(self.ctx.tenant, self.token_kind, access)
        return None if doc is None else Token(doc, self.ctx.now())

    def by_refresh(self, refresh: str) -> Token | None:
        ref = self.ctx.store.get(self.ctx.tenant, self.refresh_kind, refresh)
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
             profile: AuthProfile, grant: str | None = None) -> None:
        """Keep a new token pair; ``grant`` names the code (or first grant) it descends
        from, so that a replayed code can revoke the whole chain."""
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
            "grant": grant or random_token(16),
        }
        s, t = self.ctx.store, self.ctx.tenant
        s.put(t, self.token_kind, doc["access_token"], doc)
        if doc["refresh_token"]:
            s.put(t, self.refresh_kind, doc["refresh_token"],
                  {"access_token": doc["access_token"]})
        # (a new document from the shared one: no parse of the counter at each grant)
        counter = s.update_shared(t, self.kind("sweep"), "count",
                                  lambda d: {**(d or {}), "n": (d or {}).get("n", 0) + 1})
        if counter["n"] % SWEEP_EVERY == 0 and self._sweep_due(counter):
            self.sweep(profile.code_ttl)

    def _sweep_due(self, counter: dict[str, Any]) -> bool:
        """Could a sweep now forget anything? Not before the ``due`` instant the last
        sweep worked out (unless the clock went back past that sweep): a sweep reads
        every token of the tenant, and a refresh loop of thousands a second keeps
        thousands of dead grants for an hour, so sweeping every SWEEP_EVERY grants
        regardless held the GIL for ever longer stretches (the refresh's tail)."""
        due, at, now = counter.get("due"), counter.get("at"), self.ctx.now()
        return due is None or at is None or now >= due or now < at

    def claim_refresh(self, access: str) -> Token | None:
        """Spend the refresh token of a pair, revoking the pair, in one atomic step;
        None when someone spent (or revoked) it first."""
        won: list[Token] = []
        now = self.ctx.now()

        def spend(doc):
            won.clear()                  # (an update may run again)
            if doc is not None:
                tok = Token(doc, now, "refresh")
                if tok.refresh_usable():
                    revoke_doc(doc, now)
                    won.append(tok)
            return doc

        self.ctx.store.update(self.ctx.tenant, self.token_kind, access, spend)
        return won[0] if won else None

    def revoke_grant(self, grant: str) -> int:
        """Revoke every token descending from one grant (a replayed code)."""
        s, t, now = self.ctx.store, self.ctx.tenant, self.ctx.now()
        revoked = 0
        for key, doc in s.list(t, self.token_kind):
            if doc.get("grant") == grant and not (doc["access_revoked"]
                                                  and doc["refresh_revoked"]):
                s.update(t, self.token_kind, key,
                         lambda d: None if d is None else revoke_doc(d, now))
                revoked += 1
        return revoked

    def sweep(self, code_ttl: float) -> int:
        """Forget what can never be used again, so a long run (a fuzzer refreshing for
        hours) does not grow without bound: grants dead on both sides for a while
        (they stay listed in the admin API meanwhile) and codes past their lifetime
        (used codes are kept as long, so a late replay still revokes)."""
        s, t, now = self.ctx.store, self.ctx.tenant, self.ctx.now()
        gone = 0
        # due: the earliest instant anything kept, or granted from now on, could be
        # forgotten (a lower bound: a grant dies at the earliest now, then is kept
        # DEAD_KEPT_FOR); no sweep before it (``_sweep_due``). A code issued after this
        # sweep may outlive its lifetime in the store until then (it is refused when
        # used late all the same): the sweep only bounds what a long run keeps
        due = now + DEAD_KEPT_FOR
        for key, doc in s.list(t, self.token_kind):
            tok = Token(doc, now)
            dead = (tok.is_revoked() or tok.is_expired()) and not tok.refresh_usable()
            since = doc.get("revoked_at") or doc["issued_at"] + doc["expires_in"]
            if dead and now - since > DEAD_KEPT_FOR:
                s.delete(t, self.token_kind, key)
                if doc["refresh_token"]:
                    s.delete(t, self.refresh_kind, doc["refresh_token"])
                gone += 1
                continue
            dies = since if dead or doc.get("revoked_at") else min(since, now)
            due = min(due, dies + DEAD_KEPT_FOR)
        for key, doc in s.list(t, self.kind("code")):
            # (a used code is kept DEAD_KEPT_FOR past its lifetime: its due is then)
            forgotten = doc["issued_at"] + code_ttl + (DEAD_KEPT_FOR if doc.get("used") else 0)
            if now >= forgotten:
                s.delete(t, self.kind("code"), key)
                gone += 1
                continue
            due = min(due, forgotten)
        s.update(t, self.kind("sweep"), "count",
                 lambda d: {**(d or {"n": 0}), "due": due, "at": now})
        return gone

    def revoke(self, access: str, part: str = "grant") -> Token | None:
        """Revoke the whole grant, or only its ``access`` or ``refresh`` token."""
        def mark(doc):
            return None if doc is None else revoke_doc(doc, self.ctx.now(), part)

        doc = self.ctx.store.update(self.ctx.tenant, self.token_kind, access, mark)
        return None if doc is None else Token(doc, self.ctx.now())

    def all(self) -> list[Token]:
        now = self.ctx.now()
        return [Token(d, now) for _, d in self.ctx.store.list(self.ctx.tenant,
                                                                self.token_kind)]


def find_user(profile: AuthProfile, login: str) -> dict[str, Any] | None:
    """A user by login (case-insensitive) or by id: a read or two, whatever the number
    of users. A state written before the index of ids (``world.USER_ID``; an older
    mockcloud's SQLite file or Redis) has none: then every user is read."""
    ctx = current()
    store, tenant, kind = ctx.store, ctx.tenant, profile.kind("user")
    user = store.get(tenant, kind, login.strip().lower())
    if user is None:
        ref = store.snapshot(tenant, profile.kind(USER_ID), login)
        if ref is not None:
            user = store.get(tenant, kind, ref["login"])
        elif not store.count(tenant, profile.kind(USER_ID)):
            user = next((u for _, u in store.list(tenant, kind) if u.get("id") == login),
                        None)
    return user


# ------------------------------------------------------------------ Authlib grants

class CodeGrant(grants.AuthorizationCodeGrant):
    TOKEN_ENDPOINT_AUTH_METHODS = CLIENT_AUTH

    @property
    def profile(self) -> AuthProfile:
        return self.server.profile

    def save_authorization_code(self, code: str, req) -> None:
        ctx = current()
        payload = req.payload
        ctx.store.put(ctx.tenant, self.profile.kind("code"), code, {
            "code": code,
            "client_id": req.client.get_client_id(),
            "redirect_uri": payload.redirect_uri or "",
            "scope": req.scope or "",
            "user_id": req.user["id"],
            "code_challenge": payload.data.get("code_challenge"),
            "code_challenge_method": payload.data.get("code_challenge_method"),
            "issued_at": ctx.now(),
            "used": False,
        })

    def query_authorization_code(self, code: str, client: Client) -> AuthCode | None:
        ctx, p = current(), self.profile
        doc = ctx.store.get(ctx.tenant, p.kind("code"), code)
        if doc is None or doc["client_id"] != client.get_client_id():
            return None
        if doc.get("used"):
            self._replayed(code)
        if ctx.now() - doc["issued_at"] >= p.code_ttl:
            raise InvalidGrantError(
                f"The authorization code has expired (codes are valid {p.code_ttl} s).")
        return AuthCode(doc)

    def _replayed(self, code: str) -> None:
        ctx = current()
        ctx.store.update(ctx.tenant, self.profile.kind("code"), code,
                         lambda d: None if d is None else {**d, "replayed": True})
        n = Tokens(ctx, self.profile.vendor).revoke_grant(code)
        _note(f"authorization code replayed: revoked {n} token(s) issued from it")
        raise InvalidGrantError("The authorization code was already used; the tokens "
                                "issued from it are now revoked (RFC 6749, section 4.1.2).")

    def authenticate_user(self, authorization_code: AuthCode) -> dict | None:
        """Claim the code: the one step that makes it single-use."""
        ctx, code = current(), authorization_code.doc["code"]
        claimed: list[bool] = []

        def claim(doc):
            claimed.clear()              # (an update may run again)
            if doc is not None and not doc.get("used"):
                doc["used"] = True
                claimed.append(True)
            return doc

        ctx.store.update(ctx.tenant, self.profile.kind("code"), code, claim)
        if not claimed:  # another exchange of this code got there first
            self._replayed(code)
        return {"id": authorization_code.doc["user_id"], "grant": code}

    def delete_authorization_code(self, authorization_code: AuthCode) -> None:
        """Used codes are kept (marked) until they expire, so a replay is recognised;
        a replay that raced this exchange has flagged the code by now."""
        ctx, code = current(), authorization_code.doc["code"]
        doc = ctx.store.get(ctx.tenant, self.profile.kind("code"), code)
        if doc is not None and doc.get("replayed"):
            n = Tokens(ctx, self.profile.vendor).revoke_grant(code)
            _note(f"authorization code replayed meanwhile: revoked {n} token(s)")


class RefreshGrant(grants.RefreshTokenGrant):
    TOKEN_ENDPOINT_AUTH_METHODS = CLIENT_AUTH

    @property
    def INCLUDE_NEW_REFRESH_TOKEN(self) -> bool:  # Authlib reads this name
        return self.server.profile.rotate_refresh

    @_once
    def tokens(self) -> Tokens:
        """The vendor's tokens in the request's tenant (one for the grant's steps)."""
        return Tokens(current(), self.server.profile.vendor)

    def authenticate_refresh_token(self, refresh_token: str) -> Token | None:
        tok = self.tokens.by_refresh(refresh_token)
        return tok if tok is not None and tok.refresh_usable() else None

    def authenticate_user(self, refresh_token: Token) -> dict:
        """With rotation, accepting the refresh token spends it (one atomic step)."""
        if self.server.profile.rotate_refresh:
            won = self.tokens.claim_refresh(refresh_token.doc["access_token"])
            if won is None:
                raise InvalidGrantError("The refresh token was already used or revoked.")
        return {"id": refresh_token.user_id, "grant": refresh_token.doc.get("grant")}

    def revoke_old_credential(self, refresh_token: Token) -> None:
        pass  # spent in authenticate_user, atomically


class ClientCredentialsGrant(grants.ClientCredentialsGrant):
    TOKEN_ENDPOINT_AUTH_METHODS = CLIENT_AUTH


class PasswordGrant(grants.ResourceOwnerPasswordCredentialsGrant):
    TOKEN_ENDPOINT_AUTH_METHODS = CLIENT_AUTH

    def authenticate_user(self, username: str, password: str) -> dict | None:
        """Wrong credentials are ``invalid_grant`` (RFC 6749 §5.2: the resource owner
        credentials are the grant); Authlib would answer ``invalid_request``."""
        user = find_user(self.server.profile, username)
        if user and same_secret(user.get("password", ""), password):
            return {"id": user["id"]}
        raise InvalidGrantError("Invalid 'username' or 'password' in request.")


GRANTS: dict[str, tuple[type, Callable[[], list]]] = {
    "authorization_code": (CodeGrant, lambda: [CodeChallenge(required=False)]),
    "refresh_token": (RefreshGrant, list),
    "client_credentials": (ClientCredentialsGrant, list),
    "password": (PasswordGrant, list),
}


class UnsupportedTokenHint(OAuth2Error):
    """RFC 7009 §2.2.1: an unknown ``token_type_hint`` is a 400, not a 401."""

    error = "unsupported_token_type"
    status_code = 400


class Revocation(RevocationEndpoint):
    CLIENT_AUTH_METHODS = CLIENT_AUTH

    def check_params(self, req, client) -> None:
        if not req.form.get("token"):
            raise InvalidRequestError("Missing 'token' to revoke.")
        hint = req.form.get("token_type_hint")
        if hint and hint not in self.SUPPORTED_TOKEN_TYPES:
            raise UnsupportedTokenHint(
                "token_type_hint must be access_token or refresh_token.")

    def query_token(self, token_string: str, token_type_hint: str | None) -> Token | None:
        return Tokens(current(), self.server.profile.vendor).find(token_string,
                                                                   token_type_hint)

    def revoke_token(self, token: Token, req) -> None:
        part = "grant" if self.server.profile.revoke_whole_grant else token.matched
        Tokens(current(), self.server.profile.vendor).revoke(token.doc["access_token"], part)


# ------------------------------------------------------------------------- server

class VendorAuthServer(AuthorizationServer):
    """Authlib's Flask server with store-backed models and profile-shaped replies."""

    def __init__(self, profile: AuthProfile, envelope: Envelope | None = None) -> None:
        self._grant_types: list[tuple[type, Any]] = []   # (token grant, extensions)
        self._own_client_auth = False    # a client auth method registered
        self._own_generators = False     # a token generator registered besides ours
        super().__init__()               # (query_client and save_token: methods below)
        self.profile = profile
        self._client_kind = profile.kind("client")
        self.envelope = envelope or ADMIN
        self.scopes_supported = list(profile.scopes_supported) or None
        super().register_token_generator("default", BearerTokenGenerator(
            access_token_generator=self._make_access_token,
            refresh_token_generator=self._make_refresh_token,
            expires_generator=lambda client, grant_type: profile.expires_in,
        ))
        for name in profile.grants:
            cls, extensions = GRANTS[name]
            self.register_grant(cls, extensions())
        for alias, name in profile.grant_aliases.items():
            cls, extensions = GRANTS[name]
            self.register_grant(type(f"{cls.__name__}_{alias}", (cls,),
                                     {"GRANT_TYPE": alias}), extensions())
        for cls in profile.extra_grants:
            self.register_grant(cls)
        if profile.revoke_path:
            self.register_endpoint(Revocation)
        self.validator = BearerValidator(profile)
        self.resource = ResourceProtector()
        self.resource.register_token_validator(self.validator)

    def query_client(self, client_id: str) -> Client | None:
        """The app: its stored document read through ``Store.snapshot`` (no parse while
        it is unchanged), so nothing may change a ``Client``'s ``doc``."""
        ctx = current()
        doc = ctx.store.snapshot(ctx.tenant, self._client_kind, client_id)
        return None if doc is None else Client(doc)

    def register_token_generator(self, grant_type, func) -> None:
        self._own_generators = True      # (generate_token: Authlib's from now on)
        super().register_token_generator(grant_type, func)

    def generate_token(self, grant_type, client, user=None, scope=None, expires_in=None,
                       include_refresh_token=True):
        """The token pair as the BearerTokenGenerator registered in ``__init__`` makes
        it (Authlib 1.9's ``generate``: the client's allowed scope, refused if None;
        the profile's lifetime unless given; the refresh token if asked for; the
        fields in its order), without the generator's calls; Authlib's once another
        generator is registered."""
        if self._own_generators:
            return super().generate_token(grant_type, client, user, scope, expires_in,
                                          include_refresh_token)
        scope = client.get_allowed_scope(scope)
        if scope is None:
            raise InvalidScopeError()
        p = self.profile
        if include_refresh_token and not p.token_factory and not p.refresh_token_factory:
            access, refresh = random_pair(40, 48)   # (both random: one draw)
        else:
            access = self._make_access_token(client, grant_type, user, scope)
            refresh = None if not include_refresh_token else \
                self._make_refresh_token(client, grant_type, user, scope)
        token = {"token_type": "Bearer", "access_token": access}
        if expires_in is None:
            expires_in = p.expires_in
        if expires_in:
            token["expires_in"] = expires_in
        if include_refresh_token:
            token["refresh_token"] = refresh
        if scope:
            token["scope"] = scope
        return token

    def register_grant(self, grant_cls, extensions=None) -> None:
        super().register_grant(grant_cls, extensions)
        if hasattr(grant_cls, "check_token_endpoint"):
            self._grant_types.append((grant_cls, extensions))

    def get_token_grant(self, request):
        """Authlib's: the first token grant registered whose ``check_token_endpoint``
        takes the request, made with its extensions; the grant type read once, each
        grant's own test asked only if it has one (Authlib's is a comparison of the
        grant type and the method)."""
        grant_type = request.payload.grant_type
        for cls, extensions in self._grant_types:
            if getattr(cls.check_token_endpoint, "__func__", None) is _TOKEN_CHECK:
                if grant_type != cls.GRANT_TYPE \
                        or request.method not in cls.TOKEN_ENDPOINT_HTTP_METHODS:
                    continue
            elif not cls.check_token_endpoint(request):
                continue
            grant = cls(request, self)
            for ext in extensions or ():
                ext(grant)
            return grant
        raise UnsupportedGrantTypeError(grant_type)

    def authenticate_client(self, request, methods, endpoint="token"):
        """Authlib's client authentication (``ClientAuthentication``) for a client that
        sends its credentials in the form (``client_secret_post``) and no
        ``Authorization`` header (whose ``client_secret_basic`` finds nothing then):
        the same look-up, secret check, method check and errors; anything else is
        Authlib's."""
        headers = request.headers
        if methods != CLIENT_AUTH or self._own_client_auth or (
                headers.environ.get("HTTP_AUTHORIZATION") if type(headers) is _Headers
                else headers.get("Authorization")):   # (_Headers.get's, inline)
            return super().authenticate_client(request, methods, endpoint)
        form = request.form
        client_id, secret = form.get("client_id"), form.get("client_secret")
        if client_id and secret:
            client = self.query_client(client_id)
            if not client:
                raise InvalidClientError(
                    status_code=400, description="The client does not exist on this server.")
            if client.check_client_secret(secret) \
                    and client.check_endpoint_auth_method("client_secret_post", endpoint):
                request.auth_method = "client_secret_post"
                return client
        raise InvalidClientError(
            status_code=401,
            description=f"The client cannot authenticate with methods: {methods}")

    def register_client_auth_method(self, method, func) -> None:
        self._own_client_auth = True     # (authenticate_client: Authlib's from now on)
        super().register_client_auth_method(method, func)

    def send_signal(self, name, *args, **kwargs) -> None:
        """Authlib's Flask signals, sent only when something is connected to them
        (blinker's send finds no receiver otherwise: nothing else happens)."""
        signal = _SIGNALS.get(name)
        if signal is not None and signal.receivers:
            signal.send(self, *args, **kwargs)

    def create_oauth2_request(self, req: Any) -> FormRequest:
        """The Flask request being served (Authlib passes what its caller gave, None
        here), as Authlib reads it."""
        return FormRequest(request._get_current_object())

    def create_token_response(self, request=None):
        try:
            return super().create_token_response(request)
        except UnicodeError:
            return self._undecodable(request)

    def create_endpoint_response(self, name, request=None):
        try:
            return super().create_endpoint_response(name, request)
        except UnicodeError:
            return self._undecodable(request)

    def _undecodable(self, req):
        """The answer to credentials Authlib could not read: it decodes HTTP Basic
        credentials as UTF-8 blindly (a UnicodeError out of its endpoints)."""
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
            elif error == "invalid_grant":
                text = ("The code or refresh token is unknown, expired, already used or "
                        "revoked, or was issued to another client.")
        return status, {**payload, "error_description": text} if text else payload

    def _make_access_token(self, client: Client, grant_type: str, user: Any,
                           scope: str) -> str:
        if self.profile.token_factory:
            return self.profile.token_factory(client.doc, user or {})
        return random_token(40)

    def _make_refresh_token(self, client: Client, grant_type: str, user: Any,
                            scope: str) -> str:
        if self.profile.refresh_token_factory:
            return self.profile.refresh_token_factory(client.doc, user or {})
        return random_token(48)

    def save_token(self, token: dict[str, Any], req) -> None:
        client = req.client
        user = req.user["id"] if req.user else client.owner
        grant = (req.user or {}).get("grant")
        Tokens(current(), self.profile.vendor).save(token, client.get_client_id(), user,
                                                    self.profile, grant)

    def handle_response(self, status_code: int, payload: Any, headers: list):
        if isinstance(payload, dict):
            if "access_token" in payload:
                payload = self._shape_token(payload)
            elif "error" in payload:
                status_code, payload = self._explain(status_code, payload)
                if self.profile.oauth_error_body:
                    payload = self.profile.oauth_error_body(payload)
                headers = [(k, v) for k, v in headers if k.lower() != "content-type"]
                return Response(orjson.dumps(payload), status=status_code, headers=headers,
                                content_type=self.envelope.content_type)
            return _json_reply(orjson.dumps(payload), status_code, headers)
        return MockResponse(payload, status=status_code, headers=headers)

    def _shape_token(self, token: dict[str, Any]) -> dict[str, Any]:
        p = self.profile
        out = {k: token[k] for k in _TOKEN_ORDER if k in token}
        if len(out) != len(token):    # (fields of its own, after those: in their order)
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

    # -- issuing without a flow (the admin API) -----------------------------------

    def issue(self, client_id: str, user: str | None, scope: str | None = None) -> dict:
        """A token pair for an app acting for a user (or for its owner), as the token
        endpoint would answer it; for tests that need a token, not the flow."""
        client = self.query_client(client_id)
        if client is None:
            raise MockcloudError("not_found", f"no {self.profile.vendor} app {client_id!r}")
        login = user or client.owner
        if not login:
            raise MockcloudError("missing_argument", "give 'user' (a login or user id): "
                                 f"app {client_id!r} has no owner to act for")
        found = find_user(self.profile, login)
        if found is None:
            raise MockcloudError("not_found", f"no {self.profile.vendor} user {login!r}")
        granted = client.get_allowed_scope(scope)
        token = self.generate_token("authorization_code", client, {"id": found["id"]},
                                    granted, include_refresh_token=True)
        Tokens(current(), self.profile.vendor).save(token, client_id, found["id"],
                                                    self.profile)
        return self._shape_token(dict(token))

    # -- resource protection ------------------------------------------------------

    def bearer_read(self, environ: dict[str, Any]) -> tuple[str, str] | None:
        """The store read (kind, key) ``bearer`` will make of the request's token; None
        without ``Authorization: Bearer`` (the app prefetches it with a shared store)."""
        given = _bearer_token(environ)
        return None if given is None else (self.validator.token_kind, given)

    def bearer(self, scopes: list[str] | None, environ: dict[str, Any]) -> Token:
        """The request's bearer token, valid now, carrying ``scopes``; raises a
        MockcloudError with the reason (missing, malformed, unknown, expired,
        revoked, insufficient scope).

        ``Authorization: Bearer <token>`` (the header of nearly every call) is read here
        as Authlib's ``ResourceProtector.parse_request_authorization`` reads it
        (``_bearer_token``) and handed to the same validator, whose
        ``validate_request`` hook is Authlib's no-op: the protector's request
        wrapper, header object and registry look-up are skipped.
        Anything else (no header, another scheme, no token after it) goes through the
        protector as before."""
        given = _bearer_token(environ)
        if given is not None:
            validator = self.validator
            token = validator.authenticate_token(given)
            validator.validate_token(token, scopes, None)
            return token
        req = _EnvironRequest(environ)
        try:
            return self.resource.validate_request(scopes, req)
        except MissingAuthorizationError:
            value = self._token_param()
            if value is None:
                raise MockcloudError("token_missing", "No access token: send "
                                     "'Authorization: Bearer <token>'.") from None
        except UnsupportedTokenTypeError:
            raise MockcloudError("token_malformed", "The Authorization header must be "
                                 "'Bearer <token>'.") from None
        token = self.validator.authenticate_token(value)
        self.validator.validate_token(token, scopes, req)
        return token

    def _token_param(self) -> str | None:
        for name in self.profile.token_params:
            value = request.values.get(name)
            if value:
                return value
        return None


_TOKEN_ORDER = ("access_token", "refresh_token", "token_type", "expires_in", "scope")


def _json_reply(body: bytes, status: int, headers: list) -> MockResponse:
    """``MockResponse(body, status=status, headers=headers)``: the same headers in the
    same order, made at about two thirds of the cost when the first is the Content-Type
    (Authlib's JSON headers): werkzeug checks a list given to the constructor through a
    generator and then looks for a Content-Type in it, where a content type given on
    its own is set at once. The body is given as a one-item list, whose Content-Length
    the server's answer gets last (``MockResponse.get_wsgi_response``, werkzeug's
    ``get_wsgi_headers`` otherwise), where ``set_data`` would have appended it: the
    same headers in the same order, without a header set."""
    if not headers or headers[0][0].lower() != "content-type":
        return MockResponse(body, status=status, headers=headers)
    resp = MockResponse([body], status, content_type=headers[0][1])
    for name, value in headers[1:]:
        resp.headers.add(name, value)
    return resp


class BearerValidator(BearerTokenValidator):
    """Authlib's bearer validation, saying which of its checks failed."""

    def __init__(self, profile: AuthProfile) -> None:
        super().__init__(realm=profile.realm)
        self.profile = profile
        self.token_kind = profile.kind("token")

    def authenticate_token(self, token_string: str) -> Token | None:
        """The grant of an access token, read through ``Store.snapshot`` (no parse
        while the stored token is unchanged; a revocation or any other write to it is
        seen by the next request), so read-only."""
        ctx = current()
        doc = ctx.store.snapshot(ctx.tenant, self.token_kind, token_string)
        return None if doc is None else Token(doc, ctx.now())

    def validate_token(self, token: Token | None, scopes, request) -> None:
        if token is None:
            raise MockcloudError("token_unknown", "The access token is unknown here: it "
                                 "was never issued in this tenant, or has been forgotten.")
        if token.is_revoked():
            raise MockcloudError("token_revoked", "The access token has been revoked.")
        if token.is_expired():
            raise MockcloudError("token_expired", "The access token has expired: refresh "
                                 "it or sign in again.")
        if scopes and _scope_insufficient(token.get_scope(), tuple(scopes)):
            raise MockcloudError("insufficient_scope", "The access token lacks the scope "
                                 f"this call needs: {' '.join(scopes or [])}.")


_SCOPE_CHECKS: dict[tuple[str, tuple[str, ...]], bool] = {}


def _scope_insufficient(granted: str, required: tuple[str, ...]) -> bool:
    """Authlib's ``TokenValidator.scope_insufficient`` (any one of ``required``, each a
    space-separated set, within the granted scopes), its answer kept per (granted,
    required): a pure function of the two, asked with the same few pairs at every
    call. Bounded: the table is emptied past 1,024 pairs."""
    key = (granted, required)
    answer = _SCOPE_CHECKS.get(key)
    if answer is None:
        if len(_SCOPE_CHECKS) >= 1024:
            _SCOPE_CHECKS.clear()
        answer = _SCOPE_CHECKS[key] = BearerTokenValidator.scope_insufficient(
            granted, list(required))
    return answer


class _FormPayload(OAuth2Payload):
    """The parameters of a Flask request as Authlib reads them: ``request.values`` (the
    query and, but for a GET, the form) gathered once, where Authlib's Flask payload
    fetches them through the ``flask.request`` proxy at each of its many reads. It
    holds the Flask request, not the ``FormRequest`` holding it: no reference cycle, so
    an exchange's objects go when it ends, not at the next garbage collection."""

    def __init__(self, req: Any) -> None:
        self.request = req

    @_once
    def form(self) -> Any:
        """``request.form``. A url-encoded body already buffered is split here as
        werkzeug 3.1's parser splits it (``_parse_urlencoded``: strict UTF-8, an
        undecodable body an empty form, blank values kept, a bad escape left as it
        is), whose stream, limits and parser objects cost more than the split itself
        for a token request's few fields; anything else is werkzeug's."""
        req = self.request
        fields = buffered_form(req.environ, lambda: req.mimetype, "strict",
                               "werkzeug.url_quote")
        return req.form if fields is None else _Form(fields)

    @_once
    def data(self) -> Any:
        req = self.request
        if req.method == "GET":
            return req.args
        if not req.environ.get("QUERY_STRING"):
            return self.form
        return CombinedMultiDict([req.args, self.form])

    @_once
    def datalist(self) -> defaultdict[str, list]:
        values: defaultdict[str, list] = defaultdict(list)
        for key in self.data:
            values[key].extend(self.data.getlist(key))
        return values


class FormRequest(OAuth2Request):
    """Authlib's view of a Flask request (what its ``FlaskOAuth2Request`` gives: method,
    URI, headers, args, form, payload) made at less cost, for every endpoint of the
    server: the request object itself rather than the ``flask.request`` proxy; the URI
    as the environ gives it (werkzeug's ``request.url`` decodes it to an IRI, and
    Authlib only checks its scheme and host: ``InsecureTransportError``); the headers
    set after ``OAuth2Request.__init__``, whose ``headers or {}`` counted them all;
    a url-encoded body the app has buffered (``mockcloud.body``) split without
    werkzeug's stream parser (``_FormPayload.form``)."""

    def __init__(self, req: Any) -> None:
        environ = req.environ
        query = environ.get("QUERY_STRING")
        host = environ.get("HTTP_HOST") or environ.get("SERVER_NAME", "localhost")
        super().__init__(req.method, f"{environ.get('wsgi.url_scheme', 'http')}://{host}"
                         f"{environ.get('SCRIPT_NAME', '')}{environ.get('PATH_INFO', '')}"
                         + (f"?{query}" if query else ""))
        self.headers = _Headers(environ)
        self.flask = req
        self.payload = _FormPayload(req)

    @property
    def args(self) -> Any:
        return self.flask.args

    @property
    def form(self) -> Any:
        return self.payload.form


class _Form(ImmutableMultiDict):
    """A request's form as werkzeug gives it, whose ``get`` of a missing field answers
    the default without raising and catching werkzeug's ``BadRequestKeyError`` (an
    HTTP exception made each time: Authlib asks for ``scope`` twice a refresh)."""

    def get(self, key: Any, default: Any = None, type: Any = None) -> Any:
        if type is not None:
            return super().get(key, default, type)
        values = dict.get(self, key)
        return values[0] if values else default


class _Headers(EnvironHeaders):
    """werkzeug's headers of a WSGI environ, whose ``get`` of a header not sent (Authlib
    asks every token request for ``Authorization``) answers the default without
    raising and catching a ``KeyError``."""

    def get(self, key: Any, default: Any = None, type: Any = None) -> Any:
        if type is not None or not isinstance(key, str):
            return super().get(key, default, type)
        return _header(self.environ, key, default)


def _header(environ: dict[str, Any], name: str, default: Any = None) -> Any:
    """A request header's value, as werkzeug's ``EnvironHeaders`` finds it."""
    key = name.upper().replace("-", "_")
    value = environ.get(key if key in ("CONTENT_TYPE", "CONTENT_LENGTH") else "HTTP_" + key)
    return default if value is None else value


class _EnvironRequest:
    """What Authlib's resource protector reads of a request: its headers. (No
    reference back to itself: a request object in a cycle kept the whole environ, the
    body, the context and the token alive until the next collection.)"""

    __slots__ = ("headers",)

    def __init__(self, environ: dict[str, Any]) -> None:
        self.headers = _Headers(environ)


__all__ = ["AuthProfile", "Token", "Tokens", "VendorAuthServer", "find_user",
           "revoke_doc", "same_secret"]
