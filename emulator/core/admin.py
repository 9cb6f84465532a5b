"""The control plane under ``/_mockcloud/``: health, reset, world, clock, faults,
journal, tokens, quotas, and the OpenAPI documents. Per tenant, like everything.

Errors are ``{"error": <code>, "message": <text>}`` with a 4xx status.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import TYPE_CHECKING, Any

import yaml
from flask import Blueprint, Response, jsonify, request

from . import world
from .clock import iso, parse_instant
from .context import Ctx, current
from .faults import Faults, parse_rule
from .journal import Journal, to_cassette
from .oauth import Token, Tokens
from .quotas import QuotaConfig, Quotas

if TYPE_CHECKING:  # pragma: no cover
    from ..app import Mockcloud

ADMIN_OPENAPI = Path(__file__).resolve().parents[2] / "contracts" / "openapi" / "admin.yaml"


class AdminError(Exception):
    def __init__(self, status: int, code: str, message: str) -> None:
        super().__init__(message)
        self.status, self.code, self.message = status, code, message


def _body() -> Any:
    raw = request.get_data(cache=True)
    if not raw.strip():
        return {}
    try:
        return json.loads(raw, parse_constant=_no_constant)
    except ValueError as exc:
        raise AdminError(400, "invalid_json", f"body is not valid JSON: {exc}") from None


def _no_constant(name: str) -> Any:
    raise ValueError(f"{name} is not a JSON number")


def _obj() -> dict[str, Any]:
    body = _body()
    if not isinstance(body, dict):
        raise AdminError(400, "invalid_request", "the body must be a JSON object")
    return body


def _int_arg(name: str, default: int | None = None, minimum: int = 0) -> int | None:
    raw = request.args.get(name)
    if raw is None:
        return default
    try:
        value = int(raw)
    except ValueError:
        raise AdminError(400, "invalid_request", f"'{name}' must be an integer") from None
    if value < minimum:
        raise AdminError(400, "invalid_request", f"'{name}' must be at least {minimum}")
    return value


def make_admin(mc: Mockcloud) -> Blueprint:
    bp = Blueprint("admin", __name__)

    def ctx() -> Ctx:
        return current()

    @bp.errorhandler(AdminError)
    def _err(exc: AdminError):
        resp = jsonify({"error": exc.code, "message": exc.message})
        resp.status_code = exc.status
        return resp

    @bp.get("/")
    @bp.get("/health")
    def health():
        c = ctx()
        return jsonify({
            "status": "ok", "tenant": c.tenant, "vendors": sorted(mc.vendors),
            "state": "sqlite" if getattr(c.store, "shared", False) else "memory",
            "now": c.now(), "now_iso": iso(c.now()), "tenants": c.store.tenants(),
        })

    @bp.post("/reset")
    def reset():
        c = ctx()
        mc.reset(c.tenant)
        return jsonify({"status": "reset", "tenant": c.tenant})

    # ---------------------------------------------------------------- world
    @bp.get("/world")
    def world_export():
        data = world.export(ctx().store, ctx().tenant, mc.vendors)
        if request.args.get("format") == "yaml" or "yaml" in request.headers.get("Accept", ""):
            return Response(yaml.safe_dump(data, sort_keys=False, allow_unicode=True),
                            mimetype="application/yaml")
        return jsonify(data)

    @bp.route("/world", methods=["PUT", "POST"])
    def world_load():
        c = ctx()
        text = request.get_data(as_text=True)
        try:
            data = world.parse(text, "request body")
            rows = world.build(data, mc.vendors, mc.settings.seed)
        except world.WorldError as exc:
            raise AdminError(400, "invalid_world", str(exc)) from None
        world.install(c.store, c.tenant, rows, "admin API", c.now())
        kinds: dict[str, int] = {}
        for kind, _, _ in rows:
            kinds[kind] = kinds.get(kind, 0) + 1
        return jsonify({"status": "loaded", "tenant": c.tenant, "documents": kinds})

    # ---------------------------------------------------------------- clock
    @bp.get("/clock")
    def clock_get():
        return jsonify(ctx().clock.describe())

    @bp.post("/clock")
    @bp.post("/clock/<action>")
    def clock_post(action: str | None = None):
        body = _obj()
        action = action or body.get("action")
        clock = ctx().clock
        try:
            if action == "freeze":
                clock.freeze(parse_instant(body["at"]) if "at" in body else None)
            elif action == "resume":
                clock.resume()
            elif action == "advance":
                seconds = body.get("seconds", request.args.get("seconds"))
                if isinstance(seconds, str):
                    seconds = float(seconds)
                if isinstance(seconds, bool) or not isinstance(seconds, int | float):
                    raise ValueError("'seconds' must be a number")
                clock.advance(float(seconds))
            elif action == "set":
                if "at" not in body:
                    raise ValueError("'at' is required: epoch seconds or ISO-8601")
                clock.set(parse_instant(body["at"]))
            else:
                raise ValueError("action must be freeze, resume, advance or set")
        except ValueError as exc:
            raise AdminError(400, "invalid_request", str(exc)) from None
        return jsonify(clock.describe())

    # --------------------------------------------------------------- faults
    @bp.get("/faults")
    def faults_list():
        return jsonify({"faults": [r.to_doc() for r in Faults(ctx().store, ctx().tenant).list()]})

    @bp.post("/faults")
    def faults_add():
        body = _body()
        items = body if isinstance(body, list) else [body]
        try:
            rules = [parse_rule(item, parse_instant) for item in items]
        except ValueError as exc:
            raise AdminError(400, "invalid_fault", str(exc)) from None
        faults = Faults(ctx().store, ctx().tenant)
        added = [faults.add(r).to_doc() for r in rules]
        resp = jsonify({"faults": added})
        resp.status_code = 201
        return resp

    @bp.delete("/faults")
    def faults_clear():
        Faults(ctx().store, ctx().tenant).clear()
        return jsonify({"faults": []})

    @bp.delete("/faults/<rule_id>")
    def faults_remove(rule_id: str):
        if not Faults(ctx().store, ctx().tenant).remove(rule_id):
            raise AdminError(404, "not_found", f"no fault rule {rule_id!r}")
        return jsonify({"removed": rule_id})

    # -------------------------------------------------------------- journal
    def journal() -> Journal:
        return Journal(ctx().store, ctx().tenant, mc.settings.journal_size)

    def journal_entries() -> list[dict[str, Any]]:
        return journal().entries(
            vendor=request.args.get("vendor"), status=_int_arg("status"),
            path=request.args.get("path"), since=_int_arg("since", 0) or 0,
            limit=_int_arg("limit"))

    @bp.get("/journal")
    def journal_list():
        return jsonify({"entries": journal_entries()})

    @bp.delete("/journal")
    def journal_clear():
        return jsonify({"cleared": journal().clear()})

    @bp.get("/journal/cassette")
    def journal_cassette():
        redact = request.args.get("redact", "true").lower() not in ("false", "0", "no")
        return Response(to_cassette(journal_entries(), redact=redact),
                        mimetype="application/yaml")

    # --------------------------------------------------------------- tokens
    def token_view(vendor: str, tok: Token) -> dict[str, Any]:
        doc = tok.doc
        state = "revoked" if tok.is_revoked() else "expired" if tok.is_expired() else "active"
        return {"vendor": vendor, "access_token": doc["access_token"],
                "refresh_token": doc.get("refresh_token"), "client_id": doc["client_id"],
                "user": doc.get("user_id"), "scope": doc.get("scope", ""),
                "issued_at": doc["issued_at"], "expires_at": doc["issued_at"] + doc["expires_in"],
                "state": state, "refresh_revoked": tok.refresh_revoked()}

    def find_token(value: Any) -> tuple[str, Token]:
        if not isinstance(value, str) or not value:
            raise AdminError(400, "invalid_request", "'token' (a string) is required")
        for name in mc.vendors:
            tok = Tokens(ctx(), name).find(value)
            if tok is not None:
                return name, tok
        raise AdminError(404, "not_found", "no such access or refresh token in this tenant")

    @bp.get("/tokens")
    def tokens_list():
        want_vendor, want_state = request.args.get("vendor"), request.args.get("state")
        views = [token_view(name, tok) for name in mc.vendors if want_vendor in (None, name)
                 for tok in Tokens(ctx(), name).all()]
        return jsonify({"tokens": [t for t in views if want_state in (None, t["state"])]})

    @bp.post("/tokens/revoke")
    def tokens_revoke():
        vendor, tok = find_token(_obj().get("token"))
        return jsonify(token_view(vendor, Tokens(ctx(), vendor).revoke(tok.doc["access_token"])))

    @bp.post("/tokens/introspect")
    def tokens_introspect():
        try:
            vendor, tok = find_token(_obj().get("token"))
        except AdminError as exc:
            if exc.status == 404:
                return jsonify({"active": False})
            raise
        view = token_view(vendor, tok)
        return jsonify({"active": view["state"] == "active", **view,
                        "exp": int(view["expires_at"]), "iat": int(view["issued_at"])})

    # --------------------------------------------------------------- quotas
    @bp.get("/quotas")
    def quotas_get():
        c = ctx()
        q = Quotas(c.store, c.tenant)
        return jsonify({
            "config": {name: q.config(name, v.quotas).to_doc() for name, v in mc.vendors.items()},
            "counters": q.inspect(c.now()),
        })

    @bp.put("/quotas/<vendor>")
    def quotas_set(vendor: str):
        if vendor not in mc.vendors:
            raise AdminError(404, "not_found", f"no vendor {vendor!r}")
        try:
            cfg = QuotaConfig.parse(_obj())
        except ValueError as exc:
            raise AdminError(400, "invalid_quota", str(exc)) from None
        Quotas(ctx().store, ctx().tenant).set_config(vendor, cfg)
        return jsonify(cfg.to_doc())

    @bp.delete("/quotas")
    def quotas_reset():
        Quotas(ctx().store, ctx().tenant).reset()
        return jsonify({"counters": []})

    # -------------------------------------------------------------- openapi
    @bp.get("/openapi.yaml")
    def admin_openapi():
        return _yaml_file(ADMIN_OPENAPI, "/_mockcloud")

    @bp.get("/openapi/<vendor>.yaml")
    def vendor_openapi(vendor: str):
        v = mc.vendors.get(vendor)
        if v is None or v.openapi is None:
            raise AdminError(404, "not_found", f"no OpenAPI document for {vendor!r}")
        return _yaml_file(v.openapi, v.prefix)

    def _yaml_file(path: Path, prefix: str | None):
        if not path.exists():
            raise AdminError(404, "not_found", f"{path.name} is not installed")
        doc = yaml.safe_load(path.read_text(encoding="utf-8"))
        base = request.host_url.rstrip("/") + request.script_root.replace("/_mockcloud", "")
        doc["servers"] = [{"url": base + (prefix or ""),
                           "description": "this mockcloud emulator"}] + doc.get("servers", [])
        doc = bundle(doc, path.parent)
        return Response(yaml.safe_dump(doc, sort_keys=False), mimetype="application/yaml")

    return bp


def bundle(doc: dict[str, Any], base: Path) -> dict[str, Any]:
    """Make an OpenAPI document self-contained for a remote reader (schemathesis over
    HTTP): every JSON Schema file it ``$ref``s goes under ``components/schemas`` and
    every reference, in the document and inside the schemas, points there."""
    schemas = doc.setdefault("components", {}).setdefault("schemas", {})
    names: dict[Path, str] = {}

    def include(path: Path) -> str:
        if path not in names:
            name = path.stem
            while name in schemas and path not in names:
                name += "_"
            names[path] = name
            schema = json.loads(path.read_text(encoding="utf-8"))
            schema.pop("$id", None)
            schema.pop("$schema", None)
            schemas[name] = schema
            schemas[name] = rewrite(schema, path)
        return names[path]

    def rewrite(node: Any, current: Path | None) -> Any:
        if isinstance(node, list):
            return [rewrite(v, current) for v in node]
        if not isinstance(node, dict):
            return node
        out = {k: rewrite(v, current) for k, v in node.items()}
        ref = node.get("$ref")
        if isinstance(ref, str):
            file_part, _, pointer = ref.partition("#")
            if file_part:
                folder = current.parent if current else base
                out["$ref"] = f"#/components/schemas/{include((folder / file_part).resolve())}" \
                    + pointer
            elif current is not None:  # "#/$defs/x" inside a schema file
                out["$ref"] = f"#/components/schemas/{names[current]}{pointer}"
        return out

    rewritten = rewrite({k: v for k, v in doc.items() if k != "components"}, None)
    rewritten["components"] = rewrite(doc["components"], None)
    return rewritten
