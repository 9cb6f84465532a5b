"""Outbound webhooks on the virtual clock: the registry, the event stream of each
webhook, and the delivery worker that POSTs it over real HTTP.

**What a vendor gives** (``Vendor.push``, a :class:`PushSpec`):

* ``source(store, tenant, webhook, t0, t1)``: the events the clock brings, a *pure*
  function of the world and the clock: ``(at, payload)`` pairs with ``t0 < at <= t1``
  in time order, the same whenever it is asked (DESIGN.md: history is a pure function
  of the world and the event log up to t). Scheduled things belong here (a schedule
  switching a set point at 07:00, a scenario's person leaving).
* ``activation(webhook)``: the payload sent when a webhook is registered (or None).
* ``headers(store, tenant, webhook, body)``: headers of each POST (e.g. a signature).
* ``render(webhook, payload)``: the payload as this webhook receives it, at delivery
  (e.g. links moved under ``webhook.base``, the base URL its registering client used).
* the rules: ``max_failures`` failed deliveries within ``failure_window`` seconds ban
  the webhook for ``ban`` seconds (Netatmo: 5 in an hour, 24 h), ``retries``.

**What its routes call** (each takes the request's ``Ctx``): ``register(ctx, vendor,
client_id, user_id, url, app_types)`` (addwebhook: queues the activation push),
``drop(ctx, vendor, client_id, user_id)`` (dropwebhook), and ``push(ctx, vendor,
user_id, payload)`` for an event a request causes (a set point written through the
API): it is queued at once at the virtual now, for every webhook of the user. Use
``push`` for request-made events, not the source: with a frozen clock a write happens
at the very instant the webhook's cursor may already stand on, and the source is only
asked about instants after the cursor.

**The stream.** A webhook is one per (vendor, app, user); registering again changes
its URL and app types and queues a new activation. Its document holds a *cursor*: the
virtual instant up to which the source's events have been handed to delivery (it
starts at the registration instant), and a *queue* of one-off pushes (activation,
``push``, the admin API's inject). Whenever the clock has moved past the cursor, the
worker asks the source for ``(cursor, now]``, merges the queued pushes due by now, in
time order (a queued push before a source event of the same instant), moves the
cursor and sends them. Each event is handed out once and in order however the clock
is moved (one step or many); the clock moved back delivers nothing until it passes
the cursor again (nothing is sent twice). A push queued for an instant the cursor has
passed (the admin API's inject into the past) goes out next.

**Delivery.** One POST of the payload as JSON per event, with a socket timeout
(``Settings.webhook_timeout``); 2xx is delivered, anything else (other status,
timeout, refused connection) failed. Each delivery happens, on the virtual clock, at
its event's instant (a push queued late: at the cursor), so the ban rule and the
admin API's record do not depend on how the clock was moved. A failed delivery is
tried ``retries`` more times at once (INFERRED: Netatmo's notes speak of no retry,
so Netatmo's is 0), and counts as one failure. ``max_failures`` failures within
``failure_window`` ban the webhook until ``ban`` seconds after the last one; while
banned nothing is sent and the events that fall in the ban are *skipped*, recorded
as such, never sent later (INFERRED from Netatmo's "banned for 24 h": a receiver back
up gets the events that happen after the ban, not a backlog). The admin API can lift a
ban (it forgets the failures too). Dropping a webhook stops it at once, between two
deliveries; dropping and registering again starts afresh (no ban, no failures).

**The worker.** One daemon thread per ``Deliverer`` (one per app, so per server
process), started by the app on its first request. Requests never wait for it:
registering, pushing and moving the clock only wake it (``nudge``); it also wakes
every ``POLL`` seconds, since a running clock moves by itself. Several processes
sharing a SQLite store cooperate: a webhook's batch is *claimed* with an atomic
``Store.update`` that moves the cursor and takes a lease (real time, renewed while
sending), so each event goes to exactly one process and a webhook's deliveries never
overlap (order kept). A process that dies holding a lease loses the batch it claimed
(at most once), and the lease lapses. Tenants with webhooks are listed in an index
document under the reserved tenant ``_mockcloud`` (no request can name it).

Each delivery is recorded in a bounded ring per tenant (``webhook.delivery``,
``Settings.webhook_history`` entries: status, HTTP code, attempts, latency, error,
payload) and journaled as an ``outbound`` exchange.
"""

