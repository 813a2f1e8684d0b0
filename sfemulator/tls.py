"""Local CA and server certificate for HTTPS (generated once per data dir).

Files: ``DIR/tls/ca.pem`` (trust this), ``DIR/tls/server.pem`` (chain) and
``DIR/tls/server.key``.  The leaf covers localhost, 127.0.0.1 and ::1.
"""
from __future__ import annotations

import os
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

import trustme


@dataclass(frozen=True)
class TlsFiles:
    ca: Path
    cert: Path
    key: Path


def tls_files(data_dir: Path | str) -> TlsFiles:
    d = Path(data_dir) / "tls"
    return TlsFiles(d / "ca.pem", d / "server.pem", d / "server.key")


def _atomic_write(path: Path, data: bytes, mode: int = 0o644) -> None:
    tmp = path.with_suffix(path.suffix + f".tmp{os.getpid()}")
    tmp.write_bytes(data)
    os.chmod(tmp, mode)
    os.replace(tmp, path)


def ensure_tls(data_dir: Path | str) -> TlsFiles:
    """Return the TLS files, generating them if any is missing (reused on restart)."""
    files = tls_files(data_dir)
    if files.ca.exists() and files.cert.exists() and files.key.exists():
        return files
    files.ca.parent.mkdir(parents=True, exist_ok=True)
    ca = trustme.CA(organization_name="sfemulator local CA")
    now = datetime.now(UTC)
    leaf = ca.issue_cert("localhost", "127.0.0.1", "::1", common_name="localhost",
                         organization_name="sfemulator", not_before=now - timedelta(days=1),
                         not_after=now + timedelta(days=3650))
    # Key and chain first, CA last: the CA's presence marks a complete set.
    _atomic_write(files.key, leaf.private_key_pem.bytes(), 0o600)
    _atomic_write(files.cert, b"".join(p.bytes() for p in leaf.cert_chain_pems))
    _atomic_write(files.ca, ca.cert_pem.bytes())
    return files
