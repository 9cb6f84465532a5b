"""Check HTTP exchanges against the contracts (OpenAPI 3.1 + JSON Schema 2020-12).

CLI::

    mockcloud contracts verify PATH... [--format table|json] [--contracts DIR]
    python -m contracts.verify PATH...

PATH is a folder of JSON samples with a manifest.json (as ../shared/real-samples/netatmo/),
a folder of vcrpy cassettes, or one cassette (YAML or JSON). Each exchange is mapped to its
endpoint (method + path, with or without a real host, a vendor prefix such as /netatmo, or a
tenant prefix /_t/<tenant>/) and its body is validated against the schema of its status.
Exit status: 0 all passed, 1 some failed, 2 unusable input (unreadable file, unknown endpoint).

Library::

    from contracts.verify import validate_response
    errors = validate_response("netatmo", "GET", "/api/homesdata", 200, body)  # [] when valid
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Iterable
from dataclasses import asdict, dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import Any

from jsonschema.exceptions import ValidationError, best_match

from contracts._catalogue import (
    Catalogue,
    ContractError,
    EndpointNotFound,
    Operation,
    escape,
    load_catalogue,
)
from contracts._sources import Exchange, NotJSON, Problem, parse_json, read_path

__all__ = [
    "ContractError",
    "EndpointNotFound",
    "Issue",
    "find_operation",
    "load_contracts",
    "main",
    "validate_request",
    "validate_response",
]


@dataclass(frozen=True)
class Issue:
    """One contract violation: where (JSON pointer into the body) and what."""

    pointer: str
    message: str

    def __str__(self) -> str:
        return f"{self.pointer or '(root)'}: {self.message}"


# ---- library API ----------------------------------------------------------------------------
@lru_cache(maxsize=4)
def _cached(root: str | None) -> Catalogue:
    return load_catalogue(root)


def load_contracts(root: Path | str | None = None) -> Catalogue:
    """Load (once) every contracts/openapi/*.yaml and contracts/schemas/**/*.json."""
    return _cached(str(root) if root else None)


def find_operation(vendor: str | None, method: str | None, url_or_path: str,
                   contracts: Catalogue | None = None) -> Operation:
    """The operation a request maps to; raises EndpointNotFound."""
    return (contracts or load_contracts()).find(vendor, method, url_or_path)


def validate_response(vendor: str | None, method: str | None, url_or_path: str,
                      status: int | None, body: Any,
                      contracts: Catalogue | None = None) -> list[Issue]:
    """Issues of a response body (parsed JSON, or str/bytes); [] when it honours the contract.

    ``status=None`` means "not recorded": the body must match one of the error responses.
    Raises EndpointNotFound when no endpoint matches.
    """
    catalogue = contracts or load_contracts()
    return check_response(catalogue, catalogue.find(vendor, method, url_or_path), status, body)


def validate_request(vendor: str | None, method: str | None, url_or_path: str, body: Any,
                     contracts: Catalogue | None = None) -> list[Issue]:
    """Issues of a JSON request body (setstate, synchomeschedule, Qivivo writes, ...)."""
    catalogue = contracts or load_contracts()
    op = catalogue.find(vendor, method, url_or_path)
    pointer = op.request_schema()
    if pointer is None:
        return [Issue("", f"{op.key} takes no JSON request body")]
    return validate_body(catalogue, op, pointer, body)


def check_response(catalogue: Catalogue, op: Operation, status: int | None,
                   body: Any) -> list[Issue]:
    if status is None:
        return check_unrecorded_status(catalogue, op, body)
    key = status_key(op, status)
    if key is None:
        return [Issue("", f"status {status} is not declared for {op.key}")]
    _, pointer = op.response_schema(key)
    if pointer is None:
        return []  # declared without a JSON body (redirect, HTML page, 204)
    return validate_body(catalogue, op, pointer, body)


def check_unrecorded_status(catalogue: Catalogue, op: Operation, body: Any) -> list[Issue]:
    outcomes = []
    for key in op.error_statuses():
        _, pointer = op.response_schema(key)
        if pointer is not None:
            issues = validate_body(catalogue, op, pointer, body)
            if not issues:
                return []
            outcomes.append(issues)
    if not outcomes:
        return [Issue("", f"status not recorded and {op.key} declares no JSON error body")]
    return min(outcomes, key=len)


def status_key(op: Operation, status: int) -> str | None:
    for key in (str(status), f"{status // 100}XX", "default"):
        if op.response_schema(key)[0]:
            return key
    return None


def validate_body(catalogue: Catalogue, op: Operation, pointer: str, body: Any) -> list[Issue]:
    if body is None:
        return [Issue("", "body is empty, the contract expects JSON")]
    try:
        data = parse_json(body)
    except NotJSON as exc:
        return [Issue("", str(exc))]
    errors = list(catalogue.validator(op, pointer).iter_errors(data))
    if not errors:
        return []
    best = best_match(errors)
    return [to_issue(best)] + [to_issue(e) for e in errors if e is not best]


def to_issue(error: ValidationError) -> Issue:
    pointer = "".join("/" + escape(str(part)) for part in error.absolute_path)
    message = error.message if len(error.message) <= 200 else error.message[:197] + "..."
    return Issue(pointer, message)


# ---- batch verification ---------------------------------------------------------------------
@dataclass
class Row:
    endpoint: str
    samples: int = 0
    passed: int = 0
    failed: int = 0
    first_error: dict[str, str] | None = None


@dataclass
class Report:
    rows: dict[str, Row] = field(default_factory=dict)
    failures: list[dict[str, Any]] = field(default_factory=list)
    problems: list[Problem] = field(default_factory=list)

    @property
    def exit_code(self) -> int:
        if self.problems or not self.rows:
            return 2
        return 1 if self.failures else 0

    def record(self, endpoint: str, source: str, issues: list[Issue]) -> None:
        row = self.rows.setdefault(endpoint, Row(endpoint))
        row.samples += 1
        if not issues:
            row.passed += 1
            return
        row.failed += 1
        first = {"sample": source, "pointer": issues[0].pointer, "message": issues[0].message}
        row.first_error = row.first_error or first
        self.failures.append({"endpoint": endpoint, **first})


def verify_paths(paths: Iterable[Path], catalogue: Catalogue) -> Report:
    report = Report()
    for path in paths:
        exchanges, problems = read_path(path)
        report.problems += problems
        for exchange in exchanges:
            verify_exchange(exchange, catalogue, report)
    return report


def verify_exchange(exchange: Exchange, catalogue: Catalogue, report: Report) -> None:
    vendor = exchange.vendor if exchange.vendor in catalogue.vendors else None
    method = exchange.method
    try:
        op = catalogue.find(vendor, method, exchange.url)
        if method is None and exchange.kind == "request":
            op = request_operation(catalogue, op, exchange.url)
    except EndpointNotFound as exc:
        report.problems.append(Problem(exchange.source, str(exc)))
        return
    if exchange.kind == "request":
        pointer = op.request_schema()
        if pointer is None and exchange.source.find("#") > 0:
            return  # a cassette request with a JSON content type on a non-JSON endpoint
        issues = (validate_body(catalogue, op, pointer, exchange.body) if pointer
                  else [Issue("", f"{op.key} takes no JSON request body")])
        report.record(op.key + " (request)", exchange.source, issues)
        return
    report.record(op.key, exchange.source, check_response(catalogue, op, exchange.status,
                                                          exchange.body))


def request_operation(catalogue: Catalogue, op: Operation, url: str) -> Operation:
    """For a request sample without method: the path's operation that takes a JSON body."""
    if op.request_schema():
        return op
    for method in ("POST", "PUT", "PATCH", "DELETE"):
        try:
            other = catalogue.find(op.vendor, method, url)
        except EndpointNotFound:
            continue
        if other.request_schema():
            return other
    return op


