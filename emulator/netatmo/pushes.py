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
* ``NSD-<event_type>`` (``smoke``, ``hush``, ``sound_test``, ``tampered``,
  ``wifi_status``) and
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
  the new ones claimed through the store (:func:`claim`: one atomic update of the
  user's ``netatmo.announced`` document, so concurrent writes in any workers or
  servers sharing the store queue each event once; no lock) and queued. With a
  frozen clock the delivery cursor may already stand on that instant, and the source
  is only asked about later ones.
* a "clock" event of a fact stored while the clock stands behind a webhook's cursor
  (moved back), at an instant the cursor has passed (the ``connection`` after an
  online override; an admin injection later than now), would never be asked of the
  source again: the write claims it as it claims the made ones and queues it for
  those webhooks only (``announcing``'s ``horizon``). Left: a clock moved forward
  past such an instant *while* the write runs may still lose it.

Every API write (``transport.endpoint``) and the admin API's injections and device
overrides (``devices``) run inside :func:`announcing`; it costs one look at the
tenant's webhooks when the user has none.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterator
from contextlib import AbstractContextManager, contextmanager, nullcontext
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
# what the writes of the last instants pushed, per user (``claim``); instants kept
ANNOUNCED, ANNOUNCED_INSTANTS = "netatmo.announced", 64


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


def made_at(store: Store, tenant: str, user_id: str, at: float, horizon: float = 0
            ) -> list[tuple[float, bool, dict[str, Any]]]:
    """``(instant, late, payload)``: the "made" pushes of ``user_id`` at the instant
    ``at`` (whole seconds; late False), and the clock's pushes of stored facts from
    ``at`` to ``horizon`` seconds after it (late True: a write may store such a fact
    while the clock stands behind a webhook's cursor, see :func:`announcing`)."""
    out = []
    for t, late, p in _tagged(store, tenant, user_id, at - 1, at + horizon):
        if late or t == at:
            out.append((t, late, p))
    return out


def listening(store: Store, tenant: str, user_id: str) -> bool:
    """Has ``user_id`` any Netatmo webhook in ``tenant``?"""
    return any(d.get("vendor") == VENDOR and d.get("user_id") == user_id
               for _, d in store.list(tenant, webhooks.KIND))


def _key(payload: dict[str, Any]) -> str:
    """A push's content without its event id: equal pushes (the energy log's, which
    carry none) count as one kind."""
    body = orjson.dumps({k: v for k, v in payload.items() if k != "event_id"},
                        option=orjson.OPT_SORT_KEYS)
    return hashlib.blake2b(body, digest_size=12).hexdigest()


def _counts(payloads: list[dict[str, Any]]) -> dict[str, int]:
    out: dict[str, int] = {}
    for p in payloads:
        k = _key(p)
        out[k] = out.get(k, 0) + 1
    return out


def claim(store: Store, tenant: str, user_id: str, at: float,
          before: list[dict[str, Any]], after: list[dict[str, Any]]
          ) -> list[dict[str, Any]]:
    """The "made" pushes of instant ``at`` that this write is to queue, claimed in one
    atomic ``Store.update`` of the user's ``ANNOUNCED`` document, so that writes of
    one user in one second, in any workers and servers, queue each event once.

    ``before`` / ``after``: the made pushes of ``at`` this write saw before and after
    its change. Its own events are in its ``after`` and not in its ``before``; what
    was there before the second's first write is in every ``before``. So, for the
    instant, the document keeps:

    * pushes with an ``event_id``: the ids in every ``before`` seen so far (their
      intersection) and the ids pushed; a claim pushes the ids of its ``after`` in
      neither. Each is pushed once, by its own write at the latest.
    * pushes without one (energy ones; equal payloads are alike, ``_key``): per kind,
      the *base* (the fewest any write saw before its change), the *top* (the most
      any saw after) and how many were *pushed*; a claim takes ``top - base -
      pushed`` (at most what its ``after`` holds). Once every write of the second has
      claimed, ``pushed = top - base``.

    Whatever the interleaving, each event is pushed once (one made in that second by
    a write outside ``announcing``, e.g. while the user had no webhook, may be pushed
    along). The last ``ANNOUNCED_INSTANTS`` instants are remembered: a write that
    claims after that many later instants were claimed counts from its own view."""
    b, a = _counts([p for p in before if "event_id" not in p]), \
        _counts([p for p in after if "event_id" not in p])
    groups: dict[str, list[dict[str, Any]]] = {}
    for p in after:
        if "event_id" not in p:
            groups.setdefault(_key(p), []).append(p)
    had = {p["event_id"] for p in before if "event_id" in p}
    slot = str(int(at))
    chosen: list[dict[str, Any]] = []

    def apply(doc: dict[str, Any] | None) -> dict[str, Any]:
        chosen.clear()                       # (an update may run again)
        instants = dict((doc or {}).get("instants") or {})
        entry = instants.get(slot)
        if entry is None:
            base, top, pushed, common, ids = dict(b), {}, {}, set(had), set()
        else:
            base = {k: min(n, b[k]) for k, n in entry["base"].items() if b.get(k)}
            top, pushed = dict(entry["top"]), dict(entry["pushed"])
            common, ids = set(entry["common"]) & had, set(entry["ids"])
        for p in after:
            eid = p.get("event_id")
            if eid is not None and eid not in common and eid not in ids:
                chosen.append(p)
                ids.add(eid)
        for k, n in a.items():
            top[k] = max(top.get(k, 0), n)
        for k, items in groups.items():
            n = min(top[k] - base.get(k, 0) - pushed.get(k, 0), len(items))
            if n > 0:
                chosen.extend(items[-n:])
                pushed[k] = pushed.get(k, 0) + n
        instants[slot] = {"base": base, "top": top, "pushed": pushed,
                          "common": sorted(common), "ids": sorted(ids)}
        if len(instants) > ANNOUNCED_INSTANTS:
            for old in sorted(instants, key=int)[:len(instants) - ANNOUNCED_INSTANTS]:
                del instants[old]
        return {"instants": instants}

    store.update(tenant, ANNOUNCED, user_id, apply)
    order = {id(p): i for i, p in enumerate(after)}
    return sorted(chosen, key=lambda p: order[id(p)])


QUIET = nullcontext()   # reusable: what a write runs in when nobody listens (its
#                         callers may skip the `with` then)


def announcing(store: Store, tenant: str, user_ids: list[str], at: float,
               horizon: float = 0) -> AbstractContextManager[None]:
    """Run a write that may make events at the instant ``at`` (whole seconds) for
    ``user_ids``, then queue the "made" pushes it added for their webhooks: the made
    pushes of ``at`` before and after the write, the difference claimed through the
    store (:func:`claim`), so two writes in the same second, in one process or in
    several sharing the store, each push their own events, once. No lock is held.

    ``horizon``: the write may also store facts whose events come by the clock up to
    that many seconds after ``at`` (an online override's ``connection``; an admin
    injection at ``at`` later than now). Those are the source's, but a webhook whose
    cursor already stands at or after their instant (the clock was moved back behind
    it) would never be asked for them: they are claimed the same way and queued for
    such webhooks only (``Webhooks.push(passed_only=True)``).

    Who listens is read once, as the ``with`` starts (as before the write runs); when
    the tenant has no webhook at all (one ``Store.count``) the write runs in a shared
    do-nothing context, with no scan and no claim: a webhook registered while it runs
    is in the same place as one registered a moment after it (its cursor starts at
    its registration)."""
    if not store.count(tenant, webhooks.KIND):
        return QUIET
    users = [u for u in dict.fromkeys(user_ids) if u and listening(store, tenant, u)]
    if not users:
        return QUIET
    return _announced(store, tenant, users, at, horizon)


@contextmanager
def _announced(store: Store, tenant: str, users: list[str], at: float, horizon: float
               ) -> Iterator[None]:
    """``announcing`` for ``users``, who listen: the scans before and after, the claims."""
    before = {u: made_at(store, tenant, u, at, horizon) for u in users}
    yield
    registry = webhooks.Webhooks(store, tenant)
    for u in users:
        after = made_at(store, tenant, u, at, horizon)
        when = {id(p): (t, late) for t, late, p in after}
        for p in claim(store, tenant, u, at, [p for _, _, p in before[u]],
                       [p for _, _, p in after]):
            t, late = when[id(p)]
            registry.push(VENDOR, u, p, t if late else at, passed_only=late)


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
    return [(at, payload) for at, late, payload in
            _tagged(store, tenant, user_id, t0, t1, sources, which)]


def _tagged(store: Store, tenant: str, user_id: str, t0: float, t1: float,
            sources: frozenset[str] | set[str] = SOURCES, which: str | None = None
            ) -> list[tuple[float, bool, dict[str, Any]]]:
    """``push_events`` with, for each push, whether it is a stored fact's that the
    clock brings (``which`` "clock" and a ``stored`` instant: see ``made_at``)."""
    if not t1 > t0:
        return []
    acc = store.snapshot(tenant, ACCOUNT, user_id)
    if acc is None:
        return []
    seed = sec.seed_of(store, tenant)
    out: list[tuple[float, int, bool, dict[str, Any]]] = []
    rank = 0
    for hid in acc.get("homes", []):
        home = store.snapshot(tenant, HOME, hid)
        if home is None or home.get("owner") != user_id:
            continue
        v = View(store, tenant, seed, home)
        for ev in v.between(t0, t1):
            made = _made(ev)
            if source_of(ev) not in sources or (which is not None
                                                and made != (which == "made")):
                continue
            late = not made and "stored" in ev
            for payload in payloads(v, ev, user_id):
                out.append((float(ev["time"]), rank, late, payload))
                rank += 1
        if "energy" in sources and which != "clock":
            for at, payload in energy_payloads(home, user_id, t0, t1):
                out.append((at, rank, False, payload))
                rank += 1
    out.sort(key=lambda x: (x[0], x[1]))
    return [(at, late, payload) for at, _, late, payload in out]


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
