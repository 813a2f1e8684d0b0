"""The three roles (connectors.roles) on every door: console pages, the REST API, the status socket
and the admin. A viewer reads everything and is refused every action with a 403 that names the
missing role, and the console shows the viewer its actions disabled; an operator acts; an admin
edits connections and mappings; a user in no role is refused even reading."""
from __future__ import annotations

import pytest
from django.contrib.auth import get_user_model
from django.test import Client

from connectors.models import AuditEntry, Conflict, ObjectMapping, SyncError, SyncJob
from tests.dashboard.page_checks import make_mapping
from tests.dashboard.roles import ADMINS, OPERATORS, VIEWERS, bearer_of, client_of

pytestmark = pytest.mark.django_db
RECORD = "001000000000001AAA"


@pytest.fixture
def queues() -> dict[str, int]:
    """A mapping with one open conflict and one open error, to read and to act on."""
    mapping = make_mapping()
    conflict = Conflict.objects.create(mapping=mapping, salesforce_id=RECORD, fields=["Name"],
                                       base_values={"Name": "a"}, salesforce_values={"Name": "b"},
                                       mongo_values={"Name": "c"})
    error = SyncError.objects.create(mapping=mapping, stage="convert", code="INVALID_VALUE", message="bad",
                                     payload="{}", record_key=RECORD)
    return {"conflict": conflict.pk, "error": error.pk}


def logged_in(role: str | None, **fields) -> Client:  # type: ignore[no-untyped-def]
    return client_of(f"user-{role}", role, **fields)


def bearer(role: str | None) -> dict[str, str]:
    return bearer_of(f"robot-{role}", role)


def pages(ids: dict[str, int]) -> list[str]:
    return ["/", "/conflicts/", f"/conflicts/{ids['conflict']}/", "/errors/", f"/errors/{ids['error']}/",
            "/records/", f"/records/accounts/{RECORD}/", "/audit/"]


def console_actions(ids: dict[str, int]) -> list[tuple[str, dict]]:
    return [
        ("/mappings/accounts/pause/", {}), ("/mappings/accounts/resume/", {}),
        ("/mappings/accounts/backfill/", {}), ("/mappings/accounts/reconcile/", {}),
        (f"/conflicts/{ids['conflict']}/", {"choice-Name": "salesforce"}),
        ("/conflicts/resolve/", {"ids": [ids["conflict"]], "policy": "salesforce_wins"}),
        (f"/errors/{ids['error']}/retry/", {}), (f"/errors/{ids['error']}/discard/", {}),
        ("/errors/bulk/", {"ids": [ids["error"]], "action": "discard"}),
    ]


API_READS = ["/api/v1/status", "/api/v1/mappings", "/api/v1/conflicts", "/api/v1/errors", "/api/v1/audit",
             f"/api/v1/mappings/accounts/records/{RECORD}/timeline", "/metrics", "/api/v1/openapi.json"]


def api_actions(ids: dict[str, int]) -> list[tuple[str, str, dict]]:
    return [
        ("post", "/api/v1/mappings/accounts/pause", {}), ("post", "/api/v1/mappings/accounts/resume", {}),
        ("post", "/api/v1/mappings/accounts/backfill", {}), ("post", "/api/v1/mappings/accounts/reconcile", {}),
        ("post", f"/api/v1/conflicts/{ids['conflict']}/resolve", {"take": {"Name": "salesforce"}}),
        ("post", f"/api/v1/errors/{ids['error']}/retry", {}), ("post", f"/api/v1/errors/{ids['error']}/discard", {}),
        ("post", "/api/v1/mappings/accounts/records", {"name": "x"}),
        ("patch", f"/api/v1/mappings/accounts/records/{RECORD}", {"name": "x"}),
        ("delete", f"/api/v1/mappings/accounts/records/{RECORD}", {}),
        ("post", "/api/v1/events/order-update", {"order_id": "801000000000001AAA", "status": "Packed"}),
    ]


def nothing_changed(ids: dict[str, int]) -> bool:
    """Nothing acted on, and so nothing in the audit trail."""
    return (not ObjectMapping.objects.get(name="accounts").paused and not SyncJob.objects.exists()
            and not AuditEntry.objects.exists()
            and Conflict.objects.get(pk=ids["conflict"]).status == Conflict.Status.OPEN
            and SyncError.objects.get(pk=ids["error"]).status == SyncError.Status.OPEN)


