"""The WSGI application: tenancy, vendor mounting, faults and journal around Flask.

A request travels through small named steps (``Mockcloud.__call__``):

1. ``tenant``: header ``X-Mockcloud-Tenant`` or ``/_t/<tenant>/`` (stripped);
2. ``route``: the vendor from the Host header or the path prefix (Flask always routes
   on ``/<vendor>/<the vendor's real path>``);
3. ``context``: the per-request context, and the tenant's world on first use;
4. ``buffer``: the body read once, refused past the size limit;
5. ``headers``: what every reply gets (virtual ``Date``, the vendor's constant
   headers, the rate-limit headers a call earned);
6. ``fault``: a matching fault rule may delay, drop or answer first;
7. ``journal``: the exchange is recorded.

The admin API and the index skip 6 and 7. See DESIGN.md, "How a request travels".

A store that is down (Redis unreachable or dropped mid-request, a SQLite file locked
past its busy timeout: ``store.unavailable``) answers 503 in the envelope of the API
the request went to, with ``Retry-After``; the health endpoint answers 503 with
``"status": "unhealthy"``. Never a 500, never a traceback: the server log has one line
per such request, and the next request tries the store again. A reply already made
whose journal entry cannot be written is still sent (the change it reports was made);
the log says the entry was lost.
"""

from __future__ import annotations

import functools
import importlib
import io
import logging
import os
import re
import time
import weakref
from typing import Any

import orjson
from flask import Flask, Response, jsonify, request
from werkzeug.exceptions import HTTPException

from . import lightify, netatmo, qivivo
from .core import journal, served, tenancy, world, worldcache
from .core.admin import make_admin
from .core.api import VendorAPI, oauth_blueprint
from .core.clock import KEY as CLOCK_KEY
from .core.clock import KIND as CLOCK_KIND
from .core.clock import Clock, http_date, real_time
from .core.context import CURRENT, Ctx, current
from .core.errors import ADMIN, MockcloudError
from .core.faults import KIND as FAULT_KIND
from .core.faults import Decision, Faults
from .core.flaskapp import MockcloudFlask
from .core.idle import Idle
from .core.journal import add_secret_fields, exchange, request_headers
from .core.oauth import NOTE, VendorAuthServer
from .core.quotas import RULES_KIND
from .core.store import RETRY_AFTER, Store, open_store, unavailable
from .core.vendor import Vendor
from .core.webhooks import Deliverer
from .settings import Settings, vendor_settings

log = logging.getLogger("mockcloud")
# An emulator serves plain HTTP on any name it is reached by (a container's service
# name, a vendor host mapped in /etc/hosts); Authlib allows OAuth over plain HTTP only
# on localhost unless told so by its documented switch.
os.environ.setdefault("AUTHLIB_INSECURE_TRANSPORT", "1")
ADMIN_MAX_BODY = 64 * 1024 * 1024   # world files can be big
VENDORS: tuple[Vendor, ...] = (lightify.VENDOR, netatmo.VENDOR, qivivo.VENDOR)
add_secret_fields(name for v in VENDORS for name in v.secret_fields)
_SLASHES = re.compile(r"//+")
_TEMPLATES = "web/templates"


def load_vendors(settings: Settings) -> tuple[Vendor, ...]:
    """The built-in vendors, plus those ``settings.vendors`` names ("module:attr", comma
    separated): how a vendor in the making is served before it is built in."""
    extra = []
    for spec in filter(None, (s.strip() for s in settings.vendors.split(","))):
        module, _, attr = spec.partition(":")
        try:
            vendor = getattr(importlib.import_module(module), attr or "VENDOR")
        except (ImportError, AttributeError) as exc:
            raise ValueError(f"cannot load vendor {spec!r}: {exc}") from exc
        if not isinstance(vendor, Vendor):
            raise ValueError(f"{spec!r} is not a mockcloud Vendor")
        extra.append(vendor)
    return VENDORS + tuple(extra)


class DroppedConnection(Exception):
    """Raised inside a response body to make the server cut the connection."""


def _drop_body():
    raise DroppedConnection("fault rule: connection dropped")
    yield b""  # pragma: no cover


