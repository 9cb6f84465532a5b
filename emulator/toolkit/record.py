"""``mockcloud record``: a recording reverse proxy that scrubs what it writes.

::

    mockcloud record --vendor netatmo --out cassettes/netatmo [--port 8089]
    mockcloud record --vendor qivivo --upstream http://127.0.0.1:8080/qivivo --out DIR
    mockcloud record --check DIR [DIR|FILE ...]

A client whose base URL points at the proxy reaches the vendor's real cloud (or
``--upstream``): method, path, query, headers (minus hop-by-hop ones; ``Host`` is the
upstream's) and body go up; the upstream's answer comes back to the client as it was
(a gzip body decoded), 4xx and 5xx included. An upstream that cannot be reached answers
502 with a plain-text reason, and nothing is recorded.

Each exchange is appended to ``DIR/<name>.yaml`` (``--name``; default
``<vendor>-<UTC time of start>``), a vcrpy cassette (version 1, written with vcrpy's own
YAML serializer, rewritten atomically after each exchange; an existing cassette of that
name is appended to). The request's URI is the upstream's (``https://api.netatmo.com/
api/homesdata``): the URL a client pointed at that upstream replays from. Bodies are
decoded (no ``Content-Encoding`` in the cassette), as vcrpy's
``decode_compressed_response`` leaves them.

Everything written is scrubbed first (``emulator.toolkit.scrub``) with the key in
``DIR/.scrub-key`` (created on first use; keep it, and out of git: every session
recorded into DIR then pseudonymises alike). ``--no-scrub`` writes the exchange raw
(for a private run; ``--check`` catches it).

Upstreams by default (``--upstream URL`` replaces them; ``--auth-upstream URL`` the OAuth
one): Netatmo ``https://api.netatmo.com``; Lightify ``https://emea.lightify-api.com``;
Qivivo ``https://data.qivivo.com`` with its OAuth paths (the authorization page ``/``,
``/oauth/...``) sent to ``https://account.qivivo.com``, so both of a Qivivo client's base
URLs point at the proxy. Another name (a vendor in the making): ``--upstream`` is needed.

``--check DIR`` scans cassettes for what must not survive (``scrub.check_paths``) and
exits 1 listing each finding, 0 when clean, 2 when there is nothing to check.
"""

from __future__ import annotations

import argparse
import contextlib
import gzip
import os
import signal
import sys
import threading
import time
import zlib
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import requests
import yaml
from vcr.serializers import yamlserializer

from .scrub import Scrubber, check_main, key_for, macs_for, read_cassette

# Qivivo's two hosts (INFERRED from its clients: account.qivivo.com serves the
# authorization page at its root and /oauth/token; data.qivivo.com serves /api/v2)
DEFAULT_UPSTREAMS: dict[str, tuple[str, str | None]] = {
    "netatmo": ("https://api.netatmo.com", None),
    "lightify": ("https://emea.lightify-api.com", None),
    "qivivo": ("https://data.qivivo.com", "https://account.qivivo.com"),
}
HOP_BY_HOP = frozenset({"connection", "keep-alive", "proxy-authenticate", "proxy-connection",
                        "te", "trailer", "trailers", "transfer-encoding", "upgrade"})
# not sent up: the proxy's own host and framing (requests sets them)
# (the proxy itself answered a client's Expect: 100-continue)
NOT_FORWARDED = HOP_BY_HOP | {"host", "content-length", "expect"}
# not sent back: the body is sent decoded, with its own length
NOT_RETURNED = HOP_BY_HOP | {"content-encoding", "content-length"}