def test_a_viewer_reads_every_console_page(queues):
    viewer = logged_in(VIEWERS)
    assert {path: viewer.get(path).status_code for path in pages(queues)} == {path: 200 for path in pages(queues)}


def test_a_viewer_is_refused_every_console_action_saying_which_role_it_needs(queues):
    viewer = logged_in(VIEWERS)
    for path, form in console_actions(queues):
        answer = viewer.post(path, form)
        assert answer.status_code == 403, path
        assert "may read but not act" in answer.content.decode() and "Operators role" in answer.content.decode()
    assert nothing_changed(queues)


def test_the_console_shows_a_viewer_its_actions_disabled_and_why(queues):
    viewer, operator = logged_in(VIEWERS), logged_in(OPERATORS)
    for path in ("/", f"/conflicts/{queues['conflict']}/", "/errors/", f"/errors/{queues['error']}/"):
        seen, acted = viewer.get(path).content.decode(), operator.get(path).content.decode()
        assert 'id="read-only"' in seen and "disabled title=\"Read only" in seen, path
        assert 'id="read-only"' not in acted and "disabled title=\"Read only" not in acted, path
    assert 'id="pause-accounts" disabled' in viewer.get("/").content.decode()


def test_a_user_in_no_role_reads_nothing(queues):
    nobody = logged_in(None, is_staff=True)  # Staff status alone opens the admin's door, not the console
    for path in pages(queues):
        answer = nobody.get(path)
        assert answer.status_code == 403 and "has no console role" in answer.content.decode(), path


def test_an_operator_acts_from_the_console(queues):
    operator = logged_in(OPERATORS)
    assert operator.post("/mappings/accounts/pause/").status_code == 302
    assert ObjectMapping.objects.get(name="accounts").paused
    assert operator.post(f"/errors/{queues['error']}/discard/").status_code == 302
    assert SyncError.objects.get(pk=queues["error"]).status == SyncError.Status.DISCARDED


def test_a_viewer_token_reads_the_api_and_metrics(client, queues):
    headers = bearer(VIEWERS)
    assert {path: client.get(path, **headers).status_code for path in API_READS} == {p: 200 for p in API_READS}


def test_a_viewer_token_is_refused_every_api_write_with_a_clear_403(client, queues):
    headers = bearer(VIEWERS)
    for method, path, body in api_actions(queues):
        answer = getattr(client, method)(path, body, content_type="application/json", **headers)
        assert answer.status_code == 403, path
        assert "may read but not act" in answer.json()["detail"], path
        assert "connectors.operate_sync" in answer.json()["detail"]
    assert nothing_changed(queues)


def test_a_viewer_session_is_refused_api_writes_too(queues):
    answer = logged_in(VIEWERS).post("/api/v1/mappings/accounts/pause")
    assert answer.status_code == 403 and "Operators role" in answer.json()["detail"]


def test_an_operator_token_acts_through_the_api(client, queues):
    answer = client.post("/api/v1/mappings/accounts/pause", **bearer(OPERATORS))
    assert answer.status_code == 200 and answer.json()["paused"] is True


def test_a_token_of_a_user_in_no_role_reads_nothing(client, queues):
    answer = client.get("/api/v1/status", **bearer(None))
    assert answer.status_code == 403 and "has no console role" in answer.json()["detail"]


def test_only_admins_edit_connections_and_mappings_in_the_admin(queues):
    admin, operator = logged_in(ADMINS, is_staff=True), logged_in(OPERATORS, is_staff=True)
    mapping = ObjectMapping.objects.get(name="accounts")
    for path in ("/admin/connectors/objectmapping/add/", f"/admin/connectors/objectmapping/{mapping.pk}/change/",
                 "/admin/connectors/salesforceorg/add/", "/admin/connectors/mongotarget/add/",
                 "/admin/connectors/kafkacluster/add/"):
        assert admin.get(path).status_code == 200, path
        assert operator.get(path).status_code == 403, path
    assert admin.get("/").status_code == 200 and admin.post("/mappings/accounts/pause/").status_code == 302


def test_a_superuser_in_no_group_may_do_everything(queues):
    root = Client()
    root.force_login(get_user_model().objects.create_superuser("root", "r@example.com", "pw-root-1234"))
    assert root.get("/audit/").status_code == 200
    assert root.post("/mappings/accounts/pause/").status_code == 302
