"""Document store: JSON documents under (tenant, kind, id).

Three backends share one protocol:

* ``MemoryStore``: the embedded default, one process, a lock around plain dicts.
* ``SqliteStore``: one table in a SQLite file; survives restarts and can be shared
  by several server worker processes (WAL mode, ``BEGIN IMMEDIATE`` for writes). A
  write is committed before the request that made it is answered, so it survives the
  server being killed (``kill -9``); with ``synchronous=NORMAL`` a power cut may lose
  the last commits, never corrupt the file.
* ``RedisStore`` (``core/redis_store.py``): several workers and servers on one Redis
  (or Redis Cluster) act as one cloud.

Documents are stored serialised, so a caller never aliases stored state and all
backends behave the same. ``snapshot`` is the one exception, for hot read paths: it
answers a parsed document shared by every caller until the stored bytes change (no
parse when they have not), so its caller must treat it as read-only. With
``MOCKCLOUD_CHECK_SNAPSHOTS=1`` (the test suite sets it) a snapshot handed out again is
first checked against its stored bytes, and a caller that changed one fails loudly.
``update`` is the atomic read-modify-write every counter, token and device change goes
through. Its updater may run more than once (RedisStore retries it when another
process wrote first), so an updater resets any side result it keeps before filling it.
A *ring* (``ring_append``) is a bounded, append-only list of write-once entries (the
journal): each entry gets the next sequence number, and the oldest falls out. An entry
is a document (it gets a ``seq`` field) or any value with a ``to_doc(seq, entry)`` that
makes it one: MemoryStore keeps ``(seq, entry)`` as given (a caller must not change an
entry after appending it) and makes documents when the ring is read, SqliteStore and
RedisStore store ``to_doc``'s document.

**Copy on write.** A world's documents are a :class:`Base`, loaded once per process
(``Store.add_base``) and shared read-only by every tenant that starts from it, so a new
tenant costs one write whatever the world's size. A tenant uses a base when its layer
marker (kind ``meta``, key ``world``: the world's own meta document, written by
``core.world``) names the base's digest (``"base": digest``). Its writes go to its own
documents (its *overlay*); a read finds the overlay's document, else the base's; a
deletion of a base document leaves a *tombstone* (an empty stored value) in the overlay,
which hides it for that tenant only; ``list``/``count`` merge both; ``clear`` clears the
overlay (the base is never written). A base document's ``snapshot`` is one parsed
document shared by every tenant (it never changes). A tenant whose marker names a base
not known here (claimed by another version of mockcloud, or before the world file was
edited, on a state kept across the change) sees its overlay over the one base this
store knows, if it knows one; a tenant whose world was loaded through the admin API
(a marker naming no base) sees its overlay only.

**When the store is down.** ``unavailable(store, exc)`` says whether an exception
means the store cannot be reached or written for now (Redis unreachable or dropped,
a SQLite file locked past its busy timeout, read-only, full): the message a 503 gives,
or None for anything else (a bug stays a 500). The app answers such a request with the
vendor's 503 and ``Retry-After`` (core's ``RETRY_AFTER``) and carries on; the next
request tries the store again, so the server recovers by itself when the store is back.
"""

from __future__ import annotations

import hashlib
import itertools
import json
import marshal
import mmap
import os
import sqlite3
import struct
import threading
import zlib
from collections import deque
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager, suppress
from pathlib import Path
from typing import Any, NamedTuple, Protocol
from urllib.parse import parse_qsl

import orjson

try:    # ISA-L's deflate: zlib's format (either reads the other's), 3 times faster
    from isal import isal_zlib as _deflate
except ImportError:     # no wheel for this platform: the standard library's
    _deflate = zlib

Doc = dict[str, Any]
Updater = Callable[[Doc | None], Doc | None]
ToDoc = Callable[[int, Any], Doc]

_loads = orjson.loads
LAYER_KIND, LAYER_KEY = "meta", "world"   # the tenant's world marker (core.world's META)
TOMB = b""                                # an overlay's tombstone (never valid JSON)


def _dumps(doc: Doc) -> bytes:
    try:
        return orjson.dumps(doc)
    except TypeError:  # e.g. an integer beyond 64 bits: the slower, unbounded encoder
        return json.dumps(doc, separators=(",", ":"), ensure_ascii=False).encode()


# Where each top-level value of a stored document is in its stored bytes: key -> (the
# value, where its key starts, where its value ends); ``update_shared`` keeps them with
# the snapshot it installs (``_composed``)
Span = tuple[Any, int, int]
Spans = dict[str, Span]
_KEY_HEADS: dict[str, bytes] = {}
SPAN_MIN = 1024   # bytes: a smaller document is serialised whole (nothing worth keeping)


