"""UTC offsets of an IANA time zone over arrays of instants, as ``datetime`` gives them.

:func:`offset` is the scalar reference: ``datetime.fromtimestamp(t, tz).utcoffset()``
in seconds. :func:`utc_offsets` gives it for every (integer) instant of an array, and
:func:`wall_to_utc` turns local wall-clock times into instants as
``naive.replace(tzinfo=tz).timestamp()`` does (``fold=0``: a wall time in a gap or
a fold takes the offset in force before the change).

Both read the zone's offset changes from :func:`changes`, which finds them through the
public ``datetime`` API only: the offset at every UTC midnight of a 365-day chunk, then
a bisection to the second wherever two consecutive days differ, memoised per (zone,
chunk). A day's step is safe because no zone's offset has changed twice within a week
since 1970 (the closest pair in the tz database, checked over every zone: 167 hours,
Asia/Gaza and a few Brazilian zones); the second of the two would otherwise be missed.
A chunk costs about 370 ``datetime`` calls once; a lookup then costs a binary search.
"""

from __future__ import annotations

from datetime import datetime
from functools import lru_cache
from zoneinfo import ZoneInfo

import numpy as np

DAY = 86400
CHUNK = 365 * DAY


def offset(tz: ZoneInfo, t: float) -> int:
    """Seconds east of UTC at instant ``t``."""
    off = datetime.fromtimestamp(t, tz).utcoffset()
    return int(off.total_seconds()) if off else 0


@lru_cache(maxsize=4096)
def _chunk(tz: ZoneInfo, c: int) -> tuple[tuple[int, int, int], ...]:
    """(T, before, after) for each change at T with c * CHUNK < T <= (c + 1) * CHUNK,
    T the first second of the new offset."""
    start = c * CHUNK
    grid = list(range(start, start + CHUNK + 1, DAY))
    offs = [offset(tz, x) for x in grid]
    out = []
    for i in range(1, len(grid)):
        before = offs[i - 1]
        if offs[i] == before:
            continue
        lo, hi = grid[i - 1], grid[i]            # offset(lo) == before != offset(hi)
        while hi - lo > 1:
            mid = (lo + hi) // 2
            if offset(tz, mid) == before:
                lo = mid
            else:
                hi = mid
        out.append((hi, before, offset(tz, hi)))
    return tuple(out)


def changes(tz: ZoneInfo, a: float, b: float) -> list[tuple[int, int, int]]:
    """The offset changes (T, before, after) with a < T <= b, in order."""
    out: list[tuple[int, int, int]] = []
    for c in range(int(a // CHUNK), int(b // CHUNK) + 1):
        out += [x for x in _chunk(tz, c) if a < x[0] <= b]
    return out


def utc_offsets(tz: ZoneInfo, t: np.ndarray) -> np.ndarray:
    """:func:`offset` (int64) for every integer instant of ``t``."""
    t = np.asarray(t)
    if t.size == 0:
        return np.zeros(0, dtype=np.int64)
    lo, hi = int(np.floor(t.min())), int(np.ceil(t.max()))
    first = offset(tz, lo)
    found = changes(tz, lo, hi)
    if not found:
        return np.full(t.shape, first, dtype=np.int64)
    at = np.array([x[0] for x in found], dtype=np.int64)
    offs = np.array([first] + [x[2] for x in found], dtype=np.int64)
    return offs[np.searchsorted(at, t, side="right")]


def wall_to_utc(tz: ZoneInfo, wall: np.ndarray) -> np.ndarray:
    """Instants (int64) of local wall-clock times given as seconds since 1970-01-01T00:00
    *local*, as ``datetime(...).replace(tzinfo=tz).timestamp()`` with ``fold=0``.

    zoneinfo's rule: a change at T from offset o1 to o2 applies to wall times from
    T + max(o1, o2) on, so a wall time in a gap (o2 > o1) or a fold (o1 > o2) takes o1."""
    wall = np.asarray(wall, dtype=np.int64)
    if wall.size == 0:
        return wall.copy()
    lo, hi = int(wall.min()) - 2 * DAY, int(wall.max()) + 2 * DAY
    first = offset(tz, lo)
    found = changes(tz, lo, hi)
    if not found:
        return wall - first
    starts = np.array([t + max(o1, o2) for t, o1, o2 in found], dtype=np.int64)
    offs = np.array([first] + [x[2] for x in found], dtype=np.int64)
    return wall - offs[np.searchsorted(starts, wall, side="right")]