class Cassette:
    """One vcrpy cassette, appended to from many threads. Each exchange is appended to
    the file (the text vcrpy's serializer writes for it, before the closing ``version``
    line), so a long session costs the same per exchange; an existing cassette is
    rewritten once in that layout first (temporary file, then rename)."""

    HEAD, TAIL = "interactions:\n", "version: 1\n"

    def __init__(self, path: Path) -> None:
        self.path = path
        self.lock = threading.Lock()
        self.count = 0
        if path.exists():
            items = read_cassette(path)
            self.count = len(items)
            if items:
                self._replace(self._dump(items))

    @staticmethod
    def _dump(items: list[dict[str, Any]]) -> str:
        return yamlserializer.serialize({"interactions": items, "version": 1})

    def _replace(self, text: str) -> None:
        tmp = self.path.with_name(f".{self.path.name}.tmp")
        tmp.write_text(text, encoding="utf-8")
        os.replace(tmp, self.path)

    def append(self, interaction: dict[str, Any]) -> int:
        text = self._dump([interaction])
        if not (text.startswith(self.HEAD) and text.endswith(self.TAIL)):
            raise ValueError("unexpected cassette layout from vcrpy's serializer")
        with self.lock:
            if self.count == 0:
                self._replace(text)
            else:
                piece = text[len(self.HEAD):-len(self.TAIL)] + self.TAIL
                with open(self.path, "r+b") as fh:
                    fh.seek(-len(self.TAIL), os.SEEK_END)
                    fh.write(piece.encode("utf-8"))
                    fh.truncate()
            self.count += 1
            return self.count


class Upstreams:
    """Where a path goes: the API upstream, or the OAuth one for the vendor's OAuth
    paths (only when the two differ)."""

    def __init__(self, api: str, auth: str | None, auth_paths: frozenset[str]) -> None:
        self.api, self.auth = api.rstrip("/"), (auth or api).rstrip("/")
        self.auth_paths = auth_paths

    def base(self, path: str) -> str:
        if self.auth != self.api and (path in self.auth_paths or path.startswith("/oauth")):
            return self.auth
        return self.api


def vendor_upstreams(name: str, upstream: str | None, auth_upstream: str | None) -> Upstreams:
    from emulator.app import VENDORS

    vendor = next((v for v in VENDORS if v.name == name), None)
    api, auth = DEFAULT_UPSTREAMS.get(name, (None, None))
    if upstream:
        api, auth = upstream, auth_upstream or upstream
    elif auth_upstream:
        auth = auth_upstream
    if not api:
        raise ValueError(f"unknown vendor {name!r}: give --upstream")
    paths: set[str] = set()
    if vendor is not None:
        with contextlib.suppress(Exception):  # a vendor whose profile needs more
            profile = vendor.auth(vendor.settings())
            paths = {p for p in (profile.authorize_path, profile.token_path,
                                 profile.revoke_path) if p}
    return Upstreams(api, auth, frozenset(paths))


def decode_body(data: bytes, encoding: str) -> bytes:
    """A request body as sent (gzip or deflate decoded for the cassette)."""
    try:
        if encoding == "gzip":
            return gzip.decompress(data)
        if encoding == "deflate":
            return zlib.decompress(data)
    except (OSError, zlib.error):
        pass
    return data


def as_text(data: bytes) -> str | bytes:
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        return data


