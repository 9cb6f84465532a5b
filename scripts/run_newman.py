"""Run the seed Lightify Postman collection, unmodified, with newman against a live
emulator over TLS (``make newman``).

The collection's "1. Authorization code grant flow" folder ends by revoking the tokens
it obtained (and clearing ``access_token``), so the device, group and scene folders
cannot follow it in one run. Two newman runs, each with a fresh grant made by this
script through the emulator's real OAuth flow:

1. folder "1. Authorization code grant flow" as the app ``lightify-demo`` (not
   auto-approve, so the collection's authorize request gets the HTML consent page,
   200, as its test expects, instead of a redirect to the unreachable example.com).
   Its ``code`` comes from posting that same consent form as demo@lightify.test, so
   the code belongs to ``lightify-demo``; the collection exchanges it, refreshes and
   revokes.
2. folders 2-4 (devices, groups, scenes) with an ``access_token`` of the auto-approve
   app ``lightify-ci`` (same user, same gateway).

Then the JSON reports are checked: every test of run 1 passes (and all four OAuth
requests answer 200), every request of run 2 answers 2xx. Exit 1 otherwise; exit 0
with SKIP when ``../shared`` (where the seed lives) is missing.
"""

from __future__ import annotations

import json
import shutil
from typing import Any

from _emulator import (
    CI_APP,
    DEMO_APP,
    DEMO_USER,
    REDIRECT_URI,
    REPORTS,
    ROOT,
    SHARED,
    Emulator,
    ScriptError,
    authorize_code,
    http,
    run_bounded,
    run_main,
    say,
    table,
    tokens,
)

COLLECTION = SHARED / "seeds" / "002_676c98729ed5c31a.txt"
NEWMAN = ROOT / "node_modules" / ".bin" / "newman"
AUTH_FOLDER = "1. Authorization code grant flow"
API_FOLDERS = ("2. Devices", "3. Groups", "4. Scenes")
RUN_TIMEOUT = 300.0  # seconds per newman run (it takes a few)


def collection_layout() -> dict[str, list[str]]:
    """Folder name -> request names, from the collection itself."""
    data = json.loads(COLLECTION.read_text(encoding="utf-8"))
    return {f["name"]: [r["name"] for r in f.get("item", [])] for f in data["item"]}


def newman(run: str, folders: tuple[str, ...], env: dict[str, str]) -> dict[str, Any]:
    """One newman run; returns its parsed JSON report."""
    report = REPORTS / f"newman-{run}.json"
    report.unlink(missing_ok=True)
    cmd = [str(NEWMAN), "run", str(COLLECTION), "--insecure", "--color", "off",
           "--timeout-request", "30000", "--timeout", str(int(RUN_TIMEOUT * 1000) - 10000),
           "--reporters", "cli,json", "--reporter-json-export", str(report),
           "--export-environment", str(REPORTS / f"newman-{run}-environment.json")]
    for folder in folders:
        cmd += ["--folder", folder]
    for key, value in env.items():
        cmd += ["--env-var", f"{key}={value}"]
    status = run_bounded(cmd, RUN_TIMEOUT, f"newman ({run})", cwd=ROOT)
    if not report.exists():
        raise ScriptError(f"newman ({run}) exited with status {status} and wrote no report "
                          f"{report.relative_to(ROOT)}")
    data = json.loads(report.read_text(encoding="utf-8"))
    data["_exit_status"] = status
    return data


def executions(report: dict[str, Any]) -> list[dict[str, Any]]:
    return report.get("run", {}).get("executions", [])


def summarize(report: dict[str, Any], layout: dict[str, list[str]], folders: tuple[str, ...],
              require: str) -> tuple[list[list[str]], list[str]]:
    """Rows for the summary table and a list of problems.

    ``require``: "tests" (every assertion passes and the status is 200) or "2xx".
    """
    folder_of = {req: folder for folder, reqs in layout.items() for req in reqs}
    rows: list[list[str]] = []
    problems: list[str] = []
    seen: set[str] = set()
    for ex in executions(report):
        name = ex.get("item", {}).get("name", "?")
        seen.add(name)
        resp = ex.get("response") or {}
        code = resp.get("code")
        req = ex.get("request") or {}
        method = req.get("method", "?")
        asserts = ex.get("assertions") or []
        failed = [a for a in asserts if a.get("error")]
        if ex.get("requestError"):
            problems.append(f"{name}: request error: {ex['requestError'].get('message')}")
        ok = code is not None and (code == 200 if require == "tests" else 200 <= code < 300)
        if code is not None and not ok:
            problems.append(f"{name}: HTTP {code} {resp.get('status', '')}: "
                            f"{_body(resp)[:300]}")
        for a in failed:
            problems.append(f"{name}: test {a.get('assertion')!r} failed: "
                            f"{a['error'].get('message')}")
        tests = f"{len(asserts) - len(failed)}/{len(asserts)}" if asserts else "-"
        rows.append([folder_of.get(name, "?"), name, method, str(code), tests,
                     "ok" if ok and not failed else "FAIL"])
    for folder in folders:
        for name in layout.get(folder, []):
            if name not in seen:
                problems.append(f"{name}: never ran")
                rows.append([folder, name, "", "", "", "FAIL (not run)"])
    for failure in report.get("run", {}).get("failures", []):
        err = failure.get("error", {})
        if err.get("name") != "AssertionError":  # assertion failures are reported above
            src = failure.get("source", {}).get("name", "?")
            problems.append(f"{src}: {err.get('name')}: {err.get('message')}")
    return rows, problems


