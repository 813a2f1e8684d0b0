"""The overview's charts: throughput and lag samples over a chosen span of time.

The metrics worker stores a sample per mapping every 10 s: 90 in a quarter of an hour, 8,640 in
a day. A span is cut into at most `MAX_POINTS` buckets: rates are the events of a bucket over
its seconds (a true average), lag is the bucket's highest (a peak must not be averaged away).
"""
from __future__ import annotations

from collections import defaultdict
from datetime import datetime, timedelta

from django.utils import timezone

from connectors.models import MetricSample
from connectors.operations.metrics import DIRECTIONS, sample_seconds
from dashboard.schemas import SampleOut

#: The spans the overview offers, by the name its control and `?range=` use.
RANGES: dict[str, timedelta] = {"15m": timedelta(minutes=15), "1h": timedelta(hours=1), "24h": timedelta(hours=24)}
RANGE_LABELS = {"15m": "15 min", "1h": "1 h", "24h": "24 h"}
DEFAULT_RANGE = "1h"
#: Points per mapping and line at most: about one per two pixels of a chart a console shows.
MAX_POINTS = 360

_COLUMNS = ("mapping__name", "taken_at", "interval_seconds", "sf_to_mongo_events", "mongo_to_sf_events",
            "sf_to_mongo_lag", "mongo_to_sf_lag")


def bucket_seconds(span: timedelta) -> float:
    """The width of one point: the sampler's interval, or wider when the span would hold more."""
    return max(sample_seconds(), span.total_seconds() / MAX_POINTS)


def chart_samples(span: timedelta, now: datetime | None = None) -> list[SampleOut]:
    """Every mapping's samples of the last `span`, oldest first, at most `MAX_POINTS` a mapping."""
    since = (now or timezone.now()) - span
    width = bucket_seconds(span)
    every_sample = width <= sample_seconds()
    buckets: dict[tuple[str, int], list[tuple]] = defaultdict(list)
    rows = MetricSample.objects.filter(taken_at__gte=since).order_by("taken_at", "id").values_list(*_COLUMNS)
    for index, row in enumerate(rows):
        # A span short enough for every sample to be its own point keeps them all (samples are
        # not aligned to buckets, so bucketing them would merge some and leave gaps).
        bucket = index if every_sample else int((row[1] - since).total_seconds() // width)
        buckets[(row[0], bucket)].append(row)
    points = [_point(mapping, rows) for (mapping, _), rows in buckets.items()]
    return sorted(points, key=lambda p: (p.taken_at, p.mapping))


def _point(mapping: str, rows: list[tuple]) -> SampleOut:
    seconds = sum(r[2] for r in rows)
    events = {"sf_to_mongo": sum(r[3] for r in rows), "mongo_to_sf": sum(r[4] for r in rows)}
    lags = {"sf_to_mongo": [r[5] for r in rows if r[5] is not None],
            "mongo_to_sf": [r[6] for r in rows if r[6] is not None]}
    return SampleOut(
        mapping=mapping, taken_at=rows[-1][1],  # the bucket's newest sample: no point is drawn ahead of time
        **{f"{d}_rate": round(events[d] / seconds, 2) if seconds > 0 else None for d in DIRECTIONS},
        **{f"{d}_lag": max(lags[d]) if lags[d] else None for d in DIRECTIONS},
    )
