"""Through the service layer: conflict resolutions and error retries publish through the one
long-lived producer of the process; a MongoDB or Kafka that does not answer is a 503 naming it
in the API and a message on the console page, and nothing is marked done."""
from __future__ import annotations

from collections.abc import Iterator

import pytest

from connectors.kafka.topics import ensure_topics
from connectors.models import Conflict, KafkaCluster, MongoTarget, ObjectMapping, SalesforceOrg, SyncError
from connectors.operations import ServiceUnavailable, publisher
from connectors.wiring import kafka_settings
from dashboard.models import ApiToken
from devstack.health import free_port
from tests.dashboard.page_checks import shown
from tests.dashboard.roles import OPERATORS, user_with_role

pytestmark = pytest.mark.django_db


@pytest.fixture
def bearer() -> dict[str, str]:
    return {"HTTP_AUTHORIZATION": f"Bearer {ApiToken.issue(user_with_role('robot', OPERATORS), 'ci')[1]}"}


@pytest.fixture
def unreachable() -> Iterator[ObjectMapping]:
    """A mapping whose MongoDB and Kafka are closed ports."""
    org = SalesforceOrg.objects.create(name="o", login_url="https://login.salesforce.com")
    kafka = KafkaCluster.objects.create(name="k", bootstrap_servers=f"127.0.0.1:{free_port()}")
    mongo = MongoTarget.objects.create(name="m", uri=f"mongodb://127.0.0.1:{free_port()}", database="db")
    yield ObjectMapping.objects.create(name="accounts", org=org, kafka=kafka, mongo=mongo, sf_object="Account",
                                       collection="accounts", direction="both")
    publisher.close()  # no producer left calling the closed port


@pytest.fixture
def short_confirm(monkeypatch: pytest.MonkeyPatch) -> None:
    """A person waits CONFIRM_SECONDS for a Kafka that does not answer; the tests wait less."""
    monkeypatch.setattr(publisher, "CONFIRM_SECONDS", 2.0)


def a_conflict(mapping: ObjectMapping) -> Conflict:
    return Conflict.objects.create(mapping=mapping, salesforce_id="001000000000001AAA", fields=["Name"],
                                   base_values={"Name": "a"}, salesforce_values={"Name": "b"},
                                   mongo_values={"Name": "c"})


def an_error(mapping: ObjectMapping, topic: str) -> SyncError:
    return SyncError.objects.create(mapping=mapping, stage="salesforce_write", code="INVALID_VALUE", message="m",
                                    record_key="r1", message_key="same-key", payload='{"n": 1}', topic=topic)


def test_resolutions_and_retries_publish_through_one_long_lived_producer(client, bearer, make_workers, unique):
    make_workers(kinds=())  # the Account mapping on the session's Kafka and MongoDB, no workers
    mapping = ObjectMapping.objects.get(name="accounts")
    topic = f"{unique}.republished"
    ensure_topics(kafka_settings(mapping.kafka), [topic])
    producer = publisher.producer_for(mapping.kafka)

    for error in (an_error(mapping, topic), an_error(mapping, topic)):
        answer = client.post(f"/api/v1/errors/{error.pk}/retry", **bearer)
        assert answer.status_code == 200, answer.content
    conflict = a_conflict(mapping)
    conflict.waiting.create(topic=topic, key="same-key", payload=b'{"n": 2}')
    answer = client.post(f"/api/v1/conflicts/{conflict.pk}/resolve", {"take": {"Name": "salesforce"}},
                         content_type="application/json", **bearer)
    assert answer.status_code == 200, answer.content

    assert publisher.producer_for(mapping.kafka) is producer
    # One key, one partition: the producer confirmed all three sends (offsets 0, 1 and 2).
    assert [offset for (name, _), offset in producer.highest.items() if name == topic] == [2]
    assert not conflict.waiting.exists()


def test_with_kafka_unreachable_a_retry_is_a_503_naming_kafka_and_the_error_stays_open(
        client, bearer, unreachable, short_confirm):
    error = an_error(unreachable, "sync.sf.Account")
    answer = client.post(f"/api/v1/errors/{error.pk}/retry", **bearer)
    assert answer.status_code == 503
    assert answer.json()["detail"].startswith("kafka: the messages were not acknowledged")
    assert SyncError.objects.get(pk=error.pk).status == SyncError.Status.OPEN


def test_with_mongodb_unreachable_a_resolution_is_a_503_naming_mongodb_and_the_conflict_stays_open(
        client, bearer, unreachable):
    conflict = a_conflict(unreachable)
    answer = client.post(f"/api/v1/conflicts/{conflict.pk}/resolve", {"take": {"Name": "salesforce"}},
                         content_type="application/json", **bearer)
    assert answer.status_code == 503
    assert answer.json()["detail"].startswith(f"mongodb: 127.0.0.1:{unreachable.mongo.uri.rsplit(':', 1)[1]} "
                                              "did not answer")
    assert Conflict.objects.get(pk=conflict.pk).status == Conflict.Status.OPEN


def test_the_console_says_which_service_did_not_answer(client, staff, unreachable, short_confirm):
    error = an_error(unreachable, "sync.sf.Account")
    retried = client.post(f"/errors/{error.pk}/retry/", follow=True)
    assert [m.split(" (")[0] for m in shown(retried)] == ["Nothing retried: kafka: the messages were not acknowledged"]
    conflict = a_conflict(unreachable)
    page = client.post(f"/conflicts/{conflict.pk}/", {"choice-Name": "salesforce"})
    assert page.status_code == 503
    assert [m.split(" did not answer")[0] for m in shown(page)] == [
        f"Not resolved: mongodb: 127.0.0.1:{unreachable.mongo.uri.rsplit(':', 1)[1]}"]
    assert statuses(error, conflict) == ["open", "open"]


def statuses(error: SyncError, conflict: Conflict) -> list[str]:
    return [SyncError.objects.get(pk=error.pk).status, Conflict.objects.get(pk=conflict.pk).status]


def test_after_a_failed_send_the_next_one_builds_a_fresh_producer(unreachable, short_confirm):
    failed = publisher.producer_for(unreachable.kafka)
    with pytest.raises(ServiceUnavailable, match="^kafka: "):
        publisher.publish(unreachable.kafka, [("sync.sf.Account", "k", b"{}")])
    assert publisher.producer_for(unreachable.kafka) is not failed


def test_a_cluster_whose_settings_changed_gets_a_new_producer(unreachable):
    before = publisher.producer_for(unreachable.kafka)
    assert publisher.producer_for(unreachable.kafka) is before
    unreachable.kafka.bootstrap_servers = f"127.0.0.1:{free_port()}"
    assert publisher.producer_for(unreachable.kafka) is not before
