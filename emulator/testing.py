"""Drive a running mockcloud from Python: start a server, steer its control plane.

``ServerProcess`` (from :mod:`emulator.launcher`) starts ``mockcloud serve`` on a free
port in a child process (a real HTTP server, not Flask's test client);
``ThreadedServer`` serves the same WSGI app on a real socket from a daemon thread of
this process (like moto's ``ThreadedMotoServer``: faster to start, one process to
debug); ``Admin`` wraps ``/_mockcloud/`` for one tenant: clock, faults, journal, tokens,
quotas, devices, webhooks, world, reset; ``Admin.vendor("netatmo")`` gives a
:class:`VendorHandle`: the tenant's base URL for the vendor, a ready token and its
headers, the clock.

::

    with ThreadedServer() as server:
        netatmo = Admin(server.url, "my-tenant").vendor("netatmo")
        requests.get(netatmo.base_url + "/api/homesdata", headers=netatmo.headers)
        netatmo.clock.advance(3600)
"""

from __future__ import annotations

import tempfile
import threading
from dataclasses import dataclass, field
from types import TracebackType
from typing import Any
from urllib.parse import quote

import requests

from .launcher import ServerError, ServerProcess, stop_process

__all__ = ["Admin", "AdminError", "Clock", "ServerError", "ServerProcess", "ThreadedServer",
           "VendorHandle", "stop_process"]


class AdminError(AssertionError):
    pass


