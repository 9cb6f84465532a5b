"""Scrub recorded exchanges (vcrpy interactions) and check that nothing secret survived.

``Scrubber(key)`` rewrites one interaction (``request``: method, uri, body, headers;
``response``: status, headers, body) so that a cassette can be shared:

* **Secrets** (the names are the journal's, ``core.journal.SECRET_HEADERS`` and
  ``is_secret_field``: one rule for the admin export and the recorder) in headers, query
  strings, fragments, ``Location``, form and JSON bodies, both directions.
  Tokens, codes and bearer credentials become ``REDACTED-<8 hex>``: the hex is a keyed
  hash of the value, so the access token of a token answer and the ``Bearer`` of a later
  request carry the same marker (and an authorization code read from ``Location`` is the
  one sent to the token endpoint) without the value being recoverable. Passwords, client
  secrets, code verifiers, Basic credentials and cookies become plain ``REDACTED``.
* **Personal data**, pseudonymised *consistently*: the pseudonym is an HMAC of the value
  under the run's key, so one real value maps to one fake value in every cassette
  recorded with the key (``key_for(DIR)``: ``DIR/.scrub-key``, never written into a
  cassette; a ``DIR/.gitignore`` keeps it out of git). Shapes are kept:

  - e-mail -> ``user-<10 hex>@example.com``;
  - MAC-like ids -> the same first three bytes (``70:ee:50``, ``02:00:00``: the
    device kind), two hashed bytes and a check byte (``Scrubber.mac``, ``is_mac_pseudonym``): the
    *pseudonym space* that ``check`` tells from real-looking MACs (a real MAC falls in
    it by chance once in 256: ``check`` misses it, the scrubber does not, as it knows
    its own pseudonyms). Two bytes are 65,536 pseudonyms per vendor prefix: two MACs
    of one recording that hash alike (a few in a hundred for a big account) get
    distinct pseudonyms, the later one re-hashed. The pseudonyms given are kept in
    ``DIR/.scrub-macs`` (``macs_for(DIR)``: each with a keyed hash of its MAC, never
    the MAC), so every session recorded into ``DIR`` resolves them alike;
  - UUIDs -> UUIDs of version 8 ("custom", RFC 9562), hashed;
  - 24-hex ids (Netatmo homes, users, schedules) -> 24 hex;
  - other ids under id keys (``ID_KEYS``: Netatmo room ids, Lightify ``123456-d01``,
    serials; lists of strings under devices, groups, scenes, modules, rooms) -> the
    same character classes, part by part around ``-`` (parts shorter than 4 kept), so
    ``123456-d01`` and its gateway ``123456`` stay related; the same ids as path
    segments after ``devices``/``groups``/``scenes`` (those with a digit: not Qivivo's
    ``devices/thermostats``) and as query or form values under id keys;
  - names (``NAME_KEYS``: home, room, device, person, schedule, group names) ->
    ``"Name <6 hex>"``, whatever key or list they are under;
  - coordinates (``lat``/``lon``, ``location``/``coordinates`` pairs [lon, lat],
    ``lat_ne`` ...) -> shifted by a per-key offset of the run (under 0.05 degree) and
    rounded to 2 decimals (about 1 km); street names pseudonymised.

What it does not know (free text naming a person, an id of a shape it has no rule for)
it keeps: ``check`` is the safety net for the shapes that matter.

Replay: vcrpy matches on method, scheme, host, port, path and query by default, not on
headers or bodies. Ids in the URI are pseudonymised, so a replaying client must send the
pseudonyms, which it does when it takes its ids from the recorded answers (as an app
does: homesdata, then homestatus of the home it returned); a test that hard-codes a real
id must use its pseudonym (``Scrubber.ident``) or match on path without query.

``check_paths(paths)`` lists what survived (``Finding``): bearer or Basic credentials
and cookies not redacted, Netatmo-shaped tokens (``<24 hex>|<32 hex>``), secret fields
(and any key ending in token/secret/password) holding a value other than a marker,
``code=`` and other secret parameters in URLs and text, e-mail addresses outside
example.com/.org/.net, MACs outside the pseudonym space.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import os
import re
import secrets
import threading
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import quote_plus, unquote_plus

import yaml

from .. import app as _app  # noqa: F401  (the vendors' secret field names, declared)
from ..core.journal import REDACTED, SECRET_HEADERS, is_secret_field

KEY_FILE = ".scrub-key"
MACS_FILE = ".scrub-macs"
MAC_TRIES = 1 << 20         # re-hashes of one MAC before its prefix counts as full
CASSETTE_SUFFIXES = (".yaml", ".yml", ".json")

# secret fields whose marker carries a hash of the value (a token seen in an answer and
# in a later request stays recognisably the same); the others are plain REDACTED
LINKED_FIELDS = frozenset({"access_token", "refresh_token", "code", "id_token", "token"})
ID_KEYS = frozenset({
    "id", "_id", "home_id", "room_id", "person_id", "device_id", "module_id", "bridge",
    "main_device", "user_id", "schedule_id", "camera_id", "face_id", "event_id",
    "uuid", "serial", "gatewayId", "idList", "module_ids", "modules_bridged", "room_ids",
    "person_ids"})
NAME_KEYS = frozenset({"name", "home_name", "station_name", "module_name", "pseudo",
                       "new_name", "street"})
LAT_KEYS = frozenset({"lat", "latitude", "lat_ne", "lat_sw"})
LON_KEYS = frozenset({"lon", "lng", "longitude", "lon_ne", "lon_sw"})
PAIR_KEYS = frozenset({"location", "coordinates"})        # [lon, lat]
ID_COLLECTIONS = frozenset({"devices", "groups", "scenes"})  # /v4/devices/<id>
RESERVED_EMAIL_DOMAINS = ("example.com", "example.org", "example.net")

MARKER = re.compile(r"^REDACTED(-[0-9a-f]{8})?$")
_NETATMO_TOKEN = r"(?<![0-9a-f])[0-9a-f]{24}\|[0-9a-f]{32}(?![0-9a-f])"
_EMAIL = r"[A-Za-z0-9._%+-]+@[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)*\.[A-Za-z]{2,}"
_MAC = r"(?<![0-9A-Fa-f:])[0-9A-Fa-f]{2}(?::[0-9A-Fa-f]{2}){5}(?![0-9A-Fa-f:])"
_UUID = (r"(?<![0-9A-Fa-f-])[0-9A-Fa-f]{8}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{4}-"
         r"[0-9A-Fa-f]{12}(?![0-9A-Fa-f-])")
_HEX24 = r"(?<![0-9A-Za-z])[0-9a-f]{24}(?![0-9A-Za-z])"
# "Bearer <token>" (RFC 6750's b64token), not "Bearer realm=..." of WWW-Authenticate
_BEARER = r"(?i:\bbearer)\s+(?!REDACTED)[A-Za-z0-9\-._~+/|]+=*(?![=\"A-Za-z0-9\-._~+/|])"
SHAPES = re.compile("|".join(f"(?P<{n}>{p})" for n, p in (
    ("token", _NETATMO_TOKEN), ("bearer", _BEARER), ("email", _EMAIL), ("mac", _MAC),
    ("uuid", _UUID), ("hex24", _HEX24))))

_PARAM = re.compile(r"(?:^|[?&#\s\"'])([A-Za-z_]+)=([^&\s\"'#]+)")


def is_marker(value: Any) -> bool:
    return isinstance(value, str) and bool(MARKER.match(value))


secret_key = is_secret_field   # one rule with the journal's export (core/journal.py)


def mac_check(first5: bytes) -> int:
    """The check byte of a MAC pseudonym (public: ``check`` needs no key)."""
    return hashlib.sha256(b"mockcloud-mac:" + first5).digest()[0]


def is_mac_pseudonym(mac: str) -> bool:
    raw = bytes.fromhex(mac.replace(":", ""))
    return raw[5] == mac_check(raw[:5])


def key_for(out: Path) -> bytes:
    """The run's key in ``out/.scrub-key`` (created, mode 0600, with a ``.gitignore``
    naming it): every session recorded into ``out`` pseudonymises alike."""
    out.mkdir(parents=True, exist_ok=True)
    path = out / KEY_FILE
    ignore = out / ".gitignore"
    if not ignore.exists():
        ignore.write_text(f"{KEY_FILE}\n{MACS_FILE}\n")
    try:
        key = bytes.fromhex(path.read_text().strip())
        if len(key) >= 16:
            return key
    except (OSError, ValueError):
        pass
    key = secrets.token_bytes(32)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as fh:
        fh.write(key.hex() + "\n")
    return key


def macs_for(out: Path) -> Path:
    """Where the run in ``out`` keeps the MAC pseudonyms it gave (``Scrubber(macs=)``)."""
    return out / MACS_FILE


# ----------------------------------------------------------------------------- scrubbing
class Scrubber:
    def __init__(self, key: bytes, macs: Path | None = None) -> None:
        """``macs``: a file keeping the MAC pseudonyms given (read now, written as new
        ones are given); without it they are kept for this scrubber's life only."""
        self.key = key
        self._lock = threading.Lock()
        self._macs_file = macs
        self._macs: dict[str, str] = {}     # pseudonym -> keyed hash of its MAC
        if macs is not None and macs.exists():
            given = json.loads(macs.read_text(encoding="utf-8"))
            if not isinstance(given, dict) or not all(
                    isinstance(k, str) and isinstance(v, str) for k, v in given.items()):
                raise ValueError(f"{macs}: not a map of MAC pseudonyms")
            self._macs = given
        self._fake_of = {tag: fake for fake, tag in self._macs.items()}

    # -- one value ------------------------------------------------------------------
    def _digest(self, kind: str, value: str, n: int = 32) -> bytes:
        out, i = b"", 0
        while len(out) < n:
            out += hmac.new(self.key, f"{kind}\0{i}\0{value}".encode(),
                            hashlib.sha256).digest()
            i += 1
        return out[:n]

    def secret(self, value: str, linked: bool = True) -> str:
        if is_marker(value) or not value:
            return value
        return f"{REDACTED}-{self._digest('secret', value, 4).hex()}" if linked else REDACTED

    def email(self, value: str) -> str:
        domain = value.rpartition("@")[2].lower()
        if domain in RESERVED_EMAIL_DOMAINS:
            return value
        return f"user-{self._digest('email', value.lower(), 5).hex()}@example.com"

    def mac(self, value: str) -> str:
        low = value.lower()
        with self._lock:
            if low in self._macs:
                return value                # already one of its pseudonyms
            tag = self._digest("mac-tag", low, 12).hex()
            fake = self._fake_of.get(tag)
            if fake is None:
                fake = self._new_mac(low)
                self._macs[fake], self._fake_of[tag] = tag, fake
                self._save_macs()
        return fake.upper() if value.isupper() else fake

    def _new_mac(self, low: str) -> str:
        """The first of the MAC's pseudonyms (its hash, then re-hashes) not given yet."""
        prefix = bytes.fromhex(low.replace(":", ""))[:3]
        for i in range(MAC_TRIES):
            first5 = prefix + self._digest("mac", low if i == 0 else f"{low}\0{i}", 2)
            fake = ":".join(f"{b:02x}" for b in first5 + bytes([mac_check(first5)]))
            if fake not in self._macs and fake != low:
                return fake
        raise ValueError(f"no MAC pseudonym left under {low[:8]}")

    def _save_macs(self) -> None:
        if self._macs_file is None:
            return
        tmp = self._macs_file.with_name(self._macs_file.name + ".tmp")
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            json.dump(self._macs, fh, sort_keys=True)
        os.replace(tmp, self._macs_file)

    def uuid(self, value: str) -> str:
        h = bytearray(self._digest("uuid", value.lower(), 16))
        h[6] = 0x80 | (h[6] & 0x0F)         # version 8
        h[8] = 0x80 | (h[8] & 0x3F)         # RFC 9562 variant
        x = h.hex()
        out = f"{x[:8]}-{x[8:12]}-{x[12:16]}-{x[16:20]}-{x[20:]}"
        return out.upper() if value.isupper() else out

    def _shape(self, value: str, kind: str = "id") -> str:
        """The same length and character classes (digit, lower, upper; others kept)."""
        h = self._digest(kind, value, max(8, len(value)))
        out = []
        for c, b in zip(value, h, strict=False):
            if c.isdigit():
                out.append(str(b % 10))
            elif "a" <= c <= "f" and all(ch in "0123456789abcdef" for ch in value):
                out.append("0123456789abcdef"[b % 16])
            elif c.islower():
                out.append(chr(ord("a") + b % 26))
            elif c.isupper():
                out.append(chr(ord("A") + b % 26))
            else:
                out.append(c)
        if value[:1].isdigit() and value[:1] != "0" and out[0] == "0":
            out[0] = "1"
        return "".join(out)

    def ident(self, value: str) -> str:
        """An id's pseudonym (any shape)."""
        if is_marker(value) or not value:
            return value
        if SHAPES.search(value):    # a MAC, UUID ... or ids in a JSON list as text
            return self.text(value)
        parts = value.split("-")
        return "-".join(self._shape(p) if len(p) >= 4 else p for p in parts)

    def name(self, value: str) -> str:
        """``Name <6 hex>``: one real name, one fake wherever it appears (a device's
        name in a list, in its own answer, as a module_name)."""
        if not value:
            return value
        return f"Name {self._digest('name', value, 3).hex()}"

    def coord(self, value: Any, axis: str) -> Any:
        try:
            number = float(value)
        except (TypeError, ValueError):
            return value
        offset = (int.from_bytes(self._digest("offset", axis, 2), "big") / 65535 - 0.5) / 10
        coarse = round(number + offset, 2)
        return str(coarse) if isinstance(value, str) else coarse

    def text(self, text: str) -> str:
        """Every secret- or personal-shaped piece of a free string."""
        def one(m: re.Match[str]) -> str:
            v, kind = m.group(0), m.lastgroup
            if kind == "token":
                return self.secret(v)
            if kind == "bearer":
                scheme, _, tok = v.partition(" ")
                return f"{scheme} {self.secret(tok.strip())}"
            return getattr(self, kind if kind != "hex24" else "_hex24")(v)
        return SHAPES.sub(one, text)

    def _hex24(self, value: str) -> str:
        return self._digest("hex24", value, 12).hex()

    # -- structures -----------------------------------------------------------------
    def field(self, key: str, value: Any) -> Any:
        """A value under ``key`` (JSON, form, query)."""
        if isinstance(value, str) and secret_key(key):
            return self.secret(value, key in LINKED_FIELDS)
        if key in ID_KEYS or (key in ID_COLLECTIONS | {"modules", "rooms"}
                              and isinstance(value, list)
                              and all(isinstance(v, str) for v in value)):
            if isinstance(value, str):
                return ",".join(self.ident(v) for v in value.split(",")) \
                    if "," in value and key.endswith(("ids", "List")) else self.ident(value)
            if isinstance(value, list):
                return [self.ident(v) if isinstance(v, str) else self.json(v) for v in value]
        if key in NAME_KEYS and isinstance(value, str):
            return self.name(value)
        if key in LAT_KEYS:
            return self.coord(value, "lat")
        if key in LON_KEYS:
            return self.coord(value, "lon")
        if key in PAIR_KEYS and isinstance(value, list) and len(value) == 2 \
                and all(isinstance(v, int | float) for v in value):
            return [self.coord(value[0], "lon"), self.coord(value[1], "lat")]
        return self.json(value)

    def json(self, doc: Any) -> Any:
        if isinstance(doc, dict):
            return {self.text(k): self.field(k, v) for k, v in doc.items()}
        if isinstance(doc, list):
            return [self.json(v) for v in doc]
        if isinstance(doc, str):
            return self.url(doc) if doc.startswith(("http://", "https://")) else self.text(doc)
        return doc

    def pairs(self, text: str) -> str:
        """A query string or form body; pieces without ``=`` and spacing kept."""
        parts = text.split("&")
        for i, part in enumerate(parts):
            key, eq, value = part.partition("=")
            if not eq or not value:
                new = self.text(unquote_plus(part)) if not eq else part
                if new != unquote_plus(part):
                    parts[i] = quote_plus(new, safe=":,|")
                continue
            name, real = unquote_plus(key), unquote_plus(value)
            new = self.field(name, real)
            if not isinstance(new, str):
                new = json.dumps(new) if not isinstance(new, int | float) else str(new)
            if new != real:
                parts[i] = f"{key}={quote_plus(new, safe=':,|')}"
        return "&".join(parts)

    def path(self, path: str) -> str:
        segs = path.split("/")
        for i, seg in enumerate(segs):
            if i and segs[i - 1] in ID_COLLECTIONS and any(c.isdigit() for c in seg):
                segs[i] = self.ident(unquote_plus(seg))
            else:
                segs[i] = self.text(seg)
        return "/".join(segs)

    def url(self, url: str) -> str:
        rest, hash_, fragment = url.partition("#")
        base, q, query = rest.partition("?")
        scheme, sep, after = base.partition("://")
        if sep:
            host, slash, path = after.partition("/")
            base = f"{scheme}://{host}{slash}{self.path(path)}"
        else:
            base = self.path(base)
        out = base + q + self.pairs(query) if q else base
        return out + hash_ + self.pairs(fragment) if hash_ else out

    def header(self, name: str, value: str) -> str:
        low = name.lower()
        if low in SECRET_HEADERS:
            scheme, _, cred = value.partition(" ")
            if not cred or low == "cookie":
                return REDACTED
            if scheme.lower() == "bearer":
                return f"{scheme} {self.secret(cred.strip())}"
            return f"{scheme} {REDACTED}"
        if low == "set-cookie":
            return REDACTED
        if low in ("location", "content-location", "referer"):
            return self.url(value)
        return self.text(value)

    def body(self, body: Any, ctype: str) -> Any:
        if not isinstance(body, str) or not body:
            return body
        ctype = ctype.lower()
        if body.lstrip()[:1] in ("{", "["):
            try:
                return json.dumps(self.json(json.loads(body)), ensure_ascii=False,
                                  separators=(",", ":"))
            except (ValueError, RecursionError):
                pass
        if "x-www-form-urlencoded" in ctype or (not ctype and "=" in body
                                                and " " not in body.strip()):
            return self.pairs(body)
        return self.text(body)

    def interaction(self, item: dict[str, Any]) -> dict[str, Any]:
        req, resp = item["request"], item["response"]
        req_headers = {k: [self.header(k, v) for v in vs]
                       for k, vs in req.get("headers", {}).items()}
        resp_headers = {k: [self.header(k, v) for v in vs]
                        for k, vs in resp.get("headers", {}).items()}
        body = resp.get("body", {})
        return {
            "request": {**req, "uri": self.url(req["uri"]),
                        "body": self.body(req.get("body"),
                                          header(req.get("headers", {}), "content-type")),
                        "headers": req_headers},
            "response": {**resp, "headers": resp_headers,
                         "body": {**body, "string": self.body(
                             body.get("string"),
                             header(resp.get("headers", {}), "content-type"))}},
        }


