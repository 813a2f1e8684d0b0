"""What the alerts look at: each mapping's (and each org's) conditions, observed from the figures
the workers and the metrics sampler already store (heartbeats, samples, the error and conflict
queues). Reads only the database; decides nothing about notices (connectors.operations.alerts)."""
from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime, timedelta

from django.db.models import Count, QuerySet

from connectors.models import (
    Alert,
    AlertRule,
    Conflict,
    MetricSample,
    ObjectMapping,
    SyncError,
    WorkerStatus,
)
from connectors.operations.metrics import (
    DIRECTIONS,
    fresh_workers,
    latest_api_usage,
    worker_trouble,
)

BROKER_LOSS_CODE = "BROKER_DATA_LOST"
#: A sample older than this no longer tells the present (the sampler takes one every 10 s).
SAMPLE_FRESH = timedelta(seconds=30)
DIRECTION_LABELS = {"sf_to_mongo": "Salesforce → MongoDB", "mongo_to_sf": "MongoDB → Salesforce"}
Condition = Alert.Condition


@dataclass(frozen=True)
class Observation:
    """One condition as seen now. `firing` None: nothing tells (no fresh figure, a paused mapping),
    so an open alert stays as it is and no new one opens."""

    key: str
    condition: str
    subject: str
    firing: bool | None
    summary: str = ""
    value: float | None = None
    threshold: float | None = None
    mapping_id: int | None = None
    hold_seconds: int = 0


@dataclass
class Figures:
    """What one evaluation reads, in a handful of queries whatever the number of mappings."""

    workers: list[WorkerStatus]
    samples: dict[int, MetricSample]
    open_errors: dict[int, int]
    broker_losses: dict[int, int]
    open_conflicts: dict[int, int]

    @classmethod
    def read(cls, mapping_ids: list[int], now: datetime) -> Figures:
        errors = SyncError.objects.filter(status=SyncError.Status.OPEN, mapping_id__in=mapping_ids)
        return cls(
            workers=list(fresh_workers()),
            samples=_latest_samples(mapping_ids, now - SAMPLE_FRESH),
            open_errors=_per_mapping(errors.exclude(code=BROKER_LOSS_CODE)),
            broker_losses=_per_mapping(errors.filter(code=BROKER_LOSS_CODE)),
            open_conflicts=_per_mapping(Conflict.objects.filter(status=Conflict.Status.OPEN,
                                                                mapping_id__in=mapping_ids)),
        )


def rules_for(mappings: list[ObjectMapping]) -> dict[int, AlertRule]:
    """Each mapping's rule: its own, else the default one, else the built-in defaults."""
    own = {rule.mapping_id: rule for rule in AlertRule.objects.filter(mapping__in=mappings)}
    default = AlertRule.objects.filter(mapping=None).order_by("pk").first() or AlertRule()
    return {m.pk: own.get(m.pk, default) for m in mappings}


def observe(mappings: list[ObjectMapping], now: datetime) -> list[Observation]:
    """Every condition of these (enabled) mappings and of their orgs' API budgets."""
    rules = rules_for(mappings)
    figures = Figures.read([m.pk for m in mappings], now)
    seen: list[Observation] = []
    for mapping in mappings:
        seen.extend(_mapping_conditions(mapping, rules[mapping.pk], figures))
    seen.extend(_api_budgets(mappings, rules))
    return seen


class _MappingSeen:
    """Builds the observations of one mapping under its rule."""

    def __init__(self, mapping: ObjectMapping, rule: AlertRule) -> None:
        self.mapping, self.rule = mapping, rule

    def __call__(self, condition: str, firing: bool | None, summary: str, value: float | None = None,
                 threshold: float | None = None, direction: str = "") -> Observation:
        m = self.mapping
        return Observation(
            key=f"{condition}:mapping:{m.pk}" + (f":{direction}" if direction else ""), condition=condition,
            subject=m.name, firing=firing, summary=f"{m.name}: {summary}" if summary else "", value=value,
            threshold=threshold, mapping_id=m.pk, hold_seconds=self.rule.hold_seconds,
        )


def _mapping_conditions(mapping: ObjectMapping, rule: AlertRule, figures: Figures) -> Iterator[Observation]:
    seen = _MappingSeen(mapping, rule)
    # A paused mapping stops and backs up on purpose: a person holds it, and the console says so.
    held = mapping.paused
    if rule.alert_on_failing:
        trouble = worker_trouble(mapping, figures.workers)
        yield seen(Condition.FAILING, None if held else bool(trouble), trouble)
    sample = None if held else figures.samples.get(mapping.pk)
    for direction in _directions(mapping):
        yield from _flow_conditions(seen, rule, sample, direction)
    yield from _queue_conditions(seen, rule, figures, mapping.pk)


