"""The emulated org: one data directory's store plus the services built on it."""
from __future__ import annotations

from pathlib import Path

from .auth import Auth
from .config import DEFAULT_SESSION_TTL_S, Credentials
from .query import QueryEngine
from .records import Records
from .store import Store


class Org:
    """Bundles store, record service, query engine and auth for the HTTP layer."""

    def __init__(self, data_dir: Path | str, creds: Credentials | None = None,
                 session_ttl_s: int = DEFAULT_SESSION_TTL_S) -> None:
        self.data_dir = Path(data_dir)
        self.data_dir.mkdir(parents=True, exist_ok=True)
        self.store = Store(self.data_dir / "org.sqlite3")
        self.records = Records(self.store)
        self.queries = QueryEngine(self.store)
        self.auth = Auth(self.store, creds or Credentials.from_env(), session_ttl_s)

    def close(self) -> None:
        self.auth.flush()
        self.store.close()
