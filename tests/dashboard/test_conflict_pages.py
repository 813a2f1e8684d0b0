"""The conflict queue pages: staff only, filters, the disputed fields side by side, resolving one
through the form (reaching both sides on the real services) and many by a policy."""
from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest
from django.contrib.auth import get_user_model
from django.test import Client

from connectors.models import Conflict, FieldMapping, ObjectMapping
from connectors.operations.conflict_queue import ResolutionError, policy_side
from tests.connectors.helpers import step_until
from tests.connectors.test_two_way import backfilled, edit_both_sides, salesforce_account
from tests.dashboard.page_checks import (
    make_mapping,
    post_forms_without_csrf,
    refused,
    sent_to_log_in,
    shown,
    unlabelled_controls,
)

pytestmark = pytest.mark.django_db
T0 = datetime(2025, 1, 1, tzinfo=timezone.utc)


def a_conflict(mapping: ObjectMapping, record: str = "001000000000001AAA", fields: tuple[str, ...] = ("Name",),
               **extra) -> Conflict:  # type: ignore[no-untyped-def]
    return Conflict.objects.create(
        mapping=mapping, salesforce_id=record, fields=list(fields),
        base_values={f: f"base {f}" for f in fields}, salesforce_values={f: f"sf {f}" for f in fields},
        mongo_values={f: f"mongo {f}" for f in fields}, **extra)


def listed(client, **query) -> list[int]:  # type: ignore[no-untyped-def]
    page = client.get("/conflicts/", query).content.decode()
    return sorted(c.pk for c in Conflict.objects.all() if f'id="conflict-{c.pk}"' in page)


@pytest.mark.parametrize("path", ["/conflicts/", "/conflicts/{id}/"])
def test_anonymous_visitors_are_sent_to_log_in_and_non_staff_refused(client, path):
    conflict = a_conflict(make_mapping())
    url = path.format(id=conflict.pk)
    assert sent_to_log_in(client.get(url))
    client.force_login(get_user_model().objects.create_user("viewer", password="pw-viewer-1"))
    assert refused(client.get(url))


def test_a_user_without_a_role_cannot_resolve(client, no_role):
    conflict = a_conflict(make_mapping())
    assert refused(client.post(f"/conflicts/{conflict.pk}/", {"choice-Name": "salesforce"}))
    assert refused(client.post("/conflicts/resolve/", {"ids": [conflict.pk], "policy": "salesforce_wins"}))
    assert Conflict.objects.get(pk=conflict.pk).status == "open"


def test_an_unknown_conflict_is_a_404(client, staff):
    assert client.get("/conflicts/999999/").status_code == 404
    assert client.post("/conflicts/999999/", {"choice-Name": "salesforce"}).status_code == 404


def test_the_list_filters_by_mapping_status_field_and_record_id(client, staff):
    accounts, contacts = make_mapping("accounts"), make_mapping("contacts")
    name = a_conflict(accounts, "001000000000001AAA", ("Name",))
    phone = a_conflict(accounts, "001000000000002AAA", ("Phone", "Name"))
    other = a_conflict(contacts, "003000000000003AAA", ("Email",))
    done = a_conflict(accounts, "001000000000004AAA", ("Name",), status="resolved")

    assert listed(client) == sorted([name.pk, phone.pk, other.pk])
    assert listed(client, mapping="contacts") == [other.pk]
    assert listed(client, status="resolved") == [done.pk]
    assert listed(client, status="all", mapping="accounts") == sorted([name.pk, phone.pk, done.pk])
    assert listed(client, field="Phone") == [phone.pk]
    assert listed(client, field="Nam") == [], "a field name matches whole, not in part"
    assert listed(client, q="0002") == [phone.pk]
    page = client.get("/conflicts/", {"mapping": "accounts"}).content.decode()
    assert 'id="count-open">2<' in page and 'id="count-resolved">1<' in page


def test_the_list_pages_through_many_conflicts_keeping_the_filters(client, staff):
    mapping = make_mapping()
    for i in range(55):
        a_conflict(mapping, f"001{i:015d}")
    first = client.get("/conflicts/", {"mapping": "accounts"}).content.decode()
    assert first.count('name="ids"') == 50 and "mapping=accounts&amp;page=2" in first
    assert client.get("/conflicts/", {"mapping": "accounts", "page": 2}).content.decode().count('name="ids"') == 5


