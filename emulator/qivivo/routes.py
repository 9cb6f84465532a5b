"""Qivivo's HTTP surface (``/api/v2/...`` below the vendor mount): parse, call the
model, shape the reply.

Paths are the real cloud's; doubled slashes are folded (``Vendor.collapse_slashes``)
and a trailing slash is accepted. A ``Content-Type: application/json`` on a GET,
DELETE or body-less PUT is ignored (no body is read there). Bodies are JSON, or a
form (urlencoded or multipart: rQivivo's httr sends them so); numbers sent as
strings (``"20"``, ``"21.5"``) are taken as numbers; then the body is checked against
the contract's JSON Schema, a refusal naming each field (422 ``errors``).

Reads are remembered per whole second (``core.answers``) while the house's documents
are unchanged.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

import orjson
from flask import Blueprint, request
from jsonschema.exceptions import ValidationError

from ..core import bodies
from ..core.answers import Answers
from ..core.api import VendorAPI
from ..core.errors import MockcloudError
from ..core.flaskapp import MockResponse as Response
from ..core.oauth import Token
from .errors import INVALID
from .models import Qivivo

JSON_TYPE = "application/json"
NUMBER = re.compile(r"^\s*-?(\d+(\.\d*)?|\.\d+)\s*$")
NUMERIC_FIELDS = ("temperature", "duration", "new_nb_day")
ANSWERS = Answers("qivivo.answers", 512)
_CHECKERS: dict[str, bodies.BodySchema] = {}   # request schema name -> its checker
TH = "/api/v2/devices/thermostats/<uuid>"
WM = "/api/v2/devices/wireless-modules/<uuid>"

# scopes (any one of each list), as the contract's security requirements
READ_DEVICES = ["read_devices"]
READ_TH = ["read_thermostats"]
READ_TH_INFO = ["read_devices", "read_thermostats"]
READ_WM = ["read_wireless_modules"]
READ_WM_INFO = ["read_devices", "read_wireless_modules"]
READ_PROG = ["read_programmation"]
WRITE_PROG = ["update_programmation"]
WRITE_TEMP = ["update_thermostat", "update_programmation"]
WRITE_HOUSE = ["update_house_settings", "update_programmation"]
READ_HOUSE = ["read_house_data"]
WRITE_SETTINGS = ["update_house_settings"]


def reply(payload: Any, status: int = 200) -> Response:
    return Response(payload if isinstance(payload, bytes) else orjson.dumps(payload),
                    status=status, content_type=JSON_TYPE)


def _number(value: Any) -> Any:
    if isinstance(value, str) and NUMBER.match(value):
        text = value.strip()
        return float(text) if "." in text else int(text)
    return value


def _fields(error: ValidationError) -> list[str]:
    """The fields an error is about: each missing one of a ``required``, else its path."""
    if error.validator == "required" and isinstance(error.instance, dict):
        missing = [k for k in error.validator_value if k not in error.instance]
        if missing:
            return [".".join([*map(str, error.absolute_path), k]) for k in missing]
    path = ".".join(str(p) for p in error.absolute_path)
    return [path or "body"]


def _message(field: str, error: ValidationError) -> str:
    if error.validator == "required":
        return f"The {field} field is required."
    return bodies.describe(error)


def read_body(api: VendorAPI, schema: str) -> dict[str, Any]:
    """The request's body as a dict valid against ``schema`` (else 422 per field)."""
    environ = request.environ
    raw = environ.get("mockcloud.body") or b""
    ctype = (environ.get("CONTENT_TYPE") or "").lower()
    data: Any
    if ctype.startswith(("multipart/form-data", "application/x-www-form-urlencoded")) \
            and not raw.lstrip().startswith(b"{"):
        data = {k: request.form.get(k) for k in request.form}
    elif not raw.strip():
        data = {}
    else:
        try:
            data = orjson.loads(raw)
        except orjson.JSONDecodeError as exc:
            raise MockcloudError("invalid_request", f"The body is not valid JSON: {exc}",
                                 errors={"body": ["The body must be a JSON object."]}) \
                from None
    if not isinstance(data, dict):
        raise MockcloudError("invalid_request", "The body must be a JSON object.",
                             errors={"body": ["The body must be a JSON object."]})
    for k in NUMERIC_FIELDS:
        if type(data.get(k)) is str:
            data[k] = _number(data[k])
    checker = _CHECKERS.get(schema)
    if checker is None:
        checker = _CHECKERS[schema] = bodies.schema(api.vendor.schemas, schema)
    if checker.is_valid(data):
        return data
    errors: dict[str, list[str]] = {}
    for error in checker.slow.iter_errors(data):
        for field in _fields(error):
            said = errors.setdefault(field, [])
            message = _message(field, error)
            if message not in said:         # (a schema may say it twice)
                said.append(message)
    first = next(iter(errors.values()))[0] if errors else INVALID
    raise MockcloudError("invalid_request", first, errors=errors or {"body": [INVALID]})


