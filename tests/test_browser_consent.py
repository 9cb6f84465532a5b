"""The Lightify login + consent page in a real browser (headless Chromium, Playwright).

What no HTTP-level test can show: that the form a browser posts (hidden fields,
to the form's ``action``) is accepted, that the page renders under its own CSP,
and that a browser refuses to frame it. Every test goes through the tenant path
prefix (``mockcloud.url("lightify")`` is ``<server>/_t/<tenant>/lightify``).

The browser resolves a few names to local servers (``--host-resolver-rules``) and
nothing else: ``example.com`` (the app's redirect URI) and ``attacker.test`` go to
a small HTTPS server of this module that plays the app's callback and a page
that frames the consent page; for the vendor-host-name route,
``emea.lightify-api.com`` goes to a ``mockcloud serve --tls`` of the test's own
(Authlib refuses plain HTTP off localhost). Playwright's ``route`` could not play
the app: it never intercepts the redirect that follows the form post.

Chromium comes from Debian (``scripts/ensure_services.py`` installs it); when it
is missing these tests skip, or fail under ``MOCKCLOUD_REQUIRE_SERVICES=1`` (CI).
"""

from __future__ import annotations

import html
import os
import ssl
import threading
import time
from collections.abc import Callable, Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, quote, urlencode, urlsplit

import pytest
import requests

from emulator.core.tls import write_self_signed
from emulator.testing import ServerProcess
from tests.conftest import DEMO, ROOT, pkce_pair

CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic",
                 "--no-first-run", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync"]
APP_HOST, ATTACKER_HOST, VENDOR_HOST = "example.com", "attacker.test", "emea.lightify-api.com"
REDIRECT = f"https://{APP_HOST}/callback"
USER = ("demo@lightify.test", "demo")
REPORTS = ROOT / "reports"
TIMEOUT_MS = 15_000


def find_chromium() -> str | None:
    """Where scripts/ensure_services.py finds (or installed) Chromium."""
    import importlib.util
    import sys

    spec = importlib.util.spec_from_file_location("ensure_services",
                                                  ROOT / "scripts" / "ensure_services.py")
    module = sys.modules.setdefault("ensure_services", importlib.util.module_from_spec(spec))
    spec.loader.exec_module(module)
    return next(s for s in module.SERVICES if s.name == "chromium").find()


def _unavailable(reason: str) -> None:
    if os.environ.get("MOCKCLOUD_REQUIRE_SERVICES") == "1":
        pytest.fail(f"{reason} (required: MOCKCLOUD_REQUIRE_SERVICES=1)", pytrace=False)
    pytest.skip(reason)


# ------------------------------------------------------------------ the local site

class SiteHandler(BaseHTTPRequestHandler):
    """``/callback``: the app's landing page; ``/frame?src=URL``: a page framing URL."""

    def do_GET(self) -> None:
        url = urlsplit(self.path)
        if url.path == "/callback":
            body = "<h1>Back at the app</h1>"
        elif url.path == "/frame":
            src = html.escape(parse_qs(url.query).get("src", [""])[0])
            body = f'<h1>Click here</h1><iframe name="victim" src="{src}"></iframe>'
        else:
            self.send_error(404)
            return
        data = f"<!doctype html><title>site</title>{body}".encode()
        self.send_response(200)
        self.send_header("Content-Type", "text/html; charset=utf-8")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def log_message(self, *args: Any) -> None:
        pass


class Site:
    """One local HTTPS server playing the app (example.com) and the attacker."""

    def __init__(self, folder: Path) -> None:
        cert, key = folder / "cert.pem", folder / "key.pem"
        write_self_signed(cert, key, [APP_HOST, ATTACKER_HOST])
        self.server = ThreadingHTTPServer(("127.0.0.1", 0), SiteHandler)
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        context.load_cert_chain(cert, key)
        self.server.socket = context.wrap_socket(self.server.socket, server_side=True)
        self.port = self.server.server_address[1]
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def __enter__(self) -> Site:
        self.thread.start()
        return self

    def __exit__(self, *exc: Any) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Site]:
    with Site(tmp_path_factory.mktemp("site-tls")) as running:
        yield running