from __future__ import annotations

import hashlib
import http.client
import itertools
import logging
import math
import secrets
import socket
import threading
import time
import weakref
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, NamedTuple
from urllib.parse import urlsplit

import orjson

from .clock import Clock, real_time
from .errors import MockcloudError
from .journal import OUTBOUND, Journal, exchange
from .rounds import Rounds
from .tenancy import SYSTEM

if TYPE_CHECKING:  # pragma: no cover
    from ..settings import Settings
    from .context import Ctx
    from .store import Store
    from .vendor import Vendor

log = logging.getLogger("mockcloud.webhooks")

KIND = "webhook"
DELIVERIES = "webhook.delivery"
INDEX = (SYSTEM, "webhook.tenants", "active")   # (tenant, kind, key)
POLL = 0.5           # real seconds between the worker's rounds when nobody wakes it
BATCH = 256          # events claimed at once
LEASE = 30.0         # real seconds a claim holds a webhook (renewed while sending)
IDLE_ADVANCE = 3600  # virtual seconds without events after which the cursor is moved
MAX_URL = 2048
MAX_RESPONSE = 1 << 20  # bytes of a receiver's reply read (the rest closes the socket)
USER_AGENT = "mockcloud-webhooks/1"
# deliveries give way to API requests (``InFlight``), in real seconds: a delivery waits
# for the requests in flight (YIELD_STEP at a time, YIELD_MAX at most), and while
# requests came within RECENT, deliveries are PACE apart
YIELD_STEP, YIELD_MAX = 0.0002, 0.002
RECENT, PACE = 0.02, 0.001

Event = tuple[float, dict[str, Any]]


@dataclass(frozen=True)
class Webhook:
    """A registered webhook, as a vendor's source and headers see it."""

    id: str
    vendor: str
    client_id: str
    user_id: str
    url: str
    app_types: tuple[str, ...]
    created: float
    base: str = ""   # the vendor's base URL the registering client used (Ctx.base)

    @classmethod
    def from_doc(cls, doc: dict[str, Any]) -> Webhook:
        return cls(doc["id"], doc["vendor"], doc["client_id"], doc["user_id"], doc["url"],
                   tuple(doc["app_types"]), doc["created"], doc.get("base", ""))


@dataclass(frozen=True)
class PushSpec:
    """What a vendor pushes and its rules (see the module docstring)."""

    source: Callable[[Store, str, Webhook, float, float], Iterable[Event]] | None = None
    activation: Callable[[Webhook], dict[str, Any] | None] | None = None
    headers: Callable[[Store, str, Webhook, bytes], Iterable[tuple[str, str]]] | None = None
    render: Callable[[Webhook, dict[str, Any]], dict[str, Any]] | None = None
    max_failures: int = 5
    failure_window: float = 3600.0
    ban: float = 86400.0
    retries: int = 0


# ------------------------------------------------------------------------ registry


def hook_id(vendor: str, client_id: str, user_id: str) -> str:
    """A webhook's id: the same for the same (vendor, app, user), URL-safe."""
    digest = hashlib.sha256(f"{vendor}\0{client_id}\0{user_id}".encode()).hexdigest()
    return f"wh-{digest[:16]}"


def check_url(url: Any) -> str:
    """An absolute http(s) URL with a host, else ``invalid_argument``."""
    if not isinstance(url, str) or not url:
        raise MockcloudError("invalid_argument", "a webhook needs a url")
    if len(url) > MAX_URL:
        raise MockcloudError("invalid_argument", f"the webhook url is over {MAX_URL} "
                             "characters")
    try:
        parts = urlsplit(url)
        parts.port  # noqa: B018 - raises on a bad port
    except ValueError as exc:
        raise MockcloudError("invalid_argument", f"bad webhook url: {exc}") from None
    if parts.scheme not in ("http", "https") or not parts.hostname or any(
            c.isspace() for c in url):
        raise MockcloudError("invalid_argument", f"the webhook url must be an absolute "
                             f"http or https URL, not {url[:80]!r}")
    return url