class Admin:
    """The control plane of one tenant. ``token``: the server's admin token (its
    ``--admin-token``), sent as ``Authorization: Bearer`` on every call."""

    WRITES = frozenset({"POST", "PUT", "PATCH"})

    def __init__(self, base_url: str, tenant: str = "default",
                 session: requests.Session | None = None, token: str | None = None) -> None:
        self.base = base_url.rstrip("/")
        self.tenant = tenant
        self.token = token
        self.http = session or requests.Session()
        self.http.verify = False

    def url(self, vendor: str = "") -> str:
        """Base URL of a vendor for this tenant, e.g. ``url('lightify')``."""
        return f"{self.base}/_t/{self.tenant}" + (f"/{vendor}" if vendor else "")

    @property
    def headers(self) -> dict[str, str]:
        """What the control plane wants on every call: the admin token, if any (for
        requests of your own to ``/_mockcloud/``)."""
        return {"Authorization": f"Bearer {self.token}"} if self.token else {}

    def _call(self, method: str, path: str, **kw: Any) -> Any:
        """One admin call, sent as a real client does: the admin token (if any), and a
        JSON Content-Type on every write (also with no body)."""
        headers = {**self.headers, **(kw.pop("headers", None) or {})}
        if method in self.WRITES and "json" not in kw:
            headers.setdefault("Content-Type", "application/json")
        resp = self.http.request(method, f"{self.url()}/_mockcloud{path}", timeout=30,
                                 headers=headers, **kw)
        if resp.status_code >= 400:
            raise AdminError(f"{method} {path}: {resp.status_code} {resp.text}")
        ctype = resp.headers.get("Content-Type", "")
        return resp.json() if "json" in ctype else resp.text

    # clock
    def now(self) -> float:
        return self._call("GET", "/clock")["now"]

    def freeze(self, at: float | str | None = None) -> dict:
        return self._call("POST", "/clock/freeze", json={} if at is None else {"at": at})

    def advance(self, seconds: float) -> dict:
        return self._call("POST", "/clock/advance", json={"seconds": seconds})

    def set_time(self, at: float | str) -> dict:
        return self._call("POST", "/clock/set", json={"at": at})

    def resume(self) -> dict:
        return self._call("POST", "/clock/resume", json={})

    # faults, quotas, journal, tokens, world
    def add_fault(self, **rule: Any) -> dict:
        return self._call("POST", "/faults", json=rule)["faults"][0]

    def faults(self) -> list[dict]:
        return self._call("GET", "/faults")["faults"]

    def clear_faults(self) -> None:
        self._call("DELETE", "/faults")

    def set_quotas(self, vendor: str, rules: list[dict], status: int | None = None,
                   enabled: bool = True) -> dict:
        return self._call("PUT", f"/quotas/{vendor}",
                          json={"enabled": enabled, "rules": rules, "status": status})

    def quotas(self) -> dict:
        return self._call("GET", "/quotas")

    def journal(self, **filters: Any) -> list[dict]:
        """Recorded exchanges; secrets are REDACTED unless ``redact="false"``."""
        return self._call("GET", "/journal", params=filters)["entries"]

    def cassette(self, **filters: Any) -> str:
        """The journal as a vcrpy cassette; secrets REDACTED unless ``redact="false"``."""
        return self._call("GET", "/journal/cassette", params=filters)

    def tokens(self, **filters: Any) -> list[dict]:
        return self._call("GET", "/tokens", params=filters)["tokens"]

    def issue_token(self, vendor: str, client_id: str, user: str | None,
                    scope: str | None = None) -> dict:
        """A token pair for ``client_id`` acting for ``user`` (a login or user id; None:
        the app's owner), as the vendor's token endpoint answers it, without the flow."""
        body: dict[str, Any] = {"vendor": vendor, "client_id": client_id, "user": user}
        if scope is not None:
            body["scope"] = scope
        return self._call("POST", "/tokens", json=body)

    def revoke(self, token: str) -> dict:
        return self._call("POST", "/tokens/revoke", json={"token": token})

    def introspect(self, token: str) -> dict:
        return self._call("POST", "/tokens/introspect", json={"token": token})

    # devices under control
    def devices(self, vendor: str) -> list[dict]:
        """Every device of ``vendor`` in the tenant, with its state and overrides."""
        return self._call("GET", f"/devices/{vendor}")["devices"]

    def device(self, vendor: str, device_id: str) -> dict:
        """One device: ``state`` (as the vendor's API shows it now), ``overrides`` in
        force now, ``events`` recorded, ``accepts`` (what it can be given)."""
        return self._call("GET", f"/devices/{vendor}/{quote(device_id, safe='')}")

    def override_device(self, vendor: str, device_id: str, **changes: Any) -> dict:
        """Override a device's state at the tenant's virtual now: ``online`` (or
        ``reachable``), ``battery_percent``, ``window_open``, ``weather={...}``; a value
        of None drops that override; ``clear=True`` drops them all first."""
        return self._call("PATCH", f"/devices/{vendor}/{quote(device_id, safe='')}",
                          json=changes)

    def inject_event(self, vendor: str, device_id: str, type: str,
                     at: float | str | None = None, **fields: Any) -> dict:
        """An event the device reports (Netatmo: ``smoke`` on a smoke alarm,
        ``unknown_face`` on an indoor camera, ``tag_open`` on a door tag ...) at ``at``
        (default: now); answers the event recorded, with the vendor's event id."""
        body: dict[str, Any] = {"type": type, **fields}
        if at is not None:
            body["at"] = at
        return self._call("POST", f"/devices/{vendor}/{quote(device_id, safe='')}/events",
                          json=body)

    # webhooks (of a vendor that pushes)
    def webhooks(self, vendor: str, **filters: Any) -> list[dict]:
        """The vendor's webhooks (``user=``, ``client_id=`` to narrow)."""
        return self._call("GET", f"/webhooks/{vendor}", params=filters)["webhooks"]

    def webhook(self, vendor: str, hook_id: str) -> dict:
        """One webhook: cursor, counts, failures, ``banned`` / ``banned_until``."""
        return self._call("GET", f"/webhooks/{vendor}/{quote(hook_id, safe='')}")

    def deliveries(self, vendor: str, hook_id: str, **filters: Any) -> list[dict]:
        """A webhook's deliveries (status, code, attempts, latency_ms, payload)."""
        return self._call("GET", f"/webhooks/{vendor}/{quote(hook_id, safe='')}/deliveries",
                          params=filters)["deliveries"]

    def lift_ban(self, vendor: str, hook_id: str) -> dict:
        return self._call("DELETE", f"/webhooks/{vendor}/{quote(hook_id, safe='')}/ban")

    def push(self, vendor: str, user: str, payload: dict, at: float | str | None = None,
             client_id: str | None = None) -> dict:
        """Queue a one-off push for the user's webhooks at ``at`` (default: now)."""
        body: dict[str, Any] = {"user": user, "payload": payload}
        body.update({k: v for k, v in (("at", at), ("client_id", client_id)) if v is not None})
        return self._call("POST", f"/webhooks/{vendor}/push", json=body)

    def flush(self, timeout: float = 10) -> dict:
        """Deliver every webhook event the clock has passed, and wait for them: call it
        after moving the clock instead of sleeping. Raises if ``timeout`` ran out."""
        result = self._call("POST", "/webhooks/flush", json={"timeout": timeout})
        if not result["done"]:
            raise AdminError(f"webhook deliveries not done after {timeout} s")
        return result

    def load_world(self, world: str | dict) -> dict:
        """Replace the tenant's world: YAML text, or a mapping (sent as JSON)."""
        if isinstance(world, dict):
            return self._call("PUT", "/world", json=world)
        return self._call("PUT", "/world", data=world.encode(),
                          headers={"Content-Type": "application/yaml"})

    def export_world(self) -> dict:
        return self._call("GET", "/world")

    def reset(self) -> dict:
        return self._call("POST", "/reset")

    def delete_tenant(self) -> dict:
        """Delete the tenant (``DELETE /_mockcloud/tenant``): everything of it goes; a
        later call that names it starts it afresh."""
        return self._call("DELETE", "/tenant")

    # a vendor as a test meets it
    def vendor(self, vendor: str, app: str | None = None, user: str | None = None,
               scope: str | None = None) -> VendorHandle:
        """The tenant's ``vendor`` with a ready token, issued by ``POST
        /_mockcloud/tokens`` (no OAuth flow) for ``app`` (default: the world's CI app,
        ``<vendor>-ci``, else its first app) acting for ``user`` (default: the app's
        ``auto_approve_user`` or ``owner``, else the vendor's first user), with ``scope``
        (default: every scope the app lists, else the app's default scope)."""
        section = (self.export_world().get(vendor) or {})
        apps, users = section.get("apps") or [], section.get("users") or []
        chosen = _pick_app(apps, vendor, app)
        if chosen is None:
            raise AdminError(f"the tenant's world has no {vendor} app"
                             + (f" {app!r}" if app else "") + ": "
                             + ", ".join(a.get("client_id", "?") for a in apps))
        if user is None:
            user = chosen.get("auto_approve_user") or chosen.get("owner") or next(
                (u.get("login") or u.get("email") or u.get("id") for u in users), None)
        if scope is None and chosen.get("scopes"):
            scope = " ".join(chosen["scopes"])
        grant = self.issue_token(vendor, chosen["client_id"], user, scope)
        return VendorHandle(vendor=vendor, base_url=self.url(vendor), grant=grant,
                            client_id=chosen["client_id"],
                            client_secret=chosen.get("client_secret"), user=user,
                            admin=self, clock=Clock(self))


