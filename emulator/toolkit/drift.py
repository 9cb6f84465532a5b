"""``mockcloud drift CASSETTE|SAMPLES... [--against URL] [--format table|json]``: does the
emulator still behave like the cloud?

Each recorded exchange (vcrpy cassettes: the seed cassettes, ``mockcloud record``'s, the
journal's ``/_mockcloud/journal/cassette``; sample folders with a ``manifest.json``) is
asked again of the emulator, in a fresh tenant of its own (``/_t/drift-<random>/``):

* ids: recorded ids mapped to the world's (:mod:`.drift_ids`), in the path, the query,
  form and JSON bodies;
* credentials: an ``Authorization`` header or ``access_token`` parameter of the recording
  is replaced by a token the emulator issues (``POST /_mockcloud/tokens``) to the
  vendor's CI app of the world (``<vendor>-ci``, else the first app), for its owner (or
  auto-approve user, else the first user), with every scope of the app; token requests
  are made with that app's credentials and a fresh refresh token;
* samples (an endpoint and an answer only): the request is derived (:mod:`.drift_calls`);
  what cannot be asked meaningfully is skipped, with the reason in the report.

Per endpoint (the contracts' operation, e.g. ``GET /v4/devices/{deviceId}``) the report
says: status equal or not, recorded key paths present, missing and extra, leaf types that
differ, and values that differ for the vendor's static keys (:mod:`.drift_compare`).
Exit 1 past the threshold (``--fail-on``, default ``missing,type``), 0 when clean, 2 on
usage errors (an unreadable file, a server that does not answer).

Against a running mockcloud: ``--against URL`` (``--admin-token`` for its control plane);
otherwise drift starts one (``mockcloud serve``, in memory, ``--world FILE`` if given).
"""

from __future__ import annotations

import argparse
import json
import sys
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import requests

from contracts._catalogue import KNOWN_HOSTS, ContractError, load_catalogue
from contracts._sources import Exchange, NotJSON, Problem, parse_json, read_path

from ..testing import Admin, AdminError, ServerError, ServerProcess
from .drift_calls import (
    Call,
    Skip,
    from_cassette,
    netatmo_sample,
    qivivo_sample,
    vendor_path,
)
from .drift_compare import NEEDS_DEVICE, STATIC, WORLD_GIVEN, Comparison
from .drift_ids import IdMap

CHECKS = ("missing", "type", "status", "value")
DEFAULT_FAIL_ON = "missing,type"
# the emulator's answers whose entities give the world's ids, per vendor
LISTS = {
    "lightify": ("/v4/devices/", "/v4/groups/", "/v4/scenes/"),
    "netatmo": ("/api/homesdata", "/api/getstationsdata", "/api/gethomecoachsdata",
                "/api/gethomedata"),
    "qivivo": ("/api/v2/devices",),
}


class UsageError(Exception):
    """Bad input or an emulator that cannot be used: exit 2 with this message."""


