"""``mockcloud world from-cassette CASSETTE… -o world.yaml``: your home, emulated.

Reads vcrpy cassettes (the Lightify seed cassettes, ``/_mockcloud/journal/cassette``
exports, ``mockcloud record`` output, scrubbed or not) and sample folders with a
``manifest.json`` (``contracts/_sources.py`` reads both), keeps the successful answers
(status 2xx, or a manifest's ``kind: response``), works out each one's vendor (the
manifest's, else the host, else the ``/_t/<tenant>`` and vendor prefix of the path, else
the one vendor whose contract has that path) and
hands every vendor its reads through its ``Vendor.from_reads`` hook, which returns its
users (homes, rooms, modules, schedules, stations, lights, groups, scenes... as the
world format says them, recorded ids kept) and what the world cannot say.

The world written:

* ``seed: 0`` and, per vendor with reads, ``apps`` (the default world's, so the CI
  apps ``lightify-ci``, ``netatmo-ci``, ``qivivo-ci`` issue tokens as usual; their
  ``auto_approve_user`` and ``owner`` become the vendor's first built user: the one
  most reads belong to) and ``users``;
* every user's password is ``--password`` (default ``mockcloud``, printed);
* a header comment listing the sources, the known gaps (fields recorded that the
  world cannot express or the emulator never emits, conflicting recordings) and the
  sources not used (writes, errors, endpoints the vendor cannot build from).

``--report FILE.json`` writes the same as JSON: ``{"world": path, "password",
"vendors": {name: {"users": [logins], "replay": {source: {"user", "params"}},
"gaps": [...], "ignored": [...]}}, "problems": [...]}``; ``replay`` names, for every
read used, the user whose world answers it and the parameters a replay needs that a
sample may lack (a Netatmo homestatus sample's ``home_id``). The command checks the
world it built (as ``mockcloud world check``) before writing it.

Exit status: 0 written; 1 nothing usable in the inputs, or the built world does not
check (a bug: reported with the world's own message); 2 usage errors and unreadable
inputs (a clear message, no traceback).
"""

from __future__ import annotations

import argparse
import copy
import json
import re
import sys
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, urlsplit

import yaml

from contracts._sources import Exchange, parse_json, read_path

from ..core import world as core_world
from ..core.reads import FromReads, Read
from ..core.vendor import Vendor

DEFAULT_PASSWORD = "mockcloud"
MAX_REPAIRS = 500
TOKEN = re.compile(r"\.([A-Za-z_][\w-]*)|\[(\d+)\]")


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="mockcloud world from-cassette",
        description="Build a world (users, homes, rooms, modules, schedules, lights, "
                    "groups, scenes, stations) from recorded reads of any vendor.")
    p.add_argument("sources", nargs="+", metavar="CASSETTE",
                   help="vcrpy cassettes (YAML/JSON), folders of them, or sample folders "
                        "with a manifest.json")
    p.add_argument("-o", "--output", default="-",
                   help="the world file to write (default: standard output)")
    p.add_argument("--password", default=DEFAULT_PASSWORD,
                   help=f"every built user's password (default: {DEFAULT_PASSWORD})")
    p.add_argument("--report", metavar="FILE.json",
                   help="also write what was built, the gaps and how to replay, as JSON")
    return p


def vendors() -> tuple[Vendor, ...]:
    from ..app import VENDORS

    return VENDORS


def vendor_path(exchange: Exchange, known: tuple[Vendor, ...]
                ) -> tuple[Vendor | None, str, dict[str, str]]:
    """The vendor of an exchange, its path as the vendor names it, and its query."""
    parts = urlsplit(exchange.url)
    path = parts.path or "/"
    if path.startswith("/_t/"):
        path = "/" + path.split("/", 3)[3] if path.count("/") >= 3 else "/"
    found = next((v for v in known if v.name == exchange.vendor), None)
    host = (parts.hostname or "").lower()
    found = found or next((v for v in known if host in v.hosts), None)
    for v in known:
        if path == v.prefix or path.startswith(v.prefix + "/"):
            found = found or v
            if found is v:
                path = path[len(v.prefix):] or "/"
            break
    if found is None:   # a bare path: the vendor whose contract has it (if one only)
        found = contract_vendor(exchange.method, path, known)
    if found is not None and found.collapse_slashes:
        while "//" in path:
            path = path.replace("//", "/")
    return found, path, dict(parse_qsl(parts.query))


