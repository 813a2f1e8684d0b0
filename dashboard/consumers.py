"""Websocket consumers: they only turn status snapshots into frames."""
from __future__ import annotations

from typing import Any

from channels.db import database_sync_to_async
from channels.generic.websocket import AsyncJsonWebsocketConsumer

from dashboard.access import refusal
from dashboard.charts import DEFAULT_RANGE, RANGES, chart_samples
from dashboard.status import snapshot
from dashboard.status_feed import Status, StatusFeed

#: Workers write heartbeats and counters to the database every 2 s from any process or machine;
#: the web process reads them back at the same pace, so no channel layer (Redis) is needed.
PUSH_SECONDS = 2.0


def read_status() -> Status:
    return snapshot().model_dump(mode="json")


#: The one poller of this web process: every open console shares its reads.
FEED = StatusFeed(read_status, every=PUSH_SECONDS)


def may_read(user: Any) -> bool:
    """The socket only reads: any role that reads the console (dashboard.access) may open it."""
    return user is not None and user.is_authenticated and refusal(user, "GET") is None


class StatusConsumer(AsyncJsonWebsocketConsumer):
    """Sends the status snapshot, then the default span of samples (for the charts) once; then
    sends each status the shared feed reads whenever it differs from the last one sent."""

    _sent: Status | None = None

    async def connect(self) -> None:
        if not await database_sync_to_async(may_read)(self.scope.get("user")):
            await self.close(code=4403)
            return
        await self.accept()
        await self._push(await FEED.current())
        samples = await database_sync_to_async(chart_samples)(RANGES[DEFAULT_RANGE])
        await self.send_json({"type": "history", "samples": [s.model_dump(mode="json") for s in samples]})
        # Subscribed only now so that no status overtakes the history; a change read meanwhile
        # still differs from what was sent and goes out on the next tick.
        FEED.subscribe(self._push)

    async def _push(self, status: Status) -> None:
        if status != self._sent:
            await self.send_json({"type": "status", "status": status})
            self._sent = status

    async def disconnect(self, code: int) -> None:
        await FEED.unsubscribe(self._push)

    async def receive_json(self, content: Any, **kwargs: Any) -> None:
        """The console only listens."""
