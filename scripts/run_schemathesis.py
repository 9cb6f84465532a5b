"""Fuzz the emulated Lightify API with schemathesis against its OpenAPI contract
(``make fuzz``).

Starts the emulator (plain HTTP), gets an access token through the real OAuth flow
(auto-approve app ``lightify-ci``) in a tenant of its own, and runs ``schemathesis
run`` with the checks: no 5xx, response schema, status code and content type
conformance. The run is bounded (``--max-examples``, a fixed seed, a hard time limit).

Details that keep the run meaningful:

* the token lives 30 days (``MOCKCLOUD_LIGHTIFY_EXPIRES_IN``), and is checked
  afterwards: the fuzzer can only revoke it by sending it to /oauth2/revoke_token,
  which it never learns (the ``Authorization: Bearer`` header is not a credential
  there: those endpoints authenticate the client, not the token);
* device, group and scene ids come, most of the time, from the emulator's own lists
  (a schemathesis dictionary), so PATCHes reach real devices and their 200 responses
  are checked against the schema, not just 404s; fuzzing PATCH changes device state in
  the fuzz tenant, which is fine. The OAuth forms get the world's client ids and
  redirect URIs the same way, so their success paths are exercised too;
* the contract is ``contracts/openapi/lightify.yaml`` with ``--url <emulator>/lightify``
  (schemathesis resolves its ``$ref``s to ``contracts/schemas/lightify/*.json``);
  ``--source served`` fuzzes the copy the emulator serves at
  ``/_mockcloud/openapi/lightify.yaml`` instead.

Reports land in ``reports/schemathesis/``; each finding's reproducing curl is printed
again at the end. Exit 1 when schemathesis reports a failure or an error.
"""

from __future__ import annotations

import argparse
import json
import os
import re
from pathlib import Path
from typing import Any

from _emulator import (
    CI_APP,
    DEMO_APP,
    REDIRECT_URI,
    REPORTS,
    ROOT,
    Emulator,
    ScriptError,
    http,
    run_bounded,
    run_main,
    say,
    table,
    tokens,
)

OPENAPI = ROOT / "contracts" / "openapi" / "lightify.yaml"
SCHEMATHESIS = ROOT / ".venv" / "bin" / "schemathesis"
OUT = REPORTS / "schemathesis"
TENANT = "fuzz-lightify"
CHECKS = ("not_a_server_error", "response_schema_conformance", "status_code_conformance",
          "content_type_conformance")
TOKEN_LIFETIME = 30 * 24 * 3600


def parse_args() -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--max-examples", type=int,
                   default=int(os.environ.get("FUZZ_MAX_EXAMPLES", "100")),
                   help="test cases per operation and phase (default 100, FUZZ_MAX_EXAMPLES)")
    p.add_argument("--seed", type=int, default=int(os.environ.get("FUZZ_SEED", "2021")),
                   help="schemathesis seed (default 2021, FUZZ_SEED): runs are reproducible")
    p.add_argument("--timeout", type=float, default=900.0,
                   help="hard limit for the schemathesis run, seconds (default 900)")
    p.add_argument("--source", choices=("file", "served"), default="file",
                   help="fuzz contracts/openapi/lightify.yaml (default) or the emulator's copy")
    return p.parse_args()


def missing_contract_files() -> list[str]:
    """The OpenAPI document and every file it ``$ref``s, where absent."""
    if not OPENAPI.exists():
        return [str(OPENAPI.relative_to(ROOT))]
    text = OPENAPI.read_text(encoding="utf-8")
    refs = set(re.findall(r"""\$ref:\s*["']?([^"'#\s]+)""", text))
    return [str((OPENAPI.parent / r).resolve().relative_to(ROOT)) for r in sorted(refs)
            if not (OPENAPI.parent / r).exists()]


def known_ids(base: str, headers: dict[str, str]) -> dict[str, list[str]]:
    """Device, group and scene ids of the token's user, from the API itself."""
    s = http()
    ids: dict[str, list[str]] = {}
    for kind in ("devices", "groups", "scenes"):
        resp = s.get(f"{base}/v4/{kind}", headers=headers, timeout=30)
        if resp.status_code != 200:
            raise ScriptError(f"GET /v4/{kind} with the fresh token answered "
                              f"HTTP {resp.status_code}: {resp.text[:300]}")
        ids[kind] = [item["id"] for item in resp.json().get(kind, [])]
        if not ids[kind]:
            raise ScriptError(f"the default world gave the demo user no {kind}")
    return ids