@dataclass
class Context:
    admin: Admin
    http: requests.Session
    apps: dict[str, dict[str, Any]] = field(default_factory=dict)
    users: dict[str, str] = field(default_factory=dict)  # the app's user, per vendor
    # per vendor: (login, the id-like strings of the user's part of the world)
    world_users: dict[str, list[tuple[str, set[str]]]] = field(default_factory=dict)
    tokens: dict[tuple[str, str, str | None], str] = field(default_factory=dict)
    ids: dict[str, IdMap] = field(default_factory=dict)
    emulator_docs: dict[tuple[str, str], list[Any]] = field(default_factory=dict)
    now: float = 0.0

    # ---- credentials -------------------------------------------------------------------
    def pick_app(self, vendor: str, world: dict[str, Any]) -> None:
        section = world.get(vendor) or {}
        apps = section.get("apps") or []
        users = section.get("users") or []
        if not apps or not users:
            raise UsageError(f"the emulator's world has no {vendor} app or user to replay as")
        app = next((a for a in apps if a.get("client_id") == f"{vendor}-ci"), apps[0])
        self.apps[vendor] = app
        self.users[vendor] = (app.get("owner") or app.get("auto_approve_user")
                              or login(users[0]))
        self.world_users[vendor] = [(login(u), id_strings(u)) for u in users if login(u)]

    def owner(self, vendor: str, *recorded: Any) -> str:
        """The world's user whose part of the world names most of the recorded ids (a
        world built from the recording keeps them), else the app's user."""
        seen: set[str] = set()
        for doc in recorded:
            seen |= id_strings(doc)
        best, score = self.users[vendor], 0
        for name, ids in self.world_users.get(vendor, []):
            if len(ids & seen) > score:
                best, score = name, len(ids & seen)
        return best

    def fresh_pair(self, vendor: str, scope: str | None = None,
                   user: str | None = None) -> dict[str, Any]:
        app = self.apps[vendor]
        if scope is None and app.get("scopes"):
            scope = " ".join(app["scopes"])
        return self.admin.issue_token(vendor, app["client_id"], user or self.users[vendor],
                                      scope)

    def token(self, vendor: str, user: str | None = None, scope: str | None = None) -> str:
        key = (vendor, user or self.users[vendor], scope)
        if key not in self.tokens:
            self.tokens[key] = self.fresh_pair(vendor, scope, key[1])["access_token"]
        return self.tokens[key]

    # ---- the world as the emulator shows it ----------------------------------------------
    def lists(self, vendor: str, user: str) -> list[Any]:
        """The emulator's list answers (:data:`LISTS`) for a user."""
        key = (vendor, user)
        if key not in self.emulator_docs:
            docs = []
            for path in LISTS.get(vendor, ()):
                status, body = self.send(vendor, Call("GET", path, user=user))
                if status == 200:
                    docs.append(body)
            self.emulator_docs[key] = docs
        return self.emulator_docs[key]

    def homes(self, user: str) -> list[dict[str, Any]]:
        return [home for doc in self.lists("netatmo", user)
                for home in (((doc or {}).get("body") or {}).get("homes") or [])
                if isinstance(home, dict)]

    def module(self, module_id: str, user: str) -> dict[str, Any] | None:
        for home in self.homes(user):
            for mod in home.get("modules") or []:
                if mod.get("id") == module_id:
                    return mod
        return None

    def home_of(self, module_id: str | None, user: str) -> str | None:
        for home in self.homes(user):
            if any(m.get("id") == module_id for m in home.get("modules") or []):
                return home.get("id")
        return None

    def first_event(self, user: str) -> tuple[str, str] | None:
        for home in self.homes(user):
            events = home.get("events") or []
            if events and home.get("id") and events[-1].get("id"):
                return home["id"], events[-1]["id"]
        return None

    # ---- one request ---------------------------------------------------------------------
    def send(self, vendor: str, call: Call) -> tuple[int, Any]:
        headers: dict[str, str] = {}
        query = list(call.query)
        form = list(call.form) if call.form is not None else None
        if call.auth != "none":
            token = self.token(vendor, call.user, call.scope)
            if call.auth == "param":
                (form if form is not None else query).append(("access_token", token))
            else:
                headers["Authorization"] = f"Bearer {token}"
        kwargs: dict[str, Any] = {}
        if call.json_body is not None:
            kwargs["json"] = call.json_body
        elif form is not None:
            kwargs["data"] = form
        elif call.raw is not None:
            kwargs["data"] = call.raw.encode()
            if call.content_type:
                headers["Content-Type"] = call.content_type
        url = self.admin.url(vendor) + call.path
        resp = self.http.request(call.method, url, params=query, headers=headers,
                                 timeout=60, allow_redirects=False, **kwargs)
        return resp.status_code, answer_body(resp.text)


def login(user: dict[str, Any]) -> str:
    return str(user.get("email") or user.get("login") or user.get("id") or "")


HEX_ID = frozenset("0123456789abcdef:-")


def id_strings(doc: Any, found: set[str] | None = None) -> set[str]:
    """Every string of a document that looks like an id (8+ characters, no space, a
    digit or only hex digits and separators: aa:aa:aa:aa:aa:aa)."""
    found = set() if found is None else found
    if isinstance(doc, dict):
        for value in doc.values():
            id_strings(value, found)
    elif isinstance(doc, list):
        for value in doc:
            id_strings(value, found)
    elif isinstance(doc, str) and len(doc) >= 8 and " " not in doc and (
            any(c.isdigit() for c in doc) or set(doc) <= HEX_ID):
        found.add(doc)
    return found


def answer_body(text: str) -> Any:
    if not text:
        return None
    try:
        return parse_json(text)
    except NotJSON:
        return text


