"""What a vendor package gives the core: its domain, nothing of the plumbing.

A vendor is a ``Vendor`` value in its package's ``__init__.py``. The core mounts it by
host and prefix, builds its OAuth server from ``auth`` (routes included: authorize,
token, revoke at the profile's paths), guards its API routes (bearer, scopes, quotas),
renders every error through ``errors``, injects faults, journals, serves its OpenAPI
document, and loads and exports its part of a world. The vendor writes:

* ``routes(api) -> Blueprint``: its API routes, using ``api.guard(...)`` and
  ``api.json_body(...)`` (see ``core.api.VendorAPI``);
* ``errors``: an ``Envelope`` (reason -> status and code, and the body's shape);
* ``world``: a ``WorldPart`` (build, export, generate);
* ``auth(settings) -> AuthProfile`` and, optionally, ``settings``: a dataclass of its
  own knobs, read from ``MOCKCLOUD_<VENDOR>_<FIELD>``;
* optionally ``devices``: a ``core.devices.DeviceControl``, its devices under the admin
  API's control (offline, battery, open window, weather overrides);
* optionally ``push``: a ``core.webhooks.PushSpec``, the webhooks it sends (its event
  source, activation push, retry and ban rules); its routes register them with
  ``core.webhooks.register`` and ``drop``;
* optionally ``from_reads``: its recorded successful reads (``core.reads.Read``) ->
  its users of a world section (``core.reads.FromReads``), for ``mockcloud world
  from-cassette``.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

from .errors import Envelope
from .quotas import QuotaConfig

if TYPE_CHECKING:  # pragma: no cover
    import random

    from faker import Faker
    from flask import Blueprint

    from .api import VendorAPI
    from .devices import DeviceControl
    from .oauth import AuthProfile
    from .reads import FromReads, Read
    from .store import Store
    from .webhooks import PushSpec

DocRow = tuple[str, str, dict[str, Any]]        # (kind, key, document)


@dataclass(frozen=True)
class WorldUser:
    """A user of a world section as the core parsed it: ``doc`` is the stored user
    (id, login, password, name), ``fields`` what else the entry says (the vendor's)."""

    doc: dict[str, Any]
    fields: dict[str, Any]
    where: str                                   # e.g. "lightify.users[2]", for errors

    @property
    def id(self) -> str:
        return self.doc["id"]


class WorldPart(Protocol):
    """A vendor's part of a world file (apps, users' logins and quotas are the core's)."""

    def build(self, section: dict[str, Any], users: list[WorldUser],
              seed: int) -> Iterable[DocRow]:
        """Documents for the section (pure: raise ValueError naming the bad entry)."""
        ...

    def export(self, store: Store, tenant: str, users: list[dict[str, Any]]
               ) -> tuple[dict[str, dict[str, Any]], dict[str, Any]]:
        """(each user's vendor fields by user id, other keys of the section)."""
        ...

    def generate(self, fake: Faker, rng: random.Random, index: int) -> dict[str, Any]:
        """The vendor fields of one generated home's user (``world generate``)."""
        ...


@dataclass
class NoSettings:
    """For a vendor without knobs of its own."""


@dataclass
class Vendor:
    name: str
    prefix: str                                      # path prefix, e.g. "/lightify"
    hosts: tuple[str, ...]                           # real host names
    auth: Callable[[Any], AuthProfile]               # vendor settings -> its OAuth
    routes: Callable[[VendorAPI], Blueprint]         # its API (not the OAuth routes)
    errors: Envelope
    world: WorldPart
    settings: type = NoSettings                      # its knobs (a dataclass)
    quotas: QuotaConfig = field(default_factory=QuotaConfig)
    collapse_slashes: bool = False                   # Qivivo clients send '//'
    headers: tuple[tuple[str, str], ...] = ()        # on every reply (e.g. Server: nginx)
    openapi: Path | None = None
    schemas: Path | None = None                      # its JSON Schemas (request bodies)
    app_fields: tuple[str, ...] = ()                 # app fields of its own in a world
    # the id of a world user whose entry gives none: (login, world seed) -> id;
    # None: the login itself
    user_id: Callable[[str, int], str] | None = None
    # its devices under the admin API's control (/_mockcloud/devices/<vendor>): None,
    # a vendor without them (the routes answer 400); see core.devices
    devices: DeviceControl | None = None
    # the webhooks it pushes (see core.webhooks): None, a vendor that pushes nothing
    # (the admin webhook routes answer 400)
    push: PushSpec | None = None
    # field names that hold a secret in its answers beside the core's rule (journal's
    # is_secret_field: tokens, secrets, passwords, keys), e.g. a live stream's URL
    secret_fields: tuple[str, ...] = ()
    # its recorded reads -> its users of a world (``world from-cassette``); None: the
    # command reports the vendor's reads as not understood
    from_reads: Callable[[list[Read]], FromReads] | None = None

    def kind(self, name: str) -> str:
        return f"{self.name}.{name}"
