"""The lock on the control plane (``/_mockcloud/``), the admin token, what health tells,
the redaction of journal exports, and POST /tokens.

Over real HTTP against the plugin's server (which has an admin token) and against one
of our own without a token (the default of ``mockcloud serve``, where only the
content-type, origin and host checks stand between a web page and the admin API);
unit tests where a real server cannot vary what it is bound to.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator
from urllib.parse import parse_qs, urlsplit

import pytest
import requests
import vcr
import yaml
from werkzeug.test import Client

from emulator.app import create_app
from emulator.core.admin.lock import is_loopback, same_origin, split_host
from emulator.core.journal import redact_entry, redact_text, redact_url, to_cassette
from emulator.settings import Settings
from emulator.testing import Admin, AdminError, ServerProcess
from tests.conftest import CI_APP, REDIRECT

EVIL = "https://evil.example"


@pytest.fixture(scope="module")
def open_server() -> Iterator[str]:
    """``mockcloud serve`` as a developer runs it: loopback, no admin token."""
    with ServerProcess(env={"MOCKCLOUD_ADMIN_TOKEN": ""}) as server:
        assert server.admin_token is None
        yield server.url


@pytest.fixture
def open_admin(open_server: str) -> Admin:
    return Admin(open_server, f"open-{uuid.uuid4().hex[:8]}")


@pytest.fixture(scope="module")
def locked_server(mockcloud_server: str, mockcloud_admin_token: str | None
                  ) -> Iterator[tuple[str, str]]:
    """(url, admin token) of a server that wants one: the plugin's, or our own."""
    if mockcloud_admin_token:
        yield mockcloud_server, mockcloud_admin_token
        return
    with ServerProcess(admin_token="s3cret-admin") as server:
        yield server.url, "s3cret-admin"


@pytest.fixture(params=["plugin", "open"])
def admin(request: pytest.FixtureRequest, mockcloud: Admin) -> Admin:
    """A tenant on the plugin's server (with its admin token) and on one without a
    token: the lock holds on both."""
    if request.param == "plugin":
        return mockcloud
    return request.getfixturevalue("open_admin")


def _admin_url(admin: Admin, path: str) -> str:
    return f"{admin.url()}/_mockcloud{path}"


def _send(admin: Admin, method: str, path: str, headers: dict[str, str] | None = None,
          **kw) -> requests.Response:
    """A raw request to the admin API, with the admin token when the server has one
    (so that what is tested is the lock, not the token)."""
    return requests.request(method, _admin_url(admin, path), timeout=30,
                            headers={**admin.headers, **(headers or {})}, **kw)


# ----------------------------------------------------- web pages cannot make it act

@pytest.mark.parametrize("content_type", [
    None, "text/plain", "text/plain;charset=UTF-8", "application/x-www-form-urlencoded",
    "multipart/form-data; boundary=x", "application/jsonp", "text/json"])
def test_a_cross_site_simple_post_never_acts(admin: Admin, content_type: str | None):
    """What a web page can send to another site without a CORS preflight (text/plain,
    a form) is refused with 415 before anything happens; a page does not know the admin
    token either (401 first, when the server has one)."""
    before = admin.freeze("2030-01-01T00:00:00Z")
    admin.add_fault(path="/v4/nothing", status=500)
    headers = {"Content-Type": content_type} if content_type else {}
    for path, body in [("/clock/advance", b'{"seconds": 3600}'),
                       ("/faults", b'{"path": "/v4/*", "status": 503}'),
                       ("/reset", b""), ("/faults", b"status=503"),
                       ("/tokens", b'{"vendor": "lightify", "client_id": "lightify-ci"}')]:
        resp = _send(admin, "POST", path, headers, data=body)
        assert resp.status_code == 415, (path, resp.text)
        assert resp.json()["error"] == "unsupported_media_type"
        assert "application/json" in resp.json()["message"]
        as_a_page = requests.post(_admin_url(admin, path), data=body, headers=headers,
                                  timeout=30)
        assert as_a_page.status_code == (401 if admin.token else 415)
    assert _send(admin, "PUT", "/world", headers, data=b"{}").status_code == 415
    assert admin.now() == before["now"]            # the clock did not move
    assert [f["path"] for f in admin.faults()] == ["/v4/nothing"]  # no rule, no reset
    assert admin.tokens() == []


