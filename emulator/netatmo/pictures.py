"""Small, real JPEG pictures for ``getcamerapicture``, drawn deterministically.

A snapshot is 160 x 120, a vignette 64 x 64, a face 120 x 120 (Netatmo's documented
size for faces). What is drawn depends only on the text given (an event's id and the
picture's role) and the scene: a floor and a wall (indoor), or grass and sky, dark at
night unless the floodlight lit it (outdoor); a person (their colour from their id), an
animal or a vehicle. The same arguments give the same bytes (Pillow's encoder at a
fixed quality, no metadata), memoised.
"""

from __future__ import annotations

import hashlib
import io
from functools import lru_cache

from PIL import Image, ImageDraw

SNAPSHOT, VIGNETTE, FACE = (160, 120), (64, 64), (120, 120)
QUALITY = 80
# where media URLs point when no request says otherwise (INFERRED: the cloud's are
# blob-storage URLs; the emulator's are its own ``getcamerapicture``)
BASE = "https://api.netatmo.com"


def url(image_id: str, key: str, base: str = "") -> str:
    """A picture's URL: ``getcamerapicture`` with its id and key, under ``base`` (the
    base URL the client used: scheme, host, port, tenant, prefix; default ``BASE``),
    so the client can fetch it from the emulator that answered (with its token, as
    for any ``getcamerapicture``)."""
    return f"{base or BASE}/api/getcamerapicture?image_id={image_id}&key={key}"


def rebase(value: str, base: str) -> str:
    """A URL made under ``BASE`` moved under ``base`` (others unchanged)."""
    if base and value.startswith(BASE + "/"):
        return base + value[len(BASE):]
    return value


def _bytes(text: str) -> bytes:
    return hashlib.sha256(text.encode()).digest()


def _colour(b: bytes, lo: int = 40, hi: int = 220) -> tuple[int, int, int]:
    return tuple(lo + x * (hi - lo) // 255 for x in b[:3])  # type: ignore[return-value]


def _encode(img: Image.Image) -> bytes:
    buf = io.BytesIO()
    img.save(buf, format="JPEG", quality=QUALITY, optimize=False, progressive=False)
    return buf.getvalue()


def _backdrop(w: int, h: int, outdoor: bool, night: bool, lit: bool
              ) -> tuple[Image.Image, ImageDraw.ImageDraw, int]:
    """A picture's floor and wall (indoor) or grass and sky (outdoor; dark at night
    unless lit): the image, its drawing and the horizon's height."""
    img = Image.new("RGB", (w, h))
    draw = ImageDraw.Draw(img)
    horizon = h * 3 // 5
    if outdoor:
        sky, ground = ((20, 24, 48), (18, 40, 20)) if night else ((135, 190, 235),
                                                                  (70, 140, 60))
        if night and lit:
            sky, ground = (70, 70, 60), (90, 120, 70)
    else:
        sky, ground = (200, 190, 170), (120, 90, 60)
    draw.rectangle((0, 0, w, horizon), fill=sky)
    draw.rectangle((0, horizon, w, h), fill=ground)
    return img, draw, horizon


@lru_cache(maxsize=512)
def scene(text: str, kind: str, person: str | None = None, night: bool = False,
          lit: bool = False, small: bool = False) -> bytes:
    """A camera picture: ``kind`` is person / movement (indoor) or human / animal /
    vehicle (outdoor)."""
    w, h = VIGNETTE if small else SNAPSHOT
    b = _bytes(text)
    img, draw, horizon = _backdrop(w, h, kind in ("human", "animal", "vehicle"), night,
                                   lit)
    if night and lit:
        draw.polygon([(w // 2, 0), (w // 2 - w // 3, h), (w // 2 + w // 3, h)],
                     fill=(200, 200, 150))
    x = w // 5 + b[3] * (w * 3 // 5) // 255
    unit = h // 8
    if kind in ("person", "human", "movement"):
        body = _colour(_bytes(person or text))
        draw.ellipse((x - unit // 2, horizon - 4 * unit, x + unit // 2,
                      horizon - 3 * unit), fill=(230, 190, 160))
        draw.rectangle((x - unit // 2, horizon - 3 * unit, x + unit // 2, horizon),
                       fill=body)
    elif kind == "animal":
        draw.ellipse((x - unit, horizon - unit, x + unit, horizon), fill=_colour(b[4:], 60,
                                                                                 160))
        draw.ellipse((x + unit // 2, horizon - 3 * unit // 2, x + 3 * unit // 2,
                      horizon - unit // 2), fill=_colour(b[4:], 60, 160))
    elif kind == "vehicle":
        draw.rectangle((x - 2 * unit, horizon - 2 * unit, x + 2 * unit, horizon),
                       fill=_colour(b[4:]))
        for cx in (x - unit, x + unit):
            draw.ellipse((cx - unit // 2, horizon - unit // 2, cx + unit // 2,
                          horizon + unit // 2), fill=(20, 20, 20))
    return _encode(img)


LIVE = (1280, 720)


@lru_cache(maxsize=64)
def live(camera_id: str, second: int, outdoor: bool, night: bool = False,
         lit: bool = False) -> bytes:
    """A camera's live view (``/live/snapshot_720.jpg``) at a whole second: its
    room or garden, nobody in it (what was seen is in the events' snapshots), dark
    at night outdoors unless the floodlight is on, and a bar along the bottom that
    grows with the second of the minute, so two seconds give two pictures."""
    w, h = LIVE
    img, draw, horizon = _backdrop(w, h, outdoor, night, lit)
    x = w // 5 + _bytes(camera_id)[0] * (w * 3 // 5) // 255
    draw.rectangle((x, horizon - h // 4, x + w // 10, horizon), fill=_colour(
        _bytes(camera_id + "furniture")))
    draw.rectangle((0, h - 8, (second % 60 + 1) * w // 60, h), fill=(240, 240, 240))
    return _encode(img)


@lru_cache(maxsize=256)
def face(person_id: str, known: bool = True) -> bytes:
    """A person's face picture (an unknown face is greyer)."""
    w, h = FACE
    b = _bytes(person_id)
    img = Image.new("RGB", (w, h), _colour(b, 150, 230) if known else (150, 150, 150))
    draw = ImageDraw.Draw(img)
    skin = (225, 185, 155) if known else (180, 180, 180)
    draw.ellipse((w // 4, h // 6, 3 * w // 4, 5 * h // 6), fill=skin)
    eye = 6 + b[5] % 4
    for cx in (w * 2 // 5, w * 3 // 5):
        draw.ellipse((cx - eye // 2, h * 2 // 5, cx + eye // 2, h * 2 // 5 + eye),
                     fill=(40, 40, 40))
    draw.arc((w * 2 // 5, h // 2, w * 3 // 5, h * 2 // 3), 20, 160, fill=(120, 40, 40),
             width=3)
    return _encode(img)
