"""The status websocket, through the whole ASGI application (origin check, session auth), and the
one status feed that every open console shares."""
from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable

import pytest
from asgiref.sync import sync_to_async
from channels.testing import WebsocketCommunicator
from django.conf import settings
from django.test import Client

from connectors.models import KafkaCluster, MongoTarget, ObjectMapping, SalesforceOrg
from dashboard import consumers
from dashboard.consumers import read_status
from dashboard.status_feed import Status, StatusFeed
from syncsite.asgi import application
from tests.dashboard.roles import OPERATORS, user_with_role

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.anyio]


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


def session_cookie(staff: bool) -> bytes:
    user = user_with_role(f"u{staff}", OPERATORS if staff else None)
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


# -- the shared feed: each test installs its own, with a short tick and its reads counted.
class Reads:
    """The consumers' read of the snapshot, counting its calls; `numbered` adds the call's number
    to the status (so every read differs and is sent), `failing` names the calls that raise."""

    def __init__(self, numbered: bool = False, failing: tuple[int, ...] = ()) -> None:
        self.count = 0
        self.numbered, self.failing = numbered, failing

    def __call__(self) -> Status:
        self.count += 1
        if self.count in self.failing:
            raise RuntimeError("the database went away")
        status = read_status()
        return {**status, "read": self.count} if self.numbered else status


@pytest.fixture
def feed(monkeypatch: pytest.MonkeyPatch) -> Callable[[Reads, float], None]:
    def install(reads: Reads, every: float) -> None:
        monkeypatch.setattr(consumers, "FEED", StatusFeed(reads, every=every))
    return install


async def wait_until(condition: Callable[[], bool], timeout: float = 5) -> None:
    async with asyncio.timeout(timeout):
        while not condition():
            await asyncio.sleep(0.01)


def pollers() -> list[asyncio.Task]:
    return [task for task in asyncio.all_tasks() if task.get_name() == "status-feed" and not task.done()]


async def open_console(cookie: bytes) -> tuple[WebsocketCommunicator, Status]:
    """A staff console past its status and history messages, and the status it started with."""
    console, connected = await connect(cookie)
    assert connected
    first = await console.receive_json_from(timeout=5)
    assert first["type"] == "status"
    assert (await console.receive_json_from(timeout=5))["type"] == "history"
    return console, first["status"]


async def read_numbers(console: WebsocketCommunicator, until: int) -> list[int]:
    """The numbers of the reads `console` is sent, up to read `until`."""
    seen: list[int] = []
    while not seen or seen[-1] < until:
        message = await console.receive_json_from(timeout=5)
        assert message["type"] == "status"
        seen.append(message["status"]["read"])
    return seen


async def test_two_consoles_share_one_snapshot_read_per_tick(feed):
    await sync_to_async(a_mapping)()
    reads = Reads(numbered=True)
    feed(reads, 0.1)
    cookie = await sync_to_async(session_cookie)(True)
    consoles = [(await open_console(cookie))[0] for _ in range(2)]
    assert len(pollers()) == 1
    # Once each console has had a tick, both are subscribed: every later read goes to both.
    both = max([(await read_numbers(console, until=0))[0] for console in consoles])
    for console in consoles:
        assert [n for n in await read_numbers(console, until=both + 3) if n > both] == [both + 1, both + 2, both + 3]

    await consoles[0].disconnect()
    assert len(pollers()) == 1
    await consoles[1].disconnect()
    await wait_until(lambda: not pollers())


async def test_both_consoles_get_a_change_and_nothing_while_nothing_changes(feed):
    await sync_to_async(a_mapping)()
    reads = Reads()
    feed(reads, 0.1)
    cookie = await sync_to_async(session_cookie)(True)
    (first, status), (second, _) = [await open_console(cookie) for _ in range(2)]
    assert status["mappings"][0]["paused"] is False
    ticks = reads.count
    await wait_until(lambda: reads.count >= ticks + 3)
    assert await first.receive_nothing(timeout=0.1) and await second.receive_nothing(timeout=0.1)

    await sync_to_async(ObjectMapping.objects.update)(paused=True)
    for console in (first, second):
        message = await console.receive_json_from(timeout=5)
        assert message["type"] == "status" and message["status"]["mappings"][0]["paused"] is True
        await console.disconnect()
    await wait_until(lambda: not pollers())


async def test_a_new_console_reuses_a_fresh_snapshot_and_the_last_one_out_stops_the_poller(feed):
    await sync_to_async(a_mapping)()
    reads = Reads()
    feed(reads, 60)
    cookie = await sync_to_async(session_cookie)(True)
    (first, status), (second, again) = [await open_console(cookie) for _ in range(2)]
    assert reads.count == 1 and again == status
    for console in (first, second):
        await console.disconnect()
    # Cancelled in the middle of its 60 s wait.
    await wait_until(lambda: not pollers())

    third, _ = await open_console(cookie)
    assert reads.count == 2  # nobody kept the old one current
    await third.disconnect()


async def test_a_failing_read_is_logged_and_the_feed_keeps_going(feed, caplog):
    await sync_to_async(a_mapping)()
    reads = Reads(failing=(2,))  # the first tick after the console's own read
    feed(reads, 0.1)
    console, _ = await open_console(await sync_to_async(session_cookie)(True))
    await wait_until(lambda: reads.count >= 3)
    assert any(r.levelno == logging.ERROR and "snapshot failed" in r.getMessage() for r in caplog.records)

    await sync_to_async(ObjectMapping.objects.update)(paused=True)
    message = await console.receive_json_from(timeout=5)
    assert message["status"]["mappings"][0]["paused"] is True
    await console.disconnect()
    await wait_until(lambda: not pollers())
