"""A Netatmo home's devices beyond heating -- lights, dimmers, plugs, shutters, cameras,
smoke and carbon-monoxide alarms, door/window tags -- through ``setstate`` (JSON body,
``{"home": {"id", "modules": [{"id", "bridge"?, <property>: <value>}]}}``) and
``homestatus``.

**Families** (``SPECS``: pyatmo's classes; what setstate may set; the write scope it
needs; homestatus fields as the sample homestatus_91763b24c43d3e344f424e8b.json shows
them):

============  ==========================  ====================  ==================
family        types                       setstate properties   write scope
============  ==========================  ====================  ==================
light         NLL, NLM                    on                    write_magellan
dimmer        NLF, NLFN, NLFE             on, brightness        write_magellan
plug          NLP, NLPM, NLPBS, NLPO      on                    write_magellan
fan           NLLF                        fan_speed             write_magellan
meter         NLPC                        (none)                write_magellan
shutter       NLV, NLLV, NLLM, Z3V        target_position       write_magellan
shutter       NBR, NBO                    target_position       write_bubendorff
gateway       NLG / NBG                   (none)                magellan / bubendorff
camera        NACamera (indoor)           monitoring            write_camera
camera        NOC (outdoor)               monitoring,           write_presence
                                          floodlight
doorbell      NDB                         (none)                (none)
door tag      NACamDoorTag                (none)                write_camera
smoke alarm   NSD                         (none)                (none exists)
CO alarm      NCO                         (none)                (none exists)
============  ==========================  ====================  ==================

Values: ``on`` true/false; ``brightness`` 0..100; ``fan_speed`` 1 (low) or 2 (high);
``target_position`` 0 (closed) .. 100 (open), -1 stop, -2 the preferred position (what pyatmo's
``async_move_to_preferred_position`` sends); ``monitoring`` "on"/"off" (strings, as
pyatmo sends and homestatus shows them); ``floodlight`` "on"/"off"/"auto".

**Checks, in order, for every module entry before anything is written** (rooms too:
``energy.set_state`` checks the modules, then writes the rooms, then the modules):

1. the id is a module of the home (spaces dropped, any case, as pyatmo fixes ids), else
   400/21 ``Invalid device_id, <id>`` (SEEN, archive__camera_set_state_error.json);
   ``bridge``, when a string, must be the module's bridge (400/21);
2. the token holds the family's write scope, else 403/13 (a type with no write scope
   skips this: it has nothing to set);
3. every property is one the type takes, else 400/21 ``cannot set property <p> for
   module <id>`` (SEEN, archive__camera_set_state_error_wrong_parameter.json), and its
   value is valid (400/21 naming it); an entry with nothing to set is 400/10;
4. the module is reachable (its admin ``online`` override, the world's ``reachable``,
   its bridge's): else, with ``Settings.setstate_unreachable`` = ``hard`` (default),
   403/41 ``Device is unreachable: <id>`` for the whole request (DEVICE_IS_UNREACHABLE,
   notes §3.2, openHAB's table) -- or, with ``partial``, the module is skipped and
   listed in ``body.errors`` as ``{"code": 6, "message": "Device unreachable", "id",
   "command"}`` (code 6 as homestatus says it), the others applied.

**Already in that state** (per property, at the request's instant): SEEN for a camera's
``monitoring`` (200, ``body.errors`` ``{"code": 23, "message": "Already on", "id",
"command": "command/changestatus"}``, archive__camera_set_state_error_already_on.json).
``Settings.setstate_already`` picks where it applies: ``cameras`` (default: monitoring
and floodlight), ``all`` (also ``on`` of lights, dimmers and plugs) or ``none``; a
property already so is not applied again, the others of the entry are. The body is then
``{"home": {"id"}, "errors": [...]}``; without errors a write answers the bare
envelope (SEEN, archive__camera_set_state_ok.json).

**State on the clock.** Each accepted module change is an *event* ``{"at", "changes",
"snap"}`` in this module's log -- one store document per home, kind
``netatmo.homedevices``: ``{"home", "modules": {<id>: {"events": [...], "base"}}}``,
never the home document's energy log -- kept in time order (an event at the same
instant as others comes after them). ``snap`` is the module's state right after the
event (``on``, ``brightness``, ``energy_wh``; ``position``, ``target``;
``monitoring``, ``floodlight``), so a read at t is a bisect to the last event at or
before t and one closed-form step from it (``physics.actuators``): cheap a year later.
A change made while the clock stands before later events (the clock was moved back)
recomputes the snapshots after it. A read at t sees only changes made at or before t.
At most ``MAX_EVENTS`` events a module; older ones fold into ``base`` (reads before
the oldest kept event see that folded state: the one approximation, as the admin
overrides'). Each event holds ``seq``, its sequence among the module's events of its
instant (``core.devices.seq_within``), which trimming never changes: a camera's event
ids are made of it (``security``). Like those overrides, this is runtime state: a
world load or reset drops it and ``world export`` gives the world's initial state,
not the log.

**Readings.**

* Power (W, an integer): a light's or plug's ``load`` when on, a dimmer's ``load`` x
  brightness / 100; 0 when off. ``sum_energy_elec`` (Wh since the module's
  ``setup_date``, an integer; INFERRED name: pyatmo's attribute, the cloud gives energy
  through getmeasure: ``plug_measure``) is the integral of that power, accumulating
  on the clock.
* Shutters move at ``100 / full_travel`` per second (default 50 s for a full travel):
  ``current_position`` follows the clock, ``target_position`` is the last target (a
  stop makes it the position where it stopped). ``target_position:step`` is 1 (any
  position is taken; pyatmo reads that key), spelt ``target_position_step`` by NBR and
  Z3V (SEEN; the samples' step values, 100 or 1, are not modelled: the emulator takes
  any position).
* A fan (NLLF) runs at its ``fan_speed``, drawing ``load`` (W, 22 by default) at speed 2
  and in proportion below (11 W at speed 1, as the sample; INFERRED), counted in
  ``sum_energy_elec`` as a plug's; it shows no ``on``.
* A consumption meter (NLPC) measures a circuit that draws its world entry's ``load``
  (W, 500 by default; INFERRED: a steady draw), shown as ``power`` and counted in
  ``sum_energy_elec`` (and getmeasure: ``plug_measure``).
* A contactor (NLPO) is a plug that also shows ``contactor_mode`` (on, off, auto: its
  world entry's, "off" by default as the sample; not settable, INFERRED).
* A doorbell (NDB) shows what the sample's does: ``vpn_url`` (as a camera's, not served
  by ``camera_live``), ``is_local`` false, ``websocket_connected`` true,
  ``max_peers_reached`` false, ``homekit_status`` "configured", its Wi-Fi strength
  labelled, and ``last_ftp_event`` ``{type, time, id}`` when its world entry gives one
  (a past upload the emulator does not make; INFERRED); no ``reachable``.
* ``last_seen`` is now; radio and Wi-Fi strengths are stable per module
  (``energy_physics.rf_strength``); a door tag's battery is ``energy_physics``'s.

**World** (``world.py`` validates through :func:`check_world`): a module may carry its
initial state -- ``on``, ``brightness`` (dimmers), ``target_position`` (shutters, at
rest there), ``monitoring`` (cameras), ``floodlight`` (NOC), ``fan_speed`` (NLLF),
``contactor_mode`` (NLPO), ``last_ftp_event`` (NDB) -- and its behaviour:
``load`` (W: lights and dimmers 40, plugs 100, fans 22, meters 500 by default),
``full_travel`` (s, 50) and ``preferred_position`` (50) for shutters. A key the type
cannot take is refused.

INFERRED (the notes are silent): defaults above (off, brightness 100, closed, monitoring
on, floodlight auto); ``brightness`` > 0 also switches a dimmer on and 0 switches it off
(Home Assistant sets a brightness alone to turn a light on); "Already off"/"Already
auto" messages; commands ``command/floodlight_set_config`` (floodlight) and
``command/setstate`` (Legrand/Bubendorff), ``command/changestatus`` for monitoring
(SEEN); cameras show ``is_local: false`` (pyatmo then does not ping their ``vpn_url``: a
``/restricted/...`` address under the client's base URL, served by ``camera_live``
with the live snapshot) and no ``reachable`` (as the sample; NSD/NCO neither);
an NOC also ``firmware_name`` (its revision spelt out: 3002000 is "3.2.0"),
``homekit_status`` "upgradable", ``timelapse_available`` true and ``network_lock``
(its world entry's, else false), as the real sample;
a door tag's ``status`` is ``closed`` and ``last_activity`` its setup date, unless a
``tag_*`` security event came in the day before (``module_status``: "open" for 60 s
after a ``tag_open``); rooms in ``setstate`` need ``write_thermostat`` or ``write_smarther``.
Modules and rooms of one request are all checked first; a hard error writes nothing.
"""