def contract_vendor(method: str | None, path: str, known: tuple[Vendor, ...]
                    ) -> Vendor | None:
    from contracts._catalogue import ContractError, EndpointNotFound
    from contracts.verify import find_operation

    owners = set()
    for vendor in known:
        try:
            owners.add(find_operation(vendor.name, method or "GET", path).vendor)
        except (EndpointNotFound, ContractError):
            continue
    return next((v for v in known if owners == {v.name}), None)


def to_read(exchange: Exchange, path: str, query: dict[str, str]) -> Read:
    try:
        body = parse_json(exchange.body) if exchange.body is not None else None
    except ValueError:
        body = exchange.body
    return Read(exchange.source, (exchange.method or "GET").upper(), path, query,
                exchange.status, body)


def collect(exchanges: list[Exchange], known: tuple[Vendor, ...]
            ) -> tuple[dict[str, list[Read]], list[str]]:
    """Successful answers per vendor name; what was left out and why."""
    per: dict[str, list[Read]] = {}
    left: list[str] = []
    for ex in exchanges:
        if ex.kind != "response":
            if ex.kind != "request":   # a request body is the write's, not a read
                left.append(f"{ex.source}: an error answer, not a read of the world")
            continue
        if ex.status is not None and not 200 <= ex.status < 300:
            left.append(f"{ex.source}: HTTP {ex.status}, not a read of the world")
            continue
        vendor, path, query = vendor_path(ex, known)
        if vendor is None:
            left.append(f"{ex.source}: {ex.url}: no vendor of this emulator")
            continue
        per.setdefault(vendor.name, []).append(to_read(ex, path, query))
    return per, left


def section_apps(vendor: Vendor, first: str) -> list[dict[str, Any]]:
    """The default world's apps of the vendor, approving (and owned) as ``first``."""
    from ..settings import DEFAULT_WORLD

    base = core_world.read_file(DEFAULT_WORLD).get(vendor.name) or {}
    apps = copy.deepcopy(base.get("apps", []))
    for app in apps:
        for key in ("auto_approve_user", "owner"):
            if key in app:
                if isinstance(app.get("name"), str):
                    app["name"] = app["name"].replace(app[key], first)
                app[key] = first
    return apps


def build_world(per: dict[str, list[Read]], known: tuple[Vendor, ...], password: str
                ) -> tuple[dict[str, Any], dict[str, FromReads], list[str]]:
    world: dict[str, Any] = {"seed": 0}
    results: dict[str, FromReads] = {}
    left: list[str] = []
    for vendor in known:
        reads = per.get(vendor.name)
        if not reads:
            continue
        if vendor.from_reads is None:
            left += [f"{r.source}: {vendor.name} cannot build a world from reads"
                     for r in reads]
            continue
        result = vendor.from_reads(reads)
        results[vendor.name] = result
        if not result.users:
            continue
        for user in result.users:
            user["password"] = password
        first = result.users[0].get("login") or result.users[0]["email"]
        world[vendor.name] = {"apps": section_apps(vendor, first), "users": result.users}
    return world, results, left


