"""One OAuth 2.0 session for every vendor client, on Authlib's ``OAuth2Session``.

Authlib (``authlib.integrations.requests_client``, a ``requests.Session``) does the
protocol: authorization URL with PKCE S256, code exchange, refresh, RFC 7009
revocation, client authentication, the bearer. This class adds the API-call hygiene:

* expiry is decided on the *client's* clock (``now``, injectable), not ``time.time()``:
  each token gets ``expires_at = now() + expires_in`` before Authlib stores it, and it
  is refreshed ``refresh_leeway`` seconds (Authlib's ``leeway``) before that;
* a 401 whose error is ``invalid_token`` triggers one refresh and one retry;
* a 429 (or what the vendor's ``is_rate_limited`` says is a rate limit) is retried up
  to ``max_retries`` times, waiting ``Retry-After`` (seconds or an HTTP date; capped at
  ``max_retry_wait``) through ``sleep`` (injectable);
* every new token dict reaches ``on_token`` so the app can persist the rotated refresh
  token; it carries ``expires_at`` and can be passed back as ``token=`` later;
* failures raise ``ApiError`` (``AuthError`` for the token endpoints,
  ``RateLimitError`` once the 429 retries are spent) with the status, the vendor's
  error code and its description; only the vendor's API (``base_url``) sees the bearer.

A vendor subclass sets the ``*_PATH`` class attributes and may override
``parse_error`` / ``is_token_error`` / ``is_rate_limited`` / ``error_code`` for its error
envelope. Base URLs are parameters, so one client talks to the real cloud or to
mockcloud (``http://127.0.0.1:PORT/lightify``).
Two names predate Authlib and shadow its own: ``refresh_token`` is the current refresh
token (refresh with ``refresh()``), and ``fetch_token`` takes a code and redirect URI.
"""

from __future__ import annotations

import secrets
import time
from collections.abc import Callable, Mapping
from email.utils import parsedate_to_datetime
from typing import Any, Literal
from urllib.parse import parse_qs, urlsplit

import requests
from authlib.integrations.requests_client import OAuth2Session as AuthlibOAuth2Session
from authlib.oauth2.rfc7636 import create_s256_code_challenge

TokenDict = dict[str, Any]


# ------------------------------------------------------------------ exceptions

class ApiError(Exception):
    """An HTTP error answer: status, the vendor's error code and description.
    ``code`` is the vendor's numeric error code when its envelope has one (Netatmo's
    ``{"error": {"code": 26, ...}}``), else None."""

    code: int | None = None

    def __init__(self, status: int, error: str, description: str = "",
                 response: requests.Response | None = None) -> None:
        self.status, self.error, self.description = status, error, description
        self.response = response
        super().__init__(f"HTTP {status} {error}" + (f": {description}" if description else ""))


class AuthError(ApiError):
    """The token or revocation endpoint refused, or the redirect carried an error."""


class RateLimitError(ApiError):
    """Still rate-limited (429, or the vendor's own signal) after every allowed retry;
    ``retry_after`` is the server's last hint."""

    def __init__(self, status: int, error: str, description: str = "",
                 response: requests.Response | None = None,
                 retry_after: float | None = None) -> None:
        super().__init__(status, error, description, response)
        self.retry_after = retry_after


# --------------------------------------------------------------------- helpers

def pkce_pair() -> tuple[str, str]:
    """A fresh (code_verifier, S256 code_challenge) pair (RFC 7636)."""
    verifier = secrets.token_urlsafe(64)  # 86 chars of [A-Za-z0-9_-]
    return verifier, create_s256_code_challenge(verifier)


def _json_or_none(resp: requests.Response) -> Any:
    try:
        return resp.json()
    except ValueError:
        return None


def default_parse_error(resp: requests.Response) -> tuple[str, str]:
    """(code, description) from the common envelopes: RFC 6749's ``{error,
    error_description}``, ``{error: {code, message}}`` (Netatmo) or ``{message}``."""
    body = _json_or_none(resp)
    if isinstance(body, Mapping):
        err = body.get("error")
        if isinstance(err, Mapping):
            return str(err.get("code", resp.status_code)), str(err.get("message", ""))
        if err is not None:
            return str(err), str(body.get("error_description") or body.get("message") or "")
        if "message" in body:
            return str(resp.status_code), str(body["message"])
    return str(resp.status_code), (resp.text or resp.reason or "")[:500]


# --------------------------------------------------------------------- session