def register(ctx: Ctx, vendor: Vendor, client_id: str, user_id: str, url: str,
             app_types: Iterable[str] = ()) -> Webhook:
    """Register (or re-register) the webhook of an app for a user, at the virtual now,
    and queue the vendor's activation push. Raises ``invalid_argument`` (bad URL) or
    ``invalid_request`` (a vendor without ``push``)."""
    spec = _spec(vendor)
    url, types = check_url(url), [str(t) for t in app_types]
    now, hid = ctx.now(), hook_id(vendor.name, client_id, user_id)

    def apply(doc: dict[str, Any] | None) -> dict[str, Any]:
        doc = doc or {"id": hid, "vendor": vendor.name, "client_id": client_id,
                      "user_id": user_id, "created": now, "cursor": now, "queue": [],
                      "pushes": 0, "seq": 0, "failures": [], "banned_until": None,
                      "bans": 0, "lease": None,
                      "counts": {"delivered": 0, "failed": 0, "skipped": 0}}
        doc.update(url=url, app_types=types, updated=now, base=ctx.base)
        payload = spec.activation(Webhook.from_doc(doc)) if spec.activation else None
        if payload is not None:
            _enqueue(doc, now, payload)
        return doc

    doc = ctx.store.update(ctx.tenant, KIND, hid, apply)
    assert doc is not None
    _index(ctx.store, ctx.tenant)
    nudge()
    return Webhook.from_doc(doc)


def drop(ctx: Ctx, vendor: Vendor, client_id: str, user_id: str) -> bool:
    """Forget the webhook of an app for a user: nothing more is sent to it, from the
    next delivery on. False if there was none."""
    return ctx.store.delete(ctx.tenant, KIND, hook_id(vendor.name, client_id, user_id))


def push(ctx: Ctx, vendor: Vendor, user_id: str, payload: dict[str, Any],
         at: float | None = None, client_id: str | None = None) -> list[str]:
    """Queue a one-off push for every webhook of ``user_id`` (of one app when
    ``client_id`` is given), at ``at`` (default: the virtual now). The ids of the
    webhooks it was queued for (none: nobody listens)."""
    return Webhooks(ctx.store, ctx.tenant).push(vendor.name, user_id, payload,
                                                ctx.now() if at is None else at, client_id)


def _spec(vendor: Vendor) -> PushSpec:
    if vendor.push is None:
        raise MockcloudError("invalid_request", f"vendor {vendor.name!r} sends no webhooks "
                             f"(its Vendor gives no 'push')")
    return vendor.push


def _enqueue(doc: dict[str, Any], at: float, payload: dict[str, Any]) -> None:
    doc["pushes"] += 1
    doc["queue"].append({"n": doc["pushes"], "at": at, "payload": payload})


def _index(store: Store, tenant: str) -> None:
    """Note that ``tenant`` has webhooks (for the workers' rounds)."""
    def add(doc):
        names = (doc or {}).get("tenants", [])
        return {"tenants": names if tenant in names else [*names, tenant]}

    if tenant not in (store.get(*INDEX) or {}).get("tenants", ()):
        store.update(*INDEX, add)


def _leased(doc: dict[str, Any], real: float) -> bool:
    lease = doc.get("lease")
    return lease is not None and lease["until"] > real


def banned(doc: dict[str, Any], at: float) -> bool:
    until = doc.get("banned_until")
    return until is not None and at < until