class Mockcloud:
    """The emulator as a WSGI callable; ``flask`` is the control app (admin, index),
    ``vendor_apps`` one Flask app per vendor, ``auth`` each vendor's OAuth server."""

    def __init__(self, settings: Settings | None = None, store: Store | None = None,
                 vendors: tuple[Vendor, ...] | None = None) -> None:
        self.settings = settings or Settings.from_env()
        vendors = vendors if vendors is not None else load_vendors(self.settings)
        self.store = store or open_store(self.settings.state)
        self.vendors = {v.name: v for v in vendors}
        self.by_host = {h: v for v in vendors for h in v.hosts}
        self.by_prefix = {v.prefix: v for v in vendors}
        self._host_vendor: dict[str, Any] = {}   # Host header -> by_host's answer
        self.vendor_settings = {v.name: vendor_settings(v.settings, v.name) for v in vendors}
        self.auth = {v.name: VendorAuthServer(v.auth(self.vendor_settings[v.name]), v.errors)
                     for v in vendors}
        # webhook deliveries: its thread starts with the first request (never at import,
        # so a forking server starts one per worker process), stops with this app
        self.deliverer = Deliverer(self.store, self.vendors, self.settings)
        # a store across the network reads what every vendor request reads in one
        # round trip (RedisStore.prefetch), and forgets what was left when it is done
        self._prefetch = getattr(self.store, "prefetch", None)
        self._forget = getattr(self.store, "forget_prefetched", None)
        weakref.finalize(self, self.deliverer.stop)
        # tenants no request named and no webhook delivery reached for tenant_idle
        # seconds are deleted (core/idle.py);
        # its sweeper starts with the first request, as the deliverer does
        self.idle = Idle(self.store, self.settings.tenant_idle, self.store.clear) \
            if self.settings.tenant_idle else None
        if self.idle is not None:
            weakref.finalize(self, self.idle.rounds.stop)
            self.deliverer.on_delivered = self.idle.seen   # a receiver still listens
        self.flask = self._control_app()
        self.vendor_apps = {v.name: self._vendor_app(v) for v in vendors}
        # the world every tenant starts from: one read-only base per process, shared
        # by the tenants (copy on write, core/store.py); mapped from the built worlds'
        # cache when serve's check built it there (core/worldcache.py), last: a worker
        # may wait for that check meanwhile (server.checked_world)
        self.world_base = self.store.add_base(worldcache.base_for(self.settings,
                                                                  self.vendors))
        # servers sharing a store must serve one world: noted there, and a server
        # started with another one says so (core/served.py)
        served.claim(self.store, self.world_base.digest, self.settings.world)

    # ------------------------------------------------------------------- Flask

    def _vendor_app(self, vendor: Vendor) -> Flask:
        """One Flask app per vendor: fewer rules to match on the hot path."""
        app = self._new_flask(f"emulator.{vendor.name}")
        server = self.auth[vendor.name]
        app.register_blueprint(oauth_blueprint(server), url_prefix=vendor.prefix)
        api = VendorAPI(vendor, server, self.vendor_settings[vendor.name])
        app.register_blueprint(vendor.routes(api), url_prefix=vendor.prefix)
        return app

    def _new_flask(self, name: str) -> Flask:
        app = MockcloudFlask(name, template_folder=_TEMPLATES, static_folder=None,
                             root_path=os.path.dirname(__file__))
        app.url_map.strict_slashes = False
        # a path is routed as sent: "//" is no endpoint (a vendor-shaped 404), not a
        # redirect to the merged path with werkzeug's HTML body; vendors that fold
        # slashes say so (Vendor.collapse_slashes)
        app.url_map.merge_slashes = False
        app.config.update(PROPAGATE_EXCEPTIONS=False)
        app.json.sort_keys = False
        app.json.compact = True
        app.extensions["mockcloud"] = self
        app.register_error_handler(MockcloudError, self.render)
        app.register_error_handler(HTTPException, self._http_error)
        app.register_error_handler(Exception, self._crash)
        return app

    def _http_error(self, exc: HTTPException):
        status = exc.code or 500
        err = MockcloudError.for_status(status, _message_for(exc),
                                        headers=exc.get_headers())
        if status == 404:
            err.reason = "no_endpoint"
        return self.render(err)

    def _crash(self, exc: Exception):
        why = unavailable(self.store, exc)
        if why is not None:
            log.warning("503 on %s %s: %s", request.method, request.path, why)
            return self._unavailable(current().vendor, request.path, why)
        log.exception("unhandled error on %s %s", request.method, request.path)
        return self.render(MockcloudError("internal", "mockcloud hit a bug answering this "
                                          "request; the server log has the traceback."))

    def _control_app(self) -> Flask:
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

    def _unavailable(self, vendor_name: str | None, path: str, why: str):
        """The 503 of a request the store could not serve: the vendor's envelope (the
        admin API's JSON), ``Retry-After``; the health endpoint says unhealthy."""
        retry = [("Retry-After", str(RETRY_AFTER))]
        vendor = self.vendors.get(vendor_name or "")
        if vendor is not None:
            return vendor.errors.render(MockcloudError("unavailable", why, headers=retry))
        if path.rstrip("/") in ("/_mockcloud", "/_mockcloud/health"):
            body = {"status": "unhealthy", "state": getattr(self.store, "backend", "memory"),
                    "error": "store_unavailable", "message": why}
            return Response(orjson.dumps(body), status=503, headers=retry,
                            content_type="application/json")
        return ADMIN.render(MockcloudError("unavailable", why, code="store_unavailable",
                                           headers=retry))

    def _unavailable_reply(self, environ, start_response, vendor: Vendor | None,
                           exc: Exception) -> Any:
        """``_unavailable`` before the request reached Flask (the tenant's clock or
        world, a fault rule could not be read), the Date the real time; ``exc`` raised
        again when it is not the store's being down."""
        why = unavailable(self.store, exc)
        if why is None:
            raise exc
        log.warning("503 on %s %s: %s", environ.get("REQUEST_METHOD"),
                    environ.get("PATH_INFO"), why)

        def respond(status: str, headers: list, exc_info=None):
            headers.append(("Date", http_date(int(real_time()))))
            return start_response(status, headers, exc_info)

        resp = self._unavailable(vendor.name if vendor else None,
                                 environ.get("PATH_INFO") or "/", why)
        return resp(environ, respond)

    def render(self, err: MockcloudError):
        """Any error, in the envelope of the API the request went to."""
        vendor = self.vendors.get(current().vendor or "")
        return (vendor.errors if vendor is not None else ADMIN).render(err)

    # ------------------------------------------------------------------- tenants

    def ensure_world(self, tenant: str, now: float) -> None:
        """A tenant seen for the first time gets the base world: one atomic claim, so
        two workers (or servers) seeing it at once never install it twice."""
        if self.store.count(tenant, world.META_KIND):
            return
        world.claim(self.store, tenant, self.world_base, self.settings.world, now)

    def reset(self, tenant: str) -> None:
        self.store.clear(tenant)
        self.ensure_world(tenant, Clock(self.store, tenant).now())

    def delete_tenant(self, tenant: str) -> None:
        """Everything of the tenant goes, and nothing is installed again: a request that
        names it later starts it afresh from the server's world."""
        self.store.clear(tenant)
        if self.idle is not None:
            self.idle.forgotten(tenant)

    # ---------------------------------------------------------------------- WSGI

    def __call__(self, environ: dict[str, Any], start_response):
        held = CURRENT.set(None)    # the request's context from step 3 to the answer
        try:
            return self._serve(environ, start_response)
        finally:
            CURRENT.reset(held)
            if self._forget is not None:
                self._forget()

    def _serve(self, environ: dict[str, Any], start_response):
        started = time.perf_counter()
        if not self.deliverer.started:
            self.deliverer.start()
            if self.idle is not None:
                self.idle.rounds.start()
        try:
            tenant = tenancy.resolve(environ)                       # 1
        except tenancy.TenantError as exc:
            return _plain_error(start_response, "400 Bad Request", "invalid_tenant", str(exc))
        original_path = environ.get("PATH_INFO") or "/"
        vendor = self._route(environ)                               # 2
        try:
            ctx = self._context(environ, tenant, vendor)            # 3
        except Exception as exc:
            return self._unavailable_reply(environ, start_response, vendor, exc)
        limit = self.settings.max_body if vendor is not None else ADMIN_MAX_BODY
        req_body = _buffer_input(environ, limit)                    # 4
        # 5: start_response, adding the virtual Date, the vendor's constant headers and
        # what the call earned (rate-limit headers); the reply is kept for the journal
        captured: dict[str, Any] = {}
        extra = vendor.headers if vendor is not None else ()

        def respond(status: str, headers: list, exc_info=None):
            now = ctx._now   # (made by step 3; a call only if a view unset it)
            headers.append(("Date", _date_header(int(now if now is not None
                                                     else ctx.now()))))
            if ctx.headers or extra:
                added = [*ctx.headers, *extra]
                if "mockcloud.fault" in environ:  # a rule's own headers win
                    names = {k.lower() for k, _ in headers}
                    added = [h for h in added if h[0].lower() not in names]
                headers.extend(added)
            captured["status"], captured["headers"] = status, headers
            return start_response(status, headers, exc_info)

        if req_body is None:
            return self._too_large(environ, respond, vendor, limit)
        if vendor is None:  # admin API, index: not faulted, not journaled
            return self.flask(environ, respond)
        try:
            decision = self._fault(environ, ctx, vendor) \
                if self.store.count(ctx.tenant, FAULT_KIND) else None  # 6 (no rule: none)
        except Exception as exc:
            return self._unavailable_reply(environ, start_response, vendor, exc)
        note = f"fault {decision.rule.id}" if decision else None
        if decision is not None and decision.drop:
            respond("200 OK", [("Content-Type", "application/json"), ("Content-Length", "64")])
            self._journal(ctx, environ, original_path, captured, req_body, b"", started,
                          f"dropped by fault {decision.rule.id}")
            return _drop_body()
        if decision is not None and decision.respond:
            environ["mockcloud.fault"] = decision.rule.id
            body = self._fault_response(environ, vendor, decision, respond)
        else:
            with self.deliverer.requests:  # webhook deliveries give way meanwhile
                chunks = self.vendor_apps[vendor.name].wsgi_app(environ, respond)
                try:    # (_joined's)
                    body = b"".join(chunks)
                finally:
                    if hasattr(chunks, "close"):
                        chunks.close()
        self._journal(ctx, environ, original_path, captured, req_body, body, started,  # 7
                      note)
        # the answer is whole: the environ lets go of the context that holds it, so the
        # pair is freed now, not left to the cycle collector (whose pauses then came
        # every ~150 requests, at 0.3-0.7 ms each)
        environ.pop("mockcloud.ctx", None)
        return [body]

    def _route(self, environ: dict[str, Any]) -> Vendor | None:
        """The vendor by Host header (its real paths get the prefix) or by prefix."""
        host = environ.get("HTTP_HOST") or ""
        vendor = self._host_vendor.get(host, _UNSEEN)
        if vendor is _UNSEEN:   # (a Host header seen before is not parsed again)
            if len(self._host_vendor) >= 256:
                self._host_vendor.clear()
            vendor = self._host_vendor[host] = self.by_host.get(host.partition(":")[0].lower())
        path = environ.get("PATH_INFO") or "/"
        if vendor is None:
            vendor = self.by_prefix.get("/" + path.lstrip("/").partition("/")[0])
        elif not path.startswith(vendor.prefix + "/") and path != vendor.prefix:
            environ["PATH_INFO"] = path = vendor.prefix + path
            environ[BY_HOST] = True
        if vendor is not None and vendor.collapse_slashes and "//" in path:
            environ["PATH_INFO"] = _SLASHES.sub("/", path)
        return vendor

    def _context(self, environ: dict[str, Any], tenant: str, vendor: Vendor | None) -> Ctx:
        if vendor is not None:  # its base URL, made if asked (Ctx.base)
            ctx = Ctx(self.store, tenant, self.settings, vendor.name, environ,
                      "" if environ.get(BY_HOST) else vendor.prefix)
        else:
            ctx = Ctx(self.store, tenant, self.settings, None, environ)
        environ["mockcloud.ctx"] = ctx
        CURRENT.set(ctx)
        if self._prefetch is not None and vendor is not None:
            reads = [(CLOCK_KIND, CLOCK_KEY), (RULES_KIND, vendor.name)]
            bearer = self.auth[vendor.name].bearer_read(environ)
            if bearer is not None:
                reads.append(bearer)
            self._prefetch(tenant, reads, (world.META_KIND, FAULT_KIND))
        now = ctx.now()
        if not self.store.count(tenant, world.META_KIND):  # (ensure_world's test first)
            self.ensure_world(tenant, now)
        if self.idle is not None:
            self.idle.seen(tenant)
        return ctx

    def _fault(self, environ, ctx: Ctx, vendor: Vendor) -> Decision | None:
        vendor_path = environ["PATH_INFO"][len(vendor.prefix):] or "/"
        decision = Faults(self.store, ctx.tenant).decide(
            vendor.name, environ.get("REQUEST_METHOD", "GET"), vendor_path, ctx.now())
        if decision is not None and decision.latency_ms:
            time.sleep(decision.latency_ms / 1000)
        return decision

    def _too_large(self, environ, respond, vendor: Vendor | None, limit: int):
        app = self.vendor_apps[vendor.name] if vendor else self.flask
        environ["CONTENT_LENGTH"] = "0"
        environ["wsgi.input"] = io.BytesIO(b"")
        with app.request_context(environ):
            resp = self.render(MockcloudError("too_large",
                                              f"The request body is over {limit} bytes."))
            return resp(environ, respond)

    def _fault_response(self, environ, vendor: Vendor, decision: Decision, respond) -> bytes:
        rule = decision.rule
        with self.vendor_apps[vendor.name].request_context(environ):
            if rule.body is None:
                resp = self.render(MockcloudError.for_status(
                    rule.status, f"injected fault {rule.id}", headers=rule.headers))
            else:
                resp = jsonify(rule.body) if not isinstance(rule.body, str) \
                    else self.flask.response_class(rule.body, mimetype="text/plain")
                resp.status_code = rule.status
                resp.headers.update(rule.headers)
            resp.headers["X-Mockcloud-Fault"] = rule.id
            return _joined(resp(environ, respond))

    def _journal(self, ctx: Ctx, environ, path: str, captured, req_body: bytes,
                 body: bytes, started: float, note: str | None = None) -> None:
        size = self.settings.journal_size
        if size <= 0:
            return
        get = environ.get
        more = get(NOTE)
        if more:
            note = f"{note}; {more}" if note else more
        query = get("QUERY_STRING")
        url = (f"{get('wsgi.url_scheme', 'http')}://"
               f"{get('HTTP_HOST') or get('SERVER_NAME', 'localhost')}"
               f"{get('SCRIPT_NAME', '')}{path}" + (f"?{query}" if query else ""))
        token = get("mockcloud.token")
        try:
            now = ctx._now   # (made by step 3)
            self.store.ring_append(ctx.tenant, journal.KIND, exchange(
                now if now is not None else ctx.now(), ctx.vendor, ctx.tenant,
                (time.perf_counter() - started) * 1000,
                token.client_id if token is not None else None, note,
                get("REQUEST_METHOD", "GET"), path, url, request_headers(environ),
                captured.get("status", "500 Internal Server Error"),
                captured.get("headers", ()), req_body, body, self.settings.journal_bodies),
                size, journal.to_doc)  # (Journal(...).record, without the Journal)
        except Exception as exc:
            why = unavailable(self.store, exc)
            if why is None:
                raise
            log.warning("journal entry of %s %s lost: %s",
                        environ.get("REQUEST_METHOD"), path, why)