def _composed(doc: Doc, old: bytes | None, spans: Spans | None) -> tuple[bytes, Spans | None]:
    """``_dumps(doc)`` made from what it shares with the stored document ``spans``
    describes in ``old``, and where each of its top-level values now is (None: it was
    serialised whole, a small document or one with a key that is not a string).

    An ``update_shared`` updater returns a new document that keeps most of its input's
    values, the very objects (a Qivivo house keeps its devices, programs and base
    state; a write replaces its event log and history): the keys and values it kept
    are copied from ``old`` (neighbours there in one slice), the others serialised.
    Every copied byte is the serialisation of the same unchanged object (the contract
    of ``update_shared``), so the result is ``_dumps(doc)``'s bytes. (Lists are not
    taken apart: finding in Python the run of items a list kept costs about what
    orjson takes to write the whole of one of tens of small items.)"""
    if not spans and (old is None or len(old) < SPAN_MIN):
        return _dumps(doc), None
    pieces: list[bytes] = [b"{"]
    place: Spans = {}
    pos = 1
    run: list[tuple[str, Span]] = []       # kept neighbours, copied as one slice of old

    def flush() -> None:
        nonlocal pos
        a, b = run[0][1][1], run[-1][1][2]
        if pos > 1:
            pieces.append(b",")
            pos += 1
        pieces.append(old[a:b])   # type: ignore[index]
        shift = pos - a
        if shift:
            for key, (value, start, end) in run:
                place[key] = (value, start + shift, end + shift)
        else:
            place.update(run)
        pos += b - a
        run.clear()

    for k, v in doc.items():
        hit = spans.get(k) if spans else None  # type: ignore[arg-type]
        if hit is not None and hit[0] is v:
            if run and hit[1] != run[-1][1][2] + 1:      # not the next one in old
                flush()
            run.append((k, hit))
            continue
        if run:
            flush()
        head = _KEY_HEADS.get(k)  # type: ignore[arg-type]
        if head is None:
            if type(k) is not str:
                return _dumps(doc), None
            if len(_KEY_HEADS) > 4096:
                _KEY_HEADS.clear()
            head = _KEY_HEADS[k] = orjson.dumps(k) + b":"
        if pos > 1:
            pieces.append(b",")
            pos += 1
        value = _dumps(v)
        pieces += (head, value)
        place[k] = (v, pos, pos + len(head) + len(value))
        pos += len(head) + len(value)
    if run:
        flush()
    pieces.append(b"}")
    return b"".join(pieces), place


class Part(NamedTuple):
    """Documents of a world as a base holds them, made apart to be joined into one
    (``Base.part``, ``Base.joined``): ``digest`` the hash of what they are (each one's
    kind, key and serialised bytes, in order), ``buf`` the documents as kept (packed or
    not) end to end, ``docs`` where each is in ``buf`` (as ``Base.docs``)."""

    digest: bytes
    buf: bytes
    docs: dict[str, dict[str, int]]


class _Built:
    """A part being built (``add_all``, once), one document at a time: its index, its
    buffer, and what its digest reads, fed to ``feed`` (a hash's update)."""

    def __init__(self, feed: Callable[[bytes | memoryview], Any]) -> None:
        self.feed = feed
        self.docs: dict[str, dict[str, int]] = {}
        # copied into one growing buffer as they come: a serialised document kept as
        # its own bytes object pins the larger block its encoder shrank it from
        # (10,000 homes: a peak of +600 MB in the process that builds the world)
        self.chunks = bytearray()

    def add_all(self, rows: Iterable[tuple[str, str, Doc]]) -> _Built:
        """Each document's serialised bytes are fed as they come, and every document's
        kind, key and length once at the end (the lengths cut the bytes back into
        documents: the same digest means the same documents), in 2 hash calls rather
        than 2 per document (250,000 documents at 10,000 homes)."""
        feed, chunks, docs = self.feed, self.chunks, self.docs
        heads = bytearray()
        pack, deflate = Base.PACK, _deflate.compress
        kind_of: str | None = None
        index: dict[str, int] = {}
        for kind, key, doc in rows:
            if kind != kind_of:         # the rows come kind after kind, mostly
                if kind == LAYER_KIND:
                    raise ValueError(f"a world's documents cannot be of kind {LAYER_KIND!r}")
                kind_of, index = kind, docs.setdefault(kind, {})
            raw = _dumps(doc)
            feed(raw)
            heads += b"%d:%s\0%d:%s\0%d:" % (len(kind), kind.encode(), len(key),
                                              key.encode(), len(raw))
            packed = deflate(raw, 1) if len(raw) > pack else raw
            index[key] = len(chunks) << 32 | len(packed)
            chunks += packed
        feed(heads)
        return self


