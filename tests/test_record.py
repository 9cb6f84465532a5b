"""``mockcloud record`` end to end (issue 12): the emulator stands in for the real cloud.

The proxy runs as users run it (``python -m emulator.cli record ...`` in a child
process) with ``--upstream`` at one tenant's vendor base URL of the session's emulator;
the reference clients (clients/) drive OAuth flows, reads and writes through it. Then:
``record --check`` passes on what was recorded, no token, secret, password, e-mail, real
id or precise coordinate is in any cassette, a real value maps to the same pseudonym in
two cassettes of the run, and each cassette replays with vcrpy (default matching:
method, scheme, host, port, path, query) for the same client code with no network; the
same run with ``--no-scrub`` fails ``--check``.
"""

from __future__ import annotations

import gzip
import json
import re
import subprocess
import sys
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
import requests
import vcr
import yaml
from vcr.serializers import yamlserializer

from clients.base import ApiError
from clients.lightify import LightifyClient
from clients.netatmo import NetatmoClient
from clients.qivivo import QivivoClient
from emulator.testing import Admin, stop_process
from emulator.toolkit.scrub import Scrubber, is_mac_pseudonym, key_for, macs_for

REDIRECT = "https://example.com/callback"
QIVIVO_REDIRECT = "https://qivivo.com/authorize"
NETATMO_CI = ("netatmo-ci", "netatmo-ci-secret")
NETATMO_LEGACY = ("netatmo-legacy", "netatmo-legacy-secret")
LIGHTIFY_CI = ("lightify-ci", "lightify-ci-secret")
QIVIVO_CI = ("qivivo-ci", "qivivo-ci-secret")
NETATMO_SCOPES = "read_station read_thermostat write_thermostat read_homecoach"
NETATMO_TOKEN = re.compile(r"^[0-9a-f]{24}\|[0-9a-f]{32}$")
MAC = re.compile(r"\b[0-9a-f]{2}(?::[0-9a-f]{2}){5}\b")
UUID = re.compile(r"\b[0-9a-f]{8}-[0-9a-f]{4}-([0-9a-f])[0-9a-f]{3}-[0-9a-f]{4}-[0-9a-f]{12}\b")
EMAIL = re.compile(r"[\w.+-]+@[\w-]+(?:\.[\w-]+)+")


class Proxy:
    """``mockcloud record ...`` in a child process; ``url`` once it listens."""

    def __init__(self, *args: str) -> None:
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "emulator.cli", "record", "--port", "0", *args],
            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, start_new_session=True)
        first = self.proc.stdout.readline() if self.proc.stdout else ""
        m = re.search(r"listening on (http://\S+)", first)
        if not m:
            self.stop()
            raise AssertionError(f"record did not start: {first!r} {self.proc.stderr.read()}")
        self.url = m.group(1)
        self.banner = first

    def stop(self) -> str:
        stop_process(self.proc, group=True)
        out = self.proc.stdout.read() if self.proc.stdout else ""
        err = self.proc.stderr.read() if self.proc.stderr else ""
        for f in (self.proc.stdout, self.proc.stderr):
            if f:
                f.close()
        return out + err

    def __enter__(self) -> Proxy:
        return self

    def __exit__(self, *exc: Any) -> None:
        self.log = self.stop()


def record_cli(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "emulator.cli", "record", *args],
                          capture_output=True, text=True, timeout=60)


@dataclass
class Seen:
    """What the clients saw for real (never to be found in a scrubbed cassette)."""

    tokens: list[str] = field(default_factory=list)
    ids: dict[str, str] = field(default_factory=dict)   # label -> real id

    def on_token(self, token: dict[str, Any]) -> None:
        self.tokens += [token[k] for k in ("access_token", "refresh_token") if token.get(k)]


def follow(url: str) -> str:
    """The auto-approving app's authorize redirect (the Location header)."""
    resp = requests.get(url, allow_redirects=False, timeout=30)
    assert resp.status_code == 302, resp.text
    return resp.headers["Location"]


