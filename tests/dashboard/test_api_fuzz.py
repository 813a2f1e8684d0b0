"""Property-based fuzzing of /api/v1 against its own OpenAPI schema with schemathesis' engine (what
`schemathesis run` does), with a staff token, on the real services (the Account and Contact
mappings on the session's emulator, broker and MongoDB).

Every check schemathesis has is on: no server error, every answer one its route declares (status
code, content type, headers, body schema), requests valid by the schema accepted and invalid ones
refused, undeclared methods answered 405 with a true `Allow`. Every phase runs (examples,
coverage, fuzzing, stateful chains of calls); fuzzing stops at `MAX_EXAMPLES` per route, which
keeps the run short (about 2,100 requests in under a minute).
"""
from __future__ import annotations

import json
import socket
import time
from collections import Counter

import pytest
import requests
import schemathesis
from django.core.management import call_command
from schemathesis.config import SchemathesisConfig
from schemathesis.engine import Status, events, from_schema

from connectors.mappings.describe_cache import DescribeUnavailable, forget
from connectors.models import ObjectMapping
from connectors.operations import records
from connectors.operations.platform_events import ORDER_ID
from connectors.wiring import mapping_spec
from dashboard.models import ApiToken
from tests.dashboard.roles import OPERATORS, user_with_role

# The app answers from live_server's thread: it must see the committed token and mappings.
pytestmark = pytest.mark.django_db(transaction=True)
#: Generated requests per route and phase.
MAX_EXAMPLES = 25


@pytest.fixture
def staff_token() -> str:
    user = user_with_role("fuzzer", OPERATORS)
    return ApiToken.issue(user, "fuzz")[1]


@pytest.fixture
def api(live_server, sync_settings, mongo, sf, staff_token):  # type: ignore[no-untyped-def]
    """The API's schema as a staff token reads it from the running web app, ready for the engine."""
    # Django's test server writes headers and body separately; with Nagle's algorithm each answer then
    # waits ~40 ms for a delayed ACK. Accepted sockets inherit TCP_NODELAY from the listening one.
    live_server.thread.httpd.socket.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    # Between them, their fields exercise every rule: required, length, restricted picklist, digits,
    # decimal places, the Id of an Account, email, date.
    call_command("setupsync", objects="Account,Contact")
    # Describes are cached per org primary key, which the next test's org reuses: an earlier
    # test's unreachable org would leave this one with generic record bodies.
    forget()
    _describe_writable_mappings()
    config = SchemathesisConfig.from_dict({
        "seed": 20261130,  # the same requests on every run; a change of code or schema still explores anew
        "headers": {"Authorization": f"Bearer {staff_token}"},
        "workers": 1,
        "generation": {"max-examples": MAX_EXAMPLES},
    })
    bearer = {"Authorization": f"Bearer {staff_token}"}
    document = requests.get(f"{live_server.url}/api/v1/openapi.json", headers=bearer, timeout=60).json()
    fallbacks = {path: op["requestBody"]["content"]["application/json"]["schema"].get("description")
                 for path, ops in document["paths"].items() for op in ops.values()
                 if "requestBody" in op and "/records" in path and "{name}" not in path
                 and "description" in op["requestBody"]["content"]["application/json"]["schema"]}
    assert not fallbacks, f"record bodies without their fields (describe failed building the schema): {fallbacks}"
    schema = schemathesis.openapi.from_url(f"{live_server.url}/api/v1/openapi.json", config=config, headers=bearer)
    orders = [r["Id"] for r in sf.query("SELECT Id FROM Order LIMIT 20")["records"]]

    writable = set(ObjectMapping.objects.exclude(direction=ObjectMapping.Direction.SF_TO_MONGO)
                   .values_list("name", flat=True))

    @schema.hook
    def map_case(context, case):  # type: ignore[no-untyped-def]
        """A well-formed Order Id becomes one that exists: that an Order exists is a fact of the org, not
        something a schema can say (a well-formed Id of no Order is a 422: test_events_api.py)."""
        body = case.body
        name = (case.path_parameters or {}).get("name")
        if "{name}/records" in case.operation.path and name in writable:
            # The generic record paths are declared for any name *but* these (`not: {enum: …}`), whose
            # own paths spell their bodies out; schemathesis' coverage phase does not honour `not`.
            case.path_parameters = {**case.path_parameters, "name": f"not-{name}"}
        if (case.operation.path.endswith("/events/order-update") and isinstance(body, dict)
                and isinstance(body.get("order_id"), str) and ORDER_ID.match(body["order_id"])):
            case.body = {**body, "order_id": orders[sum(map(ord, body["order_id"])) % len(orders)]}
        return case

    yield schema
    forget()


def _describe_writable_mappings() -> None:
    """Fill the describe cache the schema is built from, patiently: on a loaded machine one describe
    can outlast the page's 5 s, and the schema would then carry generic bodies (any property), which
    the server rightly refuses."""
    deadline = time.monotonic() + 60
    for mapping in ObjectMapping.objects.select_related("org"):
        while True:
            try:
                records.described(mapping.org, mapping_spec(mapping))
                break
            except DescribeUnavailable:
                if time.monotonic() > deadline:
                    raise
                time.sleep(1)


def test_every_answer_is_declared_and_none_is_a_server_error(api):  # type: ignore[no-untyped-def]
    started = time.monotonic()
    failures: list[str] = []
    requests: Counter[str] = Counter()
    created: Counter[str] = Counter()  # records accepted, by mapping
    for event in from_schema(api).execute():
        if isinstance(event, events.ScenarioFinished):
            requests[event.phase.value] += len(event.recorder.interactions)
            created.update(i.request.uri.rsplit("/", 2)[-2] for i in event.recorder.interactions.values()
                           if i.response is not None and i.response.status_code == 201)
            for case_id, checks in event.recorder.checks.items():
                for check in checks:
                    if check.status == Status.FAILURE and check.failure_info is not None:
                        failures.append(_describe(event.recorder, case_id, check))
        elif isinstance(event, (events.NonFatalError, events.FatalError)):
            failures.append(f"engine error: {getattr(event, 'label', '')} {getattr(event, 'value', event)!r}")
    elapsed = time.monotonic() - started
    print(f"schemathesis {schemathesis.__version__}: {sum(requests.values())} requests "
          f"({dict(requests)}) in {elapsed:.1f} s, records created {dict(created)}, {len(failures)} failures")
    assert sum(requests.values()) > 500, "the fuzzer hardly ran"
    assert created["accounts"] and created["contacts"], "the record routes were not exercised with valid records"
    assert not failures, "\n\n".join(sorted(set(failures)))


def _describe(recorder, case_id: str, check) -> str:  # type: ignore[no-untyped-def]
    failure = check.failure_info.failure
    interaction = recorder.interactions.get(case_id)
    sent = ""
    if interaction is not None:
        request, response = interaction.request, interaction.response
        body = request.body[:300] if request.body else b""
        sent = f"\n  {request.method} {request.uri} {body!r} -> {response.status_code if response else '-'}"
        if response is not None and response.content:
            sent += f" {response.content[:300]!r}"
    return f"{check.name}: {failure.operation}: {failure.title}: {json.dumps(failure.message)[:400]}{sent}"