class Base:
    """A world's documents, read-only, shared by every tenant that starts from it.

    Kept serialised (``_dumps``'s bytes) end to end in one buffer, those over ``PACK``
    bytes zlib-compressed (a generated home's documents repeat themselves: 10,000 homes
    take ~200 MB as JSON, a fraction of that packed). Only documents over ``PACK``
    (1 KB) are packed: a home (4-12 KB) shrinks 4-12 times, while the many small ones
    (a light, a scene, an account: 150-350 bytes) shrank by a fifth at most and cost
    most of the compression when a world is built, and a decompression on every read
    (10,000 homes: zlib's time 2.0 -> 0.9 s, packed 51 -> 63 MB). Packed by ISA-L's
    deflate where its wheel installs (``isal``: zlib's format, 0.95 -> 0.30 s for the
    homes and houses of 10,000 homes, a little smaller), else by zlib. ``docs`` maps
    kind -> key -> where
    the document is in the buffer (``offset << 32 | length``). ``digest`` names the
    documents, so processes that loaded the same world agree on it: a hash of its
    parts' hashes, each of every kind, key and stored value of the part in order (a
    world's parts are its steps, ``core.world.steps``, each hashed by the process that
    serialised it, so no process reads all the documents again to name them).
    ``snapshot`` parses a document once and shares it (a bounded cache).

    ``save`` writes a base to a file and ``load`` maps one back (``mmap``, read-only:
    the documents stay in the page cache, shared by every process that maps the file,
    and only the index is read into memory), which is how a server's workers get the
    world without building it (``core/worldcache.py``). ``part`` and ``joined`` build
    one from parts that several processes serialised: the same base however many
    processes there were; ``Base(rows)`` is the base of one part."""

    PACK = 1024
    CACHE = 4096
    MAGIC = b"mockcloud-base/2\n"
    digest: str
    docs: dict[str, dict[str, int]]
    _buf: bytes | mmap.mmap
    _start: int
    size: int                   # bytes the documents take (packed)
    _parsed: dict[tuple[str, str], Doc]
    path: Path | None = None     # the file it was saved to or mapped from

    def __init__(self, rows: Iterable[tuple[str, str, Doc]] = ()) -> None:
        self._join([self.part(rows)])

    @classmethod
    def part(cls, rows: Iterable[tuple[str, str, Doc]]) -> Part:
        """Documents serialised, packed and hashed as a base keeps them, for ``joined``
        to put into one base (in another process, maybe). Hashed by SHA-1, which the
        CPU computes where it can (SHA-NI: twice BLAKE2's speed here; a name, not a
        secret)."""
        digest = hashlib.sha1(usedforsecurity=False)
        built = _Built(digest.update).add_all(rows)
        return Part(digest.digest(), bytes(built.chunks), built.docs)

    @classmethod
    def joined(cls, parts: Iterable[Part]) -> Base:
        """The base of the parts' documents, one part after the other: the same index,
        bytes and digest however many processes made the parts."""
        base = cls.__new__(cls)
        base._join(parts)
        return base

    def _join(self, parts: Iterable[Part]) -> None:
        placed: list[tuple[int, bytes, dict[str, dict[str, int]]]] = []
        bufs: list[bytes] = []
        at = 0
        for part in parts:
            placed.append((at, part.digest, part.docs))
            bufs.append(part.buf)
            at += len(part.buf)
        self.digest, self.docs = _index(placed)
        self._buf = b"".join(bufs)
        self._start, self.size = 0, len(self._buf)
        self._parsed = {}

    def save(self, path: str | Path) -> None:
        """Write the base to ``path`` (through a temporary file and a rename, so a
        process that maps the old file keeps reading it whole). The file: ``MAGIC``,
        the documents' size and the index's, the documents as kept, then the index
        (``marshal``: the digest and ``docs``), last, so that a base can be written
        part by part before its index is known (``BaseFile``)."""
        with BaseFile(path) as out:
            out.write(out.START, memoryview(self._buf)[self._start:self._start + self.size])
            self.path = out.finish(self.size, self.digest, self.docs).path

    @classmethod
    def load(cls, path: str | Path) -> Base:
        """A base ``save`` wrote (ValueError when the file is not one, or is cut short)."""
        with open(path, "rb") as fh:
            magic = fh.read(BaseFile.START)
            if len(magic) != BaseFile.START or not magic.startswith(cls.MAGIC):
                raise ValueError(f"{path} is no saved world base")
            size, n = struct.unpack("<QQ", magic[len(cls.MAGIC):])
            if os.fstat(fh.fileno()).st_size != BaseFile.START + size + n:
                raise ValueError(f"{path}: a world base cut short")
            fh.seek(BaseFile.START + size)
            try:
                digest, docs = marshal.loads(fh.read(n))
            except (EOFError, ValueError, TypeError) as exc:
                raise ValueError(f"{path}: a damaged world base ({exc})") from None
            buf = mmap.mmap(fh.fileno(), 0, access=mmap.ACCESS_READ)
        return cls._mapped(Path(path), buf, size, digest, docs)

    @classmethod
    def _mapped(cls, path: Path, buf: mmap.mmap, size: int, digest: str,
                docs: dict[str, dict[str, int]]) -> Base:
        base = cls.__new__(cls)
        base.digest, base.docs, base._buf, base._start = digest, docs, buf, BaseFile.START
        base.size = size
        base._parsed = {}
        base.path = path
        return base

    def _packed(self, ref: int) -> bytes:
        at = self._start + (ref >> 32)
        return self._buf[at:at + (ref & 0xFFFFFFFF)]

    @staticmethod
    def unpack(packed: bytes) -> bytes:
        return packed if packed[:1] == b"{" else _deflate.decompress(packed)

    def raw(self, kind: str, key: str) -> bytes | None:
        ref = self.docs.get(kind, {}).get(key)
        return None if ref is None else self.unpack(self._packed(ref))

    def has(self, kind: str, key: str) -> bool:
        return key in self.docs.get(kind, ())

    def snapshot(self, kind: str, key: str) -> Doc | None:
        doc = self._parsed.get((kind, key))
        if doc is None:
            raw = self.raw(kind, key)
            if raw is None:
                return None
            if len(self._parsed) >= self.CACHE:
                self._parsed.clear()
            doc = self._parsed.setdefault((kind, key), _loads(raw))
        return doc

    def merged(self, kind: str, own: Iterable[tuple[str, bytes | str]], ordered: bool
               ) -> list[tuple[str, Doc]]:
        """The kind as a tenant sees it: its own documents (tombstones included) laid
        over the base's; in the base's order then the tenant's new keys, or by key."""
        mine = dict(own)
        out = []
        for k, ref in self.docs.get(kind, {}).items():
            if k in mine:
                m = mine.pop(k)
                if m:
                    out.append((k, _loads(m)))
            else:
                out.append((k, _loads(self.unpack(self._packed(ref)))))
        out += [(k, _loads(v)) for k, v in mine.items() if v]
        if ordered:
            out.sort(key=lambda kv: kv[0])
        return out

    def counted(self, kind: str, own: Iterable[tuple[str, bytes | str]]) -> int:
        base = self.docs.get(kind, {})
        n = len(base)
        for k, v in own:
            if k in base:
                n -= not v
            elif v:
                n += 1
        return n


def _index(placed: Iterable[tuple[int, bytes, dict[str, dict[str, int]]]]
           ) -> tuple[str, dict[str, dict[str, int]]]:
    """A base's digest and index from its parts', in the world's order: each part's
    offset (from the first document), digest and index. A key two parts write is the
    later part's."""
    digest = hashlib.blake2b(digest_size=16)
    docs: dict[str, dict[str, int]] = {}
    for at, part_digest, refs in placed:
        digest.update(part_digest)
        shift = at << 32
        for kind, keys in refs.items():
            docs.setdefault(kind, {}).update(
                {key: ref + shift for key, ref in keys.items()} if shift else keys)
    return digest.hexdigest(), docs