from __future__ import annotations

import bisect
import copy
import hashlib
import math
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

from ..core import devices as core_devices
from ..core.context import Ctx
from ..core.errors import MockcloudError
from ..physics.actuators import Travel, energy_wh
from . import energy_physics as ep

KIND = "netatmo.homedevices"
MAX_EVENTS = 256
LEGRAND, BUBENDORFF = "write_magellan", "write_bubendorff"
ALREADY_MODES = ("cameras", "all", "none")
UNREACHABLE_MODES = ("hard", "partial")
ROOM_SCOPES = ("write_thermostat", "write_smarther")
STOP, PREFERRED = -1, -2
DEFAULT_LOAD = {"light": 40, "dimmer": 40, "plug": 100, "fan": 22, "meter": 500}
FULL_TRAVEL, PREFERRED_POSITION = 50, 50
WORLD_KEYS = frozenset({"on", "brightness", "load", "target_position", "full_travel",
                        "preferred_position", "monitoring", "floodlight", "fan_speed",
                        "contactor_mode", "last_ftp_event"})
SWITCHES = ("light", "dimmer", "plug")
METERED = (*SWITCHES, "fan", "meter")  # draw power, counted in sum_energy_elec
FAMILY_WORLD = {"light": ("on", "load"), "dimmer": ("on", "brightness", "load"),
                "plug": ("on", "load"), "fan": ("fan_speed", "load"), "meter": ("load",),
                "shutter": ("target_position", "full_travel", "preferred_position"),
                "camera": ("monitoring",), "doorbell": ("last_ftp_event",),
                "gateway": (), "doortag": (), "smoke": (), "co": ()}
