"""Writes back to the source after a batch's target writes (sf-apply: the `_sync` state and new
Salesforce Ids to MongoDB), on one background thread, overlapped with the next batch.

Salesforce takes 0.3-2 s to answer a 200-record call, and writing the sync state of a batch
back to its documents costs MongoDB about as long, so the two run side by side. The commit
step (`commit.py`) keeps a batch's write-backs with it and commits the batch only once they
landed.
"""
from __future__ import annotations

from concurrent.futures import Future, ThreadPoolExecutor, wait
from dataclasses import dataclass, field
from typing import Any, Callable, Iterable


@dataclass
class BatchWrites:
    """The write-backs of one batch and the documents they write."""

    futures: list[Future[Any]] = field(default_factory=list)
    document_ids: set[str] = field(default_factory=set)

    def touches(self, document_ids: Iterable[str]) -> bool:
        return not self.document_ids.isdisjoint(document_ids)

    def result(self) -> None:
        """Block until every write landed; raises the first failure."""
        for future in self.futures:
            future.result()


class WriteBacks:
    def __init__(self, name: str) -> None:
        self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix=f"{name}:write-back")
        self._current = BatchWrites()  # of the batch being applied

    def submit(self, write: Callable[[], Any], document_ids: Iterable[str]) -> None:
        """Start writing back to these documents; the commit step waits for it."""
        self._current.futures.append(self._executor.submit(write))
        self._current.document_ids.update(document_ids)

    def take(self) -> BatchWrites:
        """The current batch's write-backs, handed to the commit step; the next batch starts afresh."""
        taken, self._current = self._current, BatchWrites()
        return taken

    def abandon(self) -> None:
        """The batch being applied failed and is rewound: let its write-backs finish (what they
        write is true: the target has those values) so its redo reads their result."""
        wait(self._current.futures)
        self._current = BatchWrites()

    def close(self) -> None:
        self._executor.shutdown(wait=True)
