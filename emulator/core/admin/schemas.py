"""Request bodies of the admin API, checked against their contract:
``contracts/schemas/admin/*_request.json`` (JSON Schema 2020-12). What a schema can say
(shape, types, ranges, required and unknown fields) is said there only; the views keep
the semantic checks (an instant that parses, a vendor that is mounted).

One deviation from plain JSON Schema, as the schemas' descriptions say: an integer
must be a JSON integer (``5``, not ``5.0``).
"""

from __future__ import annotations

from typing import Any

from contracts.files import contracts_dir

from .. import bodies


def checked(name: str, body: Any, code: str = "invalid_request") -> Any:
    """``body`` when it is valid under schema ``name``, else a 400 naming the field.

    The error's code is ``code`` (e.g. ``invalid_fault``), but ``invalid_request`` when
    the body is not even of the right type (not an object)."""
    return bodies.schema(contracts_dir() / "schemas" / "admin", name,
                         strict_integers=True).check(body, code)