# ---- output ---------------------------------------------------------------------------------
def render_table(report: Report) -> str:
    headers = ("ENDPOINT", "SAMPLES", "PASSED", "FAILED", "FIRST ERROR")
    lines = []
    rows = [report.rows[k] for k in sorted(report.rows)]
    width = max([len(headers[0])] + [len(r.endpoint) for r in rows])
    lines.append(f"{headers[0]:<{width}}  {headers[1]:>7}  {headers[2]:>6}  {headers[3]:>6}  "
                 f"{headers[4]}")
    for r in rows:
        first = ""
        if r.first_error:
            e = r.first_error
            first = f"{e['sample']}: {e['pointer'] or '(root)'}: {e['message']}"
        lines.append(f"{r.endpoint:<{width}}  {r.samples:>7}  {r.passed:>6}  {r.failed:>6}  "
                     f"{first}")
    for p in report.problems:
        lines.append(f"UNUSABLE {p.source}: {p.message}")
    total = sum(r.samples for r in rows)
    failed = sum(r.failed for r in rows)
    lines.append(f"{total} samples, {total - failed} passed, {failed} failed, "
                 f"{len(report.problems)} unusable")
    return "\n".join(lines)


def render_json(report: Report) -> str:
    doc = {
        "ok": report.exit_code == 0,
        "exit_code": report.exit_code,
        "endpoints": [asdict(report.rows[k]) for k in sorted(report.rows)],
        "failures": report.failures,
        "problems": [asdict(p) for p in report.problems],
    }
    return json.dumps(doc, indent=2)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="mockcloud contracts verify",
        description="Validate recorded samples or vcrpy cassettes against the contracts.")
    parser.add_argument("paths", nargs="+", type=Path, metavar="PATH",
                        help="folder with manifest.json, folder of cassettes, or a cassette")
    parser.add_argument("--format", choices=("table", "json"), default="table")
    parser.add_argument("--contracts", type=Path, default=None, metavar="DIR",
                        help="contracts folder (default: the installed contracts package)")
    parser.add_argument("--secrets", action="store_true",
                        help="also scan the files for secrets and personal data that "
                             "survived scrubbing (as mockcloud record --check does); "
                             "any finding fails")
    return parser


def main(argv: list[str] | None = None) -> int:
    args_in = list(sys.argv[1:] if argv is None else argv)
    if args_in[:1] == ["verify"]:
        args_in = args_in[1:]
    args = build_parser().parse_args(args_in)
    try:
        catalogue = load_contracts(args.contracts)
    except ContractError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    report = verify_paths(args.paths, catalogue)
    print(render_json(report) if args.format == "json" else render_table(report))
    if args.secrets:
        from emulator.toolkit.scrub import check_main

        out = sys.stdout if args.format == "table" else sys.stderr
        return max(report.exit_code, check_main(args.paths, out))
    return report.exit_code


if __name__ == "__main__":
    sys.exit(main())