class Recorder:
    def __init__(self, upstreams: Upstreams, cassette: Cassette, scrubber: Scrubber | None,
                 timeout: float, log: Any = sys.stderr) -> None:
        self.upstreams, self.cassette, self.scrubber = upstreams, cassette, scrubber
        self.timeout, self.log = timeout, log
        self.local = threading.local()

    def session(self) -> requests.Session:
        s = getattr(self.local, "session", None)
        if s is None:
            s = self.local.session = requests.Session()
            s.trust_env = False     # the upstream is the one given, whatever the proxies
        return s

    def exchange(self, method: str, target: str, headers: list[tuple[str, str]],
                 body: bytes) -> tuple[int, str, list[tuple[str, str]], bytes]:
        path = target.partition("?")[0]
        url = self.upstreams.base(path) + target
        out_headers = {}
        for k, v in headers:
            if k.lower() not in NOT_FORWARDED:
                out_headers[k] = f"{out_headers[k]}, {v}" if k in out_headers else v
        try:
            resp = self.session().request(method, url, headers=out_headers,
                                          data=body or None, allow_redirects=False,
                                          timeout=self.timeout)
        except requests.RequestException as exc:
            reason = f"mockcloud record: upstream {url} unreachable: {exc}\n"
            print(reason.strip(), file=self.log, flush=True)
            return 502, "Bad Gateway", [("Content-Type", "text/plain; charset=utf-8")], \
                reason.encode()
        content = resp.content          # decoded by requests (gzip, deflate)
        raw_headers = list(resp.raw.headers.items()) if resp.raw is not None \
            else list(resp.headers.items())
        back = [(k, v) for k, v in raw_headers if k.lower() not in NOT_RETURNED
                or (method == "HEAD" and k.lower() == "content-length")]
        self.record(method, url, out_headers, body, resp, raw_headers, content)
        return resp.status_code, resp.reason or "", back, content

    def record(self, method: str, url: str, headers: dict[str, str], body: bytes,
               resp: requests.Response, raw_headers: list[tuple[str, str]],
               content: bytes) -> None:
        req_headers: dict[str, list[str]] = {}
        for k, v in resp.request.headers.items():
            if k.lower() != "content-length":
                req_headers.setdefault(k, []).append(v)
        enc = next((v for k, v in headers.items() if k.lower() == "content-encoding"), "")
        if enc:
            req_headers = {k: v for k, v in req_headers.items()
                           if k.lower() != "content-encoding"}
        resp_headers: dict[str, list[str]] = {}
        for k, v in raw_headers:
            if k.lower() not in ("content-encoding", "transfer-encoding"):
                resp_headers.setdefault(k, []).append(v)
        if "content-length" in {k.lower() for k in resp_headers}:
            resp_headers = {k: ([str(len(content))] if k.lower() == "content-length" else v)
                            for k, v in resp_headers.items()}
        interaction = {
            "request": {"method": method, "uri": url,
                        "body": as_text(decode_body(body, enc.lower())) if body else None,
                        "headers": req_headers},
            "response": {"status": {"code": resp.status_code, "message": resp.reason or ""},
                         "headers": resp_headers, "body": {"string": as_text(content)}},
        }
        if self.scrubber is not None:
            interaction = fit_lengths(self.scrubber.interaction(interaction))
        n = self.cassette.append(interaction)
        print(f"#{n} {method} {interaction['request']['uri']} -> {resp.status_code}",
              file=self.log, flush=True)


def fit_lengths(interaction: dict[str, Any]) -> dict[str, Any]:
    """A Content-Length that says the scrubbed body's length (a pseudonym or a marker
    is not as long as what it replaced)."""
    for part, body in (("request", interaction["request"].get("body")),
                       ("response", interaction["response"]["body"].get("string"))):
        headers = interaction[part]["headers"]
        for k in headers:
            if k.lower() == "content-length" and isinstance(body, str | bytes):
                size = len(body.encode("utf-8") if isinstance(body, str) else body)
                headers[k] = [str(size)]
    return interaction


def handler_for(recorder: Recorder) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"
        server_version = "mockcloud-record"

        def log_message(self, format: str, *args: Any) -> None:
            pass  # the recorder logs each exchange

        def _body(self) -> bytes:
            if "chunked" in self.headers.get("Transfer-Encoding", "").lower():
                chunks = []
                while True:
                    size = int(self.rfile.readline().split(b";")[0].strip() or b"0", 16)
                    if size == 0:
                        while self.rfile.readline() not in (b"\r\n", b"\n", b""):
                            pass
                        return b"".join(chunks)
                    chunks.append(self.rfile.read(size))
                    self.rfile.readline()
            length = int(self.headers.get("Content-Length") or 0)
            return self.rfile.read(length) if length > 0 else b""

        def _any(self) -> None:
            try:
                body = self._body()
            except ValueError:
                self._send(400, "Bad Request", [("Content-Type", "text/plain")],
                           b"mockcloud record: unreadable request body\n")
                return
            status, reason, headers, content = recorder.exchange(
                self.command, self.path, list(self.headers.items()), body)
            self._send(status, reason, headers, content)

        def _send(self, status: int, reason: str, headers: list[tuple[str, str]],
                  content: bytes) -> None:
            self.send_response_only(status, reason)   # the upstream's Server and Date
            names = {k.lower() for k, _ in headers}
            if "date" not in names:
                self.send_header("Date", self.date_time_string())
            for k, v in headers:
                self.send_header(k, v)
            if not (self.command == "HEAD" and "content-length" in names):
                self.send_header("Content-Length", str(len(content)))
            self.end_headers()
            if self.command != "HEAD":
                self.wfile.write(content)

        do_GET = do_POST = do_PUT = do_PATCH = do_DELETE = do_HEAD = do_OPTIONS = _any

    return Handler