FAN_SPEEDS = (1, 2)                    # NLLF: low, high (INFERRED: a two-speed VMC)
COMMAND = {"monitoring": "command/changestatus",
           "floodlight": "command/floodlight_set_config"}
OTHER_COMMAND = "command/setstate"
CHOICES = {"monitoring": ("on", "off"), "floodlight": ("on", "off", "auto"),
           "contactor_mode": ("on", "off", "auto")}
# homestatus's name of a shutter's position step: SEEN target_position_step on NBR and
# Z3V, target_position:step on the others (homestatus_91763b24c43d3e344f424e8b.json)
STEP_UNDERSCORED = frozenset({"NBR", "Z3V"})


@dataclass(frozen=True)
class Spec:
    family: str
    props: tuple[str, ...]          # what setstate may set
    scope: str | None               # the write scope setstate needs (None: none exists)
    firmware: int                   # homestatus firmware_revision when the world has none
    wifi: int | None = None         # Wi-Fi strength base (None: a radio module)
    rf: int | None = None           # radio strength base, shown as rf_strength
    reachable: bool = True          # homestatus shows "reachable"
    offload: bool = False           # homestatus shows "offload" (Legrand plugs, gateway)
    contactor: bool = False         # a contactor (NLPO): contactor_mode, from the world


def _light(fw: int) -> Spec:
    return Spec("light", ("on",), LEGRAND, fw)


def _dimmer(fw: int) -> Spec:
    return Spec("dimmer", ("on", "brightness"), LEGRAND, fw)


def _shutter(scope: str, fw: int) -> Spec:
    return Spec("shutter", ("target_position",), scope, fw)