# ------------------------------------------------------------------- client sessions
def netatmo_session(base: str, seen: Seen) -> None:
    """The code flow, reads, a write, an upstream error and a refresh. Deterministic
    (fixed state, no PKCE) so that the replay sends the recorded query strings."""
    c = NetatmoClient(*NETATMO_CI, base, on_token=seen.on_token)
    url, state, _ = c.authorization_url(REDIRECT, state="S-1", scope=NETATMO_SCOPES)
    c.fetch_token(c.code_from_redirect(follow(url), state), REDIRECT)
    homes = c.homesdata()
    home = homes["homes"][0]
    room = home["rooms"][0]["id"]
    seen.ids.update(home=home["id"], room=room, user_email=homes["user"]["email"],
                    module=home["modules"][0]["id"],
                    lon=str(home["coordinates"][0]), lat=str(home["coordinates"][1]))
    status = c.homestatus(home["id"])
    assert status["home"]["id"] == home["id"]
    stations = c.getstationsdata()
    seen.ids["station"] = stations["devices"][0]["_id"]
    c.setroomthermpoint(home["id"], room, "manual", temp=21.5, endtime=1900000000)
    with pytest.raises(ApiError):            # the upstream's 4xx is recorded too
        c.homestatus("0" * 24)
    c.refresh()


def netatmo_password_session(base: str, seen: Seen) -> None:
    c = NetatmoClient(*NETATMO_LEGACY, base, on_token=seen.on_token)
    c.password_login("dev@netatmo.test", "dev", "read_station read_thermostat")
    seen.ids["home_again"] = c.homesdata()["homes"][0]["id"]


def lightify_session(base: str, seen: Seen) -> None:
    c = LightifyClient(*LIGHTIFY_CI, base, on_token=seen.on_token)
    url, state, _ = c.authorization_url(REDIRECT, state="S-2", pkce=False)
    c.fetch_token(c.code_from_redirect(follow(url), state), REDIRECT)
    devices = c.devices()
    light = next(d for d in devices if d["type"] == "LIGHT")
    seen.ids.update(light=light["id"], light_name=light["name"])
    assert c.device(light["id"])["id"] == light["id"]
    c.turn_on(light["id"])
    c.groups()
    c.revoke()


def qivivo_session(base: str, seen: Seen) -> None:
    c = QivivoClient(*QIVIVO_CI, base, auth_base_url=base, on_token=seen.on_token)
    url, state, _ = c.authorization_url(QIVIVO_REDIRECT, state="S-3")
    c.fetch_token(c.code_from_redirect(follow(url), state), QIVIVO_REDIRECT)
    uuid = c.thermostat_uuid()
    seen.ids["thermostat"] = uuid
    c.thermostat_temperature(uuid)
    c.set_temporary_instruction(uuid, 21.5, 60)
    seen.ids["serial"] = c.thermostat_info(uuid)["serial"]


SESSIONS: dict[str, tuple[str, Callable[[str, Seen], None]]] = {
    "netatmo-1": ("netatmo", netatmo_session),
    "netatmo-2": ("netatmo", netatmo_password_session),
    "lightify": ("lightify", lightify_session),
    "qivivo": ("qivivo", qivivo_session),
}


@dataclass
class Run:
    out: Path
    upstreams: dict[str, str]
    seen: Seen
    logs: dict[str, str]

    def cassette(self, name: str) -> Path:
        return self.out / f"{name}.yaml"

    def text(self) -> str:
        return "\n".join(p.read_text() for p in sorted(self.out.glob("*.yaml")))

    def interactions(self, name: str) -> list[dict[str, Any]]:
        return yaml.safe_load(self.cassette(name).read_text())["interactions"]


def record_run(out: Path, admin: Admin, *extra: str) -> Run:
    seen, logs, upstreams = Seen(), {}, {}
    for name, (vendor, drive) in SESSIONS.items():
        upstreams[name] = admin.url(vendor)
        with Proxy("--vendor", vendor, "--upstream", upstreams[name], "--out", str(out),
                   "--name", name, *extra) as proxy:
            drive(proxy.url, seen)
        logs[name] = proxy.log
    return Run(out, upstreams, seen, logs)


@pytest.fixture(scope="module")
def admin(mockcloud_server: str, mockcloud_admin_token: str | None) -> Admin:
    return Admin(mockcloud_server, "record-scrubbed", token=mockcloud_admin_token)


