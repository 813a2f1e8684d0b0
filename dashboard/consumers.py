"""Websocket consumers: they only turn status snapshots into frames."""
from __future__ import annotations

from typing import Any

from channels.db import database_sync_to_async
from channels.generic.websocket import AsyncJsonWebsocketConsumer

from dashboard.status import history, snapshot
from dashboard.status_feed import Status, StatusFeed

#: Workers write heartbeats and counters to the database every 2 s from any process or machine;
#: the web process reads them back at the same pace, so no channel layer (Redis) is needed.
PUSH_SECONDS = 2.0


def read_status() -> Status:
    return snapshot().model_dump(mode="json")


#: The one poller of this web process: every open console shares its reads.
FEED = StatusFeed(read_status, every=PUSH_SECONDS)


class StatusConsumer(AsyncJsonWebsocketConsumer):
    """Sends the status snapshot, then the last hour of samples (for the charts) once; then
    sends each status the shared feed reads whenever it differs from the last one sent."""

    _sent: Status | None = None

    async def connect(self) -> None:
        user = self.scope.get("user")
        if user is None or not user.is_authenticated or not user.is_staff:
            await self.close(code=4403)
            return
        await self.accept()
        await self._push(await FEED.current())
        samples = await database_sync_to_async(history)()
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
