"""Drive a running mockcloud from Python: start a server, steer its control plane.

``ServerProcess`` (from :mod:`emulator.launcher`) starts ``mockcloud serve`` on a free
port in a child process (a real HTTP server, not Flask's test client); ``Admin`` wraps
``/_mockcloud/`` for one tenant: clock, faults, journal, tokens, quotas, devices,
webhooks, world, reset.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import quote

import requests

from .launcher import ServerError, ServerProcess, stop_process

__all__ = ["Admin", "AdminError", "ServerError", "ServerProcess", "stop_process"]


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
