"""Reference client of the OSRAM Lightify cloud "Public API" (v4).

The paths are the real cloud's (``/oauth2/authorize``, ``/oauth2/access_token``,
``/oauth2/revoke_token``, ``/v4/devices/`` ...); only the base URL changes between the
real cloud (``LightifyClient.for_region("emea", ...)``) and mockcloud
(``LightifyClient(id, secret, "http://127.0.0.1:PORT/lightify")``).

List methods return the list inside the envelope (``{"devices": [...]}`` ->
``[...]``); single-item and PATCH methods return the object the cloud answers.
Client credentials go in the form body, as every known Lightify client sent them.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import quote

from .base import OAuth2Session

EMEA = "https://emea.lightify-api.com"
NA = "https://na.lightify-api.com"
REGIONS: dict[str, str] = {"emea": EMEA, "na": NA}

Json = dict[str, Any]


def region_url(region: str) -> str:
    """The base URL of a Lightify region: ``emea`` or ``na``."""
    try:
        return REGIONS[region.lower()]
    except KeyError:
        raise ValueError(f"unknown Lightify region {region!r}; use one of "
                         f"{', '.join(REGIONS)}") from None


class LightifyClient(OAuth2Session):
    AUTHORIZE_PATH = "/oauth2/authorize"
    TOKEN_PATH = "/oauth2/access_token"
    REVOKE_PATH = "/oauth2/revoke_token"
    API_PATH = "/v4"

    def __init__(self, client_id: str, client_secret: str, base_url: str = EMEA,
                 **kwargs: Any) -> None:
        super().__init__(client_id, client_secret, base_url, **kwargs)

    @classmethod
    def for_region(cls, region: str, client_id: str, client_secret: str,
                   **kwargs: Any) -> LightifyClient:
        return cls(client_id, client_secret, region_url(region), **kwargs)

    # -- plumbing -----------------------------------------------------------------

    def _path(self, collection: str, ident: str | None = None) -> str:
        if ident is None:
            return f"{self.API_PATH}/{collection}/"
        return f"{self.API_PATH}/{collection}/{quote(ident, safe='')}"

    def _list(self, collection: str) -> list[Json]:
        return self.call("GET", self._path(collection))[collection]

    def _get(self, collection: str, ident: str) -> Json:
        return self.call("GET", self._path(collection, ident))

    def _patch(self, collection: str, ident: str, body: Json) -> Json:
        return self.call("PATCH", self._path(collection, ident), json=body)

    # -- devices ------------------------------------------------------------------

    def devices(self) -> list[Json]:
        return self._list("devices")

    def device(self, device_id: str) -> Json:
        return self._get("devices", device_id)

    def set_device(self, device_id: str, **props: Any) -> Json:
        """PATCH one or more of onOff, brightness, color, colorTemperature, colorRGBW."""
        return self._patch("devices", device_id, props)

    def turn_on(self, device_id: str) -> Json:
        return self.set_device(device_id, onOff="on")

    def turn_off(self, device_id: str) -> Json:
        return self.set_device(device_id, onOff="off")

    def set_brightness(self, device_id: str, brightness: int) -> Json:
        """Brightness in percent, 0-100."""
        return self.set_device(device_id, brightness=brightness)

    def set_color(self, device_id: str, color: str) -> Json:
        """A named colour: red, green, blue, yellow, purple, orange or pink."""
        return self.set_device(device_id, color=color)

    def set_color_temperature(self, device_id: str, kelvin: int) -> Json:
        return self.set_device(device_id, colorTemperature=kelvin)

    def set_rgbw(self, device_id: str, red: int, green: int, blue: int,
                 white: int = 0) -> Json:
        rgbw = {"red": red, "green": green, "blue": blue, "white": white}
        return self.set_device(device_id, colorRGBW=rgbw)

    # -- groups ---------------------------------------------------------------------

    def groups(self) -> list[Json]:
        return self._list("groups")

    def group(self, group_id: str) -> Json:
        return self._get("groups", group_id)

    def set_group(self, group_id: str, **props: Any) -> Json:
        """PATCH the group; members that do not support a property ignore it."""
        return self._patch("groups", group_id, props)

    # -- scenes ---------------------------------------------------------------------

    def scenes(self) -> list[Json]:
        return self._list("scenes")

    def scene(self, scene_id: str) -> Json:
        return self._get("scenes", scene_id)

    def apply_scene(self, scene_id: str) -> Json:
        return self._patch("scenes", scene_id, {"action": "apply"})
