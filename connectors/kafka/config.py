"""librdkafka configuration for our producers, consumers and admin clients."""
from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class KafkaSettings:
    bootstrap_servers: str
    topic_prefix: str = "sync"
    partitions: int = 3
    replication_factor: int = 1
    security_protocol: str = "PLAINTEXT"
    sasl_mechanism: str = ""
    sasl_username: str = ""
    sasl_password: str = ""
    #: How long the broker may hold a fetch that found nothing new (librdkafka's default). A Kafka
    #: broker answers a waiting fetch as soon as data arrives, so this costs no latency there; the
    #: embedded broker answers only when the wait is over, so the dev stack sets it to 20 ms
    #: (`KAFKA_FETCH_WAIT_MS`; docs/benchmarks.md, 2026-12-01).
    fetch_wait_ms: int = 500

    def client_config(self) -> dict[str, str | int | float | bool]:
        """Connection settings common to every client (never logged: may hold a password)."""
        config: dict[str, str | int | float | bool] = {
            "bootstrap.servers": self.bootstrap_servers, "security.protocol": self.security_protocol
        }
        if self.sasl_mechanism:
            config.update(
                {
                    "sasl.mechanism": self.sasl_mechanism,
                    "sasl.username": self.sasl_username,
                    "sasl.password": self.sasl_password,
                }
            )
        return config

    def producer_config(self) -> dict[str, str | int | float | bool]:
        return {
            **self.client_config(),
            # Idempotence gives acks=all and ordered, de-duplicated retries per partition.
            "enable.idempotence": True,
            "acks": "all",
            "linger.ms": 5,
            "compression.type": "lz4",
            "delivery.timeout.ms": 120_000,
        }

    def consumer_config(self, group_id: str) -> dict[str, str | int | float | bool]:
        return {
            **self.client_config(),
            "group.id": group_id,
            "enable.auto.commit": False,
            "auto.offset.reset": "earliest",
            "session.timeout.ms": 6000,
            "heartbeat.interval.ms": 1000,
            "max.poll.interval.ms": 300_000,
            "topic.metadata.refresh.interval.ms": 10_000,
            "fetch.wait.max.ms": self.fetch_wait_ms,
            # Prefetch a few batches, not librdkafka's default of up to 64 MB / 100k messages a
            # partition: that queue is what a backfill's peak RSS was made of, and it buys no
            # throughput when the apply side is the slower one.
            "queued.min.messages": 2_000,
            "queued.max.messages.kbytes": 8_192,
        }


def salesforce_topic(prefix: str, sf_object: str) -> str:
    return f"{prefix}.sf.{sf_object}"


REREAD_SUFFIX = ".reread"


def salesforce_reread_topic(prefix: str, sf_object: str) -> str:
    """Where re-reads of a whole object go (backfill, initial load, CDC fallbacks): apart from
    the live topic, so that live changes never queue behind a re-read's rows."""
    return f"{salesforce_topic(prefix, sf_object)}{REREAD_SUFFIX}"


def live_topic_of(topic: str) -> str:
    """The live topic a re-read topic belongs to (a topic that is none: itself). A re-read topic
    shares its live topic's broker-loss epoch: the same capture publishes both."""
    return topic.removesuffix(REREAD_SUFFIX)


def mongo_topic(prefix: str, collection: str) -> str:
    return f"{prefix}.mongo.{collection}"


def relay_topic(prefix: str, channel: str) -> str:
    """A platform event relay's topic: `/event/Order_Update__e` -> `<prefix>.event.Order_Update__e`."""
    return f"{prefix}.event.{channel.rstrip('/').rsplit('/', 1)[-1]}"


def dead_letter_topic(prefix: str) -> str:
    return f"{prefix}.deadletter"