# ------------------------------------------------------------------ the browser

class Chromium:
    """Launches Chromium contexts, each with a fresh user-data dir."""

    def __init__(self, playwright: Any, executable: str, tmp: pytest.TempPathFactory) -> None:
        self.playwright, self.executable, self.tmp = playwright, executable, tmp

    def launch(self, resolve: dict[str, str], allow: tuple[str, ...] = ()) -> Any:
        """A context where each name in ``resolve`` goes to its ``host:port`` and
        every other name but ``allow`` fails to resolve: no test reaches the internet."""
        rules = [f"MAP {name} {target}" for name, target in resolve.items()]
        rules += ["MAP * ~NOTFOUND", "EXCLUDE localhost"]
        rules += [f"EXCLUDE {name}" for name in allow]
        context = self.playwright.chromium.launch_persistent_context(
            self.tmp.mktemp("chromium-profile"), executable_path=self.executable,
            args=[*CHROMIUM_ARGS, f"--host-resolver-rules={', '.join(rules)}"],
            headless=True, ignore_https_errors=True, viewport={"width": 800, "height": 640})
        context.set_default_timeout(TIMEOUT_MS)
        return context


@pytest.fixture(scope="module")
def chromium(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Chromium]:
    executable = find_chromium()
    if executable is None:
        _unavailable("Chromium not found (/usr/bin/chromium or on PATH): run "
                     "scripts/ensure_services.py as root, or apt-get install chromium")
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        _unavailable("the playwright package is not installed: pip install -e '.[dev]'")
    with sync_playwright() as pw:
        yield Chromium(pw, executable, tmp_path_factory)


@pytest.fixture(scope="module")
def browser(chromium: Chromium, mockcloud_server: str, site: Site):
    """The context most tests share: the app and the attacker on the local site."""
    server = urlsplit(mockcloud_server).hostname or "127.0.0.1"
    context = chromium.launch({APP_HOST: f"127.0.0.1:{site.port}",
                               ATTACKER_HOST: f"127.0.0.1:{site.port}"}, allow=(server,))
    yield context
    context.close()


@pytest.fixture
def page(browser):
    browser.clear_cookies()
    page = browser.new_page()
    yield page
    page.close()


@pytest.fixture
def console(page) -> list[str]:
    """What the page logs (CSP violations and refused frames show here)."""
    lines: list[str] = []
    page.on("console", lambda msg: lines.append(f"{msg.type}: {msg.text}"))
    return lines


# ------------------------------------------------------------------ helpers

def authorize_url(base: str, state: str, **extra: str) -> str:
    params = {"client_id": DEMO[0], "redirect_uri": REDIRECT, "state": state,
              "response_type": "code", **extra}
    return f"{base}/oauth2/authorize?{urlencode(params)}"


def open_consent(page, url: str):
    resp = page.goto(url)
    assert resp is not None and resp.status == 200, resp and resp.text()
    assert page.locator("form #password").is_visible()
    return resp


def submit(page, email: str, password: str, button: str = "Approve") -> None:
    page.fill("#email", email)
    page.fill("#password", password)
    with page.expect_navigation():
        page.get_by_role("button", name=button).click()


def landed(page, state: str) -> dict[str, str]:
    """The browser is at the redirect URI; its query."""
    url = urlsplit(page.url)
    assert f"{url.scheme}://{url.netloc}{url.path}" == REDIRECT, page.url
    assert page.locator("h1").inner_text() == "Back at the app"
    query = {k: v[0] for k, v in parse_qs(url.query).items()}
    assert query["state"] == state
    return query