class BaseFile:
    """A base written to a file as ``Base.save`` writes one, but part by part, as the
    parts come and in any order (a big world's steps, built by several processes,
    ``core/worldcache.py``: each writes its part's documents where the file has room
    for them, ``write``), the index made from the parts' in the world's order at the
    end (``finish``): the same documents, index and digest as ``Base.joined``, without
    joining the parts in memory first. Written to a temporary file beside ``path``,
    renamed by ``finish``, removed if it did not finish (the context's exit)."""

    START = len(Base.MAGIC) + 16        # the magic, the documents' size, the index's

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        self.tmp = self.path.with_name(f".{self.path.name}.{os.getpid()}.tmp")
        self.fd = os.open(self.tmp, os.O_RDWR | os.O_CREAT | os.O_TRUNC, 0o644)
        self.parts: dict[int, tuple[int, bytes, dict[str, dict[str, int]]]] = {}

    def __enter__(self) -> BaseFile:
        return self

    def __exit__(self, *exc: Any) -> None:
        if self.fd >= 0:
            os.close(self.fd)
            self.fd = -1
        self.tmp.unlink(missing_ok=True)

    def write(self, at: int, data: bytes | memoryview) -> None:
        """Write ``data`` at ``at`` (from whichever process holds the file open)."""
        self.write_fd(self.fd, at, data)

    @staticmethod
    def write_fd(fd: int, at: int, data: bytes | memoryview) -> None:
        view = memoryview(data)
        while view:
            n = os.pwrite(fd, view, at)
            at += n
            view = view[n:]

    def placed(self, i: int, at: int, digest: bytes,
               docs: dict[str, dict[str, int]]) -> None:
        """Part ``i`` (of the world's order) is written at ``at``: its digest and index."""
        self.parts[i] = (at, digest, docs)

    def finish(self, size: int, digest: str | None = None,
               docs: dict[str, dict[str, int]] | None = None) -> Base:
        """Write the index after the documents (``size`` bytes from ``START``), rename
        the file to ``path`` and map it. The index is the parts' (``placed``, in their
        order, as ``Base.joined`` joins them) unless ``digest`` and ``docs`` are given."""
        if digest is None or docs is None:
            digest, docs = _index((at - self.START, part_digest, refs) for at, part_digest, refs
                                  in (self.parts[i] for i in range(len(self.parts))))
        head = marshal.dumps((digest, docs))
        self.write(self.START + size, head)
        self.write(0, Base.MAGIC + struct.pack("<QQ", size, len(head)))
        buf = mmap.mmap(self.fd, 0, access=mmap.ACCESS_READ)
        os.replace(self.tmp, self.path)
        return Base._mapped(self.path, buf, size, digest, docs)


class _Layers:
    """The bases a store knows (by digest) and how a tenant's marker picks one."""

    def __init__(self) -> None:
        self.bases: dict[str, Base] = {}
        self.kinds: frozenset[str] = frozenset()
        self._marks: dict[bytes | str, str | None] = {}

    def add(self, base: Base) -> Base:
        known = self.bases.setdefault(base.digest, base)
        self.kinds = frozenset(k for b in self.bases.values() for k in b.docs)
        return known

    def of(self, marker: bytes | str | None) -> Base | None:
        """The base a tenant's marker (its stored meta document) names, if known here."""
        if not marker or not self.bases:
            return None
        digest = self._marks.get(marker, "")
        if digest == "":
            try:
                digest = _loads(marker).get("base")
            except (orjson.JSONDecodeError, AttributeError):
                digest = None
            if len(self._marks) > 1024:
                self._marks.clear()
            self._marks[marker] = digest
        if not isinstance(digest, str):
            return None
        base = self.bases.get(digest)
        if base is None and len(self.bases) == 1:
            # a base this process never built: the tenant was claimed by another
            # version of mockcloud, or before its world file was edited (a SQLite file
            # or Redis kept across the change); it keeps its own documents over the
            # world served now rather than over nothing
            base = next(iter(self.bases.values()))
        return base


class Store(Protocol):
    def get(self, tenant: str, kind: str, key: str) -> Doc | None: ...
    def snapshot(self, tenant: str, kind: str, key: str) -> Doc | None: ...
    def put(self, tenant: str, kind: str, key: str, doc: Doc) -> None: ...
    def delete(self, tenant: str, kind: str, key: str) -> bool: ...
    def list(self, tenant: str, kind: str) -> list[tuple[str, Doc]]: ...
    def count(self, tenant: str, kind: str) -> int: ...
    def update(self, tenant: str, kind: str, key: str, fn: Updater) -> Doc | None: ...
    # fn gets the shared snapshot and returns a new document (MemoryStore's docstring)
    def update_shared(self, tenant: str, kind: str, key: str, fn: Updater) -> Doc | None: ...
    def ring_append(self, tenant: str, kind: str, entry: Any, size: int,
                    to_doc: ToDoc | None = None) -> int: ...
    def ring_list(self, tenant: str, kind: str, to_doc: ToDoc | None = None) -> list[Doc]: ...
    def ring_clear(self, tenant: str, kind: str) -> int: ...
    def clear(self, tenant: str) -> None: ...
    def tenants(self) -> list[str]: ...
    def close(self) -> None: ...
    def add_base(self, base: Base) -> Base: ...


