"""Netatmo weather stations and Home Coaches: world entries, bodies and measures.

Pure functions (no Flask, no store, no clock): the caller passes the stored documents,
the instant ``now`` and the world ``seed``.

World file (per Netatmo user)::

    stations:
      - id: "70:ee:50:22:a3:00"          # MAC of the NAMain (default: derived)
        station_name: Home               # default "Station <n>"
        module_name: Indoor              # default "Indoor"
        home_name: Home                  # default: station_name (lnetatmo reads it)
        place: {city: Lyon, country: FR, timezone: Europe/Paris,
                lat: 45.76, lon: 4.83, altitude: 170}     # default: Paris
        date_setup: 2019-01-01           # epoch seconds, ISO date or date-time (UTC)
        firmware: 181
        wifi_status: 56
        reachable: true                  # false: offline since last_seen (or always)
        last_seen: 1700000000            # with reachable: false, when it went quiet
        co2_calibrating: false
        favorite: false                  # someone else's station this user follows
        modules:                         # default: one NAModule1 "Outdoor"
          - {id: "02:00:00:22:a3:01", type: NAModule1, module_name: Outdoor}
          - {id: "06:00:00:22:a3:02", type: NAModule2, module_name: Wind}
          - {id: "05:00:00:22:a3:03", type: NAModule3, module_name: Rain}
          - {id: "03:00:00:22:a3:04", type: NAModule4, module_name: Bedroom,
             date_setup: 2020-03-01, firmware: 51, rf_status: 70, reachable: true,
             battery_installed: 2023-10-01, battery_lifetime_days: 730}
        state: {}                        # admin overrides, below
    homecoaches:
      - id: "70:ee:50:22:b1:00"
        station_name: Bedroom
        place: {...}                     # same keys and defaults as a station's
        date_setup: 2019-06-01
        firmware: 61
        wifi_status: 48
        reachable: true

Overrides (``doc["state"]``, laid on by the caller from the admin API's device
overrides): a map from a device or module id to one override state, or to a timeline
of them. Each entry is the *whole* override state in force from its ``since`` (epoch
seconds; ``at`` is an alias; default: always) until the next entry's, so a measure of
the past never changes because of something done later; a key an entry lacks is back
to what the world says::

    state:
      "02:00:00:22:a3:01":
        - {since: 1700000000, reachable: false}
        - {since: 1700003600, battery_percent: 4, weather: {temperature: 35, rain: 2.5}}

Keys: ``reachable`` (``online`` is an alias), ``battery_percent`` (0..100),
``weather`` (the ``adjust`` of :func:`emulator.physics.weather.outdoor`: absolute
values, ``<field>_offset`` offsets; ``null`` values are dropped); ``window_open`` is
accepted and ignored (no window here). ``weather`` on a station's own id applies to
all its modules (a module's own entry wins key by key). An unreachable station takes
its modules with it. Unreachable devices and modules have no ``dashboard_data`` and
no measures while they are off.

The numbers:

- Each sensor reads on its own 5-minute grid (a seeded phase), the native step of
  ``getmeasure`` ``scale=max``; the dashboard shows the last grid reading, with the
  same rounding, so a measure at ``time_utc`` equals the dashboard.
- Outdoor values come from the physics weather at the station's place with the world
  seed (one weather for every device at a place); indoor ones from
  :mod:`emulator.physics.indoor` with a per-device seed.
- Day minimum/maximum: over the readings since local midnight (at most 288).
  Trends: against the reading three hours before; ``up``/``down`` beyond 0.3 °C or
  1 hPa (INFERRED thresholds). ``Rain``: mm in the last 5 minutes; ``sum_rain_1``: the
  last hour; ``sum_rain_24``: since local midnight (INFERRED, as the Netatmo app's "today").
- ``getmeasure`` (:func:`measure`): ``max`` returns the native readings. Coarser
  scales aggregate buckets: 30min and 1hour aligned on UTC, 3hours/1day/1week/1month on
  the station's local calendar (weeks from Monday). A bucket's plain values are means
  (angles: circular mean; rain: sum), ``min_*/max_*/date_*`` its extremes. Buckets
  longer than 4 hours sample every k-th reading so that no bucket reads more than 48
  (1day: every 30 minutes; 1week: every 3.5 hours; 1month: every 15.5 hours), which
  bounds a call at 1024 x 48 readings; so a long bucket's min/max may miss a short
  extreme. Rain sums are exact.
  Time stamps: with ``real_time=false`` (the default) a bucket is stamped at its
  middle (start + scale/2), with ``real_time=true`` at its start, as Netatmo's
  reference says of ``real_time`` (INFERRED for the month, stamped at half its length).

The numbers are computed as numpy series (:func:`readings` over an array of instants,
the buckets of a measure as one array of readings reduced per row), equal element by
element to the scalar :func:`reading`; ``tests/test_netatmo_stations.py`` keeps the
reading-by-reading computation as the oracle for measures and dashboards. A
``scale=max`` measure costs one series of at most 1024 instants; an aggregate one at most
1024 x 48 readings, whatever the history's length.
"""

from __future__ import annotations

import base64
import copy
import math
import re
import zlib
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from functools import cache, lru_cache
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import numpy as np

from ..core import world as core_world
from ..core.errors import MockcloudError
from ..core.memo import LRU
from ..physics import indoor
from ..physics.battery import battery
from ..physics.localtime import utc_offsets, wall_to_utc
from ..physics.weather import (
    Place,
    absolute_pressure,
    diurnal,
    diurnal_series,
    mix,
    outdoor,
    outdoor_series,
    pymax,
    pymod,
    rain_total,
    rain_total_series,
    round_series,
    smooth_noise,
    smooth_noise_series,
    unit,
    wrap24,
)

STEP = 300                      # native measure step, seconds
DAY = 86400
EPOCH_2019 = 1546300800         # default installation date (2019-01-01T00:00Z)
MAC = re.compile(r"^[0-9a-f]{2}(:[0-9a-f]{2}){5}$")
STATION_KIND, HOMECOACH_KIND = "netatmo.station", "netatmo.homecoach"
DEFAULT_PLACE = {"city": "Paris", "country": "FR", "timezone": "Europe/Paris",
                 "lat": 48.8566, "lon": 2.3522, "altitude": 35}


@dataclass(frozen=True)
class Kind:
    data_type: tuple[str, ...]
    fields: tuple[str, ...]          # the dashboard readings
    prefix: str                      # MAC prefix of generated ids
    firmware: int
    name: str                        # default module_name
    battery_days: int = 0            # 0: mains powered


KINDS: dict[str, Kind] = {
    "NAMain": Kind(("Temperature", "CO2", "Humidity", "Noise", "Pressure"),
                   ("Temperature", "CO2", "Humidity", "Noise", "Pressure", "AbsolutePressure"),
                   "70:ee:50", 181, "Indoor"),
    "NAModule1": Kind(("Temperature", "Humidity"), ("Temperature", "Humidity"),
                      "02:00:00", 50, "Outdoor", 730),
    "NAModule2": Kind(("Wind",), ("WindStrength", "WindAngle", "GustStrength", "GustAngle"),
                      "06:00:00", 25, "Wind gauge", 730),
    "NAModule3": Kind(("Rain",), ("Rain",), "05:00:00", 12, "Rain gauge", 730),
    "NAModule4": Kind(("Temperature", "CO2", "Humidity"), ("Temperature", "CO2", "Humidity"),
                      "03:00:00", 51, "Room", 730),
    "NHC": Kind(("Temperature", "CO2", "Humidity", "Noise", "Pressure", "health_idx"),
                ("Temperature", "CO2", "Humidity", "Noise", "Pressure", "AbsolutePressure",
                 "health_idx"), "70:ee:50", 61, "Home Coach"),
}
MODULE_TYPES = ("NAModule1", "NAModule2", "NAModule3", "NAModule4")


# ==== world entries ==========================================================
STATION_KEYS = {"id", "station_name", "module_name", "home_id", "home_name", "place",
                "date_setup", "installed", "last_upgrade", "firmware", "wifi_status",
                "reachable", "last_seen", "co2_calibrating", "favorite", "read_only",
                "modules", "state"}
HOMECOACH_KEYS = STATION_KEYS - {"modules", "favorite", "read_only", "home_id", "home_name"}
MODULE_KEYS = {"id", "type", "module_name", "date_setup", "installed", "firmware",
               "rf_status", "reachable", "last_seen", "battery_installed",
               "battery_lifetime_days"}
PLACE_KEYS = {"city", "country", "timezone", "lat", "lon", "altitude", "street"}
OVERRIDE_KEYS = {"since", "at", "reachable", "online", "battery_percent", "weather",
                 "window_open"}
ALIASES = {"at": "since", "online": "reachable"}