# ---- the report ---------------------------------------------------------------------------
@dataclass
class Endpoint:
    vendor: str
    name: str
    comparison: Comparison
    replayed: int = 0
    status_equal: bool = True
    skipped: dict[str, None] = field(default_factory=dict)
    statuses: dict[tuple[int | None, int], str] = field(default_factory=dict)  # -> source

    def as_dict(self) -> dict[str, Any]:
        present, missing, extra = self.comparison.paths()
        skipped = {**self.skipped, **self.comparison.skipped,
                   **dict.fromkeys(self.comparison.world_gaps())}
        return {"vendor": self.vendor, "endpoint": self.name, "replayed": self.replayed,
                "skipped": list(skipped), "status_equal": self.status_equal,
                "statuses": [{"recorded": r, "emulator": e, "first": source}
                             for (r, e), source in self.statuses.items()],
                "present": present, "missing": missing, "extra": extra,
                "missing_in": {p: self.comparison.seen_in.get(p, "") for p in missing},
                "type_diffs": self.comparison.type_diffs(),
                "value_diffs": self.comparison.value_diffs()}


def verdict(endpoints: list[dict[str, Any]], fail_on: set[str]) -> bool:
    for ep in endpoints:
        if ("missing" in fail_on and ep["missing"]) or ("type" in fail_on and ep["type_diffs"]):
            return True
        if ("status" in fail_on and not ep["status_equal"]) or \
                ("value" in fail_on and ep["value_diffs"]):
            return True
    return False


def render_table(report: dict[str, Any]) -> str:
    head = ("vendor", "endpoint", "replayed", "skipped", "status", "present", "missing",
            "extra", "types", "values")
    rows = [head]
    for ep in report["endpoints"]:
        rows.append((ep["vendor"], ep["endpoint"], str(ep["replayed"]), str(len(ep["skipped"])),
                     "eq" if ep["status_equal"] else "DIFF", str(len(ep["present"])),
                     str(len(ep["missing"])), str(len(ep["extra"])),
                     str(len(ep["type_diffs"])), str(len(ep["value_diffs"]))))
    widths = [max(len(r[i]) for r in rows) for i in range(len(head))]
    lines = ["  ".join(c.ljust(w) for c, w in zip(r, widths, strict=True)).rstrip()
             for r in rows]
    for ep in report["endpoints"]:
        name = f"{ep['vendor']} {ep['endpoint']}"
        if not ep["status_equal"]:
            lines.append(f"{name}: status " + ", ".join(
                f"{s['recorded']} recorded, {s['emulator']} emulator (first in {s['first']})"
                for s in ep["statuses"] if s["recorded"] not in (None, s["emulator"])))
        lines += [f"{name}: missing {p} (recorded in {ep['missing_in'][p]})"
                  for p in ep["missing"]]
        lines += [f"{name}: type of {d['path']}: recorded {'|'.join(d['recorded'])}, "
                  f"emulator {'|'.join(d['emulator'])}" for d in ep["type_diffs"]]
        lines += [f"{name}: value of {d['path']}: recorded {d['recorded']}, emulator "
                  f"{d['emulator']}" for d in ep["value_diffs"]]
        lines += [f"{name}: skipped: {r}" for r in ep["skipped"]]
    state = "FAILED" if report["failed"] else "clean"
    lines.append(f"drift: {state} (threshold: {report['threshold']}; "
                 f"{sum(e['replayed'] for e in report['endpoints'])} exchanges replayed)")
    return "\n".join(lines)


# ---- the run ------------------------------------------------------------------------------
def read_inputs(paths: list[str]) -> list[Exchange]:
    exchanges: list[Exchange] = []
    problems: list[Problem] = []
    for name in paths:
        found, trouble = read_path(Path(name))
        exchanges += found
        problems += trouble
    if problems:
        raise UsageError("\n".join(f"{p.source}: {p.message}" for p in problems))
    if not exchanges:
        raise UsageError("nothing to replay in " + ", ".join(paths))
    return exchanges


def vendor_of(ex: Exchange) -> tuple[str | None, str, str]:
    vendor, path, query = vendor_path(ex.url, KNOWN_HOSTS)
    return ex.vendor or vendor, path, query


def recorded_json(ex: Exchange) -> Any:
    try:
        return parse_json(ex.body)
    except NotJSON:
        return ex.body