# firmware and strengths: the samples' values where they show the type (INFERRED else)
SPECS: dict[str, Spec] = {
    "NLL": _light(53), "NLM": _light(53),
    "NLF": _dimmer(57), "NLFN": _dimmer(57), "NLFE": _dimmer(57),
    "NLP": Spec("plug", ("on",), LEGRAND, 62, offload=True),
    "NLPM": Spec("plug", ("on",), LEGRAND, 62, offload=True),
    "NLPBS": Spec("plug", ("on",), LEGRAND, 62),
    "NLPO": Spec("plug", ("on",), LEGRAND, 74, offload=True, contactor=True),
    "NLLF": Spec("fan", ("fan_speed",), LEGRAND, 60),
    "NLPC": Spec("meter", (), LEGRAND, 62),
    "NLV": _shutter(LEGRAND, 47), "NLLV": _shutter(LEGRAND, 53),
    "NLLM": _shutter(LEGRAND, 53), "Z3V": _shutter(LEGRAND, 16),
    "NBR": _shutter(BUBENDORFF, 16), "NBO": _shutter(BUBENDORFF, 22),
    "NLG": Spec("gateway", (), LEGRAND, 211, wifi=51, offload=True),
    "NBG": Spec("gateway", (), BUBENDORFF, 39, wifi=65),
    "NACamera": Spec("camera", ("monitoring",), "write_camera", 220, wifi=50,
                     reachable=False),
    "NOC": Spec("camera", ("monitoring", "floodlight"), "write_presence", 3002000,
                wifi=62, reachable=False),
    "NDB": Spec("doorbell", (), None, 2018000, wifi=66, reachable=False),
    "NACamDoorTag": Spec("doortag", (), "write_camera", 58, rf=58),
    "NSD": Spec("smoke", (), None, 108, wifi=35, reachable=False),
    "NCO": Spec("co", (), None, 108, wifi=35, reachable=False),
}
TYPES = frozenset(SPECS)
NO_REACHABLE = frozenset(t for t, s in SPECS.items() if not s.reachable)
# homestatus labels the strength (module_status.wifi_state / rf_state) on these
WIFI_LABELLED = frozenset(t for t, s in SPECS.items() if s.family in ("camera",
                                                                     "doorbell"))
RF_LABELLED = frozenset(t for t, s in SPECS.items() if s.family == "doortag")


def invalid(message: str) -> MockcloudError:
    return MockcloudError("invalid_argument", message)


def norm_id(value: str) -> str:
    return value.replace(" ", "").lower()


# ------------------------------------------------------------------------ world

def _world_int(where: str, value: Any, lo: int, hi: int) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or not lo <= value <= hi:
        raise ValueError(f"{where} must be an integer from {lo} to {hi}, not {value!r}")
    return value


def check_world(where: str, kind: str, raw: dict[str, Any]) -> dict[str, Any]:
    """A module entry's state keys (``WORLD_KEYS``), checked for its type; raises
    ValueError naming the entry."""
    given = [k for k in sorted(WORLD_KEYS) if k in raw]
    if not given:
        return {}
    spec = SPECS.get(kind)
    allowed = set(FAMILY_WORLD[spec.family]) if spec else set()
    if spec and "floodlight" in spec.props:
        allowed.add("floodlight")
    if spec and spec.contactor:
        allowed.add("contactor_mode")
    wrong = [k for k in given if k not in allowed]
    if wrong:
        takes = ", ".join(sorted(allowed)) or "none of them"
        raise ValueError(f"{where}: a {kind} takes no {', '.join(wrong)} (its state "
                         f"keys: {takes})")
    out: dict[str, Any] = {}
    for key in given:
        w, value = f"{where}.{key}", raw[key]
        if key == "on":
            if not isinstance(value, bool):
                raise ValueError(f"{w} must be true or false")
            out[key] = value
        elif key in ("brightness", "target_position", "preferred_position"):
            out[key] = _world_int(w, value, 0, 100)
        elif key == "load":
            out[key] = _world_int(w, value, 0, 100_000)
        elif key == "full_travel":
            out[key] = _world_int(w, value, 1, 3600)
        elif key == "fan_speed":
            out[key] = _world_int(w, value, FAN_SPEEDS[0], FAN_SPEEDS[-1])
        elif key == "last_ftp_event":
            out[key] = _ftp_event(w, value)
        else:
            if value not in CHOICES[key]:
                raise ValueError(f"{w} must be one of {', '.join(CHOICES[key])}, "
                                 f"not {value!r}")
            out[key] = value
    return out


