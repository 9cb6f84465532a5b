"""Compare a recorded answer with the emulator's: key paths, leaf types, static values.

* **Key paths** have list indexes collapsed (``body.homes[].rooms[].id``) and data-named
  keys (MAC addresses, numbers such as getmeasure's time stamps, uuids) written
  ``<mac>``, ``<n>``, ``<uuid>``, so two answers about different things still share paths.
* **Lists of entities** (objects with an ``id``, ``_id`` or ``uuid``) are paired element
  by element: by id (the recorded id mapped to the emulator's), else by ``type`` (first
  of a type with first of that type), else by position. A recorded entity whose type the
  emulator's list does not have is *no counterpart in the world*: left out of the
  comparison and reported as skipped, never as missing. Other lists pair by position
  (a longer recorded list reuses the emulator's last element), so every recorded path
  is compared.
* **Types** are JSON's (``number`` for int and float). A path differs in type when the
  emulator shows a type there that the recording never shows.
* **Values** are compared only for the vendor's static keys (:data:`STATIC`); ids of the
  emulator are mapped back to the recorded ones first. An entity's own id (``id``,
  ``_id``, ``uuid``) is compared only when drift mapped it (ids of entities of list
  answers); others (a face's, a snapshot's, an event's) are per-recording and move. A
  value naming a recorded entity that has no counterpart in the world is not compared.
"""

from __future__ import annotations

import re
from collections import defaultdict
from dataclasses import dataclass, field
from typing import Any

# Static keys, per vendor: compared by value. How they were chosen: the keys whose value
# a world file gives (identity and topology: ids, names, types, models, firmware, the
# links between entities, units and places), which neither the virtual clock, nor the
# physics, nor a replayed write changes. Everything else (temperatures, set points,
# on/off, timestamps, time_server, time_exec, battery, rssi, cursors ...) moves and is
# compared by type only.
STATIC: dict[str, frozenset[str]] = {
    "lightify": frozenset({"id", "name", "type", "deviceModel", "firmwareVersion",
                           "gatewayId", "devices", "groupId"}),
    "netatmo": frozenset({"id", "_id", "name", "type", "home_id", "room_id", "bridge",
                          "module_ids", "modules_bridged", "station_name", "module_name",
                          "home_name", "data_type", "timezone", "country", "unit",
                          "windunit", "pressureunit", "feel_like_algo", "reg_locale",
                          "lang"}),
    "qivivo": frozenset({"uuid", "type", "serial", "name", "softwareVersion"}),
}

ID_KEYS = ("id", "_id", "uuid")
MAC = re.compile(r"^[0-9a-f]{2}(:[0-9a-f]{2}){5,7}$", re.I)
NUMBER = re.compile(r"^-?\d+(\.\d+)?$")
UUID = re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$", re.I)


def json_type(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, (int, float)):
        return "number"
    if isinstance(value, str):
        return "string"
    if isinstance(value, list):
        return "array"
    return "object"


def data_label(key: str) -> str | None:
    """``<mac>``, ``<n>`` or ``<uuid>`` for a key that names data rather than a field."""
    if MAC.match(key):
        return "<mac>"
    if NUMBER.match(key):
        return "<n>"
    if UUID.match(key):
        return "<uuid>"
    return None


def entity_id(item: Any) -> str | None:
    if isinstance(item, dict):
        for key in ID_KEYS:
            if isinstance(item.get(key), str):
                return item[key]
    return None


def join(path: str, key: str) -> str:
    return f"{path}.{key}" if path else key


