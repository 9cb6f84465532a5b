"""``mockcloud fuzz VENDOR|admin ...``: schemathesis against the contract the emulator
serves, with tokens the emulator issued, reports written, a clear verdict.

::

    mockcloud fuzz lightify                     # starts its own emulator, bounded run
    mockcloud fuzz netatmo --max-examples 100 --seed 7
    mockcloud fuzz all                          # lightify, netatmo, qivivo, admin in turn
    mockcloud fuzz qivivo --against http://127.0.0.1:8080 --admin-token T

Exit status: 0 clean (no 5xx, every response matched the contract), 1 a failure (a 5xx,
a contract violation, a schemathesis error, the hard time limit reached, or a fuzz
token that ended revoked or expired), 2 usage (bad arguments, unknown vendor,
schemathesis not installed, an emulator that does not start or answer).

What a run does, for each vendor:

* the emulator: its own ``mockcloud serve`` on a free port of 127.0.0.1 (a random admin
  token; the vendor's tokens live 30 days through ``MOCKCLOUD_<VENDOR>_EXPIRES_IN``, so
  a long run never sees them expire; log in the report folder), or ``--against URL``
  (then ``--admin-token`` / ``MOCKCLOUD_ADMIN_TOKEN`` if it wants one, and the tokens
  live as long as that server says);
* a tenant of its own (``fuzz-<vendor>``, ``--tenant``), reset first, its quotas for the
  vendor switched off (``PUT /_mockcloud/quotas/<vendor>``: with Netatmo's 50 calls per
  10 s nearly every case would be a 429);
* tokens from the vendor's real flows, one per grant it has, and the cases rotate over
  them (``emulator.toolkit.fuzz_hooks``), the main one most often:

  - Lightify: authorization code (``lightify-ci`` through ``/oauth2/authorize``: the
    consent form is posted as the app's user when the app does not approve itself),
    and a token from the refresh grant;
  - Netatmo: authorization code (``netatmo-ci``, every scope the app has), refresh, and
    the legacy password grant (``netatmo-legacy`` as ``dev@netatmo.test``: four scopes,
    so some cases meet the insufficient-scope answers);
  - Qivivo: client credentials (``qivivo-ci``, acting for its owner, the eight scopes),
    authorization code (the consent page at ``/``) and refresh;
  - admin: the admin token (the control plane has no OAuth);
  - any other served vendor: ``POST /_mockcloud/tokens`` for the world's first app and
    user (no flow known to this command);

  each token is checked afterwards (introspection): the fuzzer can only revoke one by
  sending it to the vendor's revocation endpoint as a parameter, which it never learns
  (the ``Authorization`` header is not a credential there);
* ids the fuzzer could not guess (devices, groups, scenes, homes, rooms, schedules,
  modules, uuids, program ids) and the OAuth forms' client ids and redirect URIs come,
  most of the time, from the tenant's own data (a schemathesis dictionary in
  ``schemathesis.toml``), so writes reach real devices and their 200 answers are
  checked too; Netatmo's ``addwebhook`` gets a local port nobody answers (its
  deliveries fail at once and ban it; nothing leaves the machine);
* ``schemathesis run`` on ``<emulator>/_mockcloud/openapi/<vendor>.yaml`` (admin:
  ``/_mockcloud/openapi.yaml``) with the checks ``not_a_server_error``,
  ``response_schema_conformance``, ``status_code_conformance`` and
  ``content_type_conformance``, ``--max-examples`` per operation and phase, ``--seed``
  (reproducible), one worker, no redirects followed, a hard time limit (``--timeout``);
* reports in ``--report-dir`` (default ``reports/schemathesis/<vendor>/``):
  ``report.json``, ``junit.xml``, ``output.txt`` (schemathesis's own output), the
  ``schemathesis.toml`` it ran with and, for its own emulator, ``emulator.log``; the
  summary prints the case count, failures with their reproducing ``curl``, and any
  unhandled error the emulator logged.

schemathesis is an extra: ``pip install 'mockcloud[fuzz]'``.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import re
import secrets
import shlex
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import requests

PRESET_VENDORS = ("lightify", "netatmo", "qivivo")
ALL = (*PRESET_VENDORS, "admin")
CHECKS = ("not_a_server_error", "response_schema_conformance", "status_code_conformance",
          "content_type_conformance")
TOKEN_LIFETIME = 30 * 24 * 3600
# bounded runs for ``make test`` (about 15, 30, 10 and 15 s on 2 cores)
DEFAULT_EXAMPLES = {"lightify": 100, "netatmo": 15, "qivivo": 25, "admin": 5}
REDIRECT = "https://example.com/callback"
INSTALL_HINT = ("mockcloud fuzz needs schemathesis, an optional extra: "
                "pip install 'mockcloud[fuzz]'")


class FuzzError(RuntimeError):
    """The run could not happen (exit 2), with a line a person can act on."""


class Failed(RuntimeError):
    """The run happened and found something, or did not end in time (exit 1)."""


def say(msg: str = "") -> None:
    print(msg, flush=True)


# --------------------------------------------------------------------------- HTTP


def session() -> requests.Session:
    import urllib3

    urllib3.disable_warnings(urllib3.exceptions.InsecureRequestWarning)
    s = requests.Session()
    s.verify = False        # --tls servers have a self-signed certificate
    s.trust_env = False     # never through a proxy: the emulator is ours
    return s


@dataclass
class Target:
    """One emulator and one fuzz tenant on it."""

    url: str
    tenant: str
    admin_token: str | None
    http: requests.Session = field(default_factory=session)

    @property
    def tenant_headers(self) -> dict[str, str]:
        return {"X-Mockcloud-Tenant": self.tenant}

    def admin(self, method: str, path: str, what: str, **kw: Any) -> Any:
        headers = {**self.tenant_headers, **kw.pop("headers", {})}
        if self.admin_token:
            headers["Authorization"] = f"Bearer {self.admin_token}"
        if method in ("POST", "PUT", "PATCH") and "json" not in kw:
            kw["json"] = {}
        resp = self.http.request(method, f"{self.url}/_mockcloud{path}", headers=headers,
                                 timeout=30, **kw)
        if resp.status_code >= 400:
            raise FuzzError(f"{what}: {method} /_mockcloud{path} answered HTTP "
                            f"{resp.status_code}: {resp.text[:300]}")
        return resp.json() if "json" in resp.headers.get("Content-Type", "") else resp.text

    def call(self, method: str, url: str, what: str, *, token: str | None = None,
             expect: tuple[int, ...] = (200,), **kw: Any) -> requests.Response:
        headers = {**self.tenant_headers, **kw.pop("headers", {})}
        if token:
            headers["Authorization"] = f"Bearer {token}"
        resp = self.http.request(method, url, headers=headers, timeout=30,
                                 allow_redirects=False, **kw)
        if resp.status_code not in expect:
            raise FuzzError(f"{what}: {method} {urlsplit(url).path} answered HTTP "
                            f"{resp.status_code}: {resp.text[:300]}")
        return resp


# --------------------------------------------------------------------------- OAuth flows


def code_grant(t: Target, base: str, authorize: str, token_path: str,
               client: tuple[str, str], redirect: str, user: tuple[str, str] | None,
               scope: str | None = None) -> dict[str, Any]:
    """A token response through the real authorization-code flow: the app approves
    itself (302 at once), or the consent form is posted as ``user`` approving."""
    params = {"client_id": client[0], "redirect_uri": redirect, "response_type": "code",
              "state": "mockcloud-fuzz"}
    if scope:
        params["scope"] = scope
    resp = t.call("GET", base + authorize, f"authorize {client[0]}", params=params,
                  expect=(200, 302, 303))
    if resp.status_code == 200:
        if user is None:
            raise FuzzError(f"{client[0]} shows the consent page and no user was given")
        form = {**params, "email": user[0], "password": user[1], "decision": "approve"}
        resp = t.call("POST", base + authorize, f"consent for {client[0]} as {user[0]}",
                      data=form, expect=(302, 303))
    query = parse_qs(urlsplit(resp.headers.get("Location", "")).query)
    if "code" not in query:
        raise FuzzError(f"authorize {client[0]}: no code in the redirect "
                        f"{resp.headers.get('Location')!r}")
    return t.call("POST", base + token_path, f"code exchange for {client[0]}",
                  data={"grant_type": "authorization_code", "code": query["code"][0],
                        "client_id": client[0], "client_secret": client[1],
                        "redirect_uri": redirect}).json()


def refresh_grant(t: Target, base: str, token_path: str, client: tuple[str, str],
                  grant: dict[str, Any]) -> dict[str, Any]:
    if not grant.get("refresh_token"):
        raise FuzzError(f"the code grant of {client[0]} gave no refresh token")
    return t.call("POST", base + token_path, f"refresh for {client[0]}",
                  data={"grant_type": "refresh_token", "refresh_token": grant["refresh_token"],
                        "client_id": client[0], "client_secret": client[1]}).json()


def form_grant(t: Target, base: str, token_path: str, what: str,
               **form: str) -> dict[str, Any]:
    return t.call("POST", base + token_path, what, data=form).json()


# --------------------------------------------------------------------------- presets


@dataclass
class Plan:
    """What one vendor's run uses: its tokens (by grant), the rotation over them, the
    tenant's ids and the schemathesis dictionaries bound to parameters."""

    tokens: dict[str, str]
    rotation: list[str]
    dictionaries: dict[str, list[Any]] = field(default_factory=dict)
    bindings: dict[str, tuple[str, float]] = field(default_factory=dict)

    def rotation_tokens(self) -> list[str]:
        return [self.tokens[g] for g in self.rotation]


