"""Which world the servers of one shared store serve (a SQLite file, a Redis).

Servers that share a store are one cloud only if they serve one world: each builds
its world's base itself (``core/worldcache.py``) and a tenant's documents are read
over the base of the server that answers. Two servers started with different world
files would each show a tenant its changes over their own world. A server started on
a shared store notes its world there (``claim``), and says so in its log when the
store's last server served another one; its health answer says so while the store's
note names another world (``mismatch``): the server started after it serves another.

The note is a document of the system tenant (``tenancy.SYSTEM``), a name no request
can use, so no tenant sees it or lists it.
"""

from __future__ import annotations

import logging
import os
import socket
from typing import Any

from .store import unavailable
from .tenancy import SYSTEM

log = logging.getLogger("mockcloud")

KIND, KEY = "served", "world"


def _shared(store: Any) -> bool:
    return getattr(store, "backend", "memory") != "memory"


def _other(note: Any, digest: str) -> str | None:
    """The store's note of a server that serves another world than ``digest``, told
    (its digest, world file, host and pid), else None."""
    if not isinstance(note, dict) or note.get("digest") in (None, digest):
        return None
    return (f"digest {str(note['digest'])[:12]}, world file {note.get('world')}, on "
            f"{note.get('host')} pid {note.get('pid')}")


def claim(store: Any, digest: str, world: str) -> str | None:
    """Note that this server serves the world ``digest`` (from the file ``world``);
    the warning logged when the store's last server served another world, else None."""
    if not _shared(store):
        return None
    mine = {"digest": digest, "world": world, "host": socket.gethostname(),
            "pid": os.getpid()}
    before: list[dict[str, Any] | None] = []

    def note(doc: dict[str, Any] | None) -> dict[str, Any]:
        before[:] = [doc]
        return mine

    try:
        store.update(SYSTEM, KIND, KEY, note)
    except Exception as exc:          # a store that cannot answer now: started unnoted
        why = unavailable(store, exc)
        if why is None:
            raise
        log.warning("mockcloud: cannot note the served world in the store: %s", why)
        return None
    other = _other(before[0] if before else None, digest)
    if other is None:
        return None
    warning = (
        f"mockcloud: this store was last served with another world ({other}); this "
        f"server serves {digest[:12]} "
        f"(world file {world}). Tenants claimed before read their own changes over this "
        f"world. If that server still runs, the two show different worlds: serve one "
        f"world file (and one mockcloud version) on every server of a store.")
    log.warning("%s", warning)
    return warning


def mismatch(store: Any, digest: str) -> str | None:
    """Why this server's world is not the one the store's note names (a server started
    on the store after this one serves another), else None."""
    if not _shared(store):
        return None
    try:
        last = store.get(SYSTEM, KIND, KEY)
    except Exception as exc:
        if unavailable(store, exc) is None:
            raise
        return None
    other = _other(last, digest)
    if other is None:
        return None
    return (f"another server on this store serves another world ({other}); this one "
            f"serves {digest[:12]}: "
            f"a tenant sees different worlds on the two. Serve one world file on every "
            f"server of a store.")
