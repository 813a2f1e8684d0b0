"""Which polled Salesforce records are new, and how far the live watermark may move. Pure; no I/O.

Polling asks for everything with `SystemModstamp >= watermark - lookback`,
because a transaction that commits late can carry a stamp older than records
already seen, and several records can share one stamp. Re-reading the
lookback window catches both; remembering what was emitted in that window
keeps the re-read from publishing the same version twice.

A version is the stamp *and* what the record held: Salesforce compares SystemModstamps to the
second, so a second edit within the same second as one already read can carry the same stamp,
and a window that knew stamps only would take it for the version it had emitted and drop it.

A query's membership and order are fixed when it runs, but a later page can show a record
as it is when the page is fetched: edited meanwhile, with a newer stamp. Such a stamp must
not move the watermark, or an edit made during the poll to a record on an already-read page
(older than that stamp, newer than the watermark) would never be read. So within a poll the
watermark moves at most to the poll's ceiling: the time the query was sent (our clock, which
the lookback must cover the skew of). Only live polls move it; re-reads
(connectors.workers.reread) never do.
"""
from __future__ import annotations

from datetime import datetime, timedelta


class PollWindow:
    def __init__(self, modstamp: datetime | None, record_id: str, lookback: timedelta) -> None:
        self.modstamp = modstamp
        self.record_id = record_id
        self.lookback = lookback
        self._emitted: dict[str, tuple[datetime, int]] = {}
        self._ceiling: datetime | None = None

    def since(self) -> datetime | None:
        """The lower bound (inclusive) of the next query; None reads everything."""
        return None if self.modstamp is None else self.modstamp - self.lookback

    def begin(self, ceiling: datetime) -> None:
        """A poll starts now: no stamp it reads moves the watermark past `ceiling`."""
        self._ceiling = ceiling

    def is_new(self, record_id: str, modstamp: datetime, content: int) -> bool:
        """False only for a version this window already emitted: the same stamp and the same
        `content` (a fingerprint of the record as read). After a restart the memory is empty, so
        the lookback window is emitted once more: harmless, because every writer is version-guarded."""
        return self._emitted.get(record_id) != (modstamp, content)

    def mark_emitted(self, record_id: str, modstamp: datetime, content: int) -> None:
        """Record that Kafka acknowledged this version; advance the watermark to it (at most
        to the poll's ceiling)."""
        self._emitted[record_id] = (modstamp, content)
        stamp = modstamp if self._ceiling is None else min(modstamp, self._ceiling)
        if self.modstamp is None or (stamp, record_id) > (self.modstamp, self.record_id):
            self.modstamp, self.record_id = stamp, record_id

    def prune(self) -> None:
        """Forget versions older than the lookback window: they can no longer be re-read."""
        if self.modstamp is None:
            return
        horizon = self.modstamp - self.lookback
        self._emitted = {rid: version for rid, version in self._emitted.items() if version[0] >= horizon}
