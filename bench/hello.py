"""A bare Flask hello-world: the yardstick bench/run.py measures the emulator against.

Served the same way as the emulator (granian, WSGI, one worker), so the ratio
emulator/hello-world isolates what mockcloud itself costs per request.

``GET /`` is the hello-world of the target. ``PATCH /`` reads the request body and
answers the same: run with the emulator's PATCH request (same headers, same JSON
body), it shows what the server and Flask charge for a request with a body, before
any emulator code runs.
"""

from flask import Flask, request

app = Flask(__name__)


@app.get("/")
def hello() -> str:
    return "Hello, World!"


@app.patch("/")
def hello_with_body() -> str:
    request.get_data()
    return "Hello, World!"
