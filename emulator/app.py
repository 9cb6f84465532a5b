"""The WSGI application: tenancy, vendor mounting, faults and journal around Flask.

A request travels: tenant (header or ``/_t/<tenant>/``) -> vendor (Host header or
path prefix; Flask always routes on ``/<vendor>/<the vendor's real path>``) ->
fault rules (may answer, delay or drop first) -> Flask (admin API or the vendor's
blueprint) -> journal. See DESIGN.md, "How a request travels".
"""

from __future__ import annotations

import functools
import io
import json
import logging
import re
import threading
import time
from pathlib import Path
from typing import Any

from flask import Flask, jsonify, request
from werkzeug.exceptions import HTTPException

from . import lightify
from .core import tenancy, world
from .core.admin import make_admin
from .core.clock import Clock, http_date
from .core.context import Ctx, current
from .core.faults import Faults
from .core.flaskapp import MockcloudFlask
from .core.journal import Journal, exchange
from .core.store import Store, open_store
from .core.vendor import Vendor
from .settings import Settings

log = logging.getLogger("mockcloud")
ADMIN_MAX_BODY = 64 * 1024 * 1024   # world files can be big
_HERE = Path(__file__).resolve().parent
VENDORS: tuple[Vendor, ...] = (lightify.VENDOR,)
_SLASHES = re.compile(r"//+")


class DroppedConnection(Exception):
    """Raised inside a response body to make the server cut the connection."""


def _drop_body():
    raise DroppedConnection("fault rule: connection dropped")
    yield b""  # pragma: no cover