def _pick_app(apps: list[dict], vendor: str, wanted: str | None) -> dict | None:
    if wanted is not None:
        return next((a for a in apps if a.get("client_id") == wanted), None)
    return next((a for a in apps if a.get("client_id") == f"{vendor}-ci"),
                apps[0] if apps else None)


class Clock:
    """A tenant's virtual clock: ``now()``, ``advance(seconds)``, ``set(at)``,
    ``freeze(at=None)``, ``resume()`` (instants as epoch seconds or ISO 8601)."""

    def __init__(self, admin: Admin) -> None:
        self.admin = admin

    def now(self) -> float:
        return self.admin.now()

    def advance(self, seconds: float) -> dict:
        return self.admin.advance(seconds)

    def set(self, at: float | str) -> dict:
        return self.admin.set_time(at)

    def freeze(self, at: float | str | None = None) -> dict:
        return self.admin.freeze(at)

    def resume(self) -> dict:
        return self.admin.resume()


@dataclass
class VendorHandle:
    """One vendor of one tenant, ready to call: ``base_url`` (put it where the client
    wants the vendor's base URL), ``token`` / ``access_token``, ``refresh_token``,
    ``headers`` (``Authorization: Bearer``), ``clock``, ``admin`` (the tenant's
    :class:`Admin`), and the app and user the token was issued for."""

    vendor: str
    base_url: str
    grant: dict[str, Any]
    client_id: str
    client_secret: str | None
    user: str | None
    admin: Admin = field(repr=False)
    clock: Clock = field(repr=False)

    @property
    def access_token(self) -> str:
        return self.grant["access_token"]

    token = access_token

    @property
    def refresh_token(self) -> str | None:
        return self.grant.get("refresh_token")

    @property
    def headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.access_token}"}


