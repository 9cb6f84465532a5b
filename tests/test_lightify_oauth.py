"""The Lightify OAuth server end to end over HTTP, on the virtual clock."""

from __future__ import annotations

from html.parser import HTMLParser
from urllib.parse import parse_qs, urljoin, urlparse

import pytest

from tests.conftest import CI_APP, DEMO, REDIRECT, pkce_pair


def _query(resp) -> dict[str, str]:
    return {k: v[0] for k, v in parse_qs(urlparse(resp.headers["Location"]).query).items()}


def test_token_response_shape(lightify):
    tok = lightify.login()
    assert tok["token_type"] == "Bearer"
    assert tok["expires_in"] == 3600
    assert tok["access_token"] and tok["refresh_token"]


def test_expired_token_is_refused_after_advancing_the_clock(lightify, mockcloud):
    mockcloud.freeze()   # only the advances move it: a slow run must not expire it early
    tok = lightify.login()
    assert lightify.api("GET", "/devices", tok["access_token"]).status_code == 200
    mockcloud.advance(3599)
    assert lightify.api("GET", "/devices", tok["access_token"]).status_code == 200
    mockcloud.advance(2)
    resp = lightify.api("GET", "/devices", tok["access_token"])
    assert resp.status_code == 401
    assert resp.json()["error"] == "invalid_token"
    assert resp.headers["WWW-Authenticate"].startswith("Bearer ")


def test_refresh_rotates_and_kills_the_old_pair(lightify):
    old = lightify.login()
    resp = lightify.refresh(old["refresh_token"])
    assert resp.status_code == 200, resp.text
    new = resp.json()
    assert new["access_token"] != old["access_token"]
    assert new["refresh_token"] != old["refresh_token"]
    assert lightify.api("GET", "/devices", old["access_token"]).status_code == 401
    assert lightify.api("GET", "/devices", new["access_token"]).status_code == 200
    again = lightify.refresh(old["refresh_token"])
    assert again.status_code == 400
    assert again.json()["error"] == "invalid_grant"


def test_refresh_works_after_access_token_expired(lightify, mockcloud):
    old = lightify.login()
    mockcloud.advance(10 * 3600)
    new = lightify.refresh(old["refresh_token"]).json()
    assert lightify.api("GET", "/devices", new["access_token"]).status_code == 200


@pytest.mark.parametrize("which,hint", [("access_token", "access_token"),
                                        ("refresh_token", "refresh_token"),
                                        ("access_token", None),
                                        ("refresh_token", None)])
def test_revoke_kills_both_tokens(lightify, which, hint):
    tok = lightify.login()
    resp = lightify.revoke(tok[which], hint)
    assert resp.status_code == 200
    assert resp.json() == {}
    assert lightify.api("GET", "/devices", tok["access_token"]).status_code == 401
    assert lightify.refresh(tok["refresh_token"]).json()["error"] == "invalid_grant"


def test_revoke_with_refresh_token_after_expiry(lightify, mockcloud):
    tok = lightify.login()
    mockcloud.advance(7200)
    assert lightify.revoke(tok["refresh_token"], "refresh_token").status_code == 200
    assert lightify.refresh(tok["refresh_token"]).json()["error"] == "invalid_grant"


def test_revoke_needs_the_owning_client(lightify):
    tok = lightify.login(CI_APP)
    resp = lightify.revoke(tok["access_token"], client=DEMO)
    assert resp.status_code == 400
    assert lightify.api("GET", "/devices", tok["access_token"]).status_code == 200


def test_code_is_single_use(lightify):
    code = lightify.code()
    assert lightify.exchange(code).status_code == 200
    second = lightify.exchange(code)
    assert second.status_code == 400
    assert second.json()["error"] == "invalid_grant"


def test_code_expires_after_five_minutes(lightify, mockcloud):
    code = lightify.code()
    mockcloud.advance(301)
    resp = lightify.exchange(code)
    assert resp.status_code == 400
    assert resp.json()["error"] == "invalid_grant"
    assert "expired" in resp.json()["error_description"]


def test_code_within_five_minutes_works(lightify, mockcloud):
    code = lightify.code()
    mockcloud.advance(290)
    assert lightify.exchange(code).status_code == 200


def test_redirect_uri_must_match_the_authorize_request(lightify):
    code = lightify.code(redirect=REDIRECT)
    resp = lightify.exchange(code, redirect="http://127.0.0.1:8765/callback")
    assert resp.status_code == 400
    assert resp.json()["error"] == "invalid_grant"


