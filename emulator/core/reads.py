"""Recorded reads, as a vendor's ``from_reads`` hook sees them (``world from-cassette``).

The toolkit (``emulator.toolkit.from_cassette``) reads cassettes and sample folders,
keeps the successful answers, works out each one's vendor and hands that vendor its
reads with the path as the vendor itself names it (no host, tenant or vendor prefix).
The vendor turns them into users of its world section and says what it could not
express. Nothing here knows a vendor.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True)
class Read:
    """One recorded successful answer."""

    source: str                  # "cassette.yaml#3" or a sample's file name
    method: str                  # upper case; "GET" when the recording does not say
    path: str                    # the vendor's own path, e.g. "/api/homesdata"
    query: dict[str, str]        # the URL's query (first value of each name)
    status: int | None
    body: Any                    # parsed JSON; raw text or None otherwise


@dataclass
class FromReads:
    """What a vendor made of its reads.

    ``users``: world user entries (``email``/``login``, ``password``, ``name`` and the
    vendor's fields), first the one most reads belong to. ``replay``: per source
    ``{"user", "params", "unlike"}``: the login of the user whose world answers that
    read, the parameters a replay needs that the recording may lack (e.g. a Netatmo
    sample's ``home_id``), and the key paths of the read (lists collapsed to ``[]``,
    ``body.home.modules[].fan_speed``) the world cannot give back, each also a gap. ``gaps``: what
    the recordings have that the world cannot say (never dropped silently).
    ``ignored``: sources not used, with the reason (writes, unknown endpoints)."""

    users: list[dict[str, Any]] = field(default_factory=list)
    replay: dict[str, dict[str, Any]] = field(default_factory=dict)
    gaps: list[str] = field(default_factory=list)
    ignored: list[str] = field(default_factory=list)

    def gap(self, text: str) -> None:
        if text not in self.gaps:
            self.gaps.append(text)


def merge_field(entry: dict[str, Any], key: str, value: Any, out: FromReads,
                where: str, moving: frozenset[str] = frozenset()) -> None:
    """Set ``entry[key]`` from a read: moving values take the latest read, a static
    value the first one (a later, different one is reported as a gap)."""
    if key in entry and entry[key] != value and key not in moving:
        out.gap(f"{where}.{key}: recorded as {entry[key]!r} and as {value!r}; "
                f"the world keeps {entry[key]!r}")
        return
    entry[key] = value


# ---- recorded shapes ------------------------------------------------------------------
# A recording may be hand-edited, truncated or simply not what the vendor documents. A
# vendor describes the shape it reads -- a mapping of the keys it looks at, ``[item]``
# for a list, a type for a leaf, ``Required`` wrapping what an item cannot go without
# (its id) -- and :func:`tidy` keeps what fits: a key of another shape is left out, a
# list item without its required keys is left out, each reported as a gap.


@dataclass(frozen=True)
class Required:
    """In a shape: the key an item cannot go without (the item is left out)."""

    shape: Any


def _fits_leaf(value: Any, shape: type | tuple[type, ...]) -> bool:
    if isinstance(value, bool):
        return shape is bool or (isinstance(shape, tuple) and bool in shape)
    return isinstance(value, shape)


def tidy(value: Any, shape: Any, where: str, out: FromReads) -> Any:
    """``value`` trimmed to ``shape``; None when it does not fit at all."""
    if isinstance(shape, Required):
        shape = shape.shape
    if isinstance(shape, dict):
        if not isinstance(value, dict):
            return None
        kept = dict(value)
        for key, inner in shape.items():
            if key not in value:
                continue
            fitted = tidy(value[key], inner, f"{where}.{key}", out)
            if fitted is None:
                if isinstance(inner, Required):
                    return None
                kept.pop(key)
                out.gap(f"{where}.{key}: recorded as {_brief(value[key])}, not the shape "
                        "the vendor answers: left out")
            else:
                kept[key] = fitted
        missing = [k for k, inner in shape.items() if isinstance(inner, Required)
                   and k not in value]
        return None if missing else kept
    if isinstance(shape, list):
        if not isinstance(value, list):
            return None
        items = []
        for i, item in enumerate(value):
            fitted = tidy(item, shape[0], f"{where}[{i}]", out)
            if fitted is None:
                out.gap(f"{where}[{i}]: recorded as {_brief(item)}, not the shape the "
                        "vendor answers: left out")
            else:
                items.append(fitted)
        return items
    return value if _fits_leaf(value, shape) else None


def _brief(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 50 else text[:47] + "..."