def check(world: dict[str, Any], known: tuple[Vendor, ...],
          results: dict[str, FromReads]) -> list[Any]:
    """Build the world as ``world check`` does; where it refuses an entry its message
    names (``netatmo.users[0].homes[1].altitude ...``), leave that entry out -- an item
    rather than its id: ids are never invented -- report it as a gap and try again.
    Raises WorldError when a refusal names no entry (a bug of a vendor's from_reads)."""
    vendors_by_name = {v.name: v for v in known}
    where = re.compile(r"\b(" + "|".join(map(re.escape, vendors_by_name))
                       + r")\.users\[(\d+)\]((?:\.[A-Za-z_][\w-]*|\[\d+\])*)")
    tries: dict[str, int] = {}
    for _ in range(MAX_REPAIRS):
        try:
            return core_world.build(world, vendors_by_name, 0)
        except core_world.WorldError as exc:
            found = where.search(str(exc))
            if found is None:
                raise
            vendor, index = found.group(1), int(found.group(2))
            tokens: list[str | int] = [name or int(i) for name, i in
                                       TOKEN.findall(found.group(3))]
            tries[found.group(0)] = tries.get(found.group(0), 0) + 1
            tokens = tokens[:max(0, len(tokens) - tries[found.group(0)] + 1)]
            while tokens and tokens[-1] in ("id", "uuid", "_id"):
                tokens.pop()
            users = world[vendor]["users"]
            results[vendor].gap(f"{exc}: left out of the world")
            if not tokens:
                users.pop(index)
                continue
            node: Any = users[index]
            for token in tokens[:-1]:
                node = node[token]
            node.pop(tokens[-1])
    raise core_world.WorldError(f"more than {MAX_REPAIRS} entries refused")


def header(sources: list[str], results: dict[str, FromReads], left: list[str],
           password: str) -> str:
    lines = ["generated by: mockcloud world from-cassette " + " ".join(sources),
             f"every user's password: {password}"]
    for name, result in results.items():
        logins = [u.get("login") or u["email"] for u in result.users]
        lines.append(f"{name}: users {', '.join(logins) or 'none'}")
        lines += [f"  known gap: {g}" for g in result.gaps]
        lines += [f"  not used: {i}" for i in result.ignored]
    lines += [f"not used: {i}" for i in left]
    return "".join(f"# {line}\n" for line in lines)


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    try:
        args = parser.parse_args(argv)
    except SystemExit as exc:
        return int(exc.code or 0)
    exchanges, problems = [], []
    for src in args.sources:
        found, trouble = read_path(Path(src))
        exchanges += found
        problems += [f"{p.source}: {p.message}" for p in trouble]
    for p in problems:
        print(f"from-cassette: {p}", file=sys.stderr)
    if problems and not exchanges:
        return 2
    known = vendors()
    per, left = collect(exchanges, known)
    world, results, more = build_world(per, known, args.password)
    left += more
    if not any(name in world for name in (v.name for v in known)):
        print("from-cassette: no successful read of a known vendor in the inputs"
              + "".join(f"\n  {line}" for line in left), file=sys.stderr)
        return 1
    try:
        rows = check(world, known, results)
    except (core_world.WorldError, LookupError, TypeError) as exc:
        print(f"from-cassette: the built world does not check (a bug): {exc}",
              file=sys.stderr)
        return 1
    text = header(args.sources, results, left, args.password) + yaml.safe_dump(
        world, sort_keys=False, allow_unicode=True, width=100)
    if args.output == "-":
        sys.stdout.write(text)
    elif not write(args.output, text):
        return 2
    summary = [f"world: {args.output} ({len(rows)} documents); password of every user: "
               f"{args.password}"]
    for name, result in results.items():
        summary.append(f"{name}: {len(result.users)} user(s), {len(result.replay)} reads "
                       f"used, {len(result.gaps)} known gap(s), {len(result.ignored)} "
                       "not used")
        summary += [f"  known gap: {g}" for g in result.gaps]
    print("\n".join(summary), file=sys.stderr if args.output == "-" else sys.stdout)
    if args.report:
        report = {"world": args.output, "password": args.password, "problems": problems,
                  "not_used": left,
                  "vendors": {name: {"users": [u.get("login") or u["email"]
                                               for u in r.users],
                                     "replay": r.replay, "gaps": r.gaps,
                                     "ignored": r.ignored}
                              for name, r in results.items()}}
        if not write(args.report, json.dumps(report, indent=1) + "\n"):
            return 2
    return 0


def write(path: str, text: str) -> bool:
    try:
        Path(path).write_text(text, encoding="utf-8")
    except OSError as exc:
        print(f"from-cassette: cannot write {path}: {exc.strerror or exc}", file=sys.stderr)
        return False
    return True
