"""The emulated org: one data directory's store plus the services built on it."""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from .auth import Auth
from .bulk.classic import ClassicJobs
from .bulk.jobs import JobBook
from .config import DEFAULT_SESSION_TTL_S, Credentials
from .faults import Faults
from .pubsub.bus import EventBus
from .query import QueryEngine
from .records import Records
from .rules import RuleBook
from .store import Store


@dataclass
class Settings:
    """Emulator-only knobs (``/_emulator/settings``)."""

    #: getUpdated/getDeleted cover whole minutes on a real org; tests may lower this.
    replication_granularity_ms: int = 60_000


class Org:
    """Bundles store, record service, query engine, auth, rules and faults for the HTTP layer."""

    def __init__(self, data_dir: Path | str, creds: Credentials | None = None,
                 session_ttl_s: int = DEFAULT_SESSION_TTL_S, faults: Faults | None = None) -> None:
        self.data_dir = Path(data_dir)
        self.data_dir.mkdir(parents=True, exist_ok=True)
        self.store = Store(self.data_dir / "org.sqlite3")
        self.faults = faults or Faults()
        self.rules = RuleBook(self.store)
        self.settings = Settings()
        self.records = Records(self.store, self.rules, self.faults)
        self.queries = QueryEngine(self.store)
        self.auth = Auth(self.store, creds or Credentials.from_env(), session_ttl_s)
        #: Change events and platform events served by the Pub/Sub API (sfemulator.pubsub).
        self.events = EventBus(self.store)
        #: Bulk API 2.0 jobs (in memory) and their worker.
        self.jobs = JobBook(self.store.clock.now_ms)
        #: Bulk API 1.0 jobs; their batches run on the same worker.
        self.classic_jobs = ClassicJobs(self.records, self.queries, self.jobs, self.store.clock.now_ms)

    def close(self) -> None:
        self.jobs.close()
        self.auth.flush()
        self.store.close()