def test_writes_need_the_json_type_even_with_an_empty_body(admin: Admin):
    assert _send(admin, "POST", "/clock/resume").status_code == 415
    ok = _send(admin, "POST", "/clock/resume",
               {"Content-Type": "application/json; charset=utf-8"})
    assert ok.status_code == 200 and ok.json()["frozen"] is False


@pytest.mark.parametrize("content_type", ["application/yaml", "application/x-yaml",
                                          "text/yaml", "application/json"])
def test_the_world_takes_yaml_and_json(admin: Admin, content_type: str):
    resp = _send(admin, "PUT", "/world", {"Content-Type": content_type},
                 data=b"lightify: {}")
    assert resp.status_code == 200, resp.text
    assert resp.json()["status"] == "loaded"


def test_reads_and_deletes_need_no_content_type(admin: Admin):
    assert _send(admin, "GET", "/world").status_code == 200
    assert _send(admin, "DELETE", "/faults").status_code == 200


# ------------------------------------------------------------------------- origin

@pytest.mark.parametrize("origin", [EVIL, "null", "http://127.0.0.1", "https://127.0.0.1:{port}",
                                    "http://localhost:{port}", "http://127.0.0.1:1"])
def test_a_foreign_origin_is_refused_reads_and_writes(admin: Admin, origin: str):
    headers = {"Origin": origin.format(port=urlsplit(admin.base).port)}
    for method, path, kw in [("GET", "/tokens", {}), ("GET", "/world", {}),
                             ("GET", "/health", {}), ("DELETE", "/journal", {}),
                             ("POST", "/clock/advance", {"json": {"seconds": 60}}),
                             ("OPTIONS", "/faults", {})]:
        resp = _send(admin, method, path, headers, **kw)
        assert resp.status_code == 403, (method, path, resp.text)
        assert resp.json()["error"] == "forbidden"
        assert "Access-Control-Allow-Origin" not in resp.headers
    assert _send(admin, "GET", "/clock").json()["frozen"] is False


def test_the_emulators_own_origin_is_welcome(admin: Admin):
    own = f"{urlsplit(admin.base).scheme}://{urlsplit(admin.base).netloc}"
    resp = _send(admin, "POST", "/clock/freeze", {"Origin": own}, json={})
    assert resp.status_code == 200 and resp.json()["frozen"] is True


# -------------------------------------------------------------------- DNS rebinding

@pytest.mark.parametrize("host", ["evil.example", "evil.example:{port}", "127.0.0.1.nip.io",
                                  "localhost.evil.example", "10.0.0.7:{port}", "[::2]"])
def test_a_foreign_host_name_is_refused_on_loopback(admin: Admin, host: str):
    headers = {"Host": host.format(port=urlsplit(admin.base).port)}
    for path in ("/tokens", "/world", "/health"):
        resp = _send(admin, "GET", path, headers)
        assert resp.status_code == 403, (path, resp.text)
        assert "DNS rebinding" in resp.json()["message"]


@pytest.mark.parametrize("host", ["localhost:{port}", "LOCALHOST", "app.localhost:{port}",
                                  "127.0.0.1:{port}", "127.8.9.10", "[::1]:{port}"])
def test_loopback_host_names_are_welcome(admin: Admin, host: str):
    resp = _send(admin, "GET", "/health", {"Host": host.format(port=urlsplit(admin.base).port)})
    assert resp.status_code == 200, resp.text


def test_a_vendor_host_name_never_reaches_the_admin_api(admin: Admin):
    resp = _send(admin, "GET", "/world", {"Host": "emea.lightify-api.com"})
    assert resp.status_code == 404
    assert "lightify" not in resp.json() and "error" in resp.json()


