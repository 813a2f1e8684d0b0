"""Websocket consumers: they only turn status snapshots into frames."""
from __future__ import annotations

import asyncio
from typing import Any

from channels.db import database_sync_to_async
from channels.generic.websocket import AsyncJsonWebsocketConsumer

from dashboard.status import history, snapshot

#: Workers write heartbeats and counters to the database every 2 s from any process or machine;
#: the web process reads them back at the same pace, so no channel layer (Redis) is needed.
PUSH_SECONDS = 2.0


class StatusConsumer(AsyncJsonWebsocketConsumer):
    """Sends the status snapshot, then the last hour of samples (for the charts) once; then
    reads the snapshot again every PUSH_SECONDS and sends it whenever it changed."""

    async def connect(self) -> None:
        user = self.scope.get("user")
        if user is None or not user.is_authenticated or not user.is_staff:
            await self.close(code=4403)
            return
        await self.accept()
        self._pusher = asyncio.create_task(self._push())

    async def _push(self) -> None:
        sent = None
        while True:
            status = (await database_sync_to_async(snapshot)()).model_dump(mode="json")
            if status != sent:
                await self.send_json({"type": "status", "status": status})
            if sent is None:
                samples = await database_sync_to_async(history)()
                await self.send_json({"type": "history", "samples": [s.model_dump(mode="json") for s in samples]})
            sent = status
            await asyncio.sleep(PUSH_SECONDS)

    async def disconnect(self, code: int) -> None:
        pusher = getattr(self, "_pusher", None)
        if pusher is not None:
            pusher.cancel()

    async def receive_json(self, content: Any, **kwargs: Any) -> None:
        """The console only listens."""