class Mockcloud:
    """The emulator as a WSGI callable; ``flask`` is the inner Flask app."""

    def __init__(self, settings: Settings | None = None, store: Store | None = None) -> None:
        self.settings = settings or Settings.from_env()
        self.store = store or open_store(self.settings.state)
        self.vendors = {v.name: v for v in VENDORS}
        self.by_host = {h: v for v in VENDORS for h in v.hosts}
        self.by_prefix = {v.prefix: v for v in VENDORS}
        self.world_rows = world.build(world.read_file(self.settings.world), self.vendors,
                                      self.settings.seed)
        self._boot_lock = threading.Lock()
        self.flask = self._make_flask()
        self.vendor_apps = self._make_vendor_apps()

    # ------------------------------------------------------------------- Flask

    def _make_vendor_apps(self) -> dict[str, Flask]:
        """One Flask app per vendor: fewer rules to match on the hot path."""
        apps = {}
        for vendor in self.vendors.values():
            app = self._new_flask(f"emulator.{vendor.name}")
            app.register_blueprint(vendor.make_blueprint(self.settings),
                                   url_prefix=vendor.prefix)
            apps[vendor.name] = app
        return apps

    def _new_flask(self, name: str) -> Flask:
        app = MockcloudFlask(name, template_folder="web/templates", root_path=str(_HERE),
                    static_folder=None)
        app.url_map.strict_slashes = False
        # a path is routed as sent: "//" is no endpoint (a vendor-shaped 404), not a
        # redirect to the merged path with werkzeug's HTML body; vendors that fold
        # slashes say so (Vendor.collapse_slashes)
        app.url_map.merge_slashes = False
        app.config.update(PROPAGATE_EXCEPTIONS=False)
        app.json.sort_keys = False
        app.json.compact = True
        app.extensions["mockcloud"] = self

        @app.errorhandler(HTTPException)
        def _http_error(exc: HTTPException):
            return self._render_error(exc.code or 500, _code_for(exc.code or 500),
                                      _message_for(exc), dict(exc.get_headers()))

        @app.errorhandler(Exception)
        def _crash(exc: Exception):
            log.exception("unhandled error on %s %s", request.method, request.path)
            return self._render_error(500, "internal_error",
                                      "mockcloud hit a bug answering this request; "
                                      "the server log has the traceback.", {})

        return app

    def _make_flask(self) -> Flask:
        """The control app: the admin API and the index."""
        app = self._new_flask("emulator")
        app.register_blueprint(make_admin(self), url_prefix="/_mockcloud")

        @app.get("/")
        def index():
            return jsonify({
                "name": "mockcloud",
                "vendors": {v.name: {"prefix": v.prefix, "hosts": list(v.hosts)}
                            for v in self.vendors.values()},
                "admin": "/_mockcloud/",
            })

        return app

    def _render_error(self, status: int, code: str, message: str, headers: dict):
        vendor = self.vendors.get(current().vendor or "")
        if vendor is not None:
            return vendor.render_error(status, code, message, headers)
        resp = jsonify({"error": code, "message": message})
        resp.status_code = status
        resp.headers.extend({k: v for k, v in headers.items() if k.lower() != "content-type"})
        return resp

    # ------------------------------------------------------------------- tenants

    def ensure_world(self, tenant: str, now: float) -> None:
        if self.store.count(tenant, world.META_KIND):
            return
        with self._boot_lock:
            if not self.store.count(tenant, world.META_KIND):
                world.install(self.store, tenant, self.world_rows, self.settings.world, now)

    def reset(self, tenant: str) -> None:
        self.store.clear(tenant)
        self.ensure_world(tenant, Clock(self.store, tenant).now())

    # ---------------------------------------------------------------------- WSGI

    def _vendor_for(self, environ: dict[str, Any]) -> Vendor | None:
        host = (environ.get("HTTP_HOST") or "").split(":")[0].lower()
        vendor = self.by_host.get(host)
        path = environ.get("PATH_INFO") or "/"
        if vendor is not None:
            if not path.startswith(vendor.prefix + "/") and path != vendor.prefix:
                environ["PATH_INFO"] = vendor.prefix + path
            return vendor
        first = "/" + path.lstrip("/").split("/", 1)[0]
        return self.by_prefix.get(first)

    def __call__(self, environ: dict[str, Any], start_response):
        started = time.perf_counter()
        try:
            tenant = tenancy.resolve(environ)
        except tenancy.TenantError as exc:
            body = json.dumps({"error": "invalid_tenant", "message": str(exc)}).encode()
            start_response("400 Bad Request", [("Content-Type", "application/json"),
                                               ("Content-Length", str(len(body)))])
            return [body]
        original_path = environ.get("PATH_INFO") or "/"
        vendor = self._vendor_for(environ)
        if vendor is not None and vendor.collapse_slashes:
            environ["PATH_INFO"] = _SLASHES.sub("/", environ["PATH_INFO"])
        ctx = Ctx(store=self.store, tenant=tenant, settings=self.settings,
                  vendor=vendor.name if vendor else None)
        environ["mockcloud.ctx"] = ctx
        now = ctx.now()
        self.ensure_world(tenant, now)
        limit = self.settings.max_body if vendor is not None else ADMIN_MAX_BODY
        req_body = _buffer_input(environ, limit)
        environ["mockcloud.body"] = req_body
        captured: dict[str, Any] = {}
        extra = vendor.headers if vendor is not None else ()

        def capture(status: str, headers: list, exc_info=None):
            # Added here, not in Flask hooks: the Date of the virtual clock, the
            # vendor's constant headers, and what the call earned (rate-limit headers).
            headers.append(("Date", _date_header(int(ctx.now()))))
            added = [*ctx.headers, *extra]
            if "mockcloud.fault" in environ:  # a rule's own headers win
                names = {k.lower() for k, _ in headers}
                added = [h for h in added if h[0].lower() not in names]
            headers.extend(added)
            captured["status"], captured["headers"] = status, headers
            return start_response(status, headers, exc_info)

        if req_body is None:
            return self._too_large(environ, capture, vendor, limit)
        if vendor is None:  # admin API, index: not faulted, not journaled
            return self.flask(environ, capture)

        vendor_path = environ["PATH_INFO"][len(vendor.prefix):] or "/"
        decision = Faults(self.store, tenant).decide(
            vendor.name, environ.get("REQUEST_METHOD", "GET"), vendor_path, now)
        if decision is not None and decision.latency_ms:
            time.sleep(decision.latency_ms / 1000)
        if decision is not None and decision.drop:
            capture("200 OK", [("Content-Type", "application/json"),
                               ("Content-Length", "64")])
            self._journal(ctx, environ, original_path, captured, req_body, b"", started,
                          note=f"dropped by fault {decision.rule.id}")
            return _drop_body()
        if decision is not None and decision.respond:
            environ["mockcloud.fault"] = decision.rule.id
            chunks = [self._fault_response(environ, decision.rule, capture)]
        else:
            chunks = self.vendor_apps[vendor.name](environ, capture)
        try:
            body = b"".join(chunks)
        finally:
            if hasattr(chunks, "close"):
                chunks.close()
        self._journal(ctx, environ, original_path, captured, req_body, body, started,
                      note=f"fault {decision.rule.id}" if decision else None)
        return [body]

    def _too_large(self, environ, start_response, vendor: Vendor | None, limit: int):
        app = self.vendor_apps[vendor.name] if vendor else self.flask
        environ["CONTENT_LENGTH"] = "0"
        environ["wsgi.input"] = io.BytesIO(b"")
        with app.request_context(environ):
            resp = self._render_error(413, "request_too_large",
                                      f"The request body is over {limit} bytes.", {})
            return resp(environ, start_response)

    def _fault_response(self, environ, rule, start_response) -> bytes:
        with self.vendor_apps[environ["mockcloud.ctx"].vendor].request_context(environ):
            if rule.body is None:
                resp = self._render_error(rule.status, _code_for(rule.status),
                                          f"injected fault {rule.id}", rule.headers)
            else:
                resp = jsonify(rule.body) if not isinstance(rule.body, str) \
                    else self.flask.response_class(rule.body, mimetype="text/plain")
                resp.status_code = rule.status
                resp.headers.update(rule.headers)
            resp.headers["X-Mockcloud-Fault"] = rule.id
            return b"".join(resp(environ, start_response))

    def _journal(self, ctx: Ctx, environ, path: str, captured, req_body: bytes,
                 body: bytes, started: float, note: str | None = None) -> None:
        size = self.settings.journal_size
        if size <= 0:
            return
        query = environ.get("QUERY_STRING")
        host = environ.get("HTTP_HOST") or environ.get("SERVER_NAME", "localhost")
        url = (f"{environ.get('wsgi.url_scheme', 'http')}://{host}"
               f"{environ.get('SCRIPT_NAME', '')}{path}" + (f"?{query}" if query else ""))
        token = environ.get("mockcloud.token")
        Journal(self.store, ctx.tenant, size).record(exchange(
            ctx.now(), ctx.vendor, ctx.tenant, (time.perf_counter() - started) * 1000,
            token.client_id if token is not None else None, note,
            environ.get("REQUEST_METHOD", "GET"), path, url,
            [(k, v) for k, v in environ.items()
             if k.startswith("HTTP_") or k == "CONTENT_TYPE"],
            captured.get("status", "500 Internal Server Error"), captured.get("headers", ()),
            req_body, body, self.settings.journal_bodies))