@pytest.mark.parametrize("bound", ["0.0.0.0", "192.168.1.10", "::"])
def test_off_loopback_any_host_name_is_answered_but_origins_are_not(bound: str):
    client = Client(create_app(Settings(host=bound)))
    assert client.get("/_mockcloud/health", headers={"Host": "mockcloud.lan:8080"}
                      ).status_code == 200
    resp = client.get("/_mockcloud/world", headers={"Host": "mockcloud.lan:8080",
                                                    "Origin": EVIL})
    assert resp.status_code == 403
    resp = client.get("/_mockcloud/world", headers={"Host": "mockcloud.lan:8080",
                                                    "Origin": "http://mockcloud.lan:8080"})
    assert resp.status_code == 200


@pytest.mark.parametrize("bound", ["127.0.0.1", "127.0.0.53", "::1", "localhost", "[::1]"])
def test_on_loopback_only_loopback_names_are_answered(bound: str):
    client = Client(create_app(Settings(host=bound)))
    assert client.get("/_mockcloud/health", headers={"Host": "evil.example"}
                      ).status_code == 403
    assert client.get("/_mockcloud/health", headers={"Host": "localhost:8080"}
                      ).status_code == 200


@pytest.mark.parametrize(("host", "loopback"), [
    ("localhost", True), ("LocalHost.", True), ("a.b.localhost", True), ("127.0.0.1", True),
    ("127.255.0.9", True), ("[::1]", True), ("::1", True), ("localhost.evil", False),
    ("evil-localhost", False), ("128.0.0.1", False), ("0.0.0.0", False), ("::", False),
    ("[::2]", False), ("", False), ("127.0.0.1.nip.io", False)])
def test_is_loopback(host: str, loopback: bool):
    assert is_loopback(host) is loopback


@pytest.mark.parametrize(("host", "parts"), [
    ("localhost:8080", ("localhost", "8080")), ("localhost", ("localhost", "")),
    ("[::1]:80", ("[::1]", "80")), ("[::1]", ("[::1]", "")), ("::1", ("::1", ""))])
def test_split_host(host: str, parts: tuple[str, str]):
    assert split_host(host) == parts


@pytest.mark.parametrize(("origin", "scheme", "host", "same"), [
    ("http://127.0.0.1:8080", "http", "127.0.0.1:8080", True),
    ("HTTP://LOCALHOST:8080", "http", "localhost:8080", True),
    ("http://localhost", "http", "localhost:80", True),
    ("https://localhost", "https", "localhost", True),
    ("https://127.0.0.1:8080", "http", "127.0.0.1:8080", False),
    ("http://127.0.0.1:8081", "http", "127.0.0.1:8080", False),
    ("http://localhost:8080", "http", "127.0.0.1:8080", False),
    ("http://127.0.0.1:8080/", "http", "127.0.0.1:8080", False),
    ("null", "http", "127.0.0.1:8080", False), ("", "http", "127.0.0.1:8080", False)])
def test_same_origin(origin: str, scheme: str, host: str, same: bool):
    assert same_origin(origin, scheme, host) is same


# --------------------------------------------------------------------- admin token

def test_the_admin_token_is_required_when_set(locked_server: tuple[str, str]):
    url, token = locked_server
    tenant = f"tok-{uuid.uuid4().hex[:8]}"
    health = f"{url}/_t/{tenant}/_mockcloud/health"
    for headers in [{}, {"Authorization": "Bearer wrong"}, {"Authorization": token},
                    {"Authorization": f"Basic {token}"}, {"X-Mockcloud-Admin-Token": "x"},
                    {"Authorization": f"Bearer {token}x"}]:
        resp = requests.get(health, headers=headers, timeout=30)
        assert resp.status_code == 401, headers
        assert resp.json()["error"] == "unauthorized"
        assert resp.headers["WWW-Authenticate"] == 'Bearer realm="mockcloud-admin"'
        assert "--admin-token" in resp.json()["message"]
    for headers in [{"Authorization": f"Bearer {token}"}, {"Authorization": f"bearer {token}"},
                    {"X-Mockcloud-Admin-Token": token},
                    {"Authorization": "Bearer wrong", "X-Mockcloud-Admin-Token": token}]:
        resp = requests.get(health, headers=headers, timeout=30)
        assert resp.status_code == 200, headers
        assert tenant in resp.json()["tenants"]   # only a caller with the token sees them
    # a write without the token does nothing
    clock = f"{url}/_t/{tenant}/_mockcloud/clock"
    assert requests.post(f"{clock}/freeze", json={}, timeout=30).status_code == 401
    auth = {"Authorization": f"Bearer {token}"}
    assert requests.get(clock, headers=auth, timeout=30).json()["frozen"] is False


