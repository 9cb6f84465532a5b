"""CPU and instructions per token refresh beside the hello-world's, in process.

Lightify's ``grant_type=refresh_token`` with rotation (each refresh uses the token the
last one returned), as ``bench/run.py``'s refresh row sends it, called straight on the
WSGI app (``emulator.app.create_app()``, in-memory store, default world and tenant) with
an environ shaped as granian's (the process environment copied into it, the CGI keys,
wrk's headers), next to ``bench/hello.py``'s ``GET /`` the same way. After setup,
``gc.freeze()`` as ``emulator/wsgi.py`` does. Run from the repository root::

    .venv/bin/python bench/instr_refresh.py [--checkout DIR] [-n 1000] [--rounds 7]
    .venv/bin/python bench/instr_refresh.py --callgrind [--checkout DIR] [-n 1000]

The first prints the best of ``--rounds`` CPU times per call (``time.process_time``)
of each, and their ratio. ``--callgrind`` runs the script under ``valgrind
--tool=callgrind`` twice (the refresh, the hello-world), counting only the
instructions of the measured loop (it runs inside ``functools.reduce``, which nothing
else on these paths calls: ``--toggle-collect=functools_reduce``), and prints thousands
of instructions per call: deterministic, so a loaded machine does not matter.
``--checkout`` measures another tree (a ``git worktree`` of an older commit) with
this interpreter.
"""

from __future__ import annotations

import argparse
import functools
import gc
import io
import json
import os
import re
import subprocess
import sys
import tempfile
import time
import urllib.parse
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
CLIENT_ID, CLIENT_SECRET = "lightify-ci", "lightify-ci-secret"
REDIRECT_URI = "https://example.com/callback"
FORM = "application/x-www-form-urlencoded"


def _loops(checkout: Path):
    """(one refresh, one hello-world call), each a function of nothing."""
    sys.path.insert(0, str(checkout))
    os.chdir(checkout)
    from bench.hello import app as hello
    from emulator.app import create_app
    from emulator.settings import Settings

    base = {k: v for k, v in os.environ.items() if not k.startswith(("HTTP_", "MOCKCLOUD_"))}
    app = create_app(Settings(state="memory"))

    def call(wsgi, method: str, path: str, query: str = "", body: bytes = b"",
             ctype: str | None = None) -> tuple[list, bytes]:
        environ = {**base, "GATEWAY_INTERFACE": "CGI/1.1", "SCRIPT_NAME": "",
                   "SERVER_SOFTWARE": "Granian", "wsgi.errors": sys.stderr,
                   "wsgi.input_terminated": True, "wsgi.multiprocess": False,
                   "wsgi.multithread": True, "wsgi.run_once": False, "wsgi.version": (1, 0),
                   "SERVER_PROTOCOL": "HTTP/1.1", "SERVER_NAME": "127.0.0.1",
                   "SERVER_PORT": "8000", "REMOTE_ADDR": "127.0.0.1",
                   "REQUEST_METHOD": method, "PATH_INFO": path, "QUERY_STRING": query,
                   "wsgi.url_scheme": "http", "wsgi.input": io.BytesIO(body),
                   "CONTENT_LENGTH": str(len(body)), "HTTP_HOST": "127.0.0.1:8000"}
        if ctype:
            environ["CONTENT_TYPE"] = ctype
        answer: list = []
        data = b"".join(wsgi(environ, lambda status, headers, exc=None: answer.extend(
            (status, headers))))
        return answer, data

    query = urllib.parse.urlencode({"client_id": CLIENT_ID, "redirect_uri": REDIRECT_URI,
                                    "state": "b", "response_type": "code"})
    (_, headers), _ = call(app, "GET", "/lightify/oauth2/authorize", query)
    code = urllib.parse.parse_qs(urllib.parse.urlsplit(dict(headers)["Location"]).query)
    form = urllib.parse.urlencode({"grant_type": "authorization_code", "client_id": CLIENT_ID,
                                   "client_secret": CLIENT_SECRET, "code": code["code"][0],
                                   "redirect_uri": REDIRECT_URI}).encode()
    _, data = call(app, "POST", "/lightify/oauth2/access_token", body=form, ctype=FORM)
    chain = [json.loads(data)["refresh_token"]]

    def refresh() -> None:
        body = (f"grant_type=refresh_token&client_id={CLIENT_ID}&client_secret="
                f"{CLIENT_SECRET}&refresh_token={chain[0]}").encode()
        (status, _), data = call(app, "POST", "/lightify/oauth2/access_token", body=body,
                                 ctype=FORM)
        assert status.startswith("200"), data
        chain[0] = json.loads(data)["refresh_token"]

    def hello_world() -> None:
        (status, _), _ = call(hello, "GET", "/")
        assert status.startswith("200")

    for _ in range(300):
        refresh()
        hello_world()
    gc.collect()
    gc.freeze()
    return refresh, hello_world


def _callgrind(checkout: Path, n: int) -> None:
    for what in ("refresh", "hello"):
        with tempfile.TemporaryDirectory() as tmp:
            out = subprocess.run(
                ["valgrind", "--tool=callgrind", "--toggle-collect=functools_reduce",
                 f"--callgrind-out-file={tmp}/out", sys.executable, __file__,
                 "--checkout", str(checkout), "-n", str(n), "--only", what],
                capture_output=True, text=True, check=True).stderr
        total = int(re.search(r"Collected : (\d+)", out).group(1))
        print(f"{what}: {total / n / 1000:,.0f}k instructions a call")


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--checkout", type=Path, default=ROOT)
    p.add_argument("-n", type=int, default=1000, help="calls measured (per round)")
    p.add_argument("--rounds", type=int, default=7)
    p.add_argument("--callgrind", action="store_true")
    p.add_argument("--only", choices=("refresh", "hello"), help=argparse.SUPPRESS)
    args = p.parse_args()
    checkout = args.checkout.resolve()
    if args.callgrind:
        return _callgrind(checkout, args.n)
    refresh, hello_world = _loops(checkout)
    if args.only:  # under callgrind: only the loop inside functools.reduce counts
        f = refresh if args.only == "refresh" else hello_world
        functools.reduce(lambda _, __: f(), range(args.n), None)
        return
    best: dict[str, float] = {}
    for _ in range(args.rounds):
        for name, f in (("refresh", refresh), ("hello", hello_world)):
            t0 = time.process_time()
            for _ in range(args.n):
                f()
            best[name] = min(best.get(name, 1e9), (time.process_time() - t0) / args.n * 1e6)
    print(f"refresh {best['refresh']:.1f} us, hello-world {best['hello']:.1f} us CPU a call: "
          f"{best['hello'] / best['refresh']:.1%} (load {os.getloadavg()[0]:.1f})")


if __name__ == "__main__":
    main()
