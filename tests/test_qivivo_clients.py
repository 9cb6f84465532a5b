"""Each known Qivivo client's exact requests (apis/qivivo.md §4.2 and §6), so every one
works unchanged but for its hosts: how it asks for a token, how it sends credentials
and paths. Raw ``requests`` calls shaped as each client sends them; every answer is
checked against the contract (the ``qivivo`` fixture)."""

from __future__ import annotations

import base64
import json
from urllib.parse import parse_qs, urlencode, urlparse

import requests

from tests.qivivo_http import CI, REDIRECT, SCOPES, TH, USER, Qivivo

LORK_SCOPES = ("read_devices read_programmation update_programmation read_thermostats "
               "read_wireless_modules read_house_data")


def _code(qivivo: Qivivo, scope: str, redirect: str = REDIRECT, state: bool = False) -> str:
    """GET <account>/?response_type=code&... at the host's root (auto-approving app)."""
    params = {"response_type": "code", "scope": scope, "client_id": CI[0],
              "redirect_uri": redirect}
    if state:
        params["state"] = "xyz"
    resp = qivivo.http.get(f"{qivivo.base}/", params=params, allow_redirects=False)
    assert resp.status_code == 302, resp.text
    query = parse_qs(urlparse(resp.headers["Location"]).query)
    assert ("state" in query) == state
    return query["code"][0]


def test_kiboost_php_form_body_no_scope_doubled_slashes_json_type_everywhere(qivivo):
    resp = qivivo.http.post(f"{qivivo.base}/oauth/token", headers={"Accept": "*/*"},
                            data={"grant_type": "client_credentials", "client_id": CI[0],
                                  "client_secret": CI[1]})
    assert resp.status_code == 200, resp.text
    body = resp.json()
    assert "refresh_token" not in body and body["expires_in"] == 3600
    token = body["access_token"]
    headers = {"authorization": f"Bearer {token}", "content-type": "application/json",
               "content-length": "0"}
    root = f"{qivivo.base}/api/v2/"
    devices = qivivo.http.get(root + "/devices", headers=headers, data=b"")
    assert devices.status_code == 200, devices.text
    temp = qivivo.http.get(root + f"/devices/thermostats/{TH}/temperature", headers=headers,
                           data=b"")
    assert temp.status_code == 200
    resp = qivivo.http.post(root + f"/devices/thermostats/{TH}/temperature/temporary-instruction",
                            headers={**headers, "content-length": None},
                            data=json.dumps({"temperature": 22.51, "duration": 120}))
    assert resp.status_code == 200, resp.text
    programs = qivivo.http.get(root + f"/devices/thermostats/{TH}/programs", headers=headers,
                               data=b"").json()["user_programs"]
    active = next(p["id"] for p in programs if p["name"] == "Semaine Vacances")
    resp = qivivo.http.put(root + f"/devices/thermostats/{TH}/programs/{active}/active",
                           headers=headers, data=b"")
    assert resp.status_code == 200, resp.text
    resp = qivivo.http.delete(root + f"/devices/thermostats/{TH}/temperature/temporary-instruction",
                              headers=headers, data=b"")
    assert resp.status_code == 200


def test_melecptp_basic_auth_with_the_eight_scopes_echoed(qivivo):
    resp = qivivo.http.post(f"{qivivo.base}/oauth/token", auth=CI,
                            headers={"Accept": "application/json"},
                            data={"grant_type": "client_credentials", "scope": SCOPES})
    assert resp.status_code == 200, resp.text
    assert resp.json()["scope"] == SCOPES            # oauthlib: "Scope has changed" else
    headers = {"Authorization": f"Bearer {resp.json()['access_token']}",
               "Content-Type": "application/json"}
    assert qivivo.http.get(f"{qivivo.base}/api/v2/devices", headers=headers).ok
    put = qivivo.http.put(f"{qivivo.base}/api/v2/devices/thermostats/{TH}/programs/1/active",
                          headers={**headers, "Content-Length": "0"})
    assert put.status_code == 200 and put.json()["message"]


def test_documented_singular_grant_spelling(qivivo):
    resp = qivivo.token(grant_type="client_credential", scope="read_devices")
    assert resp.status_code == 200, resp.text
    assert resp.json()["scope"] == "read_devices"


def test_lorkscorguar_python_query_string_token_requests_and_trailing_slash(qivivo):
    code = _code(qivivo, LORK_SCOPES)
    query = urlencode({"grant_type": "authorization_code", "code": code, "client_id": CI[0],
                       "client_secret": CI[1], "redirect_uri": REDIRECT})
    resp = requests.post(f"{qivivo.base}/oauth/token?{query}",
                         headers={"Content-Type": ""}, data=b"")
    assert resp.status_code == 200, resp.text
    first = resp.json()
    assert first["refresh_token"] and first["scope"] == LORK_SCOPES
    devices = qivivo.http.get(f"{qivivo.base}/api/v2/devices/",
                              headers={"Authorization": f"Bearer {first['access_token']}"})
    assert devices.status_code == 200
    query = urlencode({"grant_type": "refresh_token", "refresh_token": first["refresh_token"],
                       "client_id": CI[0], "client_secret": CI[1], "redirect_uri": REDIRECT})
    again = requests.post(f"{qivivo.base}/oauth/token?{query}", data=b"")
    assert again.status_code == 200, again.text
    assert again.json()["refresh_token"] != first["refresh_token"]
    old = qivivo.http.get(f"{qivivo.base}/api/v2/devices",
                          headers={"Authorization": f"Bearer {first['access_token']}"})
    assert old.status_code == 401                    # rotation: the old pair is dead