@pytest.fixture(scope="module")
def scrubbed(tmp_path_factory: pytest.TempPathFactory, admin: Admin) -> Run:
    return record_run(tmp_path_factory.mktemp("scrubbed"), admin)


@pytest.fixture(scope="module")
def raw(tmp_path_factory: pytest.TempPathFactory, mockcloud_server: str,
        mockcloud_admin_token: str | None) -> Run:
    admin = Admin(mockcloud_server, "record-raw", token=mockcloud_admin_token)
    return record_run(tmp_path_factory.mktemp("raw"), admin, "--no-scrub")


# ------------------------------------------------------------------------------ tests
def test_the_clients_got_the_real_answers(scrubbed: Run) -> None:
    """The proxy answers with the upstream's real (unscrubbed) replies."""
    assert any(NETATMO_TOKEN.match(t) for t in scrubbed.seen.tokens)
    assert scrubbed.seen.ids["home"] == scrubbed.seen.ids["home_again"]
    assert scrubbed.seen.ids["user_email"].endswith("@netatmo.test")
    for name in SESSIONS:
        assert scrubbed.cassette(name).is_file(), scrubbed.logs[name]


def test_check_passes_on_the_scrubbed_run(scrubbed: Run) -> None:
    done = record_cli("--check", str(scrubbed.out))
    assert done.returncode == 0, done.stdout + done.stderr
    assert "4 file(s), 0 finding(s)" in done.stdout


def test_no_secret_and_no_real_value_survives(scrubbed: Run) -> None:
    text = scrubbed.text()
    secrets = [*scrubbed.seen.tokens, NETATMO_CI[1], NETATMO_LEGACY[1], LIGHTIFY_CI[1],
               QIVIVO_CI[1], "password=dev"]
    assert scrubbed.seen.tokens
    for value in secrets:
        assert value not in text, value
    ids = scrubbed.seen.ids
    for label in ("home", "room", "module", "station", "user_email", "light", "light_name",
                  "thermostat", "serial"):
        assert ids[label] not in text, (label, ids[label])
    assert ids["lat"] not in text and ids["lon"] not in text   # coarsened (2 decimals)
    assert "netatmo.test" not in text and "lightify.test" not in text
    assert all(e.endswith("@example.com") for e in EMAIL.findall(text)
               if not e.endswith(".yaml")), EMAIL.findall(text)
    macs = set(MAC.findall(text))
    assert macs and all(is_mac_pseudonym(m) for m in macs)
    assert {v for v in UUID.findall(text)} == {"8"}           # every UUID a pseudonym (v8)
    assert ".scrub-key" not in text
    assert set(re.findall(r'"vpn_url":"([^"]*)"', text)) == {"REDACTED"}
    key = (scrubbed.out / ".scrub-key").read_text().strip()
    assert key not in text
    assert (scrubbed.out / ".gitignore").read_text().split() == [".scrub-key", ".scrub-macs"]
    given = json.loads((scrubbed.out / ".scrub-macs").read_text())   # the run's pseudonyms
    assert macs <= set(given) and ids["module"] not in json.dumps(given)


def test_tokens_stay_linked_and_errors_are_recorded(scrubbed: Run) -> None:
    items = scrubbed.interactions("netatmo-1")
    token_reply = next(i for i in items if i["request"]["uri"].endswith("/oauth2/token"))
    access = json.loads(token_reply["response"]["body"]["string"])["access_token"]
    assert re.fullmatch(r"REDACTED-[0-9a-f]{8}", access)
    bearers = [i["request"]["headers"]["Authorization"][0] for i in items
               if "Authorization" in i["request"]["headers"]
               and "/api/" in i["request"]["uri"]]
    assert f"Bearer {access}" in bearers
    location = items[0]["response"]["headers"]["location"][0]
    code = re.search(r"code=([^&]+)", location).group(1)
    assert re.fullmatch(r"REDACTED-[0-9a-f]{8}", code)
    assert f"code={code}" in token_reply["request"]["body"]
    assert "client_secret=REDACTED&" in token_reply["request"]["body"] + "&"
    statuses = [i["response"]["status"]["code"] for i in items]
    assert any(400 <= s < 500 for s in statuses), statuses