def both(params: dict[str, tuple[str, float]]) -> dict[str, tuple[str, float]]:
    """Bind each parameter in the query and in the body."""
    return {f"{where}.{k}": v for k, v in params.items() for where in ("query", "body")}


def lightify_plan(t: Target) -> Plan:
    base = f"{t.url}/lightify"
    client = ("lightify-ci", "lightify-ci-secret")
    user = ("demo@lightify.test", "demo")
    code = code_grant(t, base, "/oauth2/authorize", "/oauth2/access_token", client, REDIRECT,
                      user)
    other = code_grant(t, base, "/oauth2/authorize", "/oauth2/access_token", client, REDIRECT,
                       user)
    refreshed = refresh_grant(t, base, "/oauth2/access_token", client, other)
    tokens = {"authorization_code": code["access_token"],
              "refresh_token": refreshed["access_token"]}
    ids: dict[str, list[Any]] = {}
    for kind in ("devices", "groups", "scenes"):
        body = t.call("GET", f"{base}/v4/{kind}", f"{kind} of the fuzz user",
                      token=tokens["authorization_code"]).json()
        ids[kind] = [item["id"] for item in body.get(kind, [])]
    dictionaries = {
        **ids, "clients": [client[0], "lightify-demo"],
        "secrets": [client[1], "lightify-demo-secret"], "redirects": [REDIRECT],
        "response_types": ["code"], "grant_types": ["authorization_code", "refresh_token"],
    }
    bindings = {"path.deviceId": ("devices", 0.8), "path.groupId": ("groups", 0.8),
                "path.sceneId": ("scenes", 0.8),
                **both({"client_id": ("clients", 0.5), "redirect_uri": ("redirects", 0.5),
                        "response_type": ("response_types", 0.5)}),
                "body.client_secret": ("secrets", 0.5), "body.grant_type": ("grant_types", 0.5)}
    return Plan(tokens, ["authorization_code", "authorization_code", "refresh_token"],
                dictionaries, bindings)


