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
from fnmatch import fnmatchcase
from typing import Any

from ..netatmo import models as nm
from ..netatmo import world as nw

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

# Keys a world entry may give, which the emulator then passes through as given and
# leaves out when the world does not give them (the vendor's world module says which),
# as key paths ("homes[].modules[].customer_id": anywhere a path goes through it). A
# recorded path through one of them that the emulator lacks is the world's content,
# not the emulator's drift: reported as skipped ("the world gives no ..."), not missing.
# Lightify and Qivivo answers carry no optional world-given key.
WORLD_GIVEN: dict[str, frozenset[str]] = {
    "netatmo": frozenset(
        {f"homes[].modules[].{k}" for k in nw.MODULE_KEYS
         - {"id", "type", "name", "room_id", "bridge", "reachable"}}
        | {f"rooms[].{k}" for k in nw.ROOM_STATIC}
        # homesdata's shapes a world asks for (netatmo/models.py): a device's state
        # (homesdata_state), a room's modules (homesdata_modules)
        | {f"homes[].modules[].{k}" for k in nm.HOMESDATA_STATE} | {"homes[].rooms[].modules"}
        | {f"schedules[].{k}" for k in nw.SCHEDULE_STATIC | {"default"}}
        | {f"zones[].{k}" for k in nw.ZONE_STATIC}
        | {"zones[].rooms[].therm_setpoint_fp", "homes[].cooling_mode", "place.city"}
        | set(nw.LEGACY_SCHEDULE_FORMS)
        # a station's or home coach's (emulator/netatmo/stations.py STATION_KEYS)
        | {"devices[].favorite", "devices[].read_only", "devices[].module_name"}),
}

# Recorded paths only a device of some type produces (a room's humidity: a Smarther
# BNS in the room): when no answer of the emulator to this endpoint names such a
# device, the path has no counterpart in the world (skipped, not missing).
NEEDS_DEVICE: dict[str, dict[str, frozenset[str]]] = {
    "netatmo": {"rooms[].humidity": frozenset({"BNS"})},
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
    world_given: frozenset[str] = frozenset()  # the vendor's WORLD_GIVEN
    needs_device: dict[str, frozenset[str]] = field(default_factory=dict)
    unpaired: frozenset[str] = frozenset()  # world ids no recorded id maps to
    ignore: tuple[str, ...] = ()  # globs of key paths not compared (--ignore)
    rec_types: dict[str, set[str]] = field(default_factory=lambda: defaultdict(set))
    emu_types: dict[str, set[str]] = field(default_factory=lambda: defaultdict(set))
    values: dict[tuple[str, str, str], None] = field(default_factory=dict)
    skipped: dict[str, None] = field(default_factory=dict)
    source: str = ""  # the exchange being compared
    seen_in: dict[str, str] = field(default_factory=dict)  # recorded path -> first source

    def __post_init__(self) -> None:
        self.mapped = frozenset(self.back.values())  # recorded ids with a counterpart
        self.emu_kinds: set[str] = set()  # every "type" value the emulator answered

    # ---- the walk ----------------------------------------------------------------------
    def pair(self, rec: Any, emu: Any, path: str, key: str = "") -> None:
        if key == "type" and isinstance(emu, str):
            self.emu_kinds.add(emu)
        self.seen_in.setdefault(path, self.source)
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
        if types is self.rec_types:
            self.seen_in.setdefault(path, self.source)
        if isinstance(value, dict):
            named, data = split(value)
            if types is self.emu_types and isinstance(named.get("type"), str):
                self.emu_kinds.add(named["type"])
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
            if rec:  # nothing of the emulator's to compare an element's shape with
                what = "no counterpart in the world" if any(entity_id(x) for x in rec) \
                    else "not compared"
                self.skipped[f"{self.source}: {what}: {sub} (the emulator's list is "
                             "empty)"] = None
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
                self.skipped[f"{self.source}: no counterpart in the world: {sub} of type "
                             f"{kind}"] = None
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

    def unknown(self, emu: Any) -> bool:
        """An emulator's value naming a world entity no recorded one maps to."""
        return isinstance(emu, str) and emu in self.unpaired

    def _value(self, path: str, rec: Any, emu: Any, key: str = "") -> None:
        names = [x for x in (rec if isinstance(rec, list) else [rec]) if isinstance(x, str)]
        if any(x in self.recorded and x not in self.mapped for x in names):
            return  # names an entity with no counterpart in the world
        if key in ID_KEYS and not all(x in self.mapped for x in names):
            return  # a per-recording id (a face's, an event's): it moves
        if isinstance(rec, list) and isinstance(emu, list) and len(rec) == len(emu):
            if all(r == e or self.unknown(e) for r, e in zip(rec, emu, strict=True)):
                return
        elif self.unknown(emu):
            return
        if rec != emu:
            self.values[(path, repr(rec), repr(emu))] = None

    # ---- the verdict -------------------------------------------------------------------
    def paths(self) -> tuple[list[str], list[str], list[str]]:
        """(present, missing, extra) key paths; the root ("") is not a key path. A
        missing path through a world-given key is not missing: see :meth:`world_gaps`."""
        rec = {p for p in self.rec_types if p and not self.ignored(p)}
        emu = {p for p in self.emu_types if p and not self.ignored(p)}
        missing = {p for p in rec - emu if not self.world_key(p) and not self.device_gap(p)}
        return sorted(rec & emu), sorted(missing), sorted(emu - rec)

    def ignored(self, path: str) -> bool:
        return any(fnmatchcase(path, glob.replace("[", "[[]")) for glob in self.ignore)

    def device_gap(self, path: str) -> str | None:
        """The device types a recorded path needs when the emulator showed none."""
        for suffix, kinds in self.needs_device.items():
            if (path == suffix or path.endswith("." + suffix)) and not kinds & self.emu_kinds:
                return "/".join(sorted(kinds))
        return None

    def world_key(self, path: str) -> str | None:
        """The world-given key path this path goes through, if any."""
        dotted = "." + path
        for given in self.world_given:
            at = dotted.find("." + given)
            end = at + 1 + len(given)
            if at >= 0 and dotted[end:end + 1] in ("", ".", "["):
                return given
        return None

    def world_gaps(self) -> list[str]:
        """Skip reasons for recorded paths the world does not give (one per key)."""
        out: dict[str, None] = {}
        for path in sorted(p for p in self.rec_types if p and p not in self.emu_types):
            if self.ignored(path):
                out[f"ignored (--ignore): {path}"] = None
                continue
            kinds = self.device_gap(path)
            if kinds:
                out[f"no counterpart in the world: {path} comes from a {kinds}, the "
                    f"world has none here (recorded in {self.seen_in.get(path, '?')})"] = None
                continue
            given = self.world_key(path)
            if given:
                head = path[:("." + path).index("." + given) + len(given)]
                key = given.rsplit(".", 1)[-1]
                out[f"the world gives no {key} (optional in a world file): {head} "
                    f"(recorded in {self.seen_in.get(path, '?')})"] = None
        return list(out)

    def type_diffs(self) -> list[dict[str, Any]]:
        out = []
        for path in sorted(self.rec_types.keys() & self.emu_types.keys()):
            if self.ignored(path):
                continue
            rec, emu = self.rec_types[path], self.emu_types[path]
            if emu - rec:
                out.append({"path": path or "(root)", "recorded": sorted(rec),
                            "emulator": sorted(emu)})
        return out

    def value_diffs(self) -> list[dict[str, Any]]:
        return [{"path": p, "recorded": r, "emulator": e} for p, r, e in self.values
                if not self.ignored(p)]


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
