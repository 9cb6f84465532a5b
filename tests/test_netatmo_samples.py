"""The emulator's answers carry the real samples' key paths (issue 8).

For each response and error sample of ``../shared/real-samples/netatmo/manifest.json``
a world shaped like it is loaded (``PUT /_mockcloud/world``) into a fresh tenant, the
same call is made, and the sample's JSON key paths (arrays collapsed to ``[]``) are
looked for in the answer. The share per endpoint is printed (run with ``-s`` or
``-rP`` to see it; it is also written to ``reports/netatmo-samples.txt``) and must be
at least 95 % overall over issue 8's endpoints; the security endpoints (gethomedata,
getevents, geteventsuntil, setstate) are shown but not counted. Every answer is also
checked against the contract, and an error sample's status against the answer's.

Skipped when ``../shared`` (the samples) is absent.
"""

from __future__ import annotations

import re
import uuid
from collections import defaultdict
from pathlib import Path
from urllib.parse import parse_qs, urlparse

import pytest

from emulator.testing import Admin, AdminError
from tests.conftest import watched_session
from tests.netatmo_sample_world import (
    CLIENT,
    MANIFEST,
    REDIRECT,
    Plan,
    key_paths,
    load,
    manifest,
    next_issue,
    plan,
)

TARGET = 0.95
REPORT = Path(__file__).resolve().parents[1] / "reports" / "netatmo-samples.txt"

pytestmark = pytest.mark.skipif(not MANIFEST.exists(),
                                reason=f"real samples absent ({MANIFEST})")


def _entries() -> list[dict]:
    if not MANIFEST.exists():
        return []
    return [e for e in manifest() if e["kind"] in ("response", "error")]


def answer(admin: Admin, p: Plan, http) -> tuple[int, object]:
    """Load the plan's world in the tenant, make its call; (status, JSON body)."""
    admin.load_world(p.world)
    if p.clock is not None:
        admin.freeze(p.clock)
    base = admin.url("netatmo")
    email = p.world["netatmo"]["users"][0]["email"]
    if p.call.oauth:
        code = "not-a-code"
        if p.call.oauth == "code":
            resp = http.get(f"{base}/oauth2/authorize", allow_redirects=False, params={
                "client_id": CLIENT[0], "redirect_uri": REDIRECT, "response_type": "code",
                "state": "s", "scope": "read_station read_thermostat write_thermostat "
                                       "read_camera access_camera read_presence "
                                       "access_presence"})
            assert resp.status_code == 302, resp.text
            code = parse_qs(urlparse(resp.headers["Location"]).query)["code"][0]
        resp = http.post(f"{base}/oauth2/token", data={
            "grant_type": "authorization_code", "code": code, "redirect_uri": REDIRECT,
            "client_id": CLIENT[0], "client_secret": CLIENT[1]})
    else:
        headers = {}
        if p.call.scope:
            tok = admin.issue_token("netatmo", CLIENT[0], email, p.call.scope)
            headers["Authorization"] = f"Bearer {tok['access_token']}"
        resp = http.post(f"{base}/api/{p.call.path}", data=p.call.params, headers=headers)
    try:
        return resp.status_code, resp.json()
    except ValueError:
        return resp.status_code, resp.text


def test_samples_key_paths(mockcloud_server: str, mockcloud_admin_token: str | None):
    http, watch = watched_session("netatmo")
    rows: list[dict] = []
    for entry in _entries():
        p = plan(entry)
        tenant = f"samples-{entry['file'][:24].replace('.', '-')}-{uuid.uuid4().hex[:6]}"
        admin = Admin(mockcloud_server, tenant, token=mockcloud_admin_token)
        try:
            status, body = answer(admin, p, http)
        except AdminError as exc:  # the world format cannot say what the sample has
            p.notes.append(f"world refused: {exc}")
            status, body = 0, None
        paths = key_paths(load(p.file))
        got = key_paths(body) if isinstance(body, dict | list) else set()
        status_ok = p.status is None or p.status == status
        if p.counted:  # persons and other device families (next issue) shown apart
            want = {k for k in paths if not next_issue(k)}
            aside = paths - want
        else:
            want, aside = paths, set()
        rows.append({"plan": p, "status": status, "want": want, "have": want & got,
                     "missing": sorted(want - got), "status_ok": status_ok,
                     "aside": aside, "aside_have": aside & got})

    text = report(rows)
    REPORT.parent.mkdir(parents=True, exist_ok=True)
    REPORT.write_text(text + "\n", encoding="utf-8")
    print("\n" + text)

    counted = [r for r in rows if r["plan"].counted]
    share = sum(len(r["have"]) for r in counted) / max(1, sum(len(r["want"])
                                                            for r in counted))
    problems = []
    if share < TARGET:
        problems.append(f"overall share {share:.1%} < {TARGET:.0%}")
    problems += [f"{r['plan'].file}: HTTP {r['status']}, the sample is {r['plan'].status}"
                 for r in counted if not r["status_ok"]]
    problems += watch.problems
    assert not problems, "\n".join(problems) + "\n\n" + text


def report(rows: list[dict]) -> str:
    per: dict[tuple[bool, str], list[dict]] = defaultdict(list)
    for r in rows:
        per[(r["plan"].counted, r["plan"].endpoint)].append(r)
    lines = [f"{'endpoint':28} {'samples':>7} {'paths':>6} {'present':>7} {'share':>7}",
             "-" * 60]
    totals = {True: [0, 0], False: [0, 0]}
    for (counted, endpoint), rs in sorted(per.items(), key=lambda kv: (not kv[0][0],
                                                                        kv[0][1])):
        want = sum(len(r["want"]) for r in rs)
        have = sum(len(r["have"]) for r in rs)
        totals[counted][0] += want
        totals[counted][1] += have
        mark = "" if counted else "  (next issue, not counted)"
        lines.append(f"{endpoint:28} {len(rs):7} {want:6} {have:7} "
                     f"{have / max(1, want):7.1%}{mark}")
    aside = sum(len(r["aside"]) for r in rows)
    aside_have = sum(len(r["aside_have"]) for r in rows)
    totals[False][0] += aside
    totals[False][1] += aside_have
    lines.append("-" * 60)
    for counted, label in ((True, "overall (issue 8)"), (False, "next issue")):
        want, have = totals[counted]
        lines.append(f"{label:28} {'':7} {want:6} {have:7} {have / max(1, want):7.1%}")
    lines.append(f"(next issue includes {aside} key paths of issue 8's endpoints: persons "
                 f"and lights/shutters/meters/cameras modules; {aside_have} present)")
    lines += ["", "per sample (missing key paths; notes on the world):"]
    for r in rows:
        p = r["plan"]
        lines.append(f"- {p.file} [{p.endpoint}] HTTP {r['status']}"
                     f"{'' if r['status_ok'] else f' (sample: {p.status})'}: "
                     f"{len(r['have'])}/{len(r['want'])}"
                     f"{'' if p.counted else ' (not counted)'}")
        if not p.counted and len(r["missing"]) > 5:
            lines.append(f"    missing {len(r['missing'])} key paths, e.g. "
                         + ", ".join(r["missing"][:5]))
        else:
            lines += [f"    missing {m}" for m in r["missing"]]
        for m in sorted(r["aside"] - r["aside_have"]):
            lines.append(f"    missing {m} (next issue, not counted)")
        for n in dict.fromkeys(re.sub(r"\[\d+\]", "[*]", n) for n in p.notes):
            lines.append(f"    note: {n}")
    return "\n".join(lines)
