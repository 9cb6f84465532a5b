"""Netatmo Security answers: ``security``'s events and persons in the shapes the real
samples show, the bodies of the security endpoints, and the webhook payloads.

Two event shapes: the legacy one (``gethomedata``'s ``events``, ``geteventsuntil``,
``getnextevents``, ``getlasteventof``: ``camera_id``, ``device_id``, ``is_arrival``,
``event_list`` for outdoor detections; sample archive__camera_home_data.json) and the
current one (``getevents``: ``module_id``, ``subevents``; sample getevents.json). Media
(``snapshot``, ``vignette``, a person's ``face``) are ``{"id", "version", "key",
"url"}``: ``url`` is ``getcamerapicture`` with that id and key (``pictures.url``) under
the base URL the client used (``Ctx.base``: scheme, host, port, tenant, prefix; INFERRED:
the cloud's are blob-storage URLs, these the client fetches from the emulator that
answered, with its token), and the outdoor detections' also carry the sample's
``filename`` form. Messages are
English (INFERRED; the samples are German).
"""

from __future__ import annotations

from typing import Any

from ..core.context import Ctx
from ..core.errors import MockcloudError
from ..physics.sun import is_dark
from . import home_devices, models, pictures
from . import security as sec
from .security import View
from .security_routine import Event, digest, event_id, local_day, uuid_like

DAY = 86400
SUB_MESSAGE = {"human": "Person detected", "animal": "Animal detected",
               "vehicle": "Vehicle detected"}
PLAIN = {"boot": "{cam} started", "connection": "{cam} connected",
         "disconnection": "{cam} disconnected", "on": "{cam}: monitoring resumed",
         "off": "{cam}: monitoring disabled", "tag_open": "{mod}: opened",
         "tag_big_move": "{mod}: big move detected",
         "tag_small_move": "{mod}: small move detected",
         "hush": "{mod}: alarm hushed", "sound_test": "{mod}: alarm sound test successful",
         "tampered": "{mod}: tampering detected",
         "co_detected": "{mod}: carbon monoxide detected"}


# ------------------------------------------------------------------------ pieces

def image_key(v: View, image_id: str) -> str:
    return digest("image-key", v.seed, v.home["id"], image_id)


def media(v: View, image_id: str, key: str | None = None, version: int = 1
          ) -> dict[str, Any]:
    key = key or image_key(v, image_id)
    return {"id": image_id, "version": version, "key": key,
            "url": pictures.url(image_id, key, v.base)}


def snapshot_id(ev: Event | dict[str, Any], role: str = "snapshot") -> str:
    return event_id(ev["time"], role, ev["id"])


def video_id(ev: Event) -> str:
    return uuid_like("video", ev["id"])


def _available(ev: Event, now: float) -> bool:
    return now - ev["time"] <= sec.VIDEO_DAYS * DAY


def name_of(v: View, pid: str | None, now: float) -> str:
    for p in v.people(now):
        if p["id"] == pid:
            return p.get("pseudo") or "Unknown face"
    return "Someone"


def _module_name(v: View, mid: str | None) -> str:
    mod = v.mods.get(mid or "")
    return mod.get("name", mid) if mod else (mid or "")


def message(v: View, ev: Event, now: float) -> str:
    kind = ev["type"]
    cam, mod = _module_name(v, v.camera_of(ev)), _module_name(v, ev["module"])
    if kind == "person":
        return f"<b>{name_of(v, ev.get('person'), now)}</b> seen"
    if kind == "person_away":
        if ev.get("person") is None:
            return "The home is set as empty"
        return f"<b>{name_of(v, ev['person'], now)}</b> has left"
    if kind == "person_home":
        names = [name_of(v, p, now) for p in ev.get("persons", [])]
        joined = " and ".join([", ".join(names[:-1]), names[-1]] if len(names) > 1
                              else names)
        return f'{ev.get("by") or "An application"} set {joined or "nobody"} as "At home"'
    if kind == "movement":
        return "<b>Movement</b> detected"
    if kind == "smoke":
        return f"{mod}: smoke detected" if ev.get("sub_type") else f"{mod}: smoke cleared"
    if kind == "outdoor":
        return f"{cam}: " + ", ".join(SUB_MESSAGE[s["type"]] for s in ev["subs"])
    if kind == "wifi_status":
        return f"{mod}: Wi-Fi " + ("connected" if ev.get("sub_type") else
                                   "connection failed")
    if kind == "sound_test" and ev.get("sub_type"):
        return f"{mod}: alarm sound test failed"
    return PLAIN.get(kind, "{mod}: " + kind).format(cam=cam, mod=mod)


