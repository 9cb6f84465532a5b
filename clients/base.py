"""One OAuth 2.0 session for every vendor client, on ``requests.Session``.

``OAuth2Session`` does the vendor-neutral work (RFC 6749 code flow with PKCE S256,
refresh, RFC 7009 revocation) and the API-call hygiene around it:

* the access token's expiry is computed from ``expires_in`` on the *client's* clock
  (``now``, injectable), and the token is refreshed ``refresh_leeway`` seconds before;
* a 401 whose error is ``invalid_token`` triggers one refresh and one retry;
* a 429 is retried up to ``max_retries`` times, waiting ``Retry-After`` (seconds or an
  HTTP date; capped at ``max_retry_wait``) through ``sleep`` (injectable);
* every new token dict reaches ``on_token`` so the app can persist the rotated refresh
  token; the dict carries ``expires_at`` (client clock) and can be passed back as
  ``token=`` to a new session;
* failures raise ``ApiError`` (``AuthError`` for the token endpoints,
  ``RateLimitError`` once the 429 retries are spent) with the status, the vendor's
  error code and its description.

A vendor subclass sets the ``*_PATH`` class attributes and may override
``parse_error`` / ``is_token_error`` for its error envelope. Base URLs are parameters,
so one client talks to the real cloud or to mockcloud (``http://127.0.0.1:PORT/lightify``).
"""

from __future__ import annotations

import base64
import hashlib
import secrets
import time
from collections.abc import Callable, Mapping
from email.utils import parsedate_to_datetime
from typing import Any, Literal
from urllib.parse import parse_qs, quote, urlencode, urlsplit

import requests

TokenDict = dict[str, Any]


# ------------------------------------------------------------------ exceptions

class ApiError(Exception):
    """An HTTP error answer: status, the vendor's error code and description."""

    def __init__(self, status: int, error: str, description: str = "",
                 response: requests.Response | None = None) -> None:
        self.status, self.error, self.description = status, error, description
        self.response = response
        super().__init__(f"HTTP {status} {error}" + (f": {description}" if description else ""))


class AuthError(ApiError):
    """The token or revocation endpoint refused, or the redirect carried an error."""


class RateLimitError(ApiError):
    """Still 429 after every allowed retry; ``retry_after`` is the server's last hint."""

    def __init__(self, status: int, error: str, description: str = "",
                 response: requests.Response | None = None,
                 retry_after: float | None = None) -> None:
        super().__init__(status, error, description, response)
        self.retry_after = retry_after


# --------------------------------------------------------------------- helpers

def pkce_pair() -> tuple[str, str]:
    """A fresh (code_verifier, S256 code_challenge) pair (RFC 7636)."""
    verifier = secrets.token_urlsafe(64)  # 86 chars of [A-Za-z0-9_-]
    digest = hashlib.sha256(verifier.encode("ascii")).digest()
    return verifier, base64.urlsafe_b64encode(digest).rstrip(b"=").decode("ascii")


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