def test_code_of_another_client_is_refused(lightify):
    code = lightify.code(CI_APP)
    resp = lightify.exchange(code, client=DEMO)
    assert resp.status_code == 400
    assert resp.json()["error"] == "invalid_grant"


def test_pkce_s256_verified(lightify):
    verifier, challenge = pkce_pair()
    code = lightify.code(code_challenge=challenge, code_challenge_method="S256")
    wrong = lightify.exchange(code, code_verifier=pkce_pair()[0])
    assert wrong.status_code == 400
    assert wrong.json()["error"] == "invalid_grant"
    code = lightify.code(code_challenge=challenge, code_challenge_method="S256")
    missing = lightify.exchange(code)
    assert missing.status_code == 400
    code = lightify.code(code_challenge=challenge, code_challenge_method="S256")
    assert lightify.exchange(code, code_verifier=verifier).status_code == 200


def test_bad_client_secret(lightify):
    resp = lightify.exchange(lightify.code(), client=(CI_APP[0], "wrong"))
    assert resp.status_code in (400, 401)
    assert resp.json()["error"] == "invalid_client"


def test_client_secret_basic_is_accepted(lightify):
    code = lightify.code()
    resp = lightify.http.post(f"{lightify.base}/oauth2/access_token", auth=CI_APP, data={
        "grant_type": "authorization_code", "code": code, "redirect_uri": REDIRECT})
    assert resp.status_code == 200, resp.text


@pytest.mark.parametrize("form,error", [
    ({"grant_type": "password", "username": "a", "password": "b"}, "unsupported_grant_type"),
    ({"grant_type": "authorization_code"}, "invalid_request"),
    ({}, "unsupported_grant_type"),
    ({"grant_type": "refresh_token", "refresh_token": "nope"}, "invalid_grant"),
])
def test_token_endpoint_errors(lightify, form, error):
    resp = lightify.token_request(**form)
    assert resp.status_code == 400
    body = resp.json()
    assert body["error"] == error
    assert body["error_description"]


class _ConsentForm(HTMLParser):
    """The page's form as a browser sees it: its action and its fields."""

    def __init__(self) -> None:
        super().__init__()
        self.action: str | None = None
        self.fields: dict[str, str] = {}
        self.buttons: dict[str, str] = {}

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        a = {k: v or "" for k, v in attrs}
        if tag == "form":
            self.action = a.get("action", "")
        elif tag == "input" and a.get("name"):
            self.fields[a["name"]] = a.get("value", "")
        elif tag == "button" and a.get("name"):
            self.buttons[a.get("value", "")] = a["name"]


def post_consent(lightify, page, decision: str, **fields: str):
    """Post the consent form the way a browser does: every field of the form (hidden
    ones included, email and password even when empty), the clicked button's name and
    value, to the form's action resolved against the page's URL."""
    form = _ConsentForm()
    form.feed(page.text)
    assert form.action is not None, "no <form> on the page"
    action = urljoin(page.url, form.action)  # action="" would be the page URL, query too
    data = {**form.fields, **fields, form.buttons[decision]: decision}
    return lightify.http.post(action, data=data, allow_redirects=False)


def test_consent_form_posts_to_the_authorize_url_without_its_query(lightify):
    page = lightify.authorize(DEMO, code_challenge="x" * 43, code_challenge_method="S256")
    form = _ConsentForm()
    form.feed(page.text)
    assert urljoin(page.url, form.action) == f"{lightify.base}/oauth2/authorize"
    assert form.fields == {"client_id": DEMO[0], "redirect_uri": REDIRECT, "state": "S-1",
                           "response_type": "code", "code_challenge": "x" * 43,
                           "code_challenge_method": "S256", "email": "", "password": ""}


def test_consent_and_error_pages_refuse_framing(lightify):
    for resp in (lightify.authorize(DEMO), lightify.authorize(("nobody", ""))):
        assert "text/html" in resp.headers["Content-Type"]
        assert resp.headers["X-Frame-Options"] == "DENY"
        assert "frame-ancestors 'none'" in resp.headers["Content-Security-Policy"]
        assert resp.headers["Cache-Control"] == "no-store"
        assert resp.headers["Referrer-Policy"] == "no-referrer"