def sub_message(v: View, ev: Event, now: float) -> str | None:
    if ev["type"] == "person_away" and ev.get("person"):
        name = name_of(v, ev["person"], now)
        if ev.get("phone"):
            return (f"{name} is considered away because the phone linked to this profile "
                    "left the area of the home.")
        return f"{name} was set as away by {ev.get('by') or 'an application'}."
    return None


def _sub_media(v: View, ev: Event, sub: dict[str, Any], role: str) -> dict[str, Any]:
    out = media(v, snapshot_id(sub, role))
    out["filename"] = f"vod/{video_id(ev)}/events/{sub['id']}/{role}_{out['id']}.jpg"
    return out


# ------------------------------------------------------------------------ two shapes

def legacy(v: View, ev: Event, now: float) -> dict[str, Any]:
    """An event as gethomedata and geteventsuntil list it."""
    cam = v.camera_of(ev) or ev["module"]
    out: dict[str, Any] = {"id": ev["id"], "type": ev["type"], "time": ev["time"],
                           "camera_id": cam, "device_id": cam}
    if cam != ev["module"]:
        out["module_id"] = ev["module"]
    _common(v, ev, now, out, legacy=True)
    return out


def current(v: View, ev: Event, now: float) -> dict[str, Any]:
    """An event as getevents lists it."""
    out: dict[str, Any] = {"id": ev["id"], "type": ev["type"], "time": ev["time"],
                           "module_id": ev["module"]}
    _common(v, ev, now, out, legacy=False)
    return out


def _common(v: View, ev: Event, now: float, out: dict[str, Any], legacy: bool) -> None:
    kind = ev["type"]
    if ev.get("person") is not None:
        out["person_id"] = ev["person"]
    if "sub_type" in ev:
        out["sub_type"] = ev["sub_type"]
    if kind == "movement" and legacy:
        out["category"] = ev.get("category", "human")
    if kind in ("person", "movement", "outdoor"):
        if _available(ev, now):
            if kind != "outdoor":
                out["snapshot"] = media(v, snapshot_id(ev))
            if kind == "movement":
                out["vignette"] = media(v, snapshot_id(ev, "vignette"))
            out["video_id"] = video_id(ev)
            out["video_status"] = "available"
        else:
            out["video_status"] = "deleted"
    if kind == "person":
        if legacy:
            out["is_arrival"] = bool(ev.get("arrival"))
        else:
            out["out_of_sight"] = False
    if kind == "outdoor":
        subs = []
        for s in ev["subs"]:
            entry: dict[str, Any] = {"id": s["id"], "type": s["type"], "time": s["time"],
                                     "offset": s["offset"],
                                     "message": SUB_MESSAGE[s["type"]],
                                     "snapshot": _sub_media(v, ev, s, "snapshot"),
                                     "vignette": _sub_media(v, ev, s, "vignette")}
            if not legacy:
                entry["verified"] = True
            subs.append(entry)
        out["event_list" if legacy else "subevents"] = subs
        if ev.get("light"):
            out["floodlight_triggered"] = True
    out["message"] = message(v, ev, now)
    sub = sub_message(v, ev, now)
    if sub:
        out["sub_message"] = sub


# ------------------------------------------------------------------------ endpoints