def test_the_admin_class_sends_the_token(locked_server: tuple[str, str]):
    url, token = locked_server
    with pytest.raises(AdminError, match="401"):
        Admin(url, "no-token").tokens()
    admin = Admin(url, f"with-token-{uuid.uuid4().hex[:8]}", token=token)
    assert admin.freeze(0)["frozen"] is True
    assert admin.reset()["status"] == "reset"
    assert admin.headers == {"Authorization": f"Bearer {token}"}


def test_without_a_token_health_says_how_to_list_tenants(open_admin: Admin):
    resp = requests.get(_admin_url(open_admin, "/health"), timeout=30,
                        headers={"Authorization": "Bearer anything"})  # ignored
    body = resp.json()
    assert resp.status_code == 200 and "tenants" not in body
    assert "--admin-token" in body["tenants_note"]
    assert "MOCKCLOUD_ADMIN_TOKEN" in body["tenants_note"]


def test_a_token_of_any_text_is_compared_as_bytes():
    client = Client(create_app(Settings(admin_token="ünïcode-tøken")))
    assert client.get("/_mockcloud/health").status_code == 401
    assert client.get("/_mockcloud/health", headers={
        "X-Mockcloud-Admin-Token": "ünïcode-tøken"}).status_code == 200
    for wrong in ("\u00ff" * 3, "ünïcode-tøke", ""):
        assert client.get("/_mockcloud/health", headers={
            "X-Mockcloud-Admin-Token": wrong}).status_code == 401


# ----------------------------------------------------------------- request schemas

@pytest.mark.parametrize(("path", "body", "code", "field"), [
    ("/clock/advance", {"seconds": True}, "invalid_request", "'seconds'"),
    ("/clock", {"action": "rewind"}, "invalid_request", "'action'"),
    ("/faults", {"status": 503.0}, "invalid_fault", "'status'"),
    ("/faults", [{"status": 500}, {"status": 500, "first_n": 0}], "invalid_fault",
     "'[1].first_n'"),
    ("/faults", {"status": 500, "colour": "red"}, "invalid_fault", "'colour'"),
    ("/faults", {"path": "/x"}, "invalid_fault", "effect"),
    ("/tokens/revoke", {"token": ""}, "invalid_request", "'token'"),
    ("/tokens", {"vendor": "lightify", "client_id": 7}, "invalid_request", "'client_id'"),
])
def test_a_bad_body_is_refused_naming_the_field(mockcloud: Admin, path, body, code, field):
    resp = requests.post(_admin_url(mockcloud, path), json=body, headers=mockcloud.headers,
                         timeout=30)
    assert resp.status_code == 400
    assert resp.json()["error"] == code
    assert field in resp.json()["message"], resp.json()["message"]


@pytest.mark.parametrize(("path", "body", "content_type", "code"), [
    ("/faults", b'{"status": 500, "path": "/x\\ud800"}', "application/json", "invalid_json"),
    ("/faults", b'{"status": 500, "body": ' + b"[" * 200 + b"]" * 200 + b"}",
     "application/json", "invalid_json"),
    ("/faults", b"[" * 100000, "application/json", "invalid_json"),
    ("/clock/advance", b'{"seconds": 1e400}', "application/json", "invalid_json"),
    ("/world", b"lightify: {users: [{email: \"a\\ud800@x\"}]}", "application/yaml",
     "invalid_world"),
    ("/world", b"a: " + b"[" * 5000 + b"]" * 5000, "application/yaml", "invalid_world"),
])
def test_bodies_no_store_can_keep_are_refused(mockcloud: Admin, path, body, content_type,
                                              code):
    """Lone surrogates, deep nesting, numbers past a double: a 400, never a 500."""
    method = "PUT" if path == "/world" else "POST"
    resp = requests.request(method, _admin_url(mockcloud, path), data=body, timeout=30,
                            headers={**mockcloud.headers, "Content-Type": content_type})
    assert resp.status_code == 400, resp.text
    assert resp.json()["error"] == code