def _flow_conditions(seen: _MappingSeen, rule: AlertRule, sample: MetricSample | None,
                     direction: str) -> Iterator[Observation]:
    """Lag and seconds behind in one direction; unknown without a fresh sample."""
    label = DIRECTION_LABELS[direction]
    if rule.max_lag is not None:
        lag = getattr(sample, f"{direction}_lag") if sample else None
        summary = f"{lag:,} changes waiting {label} (alert above {rule.max_lag:,})" if lag is not None else ""
        yield seen(Condition.LAG, _above(lag, rule.max_lag), summary, lag, rule.max_lag, direction)
    if rule.max_behind_seconds is not None:
        limit = rule.max_behind_seconds
        behind = getattr(sample, f"{direction}_behind_seconds") if sample else None
        summary = f"{behind:,.0f} s behind {label} (alert above {limit:,.0f} s)" if behind is not None else ""
        yield seen(Condition.BEHIND, _above(behind, limit), summary, behind, limit, direction)


def _queue_conditions(seen: _MappingSeen, rule: AlertRule, figures: Figures, pk: int) -> Iterator[Observation]:
    """What waits for a person: open conflicts, open errors, broker losses."""
    if rule.max_open_conflicts is not None:
        conflicts, limit = figures.open_conflicts.get(pk, 0), rule.max_open_conflicts
        yield seen(Condition.CONFLICTS, conflicts >= limit,
                   f"{_count(conflicts, 'open conflict')} waiting for a person (alert at {limit:,})",
                   conflicts, limit)
    if rule.max_open_errors is not None:
        errors, limit = figures.open_errors.get(pk, 0), rule.max_open_errors
        yield seen(Condition.ERRORS, errors >= limit,
                   f"{_count(errors, 'change')} parked in the error queue (alert at {limit:,})", errors, limit)
    if rule.alert_on_broker_loss:
        losses = figures.broker_losses.get(pk, 0)
        times = "once" if losses == 1 else f"{losses} times"
        yield seen(Condition.BROKER_LOSS, losses > 0,
                   f"the Kafka broker lost data {times}; capture published again from what was applied "
                   f"(open {BROKER_LOSS_CODE} errors: read and discard them once checked)", losses, 1)


def _above(value: float | None, limit: float) -> bool | None:
    return None if value is None else value > limit


def _api_budgets(mappings: list[ObjectMapping], rules: dict[int, AlertRule]) -> Iterator[Observation]:
    """One condition per org: its daily API usage against the lowest share its mappings ask for."""
    shares: dict[int, float] = {}
    names: dict[int, str] = {}
    for mapping in mappings:
        share = rules[mapping.pk].api_share
        if share is not None:
            shares[mapping.org_id] = min(share, shares.get(mapping.org_id, share))
            names[mapping.org_id] = mapping.org.name
    for org_id, share in shares.items():
        usage = latest_api_usage(org_id)
        used = usage[0] / usage[1] if usage and usage[1] else None
        hold = min(rules[m.pk].hold_seconds for m in mappings if m.org_id == org_id)
        summary = (f"org {names[org_id]} used {usage[0]:,} of {usage[1]:,} daily API calls ({used:.0%}; "
                   f"alert at {share:.0%})") if usage and used is not None else ""
        yield Observation(
            key=f"{Condition.API_BUDGET}:org:{org_id}", condition=Condition.API_BUDGET,
            subject=f"org {names[org_id]}", firing=None if used is None else used >= share, summary=summary,
            value=used, threshold=share, hold_seconds=hold,
        )


def _count(n: int, noun: str) -> str:
    return f"{n:,} {noun}" if n == 1 else f"{n:,} {noun}s"


def _directions(mapping: ObjectMapping) -> list[str]:
    syncs = {"sf_to_mongo": mapping.captures_salesforce, "mongo_to_sf": mapping.captures_mongodb}
    return [d for d in DIRECTIONS if syncs[d]]


def _latest_samples(mapping_ids: list[int], since: datetime) -> dict[int, MetricSample]:
    samples: dict[int, MetricSample] = {}
    fresh = MetricSample.objects.filter(mapping_id__in=mapping_ids, taken_at__gte=since)
    for sample in fresh.order_by("taken_at", "id"):
        samples[sample.mapping_id] = sample  # the newest wins
    return samples


def _per_mapping(rows: QuerySet) -> dict[int, int]:
    return dict(rows.order_by().values("mapping_id").annotate(n=Count("id")).values_list("mapping_id", "n"))
