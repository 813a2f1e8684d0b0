"""Request and response shapes of the REST API."""
from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

from ninja import Schema
from pydantic import ConfigDict, model_validator

from dashboard.formatting import counter_label


class JobOut(Schema):
    id: int
    kind: str
    mapping: str
    state: str
    progress_done: int
    progress_total: int | None
    percent: int | None
    message: str
    requested_by: str
    created_at: datetime
    started_at: datetime | None
    finished_at: datetime | None


MappingState = Literal["running", "paused", "failing", "idle"]


class MappingOut(Schema):
    name: str
    sf_object: str
    collection: str
    direction: str
    direction_label: str
    conflict_policy: str
    conflict_policy_label: str
    enabled: bool
    paused: bool = False
    state: MappingState = "idle"
    state_reason: str = ""
    capture_mode: str = "polling"
    checkpoint_modstamp: datetime | None = None
    mongo_resume_point: str = ""
    mongo_resume_at: datetime | None = None  # the resume point's cluster time as a moment
    cdc_replay_id: str = ""
    cdc_replay_at: datetime | None = None  # when capture last moved the replay id
    events_published: int = 0
    sf_to_mongo_rate: float | None = None
    mongo_to_sf_rate: float | None = None
    sf_to_mongo_lag: int | None = None
    mongo_to_sf_lag: int | None = None
    sf_to_mongo_behind_seconds: float | None = None
    mongo_to_sf_behind_seconds: float | None = None
    api_used: int | None = None
    api_limit: int | None = None
    write_back: str = ""  # how sf-apply writes this mapping's changes to Salesforce, and why
    open_errors: int = 0
    open_conflicts: int = 0
    open_drift: int | None = None
    errors_url: str | None = None
    conflicts_url: str | None = None
    jobs: list[JobOut] = []


class SampleOut(Schema):
    mapping: str
    taken_at: datetime
    sf_to_mongo_rate: float | None
    mongo_to_sf_rate: float | None
    sf_to_mongo_lag: int | None
    mongo_to_sf_lag: int | None


class ActivityOut(Schema):
    id: int
    mapping: str
    record_key: str
    timeline_url: str | None
    source: str
    outcome: str
    outcome_label: str
    operation: str
    created_at: datetime


class CounterOut(Schema):
    name: str
    label: str  # the counter in plain words (dashboard.formatting)
    value: Any


class WorkerOut(Schema):
    name: str
    host: str
    pid: int
    state: str
    last_beat: datetime
    counters: dict[str, Any]
    labelled_counters: list[CounterOut] = []
    last_error: str

    @staticmethod
    def resolve_labelled_counters(worker: Any) -> list[CounterOut]:
        return [CounterOut(name=name, label=counter_label(name), value=value)
                for name, value in sorted(worker.counters.items())]


class RelayOut(Schema):
    name: str
    channel: str
    topic: str
    collection: str
    enabled: bool
    events_relayed: int
    events_stored: int
    last_event_at: datetime | None
    replay_id: str


class StatusOut(Schema):
    mappings: list[MappingOut]
    workers: list[WorkerOut]
    activity: list[ActivityOut] = []
    samples: list[SampleOut] = []
    relays: list[RelayOut] = []


class ConflictOut(Schema):
    id: int
    mapping: str
    salesforce_id: str
    mongo_id: str
    status: str
    fields: list[str]
    base_values: dict[str, Any]
    salesforce_values: dict[str, Any]
    mongo_values: dict[str, Any]
    created_at: datetime
    resolution: dict[str, Any] | None = None


class ResolveIn(Schema):
    """Settle every disputed field: take a side for each (`take`), or give values outright."""

    # What `something_chosen` checks, said in the OpenAPI schema too.
    model_config = ConfigDict(json_schema_extra={"anyOf": [
        {"required": ["take"], "properties": {"take": {"type": "object", "minProperties": 1}}},
        {"required": ["values"], "properties": {"values": {"type": "object", "minProperties": 1}}},
    ]})

    take: dict[str, Literal["salesforce", "mongodb"]] | None = None
    values: dict[str, Any] | None = None

    @model_validator(mode="after")
    def something_chosen(self) -> ResolveIn:
        if not self.take and not self.values:
            raise ValueError("give `take` (field -> salesforce|mongodb) or `values` (field -> value)")
        return self


class ErrorOut(Schema):
    id: int
    mapping: str | None
    stage: str
    status: str
    code: str
    message: str
    record_key: str
    payload: str
    topic: str
    partition: int | None
    offset: int | None
    created_at: datetime


class Message(Schema):
    detail: str


class HealthOut(Message):
    version: str  # the product's (connectors.version); the API's own is in the /api/v1 path


class ErrorItem(Schema):
    """One value at fault: `loc` is where (`["body", field]`, `["query", name]`, ...), `type` the rule."""

    loc: list[str | int]
    msg: str
    type: str


class ValidationErrors(Schema):
    detail: list[ErrorItem]


#: Answers every route may give besides its own: no credentials (401), a role that may not (403).
AUTH_ANSWERS: dict[int, Any] = {401: Message, 403: Message}
#: Bodies of the error statuses a route declares with `answers`.
ERROR_BODIES: dict[int, Any] = {
    400: Message,            # a body that is not JSON
    404: Message,            # the mapping, record, job, conflict or error named in the path does not exist
    409: Message,            # refused in the current state (job running, one-way mapping, nothing to retry)
    422: ValidationErrors,   # a parameter or value that does not fit; `loc` names it
    502: Message,            # Salesforce refused the call
    503: Message,            # MongoDB, Kafka or Salesforce did not answer to check or carry out the request
}


def answers(ok: dict[int, Any], *errors: int) -> dict[int, Any]:
    """A route's declared answers: its own (`ok`), 401/403, and the listed error statuses."""
    return {**ok, **AUTH_ANSWERS, **{status: ERROR_BODIES[status] for status in errors}}