def test_a_bad_quota_rule_is_refused_naming_the_field(mockcloud: Admin):
    with pytest.raises(AdminError, match=r"invalid_quota.*'rules\[0\]\.window'"):
        mockcloud.set_quotas("lightify", [{"limit": 5, "window": 0}])


# ------------------------------------------------------------------- POST /tokens

def test_issue_token_skips_the_flow(mockcloud: Admin, lightify):
    token = mockcloud.issue_token("lightify", CI_APP[0], "demo@lightify.test")
    assert set(token) >= {"access_token", "refresh_token", "token_type", "expires_in"}
    assert lightify.api("GET", "/devices", token["access_token"]).status_code == 200
    listed = mockcloud.tokens(state="active")
    assert [t["access_token"] for t in listed] == [token["access_token"]]
    assert listed[0]["client_id"] == CI_APP[0]
    refreshed = lightify.refresh(token["refresh_token"])
    assert refreshed.status_code == 200  # a real grant: it refreshes like one
    mockcloud.advance(token["expires_in"] + 1)
    assert lightify.api("GET", "/devices", refreshed.json()["access_token"]).status_code == 401


def test_issue_token_by_user_id_and_unknowns(mockcloud: Admin):
    user_id = mockcloud.issue_token("lightify", CI_APP[0], "demo@lightify.test")
    user = mockcloud.introspect(user_id["access_token"])["user"]
    again = mockcloud.issue_token("lightify", CI_APP[0], user)
    assert mockcloud.introspect(again["access_token"])["user"] == user
    for args in [("nobody", CI_APP[0], "demo@lightify.test"),
                 ("lightify", "no-such-app", "demo@lightify.test"),
                 ("lightify", CI_APP[0], "ghost@lightify.test")]:
        with pytest.raises(AdminError, match="404"):
            mockcloud.issue_token(*args)


# --------------------------------------------------------------- journal redaction

SECRETS = {"client_secret": "s3cr3t", "code": "c0de", "access_token": "acc3ss",
           "refresh_token": "r3fresh", "password": "pa55", "id_token": "id.tok",
           "code_verifier": "v3rifier"}


def test_redact_form_and_query_keeps_everything_else():
    form = "grant_type=authorization_code&code=c0de&client_id=app&client_secret=s%2F3&x="
    assert redact_text(form, "application/x-www-form-urlencoded") == (
        "grant_type=authorization_code&code=REDACTED&client_id=app"
        "&client_secret=REDACTED&x=")
    assert redact_url("https://h/cb?state=s&code=c0de#access_token=acc3ss&token_type=Bearer") \
        == "https://h/cb?state=s&code=REDACTED#access_token=REDACTED&token_type=Bearer"
    assert redact_url("https://h/v4/devices") == "https://h/v4/devices"
    assert redact_url("https://h/x?code") == "https://h/x?code"


def test_redact_json_at_any_depth_and_when_cut_off():
    doc = {"a": [{"password": "pa55", "n": {"id_token": "id.tok"}}], "code": 2,
           "refresh_token": None, **{k: v for k, v in SECRETS.items() if k != "code"}}
    text = redact_text(json.dumps(doc), "application/json")
    assert not any(v in text for v in SECRETS.values())
    assert json.loads(text)["code"] == 2  # a number (Netatmo's error code) is no secret
    assert json.loads(text)["a"][0]["n"]["id_token"] == "REDACTED"
    cut = '{"token_type": "Bearer", "access_token": "acc3ss", "refresh_token": "r3f'
    assert redact_text(cut, "application/json") == (
        '{"token_type": "Bearer", "access_token": "REDACTED", "refresh_token": "REDACTED"')
    untouched = '{"brightness": 5}'
    assert redact_text(untouched, "application/json") is untouched
    assert redact_text("<p>code=abc</p>", "text/html") == "<p>code=abc</p>"
    deep = "[" * 50000 + "]" * 50000
    assert redact_text(deep, "application/json") == deep  # never a RecursionError


