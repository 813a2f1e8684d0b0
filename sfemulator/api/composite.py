"""``/composite/sobjects`` — sObject Collections (create, update, upsert, delete up to 200 records;
retrieve up to 2,000 by Id with ``GET …/{SObject}?ids=…&fields=…`` or the same as a POST body).

The request is checked as a whole first (body shape, record count, types:
problems there are a 400 with the usual error array, nothing written).  Then
every record runs the same write step as the single-record routes
(:class:`sfemulator.records.Records`), in one transaction with one savepoint
per record, and the response is 200 with one result per record, in request
order: ``{"id", "success", "errors": [{"statusCode", "message", "fields"}]}``
(+ ``"created"`` for upsert).  ``id`` is left out when there is none, as the
real API serialises a null ``id``.
"""
from __future__ import annotations

from collections.abc import Callable, Mapping
from functools import partial
from typing import Any

from starlette.responses import Response

from .. import ids
from ..errors import ApiError, json_parser_error, not_found, unknown_sobject_in_query
from ..org import Org
from ..records import Records, Step
from ..schema import SObject, get_object, object_for_id
from .http import Call, json_response

MAX_RECORDS = 200
_ROLLED_BACK = {"statusCode": "ALL_OR_NONE_OPERATION_ROLLED_BACK",
                "message": "Record rolled back because not all records were valid and the request was using "
                           "AllOrNone header", "fields": []}


def collections(org: Org, call: Call, rest: list[str]) -> Response:
    """Route ``composite/sobjects[/{SObject}/{ExternalIdField}]``."""
    if not rest:
        handler = {"POST": _create, "PATCH": _update, "DELETE": _delete}.get(call.method)
        if handler is None:
            raise ApiError(405, "METHOD_NOT_ALLOWED",
                           f"HTTP Method '{call.method}' not allowed. Allowed are DELETE,PATCH,POST")
        return handler(org, call)
    if len(rest) == 1:
        if call.method not in ("GET", "POST"):
            raise ApiError(405, "METHOD_NOT_ALLOWED", f"HTTP Method '{call.method}' not allowed. Allowed are GET,POST")
        obj = get_object(rest[0])
        if obj is None:
            raise not_found()
        return _retrieve(org, call, obj)
    if len(rest) == 2:
        if call.method != "PATCH":
            raise ApiError(405, "METHOD_NOT_ALLOWED", f"HTTP Method '{call.method}' not allowed. Allowed are PATCH")
        obj = get_object(rest[0])
        if obj is None:
            raise not_found()
        return _upsert(org, call, obj, rest[1])
    raise not_found()


# -- request-level parsing ------------------------------------------------------
def _too_many() -> ApiError:
    return ApiError(400, "EXCEEDED_ID_LIMIT",
                    "record limit reached. cannot submit more than 200 records into this call")


def _records_body(call: Call) -> tuple[bool, list[dict]]:
    body = call.json()
    if not isinstance(body, dict):
        raise json_parser_error("Cannot deserialize instance of SObjectCollectionRequest from START_ARRAY value "
                                "or request may be missing a required field")
    all_or_none = body.get("allOrNone", False)
    if not isinstance(all_or_none, bool):
        raise json_parser_error(f"Cannot deserialize instance of boolean from VALUE_STRING value {all_or_none} "
                                "or request may be missing a required field")
    records = body.get("records")
    if not isinstance(records, list):
        raise json_parser_error("Cannot deserialize instance of list from VALUE_NULL value null "
                                "or request may be missing a required field")
    if len(records) > MAX_RECORDS:
        raise _too_many()
    for rec in records:
        if not isinstance(rec, dict):
            raise json_parser_error("Cannot deserialize instance of SObject from "
                                    f"{'START_ARRAY' if isinstance(rec, list) else 'VALUE_STRING'} value "
                                    "or request may be missing a required field")
    return all_or_none, records


def _record_type(rec: Mapping[str, Any]) -> SObject:
    attrs = rec.get("attributes")
    name = attrs.get("type") if isinstance(attrs, dict) else None
    if not name:
        raise ApiError(400, "INVALID_TYPE", "Must send a concrete entity type.")
    obj = get_object(str(name))
    if obj is None:
        raise ApiError(400, "INVALID_TYPE", unknown_sobject_in_query(str(name)))
    return obj


def _pop_key(rec: Mapping[str, Any], name: str) -> tuple[Any, dict]:
    """(value of ``name`` matched case-insensitively, the record without it)."""
    value, rest = None, {}
    for k, v in rec.items():
        if k.lower() == name.lower():
            value = v
        else:
            rest[k] = v
    return value, rest


# -- results --------------------------------------------------------------------
def _error_item(err: ApiError) -> dict:
    if err.error_code == "MULTIPLE_CHOICES":  # several records share the external Id
        return {"statusCode": "DUPLICATE_EXTERNAL_ID",
                "message": f"more than one record found for external id field: {err.body()}", "fields": []}
    if err.error_code == "NOT_FOUND":  # the row is gone (purged) or never existed
        return {"statusCode": "ENTITY_IS_DELETED", "message": "entity is deleted", "fields": []}
    return {"statusCode": err.error_code, "message": err.message, "fields": list(err.fields or [])}


