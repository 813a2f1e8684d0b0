"""The audit trail, written by each audited action through the door a person uses (console POST,
API call, admin save), shown on the record's timeline, searchable on the audit page and exported
by GET /api/v1/audit."""
from __future__ import annotations

import json
from datetime import datetime, timedelta, timezone

import pytest

from connectors.kafka.topics import ensure_topics
from connectors.models import AuditEntry, Conflict, MongoTarget, ObjectMapping, SyncError
from connectors.wiring import kafka_settings
from tests.dashboard.page_checks import make_mapping
from tests.dashboard.roles import ADMINS, OPERATORS, VIEWERS, bearer_of, client_of
from tests.dashboard.test_error_pages import an_error

pytestmark = pytest.mark.django_db
Action, Via = AuditEntry.Action, AuditEntry.Via


def trail() -> list[tuple[str, str, str, str, str]]:
    """Every entry, oldest first, as (user, via, action, mapping, target)."""
    return [(e.user, e.via, e.action, e.mapping, e.target) for e in AuditEntry.objects.order_by("at", "id")]


def test_pause_resume_backfill_and_reconcile_are_recorded_from_the_console_and_the_api(client):
    make_mapping()
    alice = client_of("alice", OPERATORS)
    for action in ("pause", "pause", "backfill"):  # the second pause changes nothing: no entry
        alice.post(f"/mappings/accounts/{action}/")
    api = bearer_of("robot", OPERATORS)
    client.post("/api/v1/mappings/accounts/resume", **api)
    job = client.post("/api/v1/mappings/accounts/reconcile", **api).json()["id"]
    assert trail() == [
        ("alice", Via.CONSOLE, Action.PAUSE, "accounts", "mapping accounts"),
        ("alice", Via.CONSOLE, Action.BACKFILL, "accounts", f"job {job - 1}"),
        ("robot", Via.API, Action.RESUME, "accounts", "mapping accounts"),
        ("robot", Via.API, Action.RECONCILE, "accounts", f"job {job}"),
    ]


def test_a_refused_job_is_not_recorded(client):
    make_mapping()
    alice = client_of("alice", OPERATORS)
    alice.post("/mappings/accounts/backfill/")
    alice.post("/mappings/accounts/backfill/")  # refused: one is already queued
    assert [e[2] for e in trail()] == [Action.BACKFILL]


def test_discard_from_the_console_and_the_api_names_each_error(client):
    mapping = make_mapping()
    first, second, third = (an_error(mapping, record_key=f"65f00000000000000000000{i}") for i in range(3))
    alice = client_of("alice", OPERATORS)
    alice.post("/errors/bulk/", {"ids": [first.pk, second.pk], "action": "discard"})
    client.post(f"/api/v1/errors/{third.pk}/discard", **bearer_of("robot", OPERATORS))
    client.post(f"/api/v1/errors/{third.pk}/discard", **bearer_of("robot2", OPERATORS))  # not open: no entry
    entries = AuditEntry.objects.order_by("id")
    assert [(e.user, e.via, e.action, e.target, e.record_key) for e in entries] == [
        ("alice", Via.CONSOLE, Action.DISCARD, f"error {first.pk}", first.record_key),
        ("alice", Via.CONSOLE, Action.DISCARD, f"error {second.pk}", second.record_key),
        ("robot", Via.API, Action.DISCARD, f"error {third.pk}", third.record_key),
    ]
    assert entries[0].details == {"error": first.pk, "code": "INVALID_VALUE", "topic": ""}
    timeline = alice.get(f"/records/accounts/{first.record_key}/").content.decode()
    assert f"<strong>alice</strong> (Console): discarded an error, error {first.pk}: INVALID_VALUE" in timeline
    assert f"error {second.pk}" not in timeline.split('id="timeline-audit"')[1].split("</ul>")[0]


def test_a_retry_through_kafka_is_recorded_per_error(client, make_workers, unique):
    make_workers(kinds=())  # the Account mapping on the session's Kafka
    mapping = ObjectMapping.objects.get(name="accounts")
    topic = f"{unique}.retried"
    ensure_topics(kafka_settings(mapping.kafka), [topic])
    error = an_error(mapping, topic=topic, payload='{"n": 1}')
    client_of("alice", OPERATORS).post(f"/errors/{error.pk}/retry/")
    assert SyncError.objects.get(pk=error.pk).status == SyncError.Status.RETRIED
    assert trail() == [("alice", Via.CONSOLE, Action.RETRY, "accounts", f"error {error.pk}")]
    assert AuditEntry.objects.get().details["topic"] == topic


