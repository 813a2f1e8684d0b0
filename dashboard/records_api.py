"""REST API over each mapping's records (the MongoDB side) and their timelines.

A record's shape comes from its mapping's field mappings (`GET .../records/schema`); a
write is a MongoDB write, which capture then carries to Salesforce like any other.
"""
from __future__ import annotations

from datetime import datetime
from typing import Any

from django.http import HttpRequest
from django.shortcuts import get_object_or_404
from ninja import Body, Router, Schema, Status
from ninja.errors import ValidationError

from connectors import records, timeline
from connectors.models import ObjectMapping
from connectors.mongo.client import shared_client
from connectors.wiring import mapping_spec
from dashboard.schemas import Message

router = Router(tags=["records"])


class RecordPage(Schema):
    total: int
    limit: int
    offset: int
    items: list[dict[str, Any]]


class TimelineLine(Schema):
    at: datetime
    source: str
    outcome: str
    outcome_label: str
    operation: str
    salesforce_id: str
    mongo_id: str
    source_version: str
    topic: str
    partition: int | None
    offset: int | None
    fields: list[str]
    detail: str


class _Records:
    """The mapping, its spec and its collection for one request."""

    def __init__(self, name: str) -> None:
        self.mapping = get_object_or_404(ObjectMapping.objects.select_related("mongo"), name=name)
        self.spec = mapping_spec(self.mapping)
        self.collection = shared_client(self.mapping.mongo.uri)[self.mapping.mongo.database][self.mapping.collection]

    def check_writable(self) -> None:
        records.writable(self.spec, self.mapping.direction != ObjectMapping.Direction.SF_TO_MONGO)


def _invalid(exc: records.RecordError, where: str) -> ValidationError:
    """Ninja's own 422 shape, with the field at fault in `loc`."""
    return ValidationError([{"loc": [where, exc.field], "msg": str(exc), "type": "value_error"}])


@router.get("/mappings/{name}/records/schema", response=dict[str, Any])
def record_schema(request: HttpRequest, name: str) -> dict[str, Any]:
    """The JSON Schema of this mapping's records, generated from its field mappings."""
    mapping = get_object_or_404(ObjectMapping, name=name)
    return records.record_schema(mapping_spec(mapping))


@router.get("/mappings/{name}/records", response=RecordPage)
def list_records(request: HttpRequest, name: str, limit: int = 50, offset: int = 0) -> RecordPage:
    """Records in `_id` order. Any other query parameter named after a mapped MongoDB field (or the
    Salesforce Id field) filters on equality, e.g. `?industry=Energy`."""
    query = {k: v for k, v in request.GET.items() if k not in ("limit", "offset")}
    target = _Records(name)
    try:
        page = records.list_records(target.collection, target.spec, query, limit, max(offset, 0))
    except records.RecordError as exc:
        raise _invalid(exc, "query") from exc
    return RecordPage(total=page.total, limit=min(limit, records.MAX_PAGE), offset=offset, items=page.items)


@router.get("/mappings/{name}/records/{record_id}", response={200: dict[str, Any], 404: Message})
def get_record(request: HttpRequest, name: str, record_id: str) -> Any:
    target = _Records(name)
    found = records.get_record(target.collection, target.spec, record_id)
    return found if found is not None else Status(404, Message(detail=f"no record {record_id} in {name}"))


@router.post("/mappings/{name}/records", response={201: dict[str, Any], 409: Message})
def create_record(request: HttpRequest, name: str, payload: dict[str, Any] = Body(...)) -> Any:
    """Insert a document; the sync creates the Salesforce record and writes its Id back."""
    target = _Records(name)
    target.check_writable()
    try:
        return Status(201, records.create_record(target.collection, target.spec, payload))
    except records.RecordError as exc:
        raise _invalid(exc, "body") from exc


@router.patch("/mappings/{name}/records/{record_id}", response={200: dict[str, Any], 404: Message, 409: Message})
def update_record(request: HttpRequest, name: str, record_id: str, payload: dict[str, Any] = Body(...)) -> Any:
    """Set the given fields; the others are left as they are."""
    target = _Records(name)
    target.check_writable()
    try:
        found = records.update_record(target.collection, target.spec, record_id, payload)
    except records.RecordError as exc:
        raise _invalid(exc, "body") from exc
    return found if found is not None else Status(404, Message(detail=f"no record {record_id} in {name}"))


@router.delete("/mappings/{name}/records/{record_id}", response={204: None, 404: Message, 409: Message})
def delete_record(request: HttpRequest, name: str, record_id: str) -> Any:
    target = _Records(name)
    target.check_writable()
    deleted = records.delete_record(target.collection, record_id)
    return Status(204, None) if deleted else Status(404, Message(detail=f"no record {record_id} in {name}"))


@router.get("/mappings/{name}/records/{record_key}/timeline", response=list[TimelineLine])
def record_timeline(request: HttpRequest, name: str, record_key: str) -> list[TimelineLine]:
    """Every change that touched the record, oldest first; `record_key` is its Salesforce Id or `_id`."""
    mapping = get_object_or_404(ObjectMapping, name=name)
    return [timeline_line(line) for line in timeline.timeline(mapping, record_key)]


def timeline_line(line: Any) -> TimelineLine:
    return TimelineLine(
        at=line.created_at, source=line.source, outcome=line.outcome, outcome_label=line.get_outcome_display(),
        operation=line.operation, salesforce_id=line.salesforce_id, mongo_id=line.mongo_id,
        source_version=line.source_version, topic=line.topic, partition=line.partition, offset=line.offset,
        fields=line.fields, detail=line.detail,
    )
