"""Worlds: the users, apps and devices a tenant starts with.

A world file is YAML (or JSON) with one section per vendor::

    lightify:
      quotas: {enabled: false, rules: []}
      apps:  [{client_id, client_secret, redirect_uris, scopes, grants, auto_approve,
               auto_approve_user, owner, name}]
      users: [{email (or login), password, id, name, ...vendor fields (devices...)}]

The core parses apps, users' logins and quotas; each vendor (``Vendor.world``)
turns the rest of its section, and the vendor fields of each user, into documents.

**One house, several clouds.** A top-level ``houses`` list names the places where a
person's devices are, whatever cloud serves them::

    houses:
      - {id: dev-house, name: Dev home, city: Paris, country: FR,
         timezone: Europe/Paris, lat: 48.8566, lon: 2.3522, altitude: 35}

and a vendor's home, station or house says ``place: dev-house`` instead of spelling
its place out (Netatmo homes, stations and home coaches, the Qivivo house, a Lightify
user): the vendor takes the time zone, coordinates, altitude and country from it
(:func:`place`), so the outdoor weather (``physics.weather``, a function of the place,
the seed and the instant) is one weather seen through every vendor's API. Fields the
entry gives itself win. Each cloud keeps its own account (login) for the person.
A user is stored under its lower-case login; its ``id`` defaults to that login (or to
what the vendor's ``Vendor.user_id`` makes of it, e.g. Netatmo's 24-hex ids). An
app's ``owner`` (a login) is the user it acts for without one (client credentials).

Loading is two-phase: every vendor turns its section into documents first (and may
refuse it with a ValueError naming the bad entry), and only then is the tenant
replaced, so a bad world never leaves a half-written tenant behind.

The server's world is a ``store.Base``, loaded once per process: a new tenant gets it
by one atomic write, its meta document naming the base (``claim``), and keeps only
what it changes (copy on write, see ``core/store.py``). Claiming is what makes a first
sight safe: when two workers or servers see a new tenant at once, one claims it and the
other finds it claimed, so no second install ever clears what the first already
answered. A world loaded into one tenant through the admin API is that tenant's own
documents (``install``).

World files are YAML or JSON. A file that is JSON after its leading comment lines (what
``world generate`` writes, and YAML reads too) is read with orjson, any other with
libyaml's loader when PyYAML has it: a generated 10,000-home world is ~60 MB.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from functools import partial
from pathlib import Path
from typing import Any

import orjson
import yaml

from .quotas import RULES_KIND, QuotaConfig
from .store import LAYER_KEY, LAYER_KIND, Base, Store
from .vendor import DocRow, Vendor, WorldUser

META_KIND = LAYER_KIND
META_KEY = LAYER_KEY
_YAML_LOADER = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
APP_FIELDS = {"client_id", "client_secret", "redirect_uris", "scopes", "auto_approve",
              "auto_approve_user", "name", "grants", "default_scope", "owner"}
USER_FIELDS = ("id", "email", "login", "password", "name")
USER_ID = "user_id"   # a vendor's kind (``<vendor>.user_id``): user id -> {"login": ...}
CORE_KEYS = ("apps", "users", "quotas")
HOUSES_KEY = "houses"
HOUSES_KIND = "world.houses"   # not META_KIND: its count says a world is installed
HOUSE_FIELDS = {"id", "name", "city", "country", "timezone", "lat", "lon", "altitude"}
# the houses of the world being built, for the vendors' loaders (place())
_HOUSES: ContextVar[dict[str, dict[str, Any]] | None] = ContextVar("houses", default=None)


class WorldError(ValueError):
    pass


def read_file(path: str | Path) -> dict[str, Any]:
    return parse(read_bytes(path), str(path))


def read_bytes(path: str | Path) -> bytes:
    try:
        return Path(path).read_bytes()
    except OSError as exc:
        raise WorldError(f"cannot read world file {path}: {exc.strerror}") from exc


class Unsplit(Exception):
    """A JSON world's text did not split into its sections after all (``split``): it
    is to be read whole (``parse``), which says what is wrong with it, if anything."""


class Deferred:
    """A section of a JSON world kept as its text (``split``), parsed by the step that
    checks it (``steps``), in whichever process takes that step; kept once parsed (a
    process that built a world leaves its parse to its exit, ``worldcache``)."""

    __slots__ = ("name", "text", "_value", "_parsed")

    def __init__(self, name: str, text: memoryview) -> None:
        self.name, self.text = name, text
        self._value: Any = None
        self._parsed = False

    def value(self) -> Any:
        """The section's value; ``Unsplit`` when its text is not that one member."""
        if not self._parsed:
            try:
                got = orjson.loads(b"".join((b"{", self.text, b"}")))
            except orjson.JSONDecodeError:
                raise Unsplit(self.name) from None
            if list(got) != [self.name]:
                raise Unsplit(self.name)
            self._value, self._parsed = got[self.name], True
        return self._value


