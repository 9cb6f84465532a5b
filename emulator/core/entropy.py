"""Random bytes for tokens and codes: the system's CSPRNG, read a block at a time.

``os.urandom`` lets go of the GIL around its ``getrandom`` call. Under the server's
request threads (granian's blocking threads, ``serve --threads``) each let-go hands
the GIL to another request thread, and the caller queues to get it back: measured in
the served worker, every such hand-off costs the request tens of microseconds of CPU
and a few hundred of waiting (``bench/README.md``, "GIL hand-offs"). The token
endpoint drew twice a grant. Here the bytes are read ``BLOCK`` at a time and handed
out in order, each byte once; a forked child forgets its parent's block, so two
workers never hand out the same bytes.
"""

from __future__ import annotations

import os
import threading

BLOCK = 4096   # bytes read from os.urandom at once: about a hundred tokens


class _Pool:
    def __init__(self) -> None:
        self._forget()

    def _forget(self) -> None:
        # (also after a fork: the lock may have been held by a thread the child lacks)
        self._lock = threading.Lock()
        self._block = b""
        self._pos = 0

    def take(self, n: int) -> bytes:
        if n > BLOCK:
            return os.urandom(n)
        with self._lock:
            pos = self._pos
            if pos + n > len(self._block):
                self._block, pos = os.urandom(BLOCK), 0
            self._pos = pos + n
            return self._block[pos:pos + n]


_POOL = _Pool()
os.register_at_fork(after_in_child=_POOL._forget)


def random_bytes(n: int) -> bytes:
    """``n`` bytes from the system's CSPRNG, never handed out before."""
    return _POOL.take(n)


def token_hex(nbytes: int) -> str:
    """As ``secrets.token_hex``: ``2 * nbytes`` hex digits."""
    return _POOL.take(nbytes).hex()