def _epoch(where: str, value: Any) -> int:
    """Epoch seconds from an int, a float, an ISO string or a YAML date (UTC)."""
    if isinstance(value, bool):
        raise ValueError(f"{where}: must be a date (epoch seconds or ISO 8601), not {value!r}")
    if isinstance(value, int | float) and math.isfinite(value) and value >= 0:
        return int(value)
    if isinstance(value, str):
        try:
            value = datetime.fromisoformat(value.replace("Z", "+00:00"))
        except ValueError:
            raise ValueError(f"{where}: {value!r} is not an ISO 8601 date") from None
    if isinstance(value, datetime):
        if value.tzinfo is None:
            value = value.replace(tzinfo=UTC)
        return int(value.timestamp())
    if isinstance(value, date):
        return int(datetime(value.year, value.month, value.day, tzinfo=UTC).timestamp())
    raise ValueError(f"{where}: must be a date (epoch seconds or ISO 8601), not {value!r}")


def _num(where: str, value: Any, lo: float, hi: float) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
        raise ValueError(f"{where}: must be a number, not {value!r}")
    if not lo <= value <= hi:
        raise ValueError(f"{where}: {value} is out of range {lo}..{hi}")
    return value


def _int(where: str, value: Any, lo: int, hi: int) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise ValueError(f"{where}: must be an integer, not {value!r}")
    return int(_num(where, value, lo, hi))


def _str(where: str, value: Any) -> str:
    if not isinstance(value, str) or not value.strip():
        raise ValueError(f"{where}: must be a non-empty string, not {value!r}")
    return value


def _bool(where: str, value: Any) -> bool:
    if not isinstance(value, bool):
        raise ValueError(f"{where}: must be true or false, not {value!r}")
    return value


def _keys(where: str, raw: Any, known: set[str]) -> dict[str, Any]:
    if not isinstance(raw, dict):
        raise ValueError(f"{where}: must be a mapping, not {type(raw).__name__}")
    unknown = sorted(str(k) for k in raw if k not in known)
    if unknown:
        raise ValueError(f"{where}: unknown key(s) {', '.join(unknown)}; "
                         f"known: {', '.join(sorted(known))}")
    return raw


def _mac(where: str, value: Any) -> str:
    v = _str(where, value).lower()
    if not MAC.match(v):
        raise ValueError(f"{where}: {value!r} is not a MAC address like 70:ee:50:22:a3:00")
    return v


def _derived_mac(prefix: str, *parts: Any) -> str:
    h = zlib.crc32(repr(parts).encode()) & 0xFFFFFF
    return f"{prefix}:{h >> 16:02x}:{(h >> 8) & 0xff:02x}:{h & 0xff:02x}"


@cache
def _zone(name: str) -> ZoneInfo:
    return ZoneInfo(name)


def _place(where: str, raw: Any) -> dict[str, Any]:
    if raw is None:
        return dict(DEFAULT_PLACE)
    house = core_world.place(where, raw)        # a house of the world, by its id
    if house is not None:
        raw = {k: house[k] for k in ("city", "country", "timezone", "lat", "lon",
                                     "altitude") if k in house}
    raw = _keys(where, raw, PLACE_KEYS)
    p = {**DEFAULT_PLACE, **raw}
    p["lat"] = _num(f"{where}.lat", p["lat"], -90, 90)
    p["lon"] = _num(f"{where}.lon", p["lon"], -180, 180)
    p["altitude"] = _num(f"{where}.altitude", p["altitude"], -500, 9000)
    for k in ("city", "country", "timezone") + (("street",) if "street" in p else ()):
        p[k] = _str(f"{where}.{k}", p[k])
    try:
        _zone(p["timezone"])
    except (ZoneInfoNotFoundError, ValueError):
        raise ValueError(f"{where}.timezone: unknown time zone {p['timezone']!r} "
                         "(an IANA name such as Europe/Paris)") from None
    return p


def _overrides(where: str, raw: Any) -> dict[str, list[dict[str, Any]]]:
    if raw is None:
        return {}
    if not isinstance(raw, dict):
        raise ValueError(f"{where}: must be a mapping of device/module id to overrides")
    out: dict[str, list[dict[str, Any]]] = {}
    for ident, entries in raw.items():
        w = f"{where}.{ident}"
        items = entries if isinstance(entries, list) else [entries]
        checked = []
        for j, e in enumerate(items):
            wj = f"{w}[{j}]" if isinstance(entries, list) else w
            e = {ALIASES.get(k, k): v for k, v in _keys(wj, e, OVERRIDE_KEYS).items()
                 if v is not None and k != "window_open"}
            if "since" in e:
                e["since"] = _epoch(f"{wj}.since", e["since"])
            if "reachable" in e:
                _bool(f"{wj}.reachable", e["reachable"])
            if "battery_percent" in e:
                _int(f"{wj}.battery_percent", e["battery_percent"], 0, 100)
            if "weather" in e:
                if not isinstance(e["weather"], dict):
                    raise ValueError(f"{wj}.weather: must be a mapping of adjustments")
                e["weather"] = {k: v for k, v in e["weather"].items() if v is not None}
                try:
                    outdoor(Place(0, 0), 0, 0, e["weather"])
                except (ValueError, TypeError, AttributeError) as exc:
                    raise ValueError(f"{wj}.weather: {exc}") from None
            checked.append(e)
        out[_mac(w, ident)] = sorted(checked, key=lambda e: e.get("since", -1))
    return out


def _common(where: str, raw: dict[str, Any], kind: str, owner: str, n: int,
            ) -> dict[str, Any]:
    k = KINDS[kind]
    ident = _mac(f"{where}.id", raw["id"]) if "id" in raw \
        else _derived_mac(k.prefix, owner, kind, n)
    setup = _epoch(f"{where}.date_setup", raw.get("date_setup", raw.get("installed",
                                                                       EPOCH_2019)))
    doc: dict[str, Any] = {
        "id": ident,
        "type": kind,
        "station_name": _str(f"{where}.station_name", raw.get(
            "station_name", f"{'Station' if kind == 'NAMain' else 'Home Coach'} {n + 1}")),
        "place": _place(f"{where}.place", raw.get("place")),
        "date_setup": setup,
        "last_upgrade": _epoch(f"{where}.last_upgrade", raw.get("last_upgrade", setup)),
        "firmware": _int(f"{where}.firmware", raw.get("firmware", k.firmware), 0, 10**6),
        "wifi_status": _int(f"{where}.wifi_status",
                            raw.get("wifi_status", 40 + zlib.crc32(ident.encode()) % 40),
                            0, 255),
        "reachable": _bool(f"{where}.reachable", raw.get("reachable", True)),
        "co2_calibrating": _bool(f"{where}.co2_calibrating", raw.get("co2_calibrating", False)),
    }
    if "module_name" in raw or kind == "NAMain":
        doc["module_name"] = _str(f"{where}.module_name", raw.get("module_name", k.name))
    if "last_seen" in raw:
        doc["last_seen"] = _epoch(f"{where}.last_seen", raw["last_seen"])
    doc["state"] = _overrides(f"{where}.state", raw.get("state"))
    return doc


def _module(where: str, raw: Any, station: dict[str, Any], j: int) -> dict[str, Any]:
    raw = _keys(where, raw, MODULE_KEYS)
    kind = raw.get("type", "NAModule1")
    if kind not in MODULE_TYPES:
        raise ValueError(f"{where}.type: {kind!r} is not one of {', '.join(MODULE_TYPES)}")
    k = KINDS[kind]
    ident = _mac(f"{where}.id", raw["id"]) if "id" in raw \
        else f"{k.prefix}:{station['id'][9:14]}:{j + 1:02x}"
    setup = _epoch(f"{where}.date_setup", raw.get("date_setup", raw.get(
        "installed", station["date_setup"])))
    m: dict[str, Any] = {
        "id": ident, "type": kind,
        "module_name": _str(f"{where}.module_name", raw.get("module_name", k.name)),
        "date_setup": setup,
        "firmware": _int(f"{where}.firmware", raw.get("firmware", k.firmware), 0, 10**6),
        "rf_status": _int(f"{where}.rf_status",
                          raw.get("rf_status", 55 + zlib.crc32(ident.encode()) % 35), 0, 255),
        "reachable": _bool(f"{where}.reachable", raw.get("reachable", True)),
        "battery_lifetime_days": _num(f"{where}.battery_lifetime_days",
                                      raw.get("battery_lifetime_days", k.battery_days),
                                      1, 100000),
    }
    if "battery_installed" in raw:
        m["battery_installed"] = _epoch(f"{where}.battery_installed", raw["battery_installed"])
    if "last_seen" in raw:
        m["last_seen"] = _epoch(f"{where}.last_seen", raw["last_seen"])
    return m


def _entries(entries: Any, where: str) -> list[Any]:
    if entries is None:
        return []
    if not isinstance(entries, list):
        raise ValueError(f"{where}: must be a list, not {type(entries).__name__}")
    return entries


def _unique(seen: dict[str, str], ident: str, where: str) -> None:
    if ident in seen:
        raise ValueError(f"{where}: id {ident} is already used by {seen[ident]}")
    seen[ident] = where


