"""GET /metrics: the console's figures in Prometheus' text format.

Read from the database on each scrape (like the console), so it shows every runconsumers
process wherever it runs. Protected like the REST API: a session or `Authorization: Bearer
<token>` (issued in the admin) of a user whose role reads the console (Viewers and above).
"""
from __future__ import annotations

from collections import Counter
from collections.abc import Iterator

from django.http import HttpRequest, HttpResponse
from django.views.decorators.http import require_GET
from ninja.errors import AuthenticationError, AuthorizationError
from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, generate_latest
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric

from connectors.models import ObjectMapping
from connectors.operations.metrics import DIRECTIONS, checkpoints
from dashboard.api_auth import refusal, staff_caller
from dashboard.status import live_workers, mapping_rows, relay_rows

STATES = ("running", "paused", "failing", "idle")


class StatusCollector:
    """One scrape's metrics, built from the same status rows the console shows."""

    def collect(self) -> Iterator[Metric]:
        rows = mapping_rows()
        ids = dict(ObjectMapping.objects.values_list("name", "pk"))
        totals = checkpoints([ids[r.name] for r in rows])
        events = CounterMetricFamily("sync_events", "Changes captured and published to Kafka, by direction.",
                                     labels=["mapping", "direction"])
        rate = _gauge("sync_events_per_second", "Changes captured per second over the last sample.", "direction")
        lag = _gauge("sync_kafka_lag_messages", "Messages of the apply consumer group not yet applied.", "direction")
        behind = _gauge("sync_seconds_behind_source", "Now minus the source time of the last applied change.",
                        "direction")
        errors = _gauge("sync_open_errors", "Changes parked as errors, not yet retried or discarded.")
        conflicts = _gauge("sync_open_conflicts", "Conflicts waiting for a person.")
        paused = _gauge("sync_mapping_paused", "1 when the mapping is paused from the console.")
        state = _gauge("sync_mapping_state", "1 for the mapping's current state.", "state")
        api_used = _gauge("sync_salesforce_api_used", "Salesforce API requests used today (Sforce-Limit-Info).")
        api_limit = _gauge("sync_salesforce_api_limit", "Salesforce daily API request limit.")
        for row in rows:
            point = totals[ids[row.name]]
            events.add_metric([row.name, "sf_to_mongo"], point.sf_published)
            events.add_metric([row.name, "mongo_to_sf"], point.mongo_published)
            for direction in DIRECTIONS:
                for family, value in ((rate, getattr(row, f"{direction}_rate")),
                                      (lag, getattr(row, f"{direction}_lag")),
                                      (behind, getattr(row, f"{direction}_behind_seconds"))):
                    if value is not None:
                        family.add_metric([row.name, direction], value)
            errors.add_metric([row.name], row.open_errors)
            conflicts.add_metric([row.name], row.open_conflicts)
            paused.add_metric([row.name], int(row.paused))
            for name in STATES:
                state.add_metric([row.name, name], int(row.state == name))
            if row.api_used is not None and row.api_limit is not None:
                api_used.add_metric([row.name], row.api_used)
                api_limit.add_metric([row.name], row.api_limit)
        alive = GaugeMetricFamily("sync_workers_alive", "Workers whose heartbeat is fresh, by kind.", labels=["kind"])
        running = Counter(w.name.split(":")[0] for w in live_workers() if w.state != "stopped")
        for kind, count in sorted(running.items()):
            alive.add_metric([kind], count)
        yield from (events, rate, lag, behind, errors, conflicts, paused, state, api_used, api_limit, alive)
        yield from relay_metrics()


def relay_metrics() -> Iterator[Metric]:
    relayed = CounterMetricFamily("sync_relay_events_relayed", "Platform events relayed to Kafka.", labels=["relay"])
    stored = CounterMetricFamily("sync_relay_events_stored", "Relayed platform events stored in MongoDB.",
                                 labels=["relay"])
    for relay in relay_rows():
        relayed.add_metric([relay.name], relay.events_relayed)
        stored.add_metric([relay.name], relay.events_stored)
    yield from (relayed, stored)


def _gauge(name: str, documentation: str, *labels: str) -> GaugeMetricFamily:
    return GaugeMetricFamily(name, documentation, labels=["mapping", *labels])


@require_GET
def metrics(request: HttpRequest) -> HttpResponse:
    try:
        staff_caller(request)
    except (AuthenticationError, AuthorizationError) as exc:
        return refusal(exc)
    registry = CollectorRegistry(auto_describe=False)
    registry.register(StatusCollector())  # type: ignore[arg-type]
    return HttpResponse(generate_latest(registry), content_type=CONTENT_TYPE_LATEST)