class _Snapshots:
    """Parsed documents by (tenant, kind, key), each kept with the stored value it was
    parsed from: a hit is a lookup and an identity (memory) or equality (SQLite)
    comparison of the stored value, never a parse. Bounded; the oldest go first."""

    SIZE = 512

    def __init__(self) -> None:
        self._docs: dict[tuple[str, str, str], tuple[bytes | str, Doc, Spans | None]] = {}
        self.check = os.environ.get("MOCKCLOUD_CHECK_SNAPSHOTS", "") not in ("", "0")

    def get(self, where: tuple[str, str, str], raw: bytes | str | None) -> Doc | None:
        if raw is None:
            return None
        hit = self._docs.get(where)
        if hit is not None and (hit[0] is raw or hit[0] == raw):
            if self.check:
                self.unchanged(where, hit[1], raw)
            return hit[1]
        doc = _loads(raw)
        self.install(where, raw, doc)
        return doc

    @staticmethod
    def unchanged(where: tuple[str, str, str], doc: Doc | None, raw: bytes | str | None
                  ) -> None:
        """(``MOCKCLOUD_CHECK_SNAPSHOTS``) ``doc`` still reads as ``raw``."""
        if doc is not None and raw and _dumps(doc) != (raw.encode() if isinstance(raw, str)
                                                       else raw):
            raise AssertionError(f"a caller changed the snapshot of {where}")

    def spans(self, where: tuple[str, str, str], raw: bytes | str | None) -> Spans | None:
        """Where the top-level values of the snapshot of ``raw`` are in it (``_composed``),
        when the snapshot installed for ``where`` is that one's and its spans were kept."""
        hit = self._docs.get(where)
        return hit[2] if hit is not None and hit[0] is raw else None

    def install(self, where: tuple[str, str, str], raw: bytes | str, doc: Doc,
                spans: Spans | None = None) -> None:
        """``doc`` is the parse of ``raw``, stored at ``where`` (``spans``: where its
        top-level values are in ``raw``)."""
        while len(self._docs) >= self.SIZE:
            try:
                self._docs.pop(next(iter(self._docs)), None)
            except (StopIteration, RuntimeError):   # emptied or changed by another thread
                break
        self._docs[where] = (raw, doc, spans)


def _first(item: tuple[int, Any]) -> int:
    return item[0]


RETRY_AFTER = 1   # seconds a 503 for an unavailable store asks the client to wait


def unavailable(store: Any, exc: BaseException) -> str | None:
    """Why ``exc`` (or what caused it) means ``store`` is unavailable for now, else
    None: a store answers through its own ``unavailable(exc)``, if it has one."""
    check = getattr(store, "unavailable", None)
    seen: set[int] = set()
    while check is not None and exc is not None and id(exc) not in seen:
        seen.add(id(exc))
        why = check(exc)
        if why:
            return why
        exc = exc.__cause__ or exc.__context__  # type: ignore[assignment]
    return None


def _ring_doc(seq: int, entry: Any, to_doc: ToDoc | None) -> Doc:
    return to_doc(seq, entry) if to_doc is not None else {**entry, "seq": seq}


def open_store(url: str) -> Store:
    """``memory``, ``sqlite:///path/to/file.db`` (``sqlite://:memory:`` for tests) or
    ``redis://host:port/db`` (``rediss://``, ``redis+cluster://``: core/redis_store.py)."""
    if url in ("memory", "memory://", ""):
        return MemoryStore()
    if url.startswith("sqlite://"):
        path = url[len("sqlite://"):]
        # sqlite:///rel.db -> "rel.db"; sqlite:////abs.db -> "/abs.db"; sqlite://:memory:
        path = path[1:] if path.startswith("/") else path
        path, _, query = path.partition("?")
        if not path:
            raise ValueError("sqlite state needs a file: sqlite:///path/to/state.db")
        return SqliteStore(path, **_sqlite_options(query))
    if url.split("://", 1)[0] in ("redis", "rediss", "redis+cluster", "rediss+cluster"):
        from .redis_store import RedisStore

        return RedisStore(url)
    raise ValueError(f"unknown state backend {url!r}: use 'memory', 'sqlite:///path.db' "
                     "or 'redis://host:port/db'")


