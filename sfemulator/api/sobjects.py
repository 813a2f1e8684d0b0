"""``/sobjects`` routes: describe, basic info, record CRUD, upsert, getUpdated/getDeleted."""
from __future__ import annotations

import time

from starlette.responses import Response

from .. import describe as desc
from ..errors import ApiError, not_found
from ..org import Org
from ..records import attributes, record_url
from ..schema import SObject, get_object
from ..store import q
from ..timefmt import canonical_datetime, format_ms
from .http import Call, json_response, no_content


def _method_not_allowed(call: Call, allowed: str) -> ApiError:
    return ApiError(405, "METHOD_NOT_ALLOWED", f"HTTP Method '{call.method}' not allowed. Allowed are {allowed}")


def resolve_object(name: str) -> SObject:
    """The sObject for a URL segment; unknown types are a plain 404 on the REST API."""
    obj = get_object(name)
    if obj is None:
        raise not_found()
    return obj


def global_describe(org: Org, call: Call) -> Response:
    if call.method != "GET":
        raise _method_not_allowed(call, "GET,HEAD")
    return json_response(desc.global_describe(call.version), headers=call.extra_headers)


def sobject_root(org: Org, call: Call, obj: SObject) -> Response:
    """GET basic info (objectDescribe + recentItems) / POST create."""
    if call.method == "GET":
        rows = org.store.read(
            f"SELECT Id, {q(_label_field(obj))} FROM {q(obj.table)} WHERE IsDeleted = 0 "
            "ORDER BY SystemModstamp DESC LIMIT 5")
        recent = [{"attributes": attributes(call.version, obj.name, rid), "Id": rid, _label_field(obj): name}
                  for rid, name in rows]
        return json_response({"objectDescribe": desc.global_entry(obj, call.version), "recentItems": recent},
                             headers=call.extra_headers)
    if call.method == "POST":
        if not obj.createable:
            raise ApiError(400, "INVALID_TYPE", f"sObject type '{obj.name}' is not supported for create", [])
        new_id = org.records.create(obj, call.json(), call.user_id)
        return json_response({"id": new_id, "success": True, "errors": []}, 201, call.extra_headers)
    raise _method_not_allowed(call, "GET,HEAD,POST")


def _label_field(obj: SObject) -> str:
    return "OrderNumber" if obj.name == "Order" else "Name"


def object_describe(org: Org, call: Call, obj: SObject) -> Response:
    if call.method != "GET":
        raise _method_not_allowed(call, "GET,HEAD")
    return json_response(desc.object_describe(obj, call.version), headers=call.extra_headers)


def record(org: Org, call: Call, obj: SObject, record_id: str) -> Response:
    """GET (optional ?fields=) / PATCH / DELETE one record by Id."""
    if call.method == "GET":
        fields_param = call.query_params.get("fields")
        fields = [f.strip() for f in fields_param.split(",") if f.strip()] if fields_param else None
        return json_response(org.records.get(obj, record_id, fields, call.version), headers=call.extra_headers)
    if call.method == "PATCH":
        if not obj.updateable:
            raise ApiError(400, "INVALID_TYPE", f"sObject type '{obj.name}' is not supported for update", [])
        org.records.update(obj, record_id, call.json(), call.user_id)
        return no_content(call.extra_headers)
    if call.method == "DELETE":
        org.records.delete(obj, record_id, call.user_id)
        return no_content(call.extra_headers)
    raise _method_not_allowed(call, "GET,HEAD,PATCH,DELETE")


def by_external_id(org: Org, call: Call, obj: SObject, field_name: str, value: str) -> Response:
    """``/sobjects/{Obj}/{ExtField}/{value}``: PATCH upsert, GET and DELETE by external Id."""
    if call.method == "PATCH":
        record_id, created = org.records.upsert(obj, field_name, value, call.json(), call.user_id, call.version)
        body = {"id": record_id, "success": True, "errors": [], "created": created}
        return json_response(body, 201 if created else 200, call.extra_headers)
    if call.method not in ("GET", "DELETE"):
        raise _method_not_allowed(call, "GET,HEAD,PATCH,DELETE")
    f = obj.field(field_name)
    if f is None or not (f.external_id or f.id_lookup):
        raise ApiError(404, "NOT_FOUND", f"Provided external ID field does not exist or is not accessible: {field_name}")
    matches = org.store.find_ids(obj, f, value, limit=100)
    if not matches:
        raise not_found()
    if len(matches) > 1:
        raise ApiError(300, "MULTIPLE_CHOICES", "").with_body(
            [record_url(call.version, obj.name, m) for m in matches])
    if call.method == "DELETE":
        org.records.delete(obj, matches[0], call.user_id)
        return no_content(call.extra_headers)
    return json_response(org.records.get(obj, matches[0], None, call.version), headers=call.extra_headers)


def _window(call: Call) -> tuple[str, str]:
    start = canonical_datetime(call.query_params.get("start", ""))
    end = canonical_datetime(call.query_params.get("end", ""))
    if start is None or end is None:
        raise ApiError(400, "INVALID_REPLICATION_DATE",
                       "start and end must be ISO-8601 datetimes, e.g. 2026-01-01T00:00:00+00:00")
    if end <= start:
        raise ApiError(400, "INVALID_REPLICATION_DATE", "EndDate must chronologically follow the StartDate")
    return start, min(end, format_ms(_now_minute_ms()))


def _now_minute_ms() -> int:
    ms = int(time.time() * 1000)
    return ms - ms % 60000  # Salesforce covers whole minutes only


def updated(org: Org, call: Call, obj: SObject) -> Response:
    """getUpdated: Ids of live records modified in [start, end)."""
    start, end = _window(call)
    rows = org.store.read(f"SELECT Id FROM {q(obj.table)} WHERE IsDeleted = 0 AND SystemModstamp >= ? "
                          "AND SystemModstamp < ? ORDER BY SystemModstamp, Id", (start, end))
    return json_response({"ids": [r[0] for r in rows], "latestDateCovered": end}, headers=call.extra_headers)


def deleted(org: Org, call: Call, obj: SObject) -> Response:
    """getDeleted: records soft-deleted in [start, end) (deletedDate = their SystemModstamp)."""
    start, end = _window(call)
    rows = org.store.read(f"SELECT Id, SystemModstamp FROM {q(obj.table)} WHERE IsDeleted = 1 AND "
                          "SystemModstamp >= ? AND SystemModstamp < ? ORDER BY SystemModstamp, Id", (start, end))
    earliest = org.store.read(f"SELECT MIN(SystemModstamp) FROM {q(obj.table)} WHERE IsDeleted = 1")[0][0]
    return json_response({"deletedRecords": [{"id": r[0], "deletedDate": r[1]} for r in rows],
                          "earliestDateAvailable": earliest or start, "latestDateCovered": end},
                         headers=call.extra_headers)
