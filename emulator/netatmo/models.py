"""Netatmo's shared domain: a user's account and homes, and the ``homesdata`` topology.

Lookups go through the account document (``world.ACCOUNT``), which lists what a user
owns, so a request reads its own documents only, whatever the size of the world.
A home that is not the caller's is answered as the cloud answers an unknown one:
``invalid_argument`` "Invalid id" (400/21, sample archive__home_status_error_invalid_id).

homesdata shows a module's static fields as the world gives them (``world.py``:
``MODULE_STATIC``), and ``reachable`` -- computed at the clock's now from the world and
the admin API's overrides, as homestatus does -- on the Wi-Fi gateways that show it in
the samples (``HOMESDATA_REACHABLE``: NAMain, OTH, NDB, NOC; a NAPlug does not). A
home's ``legacy_schedule_forms`` add the zones' ``rooms_temp`` and the home's
``therm_schedules``, derived from the schedules in force. Its named persons show as
``persons`` (``persons.topology``).

Two shapes of homesdata.json that the world asks for, entry by entry (INFERRED: the
sample shows them on some entries only, with nothing else to tell them apart): a room
with ``homesdata_modules: true`` lists its modules as ``modules`` too (the same ids as
``module_ids``); a module with ``homesdata_state: true`` (a light, dimmer, plug ...:
``home_devices.TYPES``) shows its ``firmware_revision``, ``reachable`` and, from
homestatus at the same instant, ``on``, ``brightness``, ``power`` and ``last_seen``
(those its type has), as the NLF dimmer of homesdata.json.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any

from ..core.context import Ctx
from ..core.errors import MockcloudError
from . import persons
from .world import ACCOUNT, HOME, META, MODULE_STATIC

# homesdata's "user", from the account (SEEN field names in homesdata.json)
USER_FIELDS = ("email", "language", "locale", "feel_like_algorithm", "unit_pressure",
               "unit_system", "unit_wind", "id")


# account, world, homes and home answer the store's shared snapshots: read-only

def account(ctx: Ctx, user_id: str) -> dict[str, Any]:
    doc = ctx.store.snapshot(ctx.tenant, ACCOUNT, user_id)
    if doc is None:  # a user with no Netatmo fields: an empty account
        doc = {"id": user_id, "email": "", "homes": [], "stations": [], "homecoaches": []}
    return doc


def world_seed(ctx: Ctx) -> int:
    doc = ctx.store.snapshot(ctx.tenant, META, "world")
    return int(doc["seed"]) if doc else ctx.settings.seed


def homes(ctx: Ctx, user_id: str) -> list[dict[str, Any]]:
    docs = (ctx.store.snapshot(ctx.tenant, HOME, h) for h in account(ctx, user_id)["homes"])
    return [d for d in docs if d is not None and d.get("owner") == user_id]


def home(ctx: Ctx, user_id: str, home_id: str) -> dict[str, Any]:
    """The caller's home ``home_id``, or ``invalid_argument`` "Invalid id"."""
    doc = ctx.store.snapshot(ctx.tenant, HOME, home_id)
    if doc is None or doc.get("owner") != user_id:
        raise MockcloudError("invalid_argument", "Invalid id")
    return doc


def documents(ctx: Ctx, refs: list[list[str]]) -> list[dict[str, Any]]:
    """The documents an account lists as ``[[kind, key], ...]`` (stations, coaches)."""
    docs = (ctx.store.snapshot(ctx.tenant, kind, key) for kind, key in refs)
    return [d for d in docs if d is not None]


def weather_user(acc: dict[str, Any]) -> dict[str, Any]:
    """getstationsdata's and gethomecoachsdata's "user" (SEEN field names)."""
    return {"mail": acc.get("email", ""), "administrative": {
        "lang": acc.get("language", "en-US"), "reg_locale": acc.get("locale", "en-US"),
        "country": acc.get("country", "FR"), "unit": acc.get("unit_system", 0),
        "windunit": acc.get("unit_wind", 0), "pressureunit": acc.get("unit_pressure", 0),
        "feel_like_algo": acc.get("feel_like_algorithm", 0)}}


