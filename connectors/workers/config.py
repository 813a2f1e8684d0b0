"""The settings the workers read, typed and read once (from `settings.SYNC`) when they are built."""
from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from django.conf import settings


@dataclass(frozen=True)
class WorkerConfig:
    client_name: str  # names the sync's own Salesforce writes (Sforce-Call-Options), for echo detection
    apply_batch_size: int
    bulk_write_threshold: int  # sf-apply's backlog from which a batch goes by Bulk API ingest job
    reread_chunk_size: int
    capture_lookback: timedelta
    api_pause_at_share: float
    salesforce_parallel_calls: int
    schema_check_seconds: float
    alert_check_seconds: float
    timeline_retention: timedelta  # how long record timelines are kept

    @classmethod
    def from_settings(cls, sync: dict[str, Any] | None = None) -> WorkerConfig:
        sync = settings.SYNC if sync is None else sync
        return cls(
            client_name=sync["CLIENT_NAME"],
            apply_batch_size=sync["APPLY_BATCH_SIZE"],
            bulk_write_threshold=sync["BULK_WRITE_THRESHOLD"],
            reread_chunk_size=sync["REREAD_CHUNK_SIZE"],
            capture_lookback=timedelta(seconds=sync["CAPTURE_LOOKBACK_SECONDS"]),
            api_pause_at_share=sync["API_PAUSE_AT_SHARE"],
            salesforce_parallel_calls=sync["SALESFORCE_PARALLEL_CALLS"],
            schema_check_seconds=sync["SCHEMA_CHECK_SECONDS"],
            alert_check_seconds=sync["ALERT_CHECK_SECONDS"],
            timeline_retention=timedelta(days=sync["TIMELINE_RETENTION_DAYS"]),
        )
