"""The status socket through the whole ASGI application: any role that reads the console opens
it, a user in no role (even with Staff status) is refused."""
from __future__ import annotations

import pytest
from asgiref.sync import sync_to_async
from django.conf import settings
from django.test import Client

from tests.dashboard.roles import VIEWERS, user_with_role
from tests.dashboard.test_websocket import connect

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.anyio]


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


def session_cookie(role: str | None) -> bytes:
    client = Client()
    client.force_login(user_with_role(f"socket-{role}", role, is_staff=True))
    return f"{settings.SESSION_COOKIE_NAME}={client.cookies[settings.SESSION_COOKIE_NAME].value}".encode()


async def test_a_viewer_receives_the_live_status():
    communicator, connected = await connect(await sync_to_async(session_cookie)(VIEWERS))
    assert connected
    assert (await communicator.receive_json_from(timeout=5))["type"] == "status"
    await communicator.disconnect()


async def test_a_user_in_no_role_is_refused_even_with_staff_status():
    communicator, connected = await connect(await sync_to_async(session_cookie)(None))
    assert not connected
    await communicator.disconnect()
