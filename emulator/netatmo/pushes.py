"""Netatmo's webhook payloads: what the cloud POSTs to an app's webhook, as a pure
function of the world, the stored facts and the clock (for ``core.webhooks``).

:func:`push_events` ``(store, tenant, user_id, t0, t1)`` gives ``[(at, payload)]`` for
everything that happens in the user's homes with ``t0 < at <= t1``, in time order (the
order of ``security``'s events, then the energy log's). The same interval always gives
the same list, whatever was asked before, so a delivery loop asking (cursor, now] in
any steps sends each push once. Payload families (``push_type``), each with a JSON
Schema in ``contracts/schemas/netatmo/webhook-*.json`` (``webhook.json`` picks one):

* ``NACamera-<event_type>`` (indoor camera and what it bridges): ``person``
  (``persons: [{id, face_id, face_key, face_url, is_known}]``, ``snapshot_id``,
  ``snapshot_key``, ``snapshot_url``, ``is_arrival``), ``movement`` (snapshot and
  ``vignette_*``), ``person_away`` (``person_id``), ``home_away`` (the home set empty,
  INFERRED), ``person_home`` (``persons: [{id, is_known}]``, INFERRED), ``on``,
  ``off``, ``connection``, ``disconnection``, ``boot``, ``tag_open``,
  ``tag_big_move``, ``tag_small_move`` (``module_id``: the tag; INFERRED family);
* ``NOC-<event_type>``: ``human``, ``animal``, ``vehicle`` (one push per detection of
  an outdoor event, at the event's time, with its ``snapshot_*``/``vignette_*`` and,
  when the floodlight fired, ``floodlight_triggered``), ``light_mode`` (``sub_type``:
  the new floodlight mode), ``on``, ``off``, ``connection``, ``disconnection``,
  ``boot``;
* ``NSD-<event_type>`` (``smoke``, ``hush``, ``sound_test``, ``tampered``) and
  ``NCO-<event_type>`` (``co_detected``, ``tampered``), with ``sub_type``;
* ``display_change`` (``set_point`` / ``cancel_set_point`` of a room, from the energy
  log, with ``home: {id, rooms: [...]}``) and ``home_event_changed`` (``therm_mode``
  with ``home: {id, therm_mode}``; ``schedule`` when the schedules changed).

Every payload carries ``push_type``, ``event_type``, ``user_id``, ``home_id`` and
``home_name``; camera ones ``event_id``, ``device_id``, ``camera_id`` and ``message``.
The activation push (``webhook_activation``) is :func:`activation`'s; :func:`source`
is ``push_events`` in ``PushSpec.source``'s shape (store, tenant, webhook, t0, t1).

``sources`` picks what is included (default all): ``routine`` (the seeded life of the
home), ``script`` (the world's scripted events), ``inject`` (admin-injected events),
``persons`` (setpersonsaway / setpersonshome), ``devices`` (setstate's camera changes,
admin online overrides) and ``energy``.

**Who pushes what** (nothing twice, nothing lost). ``which`` splits the events in two:

* ``"clock"`` (:func:`source`, the delivery worker asks it as the clock moves): what
  no call stores at its instant -- the routine, the world's scripted events, and
  stored facts whose instant is *later* than the moment they were stored (an admin
  injection into the future; the ``connection`` 24 s after an online override's
  ``boot``). Never the energy log.
* ``"made"``: events of a fact stored at or after their instant (setpersonsaway /
  home, setstate's camera changes, an online override's ``disconnection`` / ``boot``,
  an admin injection now or into the past) and every energy log entry (only requests
  write it). The call that stores them pushes them (``core.webhooks.push``) through
  :func:`announcing`: the "made" pushes of that instant before and after the write,
  the new ones queued. With a frozen clock the delivery cursor may already stand on
  that instant, and the source is only asked about later ones.

Every API write (``transport.endpoint``) and the admin API's injections and device
overrides (``devices``) run inside :func:`announcing`; it costs one look at the
tenant's webhooks when the user has none.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import orjson

from ..core import webhooks
from ..core.store import Store
from . import pictures
from . import security as sec
from . import security_views as sv
from .security import View
from .security_routine import Event
from .world import ACCOUNT, HOME

SOURCES = frozenset({"routine", "script", "inject", "persons", "devices", "energy"})
WEBHOOK_ACTIVATION = {"push_type": "webhook_activation"}
VENDOR = "netatmo"
# writes of one (tenant, user) with webhooks are serialised: striped locks, a fixed few
_LOCKS = tuple(threading.Lock() for _ in range(64))


def activation(webhook: Any = None) -> dict[str, Any]:
    """The payload sent when a webhook is registered (SEEN: HA's tests)."""
    return dict(WEBHOOK_ACTIVATION)


def render(webhook: webhooks.Webhook, payload: dict[str, Any]) -> dict[str, Any]:
    """A payload as ``webhook`` receives it: its picture URLs (``*_url``, a person's
    ``face_url``) under the base URL the webhook's registering client used, so the
    app fetches them from the emulator that pushed them."""
    base = webhook.base
    if not base:
        return payload
    out = {k: pictures.rebase(v, base) if k.endswith("_url") and isinstance(v, str)
           else v for k, v in payload.items()}
    if isinstance(payload.get("persons"), list):
        out["persons"] = [{**p, "face_url": pictures.rebase(p["face_url"], base)}
                          if isinstance(p, dict) and isinstance(p.get("face_url"), str)
                          else p for p in payload["persons"]]
    return out


def source(store: Store, tenant: str, webhook: Any, t0: float, t1: float
           ) -> list[tuple[float, dict[str, Any]]]:
    """``core.webhooks.PushSpec.source``'s shape: the pushes of the webhook's user that
    the clock brings (``which="clock"``; the others are pushed by the calls that make
    them, see :func:`announcing`)."""
    return push_events(store, tenant, webhook.user_id, t0, t1, which="clock")


def made_at(store: Store, tenant: str, user_id: str, at: float) -> list[dict[str, Any]]:
    """The "made" pushes of ``user_id`` at the instant ``at`` (whole seconds)."""
    return [p for t, p in push_events(store, tenant, user_id, at - 1, at, which="made")
            if t == at]


def listening(store: Store, tenant: str, user_id: str) -> bool:
    """Has ``user_id`` any Netatmo webhook in ``tenant``?"""
    return any(d.get("vendor") == VENDOR and d.get("user_id") == user_id
               for _, d in store.list(tenant, webhooks.KIND))


def _key(payload: dict[str, Any]) -> bytes:
    return orjson.dumps({k: v for k, v in payload.items() if k != "event_id"},
                        option=orjson.OPT_SORT_KEYS)


@contextmanager
def announcing(store: Store, tenant: str, user_ids: list[str], at: float
               ) -> Iterator[None]:
    """Run a write that may make events at the instant ``at`` (whole seconds) for
    ``user_ids``, then queue the "made" pushes it added for their webhooks. Calls for
    the same user are serialised (in this process) so that two writes in the same
    second each push their own events, once."""
    users = [u for u in dict.fromkeys(user_ids) if u and listening(store, tenant, u)]
    if not users:
        yield
        return
    stripes = sorted({hash((tenant, u)) % len(_LOCKS) for u in users})
    locks = [_LOCKS[i] for i in stripes]       # in one order: no deadlock
    for lock in locks:
        lock.acquire()
    try:
        before = {u: made_at(store, tenant, u, at) for u in users}
        yield
        registry = webhooks.Webhooks(store, tenant)
        for u in users:
            seen: dict[bytes, int] = {}
            for p in before[u]:
                seen[_key(p)] = seen.get(_key(p), 0) + 1
            for p in made_at(store, tenant, u, at):
                k = _key(p)
                if seen.get(k):
                    seen[k] -= 1
                    continue
                registry.push(VENDOR, u, p, at)
    finally:
        for lock in reversed(locks):
            lock.release()


def source_of(ev: Event) -> str:
    return ev.get("src", "routine")


def _made(ev: Event) -> bool:
    """Stored at or after its instant (pushed by the call that stored it)."""
    return "stored" in ev and ev["time"] <= ev["stored"]


def push_events(store: Store, tenant: str, user_id: str, t0: float, t1: float, *,
                sources: frozenset[str] | set[str] = SOURCES, which: str | None = None
                ) -> list[tuple[float, dict[str, Any]]]:
    """The webhook payloads of ``user_id``'s homes for t0 < at <= t1, in order;
    ``which``: ``"clock"``, ``"made"`` or None (both; see the module docstring)."""
    if not t1 > t0:
        return []
    acc = store.snapshot(tenant, ACCOUNT, user_id)
    if acc is None:
        return []
    seed = sec.seed_of(store, tenant)
    out: list[tuple[float, int, dict[str, Any]]] = []
    rank = 0
    for hid in acc.get("homes", []):
        home = store.snapshot(tenant, HOME, hid)
        if home is None or home.get("owner") != user_id:
            continue
        v = View(store, tenant, seed, home)
        for ev in v.between(t0, t1):
            if source_of(ev) not in sources or (which is not None
                                                and _made(ev) != (which == "made")):
                continue
            for payload in payloads(v, ev, user_id):
                out.append((float(ev["time"]), rank, payload))
                rank += 1
        if "energy" in sources and which != "clock":
            for at, payload in energy_payloads(home, user_id, t0, t1):
                out.append((at, rank, payload))
                rank += 1
    out.sort(key=lambda x: (x[0], x[1]))
    return [(at, payload) for at, _, payload in out]


def _base(v: View, push_type: str, event_type: str, user_id: str) -> dict[str, Any]:
    return {"push_type": push_type, "event_type": event_type, "user_id": user_id,
            "home_id": v.home["id"], "home_name": v.home.get("name", "Home")}


def _media(v: View, prefix: str, image_id: str) -> dict[str, Any]:
    m = sv.media(v, image_id)
    return {f"{prefix}_id": m["id"], f"{prefix}_key": m["key"], f"{prefix}_url": m["url"]}


def payloads(v: View, ev: Event, user_id: str) -> list[dict[str, Any]]:
    """The pushes one event makes (an outdoor event: one per detection)."""
    at = ev["time"]
    cam = v.camera_of(ev) or ev["module"]
    family = v.mods.get(cam, v.mods.get(ev["module"], {})).get("type", "NACamera")
    kind = ev["type"]

    def make(event_type: str, **fields: Any) -> dict[str, Any]:
        out = _base(v, f"{family}-{event_type}", event_type, user_id)
        out.update(event_id=ev["id"], device_id=cam, camera_id=cam)
        if cam != ev["module"]:
            out["module_id"] = ev["module"]
        out.update(fields)
        out.setdefault("message", sv.message(v, ev, at))
        return out

    if kind == "outdoor":
        out = []
        for s in ev["subs"]:
            extra: dict[str, Any] = {"message": sv.SUB_MESSAGE[s["type"]],
                                     "subevent_id": s["id"]}
            extra.update(_media(v, "snapshot", sv.snapshot_id(s)))
            extra.update(_media(v, "vignette", sv.snapshot_id(s, "vignette")))
            if ev.get("light"):
                extra["floodlight_triggered"] = True
            out.append(make(s["type"], **extra))
        return out
    if kind == "person":
        people = {p["id"]: p for p in v.people(at)}
        p = people.get(ev["person"], {"id": ev["person"], "face": {"id": "", "key": ""}})
        face = sv.media(v, p["face"]["id"], p["face"]["key"]) if p["face"]["id"] else {}
        person = {"id": p["id"], "face_id": face.get("id", ""),
                  "face_key": face.get("key", ""), "face_url": face.get("url", ""),
                  "is_known": "pseudo" in p}
        return [make("person", persons=[person], is_arrival=bool(ev.get("arrival")),
                     **_media(v, "snapshot", sv.snapshot_id(ev)))]
    if kind == "movement":
        return [make("movement", **_media(v, "snapshot", sv.snapshot_id(ev)),
                     **_media(v, "vignette", sv.snapshot_id(ev, "vignette")))]
    if kind == "person_away":
        if ev.get("person") is None:
            return [make("home_away")]
        return [make("person_away", person_id=ev["person"])]
    if kind == "person_home":
        known = {p["id"]: "pseudo" in p for p in v.people(at)}
        return [make("person_home", persons=[{"id": p, "is_known": known.get(p, False)}
                                             for p in ev.get("persons", [])])]
    if kind == "light_mode":
        return [make("light_mode", sub_type=ev["sub_type"])]
    if "sub_type" in ev:
        return [make(kind, sub_type=ev["sub_type"])]
    return [make(kind)]


def energy_payloads(home: dict[str, Any], user_id: str, t0: float, t1: float
                    ) -> list[tuple[float, dict[str, Any]]]:
    """display_change / home_event_changed pushes from the home's energy log."""
    rooms = {r["id"]: r for r in home.get("rooms", [])}
    out = []
    for e in (home.get("state") or {}).get("events") or []:
        if not t0 < e["at"] <= t1:
            continue
        base = {"user_id": user_id, "home_id": home["id"],
                "home_name": home.get("name", "Home")}
        if e["kind"] == "mode":
            out.append((float(e["at"]), {
                "push_type": "home_event_changed", "event_type": "therm_mode", **base,
                "mode": e["mode"], "home": {"id": home["id"], "therm_mode": e["mode"]}}))
        elif e["kind"] == "room":
            room = rooms.get(e["room"], {"id": e["room"]})
            cancel = e["mode"] == "home"
            entry: dict[str, Any] = {"id": room["id"], "name": room.get("name", room["id"]),
                                     "type": room.get("type", "custom"),
                                     "therm_setpoint_mode": "home" if cancel else e["mode"]}
            if not cancel:
                entry.update(therm_setpoint_temperature=e["temp"],
                             therm_setpoint_end_time=int(e["end"]))
            payload = {"push_type": "display_change",
                       "event_type": "cancel_set_point" if cancel else "set_point",
                       **base, "room_id": room["id"], "mode": entry["therm_setpoint_mode"],
                       "home": {"id": home["id"], "name": home.get("name", "Home"),
                                "rooms": [entry]}}
            if not cancel:
                payload["temperature"] = e["temp"]
            out.append((float(e["at"]), payload))
        elif e["kind"] == "schedules":
            out.append((float(e["at"]), {"push_type": "home_event_changed",
                                         "event_type": "schedule", **base,
                                         "home": {"id": home["id"]}}))
    return out
