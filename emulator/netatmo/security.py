"""Netatmo Security: the people of a home and what its cameras, tags and alarms record,
on the same home, clock and physics as the rest (issue 9).

Endpoints (``routes.py``): ``gethomedata``, ``getevents``, ``geteventsuntil``,
``getlasteventof``, ``getnextevents``, ``getcamerapicture`` (reads), ``setpersonsaway``,
``setpersonshome`` (writes, ``write_camera``); persons also show in ``homesdata``
(``{id, pseudo, url}``) and ``homestatus`` (``{id, last_seen, out_of_sight}``) as the
samples have them. Shapes: ``security_render``; pictures: ``pictures``; webhook
payloads: ``pushes.push_events``.

**Events are computed, never stored.** The events of a home over any interval are a
pure function of (seed, the world's home: persons, cameras, place; the interval) --
``security_routine``, one local day at a time -- plus stored facts:

* ``setpersonsaway`` / ``setpersonshome`` calls and admin-injected events: the home's
  fact log, store kind ``netatmo.security`` / home id, ``{"home", "n", "facts":
  [{"at", "n", "kind": "away" | "home" | "inject", ...}]}`` (at most ``MAX_FACTS``;
  the oldest fall out, and their events with them);
* the world's scripted events (home ``security_events``, see ``persons``); a home's
  ``routine_from`` (``world``) starts the routine at that instant: before it, only
  scripted and stored events (a recorded past, ``from_reads``);
* ``home_devices``' log of camera changes: ``monitoring`` on/off become ``on`` /
  ``off`` events, ``floodlight`` changes ``NOC-light_mode`` pushes (push only);
* the admin API's ``online`` overrides of a camera: ``disconnection`` when it goes
  offline, ``boot`` then ``connection`` (24 s later) when it comes back.

Events of stored facts carry ``stored``, the instant the fact was recorded (an
injection's admin call; the request's for the others): ``pushes`` lets the webhook
source give only those later than it, the call that stores the rest pushes them.

A camera records nothing while its monitoring is off or it is offline, nor before
its ``setup_date`` (nor do the door tags it bridges; nor does it report a resident's
phone leaving: INFERRED, so a camera switched off shows no event at all, and presence
stays as it was). Reading events over [t0, t1]
reads the days it spans, each drawn afresh (memoised) and merged with the facts of
that day, so the answer never depends on how the clock was moved or what was read
before: advancing a week in one step or in a hundred gives the same events, ids and
order. Events are ordered by (time, id); the APIs answer newest first.

**Event ids** are Netatmo's shape (24 hex digits, the first 8 the event's second, as
the samples' Mongo ObjectIds) and a pure function of the event, so ``getevents`` and
its paging, ``geteventsuntil``, ``getnextevents``, ``getlasteventof`` and the webhook
pushes name every event the same way however the clock was moved and whatever logs
were trimmed: the routine's are (seed, home, local day, rank in that day's draw); a
stored fact's (injection, setpersonsaway/home) its instant and its number in the
home's fact log (``n``, never reused); a camera log's or online override's
(:func:`logged_id`) the home, camera, instant, kind and the entry's sequence within
its instant (``seq``), never its place in a log that folds its oldest entries.

**Persons** (``persons`` for the world format). A person's ``last_seen`` is the time
of their latest ``person`` event at or before now; ``out_of_sight`` follows their
latest presence event: seen (``person``) or set home (``person_home``) -> false,
``person_away`` (their phone leaving, ``setpersonsaway``) -> true. Persons without a
name (unknown faces: the world's, or one an injected ``unknown_face`` made) are out of
sight an hour (``UNKNOWN_SIGHT``) after they were last seen. Both look back at most
``LOOKBACK_DAYS`` days (never seen in them: ``last_seen`` 0, out of sight).

**Cost.** A day is drawn once (LRU) and merged in O(its events + facts); list calls
walk back day by day from now and stop when they have enough, at the home's first
security module's setup date, or after ``MAX_SCAN_DAYS`` days: never from the epoch.

INFERRED (the notes are silent; pick another where a client needs it):

* any one of the security read scopes (the contract's alternatives) sees every
  security event of the caller's homes (the cloud may filter by product);
* ``getevents``: newest first; ``offset`` (default 0, at most ``MAX_OFFSET``) and
  ``size`` (default 30, at most ``MAX_SIZE``) page it; ``event_id`` answers that one
  event; ``person_id``, ``device_id`` (the event's module or the camera it belongs
  to), ``module_id`` and ``device_types`` (comma list of module types) filter;
  ``locale`` is taken and ignored: messages are English;
* ``geteventsuntil``: the events newer than ``event_id`` and that event, newest first
  (lnetatmo polls with its last event), at most ``MAX_UNTIL``; ``getnextevents``: the
  ``size`` (30) events before ``event_id``; ``getlasteventof``: the events from now
  back to the person's latest event, that one included, at most ``offset`` (30) of
  them (the ones nearest to it); an unknown ``event_id`` or ``person_id`` is 400/21;
* ``setpersonsaway`` without ``person_id``: the home is empty (everyone away);
  ``setpersonshome`` takes ``person_ids`` as a list in any form (``person_ids[]``
  repeated as pyatmo sends it, indexed, comma or JSON); without any: every named
  person is home. Both need a camera in the home (their events name one) and known
  persons, else 400/21; ``person_home``'s message names the app;
* ``gethomedata``: every home of the caller (the sample lists homes without cameras);
  ``size`` (default 30, at most ``MAX_SIZE``) events per home; a camera's ``status``
  is ``on`` / ``off`` (monitoring) or ``disconnected`` (offline, then without
  ``vpn_url``/``is_local``); modules bridged by a camera (door tags, sirens) are its
  ``modules``; NSD and NCO are ``smokedetectors``;
* videos are ``available`` for ``VIDEO_DAYS`` days, then ``deleted``;
* an outdoor event at night (``physics.sun``) on a camera whose floodlight is ``auto``
  or ``on`` carries ``floodlight_triggered: true`` (the floodlight fired); the picture
  is lit;
* ``getcamerapicture`` needs a token with a security read scope (the spec's security
  block) and an ``image_id`` with its ``key`` (media of an event at or before now, or
  a person's face); anything else 400/21 "Invalid image_id or key".
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable
from typing import Any
from zoneinfo import ZoneInfo

from ..core import devices as core_devices
from ..core.context import Ctx
from ..core.errors import MockcloudError
from ..core.memo import LRU
from ..core.store import Store
from ..physics.sun import is_dark
from . import home_devices, models
from . import persons as pz
from . import security_routine as routine
from .security_routine import Event, bounds, local_day, ordered_id
from .world import META, find_device

KIND = "netatmo.security"
OVERRIDE = "netatmo.override"
MAX_FACTS = 1024
LOOKBACK_DAYS = 35
MAX_SCAN_DAYS = 400
MAX_SIZE, MAX_OFFSET, MAX_UNTIL = 300, 10_000, 500
DEFAULT_SIZE = 30
UNKNOWN_SIGHT = 3600
VIDEO_DAYS = 30
BOOT_TO_CONNECTION = 24
CAMERAS = routine.CAMERAS
TAGS = frozenset({"NACamDoorTag"})
# events a camera only records while it is online and monitoring
RECORDED = frozenset({"person", "movement", "outdoor", "tag_open", "tag_big_move",
                      "tag_small_move"})
PUSH_ONLY = frozenset({"light_mode"})
# merged days: (the documents they come from, the events); read only
MERGED: LRU[tuple[tuple[Any, ...], list[Event]]] = LRU("netatmo.security.merged", 1024)
READ_SCOPES = ("read_camera", "read_presence", "read_doorbell", "read_smokedetector",
               "access_camera", "access_presence")


def invalid(message: str) -> MockcloudError:
    return MockcloudError("invalid_argument", message)


def seed_of(store: Store, tenant: str, default: int = 0) -> int:
    doc = store.snapshot(tenant, META, "world")
    return int(doc["seed"]) if doc else default


# ------------------------------------------------------------------------ one home

class View:
    """One home at one request, its facts and logs read once (shared snapshots: read
    only). Merged days are kept for the request."""

    def __init__(self, store: Store, tenant: str, seed: int, home: dict[str, Any],
                 base: str = "") -> None:
        self.store, self.tenant, self.seed, self.home = store, tenant, seed, home
        self.base = base  # media URLs' base (``pictures.url``)
        self.zone = ZoneInfo(home["timezone"])
        self.mods = {m["id"]: m for m in home["modules"]}
        lon, lat = home["coordinates"]
        self.lat, self.lon = float(lat), float(lon)
        self._facts_doc = store.snapshot(tenant, KIND, home["id"])
        self.facts: list[dict[str, Any]] = (self._facts_doc or {}).get("facts", [])
        self._logs_doc: Any = None
        self._logs: dict[str, Any] | None = None
        self._overrides: dict[str, Any] = {}
        self._days: dict[int, list[Event]] = {}
        self._people: dict[float, list[dict[str, Any]]] = {}

    # -- what the home holds
    def modules(self, *types: str) -> list[dict[str, Any]]:
        return [m for m in self.home["modules"] if m["type"] in types]

    def logs(self) -> dict[str, Any]:
        if self._logs is None:
            doc = self.store.snapshot(self.tenant, home_devices.KIND, self.home["id"])
            self._logs_doc = doc
            self._logs = dict((doc or {}).get("modules") or {})
        return self._logs

    def override(self, mid: str) -> dict[str, Any] | None:
        if mid not in self._overrides:
            self._overrides[mid] = self.store.snapshot(self.tenant, OVERRIDE, mid)
        return self._overrides[mid]

    def scripted(self) -> list[tuple[tuple[Any, ...], dict[str, Any]]]:
        """(id parts, event) of the world's scripted events and the injected facts."""
        out = [(("script", i), e) for i, e in enumerate(self.home.get("security_events")
                                                         or [])]
        out += [(("fact", f["n"]), f) for f in self.facts if f["kind"] == "inject"]
        return out

    def people(self, now: float) -> list[dict[str, Any]]:
        """The world's persons, then the unknown faces injected at or before ``now``."""
        if now not in self._people:
            out = list(self.home.get("persons") or [])
            for parts, e in self.scripted():
                if e["type"] == "unknown_face" and e["at"] <= now:
                    out.append(self.unknown(parts))
            self._people[now] = out
        return self._people[now]

    def unknown(self, parts: tuple[Any, ...]) -> dict[str, Any]:
        pid = pz.person_id(self.home["id"], ":".join(map(str, ("unknown", *parts))))
        return {"id": pid, "face": pz.face(self.home["id"], pid), "routine": None}

    def floor(self) -> float | None:
        """The first instant anything can have happened (None: nothing ever can)."""
        starts = [m.get("setup_date", 0) for m in self.modules(*routine.SECURITY)]
        starts += [e["at"] for _, e in self.scripted()]
        starts += [f["at"] for f in self.facts]
        return min(starts) if starts else None

    # -- device states
    def online(self, mid: str, t: float) -> bool:
        mod = self.mods[mid]
        state = core_devices.state_at(self.override(mid), t)
        return bool(state.get("online", mod.get("reachable", True)))

    def device_state(self, mid: str, t: float) -> dict[str, Any]:
        mod = self.mods[mid]
        spec = home_devices.SPECS.get(mod["type"])
        if spec is None:
            return {}
        return home_devices.state_at(spec, mod, self.logs().get(mid), t)

    def recording(self, cam: str | None, t: float) -> bool:
        if cam is None or cam not in self.mods:
            return False
        mod = self.mods[cam]
        return (t >= mod.get("setup_date", 0) and self.online(cam, t)
                and self.device_state(cam, t).get("monitoring", "on") == "on")

    def camera_of(self, ev: Event) -> str | None:
        """The camera an event belongs to (a tag's bridge), else its own module."""
        mod = self.mods.get(ev["module"])
        if mod is not None and mod["type"] in TAGS:
            return mod.get("bridge")
        return ev["module"]

    def first_camera(self) -> dict[str, Any] | None:
        cams = self.modules("NACamera") or self.modules("NOC")
        return cams[0] if cams else None

    # -- a day
    def day(self, d: int) -> list[Event]:
        """Day ``d``'s events, merged; memoised (``MERGED``) while every document they
        come from is the same snapshot object."""
        if d not in self._days:
            self.logs()
            deps = (self.home, self._facts_doc, self._logs_doc,
                    *(self.override(c["id"]) for c in self.modules(*CAMERAS)))
            key = (self.seed, d, *map(id, deps))
            hit = MERGED.get(key)
            if hit is not None and all(a is b for a, b in zip(hit[0], deps, strict=True)):
                self._days[d] = hit[1]
            else:
                self._days[d] = MERGED.put(key, (deps, self._merge(d)))[1]
        return self._days[d]

    def _merge(self, d: int) -> list[Event]:
        start, end = bounds(self.zone, d)
        out: list[Event] = []
        since = self.home.get("routine_from", 0)
        for ev in routine.day(self.seed, self.home, d):
            if ev["time"] >= since:
                self._keep(ev, out)
        for parts, e in self.scripted():
            if start <= e["at"] < end:
                self._keep(self._injected(parts, e), out)
        for f in self.facts:
            if start <= f["at"] < end and f["kind"] in ("away", "home"):
                self._keep(self._presence_fact(f), out)
        out += self._device_events(start, end)
        out += self._connections(start, end)
        out.sort(key=lambda e: (e["time"], e["id"]))
        return out

    def _keep(self, ev: Event | None, out: list[Event]) -> None:
        if ev is None:
            return
        mod = self.mods.get(ev["module"])
        if mod is None or (ev["time"] < mod.get("setup_date", 0)
                           and ev.get("src") != "script"):
            return
        if (ev["type"] in RECORDED or ev.get("phone")) \
                and not self.recording(self.camera_of(ev), ev["time"]):
            return
        if ev["type"] == "outdoor":
            mode = self.device_state(ev["module"], ev["time"]).get("floodlight", "auto")
            if mode != "off" and is_dark(self.lat, self.lon, ev["time"]):
                ev = {**ev, "light": True}
        out.append(ev)

    def _injected(self, parts: tuple[Any, ...], e: dict[str, Any]) -> Event:
        t, kind = int(e["at"]), e["type"]
        ev: Event = {"id": ordered_id(t, parts[1], "inject", self.seed, self.home["id"],
                                      *parts),
                     "time": t, "module": e["module_id"],
                     "src": "script" if parts[0] == "script" else "inject"}
        if parts[0] == "fact":   # stored by the admin API (at or before its instant)
            ev["stored"] = e.get("stored", e["at"])
        if kind in ("smoke", "smoke_cleared"):
            ev.update(type="smoke", sub_type=1 if kind == "smoke" else 0)
        elif kind == "co_detected":
            ev.update(type="co_detected", sub_type=1)
        elif kind in pz.SUB_TYPES:
            ev.update(type=kind, sub_type=e.get("sub_type", pz.SUB_TYPES[kind]))
        elif kind == "unknown_face":
            ev.update(type="person", person=self.unknown(parts)["id"], arrival=False)
        elif kind == "person":
            ev.update(type="person", person=e["person_id"], arrival=e.get("arrival", False))
        elif kind == "person_away":
            ev.update(type="person_away", person=e.get("person_id"))
        elif kind == "person_home":
            ev.update(type="person_home", persons=list(e.get("person_ids", [])))
        elif kind == "movement":
            ev.update(type="movement", category=e.get("category", "human"))
        elif kind in pz.OUTDOOR:
            ev.update(type="outdoor", subs=[
                {"id": routine.uuid_like("sub", ev["id"], i), "type": d, "time": t + 2 * i,
                 "offset": 2 * i} for i, d in enumerate(e.get("detections") or [kind])])
        else:
            ev["type"] = kind
        return ev

    def _presence_fact(self, f: dict[str, Any]) -> Event | None:
        cam = self.first_camera()
        if cam is None:
            return None
        t = int(f["at"])
        ev: Event = {"id": ordered_id(t, f["n"], "fact", self.seed, self.home["id"]),
                     "time": t, "module": cam["id"], "by": f.get("by", ""),
                     "src": "persons", "stored": f["at"]}
        if f["kind"] == "away":
            ev.update(type="person_away", person=f.get("person"))
        else:
            ev.update(type="person_home", persons=list(f["persons"]))
        return ev

    def _device_events(self, start: int, end: int) -> list[Event]:
        """on / off (monitoring) and light_mode (floodlight) from setstate's log."""
        out: list[Event] = []
        logs = self.logs()
        for cam in self.modules(*CAMERAS):
            log = logs.get(cam["id"])
            if not log:
                continue
            spec = home_devices.SPECS[cam["type"]]
            events = log.get("events") or []
            for k, le in enumerate(events):
                if not start <= le["at"] < end:
                    continue
                before = home_devices.state_at(
                    spec, cam, {"events": events[:k], "base": log.get("base")}, le["at"])
                for prop in ("monitoring", "floodlight"):
                    value = le["snap"].get(prop)
                    if prop not in le["changes"] or before.get(prop) == value:
                        continue
                    t = math.ceil(le["at"])
                    ev: Event = {"id": logged_id(t, le["at"], _seq(events, k), prop,
                                                 "log", self.seed, self.home["id"],
                                                 cam["id"]),
                                 "time": t, "module": cam["id"], "src": "devices",
                                 "stored": le["at"]}
                    if prop == "monitoring":
                        ev["type"] = value
                    else:
                        ev.update(type="light_mode", sub_type=value)
                    if t >= cam.get("setup_date", 0):
                        out.append(ev)
        return out

    def _connections(self, start: int, end: int) -> list[Event]:
        """disconnection, boot and connection from the admin API's online overrides."""
        out: list[Event] = []
        for cam in self.modules(*CAMERAS):
            doc = self.override(cam["id"])
            if not doc:
                continue
            default = cam.get("reachable", True)
            events, base = doc["events"], doc.get("base")
            for k, oe in enumerate(events):
                if not start <= oe["at"] < end:
                    continue
                before = core_devices.state_at({"events": events[:k], "base": base},
                                               oe["at"]).get("online", default)
                after = core_devices.state_at({"events": events[:k + 1], "base": base},
                                              oe["at"]).get("online", default)
                if bool(before) == bool(after):
                    continue
                t = math.ceil(oe["at"])
                kinds = [("boot", t), ("connection", t + BOOT_TO_CONNECTION)] if after \
                    else [("disconnection", t)]
                for kind, at in kinds:
                    if at >= cam.get("setup_date", 0):
                        out.append({"id": logged_id(at, oe["at"], _seq(events, k), kind,
                                                    "online", self.seed, self.home["id"],
                                                    cam["id"]),
                                    "time": at, "type": kind, "module": cam["id"],
                                    "src": "devices", "stored": oe["at"]})
        return out

    # -- reading
    def between(self, t0: float, t1: float) -> list[Event]:
        """Every event with t0 < time <= t1, in (time, id) order (push-only ones too)."""
        if t1 <= t0:
            return []
        lo = self.floor()
        if lo is None or t1 < lo:
            return []
        d0 = local_day(self.zone, max(t0, lo - 86400))
        d1 = local_day(self.zone, t1)
        out: list[Event] = []
        for d in range(d0, d1 + 1):
            out += [e for e in self.day(d) if t0 < e["time"] <= t1]
        return out

    def newest(self, now: float, count: int, keep: Callable[[Event], bool] | None = None,
               before: Event | None = None) -> list[Event]:
        """Up to ``count`` events at or before ``now`` (and sorting before ``before``)
        that ``keep`` accepts, newest first."""
        out: list[Event] = []
        for ev in self.backwards(now, before):
            if keep is None or keep(ev):
                out.append(ev)
                if len(out) >= count:
                    break
        return out

    def backwards(self, now: float, before: Event | None = None,
                  days: int = MAX_SCAN_DAYS) -> Iterable[Event]:
        """Events at or before ``now``, newest first, API-visible ones only."""
        lo = self.floor()
        if lo is None:
            return
        top = (before["time"], before["id"]) if before else None
        d = local_day(self.zone, min(now, before["time"]) if before else now)
        last = max(local_day(self.zone, lo), d - days + 1)
        while d >= last:
            for ev in reversed(self.day(d)):
                if ev["time"] > now or ev["type"] in PUSH_ONLY:
                    continue
                if top is not None and (ev["time"], ev["id"]) >= top:
                    continue
                yield ev
            d -= 1

    def find(self, ident: str, now: float) -> Event | None:
        """The API-visible event ``ident`` at or before ``now``."""
        if not isinstance(ident, str) or len(ident) != 24:
            return None
        try:
            stamp = int(ident[:8], 16)
        except ValueError:
            return None
        t = stamp + ((int(now) - stamp) // (1 << 32)) * (1 << 32) if now >= 1 << 32 \
            else stamp
        if t > now:
            return None
        for ev in self.day(local_day(self.zone, t)):
            if ev["id"] == ident and ev["type"] not in PUSH_ONLY:
                return ev
        return None

    def presence(self, now: float) -> dict[str, dict[str, Any]]:
        """Per person id: ``{"last_seen", "out_of_sight"}`` at ``now``."""
        people = self.people(now)
        seen: dict[str, int] = {}
        state: dict[str, bool] = {}           # person -> at home
        ids = [p["id"] for p in people]
        for ev in self.backwards(now, days=LOOKBACK_DAYS):
            kind = ev["type"]
            if kind == "person" and ev.get("person") in ids:
                seen.setdefault(ev["person"], ev["time"])
                state.setdefault(ev["person"], True)
            elif kind == "person_away":
                for pid in ([ev["person"]] if ev.get("person") else ids):
                    state.setdefault(pid, False)
            elif kind == "person_home":
                for pid in ev.get("persons", []):
                    state.setdefault(pid, True)
            if len(seen) == len(ids) and len(state) == len(ids):
                break
        out = {}
        for p in people:
            pid = p["id"]
            last = seen.get(pid)
            if "pseudo" not in p:
                gone = last is None or now - last > UNKNOWN_SIGHT
            else:
                gone = not state.get(pid, False)
            out[pid] = {"last_seen": int(last or 0), "out_of_sight": gone}
        return out


LOGGED_KINDS = ("monitoring", "floodlight", "disconnection", "boot", "connection")


def _seq(events: list[dict[str, Any]], k: int) -> int:
    """Log entry ``k``'s sequence within its instant (``core.devices.seq_within``; a
    log written before entries held it: its rank among the kept ones of its instant)."""
    le = events[k]
    if "seq" in le:
        return int(le["seq"])
    return sum(1 for e in events[:k] if e["at"] == le["at"])


def logged_id(t: int, at: float, seq: int, kind: str, *parts: Any) -> str:
    """The id of an event a log entry made (a camera's monitoring or floodlight change,
    its going offline or back): a pure function of the event -- ``parts`` (source,
    seed, home, camera), the entry's instant ``at``, the event's instant ``t`` (whole
    seconds), its kind and the entry's sequence within its instant -- never of the
    entry's place in the log, which moves when old entries fold. The middle 8 hex
    digits order the events of one second as their entries were made: the entry's
    milliseconds into the second, then its sequence, then the kind."""
    ms = min(max(int((at - math.ceil(at) + 1) * 1000), 0), 1000)
    n = (ms << 21) | (min(seq, 0xFFFF) << 4) | LOGGED_KINDS.index(kind)
    return ordered_id(t, n, *parts, at, seq, kind)


def scripted_id(seed: int, home_id: str, index: int, at: int) -> str:
    """The id of the world's scripted event ``index`` (``security_events[index]``)."""
    return ordered_id(at, index, "inject", seed, home_id, "script", index)


def view(ctx: Ctx, home: dict[str, Any]) -> View:
    return View(ctx.store, ctx.tenant, models.world_seed(ctx), home, ctx.base)


# ------------------------------------------------------------------------ facts

def _record(store: Store, tenant: str, home_id: str, fact: dict[str, Any]
            ) -> dict[str, Any]:
    """Add ``fact`` (at its instant, in time order) to the home's fact log."""
    made: dict[str, Any] = {}

    def update(doc: dict[str, Any] | None) -> dict[str, Any]:
        doc = dict(doc) if doc else {"home": home_id, "n": 0, "facts": []}
        n = doc.get("n", 0) + 1
        entry = {**fact, "n": n}
        facts = list(doc.get("facts", []))
        i = len(facts)
        while i and facts[i - 1]["at"] > entry["at"]:
            i -= 1
        facts.insert(i, entry)
        doc.update(n=n, facts=facts[-MAX_FACTS:])
        made.clear()
        made.update(entry)
        return doc

    store.update(tenant, KIND, home_id, update)
    return made


def _known(v: View, now: float, pid: str) -> str:
    ids = {p["id"] for p in v.people(now)}
    if pid not in ids:
        raise invalid(f"Invalid person_id: {pid} is no person of home {v.home['id']}")
    return pid


def set_persons_away(ctx: Ctx, user_id: str, home_id: str, person_id: str | None,
                     by: str) -> None:
    home = models.home(ctx, user_id, home_id)
    v, now = view(ctx, home), ctx.now()
    if v.first_camera() is None:
        raise invalid(f"Home {home_id} has no camera: persons cannot be set away")
    if person_id is not None:
        _known(v, now, person_id)
    _record(ctx.store, ctx.tenant, home_id,
            {"at": now, "kind": "away", "person": person_id, "by": by})


def set_persons_home(ctx: Ctx, user_id: str, home_id: str, person_ids: list[str] | None,
                     by: str) -> None:
    home = models.home(ctx, user_id, home_id)
    v, now = view(ctx, home), ctx.now()
    if v.first_camera() is None:
        raise invalid(f"Home {home_id} has no camera: persons cannot be set home")
    if person_ids:
        chosen = list(dict.fromkeys(_known(v, now, p) for p in person_ids))
    else:
        chosen = [p["id"] for p in v.people(now) if "pseudo" in p]
    _record(ctx.store, ctx.tenant, home_id,
            {"at": now, "kind": "home", "persons": chosen, "by": by})


def inject(store: Store, tenant: str, module_id: str, kind: str, at: float,
           stored: float | None = None, **details: Any) -> dict[str, Any]:
    """Record an injected event (admin API) on the module ``module_id`` of some home of
    the tenant; raises MockcloudError not_found (no such module) or invalid_argument.
    ``stored``: the virtual instant it is recorded at (default ``at``; an event later
    than that is the webhook source's, see ``pushes``); ``details``: the optional keys
    of a scripted event (``persons``: ``person_id``, ``sub_type`` ...). Returns ``{"home_id",
    "module_id", "type", "at", "id"}`` (the event's id, as the APIs show it)."""
    home = _home_of(store, tenant, module_id)
    if home is None:
        raise MockcloudError("not_found", f"netatmo has no module {module_id!r}")
    raw: dict[str, Any] = {**details, "at": at, "type": kind, "module_id": module_id}
    try:
        checked = pz.check_event("event", raw, home["modules"], home.get("persons") or [])
    except ValueError as exc:
        raise MockcloudError("invalid_argument", str(exc).removeprefix("event: ")) \
            from None
    checked["at"] = at
    checked["stored"] = at if stored is None else stored
    fact = _record(store, tenant, home["id"], {**checked, "kind": "inject"})
    v = View(store, tenant, seed_of(store, tenant), home)
    ev = v._injected(("fact", fact["n"]), fact)
    return {"home_id": home["id"], "module_id": checked["module_id"], "type": kind,
            "at": at, "id": ev["id"]}


def _home_of(store: Store, tenant: str, module_id: str) -> dict[str, Any] | None:
    """The home (the first by id) with the module ``module_id`` (``find_device``)."""
    found = find_device(store, tenant, module_id)
    return found[1] if found is not None and found[2] == "home" else None
