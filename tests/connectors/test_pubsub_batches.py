"""How a Pub/Sub subscription hands out what the stream delivered: every FetchResponse already
there at once (a capture pays its per-batch cost once, not once per response), and the next
FetchRequest sent once half of what was asked for has been handed out (a busy stream never
waits a round trip for it), never more than `batch_size` events asked for and not handed out."""
from __future__ import annotations

from collections.abc import Iterator

import pytest

from connectors.salesforce.pubsub import client as pubsub
from sfemulator import ids
from sfemulator.config import Credentials
from sfemulator.org import Org
from sfemulator.pubsub.server import PubSubServer
from sfemulator.tls import ensure_tls
from tests.connectors.helpers import wait_for

TOPIC = "/data/AccountChangeEvent"
BATCH = 10


@pytest.fixture
def server(tmp_path) -> Iterator[PubSubServer]:
    org = Org(tmp_path, Credentials())
    served = PubSubServer(org, ensure_tls(tmp_path))
    served.start()
    yield served
    served.stop()
    org.close()


@pytest.fixture
def subscription(server: PubSubServer) -> Iterator[pubsub.Subscription]:
    token, _ = server.org.auth.issue(ids.ADMIN_USER_ID)
    auth = pubsub.PubSubAuth(token, "https://emulator.invalid", ids.ORG_ID)
    client = pubsub.PubSubClient(server.address, lambda refresh: auth, ca_bundle=str(server.tls.ca))
    subscribed = client.subscribe(TOPIC, pubsub.EARLIEST, batch_size=BATCH)
    yield subscribed
    subscribed.close()
    client.close()


def emit(server: PubSubServer, n: int) -> None:
    server.org.events.emit_gap("Account", [f"001Hn00000{n:05d}AAA"], "GAP_UPDATE", ids.ADMIN_USER_ID)


def delivered(subscription: pubsub.Subscription) -> tuple[int, int]:
    """(FetchResponses, events) the stream delivered and `poll` has not handed out yet."""
    responses = list(subscription._stream.responses.queue)
    return len(responses), sum(len(r.events) for r in responses)


def test_poll_hands_out_every_response_already_delivered_as_one_batch(server, subscription):
    for n in range(4):  # one at a time, so that each comes in a FetchResponse of its own
        emit(server, n)
        wait_for(lambda n=n: delivered(subscription) == (n + 1, n + 1), timeout=10, message=f"response {n + 1}")

    batch = subscription.poll(timeout=5)

    assert batch is not None and len(batch.events) == 4
    assert subscription.position == batch.events[-1].replay_id.hex() == batch.latest_replay_id
    assert subscription.poll(timeout=0.2) is None  # nothing was left behind


def test_more_is_asked_for_once_half_of_what_was_asked_for_is_handed_out(server, subscription):
    handed_out, replays = 0, []
    for n in range(BATCH // 2):  # hand out half of the 10 asked for, one at a time
        emit(server, n)
        batch = subscription.poll(timeout=10)
        assert batch is not None and len(batch.events) == 1
        handed_out += 1
        replays += [e.replay_id for e in batch.events]

    # The other 5 of the first request come, and so do 5 more: asked for when the fifth was
    # handed out (the client used to ask again only once all 10 were).
    for n in range(BATCH // 2, 3 * BATCH):
        emit(server, n)
    wait_for(lambda: delivered(subscription)[1] == BATCH, timeout=10, message="a full batch's worth of events")

    while handed_out < 3 * BATCH:  # the rest, in order, nothing lost or repeated
        batch = subscription.poll(timeout=10)
        assert batch is not None and len(batch.events) <= BATCH
        handed_out += len(batch.events)
        replays += [e.replay_id for e in batch.events]
    assert handed_out == 3 * BATCH and replays == sorted(set(replays))
    assert subscription.poll(timeout=0.2) is None
