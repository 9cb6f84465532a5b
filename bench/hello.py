"""A bare Flask hello-world: the yardstick bench/run.py measures the emulator against.

Served the same way as the emulator (granian, WSGI, one worker), so the ratio
emulator/hello-world isolates what mockcloud itself costs per request.
"""

from flask import Flask

app = Flask(__name__)


@app.get("/")
def hello() -> str:
    return "Hello, World!"
