"""Which polled Salesforce records are new. Pure; no I/O.

Polling asks for everything with `SystemModstamp >= watermark - lookback`,
because a transaction that commits late can carry a stamp older than records
already seen, and several records can share one stamp. Re-reading the
lookback window catches both; remembering what was emitted in that window
keeps the re-read from publishing the same version twice.
"""
from __future__ import annotations

from datetime import datetime, timedelta


class PollWindow:
    def __init__(self, modstamp: datetime | None, record_id: str, lookback: timedelta) -> None:
        self.modstamp = modstamp
        self.record_id = record_id
        self.lookback = lookback
        self._emitted: dict[str, datetime] = {}

    def since(self) -> datetime | None:
        """The lower bound (inclusive) of the next query; None reads everything (a backfill)."""
        return None if self.modstamp is None else self.modstamp - self.lookback

    def is_new(self, record_id: str, modstamp: datetime) -> bool:
        """False only for a version this window already emitted. After a restart the
        memory is empty, so the lookback window is emitted once more: harmless, because
        every writer is version-guarded."""
        return self._emitted.get(record_id) != modstamp

    def mark_emitted(self, record_id: str, modstamp: datetime) -> None:
        """Record that Kafka acknowledged this version; advance the watermark past it."""
        self._emitted[record_id] = modstamp
        if self.modstamp is None or (modstamp, record_id) > (self.modstamp, self.record_id):
            self.modstamp, self.record_id = modstamp, record_id

    def prune(self) -> None:
        """Forget versions older than the lookback window: they can no longer be re-read."""
        if self.modstamp is None:
            return
        horizon = self.modstamp - self.lookback
        self._emitted = {rid: stamp for rid, stamp in self._emitted.items() if stamp >= horizon}