class Webhooks:
    """One tenant's webhooks, for the admin API."""

    def __init__(self, store: Store, tenant: str) -> None:
        self.store, self.tenant = store, tenant

    def list(self, vendor: str | None = None, user_id: str | None = None,
             client_id: str | None = None) -> list[dict[str, Any]]:
        docs = [d for _, d in self.store.list(self.tenant, KIND)
                if (vendor is None or d["vendor"] == vendor)
                and (user_id is None or d["user_id"] == user_id)
                and (client_id is None or d["client_id"] == client_id)]
        return sorted(docs, key=lambda d: (d["created"], d["id"]))

    def get(self, hid: str) -> dict[str, Any] | None:
        return self.store.get(self.tenant, KIND, hid)

    def push(self, vendor: str, user_id: str, payload: dict[str, Any], at: float,
             client_id: str | None = None, passed_only: bool = False) -> list[str]:
        """Queue ``payload`` at ``at`` for the user's webhooks; ``passed_only``: only
        for those whose cursor already stands at or after ``at`` (an event the source
        would give, made while the clock stood behind the cursor: the source is never
        asked about it again). Returns the ids of the webhooks it was queued for."""
        queued = []
        for doc in self.list(vendor, user_id, client_id):
            took: list[bool] = []

            def add(d, took=took):
                took.clear()
                if d is not None and (not passed_only or d["cursor"] >= at):
                    _enqueue(d, at, payload)
                    took.append(True)
                return d

            self.store.update(self.tenant, KIND, doc["id"], add)
            if took:
                queued.append(doc["id"])
        if queued:
            nudge()
        return queued

    def lift_ban(self, hid: str) -> dict[str, Any] | None:
        def lift(doc):
            if doc is not None:
                doc.update(banned_until=None, failures=[])
            return doc

        return self.store.update(self.tenant, KIND, hid, lift)

    def deliveries(self, hid: str | None = None, since: int = 0,
                   limit: int | None = None) -> list[dict[str, Any]]:
        out = [d for d in self.store.ring_list(self.tenant, DELIVERIES)
               if d["seq"] > since and (hid is None or d["webhook"] == hid)]
        return out[-limit:] if limit else out


def describe(doc: dict[str, Any], now: float) -> dict[str, Any]:
    """A webhook as the admin API shows it, at the virtual ``now``."""
    return {
        "id": doc["id"], "vendor": doc["vendor"], "client_id": doc["client_id"],
        "user_id": doc["user_id"], "url": doc["url"], "app_types": doc["app_types"],
        "created": doc["created"], "updated": doc["updated"], "cursor": doc["cursor"],
        "queued": len(doc["queue"]), "handed_out": doc["seq"],
        "counts": doc["counts"], "failures": doc["failures"],
        "banned": banned(doc, now), "banned_until": doc["banned_until"],
        "bans": doc["bans"], "sending": doc["lease"] is not None,
    }


# ------------------------------------------------------------------------ worker

_LIVE: weakref.WeakSet[Deliverer] = weakref.WeakSet()


def nudge() -> None:
    """Wake every delivery worker of this process (the clock moved, a push was queued):
    cheap, never waits."""
    for deliverer in list(_LIVE):
        deliverer.wake()


class Item(NamedTuple):
    """One event of a batch: ``n`` the queued push it is (0: from the source)."""

    at: float
    n: int
    payload: dict[str, Any]


class Outcome(NamedTuple):
    code: int | None
    reason: str
    headers: list[tuple[str, str]]
    body: bytes
    latency_ms: float
    error: str | None

    @property
    def ok(self) -> bool:
        return self.code is not None and 200 <= self.code < 300


class InFlight:
    """The vendor requests being answered (the app wraps each in ``with requests:``).

    Deliveries are background work: a worker thread shares the GIL with the request
    threads, and each delivery holds it for about 0.1 ms of Python (http.client, the
    records), so at full speed the API's latency would grow by a third. So before each
    delivery, ``wait`` lets the requests in flight finish, and while the API is in use
    deliveries are paced (PACE apart): they go at full speed only when it is idle.

    No lock: the counts are two ``itertools.count`` (each ``next`` is one step under the
    GIL), so a request never waits on another here. A lock taken twice per request was
    a convoy under load: a thread preempted while holding it made every other request
    thread block on it, release the GIL and queue for it again (switch intervals of
    5 ms each), the tens of milliseconds of the p99 at 8 connections."""

    def __init__(self) -> None:
        self._entering, self._leaving = itertools.count(1), itertools.count(1)
        self._entered = self._left = 0   # the last number each counter gave (a racing
        self.last = -math.inf            # pair may leave one a step behind, briefly);
        # last: perf_counter of the last request's start or end

    @property
    def count(self) -> int:
        return max(0, self._entered - self._left)

    def __enter__(self) -> None:
        self.last = time.perf_counter()
        self._entered = next(self._entering)

    def __exit__(self, *exc: object) -> None:
        self.last = time.perf_counter()
        self._left = next(self._leaving)

    def wait(self) -> None:
        if self.count:
            deadline = time.perf_counter() + YIELD_MAX
            while self.count and time.perf_counter() < deadline:
                time.sleep(YIELD_STEP)
        if time.perf_counter() - self.last < RECENT:
            time.sleep(PACE)