def test_the_detail_marks_the_disputed_fields_in_words_and_offers_a_labelled_choice_for_each(client, staff):
    conflict = a_conflict(make_mapping(), fields=("Name", "Phone"))
    page = client.get(f"/conflicts/{conflict.pk}/").content.decode()
    for field in ("Name", "Phone"):
        row = page[page.index(f'id="field-{field}"'):]
        row = row[:row.index("</tr>")]
        assert 'class="disputed"' in page[page.index(f'id="field-{field}"') - 40:page.index(f'id="field-{field}"')]
        assert "In dispute" in row
        assert f"base {field}" in row and f"sf {field}" in row and f"mongo {field}" in row
        assert f'id="choice-{field}-salesforce"' in row and f'id="choice-{field}-mongodb"' in row
        assert f"<legend>{field}</legend>" in row
    assert "<title>Conflict" in page and "<main" in page
    assert unlabelled_controls(page) == [] and post_forms_without_csrf(page) == 0


def test_a_resolution_that_leaves_a_field_undecided_is_refused_naming_it(client, staff):
    conflict = a_conflict(make_mapping(), fields=("Name", "Phone"))
    response = client.post(f"/conflicts/{conflict.pk}/", {"choice-Name": "mongodb"})
    assert response.status_code == 400
    assert any("Phone is in dispute" in m for m in shown(response))
    assert 'value="mongodb" checked' in response.content.decode(), "the choice made is kept"
    assert Conflict.objects.get(pk=conflict.pk).status == "open"


def test_a_checkbox_field_takes_only_true_or_false(client, staff):
    mapping = make_mapping()
    FieldMapping.objects.create(mapping=mapping, sf_field="IsActive__c", mongo_field="isActive", sf_type="boolean")
    conflict = a_conflict(mapping, fields=("IsActive__c",))
    response = client.post(f"/conflicts/{conflict.pk}/", {"choice-IsActive__c": "edit", "value-IsActive__c": "maybe"})
    assert response.status_code == 400 and any("true or false" in m for m in shown(response))


def test_bulk_resolve_with_nothing_selected_says_so(client, staff):
    response = client.post("/conflicts/resolve/", {"policy": "salesforce_wins"}, follow=True)
    assert shown(response) == ["Nothing selected: tick the conflicts to resolve first."]


def test_the_pages_are_labelled_and_their_forms_carry_csrf(client, staff):
    a_conflict(make_mapping())
    page = client.get("/conflicts/").content.decode()
    assert unlabelled_controls(page) == []
    assert post_forms_without_csrf(page) == 0 and "csrfmiddlewaretoken" in page
    assert 'aria-current="page"' in page and "<title>Conflicts" in page


def test_a_post_without_the_csrf_token_is_refused(staff):
    strict = Client(enforce_csrf_checks=True)
    strict.force_login(staff)
    conflict = a_conflict(make_mapping())
    assert strict.post(f"/conflicts/{conflict.pk}/", {"choice-Name": "salesforce"}).status_code == 403
    assert strict.post("/conflicts/resolve/", {"ids": [conflict.pk], "policy": "salesforce_wins"}).status_code == 403


def test_newest_wins_takes_the_later_change_and_refuses_when_no_time_is_known():
    mapping = make_mapping()
    # One open conflict per record (the database refuses a second): each on its own record.
    later_in_mongodb = a_conflict(mapping, "001000000000001AAA", salesforce_changed_at=T0,
                                  mongo_changed_at=T0 + timedelta(seconds=1))
    later_in_salesforce = a_conflict(mapping, "001000000000002AAA", salesforce_changed_at=T0 + timedelta(seconds=1),
                                     mongo_changed_at=T0)
    only_salesforce_known = a_conflict(mapping, "001000000000003AAA", salesforce_changed_at=T0)
    assert policy_side(later_in_mongodb, "newest_wins") == "mongodb"
    assert policy_side(later_in_salesforce, "newest_wins") == "salesforce"
    assert policy_side(only_salesforce_known, "newest_wins") == "salesforce"
    assert policy_side(later_in_salesforce, "mongodb_wins") == "mongodb"
    with pytest.raises(ResolutionError, match="neither change time"):
        policy_side(a_conflict(mapping, "001000000000004AAA"), "newest_wins")
    with pytest.raises(ResolutionError, match="unknown policy"):
        policy_side(later_in_mongodb, "loudest_wins")


