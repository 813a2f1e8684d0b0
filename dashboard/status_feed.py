"""One status poller per web process, shared by every open console.

Reading the snapshot costs several queries; one read per tick, handed to every subscriber, keeps
that cost flat however many consoles are open.
"""
from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable
from typing import Any

from channels.db import database_sync_to_async

logger = logging.getLogger(__name__)

Status = dict[str, Any]
Subscriber = Callable[[Status], Awaitable[None]]


class StatusFeed:
    """Reads `read()` (a blocking database read) every `every` seconds while anyone subscribes.

    Must be used from a single event loop (the web process's); it is not thread-safe.
    """

    def __init__(self, read: Callable[[], Status], every: float) -> None:
        self._read = database_sync_to_async(read)
        self._every = every
        self._subscribers: set[Subscriber] = set()
        self._task: asyncio.Task[None] | None = None
        self._latest: Status | None = None
        self._read_at = 0.0

    async def current(self) -> Status:
        """The latest status if it was read less than `every` seconds ago, else a new read.

        Raises whatever the read raises."""
        if self._latest is not None and time.monotonic() - self._read_at < self._every:
            return self._latest
        return await self._refresh()

    def subscribe(self, subscriber: Subscriber) -> None:
        """From the next tick on, `subscriber` is awaited with every status read; the first
        subscriber starts the poller."""
        self._subscribers.add(subscriber)
        if self._task is None:
            self._task = asyncio.create_task(self._poll(), name="status-feed")

    async def unsubscribe(self, subscriber: Subscriber) -> None:
        """Forgets `subscriber` (unknown ones are ignored); the last one out stops the poller and
        returns once it has stopped."""
        self._subscribers.discard(subscriber)
        if self._subscribers or self._task is None:
            return
        task, self._task = self._task, None
        # Nobody keeps the latest status current any more: the next console reads afresh.
        self._latest = None
        task.cancel()
        await asyncio.wait({task})

    async def tick(self) -> None:
        """Reads the status once and awaits every subscriber with it.

        A failing read raises (the poller logs it and tries again next tick); a failing subscriber
        is logged and skipped."""
        status = await self._refresh()
        for subscriber in list(self._subscribers):
            try:
                await subscriber(status)
            except Exception:
                logger.exception("A status subscriber failed; the others still get the status")

    async def _refresh(self) -> Status:
        status = await self._read()
        self._latest, self._read_at = status, time.monotonic()
        return status

    async def _poll(self) -> None:
        while True:
            # A console that just connected may have read it already: wait until that is stale.
            await asyncio.sleep(max(0.0, self._read_at + self._every - time.monotonic()))
            try:
                await self.tick()
            except Exception:
                logger.exception("Reading the status snapshot failed; trying again in %s s", self._every)
                await asyncio.sleep(self._every)