# ------------------------------------------------------------------------- homesdata

def user_body(acc: dict[str, Any]) -> dict[str, Any]:
    out = {k: acc[k] for k in USER_FIELDS if k in acc}
    out.update(all_linked=False, type="netatmo")
    return out


def keep_modules(modules: list[dict[str, Any]], types: list[str] | None
                 ) -> list[dict[str, Any]]:
    """Modules of the given gateway (or device) types and the modules they bridge."""
    if not types:
        return modules
    kept = {m["id"] for m in modules if m["type"] in types}
    return [m for m in modules if m["id"] in kept or m.get("bridge") in kept]


# modules whose homesdata entry carries "reachable" (homesdata.json: NAMain, OTH, NDB,
# NOC -- Wi-Fi gateways; never a NAPlug nor a radio module)
HOMESDATA_REACHABLE = frozenset({"NAMain", "OTH", "NDB", "NOC"})
# homestatus's fields a module with homesdata_state shows in homesdata too
HOMESDATA_STATE = ("on", "brightness", "power", "last_seen")


def topology(doc: dict[str, Any], gateway_types: list[str] | None = None,
             reachable: Callable[[str], bool] | None = None, base: str = "",
             state: Callable[[dict[str, Any]], dict[str, Any]] | None = None
             ) -> dict[str, Any]:
    """One home as homesdata shows it (samples homesdata.json, homesdata_emtpy_home);
    ``reachable(module_id)`` for the modules of ``HOMESDATA_REACHABLE`` types and those
    with ``homesdata_state``, ``state(module)`` the homestatus fields of the latter."""
    modules = keep_modules(doc["modules"], gateway_types)
    in_room: dict[str, list[str]] = {}
    bridged: dict[str, list[str]] = {}
    for mod in modules:
        if "room_id" in mod:
            in_room.setdefault(mod["room_id"], []).append(mod["id"])
        if "bridge" in mod:
            bridged.setdefault(mod["bridge"], []).append(mod["id"])
    out: dict[str, Any] = {k: doc[k] for k in ("id", "name", "altitude", "coordinates",
                                               "country", "timezone")}
    out["rooms"] = [_room(r, in_room.get(r["id"])) for r in doc["rooms"]]
    if modules:
        out["modules"] = [_module(m, bridged.get(m["id"]), reachable, state)
                          for m in modules]
    for key in ("temperature_control_mode", "cooling_mode"):
        if key in doc:
            out[key] = doc[key]
    out["therm_mode"] = doc["therm_mode"]
    out["therm_setpoint_default_duration"] = doc["therm_setpoint_default_duration"]
    forms = doc.get("legacy_schedule_forms", ())
    out["schedules"] = [_schedule(s, "rooms_temp" in forms) for s in doc["schedules"]]
    if "therm_schedules" in forms:
        out["therm_schedules"] = [_legacy_schedule(s) for s in doc["schedules"]
                                  if s["type"] == "therm"]
    if doc.get("persons"):
        out["persons"] = persons.topology(doc, base)
    return out


def _room(room: dict[str, Any], module_ids: list[str] | None) -> dict[str, Any]:
    out = {k: v for k, v in room.items() if k != "homesdata_modules"}
    if module_ids:
        out["module_ids"] = module_ids
        if room.get("homesdata_modules"):
            out["modules"] = list(module_ids)
    return out


def _module(mod: dict[str, Any], bridged: list[str] | None,
            reachable: Callable[[str], bool] | None,
            state: Callable[[dict[str, Any]], dict[str, Any]] | None = None
            ) -> dict[str, Any]:
    out = {k: mod[k] for k in ("id", "type", "name", "setup_date", "room_id", "bridge")
           if k in mod}
    shows_state = bool(mod.get("homesdata_state")) and state is not None
    if reachable is not None and (mod["type"] in HOMESDATA_REACHABLE or shows_state):
        out["reachable"] = reachable(mod["id"])
    if bridged:
        out["modules_bridged"] = bridged
    out.update({k: mod[k] for k in MODULE_STATIC if k in mod})
    if shows_state and state is not None:
        fields = state(mod)
        out["firmware_revision"] = fields["firmware_revision"]
        out.update({k: fields[k] for k in HOMESDATA_STATE if k in fields})
    return out