def test_content_length_says_the_scrubbed_length(scrubbed: Run) -> None:
    checked = 0
    for name in SESSIONS:
        for item in scrubbed.interactions(name):
            for part, body in (("request", item["request"]["body"]),
                               ("response", item["response"]["body"]["string"])):
                length = {k.lower(): v for k, v in item[part]["headers"].items()}.get(
                    "content-length")
                if length and body is not None:
                    checked += 1
                    assert int(length[0]) == len(body.encode()), (name, part)
    assert checked > 10


def test_one_real_value_one_pseudonym_across_cassettes(scrubbed: Run) -> None:
    def homes(name: str) -> list[str]:
        out = []
        for i in scrubbed.interactions(name):
            if i["request"]["uri"].endswith("/api/homesdata"):
                out += [h["id"] for h in json.loads(i["response"]["body"]["string"])
                        ["body"]["homes"]]
        return out

    first, second = homes("netatmo-1"), homes("netatmo-2")
    assert first and first == second
    pseudo = Scrubber(key_for(scrubbed.out)).ident(scrubbed.seen.ids["home"])
    assert first[0] == pseudo != scrubbed.seen.ids["home"]
    # the same e-mail in both sessions' answers
    text1, text2 = (scrubbed.cassette(n).read_text() for n in ("netatmo-1", "netatmo-2"))
    emails1, emails2 = set(EMAIL.findall(text1)), set(EMAIL.findall(text2))
    assert emails1 & emails2


@pytest.mark.parametrize("name", ["netatmo-1", "netatmo-2", "lightify", "qivivo"])
def test_the_scrubbed_cassette_replays_with_vcrpy(scrubbed: Run, name: str) -> None:
    """The same client code, pointed at the recorded upstream, replays every exchange
    from the cassette (record_mode none: a request it does not find raises, none goes
    out); it sends the pseudonymised ids because it reads them from the answers."""
    _vendor, drive = SESSIONS[name]
    replay = Seen()
    with vcr.use_cassette(str(scrubbed.cassette(name)), record_mode="none") as cassette:
        drive(scrubbed.upstreams[name], replay)
    assert cassette.all_played, f"{cassette.play_count} of {len(cassette)} played"
    assert all(t.startswith("REDACTED-") for t in replay.tokens)
    assert replay.ids and not set(replay.ids.values()) & {
        v for k, v in scrubbed.seen.ids.items() if k not in ("lat", "lon")}


def test_the_raw_run_is_caught_by_check(raw: Run) -> None:
    done = record_cli("--check", str(raw.out))
    assert done.returncode == 1, done.stdout + done.stderr
    out = done.stdout
    assert "request.headers.Authorization: credential header not redacted" in out
    assert "secret field access_token" in out
    assert "secret parameter client_secret" in out and "secret parameter password" in out
    assert "outside example.com" in out and "real-looking MAC" in out
    assert "secret field vpn_url" in out                  # a camera's live stream
    for token in raw.seen.tokens:
        assert token not in out and token[:8] not in out     # findings show 4 characters


def test_contracts_verify_secrets(scrubbed: Run, raw: Run) -> None:
    def verify(run: Run) -> subprocess.CompletedProcess[str]:
        return subprocess.run([sys.executable, "-m", "emulator.cli", "contracts", "verify",
                               "--secrets", str(run.cassette("netatmo-2"))],
                              capture_output=True, text=True, timeout=120)

    clean, dirty = verify(scrubbed), verify(raw)
    assert "0 finding(s)" in clean.stdout, clean.stdout + clean.stderr
    assert dirty.returncode == 1 and "secret parameter password" in dirty.stdout


def test_check_without_cassettes_is_an_error(tmp_path: Path) -> None:
    done = record_cli("--check", str(tmp_path))
    assert done.returncode == 2 and "no cassette" in done.stdout


