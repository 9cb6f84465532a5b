"""WSGI entry point for servers: ``emulator.wsgi:app`` (settings from MOCKCLOUD_*).

granian builds each request's environ on a copy of the worker's ``os.environ`` (CGI
style), so a server started with ``HTTP_PROXY=...`` in its environment would show
every request a ``Proxy`` header that no client sent ("httpoxy"), and the journal and
its cassettes would record it. The emulator's only outbound HTTP, webhook deliveries,
goes through ``http.client``, which reads no proxy variable, so its worker drops the
``HTTP_*`` variables once the settings are read, before the server takes its copy;
and the ``MOCKCLOUD_*`` ones, read by then (``create_app``), which would otherwise be
copied into every request's environ (about a quarter of its keys) and walked by the
journal on every call.

Once the app is built, everything it allocated (Flask, Authlib, jsonschema, the loaded
world) is moved out of the garbage collector's generations (``gc.freeze``): those
objects live as long as the worker, and each full collection would walk them all again.
Measured with ``bench/ab.py``: about 4 % more PATCH/s at 8 connections.

When ``serve`` checks a big world while the server starts (``server._alongside``), a
worker imports and builds the app meanwhile, and takes the world as the check saved
it once the check has passed (``server.checked_world``).

The threads that run requests run on one CPU (``emulator/affinity.py``; ``serve
--no-pin-threads`` leaves them to the kernel).
"""

import gc
import os

from .affinity import serving
from .app import create_app
from .server import checked_world

checked_world()
app = create_app()
if app.settings.pin_threads:
    app = serving(app)

for _name in [n for n in os.environ if n.startswith(("HTTP_", "MOCKCLOUD_"))]:
    del os.environ[_name]

gc.collect()
gc.freeze()
