"""RedisStore: the Store protocol on Redis, so that several worker processes and several
``mockcloud serve`` processes (on any hosts) act as one cloud.

URLs (``--state``)::

    redis://[[user]:password@]host:port/db          one Redis server
    rediss://...                                    the same over TLS
    redis+cluster://[[user]:password@]host:port     a Redis Cluster (any node; db 0)
    rediss+cluster://...                            a Redis Cluster over TLS
    redis://host:port/0?cluster=1                   also a cluster
    ...?prefix=NAME                                 key prefix (default ``mc``): several
                                                    mockclouds on one Redis, kept apart

Other query parameters are redis-py's own (``socket_timeout``, ``ssl_cert_reqs`` ...).
Unless the URL says otherwise, connecting gives up after ``socket_connect_timeout=5``
seconds and a reply after ``socket_timeout=10`` (a Redis host that vanished without a
reset must not hold a request for ever).

When Redis is down. A command that cannot reach Redis (refused, reset, timed out,
loading, a cluster without a master for the slot, a read-only replica, out of memory,
MISCONF) raises redis-py's error; ``unavailable`` names it so that the app answers the
request with a 503 in the vendor's envelope and ``Retry-After`` instead of a 500. The
pool opens new connections on the next command, so the server recovers by itself as
soon as Redis answers again.

Keys. Everything of a tenant carries the tenant as the hash tag, so one tenant lives in
one cluster slot and every script below touches one slot only::

    <prefix>:{<tenant>}:d:<kind>    hash: document key -> JSON bytes
    <prefix>:{<tenant>}:r:<kind>    list: a ring (journal, webhook deliveries), oldest first
    <prefix>:{<tenant>}:n           hash: ring kind -> its last sequence number
    <prefix>:{<tenant>}:keys        set: every key above (so ``clear`` needs no SCAN)
    <prefix>:tenants                set: every tenant that ever wrote (its own slot)

Operations, each one round trip unless said otherwise:

* ``get`` / ``snapshot``: HGET (a snapshot is parsed once per stored value, as in
  SQLite); ``list``: HGETALL; ``count``: HLEN; ``delete``: HDEL; ``put``: a script
  (HSET + the key noted in ``keys``).
* ``update``: HGET, run the updater in Python, then a compare-and-set script that
  writes only if the stored bytes are still those read; when they are not, the script
  answers the current bytes and the updater runs again on them. So **an updater may
  run more than once**: it must not keep side results of an earlier run (reset them
  first). An updater that changes nothing writes nothing (no second round trip).
* ``ring_append``: one script (HINCRBY the sequence, RPUSH, LTRIM): sequence numbers
  are unique and gap-free per (tenant, kind) across every process.
* documents of a kind a base world holds (copy on write, see ``core/store.py``): a read
  asks for the tenant's own document and its layer marker in one pipelined round trip
  and falls through to the base (in this process's memory) when the tenant has none;
  a deletion of a base document stores a tombstone (an empty value).
* ``clear``: one script deleting every key in ``keys``; the tenant stays in
  ``tenants`` (a set other processes add to only once), and ``tenants()`` answers the
  tenants that still have a document.

The client is redis-py's, one connection pool per process; redis-py opens new
connections in a forked child, so a store built before the server forks its workers
is safe to use in them.
"""

from __future__ import annotations

import threading
from typing import Any
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

import orjson

from .store import (
    LAYER_KEY,
    LAYER_KIND,
    TOMB,
    Base,
    Doc,
    ToDoc,
    Updater,
    _dumps,
    _Layers,
    _ring_doc,
    _Snapshots,
)

SCHEMES = ("redis", "rediss", "redis+cluster", "rediss+cluster")
OURS = ("prefix", "cluster")          # query parameters read here, not by redis-py
MAX_TRIES = 1000                      # compare-and-set rounds before giving up
TIMEOUTS = {"socket_connect_timeout": 5.0, "socket_timeout": 10.0}  # unless the URL says
RETRIES = 3                           # redis-py's retries of a command after a connection error

_PUT = """
redis.call('HSET', KEYS[1], ARGV[1], ARGV[2])
redis.call('SADD', KEYS[2], KEYS[1])
return 1
"""