class MemoryStore:
    """In-process store. Thread safe; not shared between processes."""

    shared = False
    backend = "memory"

    def __init__(self) -> None:
        self._snapshots = _Snapshots()
        self._data: dict[tuple[str, str], dict[str, bytes]] = {}
        # (tenant, kind) -> writes so far; a new object at each write (never reused)
        self._gens: dict[tuple[str, str], object] = {}
        # (tenant, kind) -> (ring, sequence numbers); appended without the lock (below)
        self._rings: dict[tuple[str, str], tuple[deque, Iterator[int]]] = {}
        self._lock = threading.RLock()
        self._layers = _Layers()

    def add_base(self, base: Base) -> Base:
        return self._layers.add(base)

    def _base(self, tenant: str, kind: str) -> Base | None:
        """The base the tenant reads ``kind`` through to, if any."""
        if kind not in self._layers.kinds:
            return None
        return self._layers.of(self._data.get((tenant, LAYER_KIND), {}).get(LAYER_KEY))

    def _raw(self, tenant: str, kind: str, key: str) -> bytes | None:
        raw = self._data.get((tenant, kind), {}).get(key)
        if raw is None:
            base = self._base(tenant, kind)
            return None if base is None else base.raw(kind, key)
        return raw or None

    def ring_append(self, tenant: str, kind: str, entry: Any, size: int,
                    to_doc: ToDoc | None = None) -> int:
        # every request appends to its journal: no lock on that path (``next`` of a
        # counter and a bounded deque's append are each one step under the GIL), so
        # request threads never queue behind a holder preempted by the GIL; two racing
        # appends may land out of order, which ``ring_list`` sorts out
        ring = self._rings.get((tenant, kind))
        if ring is None or ring[0].maxlen != size:
            with self._lock:
                ring = self._rings.get((tenant, kind))
                if ring is None or ring[0].maxlen != size:
                    old, seq = ring or ((), itertools.count(1))
                    ring = self._rings[(tenant, kind)] = (deque(old, maxlen=size), seq)
        n = next(ring[1])
        ring[0].append((n, entry))
        return n

    def ring_list(self, tenant: str, kind: str, to_doc: ToDoc | None = None) -> list[Doc]:
        with self._lock:
            ring = self._rings.get((tenant, kind))
            items = sorted(ring[0], key=_first) if ring else []
        return [_ring_doc(seq, entry, to_doc) for seq, entry in items]

    def ring_clear(self, tenant: str, kind: str) -> int:
        with self._lock:
            ring = self._rings.get((tenant, kind))
            if not ring:
                return 0
            n = len(ring[0])
            ring[0].clear()
            return n

    def get(self, tenant: str, kind: str, key: str) -> Doc | None:
        raw = self._raw(tenant, kind, key)
        return None if raw is None else _loads(raw)

    def snapshot(self, tenant: str, kind: str, key: str) -> Doc | None:
        raw = self._data.get((tenant, kind), {}).get(key)
        if raw is None:
            base = self._base(tenant, kind)
            return None if base is None else base.snapshot(kind, key)
        snapshots = self._snapshots
        if not snapshots.check:     # (``_Snapshots.get``'s hit, without the call)
            hit = snapshots._docs.get((tenant, kind, key))
            if hit is not None and hit[0] is raw:
                return hit[1]
        return snapshots.get((tenant, kind, key), raw or None)

    def generation(self, tenant: str, kind: str) -> object:
        """A token that changes at every write to any document of (tenant, kind) in
        this store (compare with ``is``). Only a store whose writes all go through this
        process has it (``core.answers`` checks one kind at a time with it)."""
        gen = self._gens.get((tenant, kind))
        if gen is None:
            gen = self._gens.setdefault((tenant, kind), object())
        return gen

    def _wrote(self, tenant: str, kind: str) -> None:
        self._gens[(tenant, kind)] = object()

    def put(self, tenant: str, kind: str, key: str, doc: Doc) -> None:
        raw = _dumps(doc)
        with self._lock:
            self._data.setdefault((tenant, kind), {})[key] = raw
            self._wrote(tenant, kind)

    def _remove(self, tenant: str, kind: str, key: str) -> None:
        """Take the document out of the tenant's view (a tombstone over a base's)."""
        base = self._base(tenant, kind)
        if base is not None and base.has(kind, key):
            self._data.setdefault((tenant, kind), {})[key] = TOMB
        else:
            self._data.get((tenant, kind), {}).pop(key, None)

    def delete(self, tenant: str, kind: str, key: str) -> bool:
        with self._lock:
            self._wrote(tenant, kind)
            existed = self._raw(tenant, kind, key) is not None
            self._remove(tenant, kind, key)
            return existed

    def list(self, tenant: str, kind: str) -> list[tuple[str, Doc]]:
        with self._lock:
            items = list(self._data.get((tenant, kind), {}).items())
            base = self._base(tenant, kind)
        if base is not None:
            return base.merged(kind, items, ordered=False)
        return [(k, _loads(v)) for k, v in items]

    def count(self, tenant: str, kind: str) -> int:
        # (asked at every request, of kinds no base has: the world's marker, faults)
        base = self._base(tenant, kind) if kind in self._layers.kinds else None
        if base is not None:
            with self._lock:
                items = list(self._data.get((tenant, kind), {}).items())
            return base.counted(kind, items)
        return len(self._data.get((tenant, kind), ()))

    OPTIMISTIC = 3      # tries of an update outside the lock before one under it

    def update(self, tenant: str, kind: str, key: str, fn: Updater) -> Doc | None:
        return self._update(tenant, kind, key, fn, False)

    def _update(self, tenant: str, kind: str, key: str, fn: Updater,
                shared: bool) -> Doc | None:
        # Optimistic: parse, run the updater and serialise outside the lock, then
        # commit under it only if the stored value is still the one read (the same
        # object: every write stores a new one), else run again on the new value (as
        # RedisStore does; updaters may run more than once). Holding the lock through
        # the parse and the updater made concurrent writers queue behind a holder the
        # GIL had preempted; the last try runs under the lock, so an update never
        # starves.
        for _ in range(self.OPTIMISTIC):
            tried = self._attempt(tenant, kind, key, fn, shared)
            bucket, own, raw = tried[:3]
            with self._lock:
                if self._data.get((tenant, kind)) is not bucket or bucket.get(key) is not own \
                        or (own is None and self._raw(tenant, kind, key) != raw):
                    continue                    # written (or cleared) meanwhile
                return self._commit(tenant, kind, key, *tried, shared)
        with self._lock:
            return self._commit(tenant, kind, key,
                                *self._attempt(tenant, kind, key, fn, shared), shared)

    def _attempt(self, tenant: str, kind: str, key: str, fn: Updater, shared: bool
                 ) -> tuple[dict[str, bytes], bytes | None, bytes | None, Doc | None,
                            bytes | None, Spans | None]:
        """One run of an update's updater on the stored value: (bucket, own value, value
        read, new document, its serialisation, where its values are in it)."""
        bucket = self._data.setdefault((tenant, kind), {})
        own = bucket.get(key)
        raw = own if own is not None else self._raw(tenant, kind, key)
        cur = self._current(tenant, kind, key, own, raw, shared)
        # (read before the updater runs: where the values of the snapshot it gets are)
        spans = self._snapshots.spans((tenant, kind, key), own) if shared and own else None
        new = fn(cur)
        if shared and self._snapshots.check:
            self._snapshots.unchanged((tenant, kind, key), cur, raw)
        if new is None:
            return bucket, own, raw, None, None, None
        if not shared:
            return bucket, own, raw, new, _dumps(new), None
        out, spans = _composed(new, raw, spans)
        if self._snapshots.check:
            whole = _dumps(new)
            if out != whole and json.loads(out) != json.loads(whole):
                raise AssertionError(f"update_shared of {(tenant, kind, key)} serialised "
                                     "what it kept wrong")
        return bucket, own, raw, new, out, spans

    def update_shared(self, tenant: str, kind: str, key: str, fn: Updater) -> Doc | None:
        """``update`` whose ``fn`` gets the shared snapshot (``snapshot``'s document, or
        None), which it must not change: it returns a new document that may share what
        it kept of the old one (copy what it changes, down to the lists it appends to).
        The result is stored and becomes the snapshot of what was stored, so neither
        this write nor the next read or write of the document parses it; of the result's
        top-level values, those it kept (the very objects) are not serialised again
        either: their bytes are copied from the stored value (``_composed``). Tests set
        ``MOCKCLOUD_CHECK_SNAPSHOTS``: an ``fn`` that changed its input then fails, and
        so would bytes copied that are not the value's."""
        return self._update(tenant, kind, key, fn, True)

    def _current(self, tenant: str, kind: str, key: str, own: bytes | None,
                 raw: bytes | None, shared: bool) -> Doc | None:
        """What an updater gets: a fresh parse, or (``shared``) the snapshot."""
        if not raw:
            return None
        if not shared:
            return _loads(raw)
        if own is None:
            base = self._base(tenant, kind)
            doc = base.snapshot(kind, key) if base is not None else None
            return _loads(raw) if doc is None else doc
        return self._snapshots.get((tenant, kind, key), own)

    def _commit(self, tenant: str, kind: str, key: str, bucket: dict[str, bytes],
                own: bytes | None, raw: bytes | None, new: Doc | None,
                out: bytes | None, spans: Spans | None = None,
                shared: bool = False) -> Doc | None:
        """The write of an update (the lock held)."""
        if out is None:
            if raw is None:             # absent before and after: nothing to write
                return None
            self._remove(tenant, kind, key)
        else:
            if own is None and out == raw:  # a base document, unchanged: no copy
                return new
            bucket[key] = out
            if shared:
                self._snapshots.install((tenant, kind, key), out, new, spans)
        self._wrote(tenant, kind)
        return new

    def clear(self, tenant: str) -> None:
        with self._lock:
            # (taken out, not renewed: ``generation`` makes a new token when next asked,
            # and a server that deletes every tenant it is done with keeps none of theirs)
            for k in [k for k in self._gens if k[0] == tenant]:
                del self._gens[k]
            for k in [k for k in self._data if k[0] == tenant]:
                del self._data[k]
            for k in [k for k in self._rings if k[0] == tenant]:
                del self._rings[k]

    def tenants(self) -> list[str]:
        with self._lock:
            return sorted({t for (t, _), bucket in self._data.items() if bucket})

    def close(self) -> None:
        pass


