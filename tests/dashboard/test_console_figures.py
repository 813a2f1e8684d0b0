"""How the overview says checkpoints and worker counters: UTC times with how long ago, what each
capture mode's checkpoint is, and plain words for counters; and the icon every page names."""
from __future__ import annotations

import re
from datetime import datetime, timedelta, timezone

import pytest
from django.utils import timezone as dj_timezone

from connectors.models import CaptureCheckpoint, MongoCheckpoint, RecordEvent, ReplayCheckpoint
from dashboard.formatting import COUNTER_LABELS, ago, cluster_time_at, counter_label
from tests.dashboard.test_overview_live import beating, make_mapping

NOW = datetime(2026, 11, 30, 19, 3, 28, tzinfo=timezone.utc)


def card(client, name: str = "accounts") -> str:
    page = client.get("/").content.decode()
    start = page.index(f'id="mapping-{name}"')
    return page[start:page.index("</section>", start)]


@pytest.mark.parametrize(("seconds", "said"), [
    (0, "just now"), (-5, "just now"), (1, "1 s ago"), (59, "59 s ago"), (60, "1 min ago"),
    (7199, "119 min ago"), (7200, "2 h ago"), (172_799, "47 h ago"), (172_800, "2 d ago"),
])
def test_how_long_ago_is_said_in_the_largest_whole_unit(seconds: int, said: str) -> None:
    assert ago(NOW - timedelta(seconds=seconds), NOW) == said


def test_a_cluster_time_is_read_as_its_unix_seconds_and_junk_as_nothing() -> None:
    assert cluster_time_at("1796047033.5") == datetime(2026, 11, 30, 13, 57, 13, tzinfo=timezone.utc)
    assert cluster_time_at("") is None and cluster_time_at("soon.1") is None


@pytest.mark.django_db
def test_the_mongodb_resume_point_is_a_utc_time_and_how_long_ago(client, staff) -> None:
    mapping = make_mapping()
    seconds = int(dj_timezone.now().timestamp()) - 630  # "10 min ago" for the next half minute
    MongoCheckpoint.objects.create(mapping=mapping, cluster_time=f"{seconds}.5")
    shown = card(client)
    when = datetime.fromtimestamp(seconds, timezone.utc).strftime("%Y-%m-%d %H:%M:%S UTC")
    assert re.search(rf"MongoDB resume point</dt><dd[^>]*><time datetime=\"[^\"]+\">{when}</time> "
                     r"<span class=\"ago\">\(10 min ago\)</span>", shown), shown
    assert str(seconds) not in shown, "no raw epoch"


@pytest.mark.django_db
def test_a_cdc_mapping_shows_its_replay_id_and_when_it_moved_instead_of_a_modstamp(client, staff) -> None:
    mapping = make_mapping()
    mapping.capture_mode = "cdc"
    mapping.save()
    ReplayCheckpoint.objects.create(mapping=mapping, topic="/data/AccountChangeEvent", replay_id="00ab12")
    shown = card(client)
    assert re.search(r"CDC replay id</dt><dd[^>]*>00ab12</dd>", shown)
    assert re.search(r"Replay id last moved</dt><dd[^>]*><time [^>]+>\d{4}-\d\d-\d\d \d\d:\d\d:\d\d UTC</time>", shown)
    assert "SystemModstamp" not in shown


@pytest.mark.django_db
def test_a_polling_mapping_shows_how_far_it_polled_and_no_replay_id(client, staff) -> None:
    mapping = make_mapping()
    CaptureCheckpoint.objects.create(mapping=mapping, modstamp=datetime(2026, 11, 30, 18, 0, 1, tzinfo=timezone.utc))
    shown = card(client)
    assert re.search(r"Polled up to \(SystemModstamp\)</dt><dd[^>]*><time [^>]+>2026-11-30 18:00:01 UTC</time>", shown)
    assert "replay id" not in shown.lower()


