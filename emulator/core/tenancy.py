"""Which tenant a request belongs to: header ``X-Mockcloud-Tenant`` or a
``/_t/<tenant>/`` path prefix (stripped before routing). Default ``default``."""

from __future__ import annotations

import re

HEADER_ENVIRON = "HTTP_X_MOCKCLOUD_TENANT"
ENVIRON_KEY = "mockcloud.tenant"
DEFAULT = "default"
# the tenant of what belongs to no tenant (the webhook index, the served world's note,
# the idle-tenant notes): a name no request can give (``valid`` refuses it)
SYSTEM = "_mockcloud"
_VALID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$")
_SEEN: set[str] = set()   # names ``resolve`` found valid (bounded)


class TenantError(ValueError):
    pass


def valid(name: str) -> bool:
    return bool(_VALID.match(name))


def split_path(path: str) -> tuple[str | None, str]:
    """``/_t/acme/lightify/v4`` -> (``acme``, ``/lightify/v4``)."""
    if not path.startswith("/_t/"):
        return None, path
    rest = path[4:]
    name, sep, tail = rest.partition("/")
    return name, "/" + tail if sep else "/"


def resolve(environ: dict) -> str:
    """Pick the tenant, strip the path prefix from PATH_INFO; raise TenantError."""
    path = environ.get("PATH_INFO", "/")
    if path.startswith("/_t/"):
        from_path, path = split_path(path)
        name = from_path or ""
        environ["PATH_INFO"] = path
        environ["SCRIPT_NAME"] = environ.get("SCRIPT_NAME", "") + f"/_t/{name}"
    else:
        name = environ.get(HEADER_ENVIRON) or DEFAULT
    if name not in _SEEN:   # (a name once found valid is not matched again)
        if not valid(name):
            raise TenantError(
                f"invalid tenant name {name[:80]!r}: use 1-64 letters, digits, '.', '_' "
                "or '-'")
        if len(_SEEN) >= 1024:
            _SEEN.clear()
        _SEEN.add(name)
    environ[ENVIRON_KEY] = name
    return name


def client_base(environ: dict, tenant: str, prefix: str) -> str:
    """A vendor's base URL as the client reached it: scheme, Host (or the server's
    name and port), the tenant's path (also when the tenant came from the header, so
    the URL alone names it) and ``prefix`` (empty when the Host picked the vendor)."""
    host = environ.get("HTTP_HOST") or (f"{environ.get('SERVER_NAME', 'localhost')}:"
                                        f"{environ.get('SERVER_PORT', '80')}")
    script = environ.get("SCRIPT_NAME", "")
    if tenant != DEFAULT and not script.endswith(f"/_t/{tenant}"):
        script += f"/_t/{tenant}"
    return f"{environ.get('wsgi.url_scheme', 'http')}://{host}{script}{prefix}"
