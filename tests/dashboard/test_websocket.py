"""The status websocket, through the whole ASGI application (origin check, session auth)."""
from __future__ import annotations

import pytest
from asgiref.sync import sync_to_async
from channels.testing import WebsocketCommunicator
from django.conf import settings
from django.contrib.auth import get_user_model
from django.test import Client

from connectors.models import KafkaCluster, MongoTarget, ObjectMapping, SalesforceOrg
from syncsite.asgi import application

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.anyio]


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


def session_cookie(staff: bool) -> bytes:
    user = get_user_model().objects.create_user(f"u{staff}", password="pw-socket-1", is_staff=staff)
    client = Client()
    client.force_login(user)
    return f"{settings.SESSION_COOKIE_NAME}={client.cookies[settings.SESSION_COOKIE_NAME].value}".encode()


def a_mapping() -> None:
    org = SalesforceOrg.objects.create(name="o", login_url="https://login.salesforce.com")
    kafka = KafkaCluster.objects.create(name="k", bootstrap_servers="127.0.0.1:9092")
    mongo = MongoTarget.objects.create(name="m", uri="mongodb://127.0.0.1", database="db")
    ObjectMapping.objects.create(name="accounts", org=org, kafka=kafka, mongo=mongo, sf_object="Account",
                                 collection="accounts")


async def connect(cookie: bytes | None, origin: bytes = b"http://localhost") -> tuple[WebsocketCommunicator, bool]:
    headers = [(b"origin", origin)] + ([(b"cookie", cookie)] if cookie else [])
    communicator = WebsocketCommunicator(application, "/ws/status/", headers=headers)
    connected, _ = await communicator.connect(timeout=5)
    return communicator, connected


async def test_staff_receive_the_status_snapshot():
    await sync_to_async(a_mapping)()
    communicator, connected = await connect(await sync_to_async(session_cookie)(True))
    assert connected
    message = await communicator.receive_json_from(timeout=5)
    assert message["type"] == "status"
    assert [m["name"] for m in message["status"]["mappings"]] == ["accounts"]
    await communicator.disconnect()


async def test_anonymous_and_non_staff_users_are_refused():
    for cookie in (None, await sync_to_async(session_cookie)(False)):
        communicator, connected = await connect(cookie)
        assert not connected
        await communicator.disconnect()


async def test_a_foreign_origin_is_refused():
    communicator, connected = await connect(await sync_to_async(session_cookie)(True), origin=b"http://evil.example")
    assert not connected
    await communicator.disconnect()