def _views(ctx: Ctx, user_id: str, home_id: str | None) -> list[View]:
    homes = [models.home(ctx, user_id, home_id)] if home_id else models.homes(ctx, user_id)
    return [sec.view(ctx, h) for h in homes]


def _persons(v: View, now: float) -> list[dict[str, Any]]:
    state = v.presence(now)
    out = []
    for p in v.people(now):
        entry: dict[str, Any] = {"id": p["id"], **state[p["id"]],
                                 "face": media(v, p["face"]["id"], p["face"]["key"],
                                               p["face"]["version"])}
        if "pseudo" in p:
            entry["pseudo"] = p["pseudo"]
        out.append(entry)
    return out


def _camera(v: View, cam: dict[str, Any], now: float) -> dict[str, Any]:
    mid = cam["id"]
    state = v.device_state(mid, now)
    online = v.online(mid, now)
    out: dict[str, Any] = {"id": mid, "type": cam["type"],
                           "status": state.get("monitoring", "on") if online
                           else "disconnected"}
    if online:
        out.update(vpn_url=home_devices._vpn_url(v.seed, mid, v.base), is_local=False)
    out.update(sd_status="on", alim_status="on", name=cam.get("name", mid),
               last_setup=int(cam.get("setup_date", 0)))
    if cam["type"] == "NOC":
        out["light_mode_status"] = state.get("floodlight", "auto")
    else:
        out["use_pin_code"] = False
    bridged = [m for m in v.home["modules"] if m.get("bridge") == mid]
    if bridged and online:
        out["modules"] = [_camera_module(v, m, now) for m in bridged]
    return out


def _camera_module(v: View, mod: dict[str, Any], now: float) -> dict[str, Any]:
    from . import energy_physics as ep

    bat = ep.module_battery(mod, now, v.seed, None)
    out: dict[str, Any] = {"id": mod["id"], "type": mod["type"],
                           "battery_percent": bat.percent,
                           "rf": ep.rf_strength(v.seed, mod["id"], 68),
                           "status": "closed" if mod["type"] in sec.TAGS else "no_news",
                           "monitoring": "on", "alim_source": "battery",
                           "tamper_detection_enabled": True,
                           "name": mod.get("name", mod["id"])}
    return out


def home_data(ctx: Ctx, user_id: str, home_id: str | None, size: int) -> dict[str, Any]:
    now = ctx.now()
    homes = []
    for v in _views(ctx, user_id, home_id):
        place: dict[str, Any] = {"country": v.home.get("country", "FR"),
                                 "timezone": v.home["timezone"]}
        if v.home.get("city"):
            place = {"city": v.home["city"], **place}
        homes.append({
            "id": v.home["id"], "name": v.home.get("name", "Home"),
            "persons": _persons(v, now), "place": place,
            "cameras": [_camera(v, c, now) for c in v.modules(*sec.CAMERAS)],
            "smokedetectors": [{"id": m["id"], "type": m["type"],
                                "last_setup": int(m.get("setup_date", 0)),
                                "name": m.get("name", m["id"])}
                               for m in v.modules("NSD", "NCO")],
            "events": [legacy(v, e, now) for e in v.newest(now, size)]})
    acc = models.account(ctx, user_id)
    user = {"reg_locale": acc.get("locale", "en-US"), "lang": acc.get("language", "en-US"),
            "country": acc.get("country", "FR"), "mail": acc.get("email", "")}
    return {"homes": homes, "user": user, "global_info": {"show_tags": True}}