# ARGV: field, expected ('' when absent is expected), absent flag ('1'/'0'),
# write flag ('1' set / '0' delete), new value
_CAS = """
local cur = redis.call('HGET', KEYS[1], ARGV[1])
if ARGV[3] == '1' then
  if cur then return {0, cur} end
elseif cur ~= ARGV[2] then
  return {0, cur}
end
if ARGV[4] == '1' then
  redis.call('HSET', KEYS[1], ARGV[1], ARGV[5])
  redis.call('SADD', KEYS[2], KEYS[1])
else
  redis.call('HDEL', KEYS[1], ARGV[1])
end
return {1}
"""

# KEYS: ring list, seq hash, keys set; ARGV: kind, the document without seq, size
_RING_APPEND = """
local n = redis.call('HINCRBY', KEYS[2], ARGV[1], 1)
local body = ARGV[2]
local doc
if body == '{}' then
  doc = '{"seq":' .. n .. '}'
else
  doc = '{"seq":' .. n .. ',' .. string.sub(body, 2)
end
redis.call('RPUSH', KEYS[1], doc)
redis.call('LTRIM', KEYS[1], -tonumber(ARGV[3]), -1)
redis.call('SADD', KEYS[3], KEYS[1], KEYS[2])
return n
"""

# KEYS: document hash, keys set; ARGV: field -> the value before (a tombstone now)
_TOMB = """
local cur = redis.call('HGET', KEYS[1], ARGV[1])
redis.call('HSET', KEYS[1], ARGV[1], '')
redis.call('SADD', KEYS[2], KEYS[1])
return cur
"""

_RING_CLEAR = """
local n = redis.call('LLEN', KEYS[1])
redis.call('DEL', KEYS[1])
return n
"""

_CLEAR = """
local keys = redis.call('SMEMBERS', KEYS[1])
for i = 1, #keys, 500 do
  redis.call('DEL', unpack(keys, i, math.min(i + 499, #keys)))
end
redis.call('DEL', KEYS[1])
return #keys
"""

# KEYS: keys set; ARGV: the prefix of document hashes -> 1 when one still exists
_HAS_DOCS = """
local keys = redis.call('SMEMBERS', KEYS[1])
for _, k in ipairs(keys) do
  if string.sub(k, 1, #ARGV[1]) == ARGV[1] and redis.call('EXISTS', k) == 1 then
    return 1
  end
end
return 0
"""


def parse_url(url: str) -> tuple[str, bool, str]:
    """(the URL redis-py gets, cluster or not, key prefix); ValueError when wrong."""
    parts = urlsplit(url)
    if parts.scheme not in SCHEMES:
        raise ValueError(f"not a Redis URL: {url!r}")
    query = parse_qsl(parts.query, keep_blank_values=True)
    ours = {k: v for k, v in query if k in OURS}
    rest = [(k, v) for k, v in query if k not in OURS]
    cluster = parts.scheme.endswith("+cluster") or \
        ours.get("cluster", "").lower() in ("1", "true", "yes")
    prefix = ours.get("prefix", "mc") or "mc"
    if any(c in prefix for c in "{}"):
        raise ValueError("a Redis key prefix cannot hold '{' or '}' (the tenant is the "
                         "hash tag)")
    scheme = parts.scheme.split("+")[0]
    if not parts.hostname:
        raise ValueError(f"a Redis URL needs a host: {scheme}://host:6379/0")
    if cluster and parts.path.strip("/") not in ("", "0"):
        raise ValueError("a Redis Cluster has database 0 only")
    return urlunsplit((scheme, parts.netloc, parts.path, urlencode(rest), "")), cluster, prefix