class ThreadedServer:
    """The emulator's real WSGI app on a real socket, served by werkzeug from a daemon
    thread of this process (moto's ``ThreadedMotoServer`` for mockcloud); a context
    manager, or ``start()`` / ``stop()``.

    ``port=0`` picks a free one (``url`` says which); ``admin_token``, ``world``,
    ``state``, ``seed`` and any other :class:`emulator.settings.Settings` field as a
    keyword (``MOCKCLOUD_*`` variables fill the rest, as for ``mockcloud serve``). Its
    ``home`` (certificates, built worlds) is a temporary folder unless given. Plain HTTP
    only. Vendor knobs (``MOCKCLOUD_<VENDOR>_*``) are read from this process's
    environment when the app is built."""

    def __init__(self, host: str = "127.0.0.1", port: int = 0, *,
                 admin_token: str | None = None, **settings: Any) -> None:
        self.host = host
        self.port = port
        self.admin_token = admin_token
        self.overrides = settings
        self.url = ""
        self.app: Any = None
        self._server: Any = None
        self._thread: threading.Thread | None = None
        self._home: tempfile.TemporaryDirectory | None = None

    @property
    def headers(self) -> dict[str, str]:
        """The headers the control plane wants (the admin token, when there is one)."""
        return {"Authorization": f"Bearer {self.admin_token}"} if self.admin_token else {}

    def start(self) -> ThreadedServer:
        from werkzeug.serving import WSGIRequestHandler, make_server

        from .app import create_app
        from .settings import Settings

        if self._server is not None:
            raise ServerError("this server was already started")

        class QuietHandler(WSGIRequestHandler):
            def log_request(self, *args: Any, **kwargs: Any) -> None:
                pass  # no access log line per request (errors are still logged)

        overrides = {"host": self.host, "port": self.port, **self.overrides}
        if self.admin_token is not None:
            overrides["admin_token"] = self.admin_token
        if "home" not in overrides:
            self._home = tempfile.TemporaryDirectory(prefix="mockcloud-thread-")
            overrides["home"] = self._home.name
        try:
            settings = Settings.from_env(**overrides)
            self.admin_token = settings.admin_token or None
            self.app = create_app(settings)
            self._server = make_server(self.host, self.port, self.app, threaded=True,
                                       request_handler=QuietHandler)
        except BaseException:
            self.stop()
            raise
        self.port = self._server.server_port
        host = f"[{self.host}]" if ":" in self.host else self.host
        self.url = f"http://{host}:{self.port}"
        self._thread = threading.Thread(target=self._server.serve_forever,
                                        name=f"mockcloud-{self.port}", daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        """Stop serving (the socket is closed when this returns), stop the webhook
        deliveries, remove the temporary home."""
        server, self._server = self._server, None
        if server is not None:
            server.shutdown()
            server.server_close()
        if self._thread is not None:
            self._thread.join(10)
            self._thread = None
        if self.app is not None:
            self.app.deliverer.stop()
            self.app = None
        if self._home is not None:
            self._home.cleanup()
            self._home = None

    def __enter__(self) -> ThreadedServer:
        return self.start()

    def __exit__(self, kind: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.stop()
