"""Where the contract files are: found through the package (importlib.resources), so a
checkout and an installed wheel answer the same.

::

    from contracts import openapi_path, schema_path
    openapi_path("lightify")            # .../contracts/openapi/lightify.yaml
    schema_path("lightify", "device")   # .../contracts/schemas/lightify/device.json

The paths are real files: the package is installed as files (never zipped), and the
OpenAPI documents ``$ref`` their schemas by relative path, so the folder layout matters.
"""

from __future__ import annotations

from importlib.resources import files
from pathlib import Path

__all__ = ["contracts_dir", "openapi_path", "schema_path"]


def contracts_dir() -> Path:
    """The folder holding ``openapi/`` and ``schemas/``."""
    return Path(str(files("contracts")))


def openapi_path(name: str) -> Path:
    """The OpenAPI document of a vendor (or ``admin``): ``openapi/<name>.yaml``."""
    return contracts_dir() / "openapi" / _with_suffix(name, ".yaml")


def schema_path(vendor: str, name: str) -> Path:
    """A JSON Schema of a vendor: ``schemas/<vendor>/<name>.json``."""
    return contracts_dir() / "schemas" / vendor / _with_suffix(name, ".json")


def _with_suffix(name: str, suffix: str) -> str:
    if not name or "/" in name or "\\" in name or name.startswith("."):
        raise ValueError(f"not a contract file name: {name!r}")
    return name if name.endswith(suffix) else name + suffix