def header(headers: dict[str, Any], name: str) -> str:
    for k, v in headers.items():
        if k.lower() == name:
            return v[0] if isinstance(v, list) and v else v if isinstance(v, str) else ""
    return ""


# ------------------------------------------------------------------------------ checking
@dataclass(frozen=True)
class Finding:
    file: str
    interaction: int        # index in the cassette (0-based); -1: a sample file
    where: str              # e.g. "request.headers.Authorization", "response.body$.x"
    what: str               # the kind of leak, with the value's first characters only

    def __str__(self) -> str:
        at = f"interaction {self.interaction}: " if self.interaction >= 0 else ""
        return f"{self.file}: {at}{self.where}: {self.what}"


def _hint(value: str) -> str:
    return repr(value[:4] + "…") if len(value) > 4 else "(short value)"


def scan_text(text: str) -> Iterator[str]:
    """What is secret- or personal-shaped in a free string."""
    for m in SHAPES.finditer(text):
        v, kind = m.group(0), m.lastgroup
        if kind == "token":
            yield f"Netatmo-shaped token {_hint(v)}"
        elif kind == "bearer":
            yield f"bearer credential {_hint(v.split()[-1])}"
        elif kind == "email" and v.rpartition("@")[2].lower() not in RESERVED_EMAIL_DOMAINS:
            yield f"e-mail address {_hint(v)} outside example.com"
        elif kind == "mac" and not is_mac_pseudonym(v):
            yield f"real-looking MAC {_hint(v)}"
    for m in _PARAM.finditer(text):
        if secret_key(m.group(1)) and not is_marker(unquote_plus(m.group(2))):
            yield f"{m.group(1)}= value {_hint(m.group(2))}"


