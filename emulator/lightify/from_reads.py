"""Lightify's world from recorded reads (``mockcloud world from-cassette``).

Reads used: ``GET /v4/devices/`` and ``/v4/devices/<id>``, ``GET /v4/groups/`` and
``/v4/groups/<id>``, ``GET /v4/scenes/`` and ``/v4/scenes/<id>``; anything else (the
PATCH writes, apply scene) is not a read of the world and is listed as not used.

* One user per gateway. A record's gateway is the prefix of its id before ``-``
  (Lightify ids are ``<gateway>-d01``, ``-g01``, ``-s01``; INFERRED from the collection),
  else its ``gatewayId``, else the only gateway read. The login is
  ``gateway-<id>@lightify.cassette`` (the API shows no account; INFERRED).
* Ids, names, types, models, firmware, group members and scenes, scene groups and a
  record's own ``gatewayId`` (the collection's scene s02 says ``1233456``) are kept as
  recorded; ``online``, ``onOff``, ``brightness``, ``colorTemperature``, ``colorRGBW``
  seed the device's initial state (the latest read wins). A static field recorded twice
  with two values keeps the first and is reported.
* What groups and scenes name but no read shows (devices, groups, scenes) is added as a
  placeholder (a device: a ``LIGHT`` named by its id) so nothing dangles, and reported.
* A field the emulator never shows (outside ``models.PUBLIC``, ``GROUP_FIELDS``,
  ``SCENE_FIELDS``) is reported as a known gap. A scene's device states are never read
  (the API does not show them): the world's scenes have none, so applying one changes
  nothing (reported).
"""

from __future__ import annotations

import re
from typing import Any

from ..core.reads import FromReads, Read, Required, merge_field, tidy
from . import models as m
from .world import check_state

MOVING = frozenset({"online", "onOff", "brightness", "colorTemperature", "colorRGBW"})
ONE = re.compile(r"^/v4/(devices|groups|scenes)/([^/]+)/?$")
ALL = re.compile(r"^/v4/(devices|groups|scenes)/?$")
# the shape of a recorded record (core.reads.tidy): what does not fit is left out
RECORD = {"id": Required(str), "type": str, "name": str, "gatewayId": str,
          "devices": [str], "scenes": [str], "groups": [str]}
SHOWN = {"devices": set(m.PUBLIC), "groups": set(m.GROUP_FIELDS),
         "scenes": set(m.SCENE_FIELDS)}


def records(read: Read) -> tuple[str, list[dict[str, Any]]] | None:
    """(collection, its records) of a read, or None when it is no read of the world."""
    if read.method != "GET" or not isinstance(read.body, dict):
        return None
    one, every = ONE.match(read.path), ALL.match(read.path)
    if one:
        return one.group(1), [read.body]
    if every and isinstance(read.body.get(every.group(1)), list):
        return every.group(1), read.body[every.group(1)]
    return None


def fitted(recs: list[Any], kind: str, src: str, out: FromReads) -> list[dict[str, Any]]:
    """The records that have the shape Lightify answers, their state fields checked as
    the world checks them (what does not fit is reported and left out)."""
    kept = tidy(recs, [RECORD], f"{src}: {kind}", out) or []
    for rec in kept:
        for key in ("devices", "scenes", "groups"):
            if "" in rec.get(key, []):
                out.gap(f"{src}: {kind[:-1]} {rec['id']}.{key} names an empty id: left out")
                rec[key] = [x for x in rec[key] if x]
        for key in [k for k in m.STATE_FIELDS if k in rec]:
            try:
                check_state(f"{src}: {kind[:-1]} {rec['id']}", {key: rec[key]})
            except ValueError as exc:
                out.gap(f"{exc}: left at the emulator's default")
                rec.pop(key)
    return kept


def gateway_of(rec: dict[str, Any], gateways: set[str]) -> str:
    ident = str(rec.get("id", ""))
    if rec.get("type") == "GATEWAY":
        return ident
    if "-" in ident:
        return ident.split("-", 1)[0]
    if rec.get("gatewayId"):
        return str(rec["gatewayId"])
    return next(iter(gateways)) if len(gateways) == 1 else "unknown"


