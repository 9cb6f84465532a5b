"""Recorded ids -> the emulator world's ids, and requests rewritten with them.

Ids are harvested from every list of entities (objects with ``id``, ``_id`` or ``uuid``)
in the answers, each with a *role*: the list's key and the entity's ``type``
(``("modules", "NATherm1")``, ``("devices", "LIGHT")``, ``("homes", None)``). A recorded
id the emulator also has maps to itself (a world built from the same recording keeps the
recorded ids); the others pair by role and order: the first recorded home with the first
world home not already taken, the first recorded NRV with the first world NRV, and so on.
"""

from __future__ import annotations

import json
from collections import defaultdict
from typing import Any

from .drift_compare import entity_id

Role = tuple[str, str | None]


def harvest(doc: Any, found: dict[Role, list[str]], key: str = "") -> None:
    """Add the ids of every entity list in ``doc`` to ``found`` (in order, once)."""
    if isinstance(doc, dict):
        for k, value in doc.items():
            harvest(value, found, str(k))
    elif isinstance(doc, list):
        for item in doc:
            ident = entity_id(item)
            if ident is not None:
                role = (key, str(item["type"]) if "type" in item else None)
                if ident not in found[role]:
                    found[role].append(ident)
            harvest(item, found, key)


class IdMap:
    """Recorded id <-> emulator id, for one vendor."""

    def __init__(self, recorded: dict[Role, list[str]], emulator: dict[Role, list[str]],
                 known: set[str] | None = None):
        """``known``: other ids the world has (its export), kept as they are."""
        self.emulator = emulator
        self.recorded = {i for ids in recorded.values() for i in ids}
        self.role_of = {i: role for role, ids in recorded.items() for i in ids}
        self.forward: dict[str, str] = {}
        every = {i for ids in emulator.values() for i in ids} | (known or set())
        used: set[str] = set()
        for ids in recorded.values():
            for rid in ids:
                if rid in every:
                    self.forward[rid] = rid
                    used.add(rid)
        for role, ids in recorded.items():
            free = [e for e in emulator.get(role, []) if e not in used]
            for rid in ids:
                if rid in self.forward or not free:
                    continue
                self.forward[rid] = free.pop(0)
                used.add(self.forward[rid])
        self.back = {e: r for r, e in self.forward.items()}
        # the world's ids no recorded id maps to: their recorded counterpart is unknown
        self.unpaired = frozenset(every - set(self.back))

    @classmethod
    def build(cls, recorded_docs: list[Any], emulator_docs: list[Any],
              known: set[str] | None = None) -> IdMap:
        rec: dict[Role, list[str]] = defaultdict(list)
        emu: dict[Role, list[str]] = defaultdict(list)
        for doc in recorded_docs:
            harvest(doc, rec)
        for doc in emulator_docs:
            harvest(doc, emu)
        return cls(rec, emu, known)

    def first(self, key: str, kind: str | None = None) -> str | None:
        """The emulator's first id of a role (any type when ``kind`` is None)."""
        for (k, t), ids in self.emulator.items():
            if k == key and (kind is None or t == kind) and ids:
                return ids[0]
        return None

    def of(self, value: str, key: str = "", kind: str | None = None) -> str | None:
        """A recorded id mapped; unmapped, the first emulator id of the role (if given)."""
        if value in self.forward:
            return self.forward[value]
        return self.first(key, kind) if key else None

    # ---- rewriting a request ------------------------------------------------------------
    def text(self, value: str) -> str:
        """A value mapped when it is a recorded id, or JSON holding recorded ids."""
        if value in self.forward:
            return self.forward[value]
        if value[:1] in "[{":
            try:
                return json.dumps(self.json(json.loads(value)), separators=(",", ":"))
            except ValueError:
                return value
        return value

    def json(self, doc: Any) -> Any:
        if isinstance(doc, dict):
            return {k: self.json(v) for k, v in doc.items()}
        if isinstance(doc, list):
            return [self.json(v) for v in doc]
        if isinstance(doc, str):
            return self.forward.get(doc, doc)
        return doc

    def path(self, path: str) -> str:
        return "/".join(self.forward.get(part, part) for part in path.split("/"))