@functools.lru_cache(maxsize=4)
def _date_header(second: int) -> str:
    return http_date(second)


def _buffer_input(environ: dict[str, Any], limit: int) -> bytes | None:
    """The request body, read once and put back; None when it is over ``limit``."""
    try:
        length = int(environ.get("CONTENT_LENGTH") or 0)
    except ValueError:
        length = 0
    stream = environ.get("wsgi.input")
    if stream is None:
        return b""
    if length > limit:
        return None
    raw = stream.read(length) if length > 0 else (
        stream.read(limit + 1) if environ.get("HTTP_TRANSFER_ENCODING") else b"")
    if len(raw) > limit:
        return None
    environ["wsgi.input"] = io.BytesIO(raw)
    environ["CONTENT_LENGTH"] = str(len(raw))
    return raw


def _code_for(status: int) -> str:
    return {400: "invalid_request", 401: "invalid_token", 403: "forbidden",
            404: "not_found", 405: "method_not_allowed", 409: "conflict",
            413: "request_too_large", 415: "unsupported_media_type",
            429: "rate_limited", 500: "internal_error", 502: "bad_gateway",
            503: "service_unavailable", 504: "gateway_timeout"}.get(status, "error")


def _message_for(exc: HTTPException) -> str:
    if exc.code == 404:
        return f"No such endpoint: {request.method} {request.path}"
    if exc.code == 405:
        allowed = exc.valid_methods if hasattr(exc, "valid_methods") else None
        return f"{request.method} is not allowed here" + (
            f"; use {', '.join(allowed)}" if allowed else "")
    return exc.description or exc.name


def create_app(settings: Settings | None = None, store: Store | None = None) -> Mockcloud:
    return Mockcloud(settings, store)
