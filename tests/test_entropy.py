"""Token bytes drawn a block at a time (emulator/core/entropy.py)."""

from __future__ import annotations

import os
import threading

import pytest

from emulator.core import entropy
from emulator.core.oauth import random_token


def test_bytes_are_never_handed_out_twice_across_threads():
    got: list[bytes] = []
    lock = threading.Lock()

    def draw():
        mine = [entropy.random_bytes(24) for _ in range(2000)]
        with lock:
            got.extend(mine)

    threads = [threading.Thread(target=draw) for _ in range(6)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(got) == 12000 and len(set(got)) == 12000
    assert all(len(b) == 24 for b in got)


def test_sizes_and_shapes():
    assert len(entropy.random_bytes(entropy.BLOCK + 1)) == entropy.BLOCK + 1
    assert len(entropy.random_bytes(0)) == 0
    hexed = entropy.token_hex(16)
    assert len(hexed) == 32 and int(hexed, 16) >= 0
    token = random_token(40)
    assert len(token) == 40 and set(token) <= set(
        "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_")


@pytest.mark.skipif(not hasattr(os, "fork"), reason="needs fork")
def test_a_forked_child_does_not_repeat_its_parents_bytes():
    entropy.random_bytes(8)   # the parent holds a partly used block
    read, write = os.pipe()
    pid = os.fork()
    if pid == 0:  # the child: its next bytes, to the parent
        try:
            os.write(write, entropy.random_bytes(32))
        finally:
            os._exit(0)
    os.close(write)
    child = os.read(read, 64)
    os.close(read)
    os.waitpid(pid, 0)
    assert len(child) == 32
    assert child != entropy.random_bytes(32)   # the parent's next 32 bytes