@pytest.mark.django_db
def test_each_direction_shows_only_the_checkpoints_it_has(client, staff) -> None:
    make_mapping("outbound", direction="mongo_to_sf")
    make_mapping("inbound", direction="sf_to_mongo")
    assert "SystemModstamp" not in card(client, "outbound") and "MongoDB resume point" in card(client, "outbound")
    assert "SystemModstamp" in card(client, "inbound") and "MongoDB resume point" not in card(client, "inbound")


def test_counters_read_as_plain_words_whatever_their_name() -> None:
    assert counter_label("plan_write") == "changes written"
    assert counter_label("held_behind_conflict") == "changes held behind a conflict"
    assert counter_label("api_used.3") == "Salesforce API calls used today (org 3)"
    assert counter_label("reconcile_started") == "reconcile jobs started"
    assert counter_label("some_new_thing") == "some new thing"
    assert all("_" not in label for label in COUNTER_LABELS.values())


@pytest.mark.django_db
def test_the_workers_table_and_the_status_api_label_each_counter(client, staff) -> None:
    make_mapping()
    beating("mongo-apply:k", counters={"plan_write": 7, "held_behind_conflict": 2})
    page = client.get("/").content.decode()
    workers = page[page.index('id="workers"'):page.index("</tbody>", page.index('id="workers"'))]
    assert '<span title="plan_write">changes written</span>: 7' in workers
    assert '<span title="held_behind_conflict">changes held behind a conflict</span>: 2' in workers
    worker = client.get("/api/v1/status").json()["workers"][0]
    assert worker["counters"] == {"plan_write": 7, "held_behind_conflict": 2}, "the raw counters stay for scripts"
    assert worker["labelled_counters"] == [
        {"name": "held_behind_conflict", "label": "changes held behind a conflict", "value": 2},
        {"name": "plan_write", "label": "changes written", "value": 7},
    ]


@pytest.mark.django_db
@pytest.mark.parametrize("path", ["/", "/admin/"])
def test_every_page_names_an_icon_that_is_served(client, staff, path: str) -> None:
    staff.is_superuser = True
    staff.save()
    page = client.get(path).content.decode()
    href = re.search(r'<link rel="icon" href="([^"]+)" type="image/svg\+xml">', page).group(1)
    icon = client.get(href)
    assert icon.status_code == 200 and icon["Content-Type"] == "image/svg+xml"
    assert b"<svg" in b"".join(icon.streaming_content if icon.streaming else [icon.content])
    assert client.get("/favicon.ico")["Location"] == href


def test_no_help_text_holds_an_angle_bracket_the_admin_would_read_as_html() -> None:
    # "<Object>ChangeEvent" once opened an <object> element that swallowed the rest of the form.
    from django.apps import apps

    found = [f"{model.__name__}.{field.name}" for model in apps.get_models() for field in model._meta.get_fields()
             if "<" in str(getattr(field, "help_text", ""))]
    assert found == []


@pytest.mark.django_db
def test_a_timeline_line_says_when_its_source_version_was(client, staff) -> None:
    mapping = make_mapping()
    RecordEvent.objects.create(mapping=mapping, mongo_id="abc", source="mongodb", outcome="applied",
                               operation="upsert", source_version="cluster_time=1796047033.5")
    page = client.get("/records/accounts/abc/").content.decode()
    assert ('<code>cluster_time=1796047033.5</code><br><time datetime="2026-11-30T13:57:13+00:00">'
            "2026-11-30 13:57:13 UTC</time>") in page


def test_every_counter_a_worker_counts_has_words() -> None:
    """Read from the workers' source: a counter added without a label fails here, not on screen."""
    from pathlib import Path

    import connectors.workers

    named = set()
    for source in Path(connectors.workers.__file__).parent.glob("*.py"):
        for subscript in re.findall(r"counters\[([^\]]+)\]\s*\+=", source.read_text()):
            if not subscript.startswith("f"):
                named.update(re.findall(r'"([a-z_]+)"', subscript))
    assert len(named) > 30
    assert sorted(named - set(COUNTER_LABELS)) == []
