"""Worlds: the users, apps and devices a tenant starts with.

A world file is YAML (or JSON) with one section per vendor::

    lightify:
      quotas: {enabled: false, rules: []}
      apps:  [{client_id, client_secret, redirect_uris, scopes, auto_approve, name}]
      users: [{email, password, ...vendor fields (gateways, devices...)}]

Loading is two-phase: every vendor turns its section into documents first (and may
refuse it with a ValueError naming the bad entry), and only then is the tenant
replaced, so a bad world never leaves a half-written tenant behind.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml

from .quotas import RULES_KIND, QuotaConfig
from .store import Store
from .vendor import DocRow, Vendor

META_KIND = "meta"
META_KEY = "world"
APP_FIELDS = {"client_id", "client_secret", "redirect_uris", "scopes", "auto_approve",
              "auto_approve_user", "name", "grants", "default_scope"}


class WorldError(ValueError):
    pass


def read_file(path: str | Path) -> dict[str, Any]:
    try:
        text = Path(path).read_text(encoding="utf-8")
    except OSError as exc:
        raise WorldError(f"cannot read world file {path}: {exc.strerror}") from exc
    return parse(text, str(path))


def parse(text: str, source: str = "world") -> dict[str, Any]:
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        raise WorldError(f"{source} is not valid YAML/JSON: {exc}") from exc
    if data is None:
        data = {}
    if not isinstance(data, dict):
        raise WorldError(f"{source}: a world is a mapping with one section per vendor")
    return data


def _apps(vendor: Vendor, raw: Any) -> list[DocRow]:
    if not isinstance(raw, list):
        raise WorldError(f"{vendor.name}.apps must be a list")
    rows = []
    for i, app in enumerate(raw):
        where = f"{vendor.name}.apps[{i}]"
        if not isinstance(app, dict):
            raise WorldError(f"{where} must be a mapping")
        unknown = set(app) - APP_FIELDS
        if unknown:
            raise WorldError(f"{where}: unknown field(s) {', '.join(sorted(unknown))}")
        for key in ("client_id", "client_secret"):
            if not isinstance(app.get(key), str) or not app[key]:
                raise WorldError(f"{where}.{key} must be a non-empty string")
        uris = app.get("redirect_uris", [])
        if not isinstance(uris, list) or not all(isinstance(u, str) for u in uris):
            raise WorldError(f"{where}.redirect_uris must be a list of strings")
        doc = {"redirect_uris": uris, "auto_approve": False, **app}
        if not isinstance(doc["auto_approve"], bool):
            raise WorldError(f"{where}.auto_approve must be true or false")
        rows.append((vendor.kind("client"), app["client_id"], doc))
    return rows


def build(data: dict[str, Any], vendors: dict[str, Vendor], seed: int) -> list[DocRow]:
    """All documents of a world, validated; nothing is written."""
    unknown = {str(k) for k in data} - set(vendors) - {"seed"}
    if unknown or not all(isinstance(k, str) for k in data):
        raise WorldError(f"unknown world section(s): {', '.join(sorted(unknown))}; "
                         f"known: {', '.join(sorted(vendors))}")
    seed = data.get("seed", seed)
    rows: list[DocRow] = []
    for name, section in data.items():
        if name == "seed":
            continue
        if section is None:
            section = {}
        if not isinstance(section, dict):
            raise WorldError(f"world section {name!r} must be a mapping")
        vendor = vendors[name]
        rows += _apps(vendor, section.get("apps", []))
        if "quotas" in section:
            try:
                cfg = QuotaConfig.parse(section["quotas"])
            except ValueError as exc:
                raise WorldError(f"{name}.quotas: {exc}") from exc
            rows.append((RULES_KIND, name, cfg.to_doc()))
        try:
            rows += list(vendor.build_world(section, seed))
        except WorldError:
            raise
        except ValueError as exc:
            raise WorldError(f"{name}: {exc}") from exc
    return rows


def install(store: Store, tenant: str, rows: list[DocRow], source: str, now: float) -> None:
    """Replace the tenant's world (clock kept) with prepared documents."""
    clock = store.get(tenant, "clock", "state")
    store.clear(tenant)
    if clock:
        store.put(tenant, "clock", "state", clock)
    for kind, key, doc in rows:
        store.put(tenant, kind, key, doc)
    store.put(tenant, META_KIND, META_KEY, {"source": source, "loaded_at": now})


def export(store: Store, tenant: str, vendors: dict[str, Vendor]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for name, vendor in vendors.items():
        section: dict[str, Any] = {}
        apps = [d for _, d in store.list(tenant, vendor.kind("client"))]
        if apps:
            section["apps"] = apps
        rules = store.get(tenant, RULES_KIND, name)
        if rules:
            section["quotas"] = rules
        section.update(vendor.export_world(store, tenant))
        if section:
            out[name] = section
    return out