def test_an_unreachable_upstream_answers_502(tmp_path: Path) -> None:
    import socket

    with socket.socket() as s:       # a port nothing listens on
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    with Proxy("--vendor", "netatmo", "--upstream", f"http://127.0.0.1:{port}/netatmo",
               "--out", str(tmp_path), "--name", "down") as proxy:
        resp = requests.get(f"{proxy.url}/api/homesdata", timeout=30)
    assert resp.status_code == 502
    assert "upstream" in resp.text and "unreachable" in resp.text
    assert not (tmp_path / "down.yaml").exists()


@pytest.fixture
def gzip_upstream() -> Iterator[str]:
    """A real HTTP server answering gzip-compressed JSON (what the emulator never
    does), with a secret in it."""
    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            body = gzip.compress(json.dumps({"access_token": "a" * 24 + "|" + "b" * 32,
                                             "mail": "someone@gmail.com"}).encode())
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Encoding", "gzip")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()


def test_gzip_answers_are_decoded_and_scrubbed(tmp_path: Path, gzip_upstream: str) -> None:
    with Proxy("--vendor", "netatmo", "--upstream", gzip_upstream, "--out", str(tmp_path),
               "--name", "gz") as proxy:
        resp = requests.get(f"{proxy.url}/api/x", headers={"Accept-Encoding": "gzip"},
                            timeout=30)
    assert resp.json()["mail"] == "someone@gmail.com"          # the client: the real reply
    item = yaml.safe_load((tmp_path / "gz.yaml").read_text())["interactions"][0]
    assert "content-encoding" not in {k.lower() for k in item["response"]["headers"]}
    body = json.loads(item["response"]["body"]["string"])
    assert body["access_token"].startswith("REDACTED-")
    assert body["mail"].endswith("@example.com")
    assert record_cli("--check", str(tmp_path)).returncode == 0


# ------------------------------------------------------------------ the scrubber alone
def test_mac_pseudonyms_never_collide_nor_let_a_real_mac_through(tmp_path: Path) -> None:
    """Two bytes of hash per vendor prefix collide in big recordings: the later MAC is
    re-hashed, and a later session into the same folder gives the same pseudonyms
    whatever the order; a real MAC that happens to carry a valid check byte is
    pseudonymised all the same (only the scrubber's own pseudonyms are kept)."""
    key, macs = b"c" * 32, macs_for(tmp_path)
    s = Scrubber(key, macs)
    first: dict[str, str] = {}
    pair = None
    for n in range(5000):                       # a birthday collision of the plain hash
        real = f"70:ee:50:{n >> 8 & 255:02x}:{n & 255:02x}:00"
        plain = Scrubber(key).mac(real)
        if plain in first:
            pair = (first[plain], real)
            break
        first[plain] = real
    assert pair is not None
    a, b = pair
    fake_a, fake_b = s.mac(a), s.mac(b)
    assert fake_a != fake_b and is_mac_pseudonym(fake_a) and is_mac_pseudonym(fake_b)
    assert fake_a == Scrubber(key).mac(a)        # the first keeps the plain hash
    again = Scrubber(key, macs)                  # the next session, the other order
    assert (again.mac(b), again.mac(a)) == (fake_b, fake_a)
    assert a not in macs.read_text() and b not in macs.read_text()   # tags, not MACs
    lucky = next(m for m in (f"70:ee:50:12:{n >> 8 & 255:02x}:{n & 255:02x}"
                             for n in range(1 << 16)) if is_mac_pseudonym(m))
    assert s.mac(lucky) != lucky and is_mac_pseudonym(s.mac(lucky))
    macs.write_text("[1, 2]")
    with pytest.raises(ValueError, match="not a map of MAC pseudonyms"):
        Scrubber(key, macs)


