"""Lightify's part of a world file: each user's gateway, devices, groups and scenes.

::

    lightify:
      users:
        - email: demo@lightify.test
          password: demo
          gateway: {id: "123456", name: OSR027BCF90, firmwareVersion: "1.3.1.0, 2.1.0"}
          devices: [{id: 123456-d01, name: living room, type: LIGHT, onOff: "on",
                     brightness: 23, colorTemperature: 2200, colorRGBW: {...}}]
          groups:  [{id: 123456-g01, name: Main Entry, devices: [...], scenes: [...]}]
          scenes:  [{id: 123456-s01, name: away, groups: [...],
                     states: {123456-d01: {onOff: "off"}}}]

The core parses the users' logins, passwords, ids and names (and the apps); this
module the rest. A device's capabilities follow from what it carries (an OUTLET
switches; a LIGHT dims, and has colour temperature / RGBW if its entry has them)
unless it lists ``capabilities`` itself. A device's state and a scene's states are
PATCH bodies, checked by the same JSON Schema as the API's. Every id a group or
scene names must exist.
"""

from __future__ import annotations

import random
from typing import TYPE_CHECKING, Any

from contracts.files import contracts_dir

from ..core import bodies
from ..core import world as core_world
from ..core.errors import MockcloudError
from ..core.store import Store
from ..core.vendor import DocRow, WorldUser
from . import models as m

if TYPE_CHECKING:    # only annotations: Faker is imported by what generates worlds
    from faker import Faker

SCHEMAS = contracts_dir() / "schemas" / "lightify"
USER_KEYS = {"gateway", "devices", "groups", "scenes", "place"}


def check_state(where: str, state: Any) -> dict[str, Any]:
    """A stored state (a device's, a scene's) is a PATCH body; validated the same way."""
    try:
        bodies.schema(SCHEMAS, "device_patch_request").check(state)
        return m.parse_changes(state)
    except MockcloudError as exc:
        raise ValueError(f"{where}: {exc.message}") from exc


def _req_str(where: str, doc: dict, key: str) -> str:
    v = doc.get(key)
    if not isinstance(v, str) or not v:
        raise ValueError(f"{where}.{key} must be a non-empty string")
    return v


def _list_of_str(where: str, doc: dict, key: str) -> list[str]:
    v = doc.get(key, [])
    if not isinstance(v, list) or not all(isinstance(x, str) for x in v):
        raise ValueError(f"{where}.{key} must be a list of strings")
    return v


def _device(where: str, raw: Any, owner: str, order: int, gateway_id: str) -> dict:
    if not isinstance(raw, dict):
        raise ValueError(f"{where} must be a mapping")
    dev = dict(raw)
    _req_str(where, dev, "id")
    dev.setdefault("name", dev["id"])
    dev.setdefault("online", True)
    if dev.get("type") not in m.TYPES:
        raise ValueError(f"{where}.type must be one of {', '.join(m.TYPES)}")
    model, firmware = m.DEFAULT_MODEL[dev["type"]]
    dev.setdefault("deviceModel", model)
    dev.setdefault("firmwareVersion", firmware)
    if dev["type"] != "GATEWAY":
        dev.setdefault("onOff", "off")
        dev.setdefault("brightness", 100)
        check_state(where, {k: dev[k] for k in m.STATE_FIELDS if k in dev})
    caps = dev.get("capabilities")
    if caps is None:
        caps = m.capabilities_of(dev)
    elif not isinstance(caps, list) or not set(caps) <= set(m.PROPERTIES):
        raise ValueError(f"{where}.capabilities must list some of {', '.join(m.PROPERTIES)}")
    dev.update(capabilities=caps, owner=owner, order=order, gatewayId=gateway_id)
    return dev