def build_stations(entries: list, owner: str, where: str, seed: int
                   ) -> list[tuple[str, str, dict]]:
    """Rows ("netatmo.station", id, doc) for a user's ``stations:`` list."""
    rows, seen = [], {}
    for i, raw in enumerate(_entries(entries, where)):
        w = f"{where}[{i}]"
        raw = _keys(w, raw, STATION_KEYS)
        doc = _common(w, raw, "NAMain", owner, i)
        _unique(seen, doc["id"], w)
        doc["owner"] = owner
        home = f"{mix(seed, zlib.crc32(doc['id'].encode())):016x}{zlib.crc32(w.encode()):08x}"
        doc["home_id"] = _str(f"{w}.home_id", raw.get("home_id", home))
        doc["home_name"] = _str(f"{w}.home_name", raw.get("home_name", doc["station_name"]))
        doc["favorite"] = _bool(f"{w}.favorite", raw.get("favorite", False))
        doc["read_only"] = _bool(f"{w}.read_only", raw.get("read_only", doc["favorite"]))
        mods = raw.get("modules")
        mods = [{"type": "NAModule1"}] if mods is None else _entries(mods, f"{w}.modules")
        doc["modules"] = []
        for j, m in enumerate(mods):
            mod = _module(f"{w}.modules[{j}]", m, doc, j)
            _unique(seen, mod["id"], f"{w}.modules[{j}]")
            doc["modules"].append(mod)
        known = {doc["id"], *(m["id"] for m in doc["modules"])}
        for ident in doc["state"]:
            if ident not in known:
                raise ValueError(f"{w}.state: {ident} is neither the station nor one of its "
                                 "modules")
        rows.append((STATION_KIND, doc["id"], doc))
    return rows


def build_homecoaches(entries: list, owner: str, where: str, seed: int
                      ) -> list[tuple[str, str, dict]]:
    """Rows ("netatmo.homecoach", id, doc) for a user's ``homecoaches:`` list."""
    rows, seen = [], {}
    for i, raw in enumerate(_entries(entries, where)):
        w = f"{where}[{i}]"
        doc = _common(w, _keys(w, raw, HOMECOACH_KEYS), "NHC", owner, i)
        _unique(seen, doc["id"], w)
        doc["owner"] = owner
        for ident in doc["state"]:
            if ident != doc["id"]:
                raise ValueError(f"{w}.state: {ident} is not this Home Coach's id")
        rows.append((HOMECOACH_KIND, doc["id"], doc))
    return rows


def _export(doc: dict[str, Any]) -> dict[str, Any]:
    out = {k: copy.deepcopy(v) for k, v in doc.items() if k not in ("owner", "type")}
    if not out.get("state"):
        out.pop("state", None)
    return out


def export_station(doc: dict) -> dict:
    """The world-file entry of a stored station (builds back to the same document)."""
    return _export(doc)


def export_homecoach(doc: dict) -> dict:
    """The world-file entry of a stored Home Coach."""
    return _export(doc)


# ---- generation --------------------------------------------------------------------------------
ROOMS = ["Bedroom", "Kitchen", "Office", "Kids room", "Cellar", "Living room"]


def _generated_place(fake: Any, rng: Any) -> dict[str, Any]:
    lat, lon, city, country, tz = fake.location_on_land()
    return {"city": city, "country": country, "timezone": tz,
            "lat": round(float(lat) + rng.uniform(-0.02, 0.02), 5),
            "lon": round(float(lon) + rng.uniform(-0.02, 0.02), 5),
            "altitude": rng.randrange(0, 600)}


def _mac_for(prefix: str, index: int, n: int) -> str:
    return f"{prefix}:{(index >> 8) & 0xff:02x}:{index & 0xff:02x}:{n & 0xff:02x}"


def generate_stations(fake: Any, rng: Any, index: int) -> list[dict]:
    """One station (rarely none) with an outdoor module and maybe wind, rain, rooms."""
    if rng.random() < 0.15:
        return []
    place = _generated_place(fake, rng)
    setup = EPOCH_2019 + rng.randrange(0, 3 * 365) * DAY
    modules = [{"id": _mac_for("02:00:00", index, 1), "type": "NAModule1",
                "module_name": "Outdoor"}]
    if rng.random() < 0.4:
        modules.append({"id": _mac_for("05:00:00", index, 2), "type": "NAModule3",
                        "module_name": "Rain gauge"})
    if rng.random() < 0.25:
        modules.append({"id": _mac_for("06:00:00", index, 3), "type": "NAModule2",
                        "module_name": "Wind gauge"})
    for n, room in enumerate(rng.sample(ROOMS, rng.randrange(0, 3)), start=4):
        modules.append({"id": _mac_for("03:00:00", index, n), "type": "NAModule4",
                        "module_name": room})
    name = f"{fake.last_name()} {rng.choice(['home', 'house', 'flat', 'cottage'])}"
    return [{"id": _mac_for("70:ee:50", index, 0), "station_name": name,
             "module_name": "Indoor", "place": place, "date_setup": setup,
             "firmware": rng.choice([178, 181, 183]), "wifi_status": rng.randrange(30, 90),
             "modules": modules}]


def generate_homecoaches(fake: Any, rng: Any, index: int) -> list[dict]:
    """Zero to two Home Coaches in the user's rooms."""
    n = rng.choices([0, 1, 2], weights=[6, 3, 1])[0]
    if not n:
        return []
    place = _generated_place(fake, rng)
    return [{"id": _mac_for("70:ee:50", index, 0x80 + i), "station_name": room,
             "place": place, "date_setup": EPOCH_2019 + rng.randrange(0, 3 * 365) * DAY,
             "firmware": rng.choice([45, 61]), "wifi_status": rng.randrange(30, 90)}
            for i, room in enumerate(rng.sample(ROOMS, n))]