NETATMO_CI = ("netatmo-ci", "netatmo-ci-secret")
NETATMO_LEGACY = ("netatmo-legacy", "netatmo-legacy-secret")
NETATMO_SCOPES = ("read_station read_thermostat write_thermostat read_homecoach read_camera "
                  "write_camera access_camera read_presence access_presence write_presence "
                  "read_magellan write_magellan read_bubendorff write_bubendorff "
                  "read_smokedetector read_carbonmonoxidedetector read_smarther "
                  "write_smarther")


def netatmo_plan(t: Target) -> Plan:
    base = f"{t.url}/netatmo"
    code = code_grant(t, base, "/oauth2/authorize", "/oauth2/token", NETATMO_CI, REDIRECT,
                      ("dev@netatmo.test", "dev"), NETATMO_SCOPES)
    other = code_grant(t, base, "/oauth2/authorize", "/oauth2/token", NETATMO_CI, REDIRECT,
                       ("dev@netatmo.test", "dev"), NETATMO_SCOPES)
    refreshed = refresh_grant(t, base, "/oauth2/token", NETATMO_CI, other)
    legacy = form_grant(t, base, "/oauth2/token", "password grant for netatmo-legacy",
                        grant_type="password", client_id=NETATMO_LEGACY[0],
                        client_secret=NETATMO_LEGACY[1], username="dev@netatmo.test",
                        password="dev",
                        scope="read_station read_thermostat write_thermostat read_homecoach")
    tokens = {"authorization_code": code["access_token"],
              "refresh_token": refreshed["access_token"], "password": legacy["access_token"]}
    main = tokens["authorization_code"]

    def body(method: str) -> dict[str, Any]:
        return t.call("POST", f"{base}/api/{method}", f"{method} of the fuzz user",
                      token=main).json()["body"]

    ids: dict[str, list[Any]] = {k: [] for k in ("homes", "rooms", "schedules", "devices",
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
    dictionaries = {
        **ids,
        "scales": ["max", "30min", "1hour", "3hours", "1day", "1week", "1month"],
        "types": ["Temperature", "Temperature,Humidity", "min_temp,max_temp",
                  "sum_rain", "boileron", "sum_boiler_on"],
        "therm_modes": ["schedule", "away", "hg", "off", "manual", "max", "home"],
        "bools": ["true", "false"],
        "clients": [NETATMO_CI[0], NETATMO_LEGACY[0]],
        "secrets": [NETATMO_CI[1], NETATMO_LEGACY[1]],
        "redirects": [REDIRECT], "response_types": ["code"],
        "grant_types": ["authorization_code", "refresh_token", "password"],
        "webhook_urls": ["http://127.0.0.1:9/netatmo-hook"],
        "app_types": ["app_security", "app_camera"],
    }
    bindings = both({
        "home_id": ("homes", 0.7), "room_id": ("rooms", 0.7),
        "schedule_id": ("schedules", 0.6), "device_id": ("devices", 0.7),
        "module_id": ("modules", 0.5), "scale": ("scales", 0.6), "type": ("types", 0.5),
        "mode": ("therm_modes", 0.6), "optimize": ("bools", 0.5),
        "real_time": ("bools", 0.5), "client_id": ("clients", 0.5),
        "client_secret": ("secrets", 0.5), "redirect_uri": ("redirects", 0.5),
        "response_type": ("response_types", 0.5), "grant_type": ("grant_types", 0.5),
        "url": ("webhook_urls", 0.6), "app_types": ("app_types", 0.5)})
    return Plan(tokens, ["authorization_code", "refresh_token", "authorization_code",
                         "password", "authorization_code"], dictionaries, bindings)


QIVIVO_CI = ("qivivo-ci", "qivivo-ci-secret")
QIVIVO_SETTINGS = ("presence_temperature_1", "presence_temperature_2",
                   "presence_temperature_3", "presence_temperature_4", "night_temperature",
                   "absence_temperature", "frost_protection_temperature")


def qivivo_plan(t: Target) -> Plan:
    base = f"{t.url}/qivivo"
    redirect = "https://qivivo.com/authorize"
    cc = form_grant(t, base, "/oauth/token", "client credentials for qivivo-ci",
                    grant_type="client_credentials", client_id=QIVIVO_CI[0],
                    client_secret=QIVIVO_CI[1])
    user = ("demo@qivivo.test", "demo")
    code = code_grant(t, base, "/", "/oauth/token", QIVIVO_CI, redirect, user)
    # a grant of its own to refresh: a refresh revokes the grant's earlier access token
    other = code_grant(t, base, "/", "/oauth/token", QIVIVO_CI, redirect, user)
    refreshed = refresh_grant(t, base, "/oauth/token", QIVIVO_CI, other)
    tokens = {"client_credentials": cc["access_token"],
              "authorization_code": code["access_token"],
              "refresh_token": refreshed["access_token"]}
    devices = t.call("GET", f"{base}/api/v2/devices", "devices of the fuzz user",
                     token=tokens["client_credentials"]).json()["devices"]
    order = {"thermostat": 0, "wireless-module": 1, "gateway": 2}
    uuids = [d["uuid"] for d in sorted(devices, key=lambda d: order.get(d.get("type"), 3))]
    dictionaries = {
        "uuids": uuids, "programs": [1, 2, 3],
        "days": ["monday", "tuesday", "sunday", "lundi"],
        "settings": list(QIVIVO_SETTINGS),
        "dates": ["2030-01-01 10:00", "2030-01-02 10:00"],
        "clients": [QIVIVO_CI[0]], "secrets": [QIVIVO_CI[1]], "redirects": [redirect],
        "response_types": ["code"],
        "grant_types": ["client_credentials", "authorization_code", "refresh_token"],
    }
    bindings = {"path.uuid": ("uuids", 0.8), "path.programId": ("programs", 0.6),
                "path.day": ("days", 0.6),
                "body.temperature_setting_name": ("settings", 0.6),
                "body.start_date": ("dates", 0.5), "body.end_date": ("dates", 0.5),
                **both({"client_id": ("clients", 0.5), "client_secret": ("secrets", 0.5),
                        "redirect_uri": ("redirects", 0.5),
                        "response_type": ("response_types", 0.5),
                        "grant_type": ("grant_types", 0.5)})}
    return Plan(tokens, ["client_credentials", "authorization_code", "client_credentials",
                         "refresh_token"], dictionaries, bindings)


def admin_plan(t: Target) -> Plan:
    vendors = list(PRESET_VENDORS)
    return Plan({"admin": t.admin_token} if t.admin_token else {},
                ["admin"] if t.admin_token else [],
                {"vendors": vendors},
                {"path.vendor": ("vendors", 0.7), "body.vendor": ("vendors", 0.5)})


def generic_plan(t: Target, vendor: str) -> Plan:
    """A vendor this command has no flow for: ``POST /_mockcloud/tokens`` for the first
    app and user of its part of the tenant's world."""
    world = t.admin("GET", "/world", "the fuzz tenant's world")
    section = (world.get("world", world) if isinstance(world, dict) else {}).get(vendor) or {}
    apps, users = section.get("apps") or [], section.get("users") or []
    if not apps or not users:
        raise FuzzError(f"the world has no {vendor} app and user to issue a token for")
    user = users[0].get("login") or users[0].get("email") or users[0].get("id")
    grant = t.admin("POST", "/tokens", f"a {vendor} token",
                    json={"vendor": vendor, "client_id": apps[0]["client_id"], "user": user})
    return Plan({"admin_issued": grant["access_token"]}, ["admin_issued"])


PLANS: dict[str, Callable[[Target], Plan]] = {
    "lightify": lightify_plan, "netatmo": netatmo_plan, "qivivo": qivivo_plan,
    "admin": admin_plan}


# --------------------------------------------------------------------------- the run


def write_config(path: Path, vendor: str, plan: Plan) -> Path:
    """A schemathesis.toml: named dictionaries, each bound to parameters with a
    probability (a dictionary with no values is left out)."""
    lines = [f"# written by `mockcloud fuzz {vendor}`", ""]
    usable = {k: v for k, v in plan.dictionaries.items() if v}
    for name, values in usable.items():
        lines += [f"[dictionaries.{name}]", f"values = {json.dumps(values)}", ""]
    lines.append("[parameters]")
    for key, (name, prob) in plan.bindings.items():
        if name in usable:
            lines.append(f'"{key}" = {{ dictionary = "{name}", probability = {prob} }}')
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def child_env(tokens: list[str]) -> dict[str, str]:
    """The schemathesis child's environment: no proxies, our hooks, this emulator
    package importable (a checkout is put on PYTHONPATH)."""
    env = {k: v for k, v in os.environ.items()
           if k.lower() not in ("http_proxy", "https_proxy", "all_proxy")}
    env["NO_PROXY"] = env["no_proxy"] = "127.0.0.1,localhost,::1"
    env["PYTHONUNBUFFERED"] = "1"  # output.txt follows the run as it goes
    env["SCHEMATHESIS_HOOKS"] = "emulator.toolkit.fuzz_hooks"
    env["MOCKCLOUD_FUZZ_TOKENS"] = json.dumps(tokens)
    root = Path(__file__).resolve().parents[2]
    if (root / "emulator" / "toolkit" / "fuzz.py").exists() and \
            root.name not in ("site-packages", "dist-packages"):
        paths = [p for p in env.get("PYTHONPATH", "").split(os.pathsep) if p]
        env["PYTHONPATH"] = os.pathsep.join([str(root), *paths])
    return env


def schemathesis_cmd(config: Path, location: Path, base: str, t: Target, args: argparse.Namespace,
                     out: Path) -> list[str]:
    return [sys.executable, "-m", "schemathesis.cli", "--config-file", str(config), "run",
            str(location), "--url", base, "-H", f"X-Mockcloud-Tenant: {t.tenant}",
            "--checks", ",".join(CHECKS),
            "--max-examples", str(args.max_examples), "--seed", str(args.seed),
            "--generation-database", "none", "--max-redirects", "0",
            "--request-timeout", "30", "--workers", "1", "--no-color",
            "--report", "json,junit", "--report-dir", str(out),
            "--report-json-path", str(out / "report.json"),
            "--report-junit-path", str(out / "junit.xml")]


def run_bounded(cmd: list[str], timeout: float, env: dict[str, str], cwd: Path,
                tee: Path, quiet: bool) -> int:
    """The schemathesis child with no stdin and a hard time limit; its output to ours
    (unless ``quiet``) and to ``tee``."""
    say("$ " + shlex.join(["schemathesis", *cmd[3:]]))
    proc = subprocess.Popen(cmd, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                            stderr=subprocess.STDOUT, text=True, errors="replace", env=env,
                            cwd=cwd, start_new_session=os.name == "posix")
    expired: list[bool] = []

    def expire() -> None:
        expired.append(True)
        stop(proc)

    timer = threading.Timer(timeout, expire)
    timer.start()
    try:
        with open(tee, "w", encoding="utf-8") as out:
            assert proc.stdout is not None
            for line in proc.stdout:
                out.write(line)
                if not quiet:
                    sys.stdout.write(line)
        sys.stdout.flush()
        status = proc.wait()
    finally:
        timer.cancel()
        stop(proc)
    if expired:
        raise Failed(f"schemathesis did not finish within {timeout:.0f} s (--timeout) and "
                     "was stopped")
    return status


def stop(proc: subprocess.Popen) -> None:
    from ..launcher import stop_process

    stop_process(proc, group=os.name == "posix")


@contextlib.contextmanager
def emulator(args: argparse.Namespace, vendor: str, out: Path) -> Iterator[Target]:
    tenant = args.tenant or f"fuzz-{vendor}"
    if args.against:
        yield Target(args.against.rstrip("/"), tenant, args.admin_token)
        return
    from ..launcher import ServerError, ServerProcess

    env = {f"MOCKCLOUD_{v.upper()}_EXPIRES_IN": str(TOKEN_LIFETIME) for v in PRESET_VENDORS}
    if vendor not in ALL:
        env[f"MOCKCLOUD_{vendor.upper()}_EXPIRES_IN"] = str(TOKEN_LIFETIME)
    base_env = {k: v for k, v in os.environ.items()
                if k.lower() not in ("http_proxy", "https_proxy", "all_proxy")}
    serve = ["--world", str(Path(args.world).resolve())] if args.world else []
    server = ServerProcess(*serve, env=env, base_env=base_env, timeout=60,
                           admin_token=secrets.token_urlsafe(18),
                           log_path=out / "emulator.log")
    try:
        server.start()
    except ServerError as exc:
        raise FuzzError(f"the emulator did not start: {exc}") from None
    try:
        yield Target(server.url, tenant, server.admin_token)
    finally:
        server.stop()


def fuzz_one(args: argparse.Namespace, vendor: str, out: Path) -> int:
    out.mkdir(parents=True, exist_ok=True)
    for old in ("report.json", "junit.xml", "output.txt", "emulator.log"):
        (out / old).unlink(missing_ok=True)
    started = time.monotonic()
    with emulator(args, vendor, out) as t:
        t.admin("GET", "/health", "the emulator's health")
        if not args.no_reset:
            t.admin("POST", "/reset", "resetting the fuzz tenant")
        if vendor == "admin":
            served, base = "/openapi.yaml", f"{t.url}/_mockcloud"
        else:
            served, base = f"/openapi/{vendor}.yaml", f"{t.url}/{vendor}"
        try:
            document = t.admin("GET", served, f"the contract the emulator serves for {vendor}")
        except FuzzError as exc:
            raise FuzzError(f"the emulator at {t.url} serves no contract for {vendor!r} "
                            f"({exc})") from None
        # the served document (bundled: every $ref inside), kept with the reports and
        # fuzzed from there (the control plane wants the admin token to serve it, the
        # API calls want the vendor's tokens)
        location = out / "openapi.yaml"
        location.write_text(document, encoding="utf-8")
        if vendor != "admin":
            t.admin("PUT", f"/quotas/{vendor}", f"switching the {vendor} quotas off",
                    json={"enabled": False, "rules": []})
        plan = PLANS[vendor](t) if vendor in PLANS else generic_plan(t, vendor)
        config = write_config(out / "schemathesis.toml", vendor, plan)
        say(f"\n{vendor}: emulator at {t.url}; tenant {t.tenant}; tokens: "
            + (", ".join(f"{g} (x{plan.rotation.count(g)} of {len(plan.rotation)})"
                         for g in plan.tokens) or "none")
            + "; ids: " + (", ".join(f"{len(v)} {k}" for k, v in plan.dictionaries.items())
                           or "none"))
        status = run_bounded(schemathesis_cmd(config, location, base, t, args, out),
                             args.timeout, child_env(plan.rotation_tokens()), out,
                             out / "output.txt", args.quiet)
        states = {}
        for grant, token in plan.tokens.items():
            if vendor == "admin":
                continue
            body = t.admin("POST", "/tokens/introspect", "introspecting a fuzz token",
                           json={"token": token})
            states[grant] = body.get("state") or ("active" if body.get("active")
                                                   else "inactive")
    log = out / "emulator.log"
    text = log.read_text(encoding="utf-8", errors="replace") if log.exists() else ""
    return verdict(vendor, out, status, states, text, time.monotonic() - started)


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
    """One line per distinct unhandled error in the emulator's log."""
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


def verdict(vendor: str, out: Path, status: int, states: dict[str, str], log: str,
            took: float) -> int:
    rpath = out / "report.json"
    if not rpath.exists():
        raise Failed(f"schemathesis exited with status {status} and wrote no report; see "
                     f"{out / 'output.txt'}")
    rep: dict[str, Any] = json.loads(rpath.read_text(encoding="utf-8"))
    ops, cases = rep.get("operations", {}), rep.get("test_cases", {})
    say(f"\nmockcloud fuzz {vendor}: {cases.get('generated')} cases on "
        f"{ops.get('tested')}/{ops.get('total')} operations ({ops.get('errored')} errored), "
        f"{cases.get('with_failures')} with failures, {cases.get('unique_failures')} unique; "
        f"schemathesis {rep.get('running_time', 0):.0f} s, {took:.0f} s in all; "
        f"seed {rep.get('seed')}")
    say("  phases: " + ", ".join(f"{k} {v.get('status')}"
                                 for k, v in rep.get("phases", {}).items()))
    if states:
        say("  tokens after the run: " + ", ".join(f"{g} {s}" for g, s in states.items()))
    failures = rep.get("failures", [])
    for f in failures:
        say(f"  FAILURE {f.get('code', '')} {f.get('title', '')} x{f.get('count', '')}: "
            + ", ".join(f.get("operations", [])))
    for kind, where in (rep.get("warnings") or {}).items():
        if where:
            say(f"  warning {kind}: {', '.join(map(str, where))}")
    curls = reproductions((out / "output.txt").read_text(encoding="utf-8", errors="replace"))
    if curls:
        say("  reproduce (the fuzz tenant's tokens; the Authorization header may be filtered):")
        for operation, curl in curls:
            say(f"    [{operation}] {curl}")
    traces = server_tracebacks(log)
    if traces:
        say(f"  unhandled errors in the emulator log ({out / 'emulator.log'}):")
        for line in traces:
            say(f"    {line}")
    say(f"  reports: {out}/ (report.json, junit.xml, output.txt)")
    problems = []
    if failures or rep.get("errors"):
        problems.append(f"{len(failures)} kind(s) of failure, {len(rep.get('errors', []))} "
                        "error(s)")
    if traces:
        problems.append(f"{len(traces)} unhandled error(s) in the emulator log")
    if status != 0 and not problems:
        problems.append(f"schemathesis exited with status {status}")
    dead = {g: s for g, s in states.items() if s != "active"}
    if dead:
        problems.append("fuzz token(s) ended " + ", ".join(f"{g} {s}" for g, s in dead.items())
                        + ": later cases may have met only 401s")
    if problems:
        say(f"FAIL ({vendor}): " + "; ".join(problems))
        return 1
    say(f"OK ({vendor}): no server errors, every response matched the contract.")
    return 0


# --------------------------------------------------------------------------- the command


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="mockcloud fuzz",
        description="schemathesis against the contract the emulator serves, with tokens "
                    "from the vendor's own OAuth flows (every grant it has), in a fuzz "
                    "tenant with quotas off. Exit 0 clean, 1 a 5xx, a contract violation "
                    "or the time limit, 2 usage. Needs: pip install 'mockcloud[fuzz]'.")
    p.add_argument("vendors", nargs="+", metavar="VENDOR",
                   help=f"{', '.join(ALL)}, another served vendor, or all ({', '.join(ALL)})")
    p.add_argument("--max-examples", type=int, default=None,
                   help="cases per operation and phase (default per vendor: "
                        + ", ".join(f"{k} {v}" for k, v in DEFAULT_EXAMPLES.items()) + ")")
    p.add_argument("--seed", type=int, default=2021,
                   help="schemathesis seed: runs repeat (default 2021)")
    p.add_argument("--against", metavar="URL", default=os.environ.get("MOCKCLOUD_URL"),
                   help="fuzz the emulator at URL (env MOCKCLOUD_URL) instead of starting one")
    p.add_argument("--admin-token", default=os.environ.get("MOCKCLOUD_ADMIN_TOKEN"),
                   help="admin token of the emulator at --against (env MOCKCLOUD_ADMIN_TOKEN)")
    p.add_argument("--tenant", help="the fuzz tenant (default fuzz-<vendor>); it is reset")
    p.add_argument("--no-reset", action="store_true",
                   help="keep the tenant as it is (its world, clock, faults) instead of "
                        "resetting it first")
    p.add_argument("--world", help="world file for the emulator this command starts")
    p.add_argument("--report-dir", type=Path,
                   help="where reports go (default reports/schemathesis/<vendor>/; with "
                        "several vendors, a folder per vendor under it)")
    p.add_argument("--timeout", type=float, default=900.0,
                   help="hard limit for each vendor's schemathesis run, seconds (default 900)")
    p.add_argument("--quiet", action="store_true",
                   help="only the summary (schemathesis's output is in output.txt)")
    return p


def main(argv: list[str] | None = None) -> int:
    p = parser()
    try:
        args = p.parse_args(argv)
    except SystemExit as exc:
        return int(exc.code or 0)
    vendors: list[str] = []
    for v in args.vendors:
        for name in (ALL if v == "all" else (v.lower(),)):
            if name not in vendors:
                vendors.append(name)
    bad = [v for v in vendors if not re.fullmatch(r"[a-z][a-z0-9_-]{0,40}", v)]
    if bad:
        p.print_usage(sys.stderr)
        print(f"mockcloud fuzz: not a vendor name: {', '.join(bad)}", file=sys.stderr)
        return 2
    if not args.against:
        from ..app import VENDORS

        known = {v.name for v in VENDORS} | {"admin"}
        unknown = [v for v in vendors if v not in known]
        if unknown:
            p.print_usage(sys.stderr)
            print(f"mockcloud fuzz: unknown vendor {', '.join(unknown)} (served: "
                  f"{', '.join(sorted(known))})", file=sys.stderr)
            return 2
    if args.max_examples is not None and args.max_examples < 1:
        print("mockcloud fuzz: --max-examples must be at least 1", file=sys.stderr)
        return 2
    try:
        import schemathesis  # noqa: F401
    except ImportError:
        print(INSTALL_HINT, file=sys.stderr)
        return 2
    results: dict[str, int] = {}
    given_examples = args.max_examples
    for vendor in vendors:
        args.max_examples = given_examples or DEFAULT_EXAMPLES.get(vendor, 25)
        if args.report_dir is None:
            out = Path("reports") / "schemathesis" / vendor
        else:
            out = args.report_dir / vendor if len(vendors) > 1 else args.report_dir
        try:
            results[vendor] = fuzz_one(args, vendor, out.resolve())
        except FuzzError as exc:
            print(f"mockcloud fuzz {vendor}: {exc}", file=sys.stderr)
            results[vendor] = 2
        except Failed as exc:
            say(f"FAIL ({vendor}): {exc}")
            results[vendor] = 1
        except requests.RequestException as exc:
            print(f"mockcloud fuzz {vendor}: the emulator did not answer: {exc}",
                  file=sys.stderr)
            results[vendor] = 2
    if len(results) > 1:
        say("\n" + "; ".join(f"{k}: {('OK', 'FAIL', 'NOT RUN')[v]}" for k, v in results.items()))
    return 1 if 1 in results.values() else max(results.values())