def test_redact_entry_headers():
    entry = {"seq": 1, "request": {
        "method": "POST", "path": "/x", "url": "http://h/x?access_token=acc3ss",
        "headers": {"Authorization": "Bearer acc3ss", "Cookie": "sid=1", "Accept": "*/*"},
        "body": {"base64": "AAEC"}},
        "response": {"status": 302, "reason": "FOUND", "body": {"text": ""},
                     "headers": {"Location": "https://e/cb?code=c0de&state=s",
                                 "Set-Cookie": "sid=2", "ETag": "e"}}}
    shown = redact_entry(entry)
    assert shown["request"]["headers"] == {"Authorization": "Bearer REDACTED",
                                           "Cookie": "REDACTED", "Accept": "*/*"}
    assert shown["request"]["url"] == "http://h/x?access_token=REDACTED"
    assert shown["request"]["body"] == {"base64": "AAEC"}
    assert shown["response"]["headers"] == {"Location": "https://e/cb?code=REDACTED&state=s",
                                            "Set-Cookie": "REDACTED", "ETag": "e"}
    assert entry["request"]["headers"]["Authorization"] == "Bearer acc3ss"  # a copy
    assert "acc3ss" in to_cassette([entry], redact=False)
    assert "acc3ss" not in to_cassette([entry])


def _flow(base: str, secret: str = CI_APP[1]) -> dict[str, str]:
    """The code flow, the API, a refresh and a token in a query string, over HTTP,
    taking what it needs from the replies as a real client does (so it replays from a
    cassette whatever the secret it sends)."""
    s = requests.Session()
    resp = s.get(f"{base}/oauth2/authorize", allow_redirects=False, params={
        "client_id": CI_APP[0], "redirect_uri": REDIRECT, "state": "S-1",
        "response_type": "code"})
    code = parse_qs(urlsplit(resp.headers["Location"]).query)["code"][0]
    form = {"client_id": CI_APP[0], "client_secret": secret}
    grant = s.post(f"{base}/oauth2/access_token", data={
        **form, "grant_type": "authorization_code", "code": code,
        "redirect_uri": REDIRECT}).json()
    devices = s.get(f"{base}/v4/devices", headers={
        "Authorization": f"Bearer {grant['access_token']}"}).json()
    new = s.post(f"{base}/oauth2/access_token", data={
        **form, "grant_type": "refresh_token",
        "refresh_token": grant["refresh_token"]}).json()
    by_query = s.get(f"{base}/v4/devices", params={"access_token": new["access_token"]})
    return {"code": code, "access": grant["access_token"], "refresh": grant["refresh_token"],
            "access2": new["access_token"], "refresh2": new["refresh_token"],
            "devices": json.dumps(devices), "by_query": str(by_query.status_code)}


def test_a_redacted_cassette_of_a_flow_still_replays(mockcloud: Admin, tmp_path):
    base = mockcloud.url("lightify")
    secrets = _flow(base)
    redacted = mockcloud.cassette(vendor="lightify")
    kept = mockcloud.cassette(vendor="lightify", redact="false")
    for name in ("code", "access", "refresh", "access2", "refresh2"):
        assert secrets[name] not in redacted, name
        assert secrets[name] in kept, name
    assert CI_APP[1] not in redacted and CI_APP[1] in kept
    assert len(yaml.safe_load(redacted)["interactions"]) == 5
    # the journal listing hides them too, unless asked
    listed = json.dumps(mockcloud.journal(vendor="lightify"))
    assert secrets["refresh"] not in listed and CI_APP[1] not in listed
    assert secrets["refresh"] in json.dumps(mockcloud.journal(redact="false"))

    cassette = tmp_path / "flow.yaml"
    cassette.write_text(redacted)
    with vcr.use_cassette(str(cassette), record_mode="none"):  # default matching
        replayed = _flow(base, secret="not-the-secret")
    assert replayed["devices"] == secrets["devices"]
    assert replayed["by_query"] == secrets["by_query"]