# ==== sensors ==========================================================
@dataclass(frozen=True)
class Sensor:
    """One thing that reads: a NAMain, a module or a Home Coach, with what it needs."""

    kind: str
    id: str
    place: Place
    tz: ZoneInfo
    seed: int                       # the world seed (weather)
    dseed: int                      # the device's own seed (indoor air, phase)
    installed: int
    phase: int
    events: tuple[tuple[float, bool], ...]        # (from, reachable), in time order
    weather: tuple[tuple[float, Mapping[str, float]], ...] = field(default=())

    def grid_floor(self, t: float) -> int:
        return int((t - self.phase) // STEP) * STEP + self.phase

    def grid_ceil(self, t: float) -> int:
        return -int((self.phase - t) // STEP) * STEP + self.phase

    def reachable(self, t: float) -> bool:
        ok = True
        for since, value in self.events:
            if since > t:
                break
            ok = value
        return ok

    def available(self, t: float) -> bool:
        return t >= self.installed and self.reachable(t)

    def adjust(self, t: float) -> Mapping[str, float] | None:
        adj: Mapping[str, float] | None = None
        for since, value in self.weather:
            if since > t:
                break
            adj = value
        return adj

    def intervals(self, a: float, b: float) -> list[tuple[float, float]]:
        """The spans of [a, b] in which the sensor reads."""
        a = max(a, self.installed)
        out: list[tuple[float, float]] = []
        start = a if self.reachable(a) else None
        for since, value in self.events:
            if since <= a or since > b:
                continue
            if value and start is None:
                start = since
            elif not value and start is not None:
                out.append((start, since - 1e-6))
                start = None
        if start is not None and start <= b:
            out.append((start, b))
        return out

    def last_reading(self, now: float) -> int | None:
        """The latest grid instant <= now with a reading, or None."""
        spans = self.intervals(self.installed, now)
        for lo, hi in reversed(spans):
            t = self.grid_floor(hi)
            if t >= lo:
                return t
        return None

    def utc_offset(self, t: float) -> int:
        off = datetime.fromtimestamp(t, self.tz).utcoffset()
        return int(off.total_seconds()) if off else 0

    def local_midnight(self, t: float) -> int:
        d = datetime.fromtimestamp(t, self.tz)
        return int(d.replace(hour=0, minute=0, second=0, microsecond=0).timestamp())


def _snapshot(entries: list[dict[str, Any]], t: float) -> dict[str, Any]:
    """The override state in force at t (entries sorted by since)."""
    snap: dict[str, Any] = {}
    for e in entries:
        if e.get("since", -math.inf) > t:
            break
        snap = e
    return snap


def _reachable(doc: dict[str, Any], entries: list[dict[str, Any]], t: float) -> bool:
    snap = _snapshot(entries, t)
    if "reachable" in snap:
        return bool(snap["reachable"])
    return doc.get("reachable", True) or t < doc.get("last_seen", -math.inf)


def _changes(*parts: tuple[dict[str, Any], list[dict[str, Any]]]) -> list[float]:
    """Every instant at which an override state or a world reachability changes."""
    out = {-math.inf}
    for doc, entries in parts:
        out.update(float(e.get("since", -math.inf)) for e in entries)
        if not doc.get("reachable", True) and "last_seen" in doc:
            out.add(float(doc["last_seen"]))
    return sorted(out)


def _timelines(parts: list[tuple[dict[str, Any], list[dict[str, Any]]]]
               ) -> tuple[tuple[tuple[float, bool], ...], tuple[tuple[float, Any], ...]]:
    """(reachability events, weather-adjust events) of a sensor whose readings pass
    through every (doc, override entries) part (the station, then the module)."""
    instants = _changes(*parts)
    reach = tuple((x, all(_reachable(d, e, x) for d, e in parts)) for x in instants)
    weather: list[tuple[float, Any]] = []
    if any("weather" in e for _, es in parts for e in es):
        for x in instants:
            adj: dict[str, float] = {}
            for _, es in parts:
                adj.update(_snapshot(es, x).get("weather") or {})
            weather.append((x, adj or None))
    return reach, tuple(weather)


def _place_of(doc: dict[str, Any]) -> Place:
    p = doc["place"]
    return Place(lat=p["lat"], lon=p["lon"], altitude=p.get("altitude", 0),
                 timezone=p.get("timezone", "UTC"))


def _dseed(seed: int, ident: str) -> int:
    return mix(seed, zlib.crc32(ident.encode()))


def sensors(doc: dict[str, Any], seed: int, only: str | None = None) -> dict[str, Sensor]:
    """Every sensor of a station or Home Coach document, by id (the device first);
    with ``only``, just that one (if it is the device's or a module's id)."""
    state = doc.get("state") or {}
    place, tz = _place_of(doc), _zone(doc["place"].get("timezone", "UTC"))
    own = (doc, _entries_of(state, doc["id"]))

    def make(m: dict[str, Any], parts: list) -> Sensor:
        ds = _dseed(seed, m["id"])
        reach, weather = _timelines(parts)
        return Sensor(kind=m["type"], id=m["id"], place=place, tz=tz, seed=seed, dseed=ds,
                      installed=m["date_setup"], phase=ds % STEP, events=reach,
                      weather=weather)
    out = {doc["id"]: make(doc, [own])} if only in (None, doc["id"]) else {}
    for m in doc.get("modules", []):
        if only in (None, m["id"]):
            out[m["id"]] = make(m, [own, (m, _entries_of(state, m["id"]))])
    return out


def _entries_of(state: Mapping[str, Any], ident: str) -> list[dict[str, Any]]:
    """The override timeline of one id (a single state is in force always)."""
    raw = state.get(ident) or []
    items = raw if isinstance(raw, list) else [raw]
    return sorted(items, key=lambda e: e.get("since", -math.inf))


# ---- readings ------------------------------------------------------------------------------------
def _indoor_temperature(s: Sensor, t: float, out_temp: float, offset_s: int) -> float:
    hour = ((t + offset_s) / 3600.0) % 24.0
    return (19.6 + (unit(s.dseed, 201) - 0.5) * 2.0 + 0.35 * max(0.0, out_temp - 18.0)
            + 0.7 * diurnal((hour - 4.0) % 24.0) + 0.5 * smooth_noise(s.dseed, 202, t, 3 * 3600.0))


def reading(s: Sensor, t: float) -> dict[str, float]:
    """The dashboard values of a sensor at instant t, rounded as Netatmo shows them.

    The scalar reference of :func:`readings` (which the API uses)."""
    adj = s.adjust(t)
    if s.kind == "NAModule3":
        return {"Rain": round(rain_total(s.place, s.seed, t - STEP, t, adj), 3)}
    w = outdoor(s.place, s.seed, t, adj)
    if s.kind == "NAModule1":
        return {"Temperature": round(w.temperature, 1), "Humidity": int(round(w.humidity))}
    if s.kind == "NAModule2":
        return {"WindStrength": int(round(w.wind_strength)), "WindAngle": w.wind_angle,
                "GustStrength": int(round(w.gust_strength)), "GustAngle": w.gust_angle}
    off = s.utc_offset(t)
    a = indoor.air(s.dseed, t, off)
    temp = round(_indoor_temperature(s, t, w.temperature, off), 1)
    r: dict[str, float] = {"Temperature": temp, "CO2": a.co2, "Humidity": a.humidity}
    if s.kind == "NAModule4":
        return r
    r["Noise"] = a.noise
    r["Pressure"] = round(w.pressure, 1)
    r["AbsolutePressure"] = round(absolute_pressure(w.pressure, s.place.altitude), 1)
    if s.kind == "NHC":
        r["health_idx"] = indoor.health_idx(temp, a.humidity, a.co2)
    return r


_OUTDOOR = {"Temperature": "temperature", "Humidity": "humidity",
            "WindStrength": "wind_strength", "WindAngle": "wind_angle",
            "GustStrength": "gust_strength", "GustAngle": "gust_angle"}
_AIR = {"CO2": "co2", "Humidity": "humidity", "Noise": "noise"}
_DECIMAL = {"Temperature", "Pressure", "AbsolutePressure", "Rain"}


def readings(s: Sensor, times: Any, fields: Iterable[str] | None = None
             ) -> dict[str, np.ndarray]:
    """:func:`reading` at every instant of ``times`` (integers), only ``fields`` (default:
    all the sensor's), in the sensor's field order: float64 for the values shown with
    decimals, int64 for the others. Equal to :func:`reading` element by element."""
    t = np.asarray(times, dtype=np.int64)
    want = KINDS[s.kind].fields if fields is None else \
        tuple(f for f in KINDS[s.kind].fields if f in set(fields))
    if t.size == 0:
        return {f: np.zeros(0, dtype=np.float64 if f in _DECIMAL else np.int64) for f in want}
    if not s.weather:
        return _readings(s, t, want, None)
    since = np.array([x for x, _ in s.weather])
    regime = np.searchsorted(since, t, side="right") - 1
    first = int(regime.min()) if t.size else 0
    if t.size == 0 or first == int(regime.max()):
        return _readings(s, t, want, s.weather[first][1] if first >= 0 else None)
    out: dict[str, np.ndarray] = {}
    for r in np.unique(regime).tolist():
        sel = regime == r
        part = _readings(s, t[sel], want, s.weather[r][1] if r >= 0 else None)
        for f, v in part.items():
            if f not in out:
                out[f] = np.empty(t.shape, dtype=v.dtype)
            out[f][sel] = v
    return out


# ---- a page cache of readings on the native grid ---------------------------------------------
PAGE = 256                      # native steps a page (21 h 20 min)
# (sensor identity, page, field) -> its values at the page's grid instants: 2 KiB a
# page-field, 4096 of them (8 MiB)
_PAGES: LRU[np.ndarray] = LRU("netatmo.stations.pages", 4096)


def _sensor_key(s: Sensor) -> tuple[Any, ...]:
    """What a sensor's readings depend on (not its reachability: a reading at an
    instant is the same whether or not the sensor was reachable then)."""
    weather = tuple((x, None if adj is None else tuple(sorted(adj.items())))
                    for x, adj in s.weather)
    return (s.kind, s.id, s.seed, s.dseed, s.phase, s.place, s.tz.key, weather)


def grid_readings(s: Sensor, times: np.ndarray, fields: Iterable[str]
                  ) -> dict[str, np.ndarray]:
    """:func:`readings` at instants of the sensor's native grid (``phase + k * STEP``),
    from pages of ``PAGE`` grid steps computed once and remembered (``_PAGES``): a
    window asked again, or overlapping one asked before, reads them back. The same
    values (each reading is a pure function of the sensor and its instant)."""
    t = np.asarray(times, dtype=np.int64)
    want = tuple(f for f in KINDS[s.kind].fields if f in set(fields))
    k = (t - s.phase) // STEP
    if t.size == 0 or not want or bool(np.any(k * STEP + s.phase != t)):
        return readings(s, t, want)
    page, idx = k // PAGE, k % PAGE
    skey = _sensor_key(s)
    first, last = int(page[0]), int(page[-1])
    pages = list(range(first, last + 1)) if last - first < 64 else \
        np.unique(page).tolist()
    got: dict[tuple[int, str], np.ndarray] = {}
    missing: list[int] = []
    for p in pages:
        for f in want:
            v = _PAGES.get((skey, p, f))
            if v is None:
                missing.append(p)
                break
            got[p, f] = v
    if missing:
        inst = (np.asarray(missing, dtype=np.int64)[:, None] * PAGE
                + np.arange(PAGE, dtype=np.int64)) * STEP + s.phase
        fresh = readings(s, inst.ravel(), want)
        for i, p in enumerate(missing):
            for f in want:
                v = fresh[f][i * PAGE:(i + 1) * PAGE].copy()
                v.flags.writeable = False
                got[p, f] = _PAGES.put((skey, p, f), v)
    out: dict[str, np.ndarray] = {}
    if len(pages) == 1:
        for f in want:
            out[f] = got[pages[0], f][idx]
        return out
    if last - first + 1 == len(pages):               # contiguous: one flat gather
        flat = idx + (page - first) * PAGE
        for f in want:
            out[f] = np.concatenate([got[p, f] for p in pages])[flat]
        return out
    for f in want:
        col = np.empty(t.shape, dtype=got[pages[0], f].dtype)
        for p in pages:
            sel = page == p
            col[sel] = got[p, f][idx[sel]]
        out[f] = col
    return out


def _readings(s: Sensor, t: np.ndarray, want: tuple[str, ...],
              adj: Mapping[str, float] | None) -> dict[str, np.ndarray]:
    tf = t.astype(np.float64)
    if s.kind == "NAModule3":
        return {"Rain": round_series(rain_total_series(s.place, s.seed, tf - STEP, tf, adj),
                                     3)} if want else {}
    if s.kind in ("NAModule1", "NAModule2"):
        w = outdoor_series(s.place, s.seed, tf, [_OUTDOOR[f] for f in want], adj)
        return {f: round_series(w[_OUTDOOR[f]], 1) if f == "Temperature"
                else w[_OUTDOOR[f]] if f in ("WindAngle", "GustAngle")
                else round_series(w[_OUTDOOR[f]]) for f in want}
    # indoor: the air, and a temperature that follows the outdoor one a little
    need = ["temperature"] if "Temperature" in want or "health_idx" in want else []
    if "Pressure" in want or "AbsolutePressure" in want:
        need.append("pressure")
    w = outdoor_series(s.place, s.seed, tf, need, adj) if need else {}
    off = utc_offsets(s.tz, t)
    gases = {_AIR[f] for f in want if f in _AIR} | \
        ({"co2", "humidity"} if "health_idx" in want else set())
    a = indoor.air_series(s.dseed, tf, off, tuple(gases)) if gases else {}
    temp = None
    if need[:1] == ["temperature"]:
        hour = pymod((tf + off) / 3600.0, 24.0)
        temp = round_series(
            19.6 + (unit(s.dseed, 201) - 0.5) * 2.0 + 0.35 * pymax(0.0, w["temperature"] - 18.0)
            + 0.7 * diurnal_series(wrap24(hour - 4.0))
            + 0.5 * smooth_noise_series(s.dseed, 202, tf, 3 * 3600.0), 1)
    out: dict[str, np.ndarray] = {}
    factor = (1.0 - 2.25577e-5 * s.place.altitude) ** 5.25588   # absolute_pressure's
    for f in want:
        if f == "Temperature":
            out[f] = temp
        elif f in _AIR:
            out[f] = a[_AIR[f]]
        elif f == "Pressure":
            out[f] = round_series(w["pressure"], 1)
        elif f == "AbsolutePressure":
            out[f] = round_series(w["pressure"] * factor, 1)
        elif f == "health_idx":
            out[f] = indoor.health_idx_series(temp, a["humidity"], a["co2"])
    return out


def _grid(s: Sensor, a: float, b: float, limit: int | None = None) -> np.ndarray:
    """The grid instants in [a, b] at which the sensor reads, at most ``limit`` of them."""
    parts: list[np.ndarray] = []
    left = math.inf if limit is None else limit
    for lo, hi in s.intervals(a, b):
        if left <= 0:
            break
        t = s.grid_ceil(lo)
        if t > hi:
            continue
        n = int(min(left, (hi - t) // STEP + 1))
        parts.append(t + STEP * np.arange(n, dtype=np.int64))
        left -= n
    if not parts:
        return np.zeros(0, dtype=np.int64)
    return parts[0] if len(parts) == 1 else np.concatenate(parts)


def _available(s: Sensor, t: np.ndarray) -> np.ndarray:
    """:meth:`Sensor.available` element-wise."""
    since = np.array([x for x, _ in s.events])
    value = np.array([True] + [v for _, v in s.events])
    return value[np.searchsorted(since, t, side="right")] & (t >= s.installed)


def _trend(now_v: float, before: float | None, threshold: float) -> str:
    if before is None or abs(now_v - before) < threshold:
        return "stable"
    return "up" if now_v > before else "down"


def dashboard(s: Sensor, ts: int) -> dict[str, Any]:
    """dashboard_data of a sensor whose last reading is at ts."""
    fields = KINDS[s.kind].fields
    midnight = s.local_midnight(ts)
    has_temp = "Temperature" in fields
    wants_old = (has_temp and s.kind != "NHC") or s.kind == "NAMain"
    earlier = ts - 3 * 3600
    old_ok = wants_old and s.available(earlier)
    # the readings since local midnight (for min/max; ts is the last of them) and the
    # one three hours back (for trends), in one series
    times = _grid(s, midnight, ts) if has_temp or s.kind == "NAModule2" \
        else np.array([ts], dtype=np.int64)
    i_old = None
    if old_ok:
        i_old = int(np.searchsorted(times, earlier))
        if i_old >= times.size or times[i_old] != earlier:
            times = np.insert(times, i_old, earlier)
    series = readings(s, times)
    last = times.size - 1
    r = {f: v[last].item() for f, v in series.items()}
    d: dict[str, Any] = {"time_utc": ts, **r}
    day = slice(1 if i_old == 0 and earlier < midnight else 0, None)
    if has_temp:
        temp, when = series["Temperature"][day], times[day]
        lo, hi = int(np.argmin(temp)), int(np.argmax(temp))
        d.update(min_temp=temp[lo].item(), max_temp=temp[hi].item(),
                 date_min_temp=int(when[lo]), date_max_temp=int(when[hi]))
    old = {f: v[i_old].item() for f, v in series.items()} if i_old is not None else None
    if has_temp and s.kind != "NHC":
        d["temp_trend"] = _trend(r["Temperature"], old and old["Temperature"], 0.3)
    if "Pressure" in r and s.kind == "NAMain":
        d["pressure_trend"] = _trend(r["Pressure"], old and old["Pressure"], 1.0)
    if s.kind == "NAModule2":
        wind = series["WindStrength"][day]
        i = int(np.argmax(wind))
        d.update(max_wind_str=wind[i].item(), max_wind_angle=series["WindAngle"][day][i].item(),
                 date_max_wind_str=int(times[day][i]))
    if s.kind == "NAModule3":
        d["sum_rain_1"] = round(_rain_between(s, ts - 3600, ts), 3)
        d["sum_rain_24"] = round(_rain_between(s, midnight, ts), 3)
    return d


def _rain_between(s: Sensor, a: float, b: float) -> float:
    """Rain recorded in [a, b] (only while the gauge reads; adjustments honoured)."""
    total = 0.0
    for lo, hi in s.intervals(a, b):
        cuts = [lo] + [x for x, _ in s.weather if lo < x < hi] + [hi]
        for x, y in zip(cuts, cuts[1:], strict=False):
            total += rain_total(s.place, s.seed, x, y, s.adjust(x))
    return total


# ==== getstationsdata / gethomecoachsdata ==========================================
def _cipher(ident: str) -> str:
    raw = b"".join(mix(zlib.crc32(ident.encode()), i).to_bytes(8, "big") for i in range(6))
    return "enc:16:" + base64.b64encode(raw).decode()


def _place_out(p: dict[str, Any]) -> dict[str, Any]:
    out = {"altitude": p["altitude"], "city": p["city"], "country": p["country"],
           "timezone": p["timezone"], "location": [p["lon"], p["lat"]]}
    if "street" in p:
        out["street"] = p["street"]
    return out


def _battery_fields(m: dict[str, Any], entries: list[dict[str, Any]], now: float,
                    seed: int) -> dict[str, int]:
    pct = _snapshot(entries, now).get("battery_percent")
    life = m["battery_lifetime_days"] * DAY
    installed = m.get("battery_installed")
    if installed is None:
        # no date given: the owner changes the cells every 0.8 lifetime (battery()
        # spreads lifetimes by +-15 %, so at least 6 % is left when they are changed)
        cycle = 0.8 * life
        installed = m["date_setup"] + max(0.0, (now - m["date_setup"]) // cycle) * cycle
    b = battery(installed, now, life, _dseed(seed, m["id"]), 6000, 3600, percent=pct)
    return {"battery_vp": b.vp, "battery_percent": b.percent}


def _device_out(doc: dict[str, Any], s: Sensor, now: float) -> dict[str, Any]:
    last = s.last_reading(now)
    reachable = s.available(now) and last is not None
    seen = last if last is not None else doc["date_setup"]
    dev: dict[str, Any] = {
        "_id": doc["id"], "cipher_id": _cipher(doc["id"]), "date_setup": doc["date_setup"],
        "last_setup": doc["date_setup"], "type": doc["type"],
        "last_status_store": int(min(now, seen + 8)) if reachable else seen,
    }
    if "module_name" in doc:
        dev["module_name"] = doc["module_name"]
    dev.update(firmware=doc["firmware"], last_upgrade=doc["last_upgrade"],
               wifi_status=doc["wifi_status"], reachable=reachable,
               co2_calibrating=doc["co2_calibrating"], station_name=doc["station_name"],
               data_type=list(KINDS[doc["type"]].data_type), place=_place_out(doc["place"]))
    if reachable and last is not None:
        dev["dashboard_data"] = dashboard(s, last)
    return dev


def _user_out(user: dict[str, Any], docs: list[dict[str, Any]]) -> dict[str, Any]:
    country = docs[0]["place"]["country"] if docs else "FR"
    admin = {"lang": "en-US", "reg_locale": "en-US", "country": country, "unit": 0,
             "windunit": 0, "pressureunit": 0, "feel_like_algo": 0}
    admin.update(user.get("administrative") or {})
    mail = user.get("mail") or user.get("login") or user.get("email") or ""
    return {"mail": mail, "administrative": admin}


def _select(docs: list[dict[str, Any]], device_id: str | None, what: str
            ) -> list[dict[str, Any]]:
    if device_id is None:
        return docs
    wanted = device_id.replace(" ", "").lower()
    found = [d for d in docs if d["id"] == wanted]
    if not found:
        raise MockcloudError("not_found", f"device_id {device_id!r}: no such {what}")
    return found


def stations_body(docs: list[dict], user: dict, now: float, seed: int, *,
                  favorites: bool = False, device_id: str | None = None) -> dict:
    """The getstationsdata body for a user's station documents."""
    chosen = _select(docs, device_id, "weather station")
    if device_id is None and not favorites:
        chosen = [d for d in chosen if not d.get("favorite")]
    devices = []
    for doc in chosen:
        ss = sensors(doc, seed)
        dev = _device_out(doc, ss[doc["id"]], now)
        if doc.get("home_id"):
            dev["home_id"] = doc["home_id"]
        if doc.get("home_name"):
            dev["home_name"] = doc["home_name"]
        if doc.get("favorite"):
            dev.pop("wifi_status", None)
            dev["favorite"] = True
        if doc.get("read_only"):
            dev["read_only"] = True
        dev["modules"] = [_module_out(doc, m, ss[m["id"]], now, seed) for m in doc["modules"]]
        devices.append(dev)
    return {"devices": devices, "user": _user_out(user, docs)}


def _module_out(doc: dict[str, Any], m: dict[str, Any], s: Sensor, now: float,
                seed: int) -> dict[str, Any]:
    last = s.last_reading(now)
    reachable = s.available(now) and last is not None
    seen = last if last is not None else m["date_setup"]
    out: dict[str, Any] = {"_id": m["id"], "type": m["type"], "module_name": m["module_name"],
                           "data_type": list(KINDS[m["type"]].data_type),
                           "last_setup": m["date_setup"], "reachable": reachable}
    if reachable and last is not None:
        out["dashboard_data"] = dashboard(s, last)
    entries = _entries_of(doc.get("state") or {}, m["id"])
    out.update(firmware=m["firmware"], last_message=int(min(now, seen + 8)), last_seen=seen,
               rf_status=m["rf_status"], **_battery_fields(m, entries, now, seed))
    return out


def homecoach_body(docs: list[dict], user: dict, now: float, seed: int,
                   device_id: str | None = None) -> dict:
    """The gethomecoachsdata body for a user's Home Coach documents."""
    devices = [_device_out(doc, sensors(doc, seed)[doc["id"]], now)
               for doc in _select(docs, device_id, "Home Coach")]
    return {"devices": devices, "user": _user_out(user, docs)}


# ==== getmeasure ==========================================================
SCALES = {"max": STEP, "30min": 1800, "1hour": 3600, "3hours": 10800, "1day": DAY,
          "1week": 7 * DAY, "1month": 31 * DAY}
PLAIN = {"temperature": "Temperature", "humidity": "Humidity", "co2": "CO2",
         "noise": "Noise", "pressure": "Pressure", "health_idx": "health_idx",
         "windstrength": "WindStrength", "windangle": "WindAngle",
         "guststrength": "GustStrength", "gustangle": "GustAngle", "rain": "Rain"}
SHORT = {"temp": "Temperature", "hum": "Humidity", "co2": "CO2", "noise": "Noise",
         "pressure": "Pressure"}
AGGREGATES: dict[str, tuple[str, str]] = {"sum_rain": ("sum", "Rain"),
                                          "date_max_gust": ("date_max", "GustStrength")}
for _short, _field in SHORT.items():
    for _op in ("min", "max", "date_min", "date_max"):
        AGGREGATES[f"{_op}_{_short}"] = (_op, _field)
MAX_PER_BUCKET = 48
LIMIT = 1024


def _bucket(scale: str, tz: ZoneInfo, t: float) -> tuple[int, int]:
    """[start, end) of the bucket of ``scale`` holding t."""
    size = SCALES[scale]
    if scale in ("30min", "1hour"):
        start = int(t // size) * size
        return start, start + size
    a = _local_start(scale, datetime.fromtimestamp(t, tz))
    if scale == "1month":
        b = a.replace(year=a.year + (a.month == 12), month=a.month % 12 + 1)
    else:
        b = a + timedelta(seconds=size)
    # wall-clock arithmetic, then back to instants (a DST change makes a day 23 or 25 h)
    start = int(a.replace(tzinfo=None).replace(tzinfo=tz).timestamp())
    end = int(b.replace(tzinfo=None).replace(tzinfo=tz).timestamp())
    return start, max(end, start + 1)


_WALL_EPOCH = datetime(1970, 1, 1)
_COS = np.array([math.cos(math.radians(a)) for a in range(360)])
_SIN = np.array([math.sin(math.radians(a)) for a in range(360)])


def _boundaries(scale: str, tz: ZoneInfo, t: float, end: float, n: int) -> np.ndarray:
    """Bucket boundaries from the bucket holding t: [a0, a1, ..., ak] with every bucket
    [a_i, a_i+1) starting at or before ``end``, k <= n; the chain :func:`_bucket` makes
    (each bucket is the one holding the previous one's end), computed as a whole."""
    size = SCALES[scale]
    if scale in ("30min", "1hour"):
        a0 = int(t // size) * size
        k = int(min(n, max(0, (end - a0) // size + 1)))
        return a0 + size * np.arange(k + 1, dtype=np.int64)
    a0, b0 = _bucket(scale, tz, t)
    if a0 > end:
        return np.array([a0], dtype=np.int64)
    # later boundaries: the local calendar's, in wall-clock seconds, then to instants
    d = datetime.fromtimestamp(b0, tz)
    wall = (_local_start(scale, d).replace(tzinfo=None) - _WALL_EPOCH) // timedelta(seconds=1)
    # enough walls for n buckets of at least half the scale, and a few that a skipped day
    # may swallow (fewer buckets than n is fine: the caller asks again from the last end)
    k = int(min(n + 8, max(0, (end - b0) // (size // 2) + 2)))
    if scale == "1month":
        m = np.datetime64(wall, "s").astype("datetime64[M]")
        walls = np.arange(m, m + k + 1).astype("datetime64[s]").astype(np.int64)
    else:
        walls = wall + size * np.arange(k + 1, dtype=np.int64)
    later = wall_to_utc(tz, walls)[1:]
    # a wall time in a gap longer than a bucket maps behind later ones: keep the
    # strictly increasing sequence, as the chain does
    later = later[later > np.maximum.accumulate(np.concatenate(([b0], later[:-1])))]
    bounds = np.concatenate((np.array([a0, b0], dtype=np.int64), later))
    k = min(n, bounds.size - 1, int(np.searchsorted(bounds, end, side="right")))
    return bounds[:k + 1]


def _local_start(scale: str, d: datetime) -> datetime:
    """The start of d's 3hours/1day/1week/1month bucket, in d's wall-clock time."""
    if scale == "3hours":
        return d.replace(hour=d.hour // 3 * 3, minute=0, second=0, microsecond=0)
    if scale == "1day":
        return d.replace(hour=0, minute=0, second=0, microsecond=0)
    if scale == "1week":
        return (d - timedelta(days=d.weekday())).replace(hour=0, minute=0, second=0,
                                                         microsecond=0)
    return d.replace(day=1, hour=0, minute=0, second=0, microsecond=0)


def _seq_sum(v: np.ndarray) -> np.ndarray:
    """Row sums added left to right from 0.0, as Python 3.11's ``sum`` of floats does
    (numpy's ``sum`` is pairwise: a different last bit, and a mean that lands on a
    rounding tie may then round the other way). Padding zeros are neutral."""
    return np.cumsum(v, axis=1)[:, -1] + 0.0


def _parse_types(types: Any, kind: str, scale: str) -> list[str]:
    if isinstance(types, str):
        types = [types]
    if not types:
        raise MockcloudError("missing_argument", "type is missing: give one or more measure "
                             "types, comma-separated (e.g. temperature,humidity)")
    names = [x.strip().lower() for t in types for x in str(t).split(",") if x.strip()]
    if not names:
        raise MockcloudError("missing_argument", "type is missing")
    fields = set(KINDS[kind].fields)
    known = [n for n, f in PLAIN.items() if f in fields] + \
        [n for n, (_, f) in AGGREGATES.items() if f in fields]
    for n in names:
        if n not in known:
            raise MockcloudError("invalid_argument", f"type {n!r} is not measured by a {kind}; "
                                 f"known: {', '.join(known)}")
        if n in AGGREGATES and scale == "max":
            raise MockcloudError("invalid_argument", f"type {n!r} needs a scale of 30min or "
                                 "more (scale=max gives raw readings)")
    return names


def _number(name: str, value: Any, *, required: bool = False) -> float | None:
    if value is None or value == "":
        if required:
            raise MockcloudError("missing_argument", f"{name} is missing")
        return None
    try:
        v = float(value)
    except (TypeError, ValueError):
        raise MockcloudError("invalid_argument", f"{name} must be a number, not {value!r}"
                             ) from None
    if not math.isfinite(v) or v < 0:
        raise MockcloudError("invalid_argument", f"{name} must be a finite epoch time >= 0, "
                             f"not {value!r}")
    return v


def measure(doc: dict, module_id: str | None, scale: str, types: list[str],
            date_begin: float | None, date_end: float | None, limit: int | None,
            optimize: bool, real_time: bool, now: float, seed: int) -> Any:
    """The getmeasure body of a station, one of its modules, or a Home Coach."""
    if not scale:
        raise MockcloudError("missing_argument", "scale is missing: one of "
                             + ", ".join(SCALES))
    scale = str(scale).strip().lower()
    if scale not in SCALES:
        raise MockcloudError("invalid_argument", f"scale {scale!r} is not one of "
                             + ", ".join(SCALES))
    ident = (module_id or doc["id"]).replace(" ", "").lower()
    ss = sensors(doc, seed, ident)
    if ident not in ss:
        raise MockcloudError("not_found", f"module_id {module_id!r} is not a module of "
                             f"device {doc['id']}")
    s = ss[ident]
    names = _parse_types(types, s.kind, scale)
    if limit is None or limit == "":
        lim = LIMIT
    else:
        try:
            lim = int(limit)
        except (TypeError, ValueError):
            raise MockcloudError("invalid_argument", f"limit must be an integer, not {limit!r}"
                                 ) from None
        if not 1 <= lim <= LIMIT:
            raise MockcloudError("invalid_argument", f"limit must be 1..{LIMIT}, not {lim}")
    end = _number("date_end", date_end)
    end = now if end is None else min(end, now)
    begin = _number("date_begin", date_begin)
    if begin is None:
        begin = end - lim * SCALES[scale]
    elif date_end is not None and begin > float(date_end):
        raise MockcloudError("invalid_argument", "date_begin is after date_end")
    times, rows = _points(s, scale, names, max(begin, 0), end, lim, now, real_time)
    return _shape(times, rows, optimize)


def _points(s: Sensor, scale: str, names: list[str], begin: float, end: float, lim: int,
            now: float, real_time: bool) -> tuple[np.ndarray, list[list[Any]]]:
    """(time stamps, value rows) of a measure."""
    none = np.zeros(0, dtype=np.int64)
    if end < begin:
        return none, []
    if scale == "max":
        times = _grid(s, begin, end, lim)
        if times.size == 0:
            return none, []
        series = grid_readings(s, times, {PLAIN[n] for n in names})
        return times, _rows([series[PLAIN[n]] for n in names])
    stamps: list[np.ndarray] = []
    columns: list[list[np.ndarray]] = [[] for _ in names]
    count = 0
    cur = max(begin, s.installed)
    while count < lim:
        bounds = _boundaries(scale, s.tz, cur, end, lim - count)
        if bounds.size < 2:
            break
        a, b = bounds[:-1], bounds[1:]
        keep, values = _bucket_series(s, names, a, b, now)
        kept = np.flatnonzero(keep)[:lim - count]
        stamps.append(a[kept] if real_time else (a + (b - a) // 2)[kept])
        for col, v in zip(columns, values, strict=True):
            col.append(v[kept])
        count += kept.size
        # on from the last bucket's end, over any silent stretch (_bucket_series
        # drops the buckets without readings, so this only saves computing them)
        spans = s.intervals(int(b[-1]), end)
        if not spans:
            break
        cur = max(int(b[-1]), spans[0][0])
    if not stamps:
        return none, []
    return np.concatenate(stamps), _rows([np.concatenate(c) for c in columns])


def _rows(columns: list[np.ndarray]) -> list[list[Any]]:
    """Rows of Python numbers from columns (ints stay ints, floats floats)."""
    if not columns or columns[0].size == 0:
        return []
    if len({c.dtype.kind for c in columns}) == 1:
        return np.column_stack(columns).tolist()
    return list(map(list, zip(*(c.tolist() for c in columns), strict=True)))


def _bucket_series(s: Sensor, names: list[str], a: np.ndarray, b: np.ndarray, now: float
                   ) -> tuple[np.ndarray, list[np.ndarray]]:
    """(which buckets have values, one column per name) for the buckets [a, b).

    A bucket reads the grid instants in [a, min(b, now)] where the sensor reads, every
    k-th (globally aligned) so that it reads at most MAX_PER_BUCKET; plain values are
    the mean of its readings (angles: circular mean; rain: the rain that fell in the
    bucket), aggregates their extremes and the instant of the first extreme. A bucket
    without readings (for rain: without any time the gauge read) has no values."""
    hi = np.where(now < b - 1e-6, now, b - 1e-6)        # Python's min(b - 1e-6, now)
    rain_names = [x for x in names if x in ("rain", "sum_rain")]
    read = [x for x in names if x not in ("rain", "sum_rain")]
    columns: dict[str, np.ndarray] = {}
    if read:
        every = np.maximum(1, np.ceil((b - a) / STEP / MAX_PER_BUCKET).astype(np.int64))
        step = STEP * every
        first = -((s.phase - a) // STEP) * STEP + s.phase          # Sensor.grid_ceil
        off = ((first - s.phase) // STEP) % every
        first = first + np.where(off != 0, (every - off) * STEP, 0)
        cnt = np.where(first <= hi, np.floor_divide(hi - first, step).astype(np.int64) + 1, 0)
        width = max(1, int(cnt.max()))
        j = np.arange(width, dtype=np.int64)
        grid = first[:, None] + step[:, None] * j
        valid = (j < cnt[:, None]) & _available(s, grid)
        fields = {PLAIN[x] if x in PLAIN else AGGREGATES[x][1] for x in read}
        series = readings(s, grid[valid], fields)
        got = valid.sum(axis=1)
        for x in read:
            f = PLAIN[x] if x in PLAIN else AGGREGATES[x][1]
            v = np.zeros(grid.shape, dtype=series[f].dtype)
            v[valid] = series[f]
            if x in PLAIN:
                columns[x] = _means(f, v, valid, got)
                continue
            op = AGGREGATES[x][0]
            if op.endswith("min"):
                i = np.argmin(np.where(valid, v, np.inf), axis=1)
            else:
                i = np.argmax(np.where(valid, v, -np.inf), axis=1)
            pick = grid if op.startswith("date") else v
            columns[x] = np.take_along_axis(pick, i[:, None], axis=1)[:, 0]
        keep = got > 0
    if rain_names:
        keep, rain = _rain_buckets(s, a, hi)
        for x in rain_names:
            columns[x] = rain
    return keep, [columns[x] for x in names]


def _means(f: str, v: np.ndarray, valid: np.ndarray, got: np.ndarray) -> np.ndarray:
    """Per-row means of v over valid cells, rounded as :func:`_mean` (rows without any
    valid cell get a placeholder the caller drops)."""
    div = np.maximum(got, 1)
    if f in ("WindAngle", "GustAngle"):
        x = _seq_sum(np.where(valid, _COS[v], 0.0)).tolist()
        y = _seq_sum(np.where(valid, _SIN[v], 0.0)).tolist()
        return np.array([int(round(math.degrees(math.atan2(yy, xx)))) % 360
                         for xx, yy in zip(x, y, strict=True)], dtype=np.int64)
    if v.dtype.kind == "f":
        m = _seq_sum(np.where(valid, v, 0.0)) / div
    else:
        m = np.where(valid, v, 0).sum(axis=1) / div        # exact integer sums
    return round_series(m, 1) if f in ("Temperature", "Pressure") else round_series(m)


def _rain_buckets(s: Sensor, a: np.ndarray, hi: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(whether the gauge read at all in [a, hi], rounded rain there) per bucket:
    :func:`_rain_between`. A bucket the gauge read throughout with one weather in force
    is one window of :func:`rain_total_series`; the rest (a reachability or weather
    change inside) go through :func:`_rain_between` itself."""
    since = np.array([x for x, _ in s.events])
    value = np.array([True] + [v for _, v in s.events])
    on = np.array([x for x, v in s.events if v])
    start = np.maximum(a, s.installed)
    reach0 = value[np.searchsorted(since, start, side="right")]
    read = (reach0 & (start <= hi)) | \
        (np.searchsorted(on, hi, side="right") > np.searchsorted(on, start, side="right"))
    plain = reach0 & (start <= hi) & \
        (np.searchsorted(since, hi, side="right") == np.searchsorted(since, start, side="right"))
    rain = np.zeros(a.shape)
    idx = np.flatnonzero(plain)
    if idx.size:
        regime = np.searchsorted(np.array([x for x, _ in s.weather] or [0.0]),
                                 start[idx], side="right")
        for r in np.unique(regime).tolist():
            sel = idx[regime == r]
            rain[sel] = rain_total_series(s.place, s.seed, start[sel].astype(np.float64),
                                          hi[sel], s.adjust(float(start[sel[0]]))) + 0.0
    for i in np.flatnonzero(read & ~plain).tolist():
        rain[i] = _rain_between(s, int(a[i]), float(hi[i]))
    return read, round_series(rain, 3)


def _shape(stamps: np.ndarray, rows: list[list[Any]], optimize: bool) -> Any:
    times = stamps.tolist()
    if not optimize:
        return dict(zip(map(str, times), rows, strict=True))
    n = len(times)
    if n <= 1:
        return [{"beg_time": times[0], "value": rows}] if n else []
    steps = np.diff(stamps)
    if (steps == steps[0]).all():
        return [{"beg_time": times[0], "value": rows, "step_time": int(steps[0])}]
    # runs as Netatmo packs them: a run takes the step between its first two points
    # and goes on while the step stays the same
    d = steps.tolist()
    runs: list[dict[str, Any]] = []
    i = 0
    while i < n:
        if i == n - 1:
            runs.append({"beg_time": times[i], "value": rows[i:]})
            break
        j = i + 1
        while j < n - 1 and d[j] == d[i]:
            j += 1
        runs.append({"beg_time": times[i], "value": rows[i:j + 1], "step_time": d[i]})
        i = j + 1
    return runs


# ==== getpublicdata ==========================================================
CELL = 0.1                      # degrees: public stations are fixed per (seed, cell)
MAX_CELLS = 20000               # cells read per answer (more: a stride, see public_data)
MAX_PUBLIC = 1000
REQUIRED = {"temperature", "humidity", "pressure", "rain", "wind"}


@cache
def _land() -> dict[tuple[int, int], list[tuple[float, float, str, str, str]]]:
    """Faker's list of real places, binned by 2-degree squares (city, country, tz)."""
    from faker.providers.geo import Provider
    bins: dict[tuple[int, int], list[tuple[float, float, str, str, str]]] = {}
    for lat, lon, city, cc, tz in Provider.land_coords:
        la, lo = float(lat), float(lon)
        bins.setdefault((math.floor(la / 2), math.floor(lo / 2)), []).append(
            (la, lo, city, cc, tz))
    return bins


@lru_cache(maxsize=1 << 16)
def _nearest(ci: int, cj: int) -> tuple[float, float, str, str, str] | None:
    """The nearest known place within ~2 degrees of a cell, or None (sea, desert)."""
    lat, lon = (ci + 0.5) * CELL, (cj + 0.5) * CELL
    bi, bj = math.floor(lat / 2), math.floor(lon / 2)
    best, best_d = None, 4.0
    for di in (-1, 0, 1):
        for dj in (-1, 0, 1):
            for p in _land().get((bi + di, bj + dj), ()):
                d = (p[0] - lat) ** 2 + ((p[1] - lon) * math.cos(math.radians(lat))) ** 2
                if d < best_d:
                    best, best_d = p, d
    return best


def _coord(name: str, value: Any, lim: float) -> float:
    if value is None or (isinstance(value, str) and not value.strip()):
        raise MockcloudError("missing_argument", f"{name} is missing")
    try:
        v = float(value)
    except (TypeError, ValueError):
        raise MockcloudError("invalid_argument", f"{name} must be a number, not {value!r}"
                             ) from None
    if not math.isfinite(v) or not -lim <= v <= lim:
        raise MockcloudError("invalid_argument", f"{name} must be within -{lim:g}..{lim:g}, "
                             f"not {value!r}")
    return v


def _public_station(seed: int, ci: int, cj: int, k: int, near: tuple, now: float
                    ) -> dict[str, Any]:
    h = mix(seed, 0x9B, ci, cj, k)
    mac = f"70:ee:50:{(h >> 8) & 0xff:02x}:{(h >> 16) & 0xff:02x}:{(h >> 24) & 0xff:02x}"

    def sub(prefix: str, n: int) -> str:
        x = mix(h, n)
        return f"{prefix}:{x & 0xff:02x}:{(x >> 8) & 0xff:02x}:{(x >> 16) & 0xff:02x}"
    lat = (ci + unit(h, 1)) * CELL
    lon = (cj + unit(h, 2)) * CELL
    alt = int(unit(h, 3) * 400)
    place = Place(lat, lon, alt, near[4])
    faulty = unit(h, 4) < 0.05

    def stamp(n: int) -> int:
        phase = mix(h, n, 7) % STEP
        return int((now - phase) // STEP) * STEP + phase
    outdoor_id = sub("02:00:00", 1)
    t1, t0 = stamp(1), stamp(0)
    w1, w0 = outdoor(place, seed, t1), outdoor(place, seed, t0)
    temp = round(w1.temperature + (8.0 if faulty else 0.0), 1)
    measures: dict[str, Any] = {
        outdoor_id: {"res": {str(t1): [temp, int(round(w1.humidity))]},
                     "type": ["temperature", "humidity"]},
        mac: {"res": {str(t0): [round(w0.pressure, 1)]}, "type": ["pressure"]},
    }
    types = {outdoor_id: "NAModule1"}
    if unit(h, 5) < 0.4:
        rid, t3 = sub("05:00:00", 3), stamp(3)
        measures[rid] = {"rain_60min": round(rain_total(place, seed, t3 - 3600, t3), 3),
                         "rain_24h": round(rain_total(place, seed, t3 - DAY, t3), 3),
                         "rain_live": round(outdoor(place, seed, t3).rain, 3),
                         "rain_timeutc": t3}
        types[rid] = "NAModule3"
    if unit(h, 6) < 0.2:
        wid, t2 = sub("06:00:00", 2), stamp(2)
        w2 = outdoor(place, seed, t2)
        measures[wid] = {"wind_strength": int(round(w2.wind_strength)),
                         "wind_angle": w2.wind_angle,
                         "gust_strength": int(round(w2.gust_strength)),
                         "gust_angle": w2.gust_angle, "wind_timeutc": t2}
        types[wid] = "NAModule2"
    return {"_id": mac,
            "place": {"location": [round(lon, 6), round(lat, 6)], "timezone": near[4],
                      "country": near[3], "altitude": alt, "city": near[2]},
            "mark": 1 if faulty else 7 + int(unit(h, 8) * 8),
            "measures": measures, "modules": list(types), "module_types": types,
            "_faulty": faulty}


def public_data(seed: int, lat_ne: Any, lon_ne: Any, lat_sw: Any, lon_sw: Any,
                required_data: str | None, filtering: bool, now: float) -> list[dict]:
    """getpublicdata: the public stations in a box.

    The field is fixed per (seed, 0.1-degree cell): 0 to 2 stations a cell, only in cells
    within about 2 degrees of a place Faker knows (so none at sea), with that place's
    city, country and time zone. A sub-box gives a subset of a box. Bounded: a box of
    more than 20 000 cells reads every n-th cell in both directions (n the same for all
    boxes of that size class, aligned on the global grid), and an answer stops at 1000
    stations. ``filtering`` drops the 5 % of stations whose sensor is faulty (they read
    8 °C too warm in the sun); ``required_data`` keeps stations that measure it."""
    nlat = _coord("lat_ne", lat_ne, 85)
    elon = _coord("lon_ne", lon_ne, 180)
    slat = _coord("lat_sw", lat_sw, 85)
    wlon = _coord("lon_sw", lon_sw, 180)
    if nlat <= slat or elon <= wlon:
        raise MockcloudError("invalid_argument", "the box needs lat_ne > lat_sw and "
                             "lon_ne > lon_sw")
    want = (required_data or "").strip().lower() or None
    if want is not None and want not in REQUIRED:
        raise MockcloudError("invalid_argument", f"required_data {required_data!r} is not "
                             f"one of {', '.join(sorted(REQUIRED))}")
    i0, i1 = math.floor(slat / CELL), math.floor(nlat / CELL)
    j0, j1 = math.floor(wlon / CELL), math.floor(elon / CELL)
    cells = (i1 - i0 + 1) * (j1 - j0 + 1)
    stride = 1
    while cells / (stride * stride) > MAX_CELLS:
        stride *= 2
    out: list[dict[str, Any]] = []
    for ci in range(i0 + (-i0) % stride, i1 + 1, stride):
        for cj in range(j0 + (-j0) % stride, j1 + 1, stride):
            near = _nearest(ci, cj)
            if near is None:
                continue
            u = unit(seed, 0x9A, ci, cj)
            for k in range(0 if u < 0.5 else 1 if u < 0.85 else 2):
                st = _public_station(seed, ci, cj, k, near, now)
                lon, lat = st["place"]["location"]
                if not (slat <= lat <= nlat and wlon <= lon <= elon):
                    continue
                if filtering and st["_faulty"]:
                    continue
                if not _has(st, want):
                    continue
                del st["_faulty"]
                out.append(st)
                if len(out) >= MAX_PUBLIC:
                    return out
    return out


def _has(st: dict[str, Any], want: str | None) -> bool:
    if want is None:
        return True
    for m in st["measures"].values():
        if want in m.get("type", ()) or (want == "rain" and "rain_live" in m) \
                or (want == "wind" and "wind_strength" in m):
            return True
    return False


__all__ = ["build_homecoaches", "build_stations", "export_homecoach", "export_station",
           "generate_homecoaches", "generate_stations", "homecoach_body", "measure",
           "public_data", "reading", "sensors", "stations_body"]
