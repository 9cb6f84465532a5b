"""Shared helpers for the ``make test`` scripts: paths, a live emulator, OAuth tokens.

``Emulator`` starts ``python -m emulator.cli serve --port 0`` through the package's one
launcher (``emulator.launcher.ServerProcess``): its own process group, a temporary
``MOCKCLOUD_HOME`` (so the self-signed TLS certificate never touches the user's home)
and its output in a log file under reports/ (never an unread pipe that could fill up
and stall the server). ``authorize_code`` / ``tokens`` walk the emulator's real OAuth
2.0 authorization-code flow, with or without the HTML consent form.

Everything talks to 127.0.0.1 only.
"""

from __future__ import annotations

import os
import shlex
import signal
import subprocess
import sys
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

ROOT = Path(__file__).resolve().parents[1]
SHARED = ROOT.parent / "shared"
REPORTS = ROOT / "reports"
if str(ROOT) not in sys.path:  # run as a script: make `emulator` importable
    sys.path.insert(1, str(ROOT))

from emulator.launcher import ServerError, ServerProcess, stop_process  # noqa: E402

REDIRECT_URI = "https://example.com/callback"
# apps and user of the default world (emulator/worlds/default.yaml)
DEMO_APP = ("lightify-demo", "lightify-demo-secret")  # shows the consent page
CI_APP = ("lightify-ci", "lightify-ci-secret")  # auto-approves as the demo user
DEMO_USER = ("demo@lightify.test", "demo")


class ScriptError(RuntimeError):
    """A failure worth one clear line (and a non-zero exit), not a traceback."""


def say(msg: str) -> None:
    print(msg, flush=True)


def run_main(main: Any) -> None:
    """Run ``main() -> int`` and exit with its status; ScriptError -> exit 1."""
    name = Path(sys.argv[0]).name

    def terminate(signum: int, _frame: Any) -> None:
        raise SystemExit(128 + signum)  # unwinds the ``with Emulator()`` blocks

    signal.signal(signal.SIGTERM, terminate)
    signal.signal(signal.SIGHUP, terminate)
    try:
        code = main()
    except ScriptError as exc:
        say(f"{name}: FAIL: {exc}")
        code = 1
    except KeyboardInterrupt:
        say(f"{name}: interrupted")
        code = 130
    except OSError as exc:  # includes requests' ConnectionError and Timeout
        say(f"{name}: FAIL: {type(exc).__name__}: {exc}")
        code = 1
    sys.exit(code)


def local_env(**extra: str) -> dict[str, str]:
    """The environment for child tools: no proxies (everything is on 127.0.0.1)."""
    env = {k: v for k, v in os.environ.items()
           if k.lower() not in ("http_proxy", "https_proxy", "all_proxy")}
    env["NO_PROXY"] = env["no_proxy"] = "127.0.0.1,localhost,::1"
    return {**env, **extra}


def http() -> Any:
    """A requests session that accepts the self-signed certificate quietly."""
    import requests
    import urllib3

    urllib3.disable_warnings(urllib3.exceptions.InsecureRequestWarning)
    s = requests.Session()
    s.verify = False
    s.trust_env = False  # never go through a proxy: everything is on 127.0.0.1
    return s


@dataclass
class Emulator:
    """A live ``mockcloud serve`` on a free port of 127.0.0.1."""

    tls: bool = False
    env: dict[str, str] | None = None
    log_name: str = "emulator.log"
    start_timeout: float = 60.0

    def __post_init__(self) -> None:
        self.url = ""
        self.server: ServerProcess | None = None
        self.log_path = REPORTS / self.log_name

    @property
    def proc(self) -> subprocess.Popen | None:
        return self.server.proc if self.server is not None else None

    def __enter__(self) -> Emulator:
        try:
            self.start()
        except BaseException:
            self.stop()
            raise
        return self

    def __exit__(self, *exc: Any) -> None:
        self.stop()

    def start(self) -> None:
        self.server = ServerProcess(*(["--tls"] if self.tls else []), base_env=local_env(),
                                    env=self.env, timeout=self.start_timeout,
                                    log_path=self.log_path, cwd=ROOT)
        try:
            self.server.start()
        except ServerError as exc:
            raise ScriptError(f"the emulator did not start: {exc}") from None
        self.url = self.server.url

    def stop(self) -> None:
        server, self.server = self.server, None
        if server is not None:
            server.stop()  # the server (granian) has worker children: it stops the group

    def log_tail(self, chars: int = 4000) -> str:
        try:
            return self.log_path.read_text(encoding="utf-8", errors="replace")[-chars:]
        except OSError:
            return ""


