"""An event log kept on a document, bounded, with its history kept in sealed chunks.

DESIGN's physics rule is that a reading at t is a fold of the events at or before t.
A log that only grows makes every write rewrite an ever larger document; a log that
folds its old events away makes reads of the past wrong. This keeps both: the
document holds at most ``max_events`` events after a ``base`` (the state they start
from, in force from ``base_at`` on; ``None``: from the beginning); past that, the
older events are *sealed*: they move, with the base they start from, to a chunk
document of their own (``kind``, key ``<owner>/<log>/<number>``), the document's base
becomes their fold and its ``chunks`` index names the chunk (``[number, its base_at]``,
oldest first; ``log`` names this log, so the chunks of an earlier world loaded under
the same owner are never read). A read that needs instants before ``base_at`` gets the
document as it was (:meth:`SealedLog.with_history`): the base of the newest chunk
that starts at or before them and every event since. The ``max_chunks`` newest chunks
are kept; before those, or when a chunk is missing, a read starts from the oldest base
it has.

The log's fields live at the top of the document: ``base``, ``base_at``, ``events``
(each with its instant under ``t``, in time order; at one instant in the order made),
``chunks``, ``log``, ``sealed``. The vendor gives the fold (``fold(base, events) ->
state``, a new object) and, optionally, which events an event at the same instant
makes invisible (``target``): a later event of the same target at the same instant
replaces them, since a read at that instant sees only the last.

Chunks are written by the caller after the document (:meth:`SealedLog.write_pending`),
outside the document's atomic update: a reader that finds one missing starts after it.
Chunks are read with ``Store.snapshot``, so a remembered answer (``core.answers``)
that read them stays valid exactly while they are the same.
"""

from __future__ import annotations

import bisect
import hashlib
from collections.abc import Callable
from typing import Any

import orjson

from .store import Store

Doc = dict[str, Any]
Fold = Callable[[Any, list[dict[str, Any]]], Any]


def _at(event: dict[str, Any]) -> float:
    return event["t"]


class SealedLog:
    def __init__(self, kind: str, fold: Fold, *, max_events: int = 64, recent: int = 16,
                 max_chunks: int = 256,
                 target: Callable[[dict[str, Any]], str | None] = lambda e: None) -> None:
        self.kind, self.fold, self.target = kind, fold, target
        self.max_events, self.recent, self.max_chunks = max_events, recent, max_chunks

    # ------------------------------------------------------------------ writes
    @staticmethod
    def thawed(doc: Doc) -> Doc:
        """A document :meth:`insert` and :meth:`seal` may change while ``doc`` stays as
        it was (its top and event list copied, the rest shared: they edit nothing else
        in place), for an updater of ``Store.update_shared``."""
        return {**doc, "events": list(doc["events"])}

    def insert(self, doc: Doc, event: dict[str, Any]) -> None:
        """``event`` (with its instant ``t``) into the log in time order, after the
        events of the same instant; those of the same target made since the last
        event of that instant without a target go."""
        events, t = doc["events"], event["t"]
        i = len(events) if not events or events[-1]["t"] <= t else \
            bisect.bisect_right(events, t, key=_at)
        key = self.target(event)
        if key is not None:     # back over this instant's events that have a target
            j = i
            while j > 0 and events[j - 1]["t"] == t and self.target(events[j - 1]):
                j -= 1
            kept = [e for e in events[j:i] if self.target(e) != key]
            events[j:i] = kept
            i = j + len(kept)
        events.insert(i, event)

    def seal(self, doc: Doc, owner: str, keep_after: float) -> list[tuple[str, Doc]]:
        """When the log holds more than ``max_events``: seal the events before
        ``keep_after`` (all but the ``recent`` newest if that is not enough). Returns
        the chunk writes ``[(key, chunk or None to delete)]`` for :meth:`write_pending`."""
        events = doc["events"]
        if len(events) <= self.max_events:
            return []
        n = bisect.bisect_left(events, keep_after, key=lambda e: e["t"])
        if len(events) - n > self.max_events:
            n = len(events) - self.recent
        while 0 < n < len(events) and events[n]["t"] == events[n - 1]["t"]:
            n -= 1          # an instant is never split between a chunk and the document
        if n == 0:
            return []
        old = events[:n]
        log = doc.get("log") or hashlib.sha256(orjson.dumps(
            [owner, doc["base"], old], option=orjson.OPT_SORT_KEYS)).hexdigest()[:16]
        number = doc.get("sealed", 0)
        writes: list[tuple[str, Doc | None]] = [(self.key(owner, log, number), {
            "owner": owner, "log": log, "number": number, "base": doc["base"],
            "base_at": doc.get("base_at"), "events": old})]
        index = [*(doc.get("chunks") or []), [number, doc.get("base_at")]]
        while len(index) > self.max_chunks:
            gone = index.pop(0)
            writes.append((self.key(owner, log, gone[0]), None))
        doc.update(base=self.fold(doc["base"], old), base_at=old[-1]["t"], log=log,
                   sealed=number + 1, chunks=index, events=events[n:])
        return writes  # type: ignore[return-value]

    def write_pending(self, store: Store, tenant: str,
                      writes: list[tuple[str, Doc | None]]) -> None:
        for key, chunk in writes:
            if chunk is None:
                store.delete(tenant, self.kind, key)
            else:
                store.put(tenant, self.kind, key, chunk)

    @staticmethod
    def key(owner: str, log: str, number: int) -> str:
        return f"{owner}/{log}/{number}"

    # ------------------------------------------------------------------- reads
    def needed(self, doc: Doc, owner: str, since: float) -> list[str]:
        """The chunk keys a read from ``since`` on needs, oldest first (none when the
        document's own log covers it)."""
        at, index = doc.get("base_at"), doc.get("chunks") or []
        if at is None or since >= at or not index or not doc.get("log"):
            return []
        k = 0
        for i, (_, start) in enumerate(index):
            if start is None or start <= since:
                k = i
        return [self.key(owner, doc["log"], number) for number, _ in index[k:]]

    def with_history(self, store: Store, tenant: str, doc: Doc, owner: str,
                     since: float) -> Doc:
        """``doc`` itself, or, when ``since`` is before its base, ``doc`` as it reads
        from there on: the covering chunk's base and every event since (a new dict
        sharing the rest of ``doc``; read it, never change it)."""
        keys = self.needed(doc, owner, since)
        if not keys:
            return doc
        chunks = [store.snapshot(tenant, self.kind, k) for k in keys]
        while None in chunks:              # missing (being written, or gone): after it
            chunks = chunks[chunks.index(None) + 1:]
        if not chunks:
            return doc
        events = [e for c in chunks for e in c["events"]] + list(doc["events"])
        return {**doc, "base": chunks[0]["base"], "base_at": chunks[0]["base_at"],
                "events": events}