def routes(api: VendorAPI) -> Blueprint:
    bp = Blueprint("qivivo", __name__)

    def model(token: Token) -> Qivivo:
        ctx = api.ctx()
        return Qivivo(ctx.store, ctx.tenant, token.user_id, float(int(ctx.now())))

    def read(path: str, name: str, scopes: list[str],
             fn: Callable[..., dict[str, Any]]) -> None:
        def view(token: Token, **kw: str):
            ctx = api.ctx()
            key = (name, ctx.tenant, token.user_id, tuple(kw.values()), int(ctx.now()))
            body = ANSWERS.get_or_compute(ctx, key,
                                          lambda: orjson.dumps(fn(model(token), **kw)))
            return reply(body)

        bp.add_url_rule(path, name, api.guard(scopes)(view), methods=["GET"])

    def write(path: str, name: str, method: str, scopes: list[str],
              fn: Callable[..., dict[str, Any]], schema: str | None = None) -> None:
        def view(token: Token, **kw: str):
            if schema is not None:
                kw["body"] = read_body(api, schema)  # type: ignore[assignment]
            return reply(fn(model(token), **kw))

        bp.add_url_rule(path, name, api.guard(scopes)(view), methods=[method])

    read("/api/v2/devices", "devices", READ_DEVICES, lambda m: m.devices())
    read(f"{TH}/info", "th_info", READ_TH_INFO, lambda m, uuid: m.thermostat_info(uuid))
    read(f"{TH}/temperature", "th_temp", READ_TH,
         lambda m, uuid: m.thermostat_temperature(uuid))
    read(f"{TH}/humidity", "th_hum", READ_TH, lambda m, uuid: m.humidity(uuid, "thermostat"))
    read(f"{TH}/presence", "th_presence", READ_TH, lambda m, uuid: m.presence(uuid))
    read(f"{TH}/programs", "th_programs", READ_PROG, lambda m, uuid: m.programs(uuid))
    write(f"{TH}/temperature/temporary-instruction", "ti_set", "POST", WRITE_TEMP,
          lambda m, uuid, body: m.set_instruction(uuid, body["temperature"],
                                                  body["duration"]),
          "temporary-instruction-request")
    write(f"{TH}/temperature/temporary-instruction", "ti_cancel", "DELETE", WRITE_TEMP,
          lambda m, uuid: m.cancel_instruction(uuid))
    write(f"{TH}/absence", "absence_set", "POST", WRITE_HOUSE,
          lambda m, uuid, body: m.set_absence(uuid, body["start_date"], body["end_date"]),
          "absence-request")
    write(f"{TH}/absence", "absence_cancel", "DELETE", WRITE_HOUSE,
          lambda m, uuid: m.cancel_absence(uuid))
    write(f"{TH}/arrival", "arrival_set", "POST", WRITE_HOUSE,
          lambda m, uuid, body: m.set_arrival(uuid, body["duration"]), "arrival-request")
    write(f"{TH}/arrival", "arrival_cancel", "DELETE", WRITE_HOUSE,
          lambda m, uuid: m.cancel_arrival(uuid))
    write(f"{TH}/programs", "program_create", "POST", WRITE_PROG,
          lambda m, uuid, body: m.create_program(uuid, body["name"], body["program"]),
          "program-create-request")
    write(f"{TH}/programs/<pid>/active", "program_active", "PUT", WRITE_PROG,
          lambda m, uuid, pid: m.activate_program(uuid, pid))
    write(f"{TH}/programs/<pid>/name", "program_name", "PUT", WRITE_PROG,
          lambda m, uuid, pid, body: m.rename_program(uuid, pid, body["new_name"]),
          "program-rename-request")
    write(f"{TH}/programs/<pid>/day/<day>", "program_day", "PUT", WRITE_PROG,
          lambda m, uuid, pid, day, body: m.update_day(uuid, pid, day,
                                                       body["program_day_update"]),
          "program-day-request")
    write(f"{TH}/programs/<pid>", "program_delete", "DELETE", WRITE_PROG,
          lambda m, uuid, pid: m.delete_program(uuid, pid))
    read(f"{WM}/info", "wm_info", READ_WM_INFO, lambda m, uuid: m.module_info(uuid))
    read(f"{WM}/temperature", "wm_temp", READ_WM, lambda m, uuid: m.module_temperature(uuid))
    read(f"{WM}/humidity", "wm_hum", READ_WM,
         lambda m, uuid: m.humidity(uuid, "wireless-module"))
    read(f"{WM}/pilot-wire-order", "wm_order", READ_WM, lambda m, uuid: m.module_order(uuid))
    read(f"{WM}/programs", "wm_programs", READ_PROG, lambda m, uuid: m.module_programs(uuid))
    # the literal path before the <pid> one: "thermostat-zone" is no program id
    write(f"{WM}/programs/thermostat-zone", "wm_zone", "PUT", WRITE_PROG,
          lambda m, uuid: m.module_zone(uuid))
    write(f"{WM}/programs/<pid>/active", "wm_active", "PUT", WRITE_PROG,
          lambda m, uuid, pid: m.module_activate(uuid, pid))
    read("/api/v2/devices/gateways/<uuid>/info", "gw_info", READ_DEVICES,
         lambda m, uuid: m.gateway_info(uuid))
    read("/api/v2/habitation/data/last-presence", "last_presence", READ_HOUSE,
         lambda m: m.last_presence())
    read("/api/v2/habitation/data/settings", "settings", READ_HOUSE, lambda m: m.settings())
    read("/api/v2/habitation/data/events", "events", READ_HOUSE, lambda m: m.events())
    write("/api/v2/habitation/settings/define_temperature", "define_temperature", "PUT",
          WRITE_SETTINGS, lambda m, body: m.define_temperature(
              body["temperature_setting_name"], body["temperature"]),
          "define-temperature-request")
    write("/api/v2/habitation/settings/absence/alert", "absence_alert", "PUT",
          WRITE_SETTINGS, lambda m, body: m.absence_alert(body["new_nb_day"]),
          "absence-alert-request")
    return bp