def _code_from(resp: Any, what: str) -> str:
    if resp.status_code not in (301, 302, 303, 307):
        raise ScriptError(f"{what}: expected a redirect with a code, got HTTP "
                          f"{resp.status_code}: {resp.text[:300]}")
    query = parse_qs(urlsplit(resp.headers.get("Location", "")).query)
    if "code" not in query:
        raise ScriptError(f"{what}: the redirect carries no code: {resp.headers.get('Location')}")
    return query["code"][0]


def authorize_code(base: str, client_id: str, *, user: tuple[str, str] | None = None,
                   redirect_uri: str = REDIRECT_URI, state: str = "STATE-mockcloud",
                   headers: dict[str, str] | None = None) -> str:
    """An authorization code for ``client_id``, from ``<base>/oauth2/authorize``.

    Without ``user`` the app must be auto-approve (GET answers 302 at once); with
    ``user`` (email, password) the consent form is posted as that user approving.
    """
    params = {"client_id": client_id, "redirect_uri": redirect_uri, "state": state,
              "response_type": "code"}
    s = http()
    url = base.rstrip("/") + "/oauth2/authorize"
    if user is None:
        resp = s.get(url, params=params, headers=headers, allow_redirects=False, timeout=30)
        return _code_from(resp, f"GET /oauth2/authorize for {client_id}")
    form = {**params, "email": user[0], "password": user[1], "decision": "approve"}
    resp = s.post(url, data=form, headers=headers, allow_redirects=False, timeout=30)
    return _code_from(resp, f"consent form for {client_id} as {user[0]}")


def tokens(base: str, client: tuple[str, str], *, user: tuple[str, str] | None = None,
           redirect_uri: str = REDIRECT_URI, headers: dict[str, str] | None = None
           ) -> dict[str, Any]:
    """A fresh token response (access_token, refresh_token, ...) through the real flow."""
    code = authorize_code(base, client[0], user=user, redirect_uri=redirect_uri,
                          headers=headers)
    resp = http().post(base.rstrip("/") + "/oauth2/access_token", headers=headers, timeout=30,
                       data={"grant_type": "authorization_code", "code": code,
                             "client_id": client[0], "client_secret": client[1],
                             "redirect_uri": redirect_uri})
    if resp.status_code != 200:
        raise ScriptError(f"code exchange for {client[0]} answered HTTP {resp.status_code}: "
                          f"{resp.text[:300]}")
    body = resp.json()
    if not body.get("access_token"):
        raise ScriptError(f"code exchange for {client[0]} returned no access_token: {body}")
    return body


def run_bounded(cmd: list[str], timeout: float, what: str, *, tee: Path | None = None,
                **kw: Any) -> int:
    """Run a child command with no stdin and a hard time limit; its output goes to our
    stdout and, with ``tee``, also to that file. Returns the exit status."""
    say("$ " + shlex.join(cmd))
    out = open(tee, "w", encoding="utf-8") if tee else None  # noqa: SIM115
    pipe = {"stdout": subprocess.PIPE, "stderr": subprocess.STDOUT, "text": True,
            "errors": "replace"} if out else {}
    kw.setdefault("env", local_env())
    proc = subprocess.Popen(cmd, stdin=subprocess.DEVNULL, start_new_session=True,
                            **pipe, **kw)
    expired: list[bool] = []

    def expire() -> None:
        expired.append(True)
        kill_group(proc)

    timer = threading.Timer(timeout, expire)
    timer.start()
    try:
        if out is not None and proc.stdout is not None:
            for line in proc.stdout:
                sys.stdout.write(line)
                out.write(line)
            sys.stdout.flush()
        status = proc.wait()
    finally:
        timer.cancel()
        if out is not None:
            out.close()
        kill_group(proc)
    if expired:
        raise ScriptError(f"{what} did not finish within {timeout:.0f} s and was stopped")
    return status


def kill_group(proc: subprocess.Popen) -> None:
    """Stop a child we started, and its children (it leads its own process group)."""
    stop_process(proc, group=True)


def table(rows: list[list[str]], header: list[str]) -> str:
    widths = [max(len(str(r[i])) for r in [header, *rows]) for i in range(len(header))]
    line = "  ".join("-" * w for w in widths)
    out = ["  ".join(str(h).ljust(w) for h, w in zip(header, widths, strict=True)), line]
    out += ["  ".join(str(c).ljust(w) for c, w in zip(r, widths, strict=True)) for r in rows]
    return "\n".join(out)