def poll(page, check: Callable[[], Any], what: str) -> Any:
    """``check()`` once it is truthy: for what the browser finishes after ``load``
    (a refused frame commits its error page later), within TIMEOUT_MS."""
    deadline = time.monotonic() + TIMEOUT_MS / 1000
    while not (found := check()):
        if time.monotonic() > deadline:
            raise AssertionError(f"waited {TIMEOUT_MS} ms for {what}")
        page.wait_for_timeout(50)  # lets Playwright take the browser's events meanwhile
    return found


def framed(page) -> Any:
    """The page's iframe, once it holds a document."""
    return poll(page, lambda: next((f for f in page.main_frame.child_frames
                                    if f.url not in ("", "about:blank")), None),
                "the iframe to hold a document")


def use_code(lightify, code: str, **form: str) -> dict:
    resp = lightify.exchange(code, client=DEMO, redirect=REDIRECT, **form)
    assert resp.status_code == 200, resp.text
    tok = resp.json()
    devices = lightify.api("GET", "/devices", tok["access_token"])
    assert devices.status_code == 200, devices.text
    return tok


# ------------------------------------------------------------------ the tests

def test_login_and_approve_lands_on_the_redirect_uri_with_a_working_code(
        page, console, mockcloud, lightify):
    base = mockcloud.url("lightify")
    resp = open_consent(page, authorize_url(base, "S-approve"))
    assert f"/_t/{mockcloud.tenant}/lightify/" in page.url
    # the form posts to the authorize URL without its query; the parameters ride along
    assert page.eval_on_selector("form", "f => f.action") == f"{base}/oauth2/authorize"
    hidden = page.eval_on_selector_all("input[type=hidden]",
                                       "els => Object.fromEntries(els.map(e => [e.name, e.value]))")
    assert hidden == {"client_id": DEMO[0], "redirect_uri": REDIRECT, "state": "S-approve",
                      "response_type": "code"}
    # the inline style applies under the page's CSP: the Approve button is orange
    assert page.eval_on_selector(
        "button.ok", "e => getComputedStyle(e).backgroundColor") == "rgb(255, 106, 0)"
    assert "unsafe-inline" not in resp.headers["content-security-policy"]
    page.fill("#email", USER[0])
    page.fill("#password", USER[1])
    REPORTS.mkdir(exist_ok=True)
    page.screenshot(path=str(REPORTS / "consent.png"))
    with page.expect_navigation():
        page.get_by_role("button", name="Approve").click()
    query = landed(page, "S-approve")
    assert set(query) == {"code", "state"}
    tok = use_code(lightify, query["code"])
    assert any(t["access_token"] == tok["access_token"] for t in mockcloud.tokens())
    assert not [m for m in console if "Content Security Policy" in m], console


def test_deny_lands_on_the_redirect_uri_with_access_denied(page, mockcloud):
    open_consent(page, authorize_url(mockcloud.url("lightify"), "S-deny"))
    with page.expect_navigation():
        page.get_by_role("button", name="Deny").click()  # no email or password needed
    query = landed(page, "S-deny")
    assert query["error"] == "access_denied" and "code" not in query


def test_wrong_password_shows_the_page_again_then_the_right_one_works(
        page, mockcloud, lightify):
    open_consent(page, authorize_url(mockcloud.url("lightify"), "S-retry"))
    submit(page, USER[0], "not-the-password")
    alert = page.get_by_role("alert")
    assert alert.is_visible() and "Wrong email or password" in alert.inner_text()
    assert page.input_value("#email") == USER[0]          # kept; the password is not
    assert page.input_value("#password") == ""
    REPORTS.mkdir(exist_ok=True)
    page.screenshot(path=str(REPORTS / "consent-wrong-password.png"))
    page.fill("#password", USER[1])
    with page.expect_navigation():
        page.get_by_role("button", name="Approve").click()
    use_code(lightify, landed(page, "S-retry")["code"])