def test_pseudonyms_keep_their_shape() -> None:
    s, other = Scrubber(b"k" * 32), Scrubber(b"q" * 32)
    mac = s.text("70:ee:50:3a:00:00")
    assert mac.startswith("70:ee:50:") and is_mac_pseudonym(mac) and mac == s.mac(
        "70:ee:50:3a:00:00") != other.mac("70:ee:50:3a:00:00")
    assert not is_mac_pseudonym("70:ee:50:3a:00:00")
    assert s.mac(mac) == mac                                  # already a pseudonym
    uuid = s.text("2b3f3c2e-1d2a-4c55-9a51-1f7a6e0c9b01")
    assert re.fullmatch(r"[0-9a-f]{8}-[0-9a-f]{4}-8[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}",
                        uuid)
    assert re.fullmatch(r"[0-9a-f]{24}", s.ident("5e5c7a1b2d3e4f50617283a0"))
    assert re.fullmatch(r"user-[0-9a-f]{10}@example\.com", s.text("Dev@Netatmo.test"))
    light = s.ident("123456-d01")
    assert re.fullmatch(r"\d{6}-d01", light) and light.split("-")[0] == s.ident("123456")
    assert re.fullmatch(r"[1-9]\d{9}", s.ident("3100000001"))
    assert s.coord(48.85661, "lat") == s.coord(48.85669, "lat") != 48.86
    assert s.field("home_name", "Chez Alice") == s.field("name", "Chez Alice") == \
        s.name("Chez Alice") != "Chez Alice"
    # WWW-Authenticate's "Bearer realm=..." is not a credential
    challenge = 'Bearer error="invalid_token", error_description="expired"'
    assert s.header("WWW-Authenticate", challenge) == challenge
    assert s.header("Authorization", "Basic dXNlcjpwdw==") == "Basic REDACTED"
    assert s.header("Authorization", "Bearer abc") == f"Bearer {s.secret('abc')}"
    assert s.header("Cookie", "a=b; session=s3cr3t") == "REDACTED"
    assert s.header("Set-Cookie", "session=s3cr3t; HttpOnly") == "REDACTED"
    uuids = ["2b3f3c2e-1d2a-4c55-9a51-1f7a6e0c9b01", "9d5a9e34-7a43-4a8e-8d8c-3c1c2f4e5a02"]
    assert s.field("person_ids", json.dumps(uuids)) == json.dumps([s.uuid(u) for u in uuids])
    assert s.pairs("a=1&password=hunter2&code=xyz&b") == \
        f"a=1&password=REDACTED&code={s.secret('xyz')}&b"


def test_a_second_session_appends_to_the_named_cassette(tmp_path: Path, admin: Admin) -> None:
    """Two proxies one after the other on one --name: one cassette, both exchanges, in
    the layout vcrpy itself writes (and reads); the error answers are recorded."""
    for _ in range(2):
        with Proxy("--vendor", "netatmo", "--upstream", admin.url("netatmo"),
                   "--out", str(tmp_path), "--name", "again") as proxy:
            resp = requests.get(f"{proxy.url}/api/homesdata",
                                headers={"Authorization": "Bearer not-a-token"}, timeout=30)
            assert resp.status_code in (401, 403), resp.text
    text = (tmp_path / "again.yaml").read_text()
    items = yamlserializer.deserialize(text)["interactions"]
    assert text == yamlserializer.serialize({"interactions": items, "version": 1})
    assert [i["response"]["status"]["code"] for i in items] == [resp.status_code] * 2
    assert {i["request"]["headers"]["Authorization"][0] for i in items} == {
        f"Bearer {Scrubber(key_for(tmp_path)).secret('not-a-token')}"}


def test_pyatmo_through_the_proxy(tmp_path: Path, admin: Admin) -> None:
    """Home Assistant's library (aiohttp, not requests) through the proxy: it gets the
    real answers, the cassette neither its token nor the home's id."""
    import asyncio

    import aiohttp
    import pyatmo

    token = admin.issue_token("netatmo", NETATMO_CI[0], "dev@netatmo.test",
                              NETATMO_SCOPES)["access_token"]

    class Auth(pyatmo.AbstractAsyncAuth):
        async def async_get_access_token(self) -> str:
            return token

    async def scenario(base: str) -> tuple[str, str]:
        async with aiohttp.ClientSession() as session:
            account = pyatmo.AsyncAccount(Auth(session, base_url=base))
            await account.async_update_topology()
            home_id, home = next(iter(account.homes.items()))
            await account.async_update_status(home_id)
            return home_id, home.name

    with Proxy("--vendor", "netatmo", "--upstream", admin.url("netatmo"),
               "--out", str(tmp_path), "--name", "pyatmo") as proxy:
        home_id, name = asyncio.run(scenario(proxy.url + "/"))
    assert name == "Dev home"                                 # the real answer
    text = (tmp_path / "pyatmo.yaml").read_text()
    assert token not in text and home_id not in text and name not in text
    assert "aiohttp" in text                                  # its User-Agent, recorded
    assert record_cli("--check", str(tmp_path)).returncode == 0


