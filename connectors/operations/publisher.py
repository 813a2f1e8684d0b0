"""One long-lived Kafka producer per cluster for the process, for the service layer's sends:
conflict resolutions release the changes held behind them, error retries re-publish what was
parked.

A producer holds connections and a background thread; built once, on first use, it saves
every resolution or retry a connect and a metadata round-trip. Sends are serialised: an
EventProducer counts acknowledgements per batch, so two threads must not share one batch.
After a failed send the producer is dropped (what it still queued is purged, so nothing is
counted twice) and the next send builds a fresh one, as does a change of the cluster's
settings; at exit every producer is flushed.
"""
from __future__ import annotations

import atexit
import threading
from collections.abc import Sequence

from connectors.kafka.config import KafkaSettings
from connectors.kafka.producer import EventProducer
from connectors.models import KafkaCluster
from connectors.operations.unavailable import ServiceUnavailable, translated
from connectors.wiring import kafka_settings

#: How long a send waits for Kafka's acknowledgements: a person is waiting for the answer.
CONFIRM_SECONDS = 15.0
#: At exit, how long to wait for anything still queued.
CLOSE_SECONDS = 5.0

Message = tuple[str, str, bytes]  # topic, key, value

_lock = threading.Lock()
#: By KafkaCluster id: the settings a producer was built with, and the producer.
_producers: dict[int, tuple[KafkaSettings, EventProducer]] = {}


def producer_for(cluster: KafkaCluster) -> EventProducer:
    """The process's producer for the cluster, built on first use (and again when its settings changed)."""
    with _lock:
        return _producer(cluster)


def _producer(cluster: KafkaCluster) -> EventProducer:
    settings = kafka_settings(cluster)
    built = _producers.get(cluster.pk)
    if built is not None and built[0] == settings:
        return built[1]
    if built is not None:
        built[1].close(timeout=0)  # settings changed: its messages were all confirmed or abandoned already
    producer = EventProducer(settings)
    _producers[cluster.pk] = (settings, producer)
    return producer


def publish(cluster: KafkaCluster, messages: Sequence[Message]) -> int:
    """Send the messages in order and block until Kafka acknowledged every one; returns how many.

    Raises ServiceUnavailable when Kafka does not acknowledge them all within CONFIRM_SECONDS
    (some may have arrived: every reader of our topics is idempotent, so sending again is safe).
    """
    if not messages:
        return 0
    with _lock:
        producer: EventProducer | None = None
        try:
            with translated():
                producer = _producer(cluster)
                for topic, key, value in messages:
                    producer.send(topic, key, value)
                return producer.confirm(CONFIRM_SECONDS)
        except ServiceUnavailable:
            _producers.pop(cluster.pk, None)
            if producer is not None:
                producer.abandon()
            raise


def close() -> None:
    """Flush and drop every producer (at exit; the next send builds a new one)."""
    with _lock:
        producers = [producer for _, producer in _producers.values()]
        _producers.clear()
    for producer in producers:
        producer.close(CLOSE_SECONDS)


atexit.register(close)
