"""A bare Flask hello-world: the yardstick bench/run.py measures the emulator against.

Served the same way as the emulator (granian, WSGI, one worker), so the ratio
emulator/hello-world isolates what mockcloud itself costs per request.

``GET /`` is the hello-world of the target. ``PATCH /`` reads the request body and
answers the same: run with the emulator's PATCH request (same headers, same JSON
body), it shows what the server and Flask charge for a request with a body, before
any emulator code runs.

``GET /work?us=N`` spends N microseconds of its thread's CPU before it answers: the
hello-world at the cost of an emulator row (``bench/tail.py``), so that what a row's
tail owes to its cost is told apart from what it adds beyond it.

``pinned`` is the same app with its request threads on one CPU, as ``mockcloud serve``
runs the emulator's (``emulator/affinity.py``): bench/run.py's context row, so that
what the pinning gives the emulator is told apart from what it gives any Flask app.
"""

import time

from flask import Flask, request

app = Flask(__name__)


@app.get("/")
def hello() -> str:
    return "Hello, World!"


@app.patch("/")
def hello_with_body() -> str:
    request.get_data()
    return "Hello, World!"


@app.get("/work")
def hello_at_a_cost() -> str:
    end = time.thread_time_ns() + 1000 * request.args.get("us", 0, type=int)
    while time.thread_time_ns() < end:
        pass
    return "Hello, World!"


def _pinned():
    from emulator.affinity import serving

    return serving(app)


pinned = _pinned()
