"""``GET /clock`` and ``POST /clock[/<action>]``: the tenant's virtual clock (freeze,
resume, advance, set). Bodies: ``clock_request.json``, ``clock_action_request.json``."""

from __future__ import annotations

from typing import Any

from flask import Blueprint, Response, jsonify, request

from ..clock import parse_instant
from ..errors import MockcloudError
from ..webhooks import nudge
from ._base import ctx, json_body
from .schemas import checked

bp = Blueprint("clock", __name__)
ACTIONS = ("freeze", "resume", "advance", "set")


@bp.get("/clock")
def describe() -> Response:
    return jsonify(ctx().clock.describe())


@bp.post("/clock")
def command() -> Response:
    """The action in the body: ``{"action": "advance", "seconds": 60}``."""
    body = checked("clock_request", json_body())
    return _move(body["action"], body)


@bp.post("/clock/<action>")
def action(action: str) -> Response:
    """The action in the path: ``POST /clock/advance {"seconds": 60}``."""
    if action not in ACTIONS:
        raise MockcloudError("invalid_request", f"no clock action {action[:40]!r}: use "
                             f"{', '.join(ACTIONS[:-1])} or {ACTIONS[-1]}")
    return _move(action, checked("clock_action_request", json_body()))


def _move(action: str, body: dict[str, Any]) -> Response:
    clock = ctx().clock
    try:
        if action == "freeze":
            clock.freeze(parse_instant(body["at"]) if "at" in body else None)
        elif action == "resume":
            clock.resume()
        elif action == "advance":
            seconds = body.get("seconds", request.args.get("seconds"))
            if seconds is None:
                raise ValueError("'seconds' is required (in the body or as ?seconds=)")
            clock.advance(_seconds(seconds))
        else:
            if "at" not in body:
                raise ValueError("'at' is required: epoch seconds or ISO-8601 with a zone")
            clock.set(parse_instant(body["at"]))
    except (ValueError, OverflowError) as exc:
        raise MockcloudError("invalid_request", str(exc)) from None
    nudge()  # webhooks: events the clock passed are due
    return jsonify(clock.describe())


def _seconds(value: Any) -> float:
    try:
        return float(value)
    except (TypeError, ValueError):
        raise ValueError(f"'seconds' must be a number, not {str(value)[:40]!r}") from None
