"""The metrics worker: one MetricSample per mapping every few seconds, an hour kept."""
from __future__ import annotations

import logging
import time
from collections import Counter
from datetime import datetime, timedelta
from typing import Callable

from django.utils import timezone

from connectors.models import MetricSample, ObjectMapping
from connectors.operations.metrics import (
    Checkpoints,
    LagReader,
    apply_groups,
    checkpoints,
    latest_api_usage,
    mapping_topics,
    seconds_behind,
)
from connectors.wiring import kafka_settings

log = logging.getLogger(__name__)

SAMPLE_SECONDS = 10.0
#: The charts show an hour; a margin keeps their left edge filled.
KEEP = timedelta(minutes=70)


class MetricsSampler:
    """Samples when due; between samples it only waits. Where several runconsumers processes
    each run one, a mapping sampled less than 80% of an interval ago is skipped, so the
    charts get about one point per interval, not one per process."""

    def __init__(self, mapping_names: set[str] | None = None, interval: float = SAMPLE_SECONDS,
                 keep: timedelta = KEEP, clock: Callable[[], float] = time.monotonic) -> None:
        self.name = "metrics"
        self.counters: Counter[str] = Counter()
        self.mapping_names = mapping_names or None
        self.interval = interval
        self.keep = keep
        self._clock = clock
        self._due = clock()
        self._readers: dict[int, LagReader] = {}

    def idle_seconds(self) -> float:
        return max(0.05, min(self._due - self._clock(), self.interval))

    def step(self) -> bool:
        """Never reports work: the runner then waits until the next sample is due."""
        if self._clock() < self._due:
            return False
        self._due = self._clock() + self.interval
        self.sample()
        return False

    def sample(self) -> list[MetricSample]:
        """Take and store one sample per enabled mapping not sampled just now; drop old ones."""
        now = timezone.now()
        mappings = list(ObjectMapping.objects.filter(enabled=True).select_related("kafka").order_by("name"))
        if self.mapping_names:
            mappings = [m for m in mappings if m.name in self.mapping_names]
        points = checkpoints([m.pk for m in mappings])
        rows = []
        for mapping in mappings:
            previous = mapping.metric_samples.order_by("-taken_at", "-id").first()
            if previous is not None and (now - previous.taken_at).total_seconds() < self.interval * 0.8:
                continue
            rows.append(self._sample(mapping, previous, points[mapping.pk], now))
        MetricSample.objects.bulk_create(rows)
        MetricSample.objects.filter(taken_at__lt=now - self.keep).delete()
        self.counters["samples"] += len(rows)
        return rows

    def _sample(self, mapping: ObjectMapping, previous: MetricSample | None, point: Checkpoints,
                now: datetime) -> MetricSample:
        reader = self._reader(mapping)
        groups = apply_groups(mapping.kafka.topic_prefix)
        topics = mapping_topics(mapping, mapping.kafka.topic_prefix)
        lag = {d: reader.lag(groups[d], topic) for d, topic in topics.items()}
        behind = {d: seconds_behind(mapping.pk, d, value, now) for d, value in lag.items()}
        usage = latest_api_usage(mapping.org_id) or (None, None)
        return MetricSample(
            mapping=mapping, taken_at=now,
            interval_seconds=(now - previous.taken_at).total_seconds() if previous else 0.0,
            sf_published_total=point.sf_published, mongo_published_total=point.mongo_published,
            # A counter that went down was reset (checkpoint recreated): count from zero.
            sf_to_mongo_events=_delta(point.sf_published, previous.sf_published_total if previous else None),
            mongo_to_sf_events=_delta(point.mongo_published, previous.mongo_published_total if previous else None),
            sf_to_mongo_lag=lag.get("sf_to_mongo"), mongo_to_sf_lag=lag.get("mongo_to_sf"),
            sf_to_mongo_behind_seconds=behind.get("sf_to_mongo"),
            mongo_to_sf_behind_seconds=behind.get("mongo_to_sf"),
            api_used=usage[0], api_limit=usage[1],
        )

    def _reader(self, mapping: ObjectMapping) -> LagReader:
        if mapping.kafka_id not in self._readers:
            self._readers[mapping.kafka_id] = LagReader(kafka_settings(mapping.kafka))
        return self._readers[mapping.kafka_id]

    def close(self) -> None:
        self._readers.clear()


def _delta(total: int, previous: int | None) -> int:
    if previous is None:
        return 0
    return total - previous if total >= previous else total