def scan_json(doc: Any, pointer: str = "$") -> Iterator[tuple[str, str]]:
    if isinstance(doc, dict):
        for k, v in doc.items():
            here = f"{pointer}.{k}"
            for what in scan_text(k):
                yield pointer, f"key: {what}"
            if isinstance(v, str) and v and secret_key(k) and not is_marker(v):
                yield here, f"secret field {k} holds {_hint(v)}"
            else:
                yield from scan_json(v, here)
    elif isinstance(doc, list):
        for i, v in enumerate(doc):
            yield from scan_json(v, f"{pointer}[{i}]")
    elif isinstance(doc, str) and doc.startswith(("http://", "https://")):
        for where, what in scan_url(doc):
            yield f"{pointer} {where}", what
    elif isinstance(doc, str):
        for what in scan_text(doc):
            yield pointer, what


def scan_pairs(text: str) -> Iterator[tuple[str, str]]:
    for part in text.split("&"):
        key, eq, value = part.partition("=")
        name, real = unquote_plus(key), unquote_plus(value)
        if eq and real and secret_key(name) and not is_marker(real):
            yield name, f"secret parameter {name} holds {_hint(real)}"
        else:
            for what in scan_text(unquote_plus(part)):
                yield name, what


def scan_body(body: Any) -> Iterator[tuple[str, str]]:
    if isinstance(body, bytes):
        try:
            body = body.decode("utf-8")
        except UnicodeDecodeError:
            return
    if not isinstance(body, str) or not body:
        return
    if body.lstrip()[:1] in ("{", "["):
        try:
            yield from scan_json(json.loads(body))
            return
        except (ValueError, RecursionError):
            pass
    if "=" in body and " " not in body.strip() and "\n" not in body.strip():
        yield from scan_pairs(body)
        return
    for what in scan_text(body):
        yield "", what


