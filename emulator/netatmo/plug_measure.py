"""getmeasure for lights, dimmers, plugs, fans and consumption meters (``home_devices``'s
metered families: ``METERED``): the energy
they used and the power they drew, from the same device log and clock as homestatus's
``power`` and ``sum_energy_elec`` (``energy.energy_measure`` calls :func:`columns`).

pyatmo 9 asks for a switch (``EnergyHistoryMixin``) ``device_id`` = its bridge,
``module_id`` = the module, ``type=sum_energy_buy_from_grid,sum_energy_buy_from_grid$0,
...$1,...$2`` (an NLE: the legacy ``sum_energy_elec`` names), and sums every non-null
value of a row (sample getmeasure_energy_<module>.json: the generic column null, the
``$0`` one the Wh). Types (any case):

* ``sum_energy_buy_from_grid``, ``sum_energy_elec`` and their ``$0`` / ``$1`` / ``$2``
  tariff columns: the Wh used in the bucket, in one column of a row -- ``$0`` (the
  base tariff: a switch has no peak hours) when it is asked, else the generic one; the
  others null (INFERRED: the sample shows a meter on its base tariff; one column so a
  client summing a row counts the Wh once). A bucket's Wh is homestatus's
  ``sum_energy_elec`` at its end less that at its start (both at most now, from the
  module's setup date), so the buckets from one instant to another add up to what
  homestatus's counter moved between them.
* ``power`` (INFERRED name, homestatus's): the mean of homestatus's ``power`` (W) at
  the bucket's reading instants (as getroommeasure's temperatures: a 30min bucket
  reads its start only, so its ``power`` is homestatus's at the bucket's start).

Shutters, cameras and the rest measure nothing here (400/21 naming the known types).

Scopes (INFERRED: the notes say only that device families other than the energy ones
need their own read_/write_ scope): a token with ``read_thermostat`` (or
``read_station`` / ``read_homecoach``, getmeasure's other alternatives) reads them as
any module; one with only the family's read scope (:func:`read_scope`: the read twin
of the write scope setstate asks, ``read_magellan`` for Legrand's lights, dimmers and
plugs) reads those modules and nothing else (403/13).
"""

from __future__ import annotations

from typing import Any

from ..core.context import Ctx
from . import home_devices

ENERGY = ("sum_energy_buy_from_grid", "sum_energy_elec")
TARIFFS = ("", "$0", "$1", "$2")
TYPES = (*(f"{e}{t}" for e in ENERGY for t in TARIFFS), "power")


def read_scope(mod: dict[str, Any]) -> str | None:
    """The device family's read scope that lets getmeasure read ``mod`` (a metered
    module's: its setstate scope's read twin, ``write_magellan`` -> ``read_magellan``);
    None for the others."""
    spec = home_devices.SPECS.get(mod["type"])
    if not metered(mod) or spec is None or not spec.scope:
        return None
    return "read_" + spec.scope.removeprefix("write_")


def metered(mod: dict[str, Any]) -> bool:
    """Does getmeasure measure this module's energy (a light, dimmer, plug, fan or
    consumption meter)?"""
    spec = home_devices.SPECS.get(mod["type"])
    return spec is not None and spec.family in home_devices.METERED


def _carriers(names: list[str]) -> set[str]:
    """The columns that carry the Wh: per name family, ``$0`` if asked, else the
    generic one."""
    out = set()
    for e in ENERGY:
        if f"{e}$0" in names:
            out.add(f"{e}$0")
        elif e in names:
            out.add(e)
    return out


def columns(ctx: Ctx, home: dict[str, Any], mod: dict[str, Any], names: list[str],
            buckets: list[tuple[int, int]], instants: list[list[int]], now: float,
            since: int) -> dict[str, list[Any]]:
    """The asked ``names``' values per bucket (``instants``: each bucket's reading
    instants, for ``power``)."""
    spec = home_devices.SPECS[mod["type"]]
    log = home_devices.load(ctx, home["id"]).get(mod["id"])

    def state(t: float) -> dict[str, Any]:
        return home_devices.state_at(spec, mod, log, t)

    carriers = _carriers(names)
    cols: dict[str, list[Any]] = {n: [] for n in names}
    for (a, b), ts in zip(buckets, instants, strict=True):
        start, end = max(a, since), max(min(b, now), since)
        wh = int(state(end)["energy_wh"]) - int(state(start)["energy_wh"]) \
            if end > start else 0
        watts = [home_devices.power(spec, mod, state(t)) for t in ts]
        for n in names:
            if n == "power":
                cols[n].append(round(sum(watts) / len(watts)))
            else:
                cols[n].append(wh if n in carriers else None)
    return cols