def test_a_resolution_records_the_values_chosen_and_shows_on_the_record_timeline(client, mongo, make_workers):
    make_workers(kinds=())
    mapping = ObjectMapping.objects.get(name="accounts")
    sf_id = "001000000000077AAA"
    mongo_id = mongo.accounts.insert_one({"name": "Before", "phone": "1", "sf_id": sf_id}).inserted_id
    conflict = Conflict.objects.create(
        mapping=mapping, salesforce_id=sf_id, mongo_id=str(mongo_id), fields=["Name", "Phone"],
        base_values={"Name": "Before", "Phone": "1"}, salesforce_values={"Name": "SF name", "Phone": "2"},
        mongo_values={"Name": "Mongo name", "Phone": "3"})
    alice = client_of("alice", OPERATORS)
    answer = alice.post(f"/conflicts/{conflict.pk}/", {"choice-Name": "mongodb", "choice-Phone": "edit",
                                                      "value-Phone": "555"})
    assert answer.status_code == 302
    entry = AuditEntry.objects.get()
    assert (entry.user, entry.via, entry.action, entry.record_key, entry.record_alias) == (
        "alice", Via.CONSOLE, Action.RESOLVE, sf_id, str(mongo_id))
    assert entry.details["values"] == {"Name": "Mongo name", "Phone": "555"}
    assert entry.details["took"] == {"Name": "mongodb"} and entry.details["typed"] == ["Phone"]

    for key in (sf_id, str(mongo_id)):  # the record is found by either id
        page = client_of(f"v-{key}", VIEWERS).get(f"/records/accounts/{key}/").content.decode()
        assert 'id="timeline-audit"' in page
        assert "<strong>alice</strong> (Console): resolved a conflict, conflict" in page
        assert "Name = &#x27;Mongo name&#x27;, Phone = &#x27;555&#x27; (Name from mongodb, Phone typed in)" in page
    exported = client.get("/api/v1/audit", {"record": str(mongo_id)}, **bearer_of("reader", VIEWERS)).json()
    assert [(i["user"], i["action"], i["details"]["values"]) for i in exported["items"]] == [
        ("alice", "resolve", {"Name": "Mongo name", "Phone": "555"})]


def test_resolving_by_policy_records_each_conflict_resolved_and_not_the_skipped(client, mongo, make_workers):
    make_workers(kinds=())
    mapping = ObjectMapping.objects.get(name="accounts")
    conflicts = []
    for i in range(2):
        sf_id = f"00100000000008{i}AAA"
        mongo_id = mongo.accounts.insert_one({"name": "Before", "sf_id": sf_id}).inserted_id
        conflicts.append(Conflict.objects.create(
            mapping=mapping, salesforce_id=sf_id, mongo_id=str(mongo_id), fields=["Name"],
            base_values={"Name": "Before"}, salesforce_values={"Name": f"SF {i}"}, mongo_values={"Name": f"M {i}"}))
    Conflict.objects.filter(pk=conflicts[1].pk).update(status=Conflict.Status.RESOLVED)
    client_of("alice", OPERATORS).post("/conflicts/resolve/", {"ids": [c.pk for c in conflicts],
                                                               "policy": "salesforce_wins"})
    entry = AuditEntry.objects.get()
    assert (entry.action, entry.target, entry.details["values"], entry.details["policy"]) == (
        Action.RESOLVE, f"conflict {conflicts[0].pk}", {"Name": "SF 0"}, "salesforce_wins")


def test_admin_saves_of_connections_record_the_change_but_never_a_secret(client):
    admin = client_of("root-admin", ADMINS, is_staff=True)
    secret_uri = "mongodb://sync:S3cr3t-pw@db.example:27017"
    target = MongoTarget.objects.create(name="prod", uri="mongodb://127.0.0.1:27017", database="sync")
    answer = admin.post(f"/admin/connectors/mongotarget/{target.pk}/change/",
                        {"name": "prod", "uri": secret_uri, "database": "sync2"})
    assert answer.status_code == 302, answer.content.decode()[:2000]
    added = admin.post("/admin/connectors/salesforceorg/add/", {
        "name": "org2", "login_url": "https://login.salesforce.com", "auth_flow": "oauth_password",
        "username": "u@example.com", "password": "Pa55-secret", "security_token": "tok-secret",
        "client_id": "cid", "client_secret": "cs-secret", "api_version": "62.0",
        "pubsub_endpoint": "api.pubsub.salesforce.com:7443"})
    assert added.status_code == 302, added.content.decode()[:3000]
    changed, created = AuditEntry.objects.order_by("id")
    assert (changed.user, changed.via, changed.action, changed.target) == (
        "root-admin", Via.ADMIN, Action.CHANGE, "mongo target prod (sync2)")
    assert changed.details["fields"] == {"uri": {"secret": True}, "database": {"from": "sync", "to": "sync2"}}
    assert (created.action, created.target) == (Action.ADD, "salesforce org org2")
    fields = created.details["fields"]
    assert fields["password"] == fields["security_token"] == fields["client_secret"] == {"secret": True}
    assert fields["username"] == {"from": None, "to": "u@example.com"}
    stored = json.dumps([changed.details, created.details])
    for secret in ("S3cr3t-pw", "Pa55-secret", "tok-secret", "cs-secret"):
        assert secret not in stored
    page = admin.get("/audit/", {"action": "change"}).content.decode()
    assert "uri: secret replaced; database: &#x27;sync&#x27; → &#x27;sync2&#x27;" in page
    assert admin.get("/admin/connectors/auditentry/").status_code == 200  # listed, read-only
    assert admin.get(f"/admin/connectors/auditentry/{changed.pk}/delete/").status_code == 403