def test_lorkscorguar_node_refresh_params_twice_wrong_content_type_bearer_header(qivivo):
    code = _code(qivivo, LORK_SCOPES)
    first = qivivo.http.post(f"{qivivo.base}/oauth/token", data={
        "grant_type": "authorization_code", "code": code, "client_id": CI[0],
        "client_secret": CI[1], "redirect_uri": REDIRECT}).json()
    params = {"grant_type": "refresh_token", "refresh_token": first["refresh_token"],
              "client_id": CI[0], "client_secret": CI[1]}
    resp = qivivo.http.post(f"{qivivo.base}/oauth/token?{urlencode(params)}",
                            data=urlencode(params),
                            headers={"content-type": "application/json",
                                     "authorization": f"Bearer {first['access_token']}"})
    assert resp.status_code == 200, resp.text
    assert resp.json()["refresh_token"]


def test_rqivivo_basic_auth_code_then_refresh_with_no_secret_and_token_type_casing(qivivo):
    redirect = "http://localhost:1410/"
    code = _code(qivivo, SCOPES, redirect, state=True)
    basic = base64.b64encode(f"{CI[0]}:{CI[1]}".encode()).decode()
    resp = qivivo.http.post(f"{qivivo.base}/oauth/token",
                            headers={"Authorization": f"Basic {basic}"},
                            data={"grant_type": "authorization_code", "code": code,
                                  "redirect_uri": redirect})
    assert resp.status_code == 200, resp.text
    tokens = resp.json()
    query = urlencode({"grant_type": "refresh_token", "refresh_token": tokens["refresh_token"],
                       "client_id": CI[0]})
    refreshed = qivivo.http.post(f"{qivivo.base}/oauth/token?{query}")
    assert refreshed.status_code == 200, refreshed.text
    fresh = refreshed.json()
    for scheme in ("bearer", "BEARER", fresh["token_type"]):
        resp = qivivo.http.get(f"{qivivo.base}/api/v2/devices",
                               headers={"Authorization": f"{scheme} {fresh['access_token']}"})
        assert resp.status_code == 200, scheme
    # httr posts bodies as multipart/form-data: numbers arrive as strings
    resp = qivivo.http.post(
        f"{qivivo.base}/api/v2/devices/thermostats/{TH}/temperature/temporary-instruction",
        headers={"Authorization": f"Bearer {fresh['access_token']}"},
        files={"temperature": (None, "21.5"), "duration": (None, "20")})
    assert resp.status_code == 200, resp.text


def test_refresh_without_secret_is_refused_for_an_app_not_marked(qivivo):
    demo = ("qivivo-demo", "qivivo-demo-secret")
    token = qivivo.admin.issue_token("qivivo", demo[0], USER, "read_devices")
    resp = qivivo.http.post(f"{qivivo.base}/oauth/token", data={
        "grant_type": "refresh_token", "refresh_token": token["refresh_token"],
        "client_id": demo[0]})
    assert resp.status_code in (400, 401), resp.text
    assert resp.json()["error"] and resp.json()["message"]


def test_unknown_scope_is_refused_at_the_authorization_page(qivivo):
    resp = qivivo.http.get(f"{qivivo.base}/", allow_redirects=False, params={
        "response_type": "code", "client_id": CI[0], "redirect_uri": REDIRECT,
        "scope": "read_devices update_thermostat"})
    assert resp.status_code == 302
    assert parse_qs(urlparse(resp.headers["Location"]).query)["error"] == ["invalid_scope"]


def test_the_real_host_names_route_by_host(qivivo):
    tenant = {"X-Mockcloud-Tenant": qivivo.admin.tenant}
    server = qivivo.admin.base
    resp = requests.post(f"{server}/oauth/token",
                         headers={**tenant, "Host": "account.qivivo.com"},
                         data={"grant_type": "client_credentials", "client_id": CI[0],
                               "client_secret": CI[1]})
    assert resp.status_code == 200, resp.text
    api = requests.get(f"{server}/api/v2//devices",
                       headers={**tenant, "Host": "data.qivivo.com",
                                "Authorization": f"Bearer {resp.json()['access_token']}"})
    assert api.status_code == 200 and api.json()["devices"]
    page = requests.get(f"{server}/", allow_redirects=False,
                        headers={**tenant, "Host": "account.qivivo.com"},
                        params={"response_type": "code", "client_id": "qivivo-demo",
                                "redirect_uri": REDIRECT, "scope": "read_devices"})
    assert page.status_code == 200 and "text/html" in page.headers["Content-Type"]
