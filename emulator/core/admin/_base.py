"""What every admin view shares: the emulator and the request's context, the JSON body,
integer query arguments, and the media types a view takes."""

from __future__ import annotations

import json
import math
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, TypeVar

from flask import current_app, request

from ..context import Ctx, current
from ..errors import MockcloudError

if TYPE_CHECKING:  # pragma: no cover
    from ...app import Mockcloud

JSON = "application/json"
YAML = ("application/yaml", "application/x-yaml", "text/yaml")
View = TypeVar("View", bound=Callable[..., Any])


def mockcloud() -> Mockcloud:
    """The emulator serving this request (``emulator.app.Mockcloud``)."""
    return current_app.extensions["mockcloud"]


def ctx() -> Ctx:
    """The request's tenant, store, clock and settings."""
    return current()


def takes(*media_types: str) -> Callable[[View], View]:
    """The Content-Types a write accepts (default: JSON only); ``lock`` enforces it."""

    def mark(view: View) -> View:
        view.media_types = media_types  # type: ignore[attr-defined]
        return view

    return mark


def media_types(view: Callable[..., Any] | None) -> tuple[str, ...]:
    return getattr(view, "media_types", (JSON,))


MAX_DEPTH = 64  # nesting of a JSON body (or a world file) the admin API reads


def json_body() -> Any:
    """The body as strict JSON: no NaN, no Infinity, no number past a double, no lone
    surrogate (a ``\\ud800`` escape, which no UTF-8 text can hold), at most
    ``MAX_DEPTH`` levels deep. An empty body is ``{}``."""
    raw = request.get_data(cache=True)
    if not raw.strip():
        return {}
    try:
        value = json.loads(raw, parse_constant=_no_constant, parse_float=_finite)
    except (ValueError, RecursionError) as exc:
        raise MockcloudError("invalid_request", f"the body is not valid JSON: {exc}",
                             code="invalid_json") from None
    problem = document_problem(value)
    if problem:
        raise MockcloudError("invalid_request", f"the body is not valid JSON: {problem}",
                             code="invalid_json")
    return value


def document_problem(value: Any, max_depth: int = MAX_DEPTH) -> str | None:
    """What makes a parsed document unfit to keep, if anything: a string (or key) that
    is not UTF-8 text, or nesting deeper than ``max_depth``. Each container is visited
    once (YAML aliases may share one many times over)."""
    stack: list[tuple[Any, int]] = [(value, 0)]
    seen: set[int] = set()
    while stack:
        item, depth = stack.pop()
        if isinstance(item, str):
            try:
                item.encode("utf-8")
            except UnicodeEncodeError:
                return "a string holds a lone surrogate (a \\ud800-\\udfff escape)"
        elif isinstance(item, dict | list | tuple) and id(item) not in seen:
            if depth >= max_depth:
                return f"it is nested deeper than {max_depth} levels"
            seen.add(id(item))
            children = [*item.keys(), *item.values()] if isinstance(item, dict) else item
            stack.extend((child, depth + 1) for child in children)
    return None


def _no_constant(name: str) -> Any:
    raise ValueError(f"{name} is not a JSON number")


def _finite(text: str) -> float:
    value = float(text)
    if not math.isfinite(value):
        raise ValueError(f"{text[:40]} is out of range for a number")
    return value


def int_arg(name: str, default: int | None = None) -> int | None:
    """A query argument that must be an integer from 0 up (else 400 ``invalid_request``)."""
    raw = request.args.get(name)
    if raw is None:
        return default
    try:
        value = int(raw)
    except ValueError:
        raise MockcloudError("invalid_request", f"'{name}' must be an integer, "
                             f"not {raw[:40]!r}") from None
    if value < 0:
        raise MockcloudError("invalid_request", f"'{name}' must be at least 0")
    return value


def flag_arg(name: str, default: bool) -> bool:
    raw = request.args.get(name)
    if raw is None:
        return default
    return raw.strip().lower() not in ("false", "0", "no", "off")


def vendor_or_404(name: str) -> Any:
    vendor = mockcloud().vendors.get(name)
    if vendor is None:
        known = ", ".join(sorted(mockcloud().vendors))
        raise MockcloudError("not_found", f"no vendor {name!r} (mounted: {known})")
    return vendor
