"""What the console says of the write-back's path: the API-budget governor's latest choice for a
mapping, as the sf-apply worker published it with its heartbeat."""
from __future__ import annotations

from typing import Any

from connectors.workers.apply.to_salesforce.governor import WritePath


def described(worker_counters: dict[str, Any], mapping_id: int) -> str:
    """E.g. "write-back: Bulk API 2.0 ingest (backlog 12,400: ...)", or "" if it chose nothing yet."""
    path = WritePath.from_gauges(worker_counters, mapping_id)
    return path.describe() if path is not None else ""