def _ftp_event(where: str, value: Any) -> dict[str, int]:
    """A doorbell's last FTP upload as homestatus shows it: ``{type, time, id}``,
    integers (SEEN {"type": 3, "time": 1631444443, "id": 3}), passed through."""
    if not isinstance(value, dict) or set(value) != {"type", "time", "id"}:
        raise ValueError(f"{where} must be a mapping of type, time and id")
    return {k: _world_int(f"{where}.{k}", value[k], 0, 2**53) for k in ("type", "time",
                                                                         "id")}


# ------------------------------------------------------------------------ the model

def _initial(spec: Spec, mod: dict[str, Any]) -> dict[str, Any]:
    """The module's state from its world entry (at its setup date)."""
    if spec.family in SWITCHES:
        snap: dict[str, Any] = {"on": mod.get("on", False), "energy_wh": 0.0}
        if spec.family == "dimmer":
            snap["brightness"] = mod.get("brightness", 100)
        return snap
    if spec.family == "fan":
        return {"fan_speed": mod.get("fan_speed", FAN_SPEEDS[0]), "energy_wh": 0.0}
    if spec.family == "meter":
        return {"energy_wh": 0.0}
    if spec.family == "shutter":
        p = float(mod.get("target_position", 0))
        return {"position": p, "target": p}
    if spec.family == "camera":
        snap = {"monitoring": mod.get("monitoring", "on")}
        if "floodlight" in spec.props:
            snap["floodlight"] = mod.get("floodlight", "auto")
        return snap
    return {}


def power(spec: Spec, mod: dict[str, Any], snap: dict[str, Any]) -> int:
    """Watts drawn in state ``snap`` (a fan: ``load`` at its top speed, in proportion
    below it: INFERRED, 11 W at speed 1 as the sample's NLLF)."""
    if spec.family == "fan":
        return round(mod.get("load", DEFAULT_LOAD["fan"]) * snap["fan_speed"]
                     / FAN_SPEEDS[-1])
    if spec.family == "meter":
        return int(mod.get("load", DEFAULT_LOAD["meter"]))
    if spec.family not in SWITCHES or not snap.get("on"):
        return 0
    load = mod.get("load", DEFAULT_LOAD[spec.family])
    if spec.family == "dimmer":
        return round(load * snap.get("brightness", 100) / 100)
    return int(load)


def _travel(mod: dict[str, Any], snap: dict[str, Any], at: float) -> Travel:
    return Travel(snap["position"], snap["target"], at,
                  float(mod.get("full_travel", FULL_TRAVEL)))


def evolve(spec: Spec, mod: dict[str, Any], snap: dict[str, Any], at: float,
           t: float) -> dict[str, Any]:
    """The state at ``t`` >= ``at`` from the snapshot ``snap`` taken at ``at``."""
    out = dict(snap)
    if spec.family in METERED:
        out["energy_wh"] = energy_wh(snap["energy_wh"], power(spec, mod, snap), at, t)
    elif spec.family == "shutter":
        out["position"] = _travel(mod, snap, at).at(t)
    return out


def apply(spec: Spec, mod: dict[str, Any], state: dict[str, Any],
          changes: dict[str, Any]) -> dict[str, Any]:
    """The snapshot after ``changes`` made in ``state`` (the state at that instant)."""
    out = dict(state)
    if "brightness" in changes:
        b = changes["brightness"]
        if b > 0:
            out.update(brightness=b, on=True)
        else:
            out["on"] = False
    if "on" in changes:
        out["on"] = changes["on"]
    if "target_position" in changes:
        target = changes["target_position"]
        if target == STOP:
            out["target"] = out["position"]
        elif target == PREFERRED:
            out["target"] = float(mod.get("preferred_position", PREFERRED_POSITION))
        else:
            out["target"] = float(target)
    for key in ("monitoring", "floodlight", "fan_speed"):
        if key in changes:
            out[key] = changes[key]
    return out


def _origin(spec: Spec, mod: dict[str, Any], log: dict[str, Any] | None
            ) -> tuple[float, dict[str, Any]]:
    """(instant, snapshot) the log starts from: its folded base, else the world's."""
    base = (log or {}).get("base")
    if base:
        return base["at"], base["snap"]
    return float(mod.get("setup_date", 0)), _initial(spec, mod)