# a line that starts a member of a JSON object: its indent, the quote that opens its key
_MEMBER = re.compile(rb"\n([ \t]*)\"")
_KEY = re.compile(rb'"((?:[^"\\\n]|\\.)*)"[ \t\r\n]*:')
_SPACE = b" \t\r\n"
EAGER = ("seed", HOUSES_KEY)    # sections every step needs: parsed by split itself


def split(text: bytes) -> dict[str, Any] | None:
    """A JSON world's sections, each vendor's kept as its text (``Deferred``), so that
    the processes that build a big world each parse only the sections they check, or
    None when the text does not plainly split (then it is read whole, ``parse``).

    JSON text holds no raw line break inside a string, so a line that starts with a
    quote, indented as the first such line, is taken to start a member of the world's
    mapping (``world generate`` writes one a line); what lies between two is one
    member and a comma, which ``Deferred.value`` checks by parsing it: each section
    that parses alone as that one member makes the same world as the whole text. One
    that does not raises ``Unsplit`` where it is parsed (``worldcache.build`` then
    reads the text whole, as do the checks that fail: ``parse`` says what is wrong)."""
    start = _json_start(text)
    if start is None:
        return None
    end = len(text) - 1
    while end > start and text[end:end + 1] in _SPACE:
        end -= 1
    if end <= start or text[end:end + 1] != b"}":
        return None
    cuts, indent = [], None
    for m in _MEMBER.finditer(text, start, end):
        if indent is None:
            indent = m.group(1)
        if m.group(1) == indent:
            cuts.append(m.end() - 1)
    if not cuts:
        return None
    view, out = memoryview(text), {}
    bounds = [start + 1, *cuts, end]
    for i, (a, b) in enumerate(zip(bounds, bounds[1:], strict=False)):
        while a < b and text[a:a + 1] in _SPACE:
            a += 1
        while a < b and text[b - 1:b] in _SPACE:
            b -= 1
        if a == b and i == 0:               # the first member starts a line too
            continue
        if i < len(bounds) - 2:             # a member and its comma
            if text[b - 1:b] != b",":
                return None
            b -= 1
        key = _KEY.match(text, a, b)
        if key is None:
            return None
        try:
            name = orjson.loads(b'"%s"' % key.group(1))
        except orjson.JSONDecodeError:
            return None
        if name in out:
            return None                     # a repeated key: the whole parse's rules
        out[name] = Deferred(name, view[a:b])
    try:
        for name in EAGER:
            if name in out:
                out[name] = out[name].value()
    except Unsplit:
        return None
    return out


def check_split(data: dict[str, Any]) -> None:
    """Raise ``Unsplit`` when a section of a split world does not parse (before any
    other error of the world is believed: the whole text may not be JSON)."""
    for value in data.values():
        if isinstance(value, Deferred):
            value.value()


def _json_start(text: str | bytes) -> int | None:
    """Where the text starts after its leading comment lines, when that looks like a
    JSON object."""
    space, hash_, brace, newline = (b" \t\r\n", b"#", b"{", b"\n") \
        if isinstance(text, bytes) else (" \t\r\n", "#", "{", "\n")
    start, end = 0, len(text)
    while True:
        while start < end and text[start:start + 1] in space:
            start += 1
        if not text.startswith(hash_, start):
            break
        start = text.find(newline, start)
        if start < 0:
            return None
    return start if text.startswith(brace, start) else None


def parse(text: str | bytes, source: str = "world") -> dict[str, Any]:
    """A world from its text (or its bytes: JSON is parsed from them as they are)."""
    start = _json_start(text)
    if start is not None:
        try:
            data = orjson.loads(memoryview(text)[start:] if isinstance(text, bytes)
                                else text[start:])
        except orjson.JSONDecodeError:
            pass            # not JSON after all (YAML's flow style): YAML says why
        else:
            if isinstance(data, dict):
                return data
    try:
        data = yaml.load(text, Loader=_YAML_LOADER)  # a safe loader (CSafeLoader)
    except yaml.YAMLError as exc:
        raise WorldError(f"{source} is not valid YAML/JSON: {exc}") from exc
    except RecursionError:
        raise WorldError(f"{source} is nested too deeply to be a world") from None
    if data is None:
        data = {}
    if not isinstance(data, dict):
        raise WorldError(f"{source}: a world is a mapping with one section per vendor")
    return data