def test_the_journal_export_and_the_recorder_redact_the_same_names() -> None:
    from emulator.core.journal import _redact_header, redact_text

    form = ("grant_type=x&client_secret=s1&code=c1&access_token=a1&refresh_token=r1"
            "&password=p1&token=t1&vignette_key=k1&vpn_url=v1&token_type_hint=access_token")
    journal = dict(p.split("=") for p in redact_text(form, "application/x-www-form-urlencoded")
                   .split("&"))
    recorder = dict(p.split("=") for p in Scrubber(b"k" * 32).body(
        form, "application/x-www-form-urlencoded").split("&"))
    hidden = {k for k, v in journal.items() if v == "REDACTED"}
    assert hidden == {k for k, v in recorder.items() if v.startswith("REDACTED")}
    assert hidden == {"client_secret", "code", "access_token", "refresh_token", "password",
                      "token", "vignette_key", "vpn_url"}
    assert _redact_header("Cookie", "a=b; sid=s3cr3t") == "REDACTED"


def test_qivivo_oauth_paths_go_to_the_account_host() -> None:
    from emulator.toolkit.record import vendor_upstreams

    q = vendor_upstreams("qivivo", None, None)
    assert [q.base(p) for p in ("/", "/oauth/token", "/api/v2/devices", "/api/v2//devices")] \
        == ["https://account.qivivo.com", "https://account.qivivo.com",
            "https://data.qivivo.com", "https://data.qivivo.com"]
    assert vendor_upstreams("netatmo", None, None).base("/oauth2/token") == \
        "https://api.netatmo.com"
    one = vendor_upstreams("qivivo", "http://127.0.0.1:1/qivivo", None)
    assert one.base("/oauth/token") == one.base("/api/v2/devices") == "http://127.0.0.1:1/qivivo"
    with pytest.raises(ValueError, match="give --upstream"):
        vendor_upstreams("toy", None, None)
    assert vendor_upstreams("toy", "http://127.0.0.1:1/toy", None).base("/x") == \
        "http://127.0.0.1:1/toy"


def test_check_names_each_kind_of_leak() -> None:
    from emulator.toolkit.scrub import check_interaction

    token = "5e5c7a1b2d3e4f5061728394|857a57cff5a3bbf124deeb34a7834e51"
    item = {
        "request": {"method": "POST", "uri": "https://x.test/cb?code=abc123&state=s",
                    "headers": {"Authorization": ["Basic dXNlcjpwdw=="]},
                    "body": "client_id=a&client_secret=s3cr3t"},
        "response": {"status": {"code": 200, "message": "OK"},
                     "headers": {"Location": ["https://example.com/cb?code=xyz987"],
                                 "Set-Cookie": ["sid=1"]},
                     "body": {"string": json.dumps({
                         "note": f"use Bearer {token[::-1]}", "saved": f"[{token}]",
                         "mail": "a.b@gmail.com",
                         "id": "70:ee:50:3a:00:00", "refresh_token": "REDACTED-0011aabb",
                         "token_type": "Bearer"})}},
    }
    found = "\n".join(f"{where}: {what}" for where, what in check_interaction(item))
    for expected in ("request.uri code: secret parameter code",
                     "request.headers.Authorization: credential header not redacted",
                     "request.body client_secret: secret parameter client_secret",
                     "response.headers.Location code: secret parameter code",
                     "response.headers.Set-Cookie: credential header not redacted",
                     "Netatmo-shaped token", "bearer credential",
                     "e-mail address 'a.b@…' outside example.com",
                     "real-looking MAC '70:e…'"):
        assert expected in found, (expected, found)
    assert "refresh_token" not in found and "token_type" not in found
    assert token not in found and token[::-1] not in found
    clean = Scrubber(b"k" * 32).interaction(item)
    assert list(check_interaction(clean)) == []
