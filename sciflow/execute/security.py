"""Who may talk to the Dask cluster a run uses.

A Dask scheduler runs whatever a connected client submits, inside the workers, as the user
who started them. Binding to 127.0.0.1 keeps other machines out, but not other local users or
processes. So:

* **local cluster (default)**: mutual TLS with a certificate made for this run only
  (``temporary_security()``: a self-signed key and certificate generated in
  memory, handed to the worker processes when they are spawned, never written to disk). A
  process without that certificate cannot complete the TLS handshake, so it can neither
  submit work nor read results. Costs ~0.3 s at start (key generation) and a few percent per
  task; ``secure_local=False`` (``--no-tls``) turns it off for benchmarks of Dask itself.
* **batch clusters** (``--cluster slurm|…``): dask-jobqueue's own temporary security; its
  certificate files are written (mode 0600) under ``.sciflow/jobqueue/``, which the batch
  jobs must be able to read — the working directory is on the shared file system anyway.
* **an existing scheduler** (``--scheduler tls://host:port``): the caller's certificates
  (``--tls-ca-file``, ``--tls-cert``, ``--tls-key``), or, without them, whatever Dask's own
  configuration says (``distributed.comm.tls.*`` in ``~/.config/dask/*.yaml`` or
  ``DASK_DISTRIBUTED__COMM__TLS__*``), exactly as ``dask worker`` and ``dask scheduler`` read it.
"""
from __future__ import annotations

import os
from dataclasses import dataclass
from typing import Any

from sciflow.errors import MissingDependencyError, UsageError


@dataclass(frozen=True, slots=True)
class TLSFiles:
    """PEM files for connecting to a TLS-secured scheduler (all three, or none)."""

    ca_file: str | None = None
    cert: str | None = None
    key: str | None = None

    def given(self) -> bool:
        return any((self.ca_file, self.cert, self.key))

    def check(self) -> None:
        """Every named file exists and is readable; a CA file is given whenever a cert is."""
        names = {"--tls-ca-file": self.ca_file, "--tls-cert": self.cert, "--tls-key": self.key}
        for flag, path in names.items():
            if path and not os.access(path, os.R_OK):
                raise UsageError(f"{flag} {path}: no such file, or it is not readable")
        if (self.cert or self.key) and not self.ca_file:
            raise UsageError("--tls-cert/--tls-key need --tls-ca-file (the CA that signed the "
                             "scheduler's certificate)")
        if self.ca_file and not self.cert:
            raise UsageError("--tls-ca-file needs --tls-cert (and --tls-key unless the key is in "
                             "the certificate file): Dask clusters verify clients too")


def temporary_security() -> Any:
    """A fresh self-signed certificate for one run's local cluster (mutual TLS), in memory.

    What ``distributed.Security.temporary()`` does, with an elliptic-curve key (P-256): making
    an RSA-2048 key costs ~0.3 s of every run's start, a P-256 key ~1 ms, for the same
    protection over one run's loopback connections."""
    import datetime as dt

    try:
        from cryptography import x509
        from cryptography.hazmat.primitives import hashes, serialization
        from cryptography.hazmat.primitives.asymmetric import ec
        from cryptography.x509.oid import NameOID
    except ImportError as err:
        raise MissingDependencyError(
            f"a secured local Dask cluster needs the 'cryptography' package ({err})",
            hint="pip install cryptography, or run with --no-tls") from None
    from distributed import Security

    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "sciflow-run")])
    now = dt.datetime.now(dt.timezone.utc)
    cert = (x509.CertificateBuilder().subject_name(name).issuer_name(name)
            .add_extension(x509.SubjectAlternativeName([x509.DNSName("sciflow-run")]),
                           critical=False)
            .public_key(key.public_key()).serial_number(x509.random_serial_number())
            .not_valid_before(now - dt.timedelta(minutes=1))
            .not_valid_after(now + dt.timedelta(days=30))
            .sign(key, hashes.SHA256()))
    key_pem = key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                serialization.NoEncryption()).decode()
    cert_pem = cert.public_bytes(serialization.Encoding.PEM).decode()
    return Security(require_encryption=True, tls_ca_file=cert_pem,
                    tls_client_key=key_pem, tls_client_cert=cert_pem,
                    tls_scheduler_key=key_pem, tls_scheduler_cert=cert_pem,
                    tls_worker_key=key_pem, tls_worker_cert=cert_pem)


def client_security(files: TLSFiles) -> Any:
    """Security for connecting to an existing scheduler: the given files, else Dask's config."""
    from distributed import Security

    if not files.given():
        return Security()  # reads distributed.comm.tls.* from Dask's configuration
    files.check()
    return Security(tls_ca_file=files.ca_file, tls_client_cert=files.cert,
                    tls_client_key=files.key, require_encryption=True)


def check_address(address: str, security: Any) -> None:
    """Refuse a plain ``tcp://`` address when certificates were given (they would be unused),
    and a ``tls://`` address when there is nothing to handshake with."""
    scheme = address.split("://", 1)[0] if "://" in address else "tcp"
    has_tls = bool(getattr(security, "tls_ca_file", None))
    if scheme == "tcp" and has_tls and getattr(security, "require_encryption", False):
        raise UsageError(f"--scheduler {address}: TLS certificates were given but the address "
                         "is tcp://", hint="Use the scheduler's tls:// address.")
    if scheme == "tls" and not has_tls:
        raise UsageError(f"--scheduler {address} uses TLS but no certificates were given",
                         hint="Pass --tls-ca-file, --tls-cert and --tls-key, or set "
                              "distributed.comm.tls.* in Dask's configuration.")
