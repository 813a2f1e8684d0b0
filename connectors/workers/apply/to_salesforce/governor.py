"""The API-budget governor: which way a mapping's batch goes to Salesforce.

sObject Collections take one API call per 200 records and answer at once; a Bulk API 2.0
ingest job takes about `CALLS_PER_JOB` calls whatever its size (up to 150 MB of CSV) but runs
for seconds to minutes. So a job is worth it only for a large backlog: the governor picks it
when the backlog reaches the threshold (`SYNC_BULK_WRITE_THRESHOLD`), or when sObject
Collections would need more calls than are left today before the API-limit pause while a job
would not, and in both cases only if jobs cost fewer calls. Within a batch that goes by job, an
operation with too few records for a job to be cheaper (a few deletes among many updates) still
goes by sObject Collections (`worth_a_job`).

The backlog of a mapping is its changes in the batch at hand plus its topic's lag past that
batch (`BatchConsumer.remaining`); when it reaches the threshold, the apply worker takes up to a
job's worth of changes in the batch. Each choice is published with the worker's heartbeat
(`gauges`) and said on the console by `describe`.
"""
from __future__ import annotations

import math
from dataclasses import dataclass

from connectors.salesforce.writer import BATCH_LIMIT

#: API calls of one ingest job: create, upload, close, a few status polls, the results.
CALLS_PER_JOB = 8
#: Heartbeat gauge names, each followed by `.<mapping id>`.
GAUGE_BULK = "write_back_bulk"
GAUGE_BACKLOG = "write_back_backlog"
GAUGE_COMPOSITE_CALLS = "write_back_composite_calls"
GAUGE_BULK_CALLS = "write_back_bulk_calls"
GAUGE_CALLS_LEFT = "write_back_calls_left"


@dataclass(frozen=True)
class WritePath:
    """The governor's choice for one mapping's batch, with the figures behind it."""

    bulk: bool
    backlog: int
    composite_calls: int  # to write the whole backlog by sObject Collections
    bulk_calls: int  # to write it by ingest jobs
    calls_left: int | None  # before the API-limit pause, if known

    def gauges(self, mapping_id: int) -> dict[str, int]:
        gauges = {GAUGE_BULK: int(self.bulk), GAUGE_BACKLOG: self.backlog,
                  GAUGE_COMPOSITE_CALLS: self.composite_calls, GAUGE_BULK_CALLS: self.bulk_calls}
        if self.calls_left is not None:
            gauges[GAUGE_CALLS_LEFT] = self.calls_left
        return {f"{name}.{mapping_id}": value for name, value in gauges.items()}

    @classmethod
    def from_gauges(cls, gauges: dict[str, int], mapping_id: int) -> WritePath | None:
        """The choice a worker published for this mapping, or None if it made none."""
        def get(name: str) -> int | None:
            value = gauges.get(f"{name}.{mapping_id}")
            return None if value is None else int(value)

        bulk, backlog = get(GAUGE_BULK), get(GAUGE_BACKLOG)
        if bulk is None or backlog is None:
            return None
        return cls(bool(bulk), backlog, get(GAUGE_COMPOSITE_CALLS) or 0, get(GAUGE_BULK_CALLS) or 0,
                   get(GAUGE_CALLS_LEFT))

    def describe(self) -> str:
        """E.g. "write-back: Bulk API 2.0 ingest (backlog 12,400: 62 API calls by sObject
        Collections vs 16 by Bulk API 2.0; 13,100 calls left today)"."""
        path = "Bulk API 2.0 ingest" if self.bulk else "sObject Collections"
        left = f"; {self.calls_left:,} calls left today" if self.calls_left is not None else ""
        return (f"write-back: {path} (backlog {self.backlog:,}: {self.composite_calls:,} API calls by sObject "
                f"Collections vs {self.bulk_calls:,} by Bulk API 2.0{left})")


def choose(backlog: int, job_size: int, threshold: int, calls_left: int | None) -> WritePath:
    """The cheaper way to write `backlog` changes, ingest jobs holding up to `job_size` each."""
    composite = math.ceil(backlog / BATCH_LIMIT)
    bulk = math.ceil(backlog / max(1, job_size)) * CALLS_PER_JOB
    short = calls_left is not None and composite > calls_left
    return WritePath(bulk < composite and (backlog >= threshold or short), backlog, composite, bulk, calls_left)


def worth_a_job(records: int) -> bool:
    """True if one ingest job writes this many records in fewer calls than sObject Collections."""
    return math.ceil(records / BATCH_LIMIT) > CALLS_PER_JOB


class WritePathGovernor:
    """Chooses per mapping and batch, and keeps the latest choice of each for the heartbeat.

    `threshold` is the backlog from which a job is used; `job_size` the most changes a batch
    (so a job) holds when going by job: the apply worker polls that many then.
    """

    def __init__(self, threshold: int, job_size: int) -> None:
        self.threshold = threshold
        self.job_size = job_size
        self._latest: dict[int, WritePath] = {}

    def choose(self, mapping_id: int, backlog: int, usage: tuple[int, int] | None, pause_at_share: float) -> WritePath:
        """`usage` is (used, daily limit) as last seen; writing pauses at `pause_at_share` of it."""
        calls_left = max(0, int(usage[1] * pause_at_share) - usage[0]) if usage and usage[1] else None
        path = choose(backlog, self.job_size, self.threshold, calls_left)
        self._latest[mapping_id] = path
        return path

    def gauges(self) -> dict[str, int]:
        return {k: v for mapping_id, path in self._latest.items() for k, v in path.gauges(mapping_id).items()}
