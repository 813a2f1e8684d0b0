"""Figures about each mapping, from the database and the Kafka cluster: the numbers the
metrics sampler stores every few seconds and the console, its charts and /metrics show.

Directions are named by where changes come from: `sf_to_mongo` (Salesforce capture ->
mongo-apply) and `mongo_to_sf` (MongoDB capture -> sf-apply).
"""
from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from typing import Any, Callable

from confluent_kafka import ConsumerGroupTopicPartitions, KafkaException, TopicPartition
from confluent_kafka.admin import AdminClient, OffsetSpec
from django.utils import timezone as dj_timezone

from connectors.engine.conversion import parse_sf_datetime
from connectors.kafka.config import KafkaSettings, mongo_topic, salesforce_topic
from connectors.mappings.schema_drift import open_drift
from connectors.models import (
    CaptureCheckpoint,
    MongoCheckpoint,
    ObjectMapping,
    RecordEvent,
    ReplayCheckpoint,
    WorkerStatus,
)
from connectors.workers.pause import API_LIMIT_PAUSE_GAUGE

#: A worker whose heartbeat is older than this is taken for dead.
HEARTBEAT_STALE_SECONDS = 15
DIRECTIONS = ("sf_to_mongo", "mongo_to_sf")
#: Which side's changes travel in each direction (RecordEvent.source).
DIRECTION_SOURCE = {"sf_to_mongo": RecordEvent.Source.SALESFORCE, "mongo_to_sf": RecordEvent.Source.MONGODB}


def api_usage_gauges(org_id: int, client: Any) -> dict[str, int]:
    """Heartbeat gauges from a SalesforceClient's last Sforce-Limit-Info header (none before a call)."""
    usage = client.api_usage.get("api-usage")
    return {f"api_used.{org_id}": usage.used, f"api_limit.{org_id}": usage.total} if usage else {}


def fresh_workers() -> Any:
    fresh_after = dj_timezone.now() - timedelta(seconds=HEARTBEAT_STALE_SECONDS)
    return WorkerStatus.objects.filter(last_beat__gte=fresh_after)


def _serves(worker_name: str, mapping: ObjectMapping) -> bool:
    """Capture workers are named `<kind>:<mapping>`, apply workers `<kind>:<kafka cluster>`."""
    kind, _, target = worker_name.partition(":")
    return target == mapping.name or (kind.endswith("-apply") and target == mapping.kafka.name)


def _needed_workers(mapping: ObjectMapping) -> dict[str, Callable[[str], bool]]:
    """The worker kinds a mapping needs beating, each with a test on a worker's name."""
    cluster = mapping.kafka.name
    needed: dict[str, Callable[[str], bool]] = {}
    if mapping.captures_salesforce:
        # Polling or CDC: any Salesforce capture worker of this mapping.
        needed["Salesforce capture"] = lambda n: n.startswith("sf-") and n.endswith(f":{mapping.name}") \
            and not n.startswith("sf-apply")
        needed["mongo-apply"] = lambda n: n == f"mongo-apply:{cluster}"
    if mapping.captures_mongodb:
        needed["mongo-capture"] = lambda n: n == f"mongo-capture:{mapping.name}"
        needed["sf-apply"] = lambda n: n == f"sf-apply:{cluster}"
    return needed


def worker_trouble(mapping: ObjectMapping, workers: list[WorkerStatus]) -> str:
    """Why the live `workers` do not sync `mapping` (one of its workers keeps failing, or a kind it
    needs is not beating), in a few words; "" when they do. Shared by the console and the alerts."""
    failing = [w for w in workers if w.state == "failing" and _serves(w.name, mapping)]
    if failing:
        return f"{failing[0].name}: {failing[0].last_error[:200]}"
    missing = [kind for kind, needed in _needed_workers(mapping).items()
               if not any(w.state != "stopped" and needed(w.name) for w in workers)]
    if missing:
        return f"no {' or '.join(missing)} worker is beating (is manage.py runconsumers running?)"
    return ""


