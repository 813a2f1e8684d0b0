"""The error queue pages: staff only, filters, Salesforce's own code and message with the payload,
retry (re-published to Kafka, applied after the fix, on the real services) and discard, one or many."""
from __future__ import annotations

import json

import pytest
from django.contrib.auth import get_user_model
from django.test import Client

from connectors.kafka.consumer import BatchConsumer
from connectors.kafka.topics import ensure_topics
from connectors.models import ObjectMapping, SyncError
from connectors.wiring import kafka_settings
from tests.connectors.helpers import step_until
from tests.connectors.test_kafka_transport import consume_until
from tests.connectors.test_two_way import backfilled, salesforce_account
from tests.dashboard.page_checks import (
    make_mapping,
    post_forms_without_csrf,
    refused,
    sent_to_log_in,
    shown,
    unlabelled_controls,
)

pytestmark = pytest.mark.django_db


def an_error(mapping: ObjectMapping | None, stage: str = "salesforce_write", code: str = "INVALID_VALUE",
             **extra) -> SyncError:  # type: ignore[no-untyped-def]
    values = {"message": f"{code}: bad value", "payload": json.dumps({"fields": {"Name": "x"}}),
              "record_key": "65f000000000000000000001", **extra}
    return SyncError.objects.create(mapping=mapping, stage=stage, code=code, **values)


def listed(client, **query) -> list[int]:  # type: ignore[no-untyped-def]
    page = client.get("/errors/", query).content.decode()
    return sorted(e.pk for e in SyncError.objects.all() if f'id="error-{e.pk}"' in page)


def statuses(*errors: SyncError) -> list[str]:
    return [SyncError.objects.get(pk=e.pk).status for e in errors]


@pytest.mark.parametrize("path", ["/errors/", "/errors/{id}/"])
def test_anonymous_visitors_are_sent_to_log_in_and_non_staff_refused(client, path):
    url = path.format(id=an_error(make_mapping()).pk)
    assert sent_to_log_in(client.get(url))
    client.force_login(get_user_model().objects.create_user("viewer", password="pw-viewer-1"))
    assert refused(client.get(url))


def test_a_user_without_a_role_can_neither_retry_nor_discard(client, no_role):
    error = an_error(make_mapping())
    assert refused(client.post(f"/errors/{error.pk}/discard/"))
    assert refused(client.post(f"/errors/{error.pk}/retry/"))
    assert refused(client.post("/errors/bulk/", {"ids": [error.pk], "action": "discard"}))
    assert statuses(error) == ["open"]


def test_unknown_errors_are_404_and_actions_take_only_post(client, staff):
    assert client.get("/errors/999999/").status_code == 404
    assert client.post("/errors/999999/retry/").status_code == 404
    assert client.post("/errors/999999/discard/").status_code == 404
    error = an_error(make_mapping())
    assert client.get(f"/errors/{error.pk}/discard/").status_code == 405
    assert statuses(error) == ["open"]


def test_the_list_filters_by_mapping_stage_code_and_status(client, staff):
    accounts, contacts = make_mapping("accounts"), make_mapping("contacts")
    rejected = an_error(accounts, "salesforce_write", "FIELD_CUSTOM_VALIDATION_EXCEPTION")
    unconvertible = an_error(accounts, "convert", "INVALID_VALUE")
    elsewhere = an_error(contacts, "mongo_write", "DUPLICATE_KEY")
    discarded = an_error(accounts, "convert", "INVALID_VALUE", status="discarded")

    assert listed(client) == sorted([rejected.pk, unconvertible.pk, elsewhere.pk])
    assert listed(client, mapping="contacts") == [elsewhere.pk]
    assert listed(client, stage="convert") == [unconvertible.pk]
    assert listed(client, code="FIELD_CUSTOM_VALIDATION_EXCEPTION") == [rejected.pk]
    assert listed(client, status="discarded") == [discarded.pk]
    assert listed(client, status="all", code="INVALID_VALUE") == sorted([unconvertible.pk, discarded.pk])


def test_an_error_shows_its_code_message_pretty_payload_and_a_link_to_the_record(client, staff):
    error = an_error(make_mapping(), code="FIELD_CUSTOM_VALIDATION_EXCEPTION",
                     message="Employees cannot be negative (fields: NumberOfEmployees)",
                     payload='{"fields":{"NumberOfEmployees":-5}}')
    for page in (client.get("/errors/").content.decode(), client.get(f"/errors/{error.pk}/").content.decode()):
        assert "FIELD_CUSTOM_VALIDATION_EXCEPTION" in page and "Employees cannot be negative" in page
        assert '&quot;NumberOfEmployees&quot;: -5' in page and "<details" in page, "indented JSON, collapsible"
        assert f'href="/records/accounts/{error.record_key}/"' in page
        assert unlabelled_controls(page) == [] and post_forms_without_csrf(page) == 0
    assert "not JSON{" in client.get(f"/errors/{an_error(make_mapping('other'), payload='not JSON{').pk}/")\
        .content.decode()