def _users(vendor: Vendor, raw: Any, seed: int) -> list[WorldUser]:
    if not isinstance(raw, list):
        raise WorldError(f"{vendor.name}.users must be a list")
    users: list[WorldUser] = []
    seen: set[str] = set()
    for i, user in enumerate(raw):
        where = f"{vendor.name}.users[{i}]"
        if not isinstance(user, dict):
            raise WorldError(f"{where} must be a mapping")
        login = user.get("login", user.get("email"))
        if not isinstance(login, str) or not login.strip():
            raise WorldError(f"{where} needs a login (or email): a non-empty string")
        login = login.strip().lower()
        uid = user["id"] if "id" in user else (
            vendor.user_id(login, seed) if vendor.user_id else login)
        if not isinstance(uid, str | int) or isinstance(uid, bool) or not str(uid):
            raise WorldError(f"{where}.id must be a non-empty string")
        for ident in {login, str(uid)}:
            if ident in seen:
                raise WorldError(f"{where}: login or id {ident!r} is used twice")
            seen.add(ident)
        doc = {"id": str(uid), "login": login, "password": str(user.get("password", "")),
               "name": str(user.get("name", login))}
        if "email" in user:
            doc["email"] = str(user["email"]).strip().lower()
        users.append(WorldUser(doc, {k: v for k, v in user.items() if k not in USER_FIELDS},
                               where))
    return users


def _apps(vendor: Vendor, raw: Any, users: list[WorldUser]) -> list[DocRow]:
    if not isinstance(raw, list):
        raise WorldError(f"{vendor.name}.apps must be a list")
    rows = []
    for i, app in enumerate(raw):
        where = f"{vendor.name}.apps[{i}]"
        if not isinstance(app, dict):
            raise WorldError(f"{where} must be a mapping")
        unknown = set(app) - APP_FIELDS - set(vendor.app_fields)
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
        if "owner" in app:
            owner = next((u for u in users if str(app["owner"]).lower() in
                          (u.doc["login"], u.id.lower())), None)
            if owner is None:
                raise WorldError(f"{where}.owner names no user of {vendor.name}")
            doc["owner"] = owner.id
        if doc["auto_approve"] and not app.get("auto_approve_user") and users:
            # the user it approves as, named once here rather than found among every
            # user at each authorization (consent._auto_user): the world's first
            doc["auto_approve_user"] = users[0].doc["login"]
        rows.append((vendor.kind("client"), app["client_id"], doc))
    return rows


def _houses(raw: Any) -> dict[str, dict[str, Any]]:
    if raw is None:
        return {}
    if not isinstance(raw, list):
        raise WorldError("houses must be a list")
    out: dict[str, dict[str, Any]] = {}
    for i, house in enumerate(raw):
        where = f"houses[{i}]"
        if not isinstance(house, dict):
            raise WorldError(f"{where} must be a mapping")
        unknown = set(house) - HOUSE_FIELDS
        if unknown:
            raise WorldError(f"{where}: unknown field(s) {', '.join(sorted(unknown))}; "
                             f"a house has {', '.join(sorted(HOUSE_FIELDS))}")
        hid = house.get("id")
        if not isinstance(hid, str) or not hid:
            raise WorldError(f"{where}.id must be a non-empty string")
        if hid in out:
            raise WorldError(f"{where}: house id {hid!r} is used twice")
        for key, lo, hi in (("lat", -90, 90), ("lon", -180, 180), ("altitude", -500, 9000)):
            value = house.get(key, 0 if key == "altitude" else None)
            if isinstance(value, bool) or not isinstance(value, int | float) \
                    or not lo <= value <= hi:
                raise WorldError(f"{where}.{key} must be a number from {lo} to {hi}")
        for key in ("name", "city", "country", "timezone"):
            if key in house and not isinstance(house[key], str):
                raise WorldError(f"{where}.{key} must be a string")
        out[hid] = {"altitude": 0, **house}
    return out


def place(where: str, ref: Any) -> dict[str, Any] | None:
    """The house a vendor's ``place: <house id>`` names (its fields: id, name, city,
    country, timezone, lat, lon, altitude), for the world being built; None when
    ``ref`` is not a string (the vendor's own place mapping, or none)."""
    if not isinstance(ref, str):
        return None
    houses = _HOUSES.get() or {}
    if ref not in houses:
        known = ", ".join(sorted(houses)) or "none: the world has no houses"
        raise ValueError(f"{where}: place {ref!r} names no house of the world "
                         f"(houses: {known})")
    return dict(houses[ref])


def build(data: dict[str, Any], vendors: dict[str, Vendor], seed: int) -> list[DocRow]:
    """All documents of a world, validated; nothing is written."""
    with steps(data, vendors, seed) as parts:
        return [row for part in parts for row in part()]