class RedisStore:
    """The Store protocol on Redis (one server or a cluster); see the module doc."""

    shared = True
    backend = "redis"

    def __init__(self, url: str) -> None:
        import redis

        target, self.cluster, self.prefix = parse_url(url)
        self.url = url
        given = {k for k, _ in parse_qsl(urlsplit(target).query)}
        options = {k: v for k, v in TIMEOUTS.items() if k not in given}
        if self.cluster:
            from redis.cluster import RedisCluster

            self._r: Any = RedisCluster.from_url(target, **options)
        else:
            from redis.backoff import ExponentialWithJitterBackoff
            from redis.retry import Retry

            # a few quick tries, not redis-py's ten (a request to a Redis that is down
            # gets its 503 in well under a second)
            self._r = redis.Redis.from_url(target, retry=Retry(
                ExponentialWithJitterBackoff(base=0.01, cap=0.2), RETRIES), **options)
        self._down = _down_errors()
        self._snapshots = _Snapshots()
        self._registered: set[str] = set()
        self._lock = threading.Lock()
        self._put = self._r.register_script(_PUT)
        self._cas = self._r.register_script(_CAS)
        self._ring_append = self._r.register_script(_RING_APPEND)
        self._ring_clear = self._r.register_script(_RING_CLEAR)
        self._tomb = self._r.register_script(_TOMB)
        self._clear = self._r.register_script(_CLEAR)
        self._has_docs = self._r.register_script(_HAS_DOCS)
        self._layers = _Layers()
        try:
            self._r.ping()
        except redis.RedisError as exc:
            raise ValueError(f"cannot reach Redis at {shown(url)}: {exc}") from exc

    # ------------------------------------------------------------------ keys
    def _base(self, tenant: str) -> str:
        return f"{self.prefix}:{{{tenant}}}:"

    def _doc_key(self, tenant: str, kind: str) -> str:
        return f"{self.prefix}:{{{tenant}}}:d:{kind}"

    def _keys_key(self, tenant: str) -> str:
        return f"{self.prefix}:{{{tenant}}}:keys"

    def _register(self, tenant: str) -> None:
        """Note the tenant in the registry, once per process (it is never taken out)."""
        if tenant not in self._registered:
            self._r.sadd(f"{self.prefix}:tenants", tenant)
            with self._lock:
                self._registered.add(tenant)

    # ------------------------------------------------------------------ bases
    def add_base(self, base: Base) -> Base:
        return self._layers.add(base)

    def _read(self, tenant: str, kind: str, key: str) -> tuple[bytes | None, Base | None]:
        """(the tenant's own stored value, the base it falls through to): one round
        trip; the base only for a kind a base holds."""
        hkey = self._doc_key(tenant, kind)
        if kind not in self._layers.kinds:
            return self._r.hget(hkey, key), None
        pipe = self._r.pipeline(transaction=False)
        pipe.hget(hkey, key)
        pipe.hget(self._doc_key(tenant, LAYER_KIND), LAYER_KEY)
        own, marker = pipe.execute()
        return own, self._layers.of(marker)

    def _layer(self, tenant: str, kind: str) -> Base | None:
        if kind not in self._layers.kinds:
            return None
        return self._layers.of(self._r.hget(self._doc_key(tenant, LAYER_KIND), LAYER_KEY))

    # ------------------------------------------------------------- documents
    def get(self, tenant: str, kind: str, key: str) -> Doc | None:
        raw, base = self._read(tenant, kind, key)
        if raw is None and base is not None:
            raw = base.raw(kind, key)
        return None if not raw else orjson.loads(raw)

    def snapshot(self, tenant: str, kind: str, key: str) -> Doc | None:
        raw, base = self._read(tenant, kind, key)
        if raw is None:
            return None if base is None else base.snapshot(kind, key)
        return self._snapshots.get((tenant, kind, key), raw or None)

    def put(self, tenant: str, kind: str, key: str, doc: Doc) -> None:
        self._register(tenant)
        self._put(keys=[self._doc_key(tenant, kind), self._keys_key(tenant)],
                  args=[key, _dumps(doc)])

    def delete(self, tenant: str, kind: str, key: str) -> bool:
        base = self._layer(tenant, kind)
        if base is None or not base.has(kind, key):
            return bool(self._r.hdel(self._doc_key(tenant, kind), key))
        before = self._tomb(keys=[self._doc_key(tenant, kind), self._keys_key(tenant)],
                            args=[key])
        return before is None or before != TOMB

    def list(self, tenant: str, kind: str) -> list[tuple[str, Doc]]:
        items = self._r.hgetall(self._doc_key(tenant, kind))
        base = self._layer(tenant, kind)
        if base is not None:
            return base.merged(kind, [(k.decode(), v) for k, v in items.items()], True)
        return sorted((k.decode(), orjson.loads(v)) for k, v in items.items())

    def count(self, tenant: str, kind: str) -> int:
        base = self._layer(tenant, kind)
        if base is not None:
            items = self._r.hgetall(self._doc_key(tenant, kind))
            return base.counted(kind, [(k.decode(), v) for k, v in items.items()])
        return self._r.hlen(self._doc_key(tenant, kind))

    def update_shared(self, tenant: str, kind: str, key: str, fn: Updater) -> Doc | None:
        # the updater gets a fresh parse: other processes write these keys too
        return self.update(tenant, kind, key, fn)

    def update(self, tenant: str, kind: str, key: str, fn: Updater) -> Doc | None:
        hkey, keys = self._doc_key(tenant, kind), self._keys_key(tenant)
        raw, base = self._read(tenant, kind, key)
        for _ in range(MAX_TRIES):
            # the document as the tenant sees it: its own (a tombstone: none), else the
            # base's (the base never changes, so only the tenant's value is compared)
            seen = base.raw(kind, key) if raw is None and base is not None else raw
            new = fn(None if not seen else orjson.loads(seen))
            out = None if new is None else _dumps(new)
            if out == seen or (out is None and not seen):   # nothing changed
                return new
            if out is None and base is not None and base.has(kind, key):
                out = TOMB          # hide the base's document
            self._register(tenant)
            reply = self._cas(keys=[hkey, keys], args=[
                key, b"" if raw is None else raw, "1" if raw is None else "0",
                "0" if out is None else "1", b"" if out is None else out])
            if reply[0] == 1:
                return new
            raw = reply[1]          # someone wrote first: again, on what they wrote
        raise RuntimeError(f"Store.update of {tenant}/{kind}/{key} lost {MAX_TRIES} races")

    # ----------------------------------------------------------------- rings
    def ring_append(self, tenant: str, kind: str, entry: Any, size: int,
                    to_doc: ToDoc | None = None) -> int:
        doc = _ring_doc(0, entry, to_doc)
        doc.pop("seq", None)
        base = self._base(tenant)
        self._register(tenant)
        return int(self._ring_append(keys=[f"{base}r:{kind}", f"{base}n", f"{base}keys"],
                                     args=[kind, _dumps(doc), max(1, int(size))]))

    def ring_list(self, tenant: str, kind: str, to_doc: ToDoc | None = None) -> list[Doc]:
        return [orjson.loads(raw)
                for raw in self._r.lrange(f"{self._base(tenant)}r:{kind}", 0, -1)]

    def ring_clear(self, tenant: str, kind: str) -> int:
        return int(self._ring_clear(keys=[f"{self._base(tenant)}r:{kind}"]))

    # --------------------------------------------------------------- tenants
    def clear(self, tenant: str) -> None:
        self._clear(keys=[self._keys_key(tenant)])

    def tenants(self) -> list[str]:
        names = sorted(m.decode() for m in self._r.smembers(f"{self.prefix}:tenants"))
        return [n for n in names  # not on a hot path: one round trip per tenant
                if self._has_docs(keys=[self._keys_key(n)], args=[f"{self._base(n)}d:"])]

    def unavailable(self, exc: BaseException) -> str | None:
        """Redis cannot be used for now (see the module doc), else None."""
        import redis

        if isinstance(exc, self._down) or (
                isinstance(exc, redis.ResponseError) and str(exc).startswith(
                    ("MISCONF", "LOADING", "CLUSTERDOWN", "TRYAGAIN", "MASTERDOWN"))):
            return f"the state store (Redis at {shown(self.url)}) is unavailable: {exc}"
        return None

    def close(self) -> None:
        self._r.close()


def _down_errors() -> tuple[type[BaseException], ...]:
    """redis-py's errors that mean Redis cannot serve now (not a bug of ours)."""
    from redis import exceptions as e

    names = ("ConnectionError", "TimeoutError", "BusyLoadingError", "ClusterDownError",
             "MasterDownError", "TryAgainError", "ReadOnlyError", "OutOfMemoryError",
             "MaxConnectionsError", "SlotNotCoveredError")
    return tuple(getattr(e, n) for n in names if hasattr(e, n))


def shown(url: str) -> str:
    """The URL without its password (for messages)."""
    parts = urlsplit(url)
    if parts.password:
        netloc = parts.netloc.replace(f":{parts.password}@", ":***@", 1)
        return urlunsplit(parts._replace(netloc=netloc))
    return url
