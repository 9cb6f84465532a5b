"""The Flask class every mockcloud app is made from: Flask, minus per-request waste.

The hooks Flask offers for this, and what each saves on every request (measured
in-process by bench/profile_patch.py; about a quarter of a vendor call's time):

* ``create_url_adapter``: Flask binds the URL map to each request through
  ``Map.bind_to_environ``, which parses and checks the Host header twice and works
  out a subdomain that mockcloud never routes on. ``RequestAdapter`` takes the path,
  method and query from the environ as they are and works the host out only if a
  redirect or an external URL needs it.
* ``url_map_class``: werkzeug's matcher walks a state machine segment by segment on
  every request. ``RouteMap`` remembers what a (path, method) matched, in a bounded
  table that adding a rule empties; a lookup that raises (404, 405, redirect) is not
  remembered and raises again the next time. Matching is a pure function of the map,
  so this holds no state of the emulator (DESIGN.md: state lives in the store).
* ``response_class``: an ordinary JSON or HTML reply (2xx but 204, body already
  bytes, no Location to make absolute) goes to the server without the copy of its
  headers and the closing iterator werkzeug builds for the general case.
* ``request_class``: a request whose body was never parsed as a form has no files
  to close: ``close`` (at every request's end) returns at once.
* ``ensure_sync``: Flask asks ``inspect.iscoroutinefunction`` of the view on every
  request; mockcloud's views are plain functions, so the answer is kept per view.
* ``session_interface``: no cookies, so no session to make per request;
  ``full_dispatch_request`` and ``finalize_request`` send ``request_started`` and
  ``request_finished`` only when a receiver is connected (blinker's ``receivers``);
  ``preprocess_request``, ``process_response`` and ``do_teardown_request`` do not
  walk the request's blueprint chain when no hook of theirs exists (the teardown
  signals are still sent to any receiver connected; with none, and no teardown
  function, there is nothing to call and ``do_teardown_appcontext`` returns at once).

Behaviour is werkzeug's and Flask's: anything off the fast paths takes theirs.
``RequestAdapter`` sets MapAdapter's attributes itself and ``MockResponse`` reads
werkzeug's ``Response._on_close``, so pyproject.toml pins Flask and werkzeug to the
minor versions tests/test_flaskapp.py covers: its side-by-side check (19 requests
answered byte for byte as plain Flask) is what a new release must pass first.
"""

from __future__ import annotations

import sys
from typing import Any

from flask import Flask, Request, Response
from flask.globals import request_ctx
from flask.sessions import NullSession, SessionInterface
from flask.signals import (
    appcontext_tearing_down,
    request_finished,
    request_started,
    request_tearing_down,
)
from werkzeug.datastructures import EnvironHeaders, Headers
from werkzeug.exceptions import BadHost, HTTPException
from werkzeug.routing import Map, MapAdapter, Rule
from werkzeug.wsgi import get_host

_UNSET: Any = object()
ROUTE_CACHE_SIZE = 4096  # distinct (path, method) pairs remembered per app


def _wsgi_str(value: str) -> str:
    """A WSGI environ string (bytes as latin-1) as text, the way werkzeug reads it."""
    return value if value.isascii() else value.encode("latin1").decode(errors="replace")