@contextmanager
def steps(data: dict[str, Any], vendors: dict[str, Vendor], seed: int
          ) -> Iterator[list[Callable[[], list[DocRow]]]]:
    """A world's documents as steps, in order: each a call that checks one part of the
    world and returns its rows (the houses, then each vendor's section as the file
    orders them), raising a WorldError that names the bad entry. The sections share
    nothing but the houses (set for ``place`` while the context is open), so the steps
    may run in any order, or in forked processes (``worldcache.build``); their rows,
    put one after the other, are what ``build`` returns."""
    unknown = {str(k) for k in data} - set(vendors) - {"seed", HOUSES_KEY}
    if unknown or not all(isinstance(k, str) for k in data):
        raise WorldError(f"unknown world section(s): {', '.join(sorted(unknown))}; "
                         f"known: {', '.join(sorted(vendors))}")
    houses = _houses(data.get(HOUSES_KEY))
    token = _HOUSES.set(houses)
    seed = data.get("seed", seed)
    parts: list[Callable[[], list[DocRow]]] = []
    if houses:
        parts.append(lambda: [(HOUSES_KIND, HOUSES_KEY, {"houses": list(houses.values())})])
    parts += [partial(_section, name, section, vendors[name], seed)
              for name, section in data.items() if name not in ("seed", HOUSES_KEY)]
    try:
        yield parts
    finally:
        _HOUSES.reset(token)


def _section(name: str, section: Any, vendor: Vendor, seed: int) -> list[DocRow]:
    if isinstance(section, Deferred):
        section = section.value()
    if section is None:
        section = {}
    if not isinstance(section, dict):
        raise WorldError(f"world section {name!r} must be a mapping")
    users = _users(vendor, section.get("users", []), seed)
    rows: list[DocRow] = [(vendor.kind("user"), u.doc["login"], u.doc) for u in users]
    # each user's login by id, for a user named by id (oauth.find_user): one read
    rows += [(vendor.kind(USER_ID), u.doc["id"], {"login": u.doc["login"]}) for u in users]
    rows += _apps(vendor, section.get("apps", []), users)
    if "quotas" in section:
        try:
            cfg = QuotaConfig.parse(section["quotas"])
        except ValueError as exc:
            raise WorldError(f"{name}.quotas: {exc}") from exc
        rows.append((RULES_KIND, name, cfg.to_doc()))
    try:
        rest = {k: v for k, v in section.items() if k not in CORE_KEYS}
        rows += list(vendor.world.build(rest, users, seed))
    except WorldError:
        raise
    except ValueError as exc:
        raise WorldError(f"{name}: {exc}") from exc
    return rows


def claim(store: Store, tenant: str, base: Base, source: str, now: float) -> bool:
    """Give a tenant that has no world yet the base world, atomically (``Store.update``
    on its meta document): True if this call did, False if the tenant already had a
    world (another worker or server may have claimed it a moment before)."""
    won: list[bool] = []

    def take(doc):
        won.clear()                     # (an update may run again)
        if doc is not None:
            return doc
        won.append(True)
        return {"source": source, "loaded_at": now, "base": base.digest}

    store.update(tenant, META_KIND, META_KEY, take)
    return bool(won)


def install(store: Store, tenant: str, rows: list[DocRow], source: str, now: float) -> None:
    """Replace the tenant's world (clock kept) with prepared documents of its own."""
    clock = store.get(tenant, "clock", "state")
    store.clear(tenant)
    if clock:
        store.put(tenant, "clock", "state", clock)
    for kind, key, doc in rows:
        store.put(tenant, kind, key, doc)
    store.put(tenant, META_KIND, META_KEY, {"source": source, "loaded_at": now})


def export(store: Store, tenant: str, vendors: dict[str, Vendor]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    houses = store.get(tenant, HOUSES_KIND, HOUSES_KEY)
    if houses and houses.get("houses"):
        out[HOUSES_KEY] = houses["houses"]
    for name, vendor in vendors.items():
        section: dict[str, Any] = {}
        users = [d for _, d in store.list(tenant, vendor.kind("user"))]
        by_id = {u["id"]: u["login"] for u in users}
        apps = [{**d, "owner": by_id.get(d["owner"], d["owner"])} if "owner" in d else d
                for _, d in store.list(tenant, vendor.kind("client"))]
        if apps:
            section["apps"] = apps
        rules = store.get(tenant, RULES_KIND, name)
        if rules:
            section["quotas"] = rules
        per_user, rest = vendor.world.export(store, tenant, users)
        if users:
            section["users"] = [{**_user_entry(u), **per_user.get(u["id"], {})}
                                for u in users]
        section.update(rest)
        if section:
            out[name] = section
    return out


def _user_entry(doc: dict[str, Any]) -> dict[str, Any]:
    """A stored user as a world file writes it (no field that only repeats another)."""
    entry = {"email": doc["email"]} if doc.get("email") == doc["login"] \
        else {"login": doc["login"], **({"email": doc["email"]} if "email" in doc else {})}
    entry.update(password=doc["password"], name=doc["name"])
    if doc["id"] != doc["login"]:
        entry["id"] = doc["id"]
    return entry
