"""The compatibility contract of docs/compatibility.md: the REST API keeps every promise of the
published /api/v1 document, and the change envelope of schema_version 1 stays readable."""
from __future__ import annotations

import copy
import json
import re
from pathlib import Path

import pytest
from ninja.responses import NinjaJSONEncoder

from connectors import events
from syncsite.api import api
from tests.dashboard.roles import OPERATORS, user_with_role
from tests.packaging.api_contract import breaking_changes

ROOT = Path(__file__).resolve().parents[2]
PUBLISHED_API = ROOT / "docs" / "openapi-v1.json"


def served_api() -> dict:
    return json.loads(json.dumps(api.get_openapi_schema(), cls=NinjaJSONEncoder))


@pytest.fixture(scope="module")
def published() -> dict:
    return json.loads(PUBLISHED_API.read_text())


@pytest.mark.django_db  # the document lists a record path per mapping
def test_the_served_api_keeps_every_promise_of_the_published_v1(published):
    served = served_api()
    assert served["info"]["version"] == published["info"]["version"] == "1"
    assert all(path.startswith("/api/v1/") for path in served["paths"])
    assert breaking_changes(published, served) == [], (
        "a breaking change to /api/v1 (docs/compatibility.md); if the change is compatible after "
        "all, refresh the published document: python manage.py export_openapi_schema "
        "--api syncsite.api.api --indent 1 --sorted --output docs/openapi-v1.json")


@pytest.mark.django_db
def test_the_served_document_is_at_api_v1_openapi_json_for_staff(client, django_user_model):
    client.force_login(user_with_role("ops", OPERATORS))
    assert client.get("/api/v1/openapi.json").json() == served_api()


def test_additions_are_compatible(published):
    served = copy.deepcopy(published)
    served["paths"]["/api/v1/new-thing"] = {"get": {"responses": {"200": {"description": "OK"}}}}
    served["components"]["schemas"]["HealthOut"]["properties"]["uptime"] = {"type": "integer"}
    served["components"]["schemas"]["HealthOut"]["required"].append("uptime")  # a response may add
    served["paths"]["/api/v1/conflicts"]["get"].setdefault("parameters", []).append(
        {"in": "query", "name": "since", "required": False, "schema": {"type": "string"}})
    assert breaking_changes(published, served) == []


def test_removals_renames_type_changes_and_new_required_inputs_break(published):
    served = copy.deepcopy(published)
    del served["paths"]["/api/v1/status"]
    del served["components"]["schemas"]["HealthOut"]["properties"]["version"]
    served["components"]["schemas"]["Message"]["properties"]["detail"]["type"] = "integer"
    served["components"]["schemas"]["ResolveIn"]["properties"]["reason"] = {"type": "string"}
    served["components"]["schemas"]["ResolveIn"]["required"] = ["reason"]
    assert breaking_changes(published, served) == [
        "GET /api/v1/status removed",
        "schema HealthOut: field version removed",
        "schema Message: field detail changed type",
        "schema ResolveIn: new required field reason",
    ]


def test_the_envelope_example_of_docs_envelope_md_is_read_as_schema_version_1():
    """A v1 message, as published in docs/envelope.md, decodes; the version is in the file name."""
    example = re.search(r"Example:\s*```json\s*(\{.*?\})\s*```", (ROOT / "docs" / "envelope.md").read_text(), re.S)
    envelope = events.decode(example.group(1).encode())
    assert (envelope.mapping, envelope.op, envelope.salesforce_id) == ("accounts", "upsert", "001Hs00000AbCdEIAZ")
    assert events.SCHEMA_VERSION == 1 and events.SCHEMA_PATH.name == "change-envelope.v1.json"


@pytest.mark.parametrize("change", ["schema_version", "new_field", "new_op"])
def test_a_consumer_of_version_1_refuses_what_version_1_does_not_define(change):
    data = json.loads(events.encode(events.ChangeEnvelope(
        mapping="m", source="salesforce", op="upsert", object="Account", salesforce_id="001000000000001AAA",
        fields={"Name": "x"}, source_version={"system_modstamp": "2026-01-01T00:00:00.000Z"}, origin="salesforce")))
    if change == "schema_version":
        data["schema_version"] = 2
    elif change == "new_field":
        data["tenant"] = "a"
    else:
        data["op"] = "merge"
    with pytest.raises(events.EnvelopeError):
        events.decode(json.dumps(data).encode())