def _respond(org: Org, call: Call, steps: list[Step], known_ids: list[str | None], all_or_none: bool,
             shape: Callable[[Any], dict]) -> Response:
    """Run the steps as one batch and render one result per record."""
    outcomes, rolled_back = org.records.batch(steps, all_or_none)
    results = []
    for outcome, known in zip(outcomes, known_ids, strict=True):
        if isinstance(outcome, ApiError):
            item: dict = {"id": known} if known else {}
            item.update(success=False, errors=[_error_item(outcome)])
        elif rolled_back:  # it would have succeeded; a created record's new Id is discarded
            ok = shape(outcome)
            keep_id = known is not None or ok.get("created") is False
            item = ({"id": ok["id"]} if keep_id else {}) | {"success": False, "errors": [dict(_ROLLED_BACK)]}
        else:
            item = shape(outcome)
        if shape is _upsert_shape:
            item.setdefault("created", False)
            if not item["success"]:
                item["created"] = False
        results.append(item)
    return json_response(results, headers=call.extra_headers)


def _save_shape(record_id: str) -> dict:
    return {"id": record_id, "success": True, "errors": []}


def _upsert_shape(outcome: tuple[str, bool]) -> dict:
    record_id, created = outcome
    return {"id": record_id, "success": True, "errors": [], "created": created}


def _failing(err: ApiError) -> Step:
    def step(c):
        raise err
    return step


# -- the four operations ------------------------------------------------------------
def _create(org: Org, call: Call) -> Response:
    all_or_none, records = _records_body(call)
    caller, recs = call.caller, org.records
    steps: list[Step] = []
    for rec in records:
        obj = _record_type(rec)
        steps.append(partial(recs.create_step, obj=obj, payload=rec, caller=caller))
    return _respond(org, call, steps, [None] * len(steps), all_or_none, _save_shape)


def _update(org: Org, call: Call) -> Response:
    all_or_none, records = _records_body(call)
    caller, recs = call.caller, org.records
    steps: list[Step] = []
    known: list[str | None] = []
    for rec in records:
        obj = _record_type(rec)
        raw_id, payload = _pop_key(rec, "Id")
        norm = ids.normalize(raw_id) if raw_id is not None else None
        if raw_id is None:
            steps.append(_failing(ApiError(400, "MISSING_ARGUMENT", "Id not specified in an update call", [])))
        elif norm is None or not norm.startswith(obj.key_prefix):
            steps.append(_failing(ApiError(400, "MALFORMED_ID", f"{obj.label} ID: id value of incorrect type: "
                                                                f"{raw_id}", ["Id"])))
            norm = None
        else:
            steps.append(partial(recs.update_step, obj=obj, raw_id=norm, payload=payload, caller=caller))
        known.append(norm)
    return _respond(org, call, steps, known, all_or_none, _save_shape)


def _delete(org: Org, call: Call) -> Response:
    raw = call.query_params.get("ids")
    if not raw:
        raise ApiError(400, "MISSING_ARGUMENT", "ids was not specified")
    id_list = [i.strip() for i in raw.split(",") if i.strip()]
    if len(id_list) > MAX_RECORDS:
        raise _too_many()
    all_or_none = call.query_params.get("allOrNone", "false").strip().lower() == "true"
    caller, recs = call.caller, org.records
    steps: list[Step] = []
    known: list[str | None] = []
    for raw_id in id_list:
        norm = ids.normalize(raw_id)
        obj = object_for_id(norm) if norm else None
        if not norm or obj is None:
            steps.append(_failing(ApiError(400, "MALFORMED_ID", f"malformed id {raw_id}", [])))
            known.append(None)
            continue
        steps.append(partial(recs.delete_step, obj=obj, raw_id=norm, caller=caller))
        known.append(norm)
    return _respond(org, call, steps, known, all_or_none, _save_shape)


MAX_RETRIEVE = 2000


def _retrieve(org: Org, call: Call, obj: SObject) -> Response:
    """Records by Id in request order; ``null`` for an Id with no live record of this type."""
    if call.method == "GET":
        id_list = [i.strip() for i in call.query_params.get("ids", "").split(",") if i.strip()]
        fields = [f.strip() for f in call.query_params.get("fields", "").split(",") if f.strip()]
    else:
        body = call.json()
        given_ids = body.get("ids") if isinstance(body, dict) else None
        given_fields = body.get("fields") if isinstance(body, dict) else None
        if not isinstance(given_ids, list) or not isinstance(given_fields, list):
            raise json_parser_error("Cannot deserialize instance of list from VALUE_NULL value null "
                                    "or request may be missing a required field")
        id_list, fields = [str(i) for i in given_ids], [str(f) for f in given_fields]
    if not id_list:
        raise ApiError(400, "MISSING_ARGUMENT", "ids was not specified")
    if not fields:
        raise ApiError(400, "MISSING_ARGUMENT", "fields was not specified")
    if len(id_list) > MAX_RETRIEVE:
        raise ApiError(400, "EXCEEDED_ID_LIMIT", f"Cannot retrieve more than {MAX_RETRIEVE} records")
    out: list[dict | None] = []
    for raw_id in id_list:
        try:
            out.append(org.records.get(obj, raw_id, fields, call.version))
        except ApiError as err:
            if err.status != 404:
                raise
            out.append(None)
    return json_response(out, headers=call.extra_headers)


def _upsert(org: Org, call: Call, obj: SObject, field_name: str) -> Response:
    f = Records.external_id_field(obj, field_name)
    all_or_none, records = _records_body(call)
    caller, recs = call.caller, org.records
    steps: list[Step] = []
    for rec in records:
        if _record_type(rec) is not obj:
            raise ApiError(400, "INVALID_TYPE", f"The sObject type of every record must be {obj.name}")
        value, payload = _pop_key(rec, f.name)
        if value is None:
            steps.append(_failing(ApiError(400, "MISSING_ARGUMENT", f"{f.name} not specified", [])))
            continue
        steps.append(partial(recs.upsert_step, obj=obj, field_name=f.name, raw_value=value, payload=payload,
                             caller=caller))
    return _respond(org, call, steps, [None] * len(steps), all_or_none, _upsert_shape)
