"""What a vendor package gives the app: a mountable, world-loadable cloud."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from flask import Blueprint

from .quotas import QuotaConfig

if TYPE_CHECKING:  # pragma: no cover
    from ..settings import Settings
    from .store import Store

DocRow = tuple[str, str, dict[str, Any]]        # (kind, key, document)


@dataclass
class Vendor:
    name: str
    prefix: str                                      # path prefix, e.g. "/lightify"
    hosts: tuple[str, ...]                           # real host names
    make_blueprint: Callable[[Settings], Blueprint]
    # world -> documents (pure: raises ValueError on bad input, writes nothing)
    build_world: Callable[[dict[str, Any], int], Iterable[DocRow]]
    # store -> the vendor's part of a world file (devices, groups, ...)
    export_world: Callable[[Store, str], dict[str, Any]]
    # (status, code, message, headers) -> Flask response in the vendor's envelope
    render_error: Callable[..., Any]
    quotas: QuotaConfig = field(default_factory=QuotaConfig)
    collapse_slashes: bool = False                   # Qivivo clients send '//'
    headers: tuple[tuple[str, str], ...] = ()        # on every reply (e.g. Server: nginx)
    openapi: Path | None = None

    def kind(self, name: str) -> str:
        return f"{self.name}.{name}"