def _sqlite_options(query: str) -> dict[str, Any]:
    """``sqlite:///file.db?timeout=S``: how long a write waits for another's lock
    (the busy timeout, seconds; default 30) before its request gets a 503."""
    options: dict[str, Any] = {}
    for name, value in parse_qsl(query, keep_blank_values=True):
        if name != "timeout":
            raise ValueError(f"unknown sqlite state option {name!r}: only timeout=<seconds>")
        try:
            options["timeout"] = float(value)
        except ValueError:
            options["timeout"] = -1.0
        if not 0 <= options["timeout"] <= 3600:
            raise ValueError(f"sqlite timeout must be seconds from 0 to 3600, not {value!r}")
    return options


# SQLite's primary result codes that mean "not now" rather than a bug: the file is
# locked past the busy timeout, read-only, unreadable, full or cannot be opened
_SQLITE_DOWN = {5: "locked by another writer past the busy timeout", 6: "locked",
                8: "read-only", 10: "failing to read or write (I/O error)",
                13: "full", 14: "cannot be opened"}


class SqliteStore:
    """Persistent store in one SQLite file, shareable between processes."""

    shared = True
    backend = "sqlite"

    def __init__(self, path: str, timeout: float = 30.0) -> None:
        self.path = path
        self.timeout = timeout
        self._snapshots = _Snapshots()
        if path != ":memory:":
            Path(path).expanduser().parent.mkdir(parents=True, exist_ok=True)
        self._local = threading.local()
        self._lock = threading.RLock()
        self._shared_conn = self._connect() if path == ":memory:" else None
        self._layers = _Layers()
        with self._tx() as db:
            db.execute(
                "CREATE TABLE IF NOT EXISTS docs (tenant TEXT NOT NULL, kind TEXT NOT NULL,"
                " key TEXT NOT NULL, doc TEXT NOT NULL, PRIMARY KEY (tenant, kind, key))"
                " WITHOUT ROWID"
            )

    def _connect(self) -> sqlite3.Connection:
        conn = sqlite3.connect(self.path, timeout=self.timeout, isolation_level=None,
                               check_same_thread=False)
        if self.path != ":memory:":
            conn.execute("PRAGMA journal_mode=WAL")
        conn.execute("PRAGMA synchronous=NORMAL")
        return conn

    def _conn(self) -> sqlite3.Connection:
        if self._shared_conn is not None:  # ":memory:" lives in one connection
            return self._shared_conn
        conn = getattr(self._local, "conn", None)
        if conn is None:
            conn = self._local.conn = self._connect()
        return conn

    @contextmanager
    def _tx(self) -> Iterator[sqlite3.Connection]:
        db = self._conn()
        with self._lock:
            db.execute("BEGIN IMMEDIATE")
            try:
                yield db
                db.execute("COMMIT")
            except BaseException:
                # also when COMMIT failed (busy, disk full): a transaction left open
                # would fail every later BEGIN on this thread's connection
                if db.in_transaction:
                    with suppress(sqlite3.Error):
                        db.execute("ROLLBACK")
                raise

    def unavailable(self, exc: BaseException) -> str | None:
        """The SQLite file cannot be used for now (see ``unavailable``)."""
        if not isinstance(exc, sqlite3.OperationalError):
            return None
        why = _SQLITE_DOWN.get(getattr(exc, "sqlite_errorcode", 0) & 0xFF)
        return None if why is None else f"the state database is {why} ({exc})"

    def add_base(self, base: Base) -> Base:
        return self._layers.add(base)

    _ONE = "SELECT doc FROM docs WHERE tenant=? AND kind=? AND key=?"

    def _base(self, db: sqlite3.Connection, tenant: str, kind: str) -> Base | None:
        """The base the tenant reads ``kind`` through to, if any (one query when the
        kind is a base's)."""
        if kind not in self._layers.kinds:
            return None
        row = db.execute(self._ONE, (tenant, LAYER_KIND, LAYER_KEY)).fetchone()
        return None if row is None else self._layers.of(row[0])

    def _fallback(self, db: sqlite3.Connection, tenant: str, kind: str, key: str
                  ) -> bytes | None:
        """The base's document where the tenant has none of its own."""
        base = self._base(db, tenant, kind) if kind in self._layers.kinds else None
        return None if base is None else base.raw(kind, key)

    def get(self, tenant: str, kind: str, key: str) -> Doc | None:
        db = self._conn()
        row = db.execute(self._ONE, (tenant, kind, key)).fetchone()
        raw = self._fallback(db, tenant, kind, key) if row is None else row[0]
        return None if not raw else _loads(raw)

    def snapshot(self, tenant: str, kind: str, key: str) -> Doc | None:
        db = self._conn()
        row = db.execute(self._ONE, (tenant, kind, key)).fetchone()
        if row is None:
            base = self._base(db, tenant, kind)
            return None if base is None else base.snapshot(kind, key)
        return self._snapshots.get((tenant, kind, key), row[0] or None)

    def put(self, tenant: str, kind: str, key: str, doc: Doc) -> None:
        with self._tx() as db:
            db.execute(
                "INSERT OR REPLACE INTO docs VALUES (?,?,?,?)",
                (tenant, kind, key, _dumps(doc).decode())
            )

    def _remove(self, db: sqlite3.Connection, tenant: str, kind: str, key: str) -> None:
        """Take the document out of the tenant's view (a tombstone over a base's)."""
        base = self._base(db, tenant, kind)
        if base is not None and base.has(kind, key):
            db.execute("INSERT OR REPLACE INTO docs VALUES (?,?,?,?)", (tenant, kind, key, ""))
        else:
            db.execute("DELETE FROM docs WHERE tenant=? AND kind=? AND key=?",
                       (tenant, kind, key))

    def delete(self, tenant: str, kind: str, key: str) -> bool:
        with self._tx() as db:
            row = db.execute(self._ONE, (tenant, kind, key)).fetchone()
            existed = bool(row[0]) if row is not None else \
                self._fallback(db, tenant, kind, key) is not None
            self._remove(db, tenant, kind, key)
            return existed

    def list(self, tenant: str, kind: str) -> list[tuple[str, Doc]]:
        db = self._conn()
        rows = db.execute(
            "SELECT key, doc FROM docs WHERE tenant=? AND kind=? ORDER BY key", (tenant, kind)
        ).fetchall()
        base = self._base(db, tenant, kind)
        if base is not None:
            return base.merged(kind, rows, ordered=True)
        return [(k, _loads(v)) for k, v in rows]

    def count(self, tenant: str, kind: str) -> int:
        db = self._conn()
        base = self._base(db, tenant, kind)
        if base is not None:
            rows = db.execute("SELECT key, doc = '' FROM docs WHERE tenant=? AND kind=?",
                              (tenant, kind)).fetchall()
            return base.counted(kind, [(k, "" if tomb else "{") for k, tomb in rows])
        return db.execute(
            "SELECT COUNT(*) FROM docs WHERE tenant=? AND kind=?", (tenant, kind)
        ).fetchone()[0]

    def update_shared(self, tenant: str, kind: str, key: str, fn: Updater) -> Doc | None:
        # the updater gets a fresh parse: other processes write this file too
        return self.update(tenant, kind, key, fn)

    def update(self, tenant: str, kind: str, key: str, fn: Updater) -> Doc | None:
        with self._tx() as db:
            row = db.execute(self._ONE, (tenant, kind, key)).fetchone()
            raw = self._fallback(db, tenant, kind, key) if row is None else row[0]
            new = fn(None if not raw else _loads(raw))
            if new is None:
                if raw is not None:
                    self._remove(db, tenant, kind, key)
            else:
                out = _dumps(new)
                if row is None and out == raw:   # a base document, unchanged: no copy
                    return new
                db.execute("INSERT OR REPLACE INTO docs VALUES (?,?,?,?)",
                           (tenant, kind, key, out.decode()))
            return new

    def ring_append(self, tenant: str, kind: str, entry: Any, size: int,
                    to_doc: ToDoc | None = None) -> int:
        with self._tx() as db:
            row = db.execute("SELECT doc FROM docs WHERE tenant=? AND kind=? AND key=?",
                             (tenant, kind + ".seq", "seq")).fetchone()
            seq = (_loads(row[0])["n"] if row else 0) + 1
            entry = _ring_doc(seq, entry, to_doc)
            db.execute("INSERT OR REPLACE INTO docs VALUES (?,?,?,?)",
                       (tenant, kind + ".seq", "seq", f'{{"n":{seq}}}'))
            db.execute("INSERT OR REPLACE INTO docs VALUES (?,?,?,?)",
                       (tenant, kind, str(seq % size), _dumps(entry).decode()))
            return seq

    def ring_list(self, tenant: str, kind: str, to_doc: ToDoc | None = None) -> list[Doc]:
        rows = self._conn().execute("SELECT doc FROM docs WHERE tenant=? AND kind=?",
                                    (tenant, kind)).fetchall()
        return sorted((_loads(r[0]) for r in rows), key=lambda d: d["seq"])

    def ring_clear(self, tenant: str, kind: str) -> int:
        with self._tx() as db:
            return db.execute("DELETE FROM docs WHERE tenant=? AND kind=?",
                              (tenant, kind)).rowcount

    def clear(self, tenant: str) -> None:
        with self._tx() as db:
            db.execute("DELETE FROM docs WHERE tenant=?", (tenant,))

    def tenants(self) -> list[str]:
        rows = self._conn().execute("SELECT DISTINCT tenant FROM docs ORDER BY tenant")
        return [r[0] for r in rows.fetchall()]

    def close(self) -> None:
        conn = getattr(self._local, "conn", None)
        if conn is not None:
            conn.close()
            self._local.conn = None