def test_discarding_one_and_then_many_says_what_happened(client, staff):
    mapping = make_mapping()
    one, two, three = an_error(mapping), an_error(mapping), an_error(mapping)
    response = client.post(f"/errors/{one.pk}/discard/", {"next": "/errors/"}, follow=True)
    assert response.redirect_chain == [("/errors/", 302)]
    assert "Discarded 1 error; the changes will not be applied." in response.content.decode()
    response = client.post("/errors/bulk/", {"ids": [one.pk, two.pk, three.pk], "action": "discard"}, follow=True)
    assert shown(response) == ["Discarded 2 errors; the changes will not be applied.", "1 error skipped: not open."]
    assert statuses(one, two, three) == ["discarded"] * 3


def test_an_error_from_no_topic_is_not_retried_and_the_page_says_why(client, staff):
    error = an_error(make_mapping(), topic="")
    messages = shown(client.post(f"/errors/{error.pk}/retry/", follow=True))
    assert messages == [f"Nothing retried: error {error.pk} came from no topic of a known mapping; discard it instead."]
    assert statuses(error) == ["open"]


def test_bulk_actions_need_a_selection_and_a_known_action(client, staff):
    error = an_error(make_mapping())
    assert shown(client.post("/errors/bulk/", {"action": "retry"}, follow=True)) == [
        "Nothing selected: tick the errors first."]
    assert shown(client.post("/errors/bulk/", {"ids": [error.pk], "action": "explode"}, follow=True)) == [
        "Unknown action 'explode': retry or discard."]
    assert statuses(error) == ["open"]


def test_actions_without_the_csrf_token_are_refused(staff):
    strict = Client(enforce_csrf_checks=True)
    strict.force_login(staff)
    error = an_error(make_mapping())
    assert strict.post(f"/errors/{error.pk}/discard/").status_code == 403
    assert strict.post("/errors/bulk/", {"ids": [error.pk], "action": "discard"}).status_code == 403
    assert statuses(error) == ["open"]


def test_the_list_has_labelled_controls_and_stable_buttons(client, staff):
    error = an_error(make_mapping())
    page = client.get("/errors/").content.decode()
    assert unlabelled_controls(page) == [] and post_forms_without_csrf(page) == 0
    for button in (f'id="retry-{error.pk}"', f'id="discard-{error.pk}"', 'id="retry-selected"',
                   'id="discard-selected"', 'id="select-all"'):
        assert button in page
    assert "<title>Errors" in page and 'id="nav-errors" href="/errors/" aria-current="page"' in page


# On the real services.

def test_a_rejected_record_retried_from_the_page_after_the_fix_reaches_salesforce(
        client, staff, sf, mongo, all_workers, emulator):
    backfilled(sf, mongo, all_workers)
    emulator.add_rule("test_no_negative_staff", "Account", "NumberOfEmployees", "<", 0, "Employees cannot be negative")
    document = mongo.accounts.find_one({"name": {"$exists": True}})
    mongo.accounts.update_one({"_id": document["_id"]}, {"$set": {"numberOfEmployees": -5}})
    step_until(all_workers, lambda: SyncError.objects.filter(stage="salesforce_write").exists(),
               message="the rejection parked")
    error = SyncError.objects.get(stage="salesforce_write")
    page = client.get(f"/errors/{error.pk}/").content.decode()
    assert "FIELD_CUSTOM_VALIDATION_EXCEPTION" in page and "Employees cannot be negative" in page

    emulator.remove_rule("test_no_negative_staff")
    response = client.post(f"/errors/{error.pk}/retry/", follow=True)
    assert response.redirect_chain == [(f"/errors/{error.pk}/", 302)]
    assert shown(response) == [f"Retried 1 error: sent back to {error.topic}, to be applied again."]
    step_until(all_workers, lambda: salesforce_account(sf, document["sf_id"])["NumberOfEmployees"] == -5,
               message="the retried change in Salesforce")
    assert statuses(error) == ["retried"]
    assert "Retried" in client.get(f"/errors/{error.pk}/").content.decode()


def test_bulk_retry_republishes_each_selected_payload_to_its_topic(client, staff, make_workers, unique):
    make_workers(kinds=())  # the Account mapping on the session's Kafka, no workers
    mapping = ObjectMapping.objects.get(name="accounts")
    settings = kafka_settings(mapping.kafka)
    topic = f"{unique}.retried"
    ensure_topics(settings, [topic])
    chosen = [an_error(mapping, topic=topic, message_key=f"k{i}", payload=f'{{"n": {i}}}') for i in range(2)]
    left = an_error(mapping, topic=topic, payload='{"n": "left"}')

    response = client.post("/errors/bulk/", {"ids": [e.pk for e in chosen], "action": "retry", "next": "/errors/"},
                           follow=True)
    assert response.redirect_chain == [("/errors/", 302)]
    assert shown(response) == [f"Retried 2 errors: sent back to {topic}, to be applied again."]
    consumer = BatchConsumer(settings, f"{unique}.reader", [topic])
    try:
        received = consume_until(consumer, 2, timeout=30)
        assert sorted((m.key(), m.value()) for m in received) == [(b"k0", b'{"n": 0}'), (b"k1", b'{"n": 1}')]
        assert consume_until(consumer, 1, timeout=2) == [], "the one not ticked stays parked"
    finally:
        consumer.close()
    assert statuses(*chosen, left) == ["retried", "retried", "open"]
