"""Request and response shapes of the REST API."""
from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

from ninja import Schema
from pydantic import model_validator


class MappingOut(Schema):
    name: str
    sf_object: str
    collection: str
    direction: str
    direction_label: str
    conflict_policy: str
    conflict_policy_label: str
    enabled: bool
    checkpoint_modstamp: datetime | None = None
    events_published: int = 0
    open_errors: int = 0
    open_conflicts: int = 0


class WorkerOut(Schema):
    name: str
    host: str
    pid: int
    state: str
    last_beat: datetime
    counters: dict[str, Any]
    last_error: str


class StatusOut(Schema):
    mappings: list[MappingOut]
    workers: list[WorkerOut]


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