def api_limit_pause(mapping: ObjectMapping, workers: list[WorkerStatus]) -> str:
    """Why and until when writes of `mapping` to Salesforce wait at the org's API limit, or ""."""
    if not mapping.captures_mongodb:
        return ""
    for worker in workers:
        check_at = worker.counters.get(API_LIMIT_PAUSE_GAUGE)
        if worker.name == f"sf-apply:{mapping.kafka.name}" and worker.state != "stopped" and check_at:
            used = worker.counters.get(f"api_used.{mapping.org_id}")
            limit = worker.counters.get(f"api_limit.{mapping.org_id}")
            usage = f" ({used:,} of {limit:,} calls used today)" if used is not None and limit else ""
            at = datetime.fromtimestamp(check_at, timezone.utc).strftime("%H:%M:%S UTC")
            return (f"API limit{usage}: writing to Salesforce resumes once usage falls below the pause threshold; "
                    f"next check at {at}")
    return ""


def open_drift_counts() -> Counter[int]:
    """Unaccepted schema drift per mapping id."""
    return Counter(open_drift().values_list("mapping_id", flat=True))


def sample_seconds() -> float:
    """How often the metrics sampler stores a sample of each mapping."""
    # Imported here: the sampler is built on this module.
    from connectors.workers.metrics_sampler import SAMPLE_SECONDS
    return SAMPLE_SECONDS


def latest_api_usage(org_id: int) -> tuple[int, int] | None:
    """(used, daily limit) of an org as its most recently beating worker last saw it."""
    used_key, limit_key = f"api_used.{org_id}", f"api_limit.{org_id}"
    for counters in fresh_workers().order_by("-last_beat").values_list("counters", flat=True):
        if used_key in counters and limit_key in counters:
            return int(counters[used_key]), int(counters[limit_key])
    return None


def apply_groups(prefix: str) -> dict[str, str]:
    """The apply consumer groups by direction (see ApplyWorker: `<prefix>.<kind>`)."""
    return {"sf_to_mongo": f"{prefix}.mongo-apply", "mongo_to_sf": f"{prefix}.sf-apply"}


def mapping_topics(mapping: ObjectMapping, prefix: str) -> dict[str, str]:
    """The topic each direction of a mapping travels through, for the directions it syncs."""
    topics = {}
    if mapping.direction in (ObjectMapping.Direction.SF_TO_MONGO, ObjectMapping.Direction.BOTH):
        topics["sf_to_mongo"] = salesforce_topic(prefix, mapping.sf_object)
    if mapping.direction in (ObjectMapping.Direction.MONGO_TO_SF, ObjectMapping.Direction.BOTH):
        topics["mongo_to_sf"] = mongo_topic(prefix, mapping.collection)
    return topics


class LagReader:
    """Consumer lag of a group on a topic: end offset minus committed offset, summed over
    partitions (a partition with no commit yet counts from its start, as the apply consumer
    reads from the earliest offset). Read with the admin API, so no group is joined."""

    def __init__(self, settings: KafkaSettings, timeout: float = 5.0) -> None:
        self._admin = AdminClient(settings.client_config())
        self._timeout = timeout

    def lag(self, group: str, topic: str) -> int | None:
        """Messages not yet applied; 0 for a topic that does not exist yet; None if Kafka did not answer."""
        try:
            metadata = self._admin.list_topics(timeout=self._timeout).topics.get(topic)
            if metadata is None or metadata.error is not None:
                return 0
            partitions = [TopicPartition(topic, p) for p in metadata.partitions]
            committed = self._committed(group, partitions)
            latest = self._offsets(partitions, OffsetSpec.latest())
            earliest = self._offsets(partitions, OffsetSpec.earliest())
        except KafkaException:
            return None
        return sum(max(0, latest[p] - (committed[p] if committed.get(p, -1) >= 0 else earliest[p]))
                   for p in latest)

    def _committed(self, group: str, partitions: list[TopicPartition]) -> dict[int, int]:
        request = [ConsumerGroupTopicPartitions(group, partitions)]
        answer = self._admin.list_consumer_group_offsets(request, request_timeout=self._timeout)[group]
        return {tp.partition: tp.offset for tp in answer.result(timeout=self._timeout).topic_partitions}

    def _offsets(self, partitions: list[TopicPartition], spec: OffsetSpec) -> dict[int, int]:
        futures = self._admin.list_offsets({tp: spec for tp in partitions}, request_timeout=self._timeout)
        return {tp.partition: future.result(timeout=self._timeout).offset for tp, future in futures.items()}