@dataclass
class Round:
    delivered: int = 0       # deliveries made (sent or skipped)
    busy: bool = False       # a webhook was being sent by someone else


@dataclass(eq=False)
class Deliverer:
    """The delivery worker of one app: ``start`` (its thread), ``wake``, ``run_once``
    (one round over every tenant), ``flush`` (one tenant, until nothing is due)."""

    store: Store
    vendors: Mapping[str, Vendor]
    settings: Settings
    _rounds: Rounds = field(init=False, repr=False)     # the thread
    _local: threading.local = field(default_factory=threading.local, repr=False)
    requests: InFlight = field(default_factory=InFlight, repr=False)
    # the source's events past a cut batch, by (tenant, hook): (from, to, events)
    _rest: dict[tuple[str, str], tuple[float, float, list[Event]]] = field(
        default_factory=dict, repr=False)
    # called with the tenant after each delivery its receiver accepted (the app's
    # idle sweep counts it as use: core/idle.py)
    on_delivered: Callable[[str], None] | None = field(default=None, repr=False)

    def __post_init__(self) -> None:
        timeout = self.settings.webhook_timeout
        if not (isinstance(timeout, int | float) and math.isfinite(timeout) and timeout > 0):
            raise ValueError(f"webhook_timeout must be a positive number of seconds, "
                             f"not {timeout!r}")
        self._rounds = Rounds("mockcloud-webhooks", POLL, self.run_once, self.store,
                              "webhook rounds")
        _LIVE.add(self)

    # -- the thread ------------------------------------------------------------

    @property
    def started(self) -> bool:
        return self._rounds.started

    def start(self) -> None:
        self._rounds.start()

    def stop(self) -> None:
        self._rounds.stop()

    def wake(self) -> None:
        self._rounds.wake()

    # -- rounds ----------------------------------------------------------------

    def run_once(self) -> Round:
        total = Round()
        for tenant in list((self.store.get(*INDEX) or {}).get("tenants", ())):
            result = self.run_tenant(tenant)
            total.delivered += result.delivered
            total.busy = total.busy or result.busy
        return total

    def run_tenant(self, tenant: str) -> Round:
        out = Round()
        hooks = self.store.list(tenant, KIND)
        if not hooks:
            self._unindex(tenant)
        for hid, _ in hooks:
            try:
                done, busy = self._pump(tenant, hid)
            except Exception:  # a vendor's headers or payload: logged, the others go on
                log.exception("webhook %s of tenant %s failed", hid, tenant)
                continue
            out.delivered += done
            out.busy = out.busy or busy
        return out

    def flush(self, tenant: str, timeout: float) -> dict[str, Any]:
        """Send what is due in ``tenant`` now, in this thread, and wait for what another
        thread or process is sending; ``done`` False if ``timeout`` real seconds ran
        out first."""
        deadline, delivered = time.monotonic() + timeout, 0
        while True:
            result = self.run_tenant(tenant)
            delivered += result.delivered
            if not result.busy and not result.delivered:
                return {"done": True, "delivered": delivered}
            if time.monotonic() >= deadline:
                return {"done": False, "delivered": delivered}
            if result.busy:
                self._rounds.wait(0.005)  # someone else holds a webhook: let it finish

    def _unindex(self, tenant: str) -> None:
        def remove(doc):
            names = (doc or {}).get("tenants", [])
            if tenant in names and not self.store.count(tenant, KIND):
                names = [n for n in names if n != tenant]
            return {"tenants": names}

        self.store.update(*INDEX, remove)

    # -- one webhook -----------------------------------------------------------

    def _pump(self, tenant: str, hid: str) -> tuple[int, bool]:
        """Deliver what is due for one webhook: (deliveries made, busy elsewhere)."""
        done = 0
        while True:
            doc = self.store.get(tenant, KIND, hid)
            if doc is None:
                return done, False
            if _leased(doc, real_time()):
                return done, True
            vendor = self.vendors.get(doc["vendor"])
            if vendor is None or vendor.push is None:
                return done, False   # a vendor this server does not mount (SQLite state)
            spec, now, t0 = vendor.push, Clock(self.store, tenant).now(), doc["cursor"]
            try:
                batch, t1 = self._due(tenant, doc, spec, now)
            except Exception:
                log.exception("the %s webhook source failed for %s", doc["vendor"], hid)
                return done, False
            if not batch:
                if now - t0 > IDLE_ADVANCE:
                    self._claim(tenant, hid, t0, now, set(), 0)
                return done, False
            token = secrets.token_hex(8)
            claimed = self._claim(tenant, hid, t0, t1, {i.n for i in batch if i.n}, len(batch),
                                  token)
            if claimed is None:
                self._rest.pop((tenant, hid), None)
                continue
            done += self._send(tenant, spec, claimed, batch, t0, token)

    def _due(self, tenant: str, doc: dict[str, Any], spec: PushSpec,
             now: float) -> tuple[list[Item], float]:
        """The next batch (at most about ``BATCH`` events) and the cursor after it."""
        t0 = doc["cursor"]
        events = self._events(tenant, doc, spec, t0, now) if now > t0 else []
        items = sorted([Item(q["at"], q["n"], q["payload"]) for q in doc["queue"]
                        if q["at"] <= now], key=lambda i: (i.at, i.n))
        if not events:
            return items, now
        items = sorted([*items, *(Item(at, 0, p) for at, p in events)],
                       key=lambda i: (i.at, i.n == 0))  # stable: the source's order kept
        if len(items) <= BATCH:
            return items, now
        end = BATCH
        while end < len(items) and items[end].at == items[end - 1].at:
            end += 1  # an instant is never split: the cursor stands on instants
        t1 = max(t0, items[end - 1].at)
        rest = [e for e in events if e[0] > t1]
        self._rest[(tenant, doc["id"])] = (t1, now, rest)
        return items[:end], t1

    def _events(self, tenant: str, doc: dict[str, Any], spec: PushSpec, t0: float,
                t1: float) -> list[Event]:
        if spec.source is None:
            return []
        cached = self._rest.pop((tenant, doc["id"]), None)
        hook = Webhook.from_doc(doc)
        if cached is not None and cached[0] == t0 and cached[1] <= t1:
            start, events = cached[1], cached[2]
        else:
            start, events = t0, []
        if t1 > start:
            fresh = list(spec.source(self.store, tenant, hook, start, t1))
            for event in fresh:
                if not (isinstance(event, tuple) and len(event) == 2
                        and isinstance(event[0], int | float) and isinstance(event[1], dict)):
                    raise TypeError(f"a webhook source gives (instant, dict) pairs, not "
                                    f"{event!r:.80}")
            events = events + [(float(at), p) for at, p in fresh if start < at <= t1]
        return events

    def _claim(self, tenant: str, hid: str, t0: float, t1: float, taken: set[int],
               count: int, token: str | None = None) -> dict[str, Any] | None:
        """Move the cursor from ``t0`` to ``t1``, take the queued pushes ``taken`` and
        the lease, atomically; None if someone else moved first."""
        won: list[dict[str, Any]] = []

        def apply(doc):
            won.clear()                  # (an update may run again)
            if doc is None or doc["cursor"] != t0 or _leased(doc, real_time()):
                return doc
            doc["cursor"] = max(t0, t1)
            if taken:
                doc["queue"] = [q for q in doc["queue"] if q["n"] not in taken]
            if token is not None:
                doc["lease"] = {"token": token, "until": real_time() + self._lease_time()}
                doc["seq"] += count
            won.append(doc)
            return doc

        self.store.update(tenant, KIND, hid, apply)
        return won[0] if won else None

    def _lease_time(self) -> float:
        """Real seconds a claim holds: longer than one delivery can take (each attempt
        may wait the timeout to connect, to send and to read), renewed every LEASE/3."""
        retries = max((v.push.retries for v in self.vendors.values() if v.push), default=0)
        return LEASE + self.settings.webhook_timeout * 3 * (retries + 1)

    def _send(self, tenant: str, spec: PushSpec, claimed: dict[str, Any],
              batch: list[Item], t0: float, token: str) -> int:
        hid = claimed["id"]
        first = claimed["seq"] - len(batch)
        counts = {"delivered": 0, "failed": 0, "skipped": 0}
        journal = Journal(self.store, tenant, self.settings.journal_size)
        sent = 0
        try:
            sent = self._send_items(tenant, spec, hid, batch, t0, token, first, counts,
                                    journal)
        finally:
            self._release(tenant, hid, token, counts)
        return sent

    def _send_items(self, tenant: str, spec: PushSpec, hid: str, batch: list[Item],
                    t0: float, token: str, first: int, counts: dict[str, int],
                    journal: Journal) -> int:
        renew_at, sent = real_time() + LEASE / 3, 0
        for i, item in enumerate(batch):
            if real_time() >= renew_at:
                doc = self._renew(tenant, hid, token)
                renew_at = real_time() + LEASE / 3
            else:
                doc = self.store.get(tenant, KIND, hid)
            if doc is None or (doc.get("lease") or {}).get("token") != token:
                break   # dropped (or lost): the rest of the batch is not sent
            when = max(item.at, t0)
            record: dict[str, Any] = {
                "webhook": hid, "vendor": doc["vendor"], "n": first + i + 1,
                "at": when, "push_type": item.payload.get("push_type"),
                "url": doc["url"], "payload": item.payload}
            if banned(doc, when):
                record.update(status="skipped", code=None, attempts=0, latency_ms=None,
                              error=f"banned until {doc['banned_until']}")
                counts["skipped"] += 1
            else:
                self.requests.wait()
                hook = Webhook.from_doc(doc)
                payload = item.payload if spec.render is None else spec.render(hook,
                                                                               item.payload)
                record["payload"] = payload
                body = orjson.dumps(payload)
                headers = [("Content-Type", "application/json"),
                           ("User-Agent", USER_AGENT)]
                if spec.headers is not None:
                    headers += list(spec.headers(self.store, tenant, hook, body))
                outcome, attempts = self._attempts(doc["url"], body, headers, spec.retries)
                record.update(status="delivered" if outcome.ok else "failed",
                              code=outcome.code, attempts=attempts,
                              latency_ms=round(outcome.latency_ms, 3), error=outcome.error)
                if outcome.ok:
                    counts["delivered"] += 1
                    if self.on_delivered is not None:
                        self.on_delivered(tenant)
                else:
                    counts["failed"] += 1
                    self._failed(tenant, hid, when, spec)
                journal.record(_journal_entry(doc, tenant, when, body, headers, outcome,
                                              self.settings.journal_bodies, record))
            self.store.ring_append(tenant, DELIVERIES, record,
                                   max(1, self.settings.webhook_history))
            sent += 1
        return sent

    def _renew(self, tenant: str, hid: str, token: str) -> dict[str, Any] | None:
        def apply(doc):
            if doc is not None and (doc.get("lease") or {}).get("token") == token:
                doc["lease"]["until"] = real_time() + self._lease_time()
            return doc

        return self.store.update(tenant, KIND, hid, apply)

    def _release(self, tenant: str, hid: str, token: str, counts: dict[str, int]) -> None:
        def apply(doc):
            if doc is not None and (doc.get("lease") or {}).get("token") == token:
                doc["lease"] = None
                for k, v in counts.items():
                    doc["counts"][k] += v
            return doc

        self.store.update(tenant, KIND, hid, apply)

    def _failed(self, tenant: str, hid: str, when: float, spec: PushSpec) -> None:
        """Count a failure at ``when``; the ``max_failures``-th within the window bans."""
        def apply(doc):
            if doc is None:
                return None
            recent = [f for f in doc["failures"] if when - f < spec.failure_window]
            recent.append(when)
            if len(recent) >= spec.max_failures:
                doc.update(banned_until=when + spec.ban, bans=doc["bans"] + 1, failures=[])
            else:
                doc["failures"] = recent
            return doc

        self.store.update(tenant, KIND, hid, apply)

    # -- HTTP ------------------------------------------------------------------

    def _attempts(self, url: str, body: bytes, headers: list[tuple[str, str]],
                  retries: int) -> tuple[Outcome, int]:
        attempts = 0
        while True:
            attempts += 1
            outcome = self._post(url, body, headers)
            if outcome.ok or attempts > retries:
                return outcome, attempts

    def _post(self, url: str, body: bytes, headers: list[tuple[str, str]]) -> Outcome:
        """One POST, on a kept-alive connection of this thread when there is one (a
        connection the receiver closed meanwhile is opened again, once, unseen)."""
        parts = urlsplit(url)
        key = (parts.scheme, parts.netloc)
        path = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
        pool: dict[tuple[str, str], http.client.HTTPConnection] = self._pool()
        started = time.perf_counter()
        for fresh in (False, True):
            conn = pool.pop(key, None) if not fresh else None
            reused = conn is not None
            if conn is None:
                conn = self._connect(parts)
            try:
                conn.request("POST", path, body, dict(headers))
                resp = conn.getresponse()
                data = resp.read(MAX_RESPONSE)
            except (http.client.RemoteDisconnected, ConnectionResetError,
                    BrokenPipeError) as exc:
                conn.close()
                if reused:
                    continue  # the receiver closed a kept-alive connection: open another
                return _no_reply(started, exc)
            except (OSError, http.client.HTTPException, ValueError) as exc:
                conn.close()
                return _no_reply(started, exc)
            if resp.will_close or len(data) >= MAX_RESPONSE:
                conn.close()
            else:
                pool[key] = conn
            return Outcome(resp.status, resp.reason, resp.getheaders(), data,
                           (time.perf_counter() - started) * 1000, None if 200 <= resp.status
                           < 300 else f"HTTP {resp.status}")
        raise AssertionError("unreachable")  # pragma: no cover

    def _pool(self) -> dict[tuple[str, str], http.client.HTTPConnection]:
        pool = getattr(self._local, "pool", None)
        if pool is None:
            pool = self._local.pool = {}
        return pool

    def _connect(self, parts: Any) -> http.client.HTTPConnection:
        timeout = self.settings.webhook_timeout
        if parts.scheme == "https":
            return http.client.HTTPSConnection(parts.hostname, parts.port, timeout=timeout)
        return http.client.HTTPConnection(parts.hostname, parts.port, timeout=timeout)


def _no_reply(started: float, exc: BaseException) -> Outcome:
    if isinstance(exc, TimeoutError | socket.timeout):
        error = "timed out"
    else:
        error = f"{type(exc).__name__}: {exc}"[:300]
    return Outcome(None, error, [], b"", (time.perf_counter() - started) * 1000, error)


def _journal_entry(doc: dict[str, Any], tenant: str, when: float, body: bytes,
                   headers: list[tuple[str, str]], outcome: Outcome, max_body: int,
                   record: dict[str, Any]) -> tuple:
    parts = urlsplit(doc["url"])
    status = f"{outcome.code} {outcome.reason}" if outcome.code is not None \
        else f"0 no reply: {outcome.error}"
    note = f"webhook {doc['id']} delivery {record['n']}: {record['status']}"
    if record["attempts"] > 1:
        note += f" after {record['attempts']} attempts"
    return exchange(when, doc["vendor"], tenant, outcome.latency_ms, doc["client_id"], note,
                    "POST", parts.path or "/", doc["url"], headers, status, outcome.headers,
                    body, outcome.body, max_body, OUTBOUND)