def build(section: dict[str, Any], users: list[WorldUser], seed: int) -> list[DocRow]:
    if section:
        raise ValueError(f"unknown field(s) {', '.join(sorted(section))}")
    rows: list[DocRow] = []
    seen: set[str] = set()
    for user in users:
        rows += _user(user, seen)
    return rows


def _user(user: WorldUser, seen: set[str]) -> list[DocRow]:
    where, uid, raw = user.where, user.id, user.fields
    unknown = set(raw) - USER_KEYS
    if unknown:
        raise ValueError(f"{where}: unknown field(s) {', '.join(sorted(unknown))}")
    # where the lights are: a house of the world (Lightify's API shows no place)
    if "place" in raw and core_world.place(f"{where}.place", raw["place"]) is None:
        raise ValueError(f"{where}.place must name a house of the world")
    gw = raw.get("gateway") or {}
    if not isinstance(gw, dict):
        raise ValueError(f"{where}.gateway must be a mapping")
    gateway_id = str(gw.get("id", ""))
    devices = []
    if gw:
        devices.append(_device(f"{where}.gateway", {
            "type": "GATEWAY", **gw, "id": gateway_id,
        }, uid, 0, gateway_id))
    raw_devices = raw.get("devices", [])
    if not isinstance(raw_devices, list):
        raise ValueError(f"{where}.devices must be a list")
    for j, item in enumerate(raw_devices):
        devices.append(_device(f"{where}.devices[{j}]", item, uid, j + 1, gateway_id))
    rows: list[DocRow] = []
    dev_ids = {d["id"] for d in devices}
    for dev in devices:
        _unique(seen, dev["id"], f"{where}: device")
        rows.append((m.DEVICE, dev["id"], dev))
    groups = _records(f"{where}.groups", raw.get("groups", []), uid, gateway_id)
    scenes = _records(f"{where}.scenes", raw.get("scenes", []), uid, gateway_id)
    group_ids, scene_ids = {g["id"] for g in groups}, {s["id"] for s in scenes}
    for g in groups:
        _refs(f"group {g['id']}", _list_of_str(g["id"], g, "devices"), dev_ids, "device")
        _refs(f"group {g['id']}", _list_of_str(g["id"], g, "scenes"), scene_ids, "scene")
        _unique(seen, g["id"], f"{where}: group")
        rows.append((m.GROUP, g["id"], g))
    for s in scenes:
        _refs(f"scene {s['id']}", _list_of_str(s["id"], s, "groups"), group_ids, "group")
        states = s.get("states", {})
        if not isinstance(states, dict):
            raise ValueError(f"scene {s['id']}.states must map device ids to states")
        _refs(f"scene {s['id']}.states", list(states), dev_ids, "device")
        s["states"] = {d: check_state(f"scene {s['id']}.states.{d}", st)
                       for d, st in states.items()}
        _unique(seen, s["id"], f"{where}: scene")
        rows.append((m.SCENE, s["id"], s))
    ordered = {kind: [d["id"] for d in sorted(docs, key=lambda d: (d["order"], d["id"]))]
               for kind, docs in ((m.DEVICE, devices), (m.GROUP, groups),
                                  (m.SCENE, scenes))}
    rows.append((m.OWNED, uid, ordered))
    return rows


def _records(where: str, raw: Any, owner: str, gateway_id: str) -> list[dict]:
    if not isinstance(raw, list):
        raise ValueError(f"{where} must be a list")
    out = []
    for j, item in enumerate(raw):
        if not isinstance(item, dict):
            raise ValueError(f"{where}[{j}] must be a mapping")
        _req_str(f"{where}[{j}]", item, "id")
        out.append({"name": item["id"], "gatewayId": gateway_id, **item, "owner": owner,
                    "order": j})
    return out


def _refs(where: str, ids: list[str], known: set[str], what: str) -> None:
    missing = [i for i in ids if i not in known]
    if missing:
        raise ValueError(f"{where} names unknown {what}(s) {', '.join(missing)}")