@dataclass
class Comparison:
    """What one or more exchanges of an endpoint showed, path by path."""

    static: frozenset[str]
    back: dict[str, str]  # emulator id -> recorded id
    recorded: frozenset[str] = frozenset()  # recorded entity ids (mapped or not)
    rec_types: dict[str, set[str]] = field(default_factory=lambda: defaultdict(set))
    emu_types: dict[str, set[str]] = field(default_factory=lambda: defaultdict(set))
    values: dict[tuple[str, str, str], None] = field(default_factory=dict)
    skipped: dict[str, None] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self.mapped = frozenset(self.back.values())  # recorded ids with a counterpart

    # ---- the walk ----------------------------------------------------------------------
    def pair(self, rec: Any, emu: Any, path: str, key: str = "") -> None:
        self.rec_types[path].add(json_type(rec))
        self.emu_types[path].add(json_type(emu))
        if isinstance(rec, dict) and isinstance(emu, dict):
            self._objects(rec, emu, path)
        elif isinstance(rec, list) and isinstance(emu, list):
            self._lists(rec, emu, path)
            if key in self.static and not any(isinstance(x, (dict, list)) for x in rec):
                self._value(path, rec, [self.back.get(x, x) if isinstance(x, str) else x
                                        for x in emu], key)
        elif key in self.static and not isinstance(rec, (dict, list)):
            self._value(path, rec, self.back.get(emu, emu) if isinstance(emu, str) else emu,
                        key)
        else:
            self.only(rec, path, self.rec_types, top=False)
            self.only(emu, path, self.emu_types, top=False)

    def only(self, value: Any, path: str, types: dict[str, set[str]], top: bool = True) -> None:
        """The paths and types of a subtree only one side has."""
        if top:
            types[path].add(json_type(value))
        if isinstance(value, dict):
            named, data = split(value)
            for key, item in named.items():
                self.only(item, join(path, key), types)
            for label, items in data.items():
                for item in items.values():
                    self.only(item, join(path, label), types)
        elif isinstance(value, list):
            for item in value:
                self.only(item, path + "[]", types)

    def _objects(self, rec: dict, emu: dict, path: str) -> None:
        rec_named, rec_data = split(rec)
        emu_named, emu_data = split(emu)
        for key, value in rec_named.items():
            if key in emu_named:
                self.pair(value, emu_named[key], join(path, key), key)
            else:
                self.only(value, join(path, key), self.rec_types)
        for key, value in emu_named.items():
            if key not in rec_named:
                self.only(value, join(path, key), self.emu_types)
        for label in rec_data.keys() | emu_data.keys():
            sub = join(path, label)
            recs = rec_data.get(label, {})
            emus = emu_data.get(label, {})
            if not emus or not recs:
                for item in recs.values():
                    self.only(item, sub, self.rec_types)
                for item in emus.values():
                    self.only(item, sub, self.emu_types)
                continue
            ordered = list(emus.values())
            mapped = {self.back.get(k, k): v for k, v in emus.items()}
            for i, (k, item) in enumerate(recs.items()):
                self.pair(item, mapped.get(k, ordered[min(i, len(ordered) - 1)]), sub)

    def _lists(self, rec: list, emu: list, path: str) -> None:
        sub = path + "[]"
        if not rec or not emu:
            if not emu and any(entity_id(x) for x in rec):
                self.skipped[f"no counterpart in the world: {sub} (the emulator's list "
                             "is empty)"] = None
                return
            for item in rec:
                self.only(item, sub, self.rec_types)
            for item in emu:
                self.only(item, sub, self.emu_types)
            return
        by_id = {self.back.get(i, i): x for x in emu if (i := entity_id(x))}
        by_type: dict[Any, list[Any]] = defaultdict(list)
        for x in emu:
            if isinstance(x, dict) and "type" in x:
                by_type[str(x["type"])].append(x)
        used: set[int] = set()
        for i, item in enumerate(rec):
            mate = self._mate(item, i, emu, by_id, by_type, used)
            if mate is None:
                kind = item.get("type") if isinstance(item, dict) else None
                self.skipped[f"no counterpart in the world: {sub} of type {kind}"] = None
                continue
            used.add(id(mate))
            self.pair(item, mate, sub)

    @staticmethod
    def _mate(item: Any, i: int, emu: list, by_id: dict[str, Any],
              by_type: dict[Any, list[Any]], used: set[int]) -> Any:
        ident = entity_id(item)
        if ident is not None and ident in by_id:
            return by_id[ident]
        if isinstance(item, dict) and "type" in item and ident is not None:
            same = by_type.get(str(item["type"]))
            if not same:
                return None
            fresh = [x for x in same if id(x) not in used]
            return (fresh or same)[0]
        return emu[min(i, len(emu) - 1)]

    def _value(self, path: str, rec: Any, emu: Any, key: str = "") -> None:
        names = [x for x in (rec if isinstance(rec, list) else [rec]) if isinstance(x, str)]
        if any(x in self.recorded and x not in self.mapped for x in names):
            return  # names an entity with no counterpart in the world
        if key in ID_KEYS and not all(x in self.mapped for x in names):
            return  # a per-recording id (a face's, an event's): it moves
        if rec != emu:
            self.values[(path, repr(rec), repr(emu))] = None

    # ---- the verdict -------------------------------------------------------------------
    def paths(self) -> tuple[list[str], list[str], list[str]]:
        """(present, missing, extra) key paths; the root ("") is not a key path."""
        rec = {p for p in self.rec_types if p}
        emu = {p for p in self.emu_types if p}
        return sorted(rec & emu), sorted(rec - emu), sorted(emu - rec)

    def type_diffs(self) -> list[dict[str, Any]]:
        out = []
        for path in sorted(self.rec_types.keys() & self.emu_types.keys()):
            rec, emu = self.rec_types[path], self.emu_types[path]
            if emu - rec:
                out.append({"path": path or "(root)", "recorded": sorted(rec),
                            "emulator": sorted(emu)})
        return out

    def value_diffs(self) -> list[dict[str, Any]]:
        return [{"path": p, "recorded": r, "emulator": e} for p, r, e in self.values]


def split(obj: dict[str, Any]) -> tuple[dict[str, Any], dict[str, dict[str, Any]]]:
    """(named keys, {label: {data key: value}}) of an object."""
    named: dict[str, Any] = {}
    data: dict[str, dict[str, Any]] = defaultdict(dict)
    for key, value in obj.items():
        label = data_label(str(key))
        if label is None:
            named[str(key)] = value
        else:
            data[label][str(key)] = value
    return named, data
