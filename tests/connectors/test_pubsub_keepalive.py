"""The Pub/Sub client's HTTP/2 keepalive pings against a gRPC server's ping policy: a client that
pings more often than the server allows has its stream ended with GOAWAY "too_many_pings" (the
`UNAVAILABLE: Too many pings` of issue 15); the product's setting, a fifth above the server's
minimum interval, keeps an idle stream open. Intervals are scaled down from minutes to a second."""
from __future__ import annotations

import time
from collections.abc import Iterator

import pytest

from connectors.salesforce.pubsub import client as pubsub
from sfemulator import ids
from sfemulator.config import Credentials
from sfemulator.org import Org
from sfemulator.pubsub.server import MIN_PING_INTERVAL_MS, PubSubServer
from sfemulator.tls import ensure_tls

#: The server's minimum interval between pings, scaled down 300x from gRPC's default of 5 minutes.
SCALE = 300
SERVER_MIN_PING_MS = MIN_PING_INTERVAL_MS // SCALE
TOPIC = "/data/AccountChangeEvent"


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[PubSubServer]:
    root = tmp_path_factory.mktemp("pubsub-keepalive")
    org = Org(root, Credentials())
    org.events.keepalive_s = 3600.0  # the server sends nothing while the test wants the stream idle
    served = PubSubServer(org, ensure_tls(root), min_ping_interval_ms=SERVER_MIN_PING_MS)
    served.start()
    yield served
    served.stop()
    org.close()


def subscribe(server: PubSubServer, keepalive_ms: int) -> tuple[pubsub.PubSubClient, pubsub.Subscription]:
    token, _ = server.org.auth.issue(ids.ADMIN_USER_ID)
    auth = pubsub.PubSubAuth(token, "https://emulator.invalid", ids.ORG_ID)
    client = pubsub.PubSubClient(server.address, lambda refresh: auth, ca_bundle=str(server.tls.ca),
                                 keepalive_ms=keepalive_ms)
    return client, client.subscribe(TOPIC)


def idle(subscription: pubsub.Subscription, seconds: float) -> list[pubsub.FetchedBatch]:
    """Poll for `seconds` of an otherwise idle stream; what came (reopens count in `reconnects`)."""
    came, deadline = [], time.monotonic() + seconds
    while time.monotonic() < deadline:
        if (batch := subscription.poll(timeout=0.1)) is not None:
            came.append(batch)
    return came


def test_the_products_keepalive_is_above_the_servers_minimum_interval():
    assert pubsub.KEEPALIVE_TIME_MS > MIN_PING_INTERVAL_MS
    assert pubsub.KEEPALIVE_TIMEOUT_MS < pubsub.KEEPALIVE_TIME_MS


def test_a_client_pinging_faster_than_the_server_allows_loses_its_stream(server, caplog):
    """The setting before issue 15 (a ping a minute against a 5-minute minimum), scaled."""
    client, subscription = subscribe(server, keepalive_ms=60_000 // SCALE)
    try:
        idle(subscription, 8 * SERVER_MIN_PING_MS / 1000)
        assert subscription.reconnects >= 1
        assert "Too many pings" in caplog.text
    finally:
        subscription.close()
        client.close()


def test_a_stream_idle_for_several_keepalive_intervals_stays_open(server, caplog):
    client, subscription = subscribe(server, keepalive_ms=pubsub.KEEPALIVE_TIME_MS // SCALE)
    try:
        assert idle(subscription, 5 * SERVER_MIN_PING_MS / 1000) == []  # 5 pings, no data either way
        server.org.events.keepalive_s = 0.0  # now the server sends its empty batch on the same stream
        try:
            assert idle(subscription, 1.0) != []
        finally:
            server.org.events.keepalive_s = 3600.0
        assert subscription.reconnects == 0
        assert "Too many pings" not in caplog.text
    finally:
        subscription.close()
        client.close()