def source_time(version: str) -> datetime | None:
    """When a change happened at its source, from a RecordEvent's `source_version` text
    ("system_modstamp=...", "cluster_time=<seconds>.<increment>", a CDC commit timestamp);
    None when the version carries no time (a bare replay id)."""
    try:
        return _source_time(dict(part.split("=", 1) for part in version.split(", ") if "=" in part))
    except ValueError:
        return None  # an unreadable version tells nothing; it must not stop the sampler


def _source_time(parts: dict[str, str]) -> datetime | None:
    if "system_modstamp" in parts:
        return parse_sf_datetime(parts["system_modstamp"])
    if "commit_timestamp" in parts:
        stamp = parts["commit_timestamp"]
        return datetime.fromtimestamp(int(stamp) / 1000, timezone.utc) if stamp.isdigit() else parse_sf_datetime(stamp)
    if "cluster_time" in parts:
        return datetime.fromtimestamp(int(parts["cluster_time"].split(".")[0]), timezone.utc)
    return None


def seconds_behind(mapping_id: int, direction: str, lag: int | None, now: datetime) -> float | None:
    """Now minus the source time of the last change applied in this direction; 0 when Kafka
    holds nothing unapplied (an idle mapping is not behind); None when nothing tells."""
    if lag == 0:
        return 0.0
    last = (RecordEvent.objects.filter(mapping_id=mapping_id, source=DIRECTION_SOURCE[direction])
            .order_by("-id").values_list("source_version", flat=True).first())
    when = source_time(last) if last else None
    return max(0.0, (now - when).total_seconds()) if when else None


@dataclass
class Checkpoints:
    """Where each capture of a mapping resumes, and how many events each published in all."""

    sf_modstamp: datetime | None = None
    mongo_cluster_time: str = ""
    cdc_replay_id: str = ""
    cdc_replay_at: datetime | None = None  # when the replay id last moved
    sf_published: int = 0
    mongo_published: int = 0


def checkpoints(mapping_ids: list[int]) -> dict[int, Checkpoints]:
    """Checkpoints of these mappings, in three queries whatever their number."""
    found = {pk: Checkpoints() for pk in mapping_ids}
    for pk, modstamp, published in CaptureCheckpoint.objects.filter(mapping_id__in=mapping_ids).values_list(
            "mapping_id", "modstamp", "events_published"):
        found[pk].sf_modstamp, found[pk].sf_published = modstamp, published
    for pk, cluster_time, published in MongoCheckpoint.objects.filter(mapping_id__in=mapping_ids).values_list(
            "mapping_id", "cluster_time", "events_published"):
        found[pk].mongo_cluster_time, found[pk].mongo_published = cluster_time, published
    for pk, replay_id, published, moved_at in ReplayCheckpoint.objects.filter(
            mapping_id__in=mapping_ids).values_list("mapping_id", "replay_id", "events_published", "updated_at"):
        found[pk].cdc_replay_id, found[pk].cdc_replay_at = replay_id, moved_at if replay_id else None
        found[pk].sf_published += published  # CDC is Salesforce capture too
    return found