def events(ctx: Ctx, user_id: str, home_id: str, *, device_types: list[str] | None,
           event_id: str | None, person_id: str | None, device_id: str | None,
           module_id: str | None, offset: int, size: int) -> dict[str, Any]:
    [v] = _views(ctx, user_id, home_id)
    now = ctx.now()
    if event_id is not None:
        ev = v.find(event_id, now)
        if ev is None:
            raise sec.invalid(f"Invalid event_id: {event_id}")
        found = [ev]
    else:
        if not all(isinstance(t, str) for t in device_types or ()):
            raise sec.invalid("Invalid device_types: a list of module types (NACamera, NOC "
                              "...)")
        types = set(device_types or ())
        dev = device_id.replace(" ", "").lower() if device_id else None
        mod = module_id.replace(" ", "").lower() if module_id else None

        def keep(ev: Event) -> bool:
            if types and v.mods.get(ev["module"], {}).get("type") not in types:
                return False
            if person_id is not None and ev.get("person") != person_id \
                    and person_id not in ev.get("persons", ()):
                return False
            if dev is not None and dev not in (ev["module"], v.camera_of(ev)):
                return False
            return mod is None or ev["module"] == mod

        found = v.newest(now, offset + size, keep)[offset:]
    return {"home": {"id": v.home["id"], "events": [current(v, e, now) for e in found]}}


def _event(v: View, ident: str, now: float) -> Event:
    ev = v.find(ident, now)
    if ev is None:
        raise sec.invalid(f"Invalid event_id: {ident}")
    return ev


def events_until(ctx: Ctx, user_id: str, home_id: str, ident: str) -> dict[str, Any]:
    [v] = _views(ctx, user_id, home_id)
    now = ctx.now()
    stop = _event(v, ident, now)
    out = []
    for ev in v.backwards(now):
        out.append(ev)
        if ev["id"] == stop["id"] or len(out) >= sec.MAX_UNTIL:
            break
    return {"events_list": [legacy(v, e, now) for e in out]}


def next_events(ctx: Ctx, user_id: str, home_id: str, ident: str, size: int
                ) -> dict[str, Any]:
    [v] = _views(ctx, user_id, home_id)
    now = ctx.now()
    found = v.newest(now, size, before=_event(v, ident, now))
    return {"events_list": [legacy(v, e, now) for e in found]}


def last_event_of(ctx: Ctx, user_id: str, home_id: str, person_id: str, count: int
                  ) -> dict[str, Any]:
    [v] = _views(ctx, user_id, home_id)
    now = ctx.now()
    sec._known(v, now, person_id)
    out: list[Event] = []
    for ev in v.backwards(now):
        out.append(ev)
        if ev.get("person") == person_id:
            return {"events_list": [legacy(v, e, now) for e in out[-count:]]}
    return {"events_list": []}


def camera_picture(ctx: Ctx, user_id: str, image_id: str, key: str) -> bytes:
    now = ctx.now()
    for v in _views(ctx, user_id, None):
        for p in v.people(now):
            if p["face"]["id"] == image_id and p["face"]["key"] == key:
                return pictures.face(p["id"], known="pseudo" in p)
        if key != image_key(v, image_id):
            continue
        found = _image(v, image_id, now)
        if found is not None:
            return found
    raise MockcloudError("invalid_argument", "Invalid image_id or key")


def _image(v: View, image_id: str, now: float) -> bytes | None:
    try:
        stamp = int(image_id[:8], 16)
    except ValueError:
        return None
    if len(image_id) != 24 or stamp > now:
        return None
    d = local_day(v.zone, stamp)
    for day in (d, d - 1):
        for ev in v.day(day):
            if ev["time"] > now:
                continue
            if ev["type"] in ("person", "movement"):
                for role in ("snapshot", "vignette"):
                    if snapshot_id(ev, role) == image_id:
                        return pictures.scene(ev["id"] + role, ev["type"],
                                              person=ev.get("person"),
                                              small=role == "vignette")
            for s in ev.get("subs", ()):
                for role in ("snapshot", "vignette"):
                    if snapshot_id(s, role) == image_id:
                        return pictures.scene(s["id"] + role, s["type"],
                                              night=is_dark(v.lat, v.lon, s["time"]),
                                              lit=bool(ev.get("light")),
                                              small=role == "vignette")
    return None