def scan_url(url: str) -> Iterator[tuple[str, str]]:
    rest, _, fragment = url.partition("#")
    base, _, query = rest.partition("?")
    for what in scan_text(base):
        yield "path", what
    for pairs in (query, fragment):
        if pairs:
            yield from scan_pairs(pairs)


def scan_headers(headers: dict[str, Any]) -> Iterator[tuple[str, str]]:
    for name, values in (headers or {}).items():
        for value in values if isinstance(values, list) else [values]:
            value = str(value)
            low = name.lower()
            if low in SECRET_HEADERS or low == "set-cookie":
                cred = value.partition(" ")[2] if low not in ("cookie", "set-cookie") \
                    else value
                if not is_marker((cred or value).strip()):
                    yield name, f"credential header not redacted {_hint(cred or value)}"
            elif low in ("location", "content-location", "referer"):
                for where, what in scan_url(value):
                    yield f"{name} {where}", what
            else:
                for what in scan_text(value):
                    yield name, what


def check_interaction(item: Any) -> Iterator[tuple[str, str]]:
    if not isinstance(item, dict):
        return
    req, resp = item.get("request") or {}, item.get("response") or {}
    for where, what in scan_url(str(req.get("uri", ""))):
        yield f"request.uri {where}".strip(), what
    for where, what in scan_headers(req.get("headers") or {}):
        yield f"request.headers.{where}", what
    for where, what in scan_body(req.get("body")):
        yield f"request.body {where}".strip(), what
    for where, what in scan_headers(resp.get("headers") or {}):
        yield f"response.headers.{where}", what
    body = resp.get("body") or {}
    for where, what in scan_body(body.get("string") if isinstance(body, dict) else body):
        yield f"response.body {where}".strip(), what