def test_consent_page_login_and_approve(lightify):
    page = lightify.authorize(DEMO)
    assert page.status_code == 200
    assert "text/html" in page.headers["Content-Type"]
    assert 'name="password"' in page.text and "Approve" in page.text
    wrong = post_consent(lightify, page, "approve", email="demo@lightify.test", password="x")
    assert wrong.status_code == 200 and "Wrong email or password" in wrong.text
    ok = post_consent(lightify, wrong, "approve", email="demo@lightify.test", password="demo")
    assert ok.status_code == 302
    q = _query(ok)
    assert q["state"] == "S-1" and ok.headers["Location"].startswith(REDIRECT + "?")
    assert lightify.exchange(q["code"], client=DEMO).status_code == 200


def test_consent_deny_redirects_access_denied(lightify):
    page = lightify.authorize(DEMO)
    resp = post_consent(lightify, page, "deny")
    assert resp.status_code == 302
    assert _query(resp) == {"error": "access_denied", "state": "S-1"} | {
        k: v for k, v in _query(resp).items() if k == "error_description"}


@pytest.mark.parametrize("params", [
    {"client_id": "nobody", "redirect_uri": REDIRECT, "response_type": "code"},
    {"client_id": DEMO[0], "redirect_uri": "https://evil.example/cb", "response_type": "code"},
])
def test_unknown_client_or_redirect_gets_an_error_page(lightify, params):
    resp = lightify.http.get(f"{lightify.base}/oauth2/authorize", params=params,
                             allow_redirects=False)
    assert resp.status_code == 400
    assert "Location" not in resp.headers
    assert "text/html" in resp.headers["Content-Type"]


def test_bad_response_type_redirects_with_error(lightify):
    resp = lightify.authorize(DEMO, response_type="token")
    assert resp.status_code == 302
    q = _query(resp)
    assert q["error"] == "unsupported_response_type" and q["state"] == "S-1"


def test_unencoded_redirect_uri_is_accepted(lightify):
    raw = (f"{lightify.base}/oauth2/authorize?client_id={CI_APP[0]}&state=S-9"
           f"&redirect_uri={REDIRECT}&response_type=code")
    resp = lightify.http.get(raw, allow_redirects=False)
    assert resp.status_code == 302
    assert _query(resp)["state"] == "S-9"


def test_admin_token_introspection_and_revocation(lightify, mockcloud):
    tok = lightify.login()
    info = mockcloud.introspect(tok["access_token"])
    assert info["active"] and info["client_id"] == CI_APP[0]
    assert info["user"] == "demo@lightify.test"
    assert any(t["access_token"] == tok["access_token"] for t in mockcloud.tokens())
    mockcloud.revoke(tok["refresh_token"])
    assert lightify.api("GET", "/devices", tok["access_token"]).status_code == 401
    assert mockcloud.introspect(tok["access_token"])["state"] == "revoked"
    assert mockcloud.introspect("no-such-token") == {"active": False}


# Regressions from fuzzing: odd characters must give 4xx, never 500.
def test_non_ascii_client_secret(lightify):
    resp = lightify.exchange("x", client=(CI_APP[0], "é"))
    assert resp.status_code == 401 and resp.json()["error"] == "invalid_client"
    basic = lightify.http.post(f"{lightify.base}/oauth2/access_token", auth=(CI_APP[0], "é"),
                               data={"grant_type": "authorization_code", "code": "x"})
    assert basic.status_code == 401


def test_unknown_client_at_token_endpoint_is_401(lightify):
    resp = lightify.exchange("x", client=("nobody", "nothing"))
    assert resp.status_code == 401
    assert "client_secret" in resp.json()["error_description"]


@pytest.mark.parametrize("params", [{"response_type": "é"}, {"response_type": 'a"b'},
                                    {"redirect_uri": "https://example.com/é"}])
def test_odd_characters_on_authorize(lightify, params):
    resp = lightify.authorize(DEMO, **params)
    assert 400 <= resp.status_code < 500 or resp.status_code == 302


def test_non_ascii_password_on_consent(lightify):
    page = lightify.authorize(DEMO)
    resp = post_consent(lightify, page, "approve", email="demo@lightify.test", password="é")
    assert resp.status_code == 200 and "Wrong email or password" in resp.text


def test_revoke_with_odd_hint(lightify):
    tok = lightify.login()
    resp = lightify.revoke(tok["access_token"], "é")
    assert resp.status_code == 400 and resp.json()["error"] == "unsupported_token_type"
