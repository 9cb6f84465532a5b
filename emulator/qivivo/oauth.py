"""Qivivo's token requests, made readable for Authlib as its clients sent them
(apis/qivivo.md §4.2), before Authlib reads them (``AuthProfile.token_request``):

* parameters from the query string *and* the body (LorkScorguar puts every one in
  the query string, its Node refresh in both); the body's value wins a duplicate;
* the body read as a form whatever its ``Content-Type`` says (LorkScorguar's Node
  refresh says ``application/json`` over an urlencoded body; a JSON object body is
  taken too); multipart forms (httr) as they are;
* ``grant_type=client_credential`` (the documentation's spelling) is
  ``client_credentials``;
* a refresh that gives a ``client_id`` but no secret (rQivivo) is accepted for an app
  the world marks ``refresh_without_secret: true`` (INFERRED, per app).

The result is put back as one urlencoded body with no query string, so Authlib sees
each parameter once, in the form (where its ``client_secret_post`` looks).
"""

from __future__ import annotations

import io
from typing import Any
from urllib.parse import parse_qsl, urlencode

import orjson
from werkzeug.formparser import parse_form_data

from ..core.context import current

FORM = "application/x-www-form-urlencoded"


def _body_params(environ: dict[str, Any]) -> list[tuple[str, str]]:
    raw: bytes = environ.get("mockcloud.body")
    if raw is None:
        raw = environ["wsgi.input"].read()
    ctype = (environ.get("CONTENT_TYPE") or "").lower()
    if ctype.startswith("multipart/form-data"):
        environ["wsgi.input"] = io.BytesIO(raw)
        _, form, _ = parse_form_data(environ)
        return [(k, v) for k in form for v in form.getlist(k)]
    text = raw.decode("utf-8", "replace").strip()
    if text.startswith("{"):
        try:
            data = orjson.loads(text)
        except orjson.JSONDecodeError:
            return []
        if isinstance(data, dict):
            return [(str(k), v if isinstance(v, str) else orjson.dumps(v).decode())
                    for k, v in data.items() if v is not None]
        return []
    return parse_qsl(text, keep_blank_values=True)


def normalise(environ: dict[str, Any]) -> None:
    params: dict[str, str] = {}
    for k, v in parse_qsl(environ.get("QUERY_STRING", ""), keep_blank_values=True):
        params.setdefault(k, v)
    body: dict[str, str] = {}
    for k, v in _body_params(environ):
        body.setdefault(k, v)
    params.update(body)
    if params.get("grant_type") == "client_credential":
        params["grant_type"] = "client_credentials"
    auth = (environ.get("HTTP_AUTHORIZATION") or "").lower()
    if (params.get("grant_type") == "refresh_token" and params.get("client_id")
            and not params.get("client_secret") and not auth.startswith("basic ")):
        ctx = current()
        app = ctx.store.get(ctx.tenant, "qivivo.client", params["client_id"])
        if app is not None and app.get("refresh_without_secret"):
            params["client_secret"] = app["client_secret"]
    raw = urlencode(params).encode()
    environ["QUERY_STRING"] = ""
    environ["CONTENT_TYPE"] = FORM
    environ["CONTENT_LENGTH"] = str(len(raw))
    environ["wsgi.input"] = io.BytesIO(raw)
    environ["mockcloud.body"] = raw