def build(reads: list[Read]) -> FromReads:
    out = FromReads()
    found: dict[str, dict[str, dict[str, Any]]] = {"devices": {}, "groups": {}, "scenes": {}}
    used: list[str] = []
    writes: list[Read] = []
    # list reads first: the world keeps their order (the API lists in world order)
    for read in sorted(reads, key=lambda r: ONE.match(r.path) is not None):
        got = records(read)
        if got is None:
            out.ignored.append(f"{read.source}: {read.method} {read.path} is not a read "
                               "of the world")
            writes.append(read)
            continue
        kind, recs = got
        used.append(read.source)
        for rec in fitted(recs, kind, read.source, out):
            if not rec["id"]:
                out.gap(f"{read.source}: a {kind[:-1]} without an id: left out")
                continue
            entry = found[kind].setdefault(rec["id"], {})
            for key, value in rec.items():
                if key not in SHOWN[kind]:
                    out.gap(f"{kind[:-1]} {rec['id']}.{key}: the emulator never shows it")
                    continue
                merge_field(entry, key, value, out, f"{kind[:-1]} {rec['id']}", MOVING)
    for read in writes:   # a write's answer that names a record otherwise than its reads
        kind = (ONE.match(read.path) or ALL.match(read.path) or [None, None])[1]
        body = read.body if isinstance(read.body, dict) else {}
        ident = body.get("id") if isinstance(body.get("id"), str) else None
        known = found.get(kind or "", {}).get(ident, {})
        for key in sorted(SHOWN.get(kind or "", set()) & known.keys() & body.keys()):
            if key not in MOVING and known[key] != body[key]:
                out.gap(f"{read.source}: {read.method} answered {kind[:-1]} "
                        f"{body['id']}.{key} {body[key]!r}, its reads {known[key]!r}: the "
                        "world (and so the emulator's answer) has the reads'")
    gateways = {i for i, d in found["devices"].items() if d.get("type") == "GATEWAY"}
    per: dict[str, dict[str, list[dict[str, Any]]]] = {}
    for kind, entries in found.items():
        for entry in entries.values():
            gw = gateway_of(entry, gateways)
            per.setdefault(gw, {"devices": [], "groups": [], "scenes": []})[kind].append(entry)
    for gw in sorted(per, key=lambda g: -sum(len(v) for v in per[g].values())):
        out.users.append(_user(gw, per[gw], out))
    for source in used:
        record = next((u["email"] for u in out.users), "")
        out.replay[source] = {"user": _owner(source, reads, out) or record, "params": {},
                              "unlike": []}
    return out


def _owner(source: str, reads: list[Read], out: FromReads) -> str | None:
    read = next(r for r in reads if r.source == source)
    got = records(read)
    ids = {r.get("id") for r in got[1] if isinstance(r, dict)
           and isinstance(r.get("id"), str)} if got else set()
    for user in out.users:
        mine = {user["gateway"]["id"]} if "gateway" in user else set()
        mine |= {x["id"] for k in ("devices", "groups", "scenes") for x in user.get(k, [])}
        if ids & mine:
            return user["email"]
    return None


def _user(gw: str, mine: dict[str, list[dict[str, Any]]], out: FromReads) -> dict[str, Any]:
    devices = [d for d in mine["devices"] if d.get("type") != "GATEWAY"]
    gateway = next((d for d in mine["devices"] if d.get("type") == "GATEWAY"), None)
    groups, scenes = mine["groups"], mine["scenes"]
    user: dict[str, Any] = {"email": f"gateway-{gw}@lightify.cassette",
                            "name": f"Lightify gateway {gw}"}
    gw_entry = {k: v for k, v in (gateway or {"id": gw}).items() if k != "type"}
    if gateway is None:
        out.gap(f"gateway {gw}: never read; its entry has the id only")
    user["gateway"] = gw_entry
    for dev in devices:
        if dev.get("type") not in m.TYPES:
            out.gap(f"device {dev['id']}: type {dev.get('type')!r} unknown to the "
                    "emulator: loaded as LIGHT")
            dev["type"] = "LIGHT"
    dev_ids = {d["id"] for d in devices}
    group_ids = {g["id"] for g in groups}
    scene_ids = {s["id"] for s in scenes}
    for g in groups:
        for d in g.get("devices", []):
            if d not in dev_ids:
                devices.append({"id": d, "name": d, "type": "LIGHT"})
                dev_ids.add(d)
                out.gap(f"device {d}: named by group {g['id']} but never read: a "
                        "placeholder LIGHT")
        for s in g.get("scenes", []):
            if s not in scene_ids:
                scenes.append({"id": s, "groups": [g["id"]]})
                scene_ids.add(s)
                out.gap(f"scene {s}: named by group {g['id']} but never read: a "
                        "placeholder")
    for s in scenes:
        for g in s.get("groups", []):
            if g not in group_ids:
                groups.append({"id": g, "devices": [], "scenes": [s["id"]]})
                group_ids.add(g)
                out.gap(f"group {g}: named by scene {s['id']} but never read: a "
                        "placeholder without devices")
    if scenes:
        out.gap("scenes' device states are never read (the API does not show them): "
                "applying a built scene changes no device")
    user.update(devices=devices, groups=groups, scenes=scenes)
    return user
