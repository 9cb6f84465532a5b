"""``GET /world``: the tenant's world as it is now; ``PUT``/``POST /world``: load one."""

from __future__ import annotations

import yaml
from flask import Blueprint, Response, jsonify, request

from .. import world as worlds
from ..errors import MockcloudError
from ._base import JSON, YAML, ctx, document_problem, mockcloud, takes

bp = Blueprint("world", __name__)


@bp.get("/world")
def export() -> Response:
    c = ctx()
    data = worlds.export(c.store, c.tenant, mockcloud().vendors)
    if request.args.get("format") == "yaml" or "yaml" in request.headers.get("Accept", ""):
        return Response(yaml.safe_dump(data, sort_keys=False, allow_unicode=True),
                        mimetype="application/yaml")
    return jsonify(data)


@bp.route("/world", methods=["PUT", "POST"])
@takes(JSON, *YAML)
def load() -> Response:
    """A world file, YAML or JSON (JSON is YAML); validated whole before the tenant's
    world is replaced."""
    c, mc = ctx(), mockcloud()
    text = request.get_data(as_text=True)
    try:
        data = worlds.parse(text, "request body")
        problem = document_problem(data)
        if problem:
            raise worlds.WorldError(f"request body: {problem}")
        rows = worlds.build(data, mc.vendors, mc.settings.seed)
    except worlds.WorldError as exc:
        raise MockcloudError("invalid_request", str(exc), code="invalid_world") from None
    except RecursionError:
        raise MockcloudError("invalid_request", "request body: the world is nested too "
                             "deeply to read", code="invalid_world") from None
    worlds.install(c.store, c.tenant, rows, "admin API", c.now())
    kinds: dict[str, int] = {}
    for kind, _, _ in rows:
        kinds[kind] = kinds.get(kind, 0) + 1
    return jsonify({"status": "loaded", "tenant": c.tenant, "documents": kinds})