def _unique(seen: set[str], ident: str, where: str) -> None:
    if ident in seen:
        raise ValueError(f"{where} id {ident} is used twice")
    seen.add(ident)


def export(store: Store, tenant: str, users: list[dict[str, Any]]
           ) -> tuple[dict[str, dict[str, Any]], dict[str, Any]]:
    per_user: dict[str, dict[str, Any]] = {}
    for u in users:
        mine = {kind: m.owned(store, tenant, u["id"], kind)
                for kind in (m.DEVICE, m.GROUP, m.SCENE)}
        strip = ("owner", "order", "gatewayId")
        devs = [{k: v for k, v in d.items() if k not in strip} for d in mine[m.DEVICE]]
        gateway = next((d for d in devs if d["type"] == "GATEWAY"), None)
        entry: dict[str, Any] = {}
        if gateway:
            entry["gateway"] = {k: v for k, v in gateway.items()
                                if k not in ("type", "capabilities")}
        entry["devices"] = [d for d in devs if d["type"] != "GATEWAY"]
        entry["groups"] = [{k: v for k, v in d.items() if k not in ("owner", "order")}
                           for d in mine[m.GROUP]]
        entry["scenes"] = [{k: v for k, v in d.items() if k not in ("owner", "order")}
                           for d in mine[m.SCENE]]
        per_user[u["id"]] = entry
    return per_user, {}


# ------------------------------------------------------------------ world generate

MODELS = [("LIGHT", "CLA60 RGBW", True, True), ("LIGHT", "CLA60 TW", True, False),
          ("LIGHT", "Lightify Flex RGBW", True, True),
          ("LIGHT", "CLASSIC A60 W CLEAR", False, False), ("OUTLET", "PLUG", False, False)]
ROOMS = ["living room", "kitchen", "bedroom", "bathroom", "hall", "office", "porch", "garage"]


def _generated_device(rng: random.Random, gw: str, n: int, room: str) -> dict[str, Any]:
    kind, model, tunable, colour = rng.choice(MODELS)
    dev: dict[str, Any] = {
        "id": f"{gw}-d{n:02d}", "name": f"{room} {n}", "type": kind,
        "online": rng.random() > 0.1, "onOff": rng.choice(["on", "off"]),
        "brightness": 100 if kind == "OUTLET" else rng.randrange(0, 101),
        "deviceModel": model, "firmwareVersion": f"0102{rng.randrange(0, 10**4):04d}",
    }
    if tunable:
        dev["colorTemperature"] = rng.randrange(2000, 6501, 100)
    if colour:
        dev["colorRGBW"] = {k: rng.randrange(0, 256) for k in ("red", "green", "blue", "white")}
    return dev


def generate(fake: Faker, rng: random.Random, index: int) -> dict[str, Any]:
    """One generated home: a gateway, lights and plugs in a few rooms, a group and an
    evening scene per room."""
    gw = f"{100000 + index * 7919 % 900000}"
    rooms = rng.sample(ROOMS, rng.randrange(1, 4))
    devices, groups, scenes = [], [], []
    n = 1
    for g_index, room in enumerate(rooms, start=1):
        members = []
        for _ in range(rng.randrange(1, 5)):
            dev = _generated_device(rng, gw, n, room)
            devices.append(dev)
            members.append(dev["id"])
            n += 1
        scene_id = f"{gw}-s{g_index:02d}"
        groups.append({"id": f"{gw}-g{g_index:02d}", "name": room.title(),
                       "devices": members, "scenes": [scene_id]})
        scenes.append({"id": scene_id, "name": f"{room} evening", "groups": [groups[-1]["id"]],
                       "states": {m_: {"onOff": "on"} for m_ in members}})
    return {"gateway": {"id": gw, "name": f"OSR{rng.randrange(16**8):08X}",
                        "firmwareVersion": "1.3.1.0, 2.1.0"},
            "devices": devices, "groups": groups, "scenes": scenes}
