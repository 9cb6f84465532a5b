"""Qivivo's world from recorded reads (``mockcloud world from-cassette``).

Reads used (``/api/v2/...``, GET):

* ``devices``: the thermostat, gateway and wireless modules (their uuids);
* ``devices/thermostats|gateways|wireless-modules/<uuid>/info``: ``serial``,
  ``softwareVersion``;
* ``devices/thermostats/<uuid>/programs``: the house's programs (``user_programs``, in
  id order) and ``user_active_program_id``; ``devices/wireless-modules/<uuid>/programs``
  the module's (such a module is in ``program`` mode);
* ``habitation/data/settings``: the seven temperature settings and
  ``days_of_absence_before_alert``.

Temperatures, humidity, presence, pilot-wire orders, last presence, events and the
info's ``lastCommunicationDate``, ``currentTimeBetweenCommunication``,
``voltagePercentage`` move: the emulator computes them (listed as not used, or as a
gap for the info fields). One user per thermostat (Qivivo has one house per account):
login ``thermostat-<serial>@qivivo.cassette`` (INFERRED: the API shows no account);
reads that name no device (settings) go to the first user. A module's name is never
read (the API does not show it): the world's default names are used. Program ids must
run 1, 2, 3...: the world numbers programs by their order (a gap otherwise).
"""

from __future__ import annotations

import re
from typing import Any

from ..core.reads import FromReads, Read, Required, merge_field, tidy

DEVICE = re.compile(r"^/api/v2/devices/(thermostats|gateways|wireless-modules)/([^/]+)/"
                    r"(info|programs)/?$")
KINDS = {"thermostats": "thermostat", "gateways": "gateway",
         "wireless-modules": "wireless-module"}
INFO_STATIC = ("serial", "softwareVersion")
INFO_MOVING = {"lastCommunicationDate", "currentTimeBetweenCommunication",
               "voltagePercentage"}
SETTINGS = "/api/v2/habitation/data/settings"
# the shapes read (core.reads.tidy): what does not fit is reported and left out
NUMBER = (int, float)
SHAPES = {
    "devices": {"devices": [{"uuid": Required(str), "type": str}]},
    "info": {"serial": (str, int), "softwareVersion": (str, int, float)},
    "programs": {"user_active_program_id": int,
                 "user_programs": [{"id": Required(int), "name": str, "program": dict}]},
    "settings": {"settings": {"days_of_absence_before_alert": int,
                              **{k: NUMBER for k in (
                                  "presence_temperature_1", "presence_temperature_2",
                                  "presence_temperature_3", "presence_temperature_4",
                                  "night_temperature", "absence_temperature",
                                  "frost_protection_temperature")}}},
}