def _body(resp: dict[str, Any]) -> str:
    stream = resp.get("stream")
    if isinstance(stream, dict) and isinstance(stream.get("data"), list):
        return bytes(stream["data"]).decode("utf-8", "replace")
    return ""


def grant_still_alive(root_url: str) -> str | None:
    """After the auth folder no token of lightify-demo may be active. Returns a problem."""
    # newman cleared access_token on revoke; ask the emulator's control plane instead
    resp = http().get(root_url + "/_mockcloud/tokens",
                      params={"vendor": "lightify", "state": "active"}, timeout=30)
    if resp.status_code != 200:
        return None  # the admin listing is a bonus check, not the contract
    alive = [t for t in resp.json().get("tokens", [])
             if t.get("client_id") == DEMO_APP[0]]
    if alive:
        return (f"after 'Revoke a token' the emulator still lists {len(alive)} active "
                f"token(s) of {DEMO_APP[0]}")
    return None


def main() -> int:
    if not COLLECTION.exists():
        why = ("../shared is missing" if not SHARED.is_dir()
               else f"{COLLECTION} is missing")
        say(f"SKIP run_newman: {why}; the seed Lightify collection is not available here.")
        return 0
    if not NEWMAN.exists():
        raise ScriptError(f"{NEWMAN.relative_to(ROOT)} not found: run `npm install` in "
                          f"{ROOT} (make test does it)")
    if shutil.which("node") is None:
        raise ScriptError("node is not on PATH; newman needs Node.js")
    layout = collection_layout()
    for folder in (AUTH_FOLDER, *API_FOLDERS):
        if folder not in layout:
            raise ScriptError(f"the collection has no folder {folder!r}: {list(layout)}")

    with Emulator(tls=True, log_name="newman-emulator.log") as emu:
        base = emu.url + "/lightify"
        address = base.split("://", 1)[1]  # 127.0.0.1:PORT/lightify
        common = {"address": address, "oauthBasePath": "/oauth2", "apiBasePath": "/v4",
                  "redirect_uri": REDIRECT_URI, "deviceId": "123456-d01",
                  "group_id": "123456-g02", "scene_id": "123456-s01"}
        say(f"emulator at {emu.url} (TLS, self-signed)")

        code = authorize_code(base, DEMO_APP[0], user=DEMO_USER)
        auth = newman("auth", (AUTH_FOLDER,), {
            **common, "client_id": DEMO_APP[0], "client_secret": DEMO_APP[1], "code": code})
        rows, problems = summarize(auth, layout, (AUTH_FOLDER,), "tests")
        leftover = grant_still_alive(emu.url)
        if leftover:
            problems.append(leftover)

        grant = tokens(base, CI_APP)
        api = newman("api", API_FOLDERS, {
            **common, "client_id": CI_APP[0], "client_secret": CI_APP[1],
            "access_token": grant["access_token"], "refresh_token": grant["refresh_token"],
            "token_type": grant.get("token_type", "Bearer")})
        rows2, problems2 = summarize(api, layout, API_FOLDERS, "2xx")
        if problems or problems2:
            say("\nemulator log tail:\n" + (emu.log_tail(2000) or "(empty)"))

    say("\nnewman summary (Lightify seed collection, unmodified):")
    say(table(rows + rows2, ["folder", "request", "method", "status", "tests", "result"]))
    all_problems = problems + problems2
    for name, rep in (("auth", auth), ("api", api)):
        if rep["_exit_status"] != 0 and not all_problems:
            all_problems.append(f"newman ({name}) exited with status {rep['_exit_status']}")
    say(f"\nreports: {REPORTS.relative_to(ROOT)}/newman-auth.json, "
        f"{REPORTS.relative_to(ROOT)}/newman-api.json")
    if all_problems:
        say(f"\nFAIL: {len(all_problems)} problem(s):")
        for p in all_problems:
            say(f"  - {p}")
        return 1
    say(f"\nOK: {len(rows) + len(rows2)} requests; the OAuth folder's tests passed and every "
        "device, group and scene request answered 2xx.")
    return 0


if __name__ == "__main__":
    run_main(main)