class OAuth2Session(AuthlibOAuth2Session):
    """An OAuth 2.0 client session (authorization code + refresh) for one vendor."""

    AUTHORIZE_PATH: str = "/oauth2/authorize"
    TOKEN_PATH: str = "/oauth2/token"
    REVOKE_PATH: str | None = None

    def __init__(self, client_id: str, client_secret: str, base_url: str, *,
                 auth_base_url: str | None = None,
                 token: Mapping[str, Any] | None = None,
                 on_token: Callable[[TokenDict], None] | None = None,
                 client_auth: Literal["post", "basic"] = "post",
                 now: Callable[[], float] = time.time,
                 sleep: Callable[[float], None] = time.sleep,
                 max_retries: int = 3, max_retry_wait: float = 60.0,
                 refresh_leeway: float = 30.0, timeout: float = 30.0) -> None:
        self.base_url = base_url.rstrip("/")
        self.auth_base_url = (auth_base_url or base_url).rstrip("/")
        self.on_token, self.now, self.sleep = on_token, now, sleep
        self.max_retries, self.max_retry_wait = max_retries, max_retry_wait
        auth_method = f"client_secret_{client_auth}"
        super().__init__(
            client_id, client_secret, token=self._stamp(token or {}),
            token_endpoint_auth_method=auth_method,
            revocation_endpoint_auth_method=auth_method,
            code_challenge_method="S256", update_token=self._report,
            leeway=refresh_leeway, default_timeout=timeout,
            token_endpoint=self.auth_url(self.TOKEN_PATH))

    # -- token state ------------------------------------------------------------

    @property
    def access_token(self) -> str | None:
        return self.token.get("access_token")

    @property  # shadows Authlib's refresh_token() method on purpose: use refresh()
    def refresh_token(self) -> str | None:
        return self.token.get("refresh_token")

    @property
    def expires_at(self) -> float | None:
        return self.token.get("expires_at")

    def token_expired(self) -> bool:
        """True when the access token expires within ``leeway`` (client clock)."""
        return self.expires_at is not None and self.now() >= self.expires_at - self.leeway

    def _stamp(self, token: Mapping[str, Any], fresh: bool = False) -> TokenDict:
        """A copy of ``token`` with ``expires_at`` on the client clock, so that Authlib
        does not derive it from ``time.time()``. A fresh token always gets a new one."""
        token = dict(token)
        if token.get("expires_in") is not None and (fresh or token.get("expires_at") is None):
            token["expires_at"] = self.now() + float(token["expires_in"])
        return token

    def _report(self, token: Mapping[str, Any], **_: Any) -> None:
        """Authlib's ``update_token`` callback (after a refresh), and after a code exchange."""
        if self.on_token:
            self.on_token(dict(token))

    def ensure_active_token(self, token: Any = None) -> bool:
        """Authlib's hook before each bearer request: refresh when due on *our* clock."""
        if self.token_expired() and self.refresh_token:
            self.refresh()
        return True  # an expired token without refresh token goes out; the API says 401

    def parse_response_token(self, resp: requests.Response) -> Any:
        """Authlib's hook for every token endpoint answer: our errors, our clock."""
        if not resp.ok:
            self._raise(resp, AuthError)
        body = _json_or_none(resp)
        if not isinstance(body, Mapping) or not body.get("access_token"):
            raise AuthError(resp.status_code, "invalid_token_response",
                            "the token endpoint answered no access_token", resp)
        token_type = str(body.get("token_type", "Bearer"))
        if token_type.lower() != "bearer":
            raise AuthError(resp.status_code, "unsupported_token_type",
                            f"token_type is {token_type!r}, not Bearer", resp)
        token = self._stamp(body, fresh=True)
        if not token.get("refresh_token"):
            token.pop("refresh_token", None)  # so that a refresh keeps the old one
        self.token = token
        return self.token

    # -- URLs ---------------------------------------------------------------------

    def api_url(self, path: str) -> str:
        return path if "://" in path else self.base_url + path

    def is_api_url(self, url: str) -> bool:
        """Only the vendor's own API ever sees the bearer token."""
        return url == self.base_url or url.startswith(self.base_url + "/")

    def auth_url(self, path: str) -> str:
        return self.auth_base_url + path

    # -- the code flow ------------------------------------------------------------

    def authorization_url(self, redirect_uri: str, state: str | None = None,
                          scope: str | None = None,
                          pkce: bool = True) -> tuple[str, str, str | None]:
        """(URL to send the user to, state, code_verifier or None)."""
        verifier = secrets.token_urlsafe(64) if pkce else None
        url, state = self.create_authorization_url(
            self.auth_url(self.AUTHORIZE_PATH), state=state, code_verifier=verifier,
            redirect_uri=redirect_uri, scope=scope)
        return url, state, verifier

    @staticmethod
    def code_from_redirect(url: str, state: str) -> str:
        """The ``code`` of the redirect back to the app; checks ``state`` (CSRF)."""
        query = {k: v[0] for k, v in parse_qs(urlsplit(url).query).items()}
        if query.get("state") != state:
            raise AuthError(400, "state_mismatch",
                            f"expected state {state!r}, got {query.get('state')!r}")
        if "error" in query:
            raise AuthError(400, query["error"], query.get("error_description", ""))
        if "code" not in query:
            raise AuthError(400, "invalid_request", "the redirect carries no code")
        return query["code"]

    def fetch_token(self, code: str, redirect_uri: str,
                    code_verifier: str | None = None) -> TokenDict:
        token = super().fetch_token(grant_type="authorization_code", code=code,
                                    redirect_uri=redirect_uri, code_verifier=code_verifier)
        self._report(token)
        return token

    def refresh(self) -> TokenDict:
        if not self.refresh_token:
            raise AuthError(400, "no_refresh_token", "this session holds no refresh token")
        return super().refresh_token()  # reports through update_token

    def revoke(self) -> None:
        """Revoke the grant (the access token, or the refresh token once it has expired),
        then forget both tokens."""
        if not self.REVOKE_PATH:
            raise NotImplementedError(f"{type(self).__name__} has no revocation endpoint")
        use_access = self.access_token and not (self.token_expired() and self.refresh_token)
        hint = "access_token" if use_access else "refresh_token"
        value = self.token.get(hint)
        if not value:
            raise AuthError(400, "no_token", "this session holds no token to revoke")
        resp = self.revoke_token(self.auth_url(self.REVOKE_PATH), token=value,
                                 token_type_hint=hint)
        if not resp.ok:
            self._raise(resp, AuthError)
        self.token = {}

    # -- API calls ------------------------------------------------------------------

    def request(self, method: str | bytes, url: str | bytes,
                withhold_token: bool = False, auth: Any = None,
                **kwargs: Any) -> requests.Response:
        """A call with retries on 429 (Authlib's own token calls too). On the vendor's
        API (``base_url``) it also carries the bearer, refreshes when due and once more
        on 401 invalid_token. Returns the response whatever its status."""
        url = self.api_url(url.decode() if isinstance(url, bytes) else url)
        bearer = auth is None and not withhold_token and self.is_api_url(url)
        resp = self._send_with_retries(method, url, bearer, auth, **kwargs)
        if bearer and self.refresh_token and self.is_token_error(resp):
            self.refresh()
            resp = self._send_with_retries(method, url, bearer, auth, **kwargs)
        return resp

    def call(self, method: str, path: str, **kwargs: Any) -> Any:
        """An authenticated call that returns the decoded JSON or raises ApiError."""
        resp = self.request(method, path, **kwargs)
        if not resp.ok:
            self._raise(resp, ApiError)
        return _json_or_none(resp)

    def _send_with_retries(self, method: str | bytes, url: str, bearer: bool, auth: Any,
                           **kwargs: Any) -> requests.Response:
        for attempt in range(self.max_retries + 1):
            # Authlib's token auth runs ensure_active_token, then signs with the bearer
            signer = self.token_auth if bearer and self.access_token else auth
            resp = super().request(method, url, withhold_token=True, auth=signer, **kwargs)
            if not self.is_rate_limited(resp) or attempt == self.max_retries:
                return resp
            self.sleep(self.retry_delay(resp, attempt))
        raise AssertionError("unreachable")  # pragma: no cover

    def retry_delay(self, resp: requests.Response, attempt: int) -> float:
        """Seconds to wait before a retry: ``Retry-After`` (delta or HTTP date),
        else exponential backoff from 1 s; never more than ``max_retry_wait``."""
        hint = self._retry_after(resp)
        delay = hint if hint is not None else float(2 ** attempt)
        return max(0.0, min(delay, self.max_retry_wait))

    def _retry_after(self, resp: requests.Response) -> float | None:
        value = resp.headers.get("Retry-After")
        if not value:
            return None
        try:
            return float(value)
        except ValueError:
            pass
        try:
            return parsedate_to_datetime(value).timestamp() - self.now()
        except (TypeError, ValueError):
            return None

    # -- errors (vendor hooks) -------------------------------------------------------

    def parse_error(self, resp: requests.Response) -> tuple[str, str]:
        """(error code, description) of an error answer in the vendor's envelope."""
        return default_parse_error(resp)

    def is_rate_limited(self, resp: requests.Response) -> bool:
        """Is this answer a rate limit, to be retried after ``Retry-After``?"""
        return resp.status_code == 429

    def is_token_error(self, resp: requests.Response) -> bool:
        """Does this answer say the access token is invalid (expired, revoked)?"""
        if resp.status_code != 401:
            return False
        if "invalid_token" in resp.headers.get("WWW-Authenticate", ""):
            return True
        return self.parse_error(resp)[0] == "invalid_token"

    def _raise(self, resp: requests.Response, kind: type[ApiError]) -> None:
        code, description = self.parse_error(resp)
        if self.is_rate_limited(resp):
            exc: ApiError = RateLimitError(resp.status_code, code, description, resp,
                                           self._retry_after(resp))
        else:
            exc = kind(resp.status_code, code, description, resp)
        exc.code = self.error_code(resp)
        raise exc

    def error_code(self, resp: requests.Response) -> int | None:
        """The vendor's numeric error code in an error answer, if it has one."""
        return None