def _rooms_temp(zone: dict[str, Any]) -> list[dict[str, Any]]:
    """A zone's rooms in the legacy form: ``{room_id, temp}`` (a pilot-wire level as
    ``therm_setpoint_fp``)."""
    out = []
    for r in zone.get("rooms", []):
        entry: dict[str, Any] = {"room_id": r["id"]}
        if "therm_setpoint_temperature" in r:
            entry["temp"] = r["therm_setpoint_temperature"]
        if "therm_setpoint_fp" in r:
            entry["therm_setpoint_fp"] = r["therm_setpoint_fp"]
        out.append(entry)
    return out


def _schedule(sch: dict[str, Any], rooms_temp: bool = False) -> dict[str, Any]:
    """``selected`` only on the selected schedule (absent, not false, elsewhere)."""
    out = {k: v for k, v in sch.items() if k != "selected"}
    if sch.get("selected"):
        out["selected"] = True
    if rooms_temp and sch["type"] in ("therm", "cooling"):
        out["zones"] = [{**z, "rooms_temp": _rooms_temp(z)} for z in sch["zones"]]
    return out


def _legacy_schedule(sch: dict[str, Any]) -> dict[str, Any]:
    """A therm schedule as ``therm_schedules`` lists it: zones with ``rooms_temp`` in
    place of ``rooms`` (archive__home_data_simple.json)."""
    out = _schedule(sch)
    out["zones"] = [{**{k: v for k, v in z.items() if k != "rooms"},
                     "rooms_temp": _rooms_temp(z)} for z in sch["zones"]]
    return out


def homesdata(ctx: Ctx, user_id: str, home_id: str | None,
              gateway_types: list[str] | None) -> dict[str, Any]:
    from . import energy  # energy builds on this module

    now = ctx.now()
    docs = [home(ctx, user_id, home_id)] if home_id else homes(ctx, user_id)
    out = []
    for d in docs:
        reach, state = None, None
        stated = any(m.get("homesdata_state") for m in d["modules"])
        if stated or any(m["type"] in HOMESDATA_REACHABLE for m in d["modules"]):
            live = energy.Live(ctx, d)
            reach = functools.partial(_reachable_now, live, now)
        if stated:
            state = functools.partial(_state_now, ctx, d["id"], now)
        out.append(topology(energy.current_home(ctx, d, now), gateway_types, reach,
                            ctx.base, state))
    return {"homes": out, "user": user_body(account(ctx, user_id))}


def _reachable_now(live: Any, now: float, module_id: str) -> bool:
    return bool(live.reachable(module_id, now))


def _state_now(ctx: Ctx, home_id: str, now: float, mod: dict[str, Any]
               ) -> dict[str, Any]:
    """homestatus's fields of a ``home_devices`` module at ``now`` (the same state on
    the clock: what setstate changed shows in both answers)."""
    from . import home_devices

    log = home_devices.load(ctx, home_id).get(mod["id"])
    return home_devices.status_fields(mod, log, now, world_seed(ctx), base=ctx.base)


def device(ctx: Ctx, user_id: str, device_id: str) -> tuple[str, dict[str, Any]]:
    """The caller's device ``device_id``: ("station" | "homecoach", its document) or
    ("home", the home a module of that id belongs to); else ``not_found`` (404/9)."""
    acc = account(ctx, user_id)
    wanted = device_id.replace(" ", "").lower()  # pyatmo strips spaces from ids too
    for family, key in (("station", "stations"), ("homecoach", "homecoaches")):
        for kind, ident in acc.get(key, []):
            if ident.replace(" ", "").lower() == wanted:
                doc = ctx.store.snapshot(ctx.tenant, kind, ident)
                if doc is not None:
                    return family, doc
    for doc in homes(ctx, user_id):
        if any(m["id"] == wanted for m in doc["modules"]):
            return "home", doc
    raise MockcloudError("not_found", f"Device not found: {device_id}")
