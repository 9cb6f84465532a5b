"""Whether a host name or address means this machine only: the admin API's Host check
(``core.admin.lock``) and ``serve``'s warning about an open bind both ask. Only the
standard library: ``serve`` asks before it imports the app."""

from __future__ import annotations

import functools
import ipaddress
import socket


def is_loopback(host: str) -> bool:
    """A host name or address (no port; IPv6 with or without brackets) that can only
    mean this machine: localhost, *.localhost, 127.0.0.0/8, ::1."""
    name = host.strip().lower().rstrip(".")
    if name.startswith("[") and name.endswith("]"):
        name = name[1:-1]
    if name == "localhost" or name.endswith(".localhost"):
        return True
    try:
        return ipaddress.ip_address(name).is_loopback
    except ValueError:
        return False


@functools.lru_cache(maxsize=16)
def binds_loopback(bound: str) -> bool:
    """Whether listening on ``bound`` (the ``host`` setting) reaches this machine only: a
    loopback name or address, or a name every address of which is loopback (resolved
    once). The admin Host check and serve's open-bind warning both ask this."""
    if is_loopback(bound):
        return True
    try:
        infos = socket.getaddrinfo(bound.strip("[]"), 0, type=socket.SOCK_STREAM)
    except (OSError, UnicodeError):
        return False
    addresses = [info[4][0].split("%", 1)[0] for info in infos
                 if info[0] in (socket.AF_INET, socket.AF_INET6)]
    return bool(addresses) and all(ipaddress.ip_address(a).is_loopback for a in addresses)

