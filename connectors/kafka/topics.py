"""Topic creation."""
from __future__ import annotations

import logging

from confluent_kafka import KafkaError, KafkaException
from confluent_kafka.admin import AdminClient, NewTopic

from connectors.kafka.config import KafkaSettings

log = logging.getLogger(__name__)


class KafkaUnavailable(RuntimeError):
    """The cluster did not answer; str() says which servers and what to check."""


def ensure_topics(settings: KafkaSettings, names: list[str], timeout: float = 15.0) -> None:
    """Create the topics that do not exist yet. Blocks; raises KafkaUnavailable."""
    admin = AdminClient(settings.client_config())
    try:
        existing = set(admin.list_topics(timeout=timeout).topics)
    except KafkaException as exc:
        raise KafkaUnavailable(
            f"Kafka at {settings.bootstrap_servers} did not answer within {timeout:.0f} s "
            f"(check KAFKA_BOOTSTRAP_SERVERS / the Kafka connection in the admin): {exc}"
        ) from exc
    missing = [n for n in names if n not in existing]
    if not missing:
        return
    futures = admin.create_topics(
        [NewTopic(n, settings.partitions, settings.replication_factor) for n in missing],
        request_timeout=timeout,
    )
    for name, future in futures.items():
        try:
            future.result(timeout=timeout)
            log.info("created topic %s with %d partitions", name, settings.partitions)
        except KafkaException as exc:
            if exc.args and exc.args[0].code() == KafkaError.TOPIC_ALREADY_EXISTS:
                continue
            raise
