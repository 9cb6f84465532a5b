"""Fuzz the emulated Lightify, Netatmo and Qivivo APIs with schemathesis against their OpenAPI
contracts (``make fuzz``; ``make fuzz-long`` or ``FUZZ_LONG=1`` for the long run).

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

Netatmo (``--vendor netatmo``; both by default), on an emulator of its own:

* the document is the one the emulator serves (``/_mockcloud/openapi/netatmo.yaml``,
  bundled, its own URL in ``servers``), fuzzed with ``--url <emulator>/netatmo``;
* the token comes from ``POST /_mockcloud/tokens`` (app ``netatmo-ci``, user
  ``dev@netatmo.test``, every scope the app has), living 30 days
  (``MOCKCLOUD_NETATMO_EXPIRES_IN``); Netatmo's token endpoint cannot revoke it;
* the fuzz tenant's Netatmo quotas are switched off (``PUT /_mockcloud/quotas/netatmo``):
  with the cloud's 50 calls / 10 s per user nearly every case would be a 429;
* home, room, schedule, device and module ids come most of the time from the default
  world (read through ``homesdata`` and ``getstationsdata``), so the cases reach real
  homes and stations; the writes change the fuzz tenant, which is fine; addwebhook's
  ``url`` is most of the time a local port nobody answers (its deliveries fail at
  once and ban it; nothing leaves the machine);
* bounded for ``make test`` (``--netatmo-max-examples``, default 6 per operation and
  phase: about 2,300 cases in 40 s); the long run (``--long``, ``FUZZ_LONG=1``) uses 100.

Qivivo (``--vendor qivivo``) the same way, on an emulator of its own: the served
document, a 30-day token from ``POST /_mockcloud/tokens`` (``qivivo-ci`` as
``demo@qivivo.test``, the eight scopes), the tenant's quota (1,000 calls/h per client)
off, the house's uuids and program ids most of the time; ``--qivivo-max-examples``
(default 25 per operation and phase: about 1,400 cases in 10 s; 100 with ``--long``).

Reports land in ``reports/schemathesis/`` (Netatmo's in ``reports/schemathesis/netatmo/``,
Qivivo's in ``reports/schemathesis/qivivo/``);
each finding's reproducing curl is printed again at the end. Exit 1 when schemathesis
reports a failure or an error for either vendor.
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
NETATMO_OUT = OUT / "netatmo"
NETATMO_TENANT = "fuzz-netatmo"
NETATMO_CLIENT = ("netatmo-ci", "netatmo-ci-secret")
NETATMO_USER = "dev@netatmo.test"
NETATMO_SCOPES = ("read_station read_thermostat write_thermostat read_homecoach read_camera "
                  "write_camera access_camera read_presence access_presence")
QIVIVO_OUT = OUT / "qivivo"
QIVIVO_TENANT = "fuzz-qivivo"
QIVIVO_CLIENT = ("qivivo-ci", "qivivo-ci-secret")
QIVIVO_USER = "demo@qivivo.test"
QIVIVO_SCOPES = ("user_basic_information", "read_devices", "read_thermostats",
                 "read_wireless_modules", "read_programmation", "update_programmation",
                 "read_house_data", "update_house_settings")
QIVIVO_SETTINGS = ("presence_temperature_1", "presence_temperature_2",
                   "presence_temperature_3", "presence_temperature_4", "night_temperature",
                   "absence_temperature", "frost_protection_temperature")
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
    p.add_argument("--vendor", choices=("all", "lightify", "netatmo", "qivivo"),
                   default=os.environ.get("FUZZ_VENDOR", "all"),
                   help="which API to fuzz (default all, FUZZ_VENDOR)")
    p.add_argument("--long", action="store_true", default=os.environ.get("FUZZ_LONG") == "1",
                   help="the long run (FUZZ_LONG=1): Netatmo at 100 examples, 1 h limit")
    p.add_argument("--netatmo-max-examples", type=int,
                   default=int(os.environ.get("FUZZ_NETATMO_MAX_EXAMPLES", "0")) or None,
                   help="Netatmo test cases per operation and phase (default 15, 100 with "
                        "--long; FUZZ_NETATMO_MAX_EXAMPLES)")
    p.add_argument("--qivivo-max-examples", type=int,
                   default=int(os.environ.get("FUZZ_QIVIVO_MAX_EXAMPLES", "0")) or None,
                   help="Qivivo test cases per operation and phase (default 25, 100 with "
                        "--long; FUZZ_QIVIVO_MAX_EXAMPLES)")
    args = p.parse_args()
    if args.qivivo_max_examples is None:
        args.qivivo_max_examples = 100 if args.long else 25
    if args.netatmo_max_examples is None:
        args.netatmo_max_examples = 100 if args.long else 15
    if args.long:
        args.timeout = max(args.timeout, 3600.0)
    return args


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
    return write_toml(OUT / "schemathesis.toml", "one run", dictionaries, bindings)


def write_toml(path: Path, what: str, dictionaries: dict[str, list[Any]],
               bindings: dict[str, tuple[str, float]]) -> Path:
    """A schemathesis.toml: named dictionaries, each bound to parameters with a
    probability."""
    lines = [f"# written by scripts/run_schemathesis.py for {what}", ""]
    for name, values in dictionaries.items():
        lines += [f"[dictionaries.{name}]", f"values = {json.dumps(values)}", ""]
    lines.append("[parameters]")
    for key, (name, prob) in bindings.items():
        lines.append(f'"{key}" = {{ dictionary = "{name}", probability = {prob} }}')
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def schemathesis_cmd(config: Path, location: str, base: str, token: str, tenant: str,
                     max_examples: int, seed: int, out: Path) -> list[str]:
    """One bounded, reproducible ``schemathesis run`` with our checks and reports."""
    return [str(SCHEMATHESIS), "--config-file", str(config), "run", location,
            "--url", base,
            "-H", f"Authorization: Bearer {token}", "-H", f"X-Mockcloud-Tenant: {tenant}",
            "--checks", ",".join(CHECKS),
            "--max-examples", str(max_examples), "--seed", str(seed),
            "--generation-database", "none", "--max-redirects", "0",
            "--request-timeout", "30", "--workers", "1", "--no-color",
            "--report", "json,junit", "--report-dir", str(out),
            "--report-json-path", str(out / "report.json"),
            "--report-junit-path", str(out / "junit.xml")]


def token_state(root_url: str, token: str, tenant: str) -> str:
    resp = http().post(root_url + "/_mockcloud/tokens/introspect", json={"token": token},
                       headers={"X-Mockcloud-Tenant": tenant}, timeout=30)
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
    if not SCHEMATHESIS.exists():
        raise ScriptError(f"{SCHEMATHESIS.relative_to(ROOT)} not found: "
                          "install the project with `pip install -e '.[dev]'` (make does it)")
    results = {}
    if args.vendor in ("all", "lightify"):
        results["Lightify"] = fuzz_lightify(args)
    if args.vendor in ("all", "netatmo"):
        results["Netatmo"] = fuzz_netatmo(args)
    if args.vendor in ("all", "qivivo"):
        results["Qivivo"] = fuzz_qivivo(args)
    if len(results) > 1:
        say("\n" + "; ".join(f"{k}: {'OK' if v == 0 else 'FAIL'}" for k, v in results.items()))
    return max(results.values())


def fresh_reports(out: Path) -> None:
    out.mkdir(parents=True, exist_ok=True)
    for old in ("report.json", "junit.xml", "output.txt"):
        (out / old).unlink(missing_ok=True)


def fuzz_lightify(args: argparse.Namespace) -> int:
    missing = missing_contract_files()
    if missing:
        raise ScriptError("the Lightify contract is incomplete, missing: " + ", ".join(missing))
    fresh_reports(OUT)
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
        cmd = schemathesis_cmd(config, location, base, token, TENANT, args.max_examples,
                               args.seed, OUT)
        status = run_bounded(cmd, args.timeout, "schemathesis", cwd=OUT,
                             tee=OUT / "output.txt")
        state = token_state(emu.url, token, TENANT)
    log = emu.log_path.read_text(encoding="utf-8", errors="replace")
    return report(status, state, log, emu.log_path)


def netatmo_ids(base: str, headers: dict[str, str]) -> dict[str, list[str]]:
    """Home, room, schedule, device and module ids of the fuzz user, from the API."""
    s = http()

    def body(method: str) -> dict[str, Any]:
        resp = s.post(f"{base}/api/{method}", headers=headers, timeout=30)
        if resp.status_code != 200:
            raise ScriptError(f"{method} with the fuzz token answered HTTP "
                              f"{resp.status_code}: {resp.text[:300]}")
        return resp.json()["body"]

    ids: dict[str, list[str]] = {k: [] for k in ("homes", "rooms", "schedules", "devices",
                                                  "modules")}
    for home in body("homesdata").get("homes", []):
        ids["homes"].append(home["id"])
        ids["rooms"] += [r["id"] for r in home.get("rooms", [])]
        ids["schedules"] += [sc["id"] for sc in home.get("schedules", [])]
        ids["devices"] += [m["id"] for m in home.get("modules", []) if "bridge" not in m]
        ids["modules"] += [m["id"] for m in home.get("modules", []) if "bridge" in m]
    for method in ("getstationsdata", "gethomecoachsdata"):
        for dev in body(method).get("devices", []):
            ids["devices"].append(dev["_id"])
            ids["modules"] += [m["_id"] for m in dev.get("modules", [])]
    empty = [k for k, v in ids.items() if not v]
    if empty:
        raise ScriptError(f"the default world gave the Netatmo fuzz user no {', '.join(empty)}")
    return ids


def write_netatmo_config(ids: dict[str, list[str]]) -> Path:
    """A schemathesis.toml for Netatmo: the world's ids and sensible values, often."""
    dictionaries = {
        **ids,
        "scales": ["max", "30min", "1hour", "3hours", "1day", "1week", "1month"],
        "types": ["Temperature", "Temperature,Humidity", "min_temp,max_temp",
                  "sum_rain", "boileron", "sum_boiler_on"],
        "therm_modes": ["schedule", "away", "hg", "off", "manual", "max", "home"],
        "bools": ["true", "false"],
        "clients": [NETATMO_CLIENT[0]], "secrets": [NETATMO_CLIENT[1]],
        "redirects": [REDIRECT_URI], "response_types": ["code"],
        "grant_types": ["authorization_code", "refresh_token", "password"],
        # addwebhook: a local port nobody answers (refused at once: the deliveries
        # fail and ban, no name lookups, nothing leaves the machine)
        "webhook_urls": ["http://127.0.0.1:9/netatmo-hook"],
        "app_types": ["app_security", "app_camera"],
    }
    params = {"home_id": ("homes", 0.7), "room_id": ("rooms", 0.7),
              "schedule_id": ("schedules", 0.6), "device_id": ("devices", 0.7),
              "module_id": ("modules", 0.5), "scale": ("scales", 0.6),
              "type": ("types", 0.5), "mode": ("therm_modes", 0.6),
              "optimize": ("bools", 0.5), "real_time": ("bools", 0.5),
              "client_id": ("clients", 0.5), "client_secret": ("secrets", 0.5),
              "redirect_uri": ("redirects", 0.5), "response_type": ("response_types", 0.5),
              "grant_type": ("grant_types", 0.5), "url": ("webhook_urls", 0.6),
              "app_types": ("app_types", 0.5)}
    bindings = {f"{where}.{key}": v for key, v in params.items() for where in ("query", "body")}
    return write_toml(NETATMO_OUT / "schemathesis.toml", "one Netatmo run", dictionaries,
                      bindings)