def test_an_admin_change_to_a_mapping_records_old_and_new_values_and_its_deletion(client):
    mapping = make_mapping()
    admin = client_of("root-admin", ADMINS, is_staff=True)
    form = admin.get(f"/admin/connectors/objectmapping/{mapping.pk}/change/").context["adminform"].form
    data = {name: value for name, value in form.initial.items() if value is not None}
    data.update({"conflict_policy": "salesforce_wins", "fields-TOTAL_FORMS": "0", "fields-INITIAL_FORMS": "0"})
    data = {k: ("on" if v is True else v) for k, v in data.items() if v is not False}
    answer = admin.post(f"/admin/connectors/objectmapping/{mapping.pk}/change/", data)
    assert answer.status_code == 302, answer.content.decode()[:3000]
    entry = AuditEntry.objects.get()
    assert (entry.action, entry.mapping) == (Action.CHANGE, "accounts")
    assert entry.details["fields"] == {"conflict_policy": {"from": mapping.conflict_policy, "to": "salesforce_wins"}}
    admin.post(f"/admin/connectors/objectmapping/{mapping.pk}/delete/", {"post": "yes"})
    assert not ObjectMapping.objects.exists()
    assert [e[2:4] for e in trail()] == [(Action.CHANGE, "accounts"), (Action.DELETE, "accounts")]


def entries_for_search() -> list[AuditEntry]:
    """Entries of two users, two mappings and several days."""
    now = datetime(2026, 3, 10, 12, tzinfo=timezone.utc)
    made = []
    for i in range(60):
        entry = AuditEntry.record("alice" if i % 2 else "bob", Via.CONSOLE, Action.PAUSE if i % 3 else Action.RESUME,
                                  f"mapping m{i % 2}", mapping=f"m{i % 2}")
        AuditEntry.objects.filter(pk=entry.pk).update(at=now - timedelta(days=i))
        made.append(AuditEntry.objects.get(pk=entry.pk))
    return made


def shown_ids(page: str) -> set[int]:
    return {e.pk for e in AuditEntry.objects.all() if f'id="audit-{e.pk}"' in page}


def test_the_audit_page_filters_by_user_action_mapping_and_day_a_page_at_a_time():
    made = entries_for_search()
    viewer = client_of("reader", VIEWERS)
    first = viewer.get("/audit/").content.decode()
    assert len(shown_ids(first)) == 50 and 'id="page-next"' in first and 'id="count-matching">60<' in first
    assert shown_ids(viewer.get("/audit/", {"page": 2}).content.decode()) == {e.pk for e in made[50:]}
    by_user = viewer.get("/audit/", {"user": "alice", "action": "resume", "mapping": "m1"}).content.decode()
    assert shown_ids(by_user) == {e.pk for e in made if e.user == "alice" and e.action == "resume"}
    days = viewer.get("/audit/", {"since": "2026-03-08", "until": "2026-03-09"}).content.decode()
    assert shown_ids(days) == {made[1].pk, made[2].pk}
    bad = viewer.get("/audit/", {"since": "yesterday"}).content.decode()
    assert "“yesterday” is not a day (YYYY-MM-DD)" in bad and 'id="count-matching">60<' in bad


def test_the_api_exports_the_trail_with_filters_and_paging(client):
    made = entries_for_search()
    viewer = bearer_of("reader", VIEWERS)
    page = client.get("/api/v1/audit", {"limit": 5, "offset": 5}, **viewer).json()
    assert (page["total"], page["limit"], page["offset"]) == (60, 5, 5)
    assert [i["id"] for i in page["items"]] == [e.pk for e in made[5:10]]
    since = client.get("/api/v1/audit", {"user": "bob", "since": "2026-03-05T12:00:00Z",
                                         "until": "2026-03-09T00:00:00Z"}, **viewer).json()
    assert [i["id"] for i in since["items"]] == [made[2].pk, made[4].pk]
    assert client.get("/api/v1/audit", {"action": "explode"}, **viewer).status_code == 422
    assert client.get("/api/v1/audit", {"until": "0.5"}, **viewer).status_code == 422  # not seconds since 1970
    assert client.get("/api/v1/audit", {"limit": 501}, **viewer).status_code == 422
    schema = client.get("/api/v1/openapi.json", **viewer).json()
    parameters = {p["name"] for p in schema["paths"]["/api/v1/audit"]["get"]["parameters"]}
    assert {"user", "action", "mapping", "record", "since", "until", "limit", "offset"} <= parameters

