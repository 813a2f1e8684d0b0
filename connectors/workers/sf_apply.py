"""Salesforce apply: Kafka batches of MongoDB changes -> sObject Collections writes (or, for a
large backlog, Bulk API 2.0 ingest jobs: `apply.to_salesforce.governor`) -> write-back -> commit.

The batch goes through the chain of `connectors.workers.apply` (source, decode, ..., commit);
the steps of one mapping's changes are in `connectors.workers.apply.to_salesforce`: read the
documents as they are now, let conflicts hold or settle their changes, plan what changed since
the last sync (an unchanged document is an echo and is dropped), check `manual` updates against
Salesforce, write, and write the sync state back to the documents (overlapped with the next
batch; the commit waits for it).
"""
from __future__ import annotations

import time
from collections import Counter
from datetime import timedelta
from typing import Callable

from confluent_kafka import Message

from connectors import events
from connectors.engine.merge import MANUAL
from connectors.kafka.config import mongo_topic
from connectors.models import KafkaCluster, ObjectMapping
from connectors.operations.metrics import api_usage_gauges
from connectors.salesforce.client import ApiLimitReached
from connectors.salesforce.writer import BATCH_LIMIT, SalesforceWriter
from connectors.wiring import salesforce_client
from connectors.workers.apply.decode import Batch
from connectors.workers.apply.to_salesforce.api_limit import ApiLimitPause
from connectors.workers.apply.to_salesforce.disputes import HoldDisputed
from connectors.workers.apply.to_salesforce.documents import ReadDocuments
from connectors.workers.apply.to_salesforce.gate import ConflictGate
from connectors.workers.apply.to_salesforce.governor import WritePathGovernor
from connectors.workers.apply.to_salesforce.plan import PlanWrites
from connectors.workers.apply.to_salesforce.sync_state import WriteBackSyncState
from connectors.workers.apply.to_salesforce.target import Books, Target
from connectors.workers.apply.to_salesforce.write import WriteToSalesforce
from connectors.workers.apply.worker import ApplyWorker

#: How long a batch going by Bulk API job waits at most for Kafka to hand out a job's worth.
TOP_UP_SECONDS = 5.0


class SalesforceApply(ApplyWorker[Target]):
    """Applies MongoDB changes to Salesforce."""

    kind = "sf-apply"
    source_label = "MongoDB"

    def __init__(self, cluster: KafkaCluster, batch_size: int, should_stop: Callable[[], bool],
                 pause_at_share: float = 0.9, parallel_calls: int = 4, *, timeline_retention: timedelta,
                 bulk_write_threshold: int = 10_000) -> None:
        self.pause_at_share = pause_at_share
        self.parallel_calls = parallel_calls
        self._writers: dict[int, SalesforceWriter] = {}
        super().__init__(cluster, batch_size, should_stop, timeline_retention=timeline_retention)
        # A batch going by Bulk API job holds up to twice the threshold, so a backlog found at the
        # threshold goes in one job, not one and a remainder.
        self._governor = WritePathGovernor(bulk_write_threshold, max(2 * bulk_write_threshold, batch_size))
        self._lags: dict[str, int] = {}  # by topic: changes Kafka holds past the batch at hand
        self._api_limit = ApiLimitPause(self.name, self.counters)
        books = Books(self.timeline, self.counters)
        self._read = ReadDocuments(books, self._commit, self._retrying)
        self._gate = ConflictGate(books)
        self._plan = PlanWrites(books)
        self._hold_disputed = HoldDisputed(books)
        self._write = WriteToSalesforce(books, WriteBackSyncState(self._write_backs, self._retrying), self._governor)

    @property
    def paused(self) -> bool:
        """Writing is paused at the org's API limit."""
        return self._api_limit.paused

    def _build_target(self, mapping: ObjectMapping) -> Target | None:
        if not mapping.captures_mongodb:
            return None
        if mapping.org_id not in self._writers:
            client = salesforce_client(mapping.org, should_stop=self._should_stop)
            self._writers[mapping.org_id] = SalesforceWriter(client, self.pause_at_share, self.parallel_calls)
        collection = self._mongo_client(mapping)[mapping.mongo.database][mapping.collection]
        return Target(mapping, self._writers[mapping.org_id], collection)

    def _topic(self, target: Target) -> str:
        return mongo_topic(self.kafka.topic_prefix, target.spec.collection)

    def _record_key(self, envelope: events.ChangeEnvelope) -> str | None:
        # The last change of a document wins: its current state is read from MongoDB anyway.
        return envelope.mongo_id

    def _apply_target(self, target: Target, items: Batch) -> None:
        documents = self._read(target, items)
        items = self._gate(target, items)
        writes = self._plan(target, items, documents)
        if writes.updates and target.spec.conflict_policy == MANUAL:
            writes.updates = self._hold_disputed(target, writes.updates)
        self._write(target, writes, backlog=len(items) + self._lags.get(self._topic(target), 0))

    # -- at the API limit --------------------------------------------------------------
    def _poll(self) -> list[Message]:
        if self._api_limit.resumed():
            self._hold_paused()  # writing resumes: fetch again
        messages = super()._poll()
        if self.paused and messages:
            # Fetched before the hold took effect (e.g. just after a rebalance): read again on resuming.
            self._source.rewind(messages)
            return []
        return self._fill_for_a_job(messages)

    def _fill_for_a_job(self, messages: list[Message]) -> list[Message]:
        """When a topic's changes in this batch plus those Kafka holds past it (its lag) reach the
        Bulk API threshold, take up to a job's worth of changes in this batch. The broker is asked
        for the lag only after a batch of more than one sObject Collections call's worth: a live
        trickle pays nothing."""
        self._lags = self._source.consumer.remaining(ask_broker=len(messages) >= BATCH_LIMIT) if messages else {}
        in_batch = Counter(str(m.topic()) for m in messages)
        if not any(n + self._lags.get(topic, 0) >= self._governor.threshold for topic, n in in_batch.items()):
            return messages
        # Kafka may hand the rest out slower than it is asked for (the prefetch refills): keep
        # polling while the lag says there is more, for up to TOP_UP_SECONDS.
        deadline = time.monotonic() + TOP_UP_SECONDS
        while len(messages) < self._governor.job_size and time.monotonic() < deadline:
            more = self._source.poll(self._governor.job_size - len(messages))
            messages += more
            if not more and not any(self._source.consumer.remaining(ask_broker=True).get(t) for t in in_batch):
                break
        self._lags = self._source.consumer.remaining(ask_broker=True)
        return messages

    def _apply_or_rewind(self, messages: list[Message]) -> bool:
        try:
            return super()._apply_or_rewind(messages)
        except ApiLimitReached as exc:
            self._api_limit.pause(next(iter(self._writers.values()), None), exc)
            self._hold_paused()
            return False

    def _held_topics(self) -> set[str]:
        if self.paused:
            return set(self._topics())  # every topic: the daily limit is the org's
        return super()._held_topics()

    def gauges(self) -> dict[str, int]:
        """API usage per org from the last Sforce-Limit-Info seen, for the heartbeat; while paused
        at the API limit, when usage is next checked (`ApiLimitPause.gauges`)."""
        gauges = {k: v for org_id, writer in self._writers.items()
                  for k, v in api_usage_gauges(org_id, writer.client).items()}
        return {**gauges, **self._api_limit.gauges(), **self._governor.gauges()}

    def resume_check_now(self) -> None:
        """Let the next step re-read API usage at once (tests, the console's resume button)."""
        self._api_limit.check_now()