def load_document(path: Path) -> Any:
    text = path.read_text(encoding="utf-8")
    return json.loads(text) if path.suffix == ".json" else yaml.safe_load(text)


def is_cassette(doc: Any) -> bool:
    return isinstance(doc, dict) and isinstance(doc.get("interactions"), list)


def read_cassette(path: Path) -> list[Any]:
    doc = load_document(path)
    if not is_cassette(doc):
        raise ValueError("not a vcrpy cassette (no interactions list)")
    return doc["interactions"]


def cassette_files(paths: Iterable[Path]) -> Iterator[Path]:
    for path in paths:
        if path.is_dir():
            yield from sorted(p for p in path.rglob("*") if p.is_file()
                              and p.suffix in CASSETTE_SUFFIXES
                              and not any(part.startswith(".") for part in
                                          p.relative_to(path).parts))
        else:
            yield path


def check_paths(paths: Iterable[Path]) -> tuple[list[Finding], list[str]]:
    """(what survived, files that could not be read) for cassettes and folders of them."""
    findings: list[Finding] = []
    unreadable: list[str] = []
    for path in cassette_files(paths):
        try:
            doc = load_document(path)
        except (OSError, ValueError, yaml.YAMLError) as exc:
            unreadable.append(f"{path}: {exc}")
            continue
        if not is_cassette(doc):     # a recorded sample (a body), e.g. real-samples/
            findings.extend(Finding(str(path), -1, f"body {where}", what)
                            for where, what in scan_json(doc))
            continue
        for i, item in enumerate(doc["interactions"]):
            findings.extend(Finding(str(path), i, where, what)
                            for where, what in check_interaction(item))
    return findings, unreadable


def check_main(paths: list[Path], out: Any) -> int:
    """Print the findings; 0 when clean, 1 when anything survived, 2 when nothing to
    check (no cassette, or one unreadable)."""
    files = list(cassette_files(paths))
    missing = [str(p) for p in paths if not p.exists()]
    if missing or not files:
        print(f"error: no cassette to check in {', '.join(map(str, paths))}", file=out)
        return 2
    findings, unreadable = check_paths(paths)
    for f in findings:
        print(f, file=out)
    for u in unreadable:
        print(f"UNREADABLE {u}", file=out)
    print(f"{len(files)} file(s), {len(findings)} finding(s)"
          + (f", {len(unreadable)} unreadable" if unreadable else ""), file=out)
    return 1 if findings else 2 if unreadable else 0
