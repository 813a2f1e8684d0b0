"""The overview charts' data: 15 min, 1 h or 24 h of samples, a day cut into at most
`MAX_POINTS` points whose rates are true averages and whose lag keeps its peaks."""
from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone

from connectors.models import MetricSample
from dashboard.charts import MAX_POINTS
from tests.dashboard.test_overview_live import make_mapping

pytestmark = pytest.mark.django_db


@pytest.fixture
def day(staff):
    mapping = make_mapping()
    now = timezone.now()
    count = 8_640  # one sample every 10 s, as the metrics worker takes them
    MetricSample.objects.bulk_create([
        MetricSample(mapping=mapping, taken_at=now - timedelta(seconds=10 * (count - 1 - i)), interval_seconds=10,
                     sf_to_mongo_events=5, mongo_to_sf_events=0,
                     sf_to_mongo_lag=900 if i == count // 4 else 1, mongo_to_sf_lag=None)
        for i in range(count)])
    return mapping


def test_a_day_is_cut_into_at_most_max_points_with_average_rates_and_peak_lag(client, day) -> None:
    data = client.get("/charts/data?range=24h").json()
    assert data["range"] == "24h" and data["span_seconds"] == 86_400 and data["bucket_seconds"] == 240
    samples = data["samples"]
    assert MAX_POINTS - 1 <= len(samples) <= MAX_POINTS + 1  # the span's edges may cut a bucket in two
    assert {s["sf_to_mongo_rate"] for s in samples} == {0.5}, "events over seconds, whatever the bucket"
    assert max(s["sf_to_mongo_lag"] for s in samples) == 900, "a peak survives the downsampling"
    assert {s["mongo_to_sf_lag"] for s in samples} == {None} and {s["mapping"] for s in samples} == {"accounts"}
    times = [s["taken_at"] for s in samples]
    assert times == sorted(times)


@pytest.mark.parametrize(("name", "seconds"), [("15m", 900), ("1h", 3_600)])
def test_a_short_range_keeps_every_sample_of_its_span(client, day, name: str, seconds: int) -> None:
    data = client.get(f"/charts/data?range={name}").json()
    assert data["bucket_seconds"] == 10
    assert len(data["samples"]) in (seconds // 10, seconds // 10 + 1)  # the sample at the span's edge
    assert {s["sf_to_mongo_rate"] for s in data["samples"]} == {0.5}


def test_the_overview_renders_the_range_it_is_asked_for(client, day) -> None:
    page = client.get("/?range=15m").content.decode()
    assert 'The last <span data-field="chart-range">15 min</span>' in page
    assert '<a href="?range=15m#charts-heading" data-range="15m" aria-current="true">' in page
    assert 'data-range="15m" data-bucket-seconds="10.0"' in page
    default = client.get("/?range=nonsense").content.decode()
    assert 'The last <span data-field="chart-range">1 h</span>' in default


def test_an_unknown_range_is_refused_naming_the_choices(client, staff) -> None:
    answer = client.get("/charts/data?range=7d")
    assert answer.status_code == 400
    assert answer.json() == {"detail": "range must be one of 15m, 1h, 24h"}


def test_the_chart_data_is_for_staff_only(client) -> None:
    answer = client.get("/charts/data?range=1h")
    assert answer.status_code == 302 and answer["Location"].startswith("/accounts/login/")
