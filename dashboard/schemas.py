"""Request and response shapes of the REST API."""
from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

from ninja import Schema
from pydantic import model_validator


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
    state: Literal["running", "paused", "failing", "idle"] = "idle"
    state_reason: str = ""
    checkpoint_modstamp: datetime | None = None
    mongo_resume_point: str = ""
    cdc_replay_id: str = ""
    events_published: int = 0
    sf_to_mongo_rate: float | None = None
    mongo_to_sf_rate: float | None = None
    sf_to_mongo_lag: int | None = None
    mongo_to_sf_lag: int | None = None
    sf_to_mongo_behind_seconds: float | None = None
    mongo_to_sf_behind_seconds: float | None = None
    api_used: int | None = None
    api_limit: int | None = None
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


class WorkerOut(Schema):
    name: str
    host: str
    pid: int
    state: str
    last_beat: datetime
    counters: dict[str, Any]
    last_error: str


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
