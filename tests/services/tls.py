"""Self-signed TLS material for tests of secured Dask clusters.

``make_certificates(folder)`` writes a CA (``ca.pem``) and one certificate/key pair signed by
it (``cert.pem``, ``key.pem``, for 127.0.0.1), as an administrator would for a Dask cluster
(`dask scheduler --tls-ca-file ca.pem --tls-cert cert.pem --tls-key key.pem`), plus a second
CA (``other-ca.pem`` with ``other-cert.pem``/``other-key.pem``) that the cluster does not trust.
"""
from __future__ import annotations

import datetime as dt
import ipaddress
from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True)
class Certificates:
    ca: Path
    cert: Path
    key: Path
    other_ca: Path
    other_cert: Path
    other_key: Path


def _pair(common_name: str, issuer=None, issuer_key=None, ca: bool = False):
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common_name)])
    now = dt.datetime.now(dt.timezone.utc)
    builder = (x509.CertificateBuilder()
               .subject_name(name)
               .issuer_name(issuer.subject if issuer is not None else name)
               .public_key(key.public_key())
               .serial_number(x509.random_serial_number())
               .not_valid_before(now - dt.timedelta(minutes=5))
               .not_valid_after(now + dt.timedelta(days=1))
               .add_extension(x509.BasicConstraints(ca=ca, path_length=None), critical=True))
    if not ca:
        builder = builder.add_extension(
            x509.SubjectAlternativeName([x509.DNSName("localhost"),
                                         x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]),
            critical=False)
    cert = builder.sign(issuer_key if issuer_key is not None else key, hashes.SHA256())
    return cert, key


def _write(folder: Path, stem: str, cert, key=None) -> tuple[Path, Path | None]:
    from cryptography.hazmat.primitives import serialization

    cert_path = folder / f"{stem}.pem"
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    if key is None:
        return cert_path, None
    key_path = folder / f"{stem.replace('cert', 'key')}.pem"
    key_path.write_bytes(key.private_bytes(serialization.Encoding.PEM,
                                           serialization.PrivateFormat.PKCS8,
                                           serialization.NoEncryption()))
    key_path.chmod(0o600)
    return cert_path, key_path


def make_certificates(folder: Path) -> Certificates:
    folder.mkdir(parents=True, exist_ok=True)
    paths = []
    for prefix in ("", "other-"):
        ca_cert, ca_key = _pair(f"sciflow test {prefix}CA", ca=True)
        leaf, leaf_key = _pair("127.0.0.1", issuer=ca_cert, issuer_key=ca_key)
        ca_path, _ = _write(folder, f"{prefix}ca", ca_cert)
        cert_path, key_path = _write(folder, f"{prefix}cert", leaf, leaf_key)
        paths += [ca_path, cert_path, key_path]
    return Certificates(*paths)