def state_at(spec: Spec, mod: dict[str, Any], log: dict[str, Any] | None,
             t: float) -> dict[str, Any]:
    """The module's state at ``t``: the last snapshot at or before t, evolved to t."""
    events = (log or {}).get("events") or []
    i = bisect.bisect_right([e["at"] for e in events], t)
    at, snap = (events[i - 1]["at"], events[i - 1]["snap"]) if i else \
        _origin(spec, mod, log)
    return evolve(spec, mod, snap, at, max(t, at))


def record(spec: Spec, mod: dict[str, Any], log: dict[str, Any] | None,
           changes: dict[str, Any], now: float) -> dict[str, Any]:
    """The log with ``changes`` made at ``now`` (snapshots after it recomputed)."""
    log = copy.deepcopy(log) if log else {"events": [], "base": None}
    events = log["events"]
    i = bisect.bisect_right([e["at"] for e in events], now)
    events.insert(i, {"at": now, "changes": dict(changes), "snap": {},
                      "seq": core_devices.seq_within(events, log.get("base"), now)})
    for k in range(i, len(events)):
        at, snap = (events[k - 1]["at"], events[k - 1]["snap"]) if k else \
            _origin(spec, mod, log)
        ev = events[k]
        ev["snap"] = apply(spec, mod, evolve(spec, mod, snap, at, ev["at"]), ev["changes"])
    if len(events) > MAX_EVENTS:
        old, log["events"] = events[:-MAX_EVENTS], events[-MAX_EVENTS:]
        log["base"] = {"at": old[-1]["at"], "snap": old[-1]["snap"],
                       "seq": old[-1].get("seq", 0)}
    return log


# ------------------------------------------------------------------------ setstate

@dataclass
class Command:
    mod: dict[str, Any]
    spec: Spec
    changes: dict[str, Any]


def _value(prop: str, value: Any, mid: str) -> Any:
    where = f"Invalid {prop} for module {mid}"
    if prop == "on":
        if not isinstance(value, bool):
            raise invalid(f"{where}: {value!r} is not true or false")
        return value
    if prop in CHOICES:
        if value not in CHOICES[prop]:
            raise invalid(f"{where}: {value!r} is not one of {', '.join(CHOICES[prop])}")
        return value
    if prop == "fan_speed":
        if isinstance(value, bool) or value not in FAN_SPEEDS:
            raise invalid(f"{where}: {value!r} is not one of "
                          f"{', '.join(map(str, FAN_SPEEDS))}")
        return int(value)
    lo = 0 if prop == "brightness" else PREFERRED
    if isinstance(value, bool) or not isinstance(value, int | float) \
            or not math.isfinite(value) or value != int(value):
        raise invalid(f"{where}: {value!r} is not a whole number")
    if not lo <= value <= 100:
        span = "0 to 100" if lo == 0 else "0 to 100, -1 (stop) or -2 (preferred position)"
        raise invalid(f"{where}: {int(value)} is out of range ({span})")
    return int(value)


def check_modules(home: dict[str, Any], entries: list[Any], scopes: Iterable[str] | None,
                  reachable: Callable[[str], bool], unreachable: str = "hard"
                  ) -> tuple[list[Command], list[dict[str, Any]]]:
    """setstate's module entries checked (steps 1-4 above): the commands to apply and
    the errors of modules left out (unreachable ones in ``partial`` mode). Raises the
    hard errors; writes nothing. ``scopes``: the token's (None: not checked)."""
    held = None if scopes is None else set(scopes)
    by_id = {m["id"]: m for m in home["modules"]}
    commands: list[Command] = []
    skipped: list[dict[str, Any]] = []
    for entry in entries:
        raw_id = entry.get("id") if isinstance(entry, dict) else None
        if not isinstance(raw_id, str):
            raise MockcloudError("missing_argument", "Missing modules[].id")
        mod = by_id.get(norm_id(raw_id))
        if mod is None:
            raise invalid(f"Invalid device_id, {raw_id}")
        bridge = entry.get("bridge")
        if bridge is not None and (not isinstance(bridge, str)
                                   or norm_id(bridge) != mod.get("bridge")):
            raise invalid(f"Invalid bridge for module {mod['id']}: {bridge!r} is not its "
                          f"bridge ({mod.get('bridge', 'none')})")
        spec = SPECS.get(mod["type"])
        if spec is not None and spec.scope is not None and held is not None \
                and spec.scope not in held:
            raise MockcloudError("insufficient_scope",
                                 f"setting a {mod['type']} needs the {spec.scope} scope")
        props = [k for k in entry if k not in ("id", "bridge")]
        if not props:
            raise MockcloudError("missing_argument",
                                 f"Missing a property to set for module {mod['id']}")
        taken = spec.props if spec else ()
        for prop in props:
            if prop not in taken:
                raise invalid(f"cannot set property {prop} for module {mod['id']}")
        assert spec is not None
        changes = {p: _value(p, entry[p], mod["id"]) for p in props}
        if not reachable(mod["id"]):
            if unreachable == "hard":
                raise MockcloudError("forbidden", f"Device is unreachable: {mod['id']}",
                                     status=403, code=41)  # type: ignore[arg-type]
            skipped.append({"code": 6, "message": "Device unreachable", "id": mod["id"],
                            "command": _command(props[0])})
            continue
        commands.append(Command(mod, spec, changes))
    return commands, skipped