def fuzz_netatmo(args: argparse.Namespace) -> int:
    return fuzz_with_admin_token(
        args, "Netatmo", NETATMO_TENANT, NETATMO_OUT, NETATMO_CLIENT, NETATMO_USER,
        NETATMO_SCOPES, args.netatmo_max_examples, netatmo_ids, write_netatmo_config)


def fuzz_with_admin_token(args: argparse.Namespace, vendor: str, tenant_name: str,
                          out: Path, client: tuple[str, str], user: str, scopes: str,
                          max_examples: int, find_ids, write_cfg) -> int:
    """A vendor on an emulator of its own: a long-lived token from ``POST
    /_mockcloud/tokens``, the tenant's quotas off, the world's ids in a dictionary,
    the served OpenAPI document fuzzed."""
    name = vendor.lower()
    fresh_reports(out)
    env = {f"MOCKCLOUD_{name.upper()}_EXPIRES_IN": str(TOKEN_LIFETIME)}
    with Emulator(env=env, log_name=f"schemathesis/{name}/emulator.log") as emu:
        base = emu.url + "/" + name
        tenant = {"X-Mockcloud-Tenant": tenant_name}
        s = http()
        resp = s.post(emu.url + "/_mockcloud/tokens", headers=tenant, timeout=30,
                      json={"vendor": name, "client_id": client[0], "user": user,
                            "scope": scopes})
        if resp.status_code not in (200, 201):
            raise ScriptError(f"POST /_mockcloud/tokens answered HTTP {resp.status_code}: "
                              f"{resp.text[:300]}")
        token = resp.json()["access_token"]
        resp = s.put(f"{emu.url}/_mockcloud/quotas/{name}", headers=tenant, timeout=30,
                     json={"enabled": False, "rules": []})
        if resp.status_code != 200:
            raise ScriptError(f"switching the {vendor} quotas off answered HTTP "
                              f"{resp.status_code}: {resp.text[:300]}")
        auth = {**tenant, "Authorization": f"Bearer {token}"}
        ids = find_ids(base, auth)
        config = write_cfg(ids)
        say(f"\n{vendor}: emulator at {emu.url}; tenant {tenant_name} (quotas off); token "
            f"for {client[0]} as {user} from POST /_mockcloud/tokens (lives "
            f"{TOKEN_LIFETIME} s); ids: " + ", ".join(f"{len(v)} {k}" for k, v in ids.items()))
        cmd = schemathesis_cmd(config, f"{emu.url}/_mockcloud/openapi/{name}.yaml", base,
                               token, tenant_name, max_examples, args.seed, out)
        status = run_bounded(cmd, args.timeout, f"schemathesis ({vendor})", cwd=out,
                             tee=out / "output.txt")
        state = token_state(emu.url, token, tenant_name)
    log = emu.log_path.read_text(encoding="utf-8", errors="replace")
    return report(status, state, log, emu.log_path, vendor=vendor, out=out)


