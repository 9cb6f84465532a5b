"""Lightify's domain: gateways, devices, groups and scenes of each user.

Documents (kinds ``lightify.device``, ``lightify.group``, ``lightify.scene``) carry
their owner's user id; a user sees only their own. A device document keeps what it
can do (``capabilities``) apart from its state, so a group PATCH can skip devices
that do not support a property, as the collection says. The admin API's overrides
(``core.devices``, kind ``lightify.override``) are laid over a device's ``online`` as
they are in force at the request's virtual instant; the document keeps the world's.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable
from typing import Any

from ..core.devices import Overrides
from ..core.errors import MockcloudError
from ..core.store import Store


def bad_request(message: str) -> MockcloudError:
    return MockcloudError("invalid_argument", message)


def not_found(what: str, ident: str) -> MockcloudError:
    return MockcloudError("not_found", f"No {what} with id {ident!r} on this account.")


DEVICE, GROUP, SCENE = "lightify.device", "lightify.group", "lightify.scene"
# by user id: the ids of the user's devices, groups and scenes, each kind in the API's
# order (written with the world), so that a listing reads the user's documents only
OWNED = "lightify.owned"

TYPES = ("GATEWAY", "LIGHT", "OUTLET")
# what a world entry that names no model or firmware gets (the collection's values)
DEFAULT_MODEL = {"GATEWAY": ("LightifyHub", "1.3.1.0, 2.1.0"),
                 "LIGHT": ("Lightify Flex RGBW", "01020492"),
                 "OUTLET": ("Lightify Switch", "01020492")}

PROPERTIES = ("onOff", "brightness", "color", "colorTemperature", "colorRGBW")
# The seven named colours of the collection, as RGBW (mapping INFERRED: CSS colours).
COLORS: dict[str, dict[str, int]] = {
    "red": {"red": 255, "green": 0, "blue": 0, "white": 0},
    "green": {"red": 0, "green": 255, "blue": 0, "white": 0},
    "blue": {"red": 0, "green": 0, "blue": 255, "white": 0},
    "yellow": {"red": 255, "green": 255, "blue": 0, "white": 0},
    "purple": {"red": 128, "green": 0, "blue": 128, "white": 0},
    "orange": {"red": 255, "green": 165, "blue": 0, "white": 0},
    "pink": {"red": 255, "green": 192, "blue": 203, "white": 0},
}
STATE_FIELDS = ("onOff", "brightness", "colorTemperature", "colorRGBW")
PUBLIC = ("id", "name", "type", "online", "onOff", "brightness", "colorTemperature",
          "colorRGBW", "deviceModel", "firmwareVersion")


# ------------------------------------------------------------------ changes

def parse_changes(body: dict[str, Any]) -> dict[str, Any]:
    """A PATCH body the contract accepted (routes check it against the JSON Schema
    ``device_patch_request``) -> state changes. The one rule left is semantic."""
    if "color" in body and "colorRGBW" in body:  # also refused by the schema
        raise bad_request("Send either 'color' or 'colorRGBW', not both.")
    return {k: _whole(v) for k, v in body.items()}


def _whole(value: Any) -> Any:
    """JSON has one number type: 50.0 is the integer 50 (the schema says integer)."""
    if isinstance(value, float) and value.is_integer():
        return int(value)
    if isinstance(value, dict):
        return {k: _whole(v) for k, v in value.items()}
    return value


def capabilities_of(dev: dict[str, Any]) -> list[str]:
    if dev["type"] == "GATEWAY":
        return []
    if dev["type"] == "OUTLET":
        return ["onOff"]
    caps = ["onOff", "brightness"]
    if "colorTemperature" in dev:
        caps.append("colorTemperature")
    if "colorRGBW" in dev:
        caps += ["color", "colorRGBW"]
    return caps


def apply_changes(dev: dict[str, Any], changes: dict[str, Any]) -> list[str]:
    """Apply what the device supports; return the properties applied."""
    caps = dev.get("capabilities", [])
    applied = [k for k in changes if k in caps]
    for k in applied:
        if k == "color":
            dev["colorRGBW"] = dict(COLORS[changes[k]])
            dev["mode"] = "color"
        else:
            dev[k] = changes[k]
            if k == "colorRGBW":
                dev["mode"] = "color"
            elif k == "colorTemperature":
                dev["mode"] = "temperature"
    return applied


def owned(store: Store, tenant: str, user_id: str, kind: str) -> list[dict[str, Any]]:
    """The user's documents of ``kind`` (DEVICE, GROUP or SCENE) in the API's order
    (``order`` then id), read-only: a few reads whatever the world's size. A state
    written before the index (an older mockcloud's SQLite file or Redis) has none;
    then every document of the kind is read."""
    index = store.snapshot(tenant, OWNED, user_id)
    if index is None:
        docs = [d for _, d in store.list(tenant, kind) if d["owner"] == user_id]
        return sorted(docs, key=lambda d: (d.get("order", 0), d["id"]))
    docs = (store.snapshot(tenant, kind, ident) for ident in index.get(kind, ()))
    return [d for d in docs if d is not None and d["owner"] == user_id]


def public_device(dev: dict[str, Any], overrides: dict[str, Any] | None = None
                  ) -> dict[str, Any]:
    """The device as the API shows it, with the admin API's overrides in force
    (``core.devices``: only ``online`` applies to Lightify)."""
    out = {k: dev[k] for k in PUBLIC if k in dev}
    if overrides and "online" in overrides:
        out["online"] = overrides["online"]
    return out


def public(doc: dict[str, Any], fields: Iterable[str]) -> dict[str, Any]:
    return {k: doc[k] for k in fields if k in doc}


GROUP_FIELDS = ("id", "name", "devices", "scenes", "gatewayId")
SCENE_FIELDS = ("id", "name", "groups", "gatewayId")


# -------------------------------------------------------------------- the model

class Lightify:
    """One user's view of the Lightify cloud in one tenant at the virtual instant
    ``now`` (the admin API's device overrides in force then are shown)."""

    def __init__(self, store: Store, tenant: str, user_id: str, now: float) -> None:
        self.store, self.tenant, self.user, self.now = store, tenant, user_id, now
        self.overrides = Overrides(store, tenant, "lightify")

    def _owned(self, kind: str) -> list[dict[str, Any]]:
        return owned(self.store, self.tenant, self.user, kind)

    def _get(self, kind: str, what: str, ident: str) -> dict[str, Any]:
        doc = self.store.get(self.tenant, kind, ident)
        if doc is None or doc["owner"] != self.user:
            raise not_found(what, ident)
        return doc

    # devices
    def devices(self) -> dict[str, Any]:
        devs = self._owned(DEVICE)
        cursor = hashlib.sha1(f"{self.tenant}:{self.user}".encode()).hexdigest()[:8]
        overrides = self.overrides.all_at(self.now)
        return {"devices": [public_device(d, overrides.get(d["id"])) for d in devs],
                "cursor": cursor}

    def device(self, ident: str) -> dict[str, Any]:
        return public_device(self._get(DEVICE, "device", ident),
                             self.overrides.at(ident, self.now))

    def patch_device(self, ident: str, body: Any) -> dict[str, Any]:
        changes = parse_changes(body)
        refused: list[str] = []

        def change(doc):
            refused.clear()              # (an update may run again)
            if doc is None or doc["owner"] != self.user:
                return doc
            missing = [k for k in changes if k not in doc.get("capabilities", [])]
            if missing:
                refused.extend(missing)
            else:
                apply_changes(doc, changes)
            return doc

        doc = self.store.update(self.tenant, DEVICE, ident, change)
        if doc is None or doc["owner"] != self.user:
            raise not_found("device", ident)
        if refused:
            raise bad_request(f"Device {ident} ({doc['type']}, {doc.get('deviceModel', '')}) "
                              f"does not support {', '.join(refused)}.")
        return public_device(doc, self.overrides.at(ident, self.now))

    # groups
    def groups(self) -> dict[str, Any]:
        return {"groups": [public(g, GROUP_FIELDS) for g in self._owned(GROUP)]}

    def group(self, ident: str) -> dict[str, Any]:
        return public(self._get(GROUP, "group", ident), GROUP_FIELDS)

    def patch_group(self, ident: str, body: Any) -> dict[str, Any]:
        changes = parse_changes(body)
        group = self._get(GROUP, "group", ident)
        updated, skipped = self._apply_each(group["devices"], lambda _dev_id: changes)
        return {**public(group, GROUP_FIELDS), "updated": updated, "skipped": skipped}

    def _apply_each(self, device_ids: list[str], changes_for) -> tuple[list[str], list[str]]:
        updated: list[str] = []
        skipped: list[str] = []
        for dev_id in device_ids:
            result: dict[str, list[str]] = {}

            def change(doc, dev_id=dev_id, result=result):
                if doc is None or doc["owner"] != self.user:
                    return doc
                result["applied"] = apply_changes(doc, changes_for(dev_id))
                return doc

            self.store.update(self.tenant, DEVICE, dev_id, change)
            (updated if result.get("applied") else skipped).append(dev_id)
        return updated, skipped

    # scenes
    def scenes(self) -> dict[str, Any]:
        return {"scenes": [public(s, SCENE_FIELDS) for s in self._owned(SCENE)]}

    def scene(self, ident: str) -> dict[str, Any]:
        return public(self._get(SCENE, "scene", ident), SCENE_FIELDS)

    def apply_scene(self, ident: str, body: dict[str, Any]) -> dict[str, Any]:
        scene = self._get(SCENE, "scene", ident)
        states: dict[str, dict[str, Any]] = scene.get("states", {})
        self._apply_each(list(states), lambda dev_id: states[dev_id])
        return {"id": scene["id"], "name": scene["name"],
                "type": scene.get("type", "LIGHT"), "action": "apply"}

