"""One answer for who may use the API, /metrics and the API's schema and docs: 401 without
credentials or with an unknown token, 403 for a known user in no role, and a viewer's token
works on the schema and docs as on every route it may read."""
from __future__ import annotations

import pytest
from django.test import Client

from dashboard.models import ApiToken
from tests.dashboard.roles import VIEWERS, user_with_role

pytestmark = pytest.mark.django_db
GUARDED = ["/api/v1/status", "/api/v1/errors", "/metrics", "/api/v1/openapi.json"]


def bearer_of(role: str | None) -> dict[str, str]:
    """A token of a user in `role` (None: in no role)."""
    user = user_with_role(f"robot-{role}", role)
    return {"HTTP_AUTHORIZATION": f"Bearer {ApiToken.issue(user, 'ci')[1]}"}


@pytest.mark.parametrize("path", GUARDED)
def test_no_credentials_or_an_unknown_token_is_401(client, path):
    assert client.get(path).status_code == 401
    refused = client.get(path, HTTP_AUTHORIZATION="Bearer not-a-token")
    assert refused.status_code == 401 and refused["WWW-Authenticate"].startswith("Bearer")


@pytest.mark.parametrize("path", [*GUARDED, "/api/v1/docs"])
def test_a_logged_in_user_without_a_role_is_403(client, no_role, path):
    assert client.get(path).status_code == 403


@pytest.mark.parametrize("path", [*GUARDED, "/api/v1/docs"])
def test_a_token_of_a_user_without_a_role_is_403(client, path):
    assert client.get(path, **bearer_of(None)).status_code == 403


@pytest.mark.parametrize("path", [*GUARDED, "/api/v1/docs"])
def test_a_viewer_token_opens_everything_including_the_schema_and_docs(client, path):
    assert client.get(path, **bearer_of(VIEWERS)).status_code == 200


def test_the_schema_read_with_a_token_lists_the_routes(client):
    schema = client.get("/api/v1/openapi.json", **bearer_of(VIEWERS)).json()
    assert "/api/v1/mappings/{name}/records" in schema["paths"]


def test_an_anonymous_browser_on_the_docs_goes_to_the_console_login_not_the_admin_s(client):
    answer = client.get("/api/v1/docs")
    assert answer.status_code == 302 and answer["Location"] == "/accounts/login/?next=/api/v1/docs"


def test_an_anonymous_post_is_401_even_where_csrf_is_enforced():
    strict = Client(enforce_csrf_checks=True)
    answer = strict.post("/api/v1/mappings/accounts/pause")
    assert answer.status_code == 401


def test_a_staff_session_still_needs_csrf_for_a_post(staff):
    strict = Client(enforce_csrf_checks=True)
    strict.force_login(staff)
    assert strict.post("/api/v1/mappings/nope/pause").status_code == 403