def hints(vendor: str, url: str) -> list[str]:
    return {
        "netatmo": [f"NetatmoClient(id, secret, '{url}')",
                    f"pyatmo: your AbstractAsyncAuth(..., base_url='{url}/')"],
        "lightify": [f"LightifyClient(id, secret, '{url}')"],
        "qivivo": [f"QivivoClient(id, secret, '{url}', auth_base_url='{url}') "
                   "(both hosts: the proxy sends /oauth and / to the account host)"],
    }.get(vendor, [f"the client's base URL: {url}"])


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="mockcloud record",
        description="Record a cloud through a scrubbing reverse proxy into vcrpy cassettes; "
                    "--check DIR scans cassettes for secrets that survived.")
    p.add_argument("--vendor", help="netatmo, lightify or qivivo (another name needs "
                   "--upstream)")
    p.add_argument("--upstream", metavar="URL",
                   help="where requests go (default: the vendor's real host), e.g. "
                        "http://127.0.0.1:8080/netatmo")
    p.add_argument("--auth-upstream", metavar="URL",
                   help="where the OAuth paths go (default: --upstream, or Qivivo's "
                        "account host)")
    p.add_argument("--host", default="127.0.0.1", help="address to listen on")
    p.add_argument("--port", type=int, default=8089, help="port (0: a free one)")
    p.add_argument("--out", type=Path, metavar="DIR", help="folder of the cassettes and "
                   "of the scrubbing key (.scrub-key)")
    p.add_argument("--name", help="cassette name (DIR/NAME.yaml, appended to if it "
                   "exists; default: <vendor>-<UTC time>)")
    p.add_argument("--no-scrub", action="store_true",
                   help="record raw (secrets included: never share such a cassette)")
    p.add_argument("--timeout", type=float, default=60.0, help="upstream timeout, seconds")
    p.add_argument("--check", nargs="+", type=Path, metavar="PATH",
                   help="scan these cassettes or folders for secrets instead of recording")
    return p


def main(argv: list[str] | None = None) -> int:
    p = build_parser()
    args = p.parse_args(argv)
    if args.check:
        return check_main(args.check, sys.stdout)
    if not args.vendor or not args.out:
        p.error("--vendor and --out are required to record (or give --check PATH)")
    try:
        upstreams = vendor_upstreams(args.vendor, args.upstream, args.auth_upstream)
    except ValueError as exc:
        p.error(str(exc))
    for u in {upstreams.api, upstreams.auth}:
        if not u.startswith(("http://", "https://")):
            p.error(f"upstream {u!r} is not an http(s) URL")
    out: Path = args.out
    name = args.name or f"{args.vendor}-{time.strftime('%Y%m%dT%H%M%SZ', time.gmtime())}"
    if "/" in name or name.startswith("."):
        p.error(f"--name {name!r}: a plain file name, please")
    path = out / (name if name.endswith((".yaml", ".yml")) else f"{name}.yaml")
    try:
        out.mkdir(parents=True, exist_ok=True)
        scrubber = None if args.no_scrub else Scrubber(key_for(out), macs_for(out))
        cassette = Cassette(path)
    except (OSError, ValueError, yaml.YAMLError) as exc:
        p.error(f"cannot record into {path}: {exc}")
    recorder = Recorder(upstreams, cassette, scrubber, args.timeout)
    try:
        server = ThreadingHTTPServer((args.host, args.port), handler_for(recorder))
    except OSError as exc:
        print(f"error: cannot listen on {args.host}:{args.port}: {exc}", file=sys.stderr)
        return 2
    server.daemon_threads = True
    host, port = server.server_address[:2]
    url = f"http://{host}:{port}"
    print(f"mockcloud record: listening on {url}", flush=True)
    print(f"  {args.vendor} -> {upstreams.api}"
          + (f" (OAuth paths -> {upstreams.auth})" if upstreams.auth != upstreams.api else ""))
    print(f"  recording to {path} ({'RAW, not scrubbed' if scrubber is None else 'scrubbed'})")
    for line in hints(args.vendor, url):
        print(f"  point the client at it: {line}")
    sys.stdout.flush()

    def stop(*_: Any) -> None:
        threading.Thread(target=server.shutdown, daemon=True).start()

    signal.signal(signal.SIGTERM, stop)
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        server.server_close()
    print(f"mockcloud record: {cassette.count} interaction(s) in {path}",
          flush=True)
    return 0
