"""Deterministic device behaviour over virtual time, vendor-neutral.

- :mod:`.weather`: outdoor weather, a closed-form function of (place, seed, t).
- :mod:`.thermal`: a heated room, first order, integrated exactly from t - 5 tau.
- :mod:`.indoor`: indoor air (CO2, humidity, noise) and an air-quality index.
- :mod:`.battery`: battery drain over months.
- :mod:`.localtime`: UTC offsets and local wall-clock instants of a time zone, over arrays.

Nothing here reads a clock: every function takes the instant it is asked about.
Weather and indoor air also come as numpy series (``outdoor_series``, ``air_series``, ...)
over an array of instants, equal element by element to the scalar functions.
"""

from .battery import Battery, battery
from .indoor import Air, air, health_idx
from .thermal import (
    RoomModel,
    RoomState,
    Segment,
    anticipating,
    anticipation_time,
    history_start,
    room_state,
)
from .weather import Place, Weather, outdoor, rain_total

__all__ = [
    "Air", "Battery", "Place", "RoomModel", "RoomState", "Segment", "Weather", "air",
    "anticipating", "anticipation_time", "battery", "health_idx", "history_start",
    "outdoor", "rain_total", "room_state",
]