def build(reads: list[Read]) -> FromReads:
    out = FromReads()
    kinds: dict[str, str] = {}                       # uuid -> device type
    info: dict[str, dict[str, Any]] = {}
    programs: dict[str, dict[str, Any]] = {}
    settings: dict[str, Any] = {}
    used: list[tuple[str, str | None]] = []          # (source, the uuid it is about)
    for read in reads:
        path = read.path.rstrip("/")
        match = DEVICE.match(read.path)
        shape = SHAPES["devices" if path == "/api/v2/devices" else "settings"
                       if path == SETTINGS else match.group(3) if match else "info"]
        body = tidy(read.body, shape, f"{read.source}: body", out) or {}
        if read.method != "GET":
            out.ignored.append(f"{read.source}: {read.method} {read.path}: a write")
        elif path == "/api/v2/devices" and isinstance(body.get("devices"), list):
            for dev in body["devices"]:
                if isinstance(dev, dict) and isinstance(dev.get("uuid"), str):
                    kinds[dev["uuid"]] = str(dev.get("type"))
            used.append((read.source, None))
        elif match:
            kind, uuid, what = match.groups()
            kinds.setdefault(uuid, KINDS[kind])
            if what == "info":
                entry = info.setdefault(uuid, {})
                for key, value in body.items():
                    if key in INFO_STATIC:
                        merge_field(entry, key, str(value), out, f"{kind} {uuid}")
                    elif key not in INFO_MOVING:
                        out.gap(f"{kind} {uuid}.{key}: the emulator never shows it")
            else:
                programs[uuid] = body
            used.append((read.source, uuid))
        elif path == SETTINGS and isinstance(body.get("settings"), dict):
            for key, value in body["settings"].items():
                merge_field(settings, key, value, out, "settings")
            used.append((read.source, None))
        else:
            out.ignored.append(f"{read.source}: {read.method} {read.path}: not read into "
                               "the world (the emulator computes it)")
    thermostats = [u for u, k in kinds.items() if k == "thermostat"]
    if len(thermostats) > 1:
        out.gap("several thermostats: one user each; gateways, modules and settings go "
                "to the first (the recording does not say whose they are)")
    for n, uuid in enumerate(thermostats or [None]):
        out.users.append(user(uuid, n == 0, kinds, info, programs, settings, out))
    owner = {uuid: u["email"] for u, uuid in zip(out.users, thermostats, strict=False)}
    for source, uuid in used:
        out.replay[source] = {"user": owner.get(uuid or "", out.users[0]["email"]),
                              "params": {}, "unlike": []}
    return out


def user(thermostat: str | None, first: bool, kinds: dict[str, str],
         info: dict[str, dict[str, Any]], programs: dict[str, dict[str, Any]],
         settings: dict[str, Any], out: FromReads) -> dict[str, Any]:
    house: dict[str, Any] = {}
    if thermostat:
        house["thermostat"] = {"uuid": thermostat, **info.get(thermostat, {})}
        house.update(house_programs(programs.get(thermostat), f"thermostat {thermostat}",
                                    out))
    serial = (house.get("thermostat") or {}).get("serial") or thermostat or "unknown"
    if first:
        gateways = [u for u, k in kinds.items() if k == "gateway"]
        if gateways:
            house["gateway"] = {"uuid": gateways[0], **info.get(gateways[0], {})}
        modules = []
        for uuid in (u for u, k in kinds.items() if k == "wireless-module"):
            mod: dict[str, Any] = {"uuid": uuid, **info.get(uuid, {})}
            if uuid in programs:
                mod.update(mode="program", **house_programs(
                    programs[uuid], f"wireless-module {uuid}", out))
            modules.append(mod)
        if modules:
            house["modules"] = modules
        temps = {k: v for k, v in settings.items() if k != "days_of_absence_before_alert"}
        if temps:
            house["settings"] = temps
        if isinstance(settings.get("days_of_absence_before_alert"), int):
            house["days_of_absence_before_alert"] = settings["days_of_absence_before_alert"]
    slug = re.sub(r"[^a-z0-9-]+", "-", str(serial).lower()).strip("-")
    return {"email": f"thermostat-{slug}@qivivo.cassette", "name": f"Qivivo {serial}",
            "house": house}


def house_programs(body: dict[str, Any] | None, where: str, out: FromReads
                   ) -> dict[str, Any]:
    if not body or not isinstance(body.get("user_programs"), list):
        return {}
    progs = sorted((p for p in body["user_programs"] if isinstance(p, dict)),
                   key=lambda p: p.get("id", 0))
    if [p.get("id") for p in progs] != list(range(1, len(progs) + 1)):
        out.gap(f"{where}: program ids {[p.get('id') for p in progs]}: the world numbers "
                "its programs 1, 2, 3... in this order")
    found: dict[str, Any] = {"programs": [{"name": p.get("name", f"Program {i + 1}"),
                                           "program": p.get("program", {})}
                                          for i, p in enumerate(progs)]}
    active = body.get("user_active_program_id")
    if isinstance(active, int) and 1 <= active <= len(progs):
        found["active_program"] = active
    return found