class OAuth2Session(requests.Session):
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
        super().__init__()
        self.client_id, self.client_secret = client_id, client_secret
        self.base_url = base_url.rstrip("/")
        self.auth_base_url = (auth_base_url or base_url).rstrip("/")
        self.on_token, self.client_auth = on_token, client_auth
        self.now, self.sleep = now, sleep
        self.max_retries, self.max_retry_wait = max_retries, max_retry_wait
        self.refresh_leeway, self.timeout = refresh_leeway, timeout
        self.token: TokenDict = dict(token or {})

    # -- token state ------------------------------------------------------------

    @property
    def access_token(self) -> str | None:
        return self.token.get("access_token")

    @property
    def refresh_token(self) -> str | None:
        return self.token.get("refresh_token")

    @property
    def expires_at(self) -> float | None:
        return self.token.get("expires_at")

    def token_expired(self) -> bool:
        """True when the access token expires within ``refresh_leeway`` (client clock)."""
        return self.expires_at is not None and \
            self.now() >= self.expires_at - self.refresh_leeway

    def _set_token(self, body: Mapping[str, Any]) -> TokenDict:
        token = dict(body)
        if not token.get("refresh_token") and self.refresh_token:
            token["refresh_token"] = self.refresh_token  # RFC 6749 §6: old one stays
        if token.get("expires_in") is not None:
            token["expires_at"] = self.now() + float(token["expires_in"])
        self.token = token
        if self.on_token:
            self.on_token(dict(token))
        return token

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
        state = state or secrets.token_urlsafe(16)
        params = {"client_id": self.client_id, "response_type": "code",
                  "redirect_uri": redirect_uri, "state": state}
        if scope:
            params["scope"] = scope
        verifier = None
        if pkce:
            verifier, challenge = pkce_pair()
            params |= {"code_challenge": challenge, "code_challenge_method": "S256"}
        url = f"{self.auth_url(self.AUTHORIZE_PATH)}?{urlencode(params, quote_via=quote)}"
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
        data = {"grant_type": "authorization_code", "code": code,
                "redirect_uri": redirect_uri}
        if code_verifier:
            data["code_verifier"] = code_verifier
        return self._set_token(self._token_call(self.TOKEN_PATH, data))

    def refresh(self) -> TokenDict:
        if not self.refresh_token:
            raise AuthError(400, "no_refresh_token", "this session holds no refresh token")
        data = {"grant_type": "refresh_token", "refresh_token": self.refresh_token}
        return self._set_token(self._token_call(self.TOKEN_PATH, data))

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
        self._token_call(self.REVOKE_PATH, {"token": value, "token_type_hint": hint})
        self.token = {}

    def _token_call(self, path: str, data: dict[str, str]) -> Any:
        """POST to an OAuth endpoint with client authentication; the JSON answer."""
        auth = None
        if self.client_auth == "basic":
            auth = (self.client_id, self.client_secret)
        else:
            data = {**data, "client_id": self.client_id, "client_secret": self.client_secret}
        resp = self._send_with_retries("POST", self.auth_url(path), bearer=False,
                                       data=data, auth=auth)
        if not resp.ok:
            self._raise(resp, AuthError)
        body = _json_or_none(resp)
        if path == self.TOKEN_PATH:
            self._check_token_body(resp, body)
        return body

    def _check_token_body(self, resp: requests.Response, body: Any) -> None:
        if not isinstance(body, Mapping) or not body.get("access_token"):
            raise AuthError(resp.status_code, "invalid_token_response",
                            "the token endpoint answered no access_token", resp)
        token_type = str(body.get("token_type", "Bearer"))
        if token_type.lower() != "bearer":
            raise AuthError(resp.status_code, "unsupported_token_type",
                            f"token_type is {token_type!r}, not Bearer", resp)

    # -- API calls ------------------------------------------------------------------

    def request(self, method: str | bytes, url: str | bytes,
                *args: Any, **kwargs: Any) -> requests.Response:
        """A call with retries on 429. On the vendor's API (``base_url``) it also
        carries the bearer, refreshes when due and once more on 401 invalid_token.
        Returns the response whatever its status."""
        url = self.api_url(url.decode() if isinstance(url, bytes) else url)
        bearer = self.is_api_url(url)
        if bearer and self.token_expired() and self.refresh_token:
            self.refresh()
        resp = self._send_with_retries(method, url, bearer, *args, **kwargs)
        if bearer and self.is_token_error(resp) and self.refresh_token:
            self.refresh()
            resp = self._send_with_retries(method, url, bearer, *args, **kwargs)
        return resp

    def call(self, method: str, path: str, **kwargs: Any) -> Any:
        """An authenticated call that returns the decoded JSON or raises ApiError."""
        resp = self.request(method, path, **kwargs)
        if not resp.ok:
            self._raise(resp, ApiError)
        return _json_or_none(resp)

    def _send_with_retries(self, method: str | bytes, url: str, bearer: bool,
                           *args: Any, **kwargs: Any) -> requests.Response:
        for attempt in range(self.max_retries + 1):
            resp = self._send_once(method, url, bearer, *args, **kwargs)
            if resp.status_code != 429 or attempt == self.max_retries:
                return resp
            self.sleep(self.retry_delay(resp, attempt))
        raise AssertionError("unreachable")  # pragma: no cover

    def _send_once(self, method: str | bytes, url: str, bearer: bool,
                   *args: Any, **kwargs: Any) -> requests.Response:
        headers = dict(kwargs.pop("headers", None) or {})
        if bearer and self.access_token:
            headers["Authorization"] = f"Bearer {self.access_token}"
        kwargs.setdefault("timeout", self.timeout)
        return super().request(method, url, *args, headers=headers, **kwargs)

    def retry_delay(self, resp: requests.Response, attempt: int) -> float:
        """Seconds to wait before retrying a 429: ``Retry-After`` (delta or HTTP date),
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

    def is_token_error(self, resp: requests.Response) -> bool:
        """Does this answer say the access token is invalid (expired, revoked)?"""
        if resp.status_code != 401:
            return False
        if "invalid_token" in resp.headers.get("WWW-Authenticate", ""):
            return True
        return self.parse_error(resp)[0] == "invalid_token"

    def _raise(self, resp: requests.Response, kind: type[ApiError]) -> None:
        code, description = self.parse_error(resp)
        if resp.status_code == 429:
            raise RateLimitError(429, code, description, resp, self._retry_after(resp))
        raise kind(resp.status_code, code, description, resp)