def _command(prop: str) -> str:
    return COMMAND.get(prop, OTHER_COMMAND)


def _already(spec: Spec, prop: str, mode: str) -> bool:
    """Whether setting ``prop`` to its current value is reported (code 23)."""
    if mode == "none" or prop not in ("on", "monitoring", "floodlight"):
        return False
    return mode == "all" or spec.family == "camera"


def _shown(value: Any) -> str:
    return ("on" if value else "off") if isinstance(value, bool) else str(value)


def apply_commands(ctx: Ctx, home_id: str, commands: list[Command], now: float,
                   already: str = "cameras") -> list[dict[str, Any]]:
    """Record the commands at ``now`` in one read-modify-write of the home's device
    log; returns the code-23 errors of properties already so (not applied again)."""
    return record_commands(ctx.store, ctx.tenant, home_id, commands, now, already)


def record_commands(store: Any, tenant: str, home_id: str, commands: list[Command],
                    now: float, already: str = "cameras") -> list[dict[str, Any]]:
    """:func:`apply_commands` on a store and tenant (the admin API's device commands
    too)."""
    errors: list[dict[str, Any]] = []

    def update(doc: dict[str, Any] | None) -> dict[str, Any]:
        errors.clear()
        doc = dict(doc) if doc else {"home": home_id, "modules": {}}
        logs = dict(doc.get("modules") or {})
        for cmd in commands:
            mid = cmd.mod["id"]
            current = state_at(cmd.spec, cmd.mod, logs.get(mid), now)
            changes = {}
            for prop, value in cmd.changes.items():
                if _already(cmd.spec, prop, already) and prop in current \
                        and current[prop] == value:
                    errors.append({"code": 23, "message": f"Already {_shown(value)}",
                                   "id": mid, "command": _command(prop)})
                else:
                    changes[prop] = value
            if changes:
                logs[mid] = record(cmd.spec, cmd.mod, logs.get(mid), changes, now)
        doc["modules"] = logs
        return doc

    if commands:
        store.update(tenant, KIND, home_id, update)
    return list(errors)


def check_command(mod: dict[str, Any], changes: dict[str, Any]) -> Command:
    """A command of the admin API (``PATCH /_mockcloud/devices/netatmo/<id>`` with
    setstate's properties: what the module's own controls do) checked as setstate
    checks a module entry's properties and values (400/21 naming them); no scope and
    no reachability (the module's own button works offline: INFERRED)."""
    spec = SPECS.get(mod["type"])
    taken = spec.props if spec else ()
    for prop in changes:
        if prop not in taken:
            raise invalid(f"cannot set property {prop} for module {mod['id']}")
    assert spec is not None
    return Command(mod, spec, {p: _value(p, v, mod["id"]) for p, v in changes.items()})


# ------------------------------------------------------------------------ homestatus

def load(ctx: Ctx, home_id: str) -> dict[str, Any]:
    """The home's device log: ``{module id: log}`` (empty when nothing was set); read
    only (a store's shared snapshot where it has them, so a remembered read answer
    depends on it)."""
    read = getattr(ctx.store, "snapshot", None) or ctx.store.get
    doc = read(ctx.tenant, KIND, home_id)
    return dict((doc or {}).get("modules") or {})


