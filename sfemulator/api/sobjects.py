"""``/sobjects`` routes: describe, basic info, record CRUD, upsert, getUpdated/getDeleted."""
from __future__ import annotations

from datetime import UTC
from email.utils import parsedate_to_datetime

from starlette.responses import Response

from .. import describe as desc
from .. import ids
from ..errors import ApiError, not_found
from ..org import Org
from ..query import MAX_BATCH
from ..records import attributes, record_url
from ..schema import SObject, find_child_relationship, get_object, schema_changed_at
from ..store import q
from ..timefmt import format_ms, parse_datetime
from .http import Call, json_response, no_content


def _method_not_allowed(call: Call, allowed: str) -> ApiError:
    return ApiError(405, "METHOD_NOT_ALLOWED", f"HTTP Method '{call.method}' not allowed. Allowed are {allowed}")


def resolve_object(name: str) -> SObject:
    """The sObject for a URL segment; unknown types are a plain 404 on the REST API."""
    obj = get_object(name)
    if obj is None:
        raise not_found()
    return obj


def _not_modified(call: Call) -> bool:
    """``If-Modified-Since`` names a time at or after the last schema change (describe answers 304)."""
    raw = call.headers.get("if-modified-since")
    if not raw:
        return False
    try:
        since = parsedate_to_datetime(raw)
    except (TypeError, ValueError):
        return False
    if since.tzinfo is None:
        since = since.replace(tzinfo=UTC)
    return since.timestamp() >= schema_changed_at()


def global_describe(org: Org, call: Call) -> Response:
    if call.method != "GET":
        raise _method_not_allowed(call, "GET,HEAD")
    if _not_modified(call):
        return Response(status_code=304, headers=call.extra_headers)
    return json_response(desc.global_describe(call.version), headers=call.extra_headers)


def is_record_id(obj: SObject, text: str) -> bool:
    """``text`` is an Id of an ``obj`` record (``/sobjects/Account/001…/Contacts`` is not an upsert path)."""
    norm = ids.normalize(text)
    return norm is not None and norm.startswith(obj.key_prefix)


def relationship(org: Org, call: Call, obj: SObject, record_id: str, name: str) -> Response:
    """``GET /sobjects/{Obj}/{id}/{relationship}``: the children (a query result) through a child
    relationship (``Account/{id}/Contacts``) or the parent record through a lookup
    (``Contact/{id}/Account``); ``?fields=`` narrows the fields."""
    if call.method != "GET":
        raise _method_not_allowed(call, "GET,HEAD")
    fields_param = call.query_params.get("fields")
    fields = [f.strip() for f in fields_param.split(",") if f.strip()] if fields_param else None
    row = org.store.fetch(obj, ids.normalize(record_id) or "", None)
    if row is None or row["IsDeleted"]:
        raise not_found()
    child = find_child_relationship(obj, name)
    if child is not None:
        child_obj, ref = child
        select = ", ".join(fields or [f.name for f in child_obj.fields])
        soql = f"SELECT {select} FROM {child_obj.name} WHERE {ref.name} = '{row['Id']}' ORDER BY Id"
        body = org.queries.run(soql, False, MAX_BATCH, call.version)
        return json_response(body, headers=call.extra_headers)
    lookup = obj.relationship(name)
    if lookup is None:
        raise not_found()
    parent_id = row.get(lookup.name)
    parent = get_object(lookup.reference_to[0]) if parent_id else None
    if not parent_id or parent is None:
        raise not_found()
    return json_response(org.records.get(parent, parent_id, fields, call.version), headers=call.extra_headers)


def sobject_root(org: Org, call: Call, obj: SObject) -> Response:
    """GET basic info (objectDescribe + recentItems) / POST create."""
    if call.method == "GET":
        rows = org.store.read(
            f"SELECT Id, {q(label_field(obj))} FROM {q(obj.table)} WHERE IsDeleted = 0 "
            "ORDER BY SystemModstamp DESC LIMIT 5")
        recent = [{"attributes": attributes(call.version, obj.name, rid), "Id": rid, label_field(obj): name}
                  for rid, name in rows]
        return json_response({"objectDescribe": desc.global_entry(obj, call.version), "recentItems": recent},
                             headers=call.extra_headers)
    if call.method == "POST":
        new_id = org.records.create(obj, call.json(), call.caller)
        return json_response({"id": new_id, "success": True, "errors": []}, 201, call.extra_headers)
    raise _method_not_allowed(call, "GET,HEAD,POST")


def label_field(obj: SObject) -> str:
    """The field naming a record in lists (recent items, list views)."""
    return "OrderNumber" if obj.name == "Order" else "Name"


def object_describe(org: Org, call: Call, obj: SObject) -> Response:
    if call.method != "GET":
        raise _method_not_allowed(call, "GET,HEAD")
    if _not_modified(call):
        return Response(status_code=304, headers=call.extra_headers)
    return json_response(desc.object_describe(obj, call.version), headers=call.extra_headers)


def record(org: Org, call: Call, obj: SObject, record_id: str) -> Response:
    """GET (optional ?fields=) / PATCH / DELETE one record by Id."""
    if call.method == "GET":
        fields_param = call.query_params.get("fields")
        fields = [f.strip() for f in fields_param.split(",") if f.strip()] if fields_param else None
        return json_response(org.records.get(obj, record_id, fields, call.version), headers=call.extra_headers)
    if call.method == "PATCH":
        org.records.update(obj, record_id, call.json(), call.caller)
        return no_content(call.extra_headers)
    if call.method == "DELETE":
        org.records.delete(obj, record_id, call.caller)
        return no_content(call.extra_headers)
    raise _method_not_allowed(call, "GET,HEAD,PATCH,DELETE")


