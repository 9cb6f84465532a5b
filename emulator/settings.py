"""One Settings object: CLI flags > MOCKCLOUD_* environment variables > defaults.

Every field's environment variable is ``MOCKCLOUD_<FIELD NAME IN CAPITALS>``. Server
worker processes re-read the environment, so the CLI exports what it was given.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field, fields
from importlib.resources import files
from pathlib import Path
from typing import Any

# the world `mockcloud serve` starts with, shipped inside the package (found through
# importlib.resources, so an installed wheel finds it as well as a checkout); a real
# path, since the package is installed as files
DEFAULT_WORLD = Path(str(files("emulator") / "worlds" / "default.yaml"))


def default_threads() -> int:
    """2 x CPUs + 1: what granian deems sane for WSGI (it warns past it)."""
    return 2 * (os.cpu_count() or 1) + 1


@dataclass
class Settings:
    host: str = "127.0.0.1"
    port: int = 8080                     # 0 picks a free port
    state: str = "memory"                # memory | sqlite:///path.db | redis://host:port/db
    world: str = str(DEFAULT_WORLD)      # world file every new tenant starts from
    seed: int = 0                        # seeds ids, tokens, faker data and chaos
    workers: int = 1                     # > 1 needs a shared store (sqlite, redis)
    threads: int = field(default_factory=lambda: default_threads())  # per worker, server.py
    pin_threads: bool = True             # a worker's Python threads on one CPU (affinity.py)
    tls: bool = False                    # serve HTTPS (self-signed unless cert/key)
    cert: str = ""                       # PEM certificate for --tls
    key: str = ""                        # PEM private key for --tls
    home: str = str(Path.home() / ".mockcloud")  # the self-signed cert, built worlds
    world_cache: str = "auto"            # built worlds kept in <home>/worlds: auto|on|off
    journal_size: int = 1000             # exchanges kept per tenant
    journal_bodies: int = 65536          # bytes of each body kept in the journal
    max_body: int = 1048576              # bytes a vendor request body may have (413 past)
    admin_token: str = ""                # required by /_mockcloud/ when set
    vendors: str = ""                    # more vendors to mount: "package.module:VENDOR,..."
    webhook_timeout: float = 5.0         # seconds a webhook receiver gets per socket wait
    webhook_history: int = 1000          # webhook deliveries kept per tenant (admin API)
    tenant_idle: float = 0.0             # seconds unused before a tenant is deleted (0: never)
    log_level: str = "warning"

    @classmethod
    def from_env(cls, env: dict[str, str] | None = None, **overrides: Any) -> Settings:
        values = _from_env(cls, "", env)
        values.update({k: v for k, v in overrides.items() if v is not None})
        return cls(**values)

    def to_env(self) -> dict[str, str]:
        return {f"MOCKCLOUD_{f.name.upper()}": _render(getattr(self, f.name))
                for f in fields(self)}


def vendor_settings(cls: type, vendor: str, env: dict[str, str] | None = None) -> Any:
    """A vendor's own settings (a dataclass), each field from
    ``MOCKCLOUD_<VENDOR>_<FIELD>`` or its default."""
    return cls(**_from_env(cls, f"{vendor}_", env))


def _from_env(cls: type, prefix: str, env: dict[str, str] | None) -> dict[str, Any]:
    """The fields of dataclass ``cls`` that ``MOCKCLOUD_<PREFIX><FIELD>`` sets."""
    env = os.environ if env is None else env
    values: dict[str, Any] = {}
    for f in fields(cls):
        name = f"{prefix}{f.name}"
        raw = env.get(f"MOCKCLOUD_{name.upper()}")
        if raw is not None:
            values[f.name] = _coerce(f.type, raw, name)
    return values


def _coerce(kind: Any, raw: str, name: str) -> Any:
    kind = kind if isinstance(kind, str) else kind.__name__
    if kind == "bool":
        if raw.lower() in ("1", "true", "yes", "on"):
            return True
        if raw.lower() in ("0", "false", "no", "off", ""):
            return False
        raise ValueError(f"MOCKCLOUD_{name.upper()}: expected true/false, got {raw!r}")
    if kind in ("int", "float"):
        try:
            return int(raw) if kind == "int" else float(raw)
        except ValueError:
            what = "an integer" if kind == "int" else "a number"
            msg = f"MOCKCLOUD_{name.upper()}: expected {what}, got {raw!r}"
            raise ValueError(msg) from None
    return raw


def _render(value: Any) -> str:
    return ("true" if value else "false") if isinstance(value, bool) else str(value)