def write_config(ids: dict[str, list[str]]) -> Path:
    """A schemathesis.toml: known values for ids and OAuth fields, most of the time."""
    clients = [CI_APP[0], DEMO_APP[0]]
    dictionaries = {
        "devices": ids["devices"], "groups": ids["groups"], "scenes": ids["scenes"],
        "clients": clients, "secrets": [CI_APP[1], DEMO_APP[1]],
        "redirects": [REDIRECT_URI], "response_types": ["code"],
        "grant_types": ["authorization_code", "refresh_token"],
    }
    bindings = {
        "path.deviceId": ("devices", 0.8), "path.groupId": ("groups", 0.8),
        "path.sceneId": ("scenes", 0.8),
        "query.client_id": ("clients", 0.5), "query.redirect_uri": ("redirects", 0.5),
        "query.response_type": ("response_types", 0.5),
        "body.client_id": ("clients", 0.5), "body.client_secret": ("secrets", 0.5),
        "body.redirect_uri": ("redirects", 0.5), "body.response_type": ("response_types", 0.5),
        "body.grant_type": ("grant_types", 0.5),
    }
    lines = ["# written by scripts/run_schemathesis.py for one run", ""]
    for name, values in dictionaries.items():
        lines += [f"[dictionaries.{name}]", f"values = {json.dumps(values)}", ""]
    lines.append("[parameters]")
    for key, (name, prob) in bindings.items():
        lines.append(f'"{key}" = {{ dictionary = "{name}", probability = {prob} }}')
    path = OUT / "schemathesis.toml"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def token_state(root_url: str, token: str) -> str:
    resp = http().post(root_url + "/_mockcloud/tokens/introspect", json={"token": token},
                       headers={"X-Mockcloud-Tenant": TENANT}, timeout=30)
    if resp.status_code != 200:
        return f"unknown (introspection answered {resp.status_code})"
    body = resp.json()
    return body.get("state") or ("active" if body.get("active") else "inactive")


def reproductions(output: str) -> list[tuple[str, str]]:
    """(operation, curl) for each finding, from schemathesis's own output."""
    found: list[tuple[str, str]] = []
    operation = "?"
    lines = output.splitlines()
    for i, line in enumerate(lines):
        head = re.match(r"^_{3,} (.+?) _{3,}$", line.strip())
        if head:
            operation = head.group(1)
        if line.strip() == "Reproduce with:":
            for follow in lines[i + 1:i + 4]:
                if follow.strip().startswith("curl "):
                    found.append((operation, follow.strip()))
                    break
    return found


def server_tracebacks(log: str) -> list[str]:
    """One line per distinct unhandled error in the emulator log."""
    seen: dict[str, int] = {}
    current = ""
    for line in log.splitlines():
        if line.startswith("unhandled error on "):
            current = line[len("unhandled error on "):].split("?")[0]
        elif re.match(r"^[A-Za-z_.]+(Error|Exception)\b.*", line) and current:
            key = f"{current}: {line[:160]}"
            seen[key] = seen.get(key, 0) + 1
            current = ""
    return [f"{k}  (x{n})" for k, n in seen.items()]