# On the real services.

def test_a_manual_conflict_resolved_on_the_page_reaches_both_sides(client, staff, sf, mongo, all_workers):
    backfilled(sf, mongo, all_workers)
    document = mongo.accounts.find_one({"name": {"$exists": True}})
    edit_both_sides(sf, mongo, document)
    salesforce_side = [w for w in all_workers if w.name.startswith(("sf-capture", "mongo-apply"))]
    step_until(salesforce_side, lambda: Conflict.objects.filter(status="open").exists(), message="a conflict")
    conflict = Conflict.objects.get(status="open")

    page = client.get(f"/conflicts/{conflict.pk}/").content.decode()
    assert "Salesforce Side" in page and "Mongo Side" in page
    assert 'data-field="Phone" data-disputed="false"' in page, "undisputed fields shown from the document"
    assert unlabelled_controls(page) == []

    response = client.post(f"/conflicts/{conflict.pk}/", {"choice-Name": "edit", "value-Name": "Agreed On The Page"})
    assert response.status_code == 302 and response["Location"] == f"/conflicts/{conflict.pk}/"
    assert Conflict.objects.get(pk=conflict.pk).status == "resolved"
    step_until(all_workers, lambda: salesforce_account(sf, document["sf_id"])["Name"] == "Agreed On The Page"
               and mongo.accounts.find_one({"_id": document["_id"]})["name"] == "Agreed On The Page",
               message="the resolution on both sides")
    step_until(all_workers, lambda: "Both sides hold the chosen values" in
               client.get(f"/conflicts/{conflict.pk}/").content.decode(), message="the page to show it applied")
    resolved = client.get(f"/conflicts/{conflict.pk}/").content.decode()
    assert "Agreed On The Page" in resolved and "by operator at" in resolved and 'id="resolve"' not in resolved


def test_many_conflicts_are_resolved_at_once_by_a_policy(client, staff, mongo, make_workers):
    make_workers(kinds=())  # the Account mapping, no workers: the resolution is checked in MongoDB
    mapping = ObjectMapping.objects.get(name="accounts")
    ids = [mongo.accounts.insert_one({"name": "Before", "sf_id": f"001{i:015d}"}).inserted_id for i in range(3)]
    times = [(T0, T0 + timedelta(seconds=5)), (T0 + timedelta(seconds=5), T0), (T0, T0 + timedelta(seconds=5))]
    conflicts = [
        Conflict.objects.create(mapping=mapping, salesforce_id=f"001{i:015d}", mongo_id=str(ids[i]), fields=["Name"],
                                base_values={"Name": "Before"}, salesforce_values={"Name": f"SF {i}"},
                                mongo_values={"Name": f"Mongo {i}"}, salesforce_changed_at=sf_at,
                                mongo_changed_at=mongo_at)
        for i, (sf_at, mongo_at) in enumerate(times)
    ]
    list_page = client.get("/conflicts/").content.decode()
    assert 'id="select-all"' in list_page and "Resolve selected" in list_page

    response = client.post("/conflicts/resolve/", {"ids": [c.pk for c in conflicts[:2]], "policy": "newest_wins",
                                                   "next": "/conflicts/?mapping=accounts"}, follow=True)
    assert response.redirect_chain == [("/conflicts/?mapping=accounts", 302)]
    assert any("Resolved 2 conflicts" in m for m in shown(response))
    names = [mongo.accounts.find_one({"_id": i})["name"] for i in ids]
    assert names == ["Mongo 0", "SF 1", "Before"]
    assert [Conflict.objects.get(pk=c.pk).resolved_by for c in conflicts] == ["operator", "operator", ""]

    again = shown(client.post("/conflicts/resolve/", {"ids": [c.pk for c in conflicts], "policy": "salesforce_wins"},
                              follow=True))
    assert any("Resolved 1 conflict " in m for m in again)
    assert any(f"Conflict {conflicts[0].pk} not resolved" in m and "already resolved" in m for m in again)
    assert mongo.accounts.find_one({"_id": ids[2]})["name"] == "SF 2"
