"""A self-signed certificate for ``--tls``, made on first start and kept.

Real clients hard-code ``https://``; the certificate covers localhost, 127.0.0.1,
::1 and the host names it is given (every mounted vendor's), so a client pointed here
by /etc/hosts or a resolver override also matches. It lives in ``<home>/tls/``
(``MOCKCLOUD_HOME``) and is made again when the list of host names changes.
"""

from __future__ import annotations

import datetime as dt
import ipaddress
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from .clock import real_time

IPS = ("127.0.0.1", "::1")


def ensure_certificate(settings, hosts: list[str]) -> tuple[str, str]:
    if settings.cert and settings.key:
        for path in (settings.cert, settings.key):
            if not Path(path).is_file():
                raise SystemExit(f"mockcloud: TLS file not found: {path}")
        return settings.cert, settings.key
    folder = Path(settings.home).expanduser() / "tls"
    cert, key, listed = folder / "cert.pem", folder / "key.pem", folder / "names.txt"
    names = "\n".join(["localhost", *sorted(set(hosts))])
    if not (cert.exists() and key.exists() and listed.exists()
            and listed.read_text(encoding="utf-8") == names):
        folder.mkdir(parents=True, exist_ok=True)
        write_self_signed(cert, key, names.split("\n"))
        listed.write_text(names, encoding="utf-8")
    return str(cert), str(key)


def write_self_signed(cert_path: Path, key_path: Path, names: list[str]) -> None:
    # Certificates are about real time, not the virtual clock.
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "mockcloud local emulator")])
    now = dt.datetime.fromtimestamp(real_time(), dt.UTC)
    sans = [x509.DNSName(n) for n in names] + [x509.IPAddress(ipaddress.ip_address(i))
                                              for i in IPS]
    cert = (x509.CertificateBuilder().subject_name(name).issuer_name(name)
            .public_key(key.public_key()).serial_number(x509.random_serial_number())
            .not_valid_before(now - dt.timedelta(days=1))
            .not_valid_after(now + dt.timedelta(days=3650))
            .add_extension(x509.SubjectAlternativeName(sans), critical=False)
            .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
            .sign(key, hashes.SHA256()))
    key_path.write_bytes(key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption()))
    key_path.chmod(0o600)
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
