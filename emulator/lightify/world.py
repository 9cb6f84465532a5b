"""Lightify's part of a world file: users, each with a gateway, devices, groups, scenes.

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

A device's capabilities follow from what it carries (an OUTLET switches; a LIGHT
dims, and has colour temperature / RGBW if its entry has them) unless it lists
``capabilities`` itself. Every id a group or scene names must exist.
"""

from __future__ import annotations

from typing import Any

from ..core.store import Store
from . import models as m

USER = "lightify.user"


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
        state = {k: dev[k] for k in m.STATE_FIELDS if k in dev}
        try:
            m.parse_changes(state)
        except m.LightifyError as exc:
            raise ValueError(f"{where}: {exc.message}") from exc
    caps = dev.get("capabilities")
    if caps is None:
        caps = m.capabilities_of(dev)
    elif not isinstance(caps, list) or not set(caps) <= set(m.PROPERTIES):
        raise ValueError(f"{where}.capabilities must list some of {', '.join(m.PROPERTIES)}")
    dev.update(capabilities=caps, owner=owner, order=order, gatewayId=gateway_id)
    return dev


def build(section: dict[str, Any], seed: int) -> list[tuple[str, str, dict]]:
    users = section.get("users", [])
    if not isinstance(users, list):
        raise ValueError("users must be a list")
    unknown = set(section) - {"users", "apps", "quotas"}
    if unknown:
        raise ValueError(f"unknown field(s) {', '.join(sorted(unknown))}")
    rows: list[tuple[str, str, dict]] = []
    seen: set[str] = set()
    for i, user in enumerate(users):
        rows += _user(f"users[{i}]", user, seen)
    return rows


def _user(where: str, user: Any, seen: set[str]) -> list[tuple[str, str, dict]]:
    if not isinstance(user, dict):
        raise ValueError(f"{where} must be a mapping")
    email = _req_str(where, user, "email").lower()
    uid = user.get("id") or email
    gw = user.get("gateway") or {}
    if not isinstance(gw, dict):
        raise ValueError(f"{where}.gateway must be a mapping")
    gateway_id = str(gw.get("id", ""))
    devices = []
    if gw:
        devices.append(_device(f"{where}.gateway", {
            "type": "GATEWAY", **gw, "id": gateway_id,
        }, uid, 0, gateway_id))
    raw_devices = user.get("devices", [])
    if not isinstance(raw_devices, list):
        raise ValueError(f"{where}.devices must be a list")
    for j, raw in enumerate(raw_devices):
        devices.append(_device(f"{where}.devices[{j}]", raw, uid, j + 1, gateway_id))
    rows: list[tuple[str, str, dict]] = [(USER, email, {
        "id": uid, "email": email, "password": str(user.get("password", "")),
        "name": user.get("name", email), "gateway": gateway_id})]
    dev_ids = {d["id"] for d in devices}
    for dev in devices:
        _unique(seen, dev["id"], f"{where}: device")
        rows.append((m.DEVICE, dev["id"], dev))
    groups = _records(f"{where}.groups", user.get("groups", []), uid, gateway_id)
    scenes = _records(f"{where}.scenes", user.get("scenes", []), uid, gateway_id)
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
        s["states"] = {d: m.check_state(f"scene {s['id']}.states.{d}", st)
                       for d, st in states.items()}
        _unique(seen, s["id"], f"{where}: scene")
        rows.append((m.SCENE, s["id"], s))
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


def export(store: Store, tenant: str) -> dict[str, Any]:
    users = []
    for _, u in store.list(tenant, USER):
        mine = {kind: sorted((d for _, d in store.list(tenant, kind) if d["owner"] == u["id"]),
                             key=lambda d: (d.get("order", 0), d["id"]))
                for kind in (m.DEVICE, m.GROUP, m.SCENE)}
        strip = ("owner", "order", "gatewayId")
        devs = [{k: v for k, v in d.items() if k not in strip} for d in mine[m.DEVICE]]
        gateway = next((d for d in devs if d["type"] == "GATEWAY"), None)
        entry = {"email": u["email"], "password": u["password"], "name": u["name"]}
        if u["id"] != u["email"]:
            entry["id"] = u["id"]
        if gateway:
            entry["gateway"] = {k: v for k, v in gateway.items()
                                if k not in ("type", "capabilities")}
        entry["devices"] = [d for d in devs if d["type"] != "GATEWAY"]
        entry["groups"] = [{k: v for k, v in d.items() if k not in ("owner", "order")}
                           for d in mine[m.GROUP]]
        entry["scenes"] = [{k: v for k, v in d.items() if k not in ("owner", "order")}
                           for d in mine[m.SCENE]]
        users.append(entry)
    return {"users": users} if users else {}