def main() -> int:
    args = parse_args()
    missing = missing_contract_files()
    if missing:
        raise ScriptError("the Lightify contract is incomplete, missing: " + ", ".join(missing))
    if not SCHEMATHESIS.exists():
        raise ScriptError(f"{SCHEMATHESIS.relative_to(ROOT)} not found: "
                          "install the project with `pip install -e '.[dev]'` (make does it)")
    OUT.mkdir(parents=True, exist_ok=True)
    for old in ("report.json", "junit.xml", "output.txt"):
        (OUT / old).unlink(missing_ok=True)

    env = {"MOCKCLOUD_LIGHTIFY_EXPIRES_IN": str(TOKEN_LIFETIME)}
    with Emulator(env=env, log_name="schemathesis/emulator.log") as emu:
        base = emu.url + "/lightify"
        tenant = {"X-Mockcloud-Tenant": TENANT}
        grant = tokens(base, CI_APP, headers=tenant)
        token = grant["access_token"]
        auth = {**tenant, "Authorization": f"Bearer {token}"}
        ids = known_ids(base, auth)
        config = write_config(ids)
        say(f"emulator at {emu.url}; tenant {TENANT}; token for {CI_APP[0]} "
            f"(lives {TOKEN_LIFETIME} s); ids: " + ", ".join(f"{len(v)} {k}"
                                                          for k, v in ids.items()))
        location = (str(OPENAPI) if args.source == "file"
                    else emu.url + "/_mockcloud/openapi/lightify.yaml")
        cmd = [str(SCHEMATHESIS), "--config-file", str(config), "run", location,
               "--url", base,
               "-H", f"Authorization: Bearer {token}", "-H", f"X-Mockcloud-Tenant: {TENANT}",
               "--checks", ",".join(CHECKS),
               "--max-examples", str(args.max_examples), "--seed", str(args.seed),
               "--generation-database", "none", "--max-redirects", "0",
               "--request-timeout", "30", "--workers", "1", "--no-color",
               "--report", "json,junit", "--report-dir", str(OUT),
               "--report-json-path", str(OUT / "report.json"),
               "--report-junit-path", str(OUT / "junit.xml")]
        status = run_bounded(cmd, args.timeout, "schemathesis", cwd=OUT,
                             tee=OUT / "output.txt")
        state = token_state(emu.url, token)
    log = emu.log_path.read_text(encoding="utf-8", errors="replace")
    return report(status, state, log, emu.log_path)


def report(status: int, state: str, log: str, log_path: Path) -> int:
    rpath = OUT / "report.json"
    if not rpath.exists():
        raise ScriptError(f"schemathesis exited with status {status} and wrote no report; "
                          f"see {(OUT / 'output.txt').relative_to(ROOT)}")
    rep: dict[str, Any] = json.loads(rpath.read_text(encoding="utf-8"))
    ops, cases = rep.get("operations", {}), rep.get("test_cases", {})
    say("\nschemathesis summary (Lightify):")
    say(f"  operations tested: {ops.get('tested')}/{ops.get('total')}, "
        f"errored {ops.get('errored')}; test cases: {cases.get('generated')} generated, "
        f"{cases.get('with_failures')} with failures, {cases.get('unique_failures')} "
        f"unique failures; {rep.get('running_time', 0):.0f} s; seed {rep.get('seed')}")
    say("  phases: " + ", ".join(f"{k} {v.get('status')}"
                                 for k, v in rep.get("phases", {}).items()))
    say(f"  fuzz token after the run: {state}")
    failures = rep.get("failures", [])
    if failures:
        rows = [[f.get("code", ""), f.get("title", ""), str(f.get("count", "")),
                 ", ".join(f.get("operations", []))] for f in failures]
        say(table(rows, ["code", "check", "count", "operations"]))
    warnings = {k: v for k, v in rep.get("warnings", {}).items() if v}
    for kind, where in warnings.items():
        say(f"  warning {kind}: {', '.join(map(str, where))}")
    curls = reproductions((OUT / "output.txt").read_text(encoding="utf-8", errors="replace"))
    if curls:
        say("\nreproduce (against a running emulator; the Authorization header is filtered,"
            " use a real token):")
        for operation, curl in curls:
            say(f"  [{operation}] {curl}")
    traces = server_tracebacks(log)
    if traces:
        say(f"\nunhandled errors in the emulator log ({log_path.relative_to(ROOT)}):")
        for t in traces:
            say(f"  {t}")
    say(f"\nreports: {OUT.relative_to(ROOT)}/ (report.json, junit.xml, output.txt)")
    problems = []
    if failures or rep.get("errors"):
        problems.append(f"{len(failures)} kind(s) of failure, {len(rep.get('errors', []))} "
                        "error(s)")
    if status != 0 and not problems:
        problems.append(f"schemathesis exited with status {status}")
    if state != "active":
        problems.append(f"the fuzz token ended {state}: later results may be 401s only")
    if problems:
        say("\nFAIL: " + "; ".join(problems))
        return 1
    say("\nOK: no server errors, and every response matched the contract.")
    return 0


if __name__ == "__main__":
    run_main(main)
