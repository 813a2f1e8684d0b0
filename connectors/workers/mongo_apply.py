"""MongoDB apply: Kafka batches of Salesforce changes -> version-guarded bulk writes -> commit.

The batch goes through the chain of `connectors.workers.apply` (source, decode, ..., commit);
the steps of one mapping's changes are in `connectors.workers.apply.to_mongodb`.
"""
from __future__ import annotations

from datetime import timedelta
from typing import Callable

from connectors import events
from connectors.kafka.config import salesforce_topic
from connectors.models import KafkaCluster, ObjectMapping
from connectors.workers.apply.decode import Batch
from connectors.workers.apply.to_mongodb.documents import current_documents
from connectors.workers.apply.to_mongodb.gate import hold_behind_conflicts
from connectors.workers.apply.to_mongodb.plan import PlanChanges
from connectors.workers.apply.to_mongodb.target import Target
from connectors.workers.apply.to_mongodb.write import WriteToMongo
from connectors.workers.apply.worker import ApplyWorker


class MongoApply(ApplyWorker[Target]):
    """Applies Salesforce changes to MongoDB."""

    kind = "mongo-apply"
    source_label = "Salesforce"

    def __init__(self, cluster: KafkaCluster, batch_size: int, should_stop: Callable[[], bool], *,
                 timeline_retention: timedelta) -> None:
        super().__init__(cluster, batch_size, should_stop, timeline_retention=timeline_retention)
        self._plan = PlanChanges(self.timeline, self.counters, self.name)
        self._write = WriteToMongo(self.timeline, self.counters, self._retrying)

    def _build_target(self, mapping: ObjectMapping) -> Target | None:
        return Target(mapping, self._mongo_client(mapping)) if mapping.captures_salesforce else None

    def _topic(self, target: Target) -> str:
        return salesforce_topic(self.kafka.topic_prefix, target.spec.sf_object)

    def _record_key(self, envelope: events.ChangeEnvelope) -> str | None:
        return envelope.salesforce_id

    def _apply_target(self, target: Target, items: Batch) -> None:
        items = hold_behind_conflicts(target, items, self.timeline, self.counters)
        # Only a two-way mapping merges against the document; one way, the version guard is enough.
        documents = self._retrying(lambda: current_documents(target, items)) if target.spec.two_way else {}
        self._write(target, items, self._plan(target, items, documents))


