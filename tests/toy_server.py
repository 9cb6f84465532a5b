"""The toy vendor served for real, and a real webhook receiver, for tests and the bench.

``serve_toy(folder, ...)`` starts ``mockcloud serve`` with the default world plus the
toy's section (``TOY_WORLD``) and the toy vendor mounted. ``Receiver`` is an HTTP server
on a free port in a thread of this process: it keeps every POST it gets and answers
what the test tells it (a status for the next requests, or holding a request until
released).
"""

from __future__ import annotations

import contextlib
import json
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import yaml

from emulator.launcher import ServerProcess
from emulator.settings import DEFAULT_WORLD

HERE = Path(__file__).resolve().parent
TOY_WORLD = """
toy:
  apps:
    - {client_id: toy-app, client_secret: toy-secret, redirect_uris: [https://example.com/cb],
       auto_approve: true, auto_approve_user: ann@toy.test, owner: ann@toy.test,
       scopes: [read_lamps, write_lamps]}
    - {client_id: toy-other, client_secret: toy-other-secret, owner: bob@toy.test,
       redirect_uris: [https://example.com/cb], scopes: [read_lamps]}
  users:
    - {email: ann@toy.test, password: ann, lamps: [{id: l1, name: desk}, {id: l2}]}
    - {email: bob@toy.test, password: bob, id: bob-1, lamps: [{id: l3}]}
"""


def toy_world(folder: Path) -> Path:
    world = yaml.safe_load(DEFAULT_WORLD.read_text()) | yaml.safe_load(TOY_WORLD)
    path = folder / "world.yaml"
    path.write_text(yaml.safe_dump(world))
    return path


@contextlib.contextmanager
def serve_toy(folder: Path, *args: str, env: dict[str, str] | None = None
              ) -> Iterator[ServerProcess]:
    """A real ``mockcloud serve`` with the toy vendor mounted (``args``: more flags)."""
    env = {"MOCKCLOUD_VENDORS": "toy_vendor:VENDOR", "PYTHONPATH": str(HERE), **(env or {})}
    with ServerProcess("--world", str(toy_world(folder)), *args, env=env) as server:
        yield server


class Receiver:
    """A webhook receiver: ``posts`` (each a dict: path, headers, json, code, kept as it
    arrives), ``answer(*codes)`` (the statuses of the next requests; then 200),
    ``hold()``/``release()`` (keep the replies to the next requests waiting, at most
    ``hold_limit`` seconds, until released; ``holding`` is set while one waits)."""

    def __init__(self, hold_limit: float = 30.0) -> None:
        self.posts: list[dict[str, Any]] = []
        self.codes: list[int] = []
        self.arrived = threading.Condition()
        self.held = threading.Event()       # set: requests are held
        self._released = threading.Event()
        self.holding = threading.Event()    # set while a request is being held
        self.hold_limit = hold_limit
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"   # keep-alive, as real receivers do
            disable_nagle_algorithm = True   # else each reply waits for a delayed ACK

            def do_POST(self) -> None:
                raw = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                receiver._received(self, raw)

            def log_message(self, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server.server_port}/hook"

    def _received(self, handler: BaseHTTPRequestHandler, raw: bytes) -> None:
        with self.arrived:
            code = self.codes.pop(0) if self.codes else 200
            self.posts.append({"path": handler.path, "headers": dict(handler.headers),
                               "json": json.loads(raw or b"null"), "code": code})
            self.arrived.notify_all()
        if self.held.is_set():
            self.holding.set()
            self._released.wait(self.hold_limit)
            self.holding.clear()
        body = b'{"ok":true}'
        try:
            handler.send_response(code)
            handler.send_header("Content-Type", "application/json")
            handler.send_header("Content-Length", str(len(body)))
            handler.end_headers()
            handler.wfile.write(body)
        except OSError:  # the sender gave up waiting (its timeout)
            handler.close_connection = True

    def answer(self, *codes: int) -> None:
        self.codes = list(codes)

    def hold(self) -> None:
        self._released = threading.Event()
        self.held.set()

    def release(self) -> None:
        self.held.clear()
        self._released.set()

    def payloads(self, push_type: str | None = None) -> list[Any]:
        """The JSON bodies received (of one push_type), in order."""
        return [p["json"] for p in self.posts
                if push_type is None or p["json"].get("push_type") == push_type]

    def wait_for(self, count: int, timeout: float = 10.0) -> bool:
        """Until ``count`` posts arrived (False if ``timeout`` real seconds ran out)."""
        with self.arrived:
            return self.arrived.wait_for(lambda: len(self.posts) >= count, timeout)

    def close(self) -> None:
        self.release()
        self.server.shutdown()
        self.server.server_close()
