"""Netatmo's OAuth server end to end over HTTP, on the virtual clock: the consent flow,
the token answer's shape, rotation, the legacy password grant, client authentication,
scopes. Every answer is checked against the Netatmo contract (the ``netatmo`` fixture)."""

from __future__ import annotations

import re
from html.parser import HTMLParser
from urllib.parse import parse_qs, urljoin, urlparse

import pytest

from tests.netatmo_http import (
    CI,
    DEMO,
    LEGACY,
    PASSWORD,
    REDIRECT,
    USER,
    USER_ID,
    Netatmo,
    api_error,
)

TOKEN = re.compile(r"^[0-9a-f]{24}\|[0-9a-f]{32}$")


def _query(resp) -> dict[str, str]:
    return {k: v[0] for k, v in parse_qs(urlparse(resp.headers["Location"]).query).items()}


class _Form(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.action, self.fields = "", {}

    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        if tag == "form":
            self.action = a.get("action", "")
        if tag == "input" and a.get("type") == "hidden":
            self.fields[a["name"]] = a.get("value", "")


def _exchange(netatmo: Netatmo, code: str, client=CI, **kw):
    return netatmo.token_request(client, grant_type="authorization_code", code=code,
                                 redirect_uri=REDIRECT, **kw)


def test_login_page_consent_and_the_token_answer(netatmo: Netatmo):
    page = netatmo.authorize(DEMO, scope="read_station read_thermostat")
    assert page.status_code == 200 and "text/html" in page.headers["Content-Type"]
    form = _Form()
    form.feed(page.text)
    assert form.fields["scope"] == "read_station read_thermostat"
    resp = netatmo.http.post(urljoin(page.url, form.action), allow_redirects=False,
                             data={**form.fields, "email": USER, "password": PASSWORD,
                                   "decision": "approve"})
    assert resp.status_code == 302, resp.text
    query = _query(resp)
    assert query["state"] == "S-1" and resp.headers["Location"].startswith(REDIRECT)
    token = _exchange(netatmo, query["code"], DEMO)
    assert token.status_code == 200, token.text
    assert token.headers["Content-Type"].startswith("application/json")
    body = token.json()
    assert set(body) == {"access_token", "refresh_token", "scope", "expires_in", "expire_in"}
    assert body["scope"] == ["read_station", "read_thermostat"]
    assert body["expires_in"] == body["expire_in"] == 10800
    for key in ("access_token", "refresh_token"):
        assert TOKEN.match(body[key]) and body[key].startswith(USER_ID + "|")
    assert netatmo.api("homesdata", body["access_token"]).status_code == 200


def test_deny_redirects_with_access_denied(netatmo: Netatmo):
    page = netatmo.authorize(DEMO, scope="read_station")
    form = _Form()
    form.feed(page.text)
    resp = netatmo.http.post(urljoin(page.url, form.action), allow_redirects=False,
                             data={**form.fields, "decision": "deny"})
    assert resp.status_code == 302
    query = _query(resp)
    assert (query["error"], query["state"]) == ("access_denied", "S-1") and "code" not in query


def test_no_scope_gets_the_apps_default(netatmo: Netatmo):
    code = netatmo.code(CI)
    assert _exchange(netatmo, code).json()["scope"] == ["read_station"]


def test_unknown_scope_is_refused_at_authorize(netatmo: Netatmo):
    resp = netatmo.authorize(CI, scope="read_station read_everything")
    assert resp.status_code == 302
    query = _query(resp)
    assert query["error"] == "invalid_scope" and query["state"] == "S-1"
    assert "code" not in query


def test_refresh_rotates_and_the_old_pair_dies(netatmo: Netatmo):
    old = netatmo.login()
    resp = netatmo.refresh(old["refresh_token"])
    assert resp.status_code == 200, resp.text
    new = resp.json()
    assert new["access_token"] != old["access_token"]
    assert new["refresh_token"] != old["refresh_token"]
    assert TOKEN.match(new["refresh_token"]) and new["expire_in"] == 10800
    assert new["scope"] == old["scope"]
    assert api_error(netatmo.api("homesdata", old["access_token"]))[:2] == (403, 2)
    assert netatmo.api("homesdata", new["access_token"]).status_code == 200
    again = netatmo.refresh(old["refresh_token"])
    assert (again.status_code, again.json()) == (400, {"error": "invalid_grant"})
    assert netatmo.api("homesdata", new["access_token"]).status_code == 200


def test_refresh_after_the_access_token_expired(netatmo: Netatmo, mockcloud):
    old = netatmo.login()
    mockcloud.advance(10800)
    assert api_error(netatmo.api("homesdata", old["access_token"])) == (
        403, 3, "Access token expired")
    new = netatmo.refresh(old["refresh_token"]).json()
    assert netatmo.api("homesdata", new["access_token"]).status_code == 200


def test_code_is_single_use(netatmo: Netatmo):
    code = netatmo.code(CI, scope="read_station")
    assert _exchange(netatmo, code).status_code == 200
    again = _exchange(netatmo, code)
    assert (again.status_code, again.json()) == (400, {"error": "invalid_grant"})


def test_password_grant_for_legacy_apps_only(netatmo: Netatmo):
    form = {"grant_type": "password", "username": USER, "password": PASSWORD,
            "scope": "read_station read_thermostat"}
    ok = netatmo.token_request(LEGACY, **form)
    assert ok.status_code == 200, ok.text
    assert ok.json()["scope"] == ["read_station", "read_thermostat"]
    assert TOKEN.match(ok.json()["access_token"])
    refused = netatmo.token_request(CI, **form)
    assert (refused.status_code, refused.json()) == (400, {"error": "unauthorized_client"})
    wrong = netatmo.token_request(LEGACY, **{**form, "password": "nope"})
    # RFC 6749 §5.2: wrong resource-owner credentials are an invalid grant
    assert (wrong.status_code, wrong.json()) == (400, {"error": "invalid_grant"})


@pytest.mark.parametrize("basic", [False, True], ids=["form-body", "http-basic"])
def test_client_authenticates_by_body_or_basic(netatmo: Netatmo, basic: bool):
    code = netatmo.code(CI, scope="read_station")
    resp = netatmo.token_request(CI, basic=basic, grant_type="authorization_code",
                                 code=code, redirect_uri=REDIRECT)
    assert resp.status_code == 200, resp.text
    bad = netatmo.token_request((CI[0], "wrong"), basic=basic, grant_type="refresh_token",
                                refresh_token=resp.json()["refresh_token"])
    assert bad.json() == {"error": "invalid_client"} and bad.status_code in (400, 401)


def test_token_errors_are_flat(netatmo: Netatmo):
    for form in ({"grant_type": "client_credentials"}, {"grant_type": "refresh_token"},
                 {"grant_type": "authorization_code", "code": "nope",
                  "redirect_uri": REDIRECT}):
        resp = netatmo.token_request(CI, **form)
        assert resp.status_code == 400
        assert set(resp.json()) == {"error"}, resp.text
