"""Lookups by id across a tenant's world in two reads, whatever the world's size.

Some ids are looked up without the document that holds them: a Netatmo module by its
id alone (the admin API's devices, an injected event), a camera by its VPN address.
A world builds such an index with its documents (``rows``): the entries (key -> a
JSON value) shared out into buckets of about ``PER_BUCKET`` by a stable hash of the
key (CRC-32: every process, and every server on one Redis, agrees), each bucket one
document of the index's kind, and a head (key ``HEAD``) that says how many buckets
there are. ``get`` reads the head and the key's bucket, both shared snapshots that
stay parsed (``Store.snapshot``).

The index is the world's: built with it, never written after. An id that only
appears later (written by a request) is not in it; the callers look for those in
the document they already read.
"""

from __future__ import annotations

import zlib
from typing import Any

from .store import Store
from .vendor import DocRow

HEAD = "buckets"
PER_BUCKET = 64
MAX_BUCKETS = 1 << 16


class _Unindexed:
    """``get``'s answer when the tenant's state has no such index (a state written
    before it, by an older mockcloud): the caller reads what the index would spare."""

    def __bool__(self) -> bool:
        return False

    def __repr__(self) -> str:
        return "UNINDEXED"


UNINDEXED: Any = _Unindexed()


def _bucket(key: str, buckets: int) -> str:
    return str(zlib.crc32(key.encode()) % buckets)


def rows(kind: str, entries: dict[str, Any]) -> list[DocRow]:
    """The index of ``entries`` as documents of ``kind``: its head, then its buckets
    (only those that hold an entry), each in key order: the same documents in every
    process, whatever order the entries came in (a world's digest names its bytes)."""
    buckets = min(MAX_BUCKETS, max(1, -(-len(entries) // PER_BUCKET)))
    docs: list[dict[str, Any]] = [{} for _ in range(buckets)]
    crc = zlib.crc32
    for key in sorted(entries):
        docs[crc(key.encode()) % buckets][key] = entries[key]
    return [(kind, HEAD, {"buckets": buckets}),
            *((kind, str(i), doc) for i, doc in enumerate(docs) if doc)]


def get(store: Store, tenant: str, kind: str, key: str) -> Any:
    """The entry ``key`` of the index ``kind`` (read-only), None when it has none, or
    ``UNINDEXED`` when the tenant's state has no such index."""
    head = store.snapshot(tenant, kind, HEAD)
    if head is None:
        return UNINDEXED
    bucket = store.snapshot(tenant, kind, _bucket(key, int(head["buckets"])))
    return None if bucket is None else bucket.get(key)