BY_HOST = "mockcloud.by_host"  # environ: the vendor was picked by its Host header
_UNSEEN: Any = object()


@functools.lru_cache(maxsize=4)
def _date_header(second: int) -> str:
    return http_date(second)


def _joined(chunks) -> bytes:
    try:
        return b"".join(chunks)
    finally:
        if hasattr(chunks, "close"):
            chunks.close()


def _plain_error(start_response, status: str, code: str, message: str) -> list[bytes]:
    body = orjson.dumps({"error": code, "message": message})
    start_response(status, [("Content-Type", "application/json"),
                            ("Content-Length", str(len(body)))])
    return [body]


def _buffer_input(environ: dict[str, Any], limit: int) -> bytes | None:
    """The request body, read once and put back; None when it is over ``limit``."""
    try:
        length = int(environ.get("CONTENT_LENGTH") or 0)
    except ValueError:
        length = 0
    stream = environ.get("wsgi.input")
    if stream is None:
        environ["mockcloud.body"] = b""
        return b""
    if length > limit:
        return None
    raw = stream.read(length) if length > 0 else (
        stream.read(limit + 1) if environ.get("HTTP_TRANSFER_ENCODING") else b"")
    if len(raw) > limit:
        return None
    environ["wsgi.input"] = io.BytesIO(raw)
    environ["CONTENT_LENGTH"] = str(len(raw))
    environ["mockcloud.body"] = raw
    return raw


def _message_for(exc: HTTPException) -> str:
    if exc.code == 404:
        return f"No such endpoint: {request.method} {request.path}"
    if exc.code == 405:
        allowed = exc.valid_methods if hasattr(exc, "valid_methods") else None
        return f"{request.method} is not allowed here" + (
            f"; use {', '.join(allowed)}" if allowed else "")
    return exc.description or exc.name


def create_app(settings: Settings | None = None, store: Store | None = None,
               vendors: tuple[Vendor, ...] | None = None) -> Mockcloud:
    return Mockcloud(settings, store, vendors)
