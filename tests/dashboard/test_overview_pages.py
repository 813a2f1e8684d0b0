"""The overview page as rendered by the server: who may see it, the activity feed's source labels,
and the platform event relays section (a table per relay, or what to do when there is none)."""
from __future__ import annotations

import re

import pytest
from django.test import Client

from connectors.models import EventRelay, RecordEvent
from tests.dashboard.page_checks import make_mapping, refused, sent_to_log_in

pytestmark = pytest.mark.django_db
EMPTY_RELAYS = "No platform event relay is configured — add one in the admin."


def relay_for(name: str = "order-update", **extra) -> EventRelay:  # type: ignore[no-untyped-def]
    mapping = make_mapping()
    return EventRelay.objects.create(name=name, org=mapping.org, kafka=mapping.kafka, mongo=mapping.mongo,
                                     channel="/event/Order_Update__e", collection="order_updates", **extra)


def tag(html: str, element_id: str) -> str:
    """The opening tag of the element with `element_id`."""
    found = re.search(rf'<[^>]*\bid="{re.escape(element_id)}"[^>]*>', html)
    assert found, f"no element #{element_id}"
    return found.group(0)


def test_anonymous_visitors_go_to_the_console_login_and_come_back(client: Client) -> None:
    response = client.get("/conflicts/?status=all")
    assert sent_to_log_in(response)
    assert response["Location"] == "/accounts/login/?next=/conflicts/%3Fstatus%3Dall"


def test_a_user_without_a_role_is_told_why(client, no_role):  # type: ignore[no-untyped-def]
    response = client.get("/")
    assert refused(response)
    refusal = "signed in as <strong>norole</strong>:\n  user &#x27;norole&#x27; has no console role"
    assert refusal in response.content.decode()
    assert refused(client.post("/mappings/accounts/pause/"))


def test_the_activity_feed_names_the_source_side(client, staff):  # type: ignore[no-untyped-def]
    mapping = make_mapping()
    RecordEvent.objects.create(mapping=mapping, salesforce_id="001000000000001AAA", source="salesforce",
                               outcome="applied")
    RecordEvent.objects.create(mapping=mapping, mongo_id="65f000000000000000000001", source="mongodb",
                               outcome="applied")
    html = client.get("/").content.decode()
    feed = html[html.index('id="activity-feed"'):html.index("</table>", html.index('id="activity-feed"'))]
    assert "<td>Salesforce</td>" in feed and "<td>MongoDB</td>" in feed
    assert "<td>salesforce</td>" not in feed and "<td>mongodb</td>" not in feed
    assert '"console": "Console"' in html, "overview.js labels live lines from the same table"


def test_without_relays_the_section_says_how_to_add_one(client, staff):  # type: ignore[no-untyped-def]
    html = client.get("/").content.decode()
    assert EMPTY_RELAYS in html
    assert " hidden" not in tag(html, "relays-empty")
    assert " hidden" in tag(html, "relays-table")


def test_each_relay_shows_its_route_and_counts(client, staff):  # type: ignore[no-untyped-def]
    relay_for(events_relayed=12, events_stored=11, replay_id="AAAAAAAABCg=")
    html = client.get("/").content.decode()
    assert " hidden" in tag(html, "relays-empty") and " hidden" not in tag(html, "relays-table")
    row = html[html.index('id="relay-order-update"'):]
    row = row[:row.index("</tr>")]
    assert "<code>/event/Order_Update__e</code> → <code>" in row and ".event.Order_Update__e</code>" in row
    assert "<code>order_updates</code>" in row
    assert '<td class="num" data-field="events_relayed">12</td>' in row
    assert '<td class="num" data-field="events_stored">11</td>' in row
    assert '<td class="when" data-field="last_event_at">—</td>' in row


def test_the_schema_drift_badge_is_hidden_without_drift(client, staff):  # type: ignore[no-untyped-def]
    make_mapping()
    html = client.get("/").content.decode()
    assert re.search(r'<span data-field="drift" class="badge badge-warning" hidden>', html)