def prepare(ctx: Context, exchanges: list[Exchange]) -> dict[int, str]:
    """Apps, users and id maps of every vendor recorded; answers each exchange's user."""
    vendors = sorted({v for ex in exchanges if (v := vendor_of(ex)[0])})
    world = ctx.admin.export_world()
    ctx.now = ctx.admin.now()
    owners: dict[int, str] = {}
    for vendor in vendors:
        ctx.pick_app(vendor, world)
        mine = [(i, ex) for i, ex in enumerate(exchanges) if vendor_of(ex)[0] == vendor]
        for i, ex in mine:
            owners[i] = ctx.owner(vendor, recorded_json(ex), ex.url.split("/"))
        users = [ctx.users[vendor]] + sorted({owners[i] for i, _ in mine} - {ctx.users[vendor]})
        docs = [doc for user in users for doc in ctx.lists(vendor, user)]
        recorded = [recorded_json(ex) for _, ex in mine if ex.kind == "response"]
        known = {i for _, ids in ctx.world_users[vendor] for i in ids}
        ctx.ids[vendor] = IdMap.build(recorded, docs, known)
    return owners


def endpoint_name(catalogue: Any, vendor: str, method: str, path: str) -> str:
    try:
        op = catalogue.find(vendor, method, path)
        return f"{op.method} {op.path}"
    except ContractError:
        return f"{method} {path}"


def run(ctx: Context, exchanges: list[Exchange], ignore: tuple[str, ...] = ()
        ) -> list[dict[str, Any]]:
    owners = prepare(ctx, exchanges)
    catalogue = load_catalogue()
    endpoints: dict[tuple[str, str], Endpoint] = {}
    bodies = {((ex.method or "GET").upper(), vendor_of(ex)[1]): ex.body
              for ex in exchanges if ex.kind == "request"}
    answered = {((ex.method or "GET").upper(), vendor_of(ex)[1])
                for ex in exchanges if ex.kind != "request"}
    for i, ex in enumerate(exchanges):
        vendor, path, query = vendor_of(ex)
        if ex.kind == "request" and ("#" in ex.source or
                                     ((ex.method or "GET").upper(), path) in answered):
            continue  # a request body: sent with the recorded answer of the same call
        if vendor is None or vendor not in ctx.ids:
            raise UsageError(f"{ex.source}: {ex.url} is no vendor's (host or /<vendor> prefix)")
        call: Call | Skip
        user = owners[i]
        if "#" in ex.source:
            call = from_cassette(ex, vendor, path, query, ctx)
        elif vendor == "netatmo":
            call = netatmo_sample(ex, path, ctx, user)
        elif vendor == "qivivo":
            call = qivivo_sample(ex, path, ctx, bodies)
        else:
            call = Skip(f"no way to derive the request of a {vendor} sample")
        if isinstance(call, Call) and call.user is None:
            call.user = user
        method = call.method if isinstance(call, Call) else (ex.method or "GET").upper()
        name = endpoint_name(catalogue, vendor, method, path)
        key = (vendor, name)
        if key not in endpoints:
            ids = ctx.ids[vendor]
            endpoints[key] = Endpoint(vendor, name, Comparison(
                static=STATIC.get(vendor, frozenset()), back=ids.back,
                recorded=frozenset(ids.recorded), unpaired=ids.unpaired,
                world_given=WORLD_GIVEN.get(vendor, frozenset()),
                needs_device=NEEDS_DEVICE.get(vendor, {}), ignore=ignore))
        ep = endpoints[key]
        if isinstance(call, Skip):
            ep.skipped[f"{ex.source}: {call.reason}"] = None
            continue
        status, body = replay_one(ctx, vendor, call)
        ep.replayed += 1
        ep.statuses.setdefault((ex.status, status), ex.source)
        if ex.status is not None and ex.status != status:
            ep.status_equal = False
        ep.comparison.source = ex.source
        ep.comparison.pair(recorded_json(ex), body, "")
    return [ep.as_dict() for ep in endpoints.values()]


