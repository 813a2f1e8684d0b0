"""REST API over each mapping's records (the MongoDB side) and their timelines.

A record's shape comes from its mapping's field mappings (`GET .../records/schema`); a
write is a MongoDB write, which capture then carries to Salesforce like any other.
"""
from __future__ import annotations

import copy
from datetime import datetime
from typing import Any

from django.http import HttpRequest
from django.shortcuts import get_object_or_404
from ninja import Body, Query, Router, Schema, Status
from ninja.errors import ValidationError

from connectors.models import ObjectMapping
from connectors.operations import ServiceUnavailable, records, timeline
from connectors.operations.mapping_records import MappingRecords
from dashboard.schemas import Message, answers

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


def _records(name: str) -> MappingRecords:
    return MappingRecords(get_object_or_404(ObjectMapping.objects.select_related("mongo", "org"), name=name))


def _invalid(exc: records.RecordError | records.InvalidRecord, where: str) -> ValidationError:
    """Ninja's own 422 shape: one entry per value at fault, `loc` naming it and `type` the rule."""
    errors = exc.errors if isinstance(exc, records.InvalidRecord) else [exc]
    return ValidationError([{"loc": [where, e.field], "msg": str(e), "type": e.rule} for e in errors])


@router.get("/mappings/{name}/records/schema", response=answers({200: dict[str, Any]}, 404))
def record_schema(request: HttpRequest, name: str) -> dict[str, Any]:
    """The JSON Schema of this mapping's records, generated from its field mappings."""
    return _records(name).schema()


@router.get("/mappings/{name}/records", response=answers({200: RecordPage}, 404, 422, 503))
def list_records(request: HttpRequest, name: str,
                 limit: int = Query(50, ge=1, le=records.MAX_PAGE,
                                    description=f"page size, at most {records.MAX_PAGE}"),
                 offset: int = Query(0, ge=0, le=records.MAX_OFFSET)) -> RecordPage:
    """Records in `_id` order, `limit` (1 to 500) at a time. Any other query parameter named after a
    mapped MongoDB field (or the Salesforce Id field) filters on equality, e.g. `?industry=Energy`."""
    query = {k: v[-1] for k, v in request.GET.lists() if k not in ("limit", "offset")}  # the last, as .items()
    try:
        page = _records(name).page(query, limit, offset)
    except records.RecordError as exc:
        raise _invalid(exc, "query") from exc
    return RecordPage(total=page.total, limit=limit, offset=offset, items=page.items)


@router.get("/mappings/{name}/records/{record_id}", response=answers({200: dict[str, Any]}, 404, 503))
def get_record(request: HttpRequest, name: str, record_id: str) -> Any:
    found = _records(name).get(record_id)
    return found if found is not None else Status(404, Message(detail=f"no record {record_id} in {name}"))


@router.post("/mappings/{name}/records", response=answers({201: dict[str, Any]}, 400, 404, 409, 422, 503))
def create_record(request: HttpRequest, name: str, payload: dict[str, Any] = Body(...)) -> Any:
    """Insert a document; the sync creates the Salesforce record and writes its Id back. Every value
    is checked against the mapping and Salesforce's describe first (422 names each one at fault)."""
    try:
        return Status(201, _records(name).create(payload))
    except records.InvalidRecord as exc:
        raise _invalid(exc, "body") from exc


@router.patch("/mappings/{name}/records/{record_id}",
              response=answers({200: dict[str, Any]}, 400, 404, 409, 422, 503))
def update_record(request: HttpRequest, name: str, record_id: str, payload: dict[str, Any] = Body(...)) -> Any:
    """Set the given fields; the others are left as they are. Checked like a create."""
    try:
        found = _records(name).update(record_id, payload)
    except records.InvalidRecord as exc:
        raise _invalid(exc, "body") from exc
    return found if found is not None else Status(404, Message(detail=f"no record {record_id} in {name}"))


@router.delete("/mappings/{name}/records/{record_id}", response=answers({204: None}, 404, 409, 503))
def delete_record(request: HttpRequest, name: str, record_id: str) -> Any:
    deleted = _records(name).delete(record_id)
    return Status(204, None) if deleted else Status(404, Message(detail=f"no record {record_id} in {name}"))


@router.get("/mappings/{name}/records/{record_key}/timeline", response=answers({200: list[TimelineLine]}, 404))
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


def with_record_bodies(openapi: dict[str, Any]) -> dict[str, Any]:
    """The OpenAPI document with the record paths of each mapping that writes to Salesforce spelled
    out, their create and update bodies exactly what the mapping accepts (what is a valid record
    depends on the mapping named in the path, which one generic schema cannot say). The generic
    paths stay for any other name."""
    paths = openapi["paths"]
    records_path = next(p for p in paths if p.endswith("/mappings/{name}/records"))
    create = paths[records_path]["post"]
    update = paths[f"{records_path}/{{record_id}}"]["patch"]
    writable = ObjectMapping.objects.select_related("org").exclude(direction=ObjectMapping.Direction.SF_TO_MONGO)
    # The generic operations stay for any other name (404, or 409 for a mapping that does not write to Salesforce).
    for generic in (create, update):
        name = next(p for p in generic["parameters"] if p["name"] == "name")
        name["schema"] = {**name["schema"], "not": {"enum": [m.name for m in writable]}}
    unreachable: dict[int, str] = {}  # org -> why: ask an unreachable org once per document, not per mapping
    for mapping in writable:
        target = MappingRecords(mapping)
        try:
            if mapping.org_id in unreachable:
                raise ServiceUnavailable(unreachable[mapping.org_id])
            bodies = target.write_schemas()
        except ServiceUnavailable as exc:
            unreachable[mapping.org_id] = str(exc)
            bodies = (target.undescribed_schema(str(exc)),) * 2
        for generic_path, body_method, body in ((records_path, "post", bodies[0]),
                                                (f"{records_path}/{{record_id}}", "patch", bodies[1])):
            # Every method of the path, so the concrete path is complete (as its `Allow` header says).
            concrete = {method: _for_mapping(operation, mapping.name)
                        for method, operation in paths[generic_path].items()}
            concrete[body_method]["requestBody"]["content"]["application/json"]["schema"] = body
            paths[generic_path.replace("{name}", mapping.name)] = concrete
    return openapi


def _for_mapping(operation: dict[str, Any], name: str) -> dict[str, Any]:
    concrete = copy.deepcopy(operation)
    concrete["operationId"] = f"{operation['operationId']}_{name}"
    concrete["parameters"] = [p for p in concrete.get("parameters", []) if p["name"] != "name"]
    return concrete