def qivivo_ids(base: str, headers: dict[str, str]) -> dict[str, list[Any]]:
    """Device uuids of the fuzz user by type, and program ids, from the API."""
    s = http()
    resp = s.get(f"{base}/api/v2/devices", headers=headers, timeout=30)
    if resp.status_code != 200:
        raise ScriptError(f"GET /api/v2/devices with the fuzz token answered HTTP "
                          f"{resp.status_code}: {resp.text[:300]}")
    ids: dict[str, list[str]] = {"thermostat": [], "wireless-module": [], "gateway": []}
    for dev in resp.json()["devices"]:
        ids[dev["type"]].append(dev["uuid"])
    empty = [k for k, v in ids.items() if not v]
    if empty:
        raise ScriptError(f"the default world gave the Qivivo fuzz user no {', '.join(empty)}")
    return {"uuids": ids["thermostat"] + ids["wireless-module"] + ids["gateway"],
            "programs": [1, 2, 3]}


def write_qivivo_config(ids: dict[str, list[Any]]) -> Path:
    """A schemathesis.toml for Qivivo: the house's uuids and sensible values, often."""
    dictionaries = {
        **ids,
        "days": ["monday", "tuesday", "sunday", "lundi"],
        "settings": list(QIVIVO_SETTINGS),
        "dates": ["2030-01-01 10:00", "2030-01-02 10:00"],
        "clients": [QIVIVO_CLIENT[0]], "secrets": [QIVIVO_CLIENT[1]],
        "redirects": ["https://qivivo.com/authorize"], "response_types": ["code"],
        "grant_types": ["client_credentials", "authorization_code", "refresh_token"],
    }
    params = {"path.uuid": ("uuids", 0.8), "path.programId": ("programs", 0.6),
              "path.day": ("days", 0.6),
              "body.temperature_setting_name": ("settings", 0.6),
              "body.start_date": ("dates", 0.5), "body.end_date": ("dates", 0.5)}
    for key, name in (("client_id", "clients"), ("client_secret", "secrets"),
                      ("redirect_uri", "redirects"), ("response_type", "response_types"),
                      ("grant_type", "grant_types")):
        params[f"query.{key}"] = params[f"body.{key}"] = (name, 0.5)
    return write_toml(QIVIVO_OUT / "schemathesis.toml", "one Qivivo run", dictionaries,
                      params)