class RouteMap(Map):
    """A werkzeug Map that remembers successful matches."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.matched: dict[tuple[str, str], tuple[Rule, dict[str, Any]]] = {}

    def add(self, rulefactory: Any) -> None:
        super().add(rulefactory)
        self.matched = {}


class RequestAdapter(MapAdapter):
    """A MapAdapter for one request, bound straight from its WSGI environ."""

    def __init__(self, url_map: RouteMap, environ: dict[str, Any]) -> None:
        # MapAdapter's own attributes, set as MapAdapter.__init__ would set them
        # (werkzeug.routing.map.Map.bind_to_environ), but server_name, below
        self.map = url_map
        self.environ = environ
        script_name = _wsgi_str(environ.get("SCRIPT_NAME") or "")
        self.script_name = script_name if script_name.endswith("/") else script_name + "/"
        self.subdomain = url_map.default_subdomain or ""
        self.url_scheme = environ.get("wsgi.url_scheme", "http")
        self.path_info = _wsgi_str(environ.get("PATH_INFO") or "")
        self.default_method = environ.get("REQUEST_METHOD", "GET")
        self.query_args = _wsgi_str(environ.get("QUERY_STRING") or "")
        self.websocket = self.url_scheme in {"ws", "wss"}
        self._server_name: str | None = None

    @property
    def server_name(self) -> str:
        """The request's host as werkzeug's bind_to_environ works it out; only
        redirects and external URLs read it."""
        if self._server_name is None:
            name, sep, port = get_host(self.environ).lower().partition(":")
            try:
                name = name.encode("idna").decode("ascii")
            except UnicodeError as exc:  # werkzeug raises it at bind time; here when used
                raise BadHost() from exc
            self._server_name = f"{name}{sep}{port}"
        return self._server_name

    @server_name.setter
    def server_name(self, value: str) -> None:
        self._server_name = value

    def match(self, path_info: str | None = None, method: str | None = None,
              return_rule: bool = False, query_args: Any = None,
              websocket: bool | None = None) -> tuple[Any, Any]:
        if path_info is not None or method is not None or websocket is not None \
                or query_args is not None or self.websocket:
            return super().match(path_info, method, return_rule, query_args, websocket)
        key = (self.path_info, self.default_method)
        table = self.map.matched
        hit = table.get(key)
        if hit is None:
            rule, args = super().match(return_rule=True)  # raises 404/405/redirects
            if len(table) >= ROUTE_CACHE_SIZE:
                table.clear()
            table[key] = hit = (rule, dict(args))
        rule, args = hit
        return (rule if return_rule else rule.endpoint), dict(args)


class MockRequest(Request):
    def __init__(self, environ: dict[str, Any], populate_request: bool = True,
                 shallow: bool = False) -> None:
        # werkzeug's Request.__init__ and its sansio base's in one call: the same
        # attributes from the same environ keys (the server as werkzeug.wsgi's
        # _get_server reads it, the paths decoded as _wsgi_str), without the keyword
        # call through super() and the helpers' calls
        get = environ.get
        self.method = get("REQUEST_METHOD", "GET").upper()
        self.scheme = get("wsgi.url_scheme", "http")
        name = get("SERVER_NAME")
        if name is None:
            self.server = None
        else:
            try:
                port: int | None = int(get("SERVER_PORT", None))
            except (TypeError, ValueError):   # a unix socket
                port = None
            self.server = (name, port)
        self.root_path = _wsgi_str(get("SCRIPT_NAME") or "").rstrip("/")
        self.path = "/" + _wsgi_str(get("PATH_INFO") or "").lstrip("/")
        self.query_string = get("QUERY_STRING", "").encode("latin1")
        self.headers = EnvironHeaders(environ)
        self.remote_addr = get("REMOTE_ADDR")
        self.environ = environ
        self.shallow = shallow
        if populate_request and not shallow:
            environ["werkzeug.request"] = self

    def close(self) -> None:
        # werkzeug's closes the files a form parse made: none made, nothing to do
        if self.__dict__.get("files"):
            super().close()


class MockResponse(Response):
    def __init__(self, response: Any = None, status: Any = None, headers: Any = None,
                 mimetype: str | None = None, content_type: str | None = None,
                 direct_passthrough: bool = False) -> None:
        if headers is not None or content_type is None or type(response) is not list:
            super().__init__(response, status, headers, mimetype, content_type,
                             direct_passthrough)
            return
        # werkzeug's Response.__init__ and its sansio base's in one call for a body
        # given as a list with its content type and no headers (the JSON replies): the
        # same headers (the Content-Type set as werkzeug sets it), status, attributes
        self.headers = Headers()
        self.headers["Content-Type"] = content_type
        self.status = self.default_status if status is None else status
        self.direct_passthrough = direct_passthrough
        self._on_close = []
        self.response = response

    def get_wsgi_response(self, environ: dict[str, Any]) -> tuple[Any, str, list]:
        body = self.response
        status = self.status_code
        if (200 <= status < 300 and status != 204 and type(body) is list
                and len(body) == 1 and type(body[0]) is bytes
                and not self.direct_passthrough and not self._on_close
                and environ.get("REQUEST_METHOD") != "HEAD"):
            wsgi_headers = self.headers.to_wsgi_list()
            sized = False
            for name, _ in wsgi_headers:   # (a loop: no set made)
                low = name.lower()
                if low == "location" or low == "content-location":
                    break
                sized = sized or low == "content-length"
            else:
                if not sized:
                    wsgi_headers.append(("Content-Length", str(len(body[0]))))
                return body, self.status, wsgi_headers
        return super().get_wsgi_response(environ)


class NoSessions(SessionInterface):
    """mockcloud sets no session cookies: every request shares one read-only empty
    session (Flask's NullSession refuses writes), never saved."""

    null = NullSession()

    def open_session(self, app: Flask, request: Request) -> NullSession:
        return self.null

    def save_session(self, app: Flask, session: Any, response: Any) -> None:
        pass


def _let_go_of_frames(exc: BaseException | None) -> None:
    """An answered HTTP error (a 404 or 405 from routing, an abort) forgets the frames
    it was raised through: the request keeps it (``routing_exception``) and those
    frames keep the request, a cycle per request otherwise, left to the collector.
    Its answer is made; an HTTP error's traceback is never logged."""
    seen = 0
    while exc is not None and seen < 8:
        exc.__traceback__ = None
        exc, seen = exc.__cause__ or exc.__context__, seen + 1


class MockcloudFlask(Flask):
    url_map_class = RouteMap
    request_class = MockRequest
    response_class = MockResponse
    session_interface = NoSessions()

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._sync_views: dict[Any, Any] = {}  # view -> what ensure_sync made of it

    def full_dispatch_request(self) -> Response:
        # Flask's, but request_started is sent only when something is connected to it
        # (blinker's send finds no receiver otherwise: nothing else happens)
        self._got_first_request = True
        try:
            if request_started.receivers:
                request_started.send(self, _async_wrapper=self.ensure_sync)
            rv = self.preprocess_request()
            if rv is None:
                rv = self.dispatch_request()
        except Exception as e:
            rv = self.handle_user_exception(e)
            if isinstance(e, HTTPException):
                _let_go_of_frames(e)
        return self.finalize_request(rv)

    def finalize_request(self, rv: Any, from_error_handler: bool = False) -> Response:
        # Flask's, but request_finished is sent only when something is connected to it;
        # a view's own response is what make_response would answer (no status, no
        # headers to add to it), without the call
        response = rv if isinstance(rv, self.response_class) else self.make_response(rv)
        try:
            response = self.process_response(response)
            if request_finished.receivers:
                request_finished.send(self, _async_wrapper=self.ensure_sync,
                                      response=response)
        except Exception:
            if not from_error_handler:
                raise
            self.logger.exception(
                "Request finalizing failed with an error while handling an error")
        return response

    def preprocess_request(self) -> Any:
        # Flask walks the blueprint chain looking for hooks even when none exist
        if any(self.url_value_preprocessors.values()) or any(
                self.before_request_funcs.values()):
            return super().preprocess_request()
        return None

    def process_response(self, response: Response) -> Response:
        ctx = request_ctx._get_current_object()  # type: ignore[attr-defined]
        if ctx._after_request_functions or any(self.after_request_funcs.values()) \
                or not self.session_interface.is_null_session(ctx._session):
            return super().process_response(response)
        return response

    def do_teardown_request(self, exc: Any = _UNSET) -> None:
        if exc is _UNSET:   # (as Flask: the exception being handled, if any)
            exc = sys.exc_info()[1]
        if any(self.teardown_request_funcs.values()):
            return super().do_teardown_request(exc)
        if request_tearing_down.receivers:
            request_tearing_down.send(self, _async_wrapper=self.ensure_sync, exc=exc)
        return None

    def do_teardown_appcontext(self, exc: Any = _UNSET) -> None:
        # (Flask's: no teardown_appcontext function and no receiver of the signal is
        # nothing to do, and nothing is done: blinker's send finds no receiver)
        if self.teardown_appcontext_funcs or appcontext_tearing_down.receivers:
            return super().do_teardown_appcontext(
                sys.exc_info()[1] if exc is _UNSET else exc)
        return None

    def ensure_sync(self, func: Any) -> Any:
        try:
            return self._sync_views[func]
        except KeyError:
            sync = self._sync_views[func] = super().ensure_sync(func)
            return sync
        except TypeError:  # an unhashable callable: ask every time, as Flask does
            return super().ensure_sync(func)

    def create_url_adapter(self, request: Request | None) -> MapAdapter | None:
        if request is None:   # an app context's: none unless SERVER_NAME is set (Flask's)
            return None if self.config["SERVER_NAME"] is None \
                else super().create_url_adapter(request)
        if self.config["SERVER_NAME"] is not None \
                or self.config["TRUSTED_HOSTS"] is not None \
                or self.url_map.host_matching or self.subdomain_matching:
            return super().create_url_adapter(request)
        return RequestAdapter(self.url_map, request.environ)  # type: ignore[arg-type]