def by_external_id(org: Org, call: Call, obj: SObject, field_name: str, value: str) -> Response:
    """``/sobjects/{Obj}/{ExtField}/{value}``: PATCH upsert, GET and DELETE by external Id."""
    if call.method == "PATCH":
        record_id, created = org.records.upsert(obj, field_name, value, call.json(), call.caller)
        body = {"id": record_id, "success": True, "errors": [], "created": created}
        return json_response(body, 201 if created else 200, call.extra_headers)
    if call.method not in ("GET", "DELETE"):
        raise _method_not_allowed(call, "GET,HEAD,PATCH,DELETE")
    f = obj.field(field_name)
    if f is None or not (f.external_id or f.id_lookup):
        raise ApiError(404, "NOT_FOUND",
                       f"Provided external ID field does not exist or is not accessible: {field_name}")
    matches = org.store.find_ids(obj, f, value, limit=100)
    if not matches:
        raise not_found()
    if len(matches) > 1:
        raise ApiError(300, "MULTIPLE_CHOICES", "").with_body(
            [record_url(call.version, obj.name, m) for m in matches])
    if call.method == "DELETE":
        org.records.delete(obj, matches[0], call.caller)
        return no_content(call.extra_headers)
    return json_response(org.records.get(obj, matches[0], None, call.version), headers=call.extra_headers)


_DAY_MS = 86_400_000
#: getUpdated/getDeleted refuse a start older than this (INVALID_REPLICATION_DATE).
MAX_REPLICATION_AGE_MS = 30 * _DAY_MS
#: getDeleted reports deletions no older than this (the delete log ages out).
DELETE_LOG_AGE_MS = 15 * _DAY_MS


def _replication_error(message: str) -> ApiError:
    return ApiError(400, "INVALID_REPLICATION_DATE", message)


def _window(org: Org, call: Call) -> tuple[int, int, int]:
    """(start, latestDateCovered, now) in epoch ms for getUpdated/getDeleted.

    As documented for the real API the seconds of ``start`` and ``end`` are
    ignored (both are truncated to the minute, ``org.settings.replication_granularity_ms``,
    which tests may lower through ``/_emulator/settings``).  Coverage ends at the
    truncated ``end`` or at *now*, whichever is earlier, so an ``end`` ahead of
    the clock covers the current minute up to the moment of the call.  Call it
    while writers are held off (:meth:`Store.no_writes`) so nothing stamped
    before *now* commits after the read.
    """
    step = max(1, org.settings.replication_granularity_ms)
    parsed = []
    for name in ("start", "end"):
        raw = call.query_params.get(name)
        dt = parse_datetime(raw) if raw else None
        if dt is None:
            raise _replication_error(f"{name} must be specified as an ISO-8601 dateTime, "
                                     "e.g. 2026-01-01T00:00:00+00:00")
        ms = int(dt.timestamp() * 1000)
        parsed.append(ms - ms % step)
    start, end = parsed
    if end <= start:
        raise _replication_error("EndDate must chronologically follow the StartDate")
    now = org.store.clock.now_ms()
    if start < now - MAX_REPLICATION_AGE_MS:
        raise _replication_error("startDate cannot be more than 30 days ago")
    latest = max(start, min(end, now))
    return start, latest, now


def updated(org: Org, call: Call, obj: SObject) -> Response:
    """getUpdated: Ids of live records modified in [start, latestDateCovered)."""
    with org.store.no_writes():
        start, latest, _ = _window(org, call)
        rows = org.store.read(f"SELECT Id FROM {q(obj.table)} WHERE IsDeleted = 0 AND SystemModstamp >= ? "
                              "AND SystemModstamp < ? ORDER BY SystemModstamp, Id",
                              (format_ms(start), format_ms(latest)))
    return json_response({"ids": [r[0] for r in rows], "latestDateCovered": format_ms(latest)},
                         headers=call.extra_headers)


def deleted(org: Org, call: Call, obj: SObject) -> Response:
    """getDeleted: records deleted in [start, latestDateCovered), including purged ones.

    A soft-deleted row's deletedDate is its SystemModstamp; purged rows are kept
    in the ``purged`` table until they age out of the 15-day delete log.
    """
    with org.store.no_writes():
        start, latest, now = _window(org, call)
        return _deleted(org, call, obj, start, latest, now)


def _deleted(org: Org, call: Call, obj: SObject, start: int, latest: int, now: int) -> Response:
    horizon = format_ms(now - now % 60_000 - DELETE_LOG_AGE_MS)
    lo, hi = max(format_ms(start), horizon), format_ms(latest)
    rows = org.store.read(
        f"SELECT Id, SystemModstamp FROM {q(obj.table)} WHERE IsDeleted = 1 AND SystemModstamp >= ? "
        "AND SystemModstamp < ? UNION ALL SELECT record_id, deleted_date FROM purged WHERE object = ? "
        "AND deleted_date >= ? AND deleted_date < ? ORDER BY 2, 1", (lo, hi, obj.name, lo, hi))
    oldest = org.store.read(
        f"SELECT MIN(d) FROM (SELECT MIN(SystemModstamp) AS d FROM {q(obj.table)} WHERE IsDeleted = 1 "
        "AND SystemModstamp >= ? UNION ALL SELECT MIN(deleted_date) FROM purged WHERE object = ? "
        "AND deleted_date >= ?)", (horizon, obj.name, horizon))[0][0]
    return json_response({"deletedRecords": [{"id": r[0], "deletedDate": r[1]} for r in rows],
                          "earliestDateAvailable": oldest or horizon, "latestDateCovered": hi},
                         headers=call.extra_headers)