def replay_one(ctx: Context, vendor: str, call: Call) -> tuple[int, Any]:
    """One call, with the device overrides it needs in force around it; a call made
    with the quota spent runs under a quota of one call an hour per client (the
    tenant's quota config put back after)."""
    for device, changes in call.overrides:
        ctx.admin.override_device(vendor, device, **changes)
    saved = ctx.admin.quotas()["config"].get(vendor) if call.exhaust_quota else None
    try:
        if saved is None:
            return ctx.send(vendor, call)
        ctx.admin.set_quotas(vendor, [{"name": f"drift-{uuid.uuid4().hex[:8]}",
                                       "key": "client", "limit": 1, "window": 3600}])
        status, body = ctx.send(vendor, call)
        return (status, body) if status == 429 else ctx.send(vendor, call)
    finally:
        for device, _ in call.overrides:
            ctx.admin.override_device(vendor, device, clear=True)
        if saved is not None:
            ctx.admin.set_quotas(vendor, saved.get("rules") or [], saved.get("status"),
                                 bool(saved.get("enabled", True)))


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="mockcloud drift",
        description="Replay recorded exchanges (vcrpy cassettes, sample folders with a "
                    "manifest.json) against the emulator and report, per endpoint, how its "
                    "answers differ from the recorded ones.")
    p.add_argument("paths", nargs="+", metavar="CASSETTE", help="cassette files, folders of "
                   "cassettes, sample folders (manifest.json) or manifest files")
    p.add_argument("--against", metavar="URL", help="a running mockcloud (default: start one)")
    p.add_argument("--admin-token", help="the control plane's token of --against")
    p.add_argument("--world", metavar="FILE", help="world file: the started emulator's, or "
                   "loaded into drift's tenant of --against")
    p.add_argument("--format", choices=("table", "json"), default="table")
    p.add_argument("--report", metavar="FILE.json", help="also write the JSON report there")
    p.add_argument("--fail-on", default=DEFAULT_FAIL_ON,
                   help=f"comma-separated of {', '.join(CHECKS)}, or none "
                        f"(default {DEFAULT_FAIL_ON})")
    p.add_argument("--ignore", action="append", default=[], metavar="PATH",
                   help="a key path not compared (* matches any text, e.g. "
                        "'body.homes[].modules[].power'): known drift accepted for now; "
                        "listed as skipped")
    p.add_argument("--tenant", help="tenant to replay in (default: a fresh drift-<random>)")
    return p


def parse_fail_on(text: str) -> set[str]:
    wanted = {w.strip() for w in text.split(",") if w.strip()} - {"none"}
    unknown = wanted - set(CHECKS)
    if unknown:
        raise UsageError(f"--fail-on: unknown {', '.join(sorted(unknown))} "
                         f"(choose from {', '.join(CHECKS)}, or none)")
    return wanted


def replay(args: argparse.Namespace, exchanges: list[Exchange], fail_on: set[str]
           ) -> dict[str, Any]:
    tenant = args.tenant or f"drift-{uuid.uuid4().hex[:10]}"
    server = None
    try:
        if args.against:
            base, token = args.against, args.admin_token
        else:
            extra = ["--world", args.world] if args.world else []
            server = ServerProcess("--state", "memory", *extra, timeout=120).start()
            base, token = server.url, server.admin_token
        http = requests.Session()
        http.verify = False
        admin = Admin(base, tenant, session=http, token=token)
        if args.against and args.world:
            admin.load_world(Path(args.world).read_text(encoding="utf-8"))
        endpoints = run(Context(admin, http), exchanges, tuple(args.ignore))
    except (AdminError, ServerError, requests.RequestException, OSError) as exc:
        raise UsageError(f"the emulator could not be used: {exc}") from exc
    finally:
        if server is not None:
            server.stop()
    return {"failed": verdict(endpoints, fail_on),
            "threshold": ",".join(c for c in CHECKS if c in fail_on) or "none",
            "tenant": tenant, "endpoints": endpoints}


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        fail_on = parse_fail_on(args.fail_on)
        if args.world and not Path(args.world).is_file():
            raise UsageError(f"--world {args.world}: no such file")
        report = replay(args, read_inputs(args.paths), fail_on)
    except UsageError as exc:
        print(f"mockcloud drift: {exc}", file=sys.stderr)
        return 2
    if args.report:
        try:
            Path(args.report).write_text(json.dumps(report, indent=1) + "\n", encoding="utf-8")
        except OSError as exc:
            print(f"mockcloud drift: --report {args.report}: {exc}", file=sys.stderr)
            return 2
    if args.format == "json":
        print(json.dumps(report, indent=1))
    else:
        print(render_table(report))
    return 1 if report["failed"] else 0


if __name__ == "__main__":
    sys.exit(main())