def fuzz_qivivo(args: argparse.Namespace) -> int:
    return fuzz_with_admin_token(
        args, "Qivivo", QIVIVO_TENANT, QIVIVO_OUT, QIVIVO_CLIENT, QIVIVO_USER,
        " ".join(QIVIVO_SCOPES), args.qivivo_max_examples, qivivo_ids, write_qivivo_config)


def report(status: int, state: str, log: str, log_path: Path, *, vendor: str = "Lightify",
           out: Path = OUT) -> int:
    rpath = out / "report.json"
    if not rpath.exists():
        raise ScriptError(f"schemathesis exited with status {status} and wrote no report; "
                          f"see {(out / 'output.txt').relative_to(ROOT)}")
    rep: dict[str, Any] = json.loads(rpath.read_text(encoding="utf-8"))
    ops, cases = rep.get("operations", {}), rep.get("test_cases", {})
    say(f"\nschemathesis summary ({vendor}):")
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
    curls = reproductions((out / "output.txt").read_text(encoding="utf-8", errors="replace"))
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
    say(f"\nreports: {out.relative_to(ROOT)}/ (report.json, junit.xml, output.txt)")
    problems = []
    if failures or rep.get("errors"):
        problems.append(f"{len(failures)} kind(s) of failure, {len(rep.get('errors', []))} "
                        "error(s)")
    if status != 0 and not problems:
        problems.append(f"schemathesis exited with status {status}")
    if state != "active":
        problems.append(f"the fuzz token ended {state}: later results may be 401s only")
    if problems:
        say(f"\nFAIL ({vendor}): " + "; ".join(problems))
        return 1
    say(f"\nOK ({vendor}): no server errors, and every response matched the contract.")
    return 0


if __name__ == "__main__":
    run_main(main)