def test_pkce_through_the_tenant_prefix_needs_the_verifier(page, mockcloud, lightify):
    verifier, challenge = pkce_pair()
    url = authorize_url(mockcloud.url("lightify"), "S-pkce", code_challenge=challenge,
                        code_challenge_method="S256")
    assert url.startswith(f"{mockcloud.base}/_t/{mockcloud.tenant}/")
    open_consent(page, url)
    submit(page, *USER)
    code = landed(page, "S-pkce")["code"]
    for form in ({}, {"code_verifier": pkce_pair()[0]}):
        resp = lightify.exchange(code, client=DEMO, redirect=REDIRECT, **form)
        assert resp.status_code == 400, resp.text
    use_code(lightify, code, code_verifier=verifier)


@pytest.mark.filterwarnings("ignore::urllib3.exceptions.InsecureRequestWarning")
def test_vendor_host_name_over_tls(chromium, site, tmp_path):
    """A real client keeps ``https://emea.lightify-api.com`` and resolves that name to
    ``mockcloud serve --tls``. Flask then sees ``/lightify/oauth2/authorize`` where the
    browser asked for ``/oauth2/authorize``: the form must post to the latter."""
    cert, key = tmp_path / "cert.pem", tmp_path / "key.pem"
    write_self_signed(cert, key, [VENDOR_HOST])
    with ServerProcess("--tls", "--cert", str(cert), "--key", str(key)) as server:
        port = urlsplit(server.url).port
        context = chromium.launch({VENDOR_HOST: f"127.0.0.1:{port}",
                                   APP_HOST: f"127.0.0.1:{site.port}"})
        try:
            page = context.new_page()
            base = f"https://{VENDOR_HOST}/_t/by-host-name"
            open_consent(page, authorize_url(base, "S-host"))
            assert page.eval_on_selector("form", "f => f.action") == f"{base}/oauth2/authorize"
            submit(page, *USER)
            code = landed(page, "S-host")["code"]
        finally:
            context.close()
        api = f"{server.url}/_t/by-host-name/lightify"
        resp = requests.post(f"{api}/oauth2/access_token", verify=str(cert), timeout=30, data={
            "grant_type": "authorization_code", "code": code, "redirect_uri": REDIRECT,
            "client_id": DEMO[0], "client_secret": DEMO[1]})
        assert resp.status_code == 200, resp.text
        devices = requests.get(f"{api}/v4/devices", verify=str(cert), timeout=30, headers={
            "Authorization": f"Bearer {resp.json()['access_token']}"})
        assert devices.status_code == 200, devices.text


def test_pages_that_take_credentials_refuse_to_be_framed(page, console, mockcloud):
    base = mockcloud.url("lightify")
    consent = authorize_url(base, "S-frame")
    error = f"{base}/oauth2/authorize?client_id=nobody&response_type=code"
    for url, status in ((consent, 200), (error, 400)):
        resp = page.goto(url)
        assert resp is not None and resp.status == status
        headers = resp.headers
        assert headers["x-frame-options"] == "DENY"
        assert "frame-ancestors 'none'" in headers["content-security-policy"]
        assert headers["cache-control"] == "no-store"
        assert headers["referrer-policy"] == "no-referrer"
    # a page elsewhere that frames it: the browser gets the page but shows nothing of it
    with page.expect_response(lambda r: r.url == consent) as served:
        page.goto(f"https://{ATTACKER_HOST}/frame?src={quote(consent, safe='')}")
    assert served.value.status == 200
    victim = framed(page)
    assert victim.url.startswith("chrome-error://"), victim.url   # an error page, no form
    assert not any(f.url == consent for f in page.frames)
    poll(page, lambda: [m for m in console if "frame-ancestors 'none'" in m],
         "Chromium to log that frame-ancestors 'none' refused the frame")
    # control: the same page frames a page that allows it, and that one shows
    page.goto(f"https://{ATTACKER_HOST}/frame?src={quote(REDIRECT, safe='')}")
    shown = framed(page)
    assert shown.url == REDIRECT
    assert shown.locator("h1").inner_text() == "Back at the app"
