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
* ``prefetch``: the reads every vendor request makes (the clock, the quota rules, the
  bearer token, the counts of the world's marker and of fault rules) in one
  pipelined round trip, answered to this thread's next read of each, once: four round
  trips a request fewer (a Lightify PATCH that changes nothing: 8 -> 4).
* ``clear``: one script deleting every key in ``keys``; the tenant stays in
  ``tenants`` (a set each process adds a tenant to at its first write, and again a
  minute later if it writes on), and ``tenants()`` answers the tenants that still have
  a document and takes the others' names out.

**Retries apply once.** redis-py sends a command again after a connection error or
timeout (``RETRIES`` times), and the first try may have reached Redis and run, only its
reply lost. Every write is therefore a script carrying a *write id*, a key of its own
per call (``<prefix>:{<tenant>}:w:<origin>.<n>``: a random origin per process, a
counter), which the script sets, with its answer, when it writes; sent again, the
script finds the id and answers what the first run answered without writing. So a
compare-and-set that ran is not taken for a lost race (its updater would run again on
its own result: a quota counted twice, a refresh token rotated twice and its client
told ``invalid_grant``), a journal entry is not appended twice, and a put, delete,
tombstone or clear does not undo a later write. A write id lives ``write_ttl`` seconds
(past redis-py's last possible resend: retries x (connect + reply timeouts + backoff),
64 s by default), so Redis holds one small key per write of the last minute (about
100 bytes each: ~20 MB at 3,000 writes/s). Reads are retried freely.

The client is redis-py's, one connection pool per process; redis-py opens new
connections in a forked child, so a store built before the server forks its workers
is safe to use in them.
"""

from __future__ import annotations

import itertools
import math
import os
import threading
from collections.abc import Iterable
from typing import Any
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

import orjson

from .clock import real_time
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
_MISS: Any = object()                 # not prefetched
OURS = ("prefix", "cluster")          # query parameters read here, not by redis-py
MAX_TRIES = 1000                      # compare-and-set rounds before giving up
TIMEOUTS = {"socket_connect_timeout": 5.0, "socket_timeout": 10.0}  # unless the URL says
RETRIES = 3                           # redis-py's retries of a command after a connection error

# Every script that writes is idempotent under a retry: its last KEY is a write id, a key
# of its own per call (``_WriteIds``, in the tenant's slot), and its last ARGV how long
# that key lives (``write_ttl``). A call that ran keeps its answer there; run again with
# the same id (redis-py resending it after a connection error that lost the reply) it
# answers that, and writes nothing.



def _once(body: str, wid: int, ttl: int) -> str:
    """A script answering an integer, run once per write id (``KEYS[wid]``, kept
    ``ARGV[ttl]`` seconds with the answer); ``body`` returns the answer."""
    return (f"local done = redis.call('GET', KEYS[{wid}])\n"
            f"if done then return tonumber(done) end\n"
            f"local function run()\n{body}end\n"
            f"local out = run()\n"
            f"redis.call('SET', KEYS[{wid}], out, 'EX', ARGV[{ttl}])\n"
            f"return out\n")


# KEYS: hash, keys set, write id; ARGV: field, value, ttl
_PUT = _once("""
redis.call('HSET', KEYS[1], ARGV[1], ARGV[2])
redis.call('SADD', KEYS[2], KEYS[1])
return 1
""", 3, 3)

# KEYS: hash, keys set, write id; ARGV: field, expected ('' when absent is expected),
# absent flag ('1'/'0'), write flag ('1' set / '0' delete), new value, ttl
_CAS = """
if redis.call('EXISTS', KEYS[3]) == 1 then return {1} end
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
redis.call('SET', KEYS[3], '1', 'EX', ARGV[6])
return {1}
"""

# KEYS: ring list, seq hash, keys set, write id; ARGV: kind, the document without seq,
# size, ttl
_RING_APPEND = _once("""
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
""", 4, 4)

# KEYS: document hash, keys set, write id; ARGV: field, ttl -> 1 when the document was
# there (its own, or the base's under it), 0 when it was a tombstone already
_TOMB = _once("""
local cur = redis.call('HGET', KEYS[1], ARGV[1])
redis.call('HSET', KEYS[1], ARGV[1], '')
redis.call('SADD', KEYS[2], KEYS[1])
if cur == '' then return 0 end
return 1
""", 3, 2)

# KEYS: document hash, write id; ARGV: field, ttl -> how many were deleted
_DEL = _once("""
return redis.call('HDEL', KEYS[1], ARGV[1])
""", 2, 2)

# KEYS: ring list, write id; ARGV: ttl
_RING_CLEAR = _once("""
local n = redis.call('LLEN', KEYS[1])
redis.call('DEL', KEYS[1])
return n
""", 2, 1)

# KEYS: keys set, write id; ARGV: ttl
_CLEAR = _once("""
local keys = redis.call('SMEMBERS', KEYS[1])
for i = 1, #keys, 500 do
  redis.call('DEL', unpack(keys, i, math.min(i + 499, #keys)))
end
redis.call('DEL', KEYS[1])
return #keys
""", 2, 1)

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
        self.write_ttl = write_ttl(target)
        self._snapshots = _Snapshots()
        self._registered: dict[str, float] = {}   # tenant -> when noted (real time)
        self._lock = threading.Lock()
        self._put = self._r.register_script(_PUT)
        self._cas = self._r.register_script(_CAS)
        self._ring_append = self._r.register_script(_RING_APPEND)
        self._ring_clear = self._r.register_script(_RING_CLEAR)
        self._tomb = self._r.register_script(_TOMB)
        self._del = self._r.register_script(_DEL)
        self._clear = self._r.register_script(_CLEAR)
        self._layers = _Layers()
        self._stash = threading.local()     # prefetch's reads, per thread (one request)
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

    def _write_id(self, tenant: str) -> str:
        """A key of its own for one call of a writing script (see ``_WriteIds``)."""
        return f"{self.prefix}:{{{tenant}}}:w:{_IDS.next()}"

    REGISTER_EVERY = 60.0   # seconds between two notes of one tenant by one process

    def _register(self, tenant: str) -> None:
        """Note the tenant in the registry: at its first write in this process, and
        again after ``REGISTER_EVERY`` seconds (``tenants`` takes the names of deleted
        tenants out: one made again by a process that had noted it is listed again
        within that time)."""
        noted = self._registered.get(tenant)
        now = real_time()
        if noted is None or now - noted > self.REGISTER_EVERY:
            self._r.sadd(f"{self.prefix}:tenants", tenant)
            with self._lock:
                if len(self._registered) >= 100_000:
                    self._registered.clear()
                self._registered[tenant] = now

    # ------------------------------------------------------------------ bases
    def add_base(self, base: Base) -> Base:
        return self._layers.add(base)

    # ------------------------------------------------------------- prefetch
    def prefetch(self, tenant: str, gets: Iterable[tuple[str, str]],
                 counts: Iterable[str]) -> None:
        """Reads a request is about to make, in one round trip: in this thread, the
        next ``get`` or ``snapshot`` of each (kind, key) of ``gets`` and ``count`` of
        each kind of ``counts`` answer what was read here, once each. Any write from
        this thread drops what is left (so a read after it reads Redis), and so does
        ``forget_prefetched`` (the app calls it when the request is answered). A value
        answered from here was read at the prefetch, moments before: as if the read
        were made then. Kinds a base world holds are left to their own reads."""
        kinds = self._layers.kinds
        gets = [(kind, key) for kind, key in gets if kind not in kinds]
        counts = [kind for kind in counts if kind not in kinds]
        pipe = self._r.pipeline(transaction=False)
        for kind, key in gets:
            pipe.hget(self._doc_key(tenant, kind), key)
        for kind in counts:
            pipe.hlen(self._doc_key(tenant, kind))
        out = pipe.execute()
        stash: dict[tuple[str, ...], Any] = {
            (tenant, kind, key): raw
            for (kind, key), raw in zip(gets, out[:len(gets)], strict=True)}
        stash.update(((tenant, kind), n)
                     for kind, n in zip(counts, out[len(gets):], strict=True))
        self._stash.d = stash

    def forget_prefetched(self) -> None:
        self._stash.d = None

    def _stashed(self, where: tuple[str, ...]) -> Any:
        stash = getattr(self._stash, "d", None)
        return _MISS if not stash else stash.pop(where, _MISS)

    def _read(self, tenant: str, kind: str, key: str) -> tuple[bytes | None, Base | None]:
        """(the tenant's own stored value, the base it falls through to): one round
        trip (none when prefetched); the base only for a kind a base holds."""
        hkey = self._doc_key(tenant, kind)
        if kind not in self._layers.kinds:
            raw = self._stashed((tenant, kind, key))
            return (self._r.hget(hkey, key) if raw is _MISS else raw), None
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
        self._stash.d = None
        self._register(tenant)
        self._put(keys=[self._doc_key(tenant, kind), self._keys_key(tenant),
                        self._write_id(tenant)], args=[key, _dumps(doc), self.write_ttl])

    def delete(self, tenant: str, kind: str, key: str) -> bool:
        self._stash.d = None
        base = self._layer(tenant, kind)
        if base is None or not base.has(kind, key):
            return bool(self._del(keys=[self._doc_key(tenant, kind), self._write_id(tenant)],
                                  args=[key, self.write_ttl]))
        return bool(self._tomb(keys=[self._doc_key(tenant, kind), self._keys_key(tenant),
                                     self._write_id(tenant)], args=[key, self.write_ttl]))

    def list(self, tenant: str, kind: str) -> list[tuple[str, Doc]]:
        items = self._r.hgetall(self._doc_key(tenant, kind))
        base = self._layer(tenant, kind)
        if base is not None:
            return base.merged(kind, [(k.decode(), v) for k, v in items.items()], True)
        return sorted((k.decode(), orjson.loads(v)) for k, v in items.items())

    def count(self, tenant: str, kind: str) -> int:
        n = self._stashed((tenant, kind))
        if n is not _MISS:
            return n
        base = self._layer(tenant, kind)
        if base is not None:
            items = self._r.hgetall(self._doc_key(tenant, kind))
            return base.counted(kind, [(k.decode(), v) for k, v in items.items()])
        return self._r.hlen(self._doc_key(tenant, kind))

    def update_shared(self, tenant: str, kind: str, key: str, fn: Updater) -> Doc | None:
        # the updater gets a fresh parse: other processes write these keys too
        return self.update(tenant, kind, key, fn)

    def update(self, tenant: str, kind: str, key: str, fn: Updater) -> Doc | None:
        self._stash.d = None
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
            reply = self._cas(keys=[hkey, keys, self._write_id(tenant)], args=[
                key, b"" if raw is None else raw, "1" if raw is None else "0",
                "0" if out is None else "1", b"" if out is None else out, self.write_ttl])
            if reply[0] == 1:
                return new
            raw = reply[1]          # someone wrote first: again, on what they wrote
        raise RuntimeError(f"Store.update of {tenant}/{kind}/{key} lost {MAX_TRIES} races")

    # ----------------------------------------------------------------- rings
    def ring_append(self, tenant: str, kind: str, entry: Any, size: int,
                    to_doc: ToDoc | None = None) -> int:
        self._stash.d = None
        doc = _ring_doc(0, entry, to_doc)
        doc.pop("seq", None)
        base = self._base(tenant)
        self._register(tenant)
        return int(self._ring_append(
            keys=[f"{base}r:{kind}", f"{base}n", f"{base}keys", self._write_id(tenant)],
            args=[kind, _dumps(doc), max(1, int(size)), self.write_ttl]))

    def ring_list(self, tenant: str, kind: str, to_doc: ToDoc | None = None) -> list[Doc]:
        return [orjson.loads(raw)
                for raw in self._r.lrange(f"{self._base(tenant)}r:{kind}", 0, -1)]

    def ring_clear(self, tenant: str, kind: str) -> int:
        self._stash.d = None
        return int(self._ring_clear(keys=[f"{self._base(tenant)}r:{kind}",
                                          self._write_id(tenant)], args=[self.write_ttl]))

    # --------------------------------------------------------------- tenants
    def clear(self, tenant: str) -> None:
        self._stash.d = None
        self._clear(keys=[self._keys_key(tenant), self._write_id(tenant)],
                    args=[self.write_ttl])

    TENANTS_BATCH = 500     # tenants asked about in one pipelined round trip (of two)

    def tenants(self) -> list[str]:
        """The tenants with a document; the names of those with none (deleted) are
        taken out of the registry. Not on a hot path: two round trips per
        ``TENANTS_BATCH`` tenants (their keys; whether a document hash among them
        exists), each command within one tenant's slot, so a cluster's pipeline takes
        them too."""
        registry = f"{self.prefix}:tenants"
        names = sorted(m.decode() for m in self._r.smembers(registry))
        live = []
        for i in range(0, len(names), self.TENANTS_BATCH):
            batch = names[i:i + self.TENANTS_BATCH]
            pipe = self._r.pipeline(transaction=False)
            for n in batch:
                pipe.smembers(self._keys_key(n))
            asked, pipe2 = [], self._r.pipeline(transaction=False)
            for n, keys in zip(batch, pipe.execute(), strict=True):
                hashes = f"{self._base(n)}d:".encode()
                docs = [k for k in keys if k.startswith(hashes)]
                if docs:
                    pipe2.exists(*docs)
                    asked.append(n)
            live += [n for n, found in zip(asked, pipe2.execute() if asked else [],
                                           strict=True) if found]
        gone = set(names) - set(live)
        if gone:
            self._r.srem(registry, *gone)
        return live

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


class _WriteIds:
    """Ids for writing scripts' calls, unique across processes and hosts: a random
    origin per process (drawn again in a forked child) and a counter."""

    def __init__(self) -> None:
        self.reset()

    def reset(self) -> None:
        self.origin = os.urandom(8).hex()
        self.count = itertools.count()

    def next(self) -> str:
        return f"{self.origin}.{next(self.count)}"


_IDS = _WriteIds()
os.register_at_fork(after_in_child=_IDS.reset)


def write_ttl(target: str) -> int:
    """How long a write id is kept (seconds): past the last time redis-py could send
    the same call again, i.e. its retries (``RETRIES``), each waiting at most for a
    connection and a reply (the URL's timeouts, else ``TIMEOUTS``), plus backoff."""
    given = dict(parse_qsl(urlsplit(target).query))
    waits = 0.0
    for name, default in TIMEOUTS.items():
        try:
            waits += float(given.get(name, default))
        except ValueError:  # redis-py refuses it anyway
            waits += default
    return max(10, math.ceil((RETRIES + 1) * (waits + 1)))


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