VPN_HOST = "https://prodvpn-eu-1.netatmo.net"


def vpn_path(seed: int, mid: str) -> str:
    """A camera's VPN path (``/restricted/<ip>/<hash>/<hash>,,``): stable per world
    seed and camera, not guessable from its id alone."""
    h = hashlib.sha256(f"vpn:{seed}:{mid}".encode()).hexdigest()
    return (f"/restricted/10.255.{int(h[:2], 16)}.{int(h[2:4], 16)}/{h[4:36]}/"
            f"{h[36:60]},,")


def _vpn_url(seed: int, mid: str, base: str = "") -> str:
    """A camera's ``vpn_url``: its VPN path under ``base`` (the client's base URL,
    where ``camera_live`` serves it; without one, the cloud's VPN host)."""
    return (base or VPN_HOST) + vpn_path(seed, mid)


def firmware_name(revision: Any) -> str:
    """A camera's firmware version as its revision spells it: 3002000 -> "3.2.0"."""
    rev = revision if isinstance(revision, int) else 0
    return f"{rev // 1_000_000}.{rev // 1000 % 1000}.{rev % 1000}"


def status_fields(mod: dict[str, Any], log: dict[str, Any] | None, now: float,
                  seed: int, battery_percent: int | None = None, base: str = ""
                  ) -> dict[str, Any]:
    """homestatus's fields for a module of a ``SPECS`` type at ``now``."""
    spec = SPECS[mod["type"]]
    mid = mod["id"]
    out: dict[str, Any] = {"firmware_revision": mod.get("firmware_revision", spec.firmware)}
    if spec.wifi is not None:
        out["wifi_strength"] = ep.rf_strength(seed, mid + "w", spec.wifi)
    if spec.offload:
        out["offload"] = False
    state = state_at(spec, mod, log, now)
    family = spec.family
    if family in SWITCHES:
        out["on"] = bool(state["on"])
        if family == "dimmer":
            out["brightness"] = state["brightness"]
        out["power"] = power(spec, mod, state)
        out["sum_energy_elec"] = int(state["energy_wh"])
        if spec.contactor:
            out["contactor_mode"] = mod.get("contactor_mode", "off")
    elif family == "fan":
        out.update(fan_speed=state["fan_speed"], power=power(spec, mod, state),
                   sum_energy_elec=int(state["energy_wh"]))
    elif family == "meter":
        out.update(power=power(spec, mod, state), sum_energy_elec=int(state["energy_wh"]))
    elif family == "shutter":
        out.update(current_position=round(state["position"]),
                   target_position=round(state["target"]))
        step = "target_position_step" if mod["type"] in STEP_UNDERSCORED else \
            "target_position:step"
        out[step] = 1
    elif family == "camera":
        out.update(monitoring=state["monitoring"], sd_status=4, alim_status=2,
                   locked=False, vpn_url=_vpn_url(seed, mid, base), is_local=False)
        if "floodlight" in state:  # NOC: as homestatus_91763b24c43d3e344f424e8b's
            out.update(floodlight=state["floodlight"], connection="wifi",
                       firmware_name=firmware_name(out["firmware_revision"]),
                       homekit_status="upgradable", timelapse_available=True,
                       network_lock=bool(mod.get("network_lock", False)))
    elif family == "doorbell":    # as homestatus_91763b24c43d3e344f424e8b's NDB
        out.update(vpn_url=_vpn_url(seed, mid, base), is_local=False, alim_status=2,
                   connection="wifi", firmware_name=firmware_name(out["firmware_revision"]),
                   homekit_status="configured", max_peers_reached=False, sd_status=4,
                   websocket_connected=True)
        if "last_ftp_event" in mod:
            out["last_ftp_event"] = dict(mod["last_ftp_event"])
    elif family == "doortag":
        bat = ep.module_battery(mod, now, seed, battery_percent)
        out.update(battery_level=bat.vp, battery_state=bat.state,
                   rf_strength=ep.rf_strength(seed, mid, spec.rf or 58), status="closed",
                   last_activity=int(mod.get("setup_date", 0)))
    if family not in ("camera", "doorbell"):
        out["last_seen"] = int(now)
    return out
