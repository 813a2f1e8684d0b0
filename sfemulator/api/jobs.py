"""``/jobs/ingest`` and ``/jobs/query``: the Bulk API 2.0 resources (see :mod:`sfemulator.bulk`)."""
from __future__ import annotations

import json
from email.parser import BytesParser
from email.policy import HTTP

from starlette.responses import Response

from ..bulk import ingest, query_jobs
from ..bulk.csvfmt import DELIMITERS, LINE_ENDINGS
from ..bulk.jobs import (
    ABORTED,
    FAILED,
    FINAL_STATES,
    IN_PROGRESS,
    INGEST,
    JOB_COMPLETE,
    OPEN,
    QUERY,
    UPLOAD_COMPLETE,
    Job,
    invalid_job,
    invalid_job_state,
)
from ..errors import ApiError, not_found
from ..org import Org
from ..schema import get_object
from ..soql import compile_query, parse
from .http import Call, json_response, no_content

CSV_CT = "text/csv; charset=UTF-8"
_ABORTABLE = frozenset({OPEN, UPLOAD_COMPLETE, IN_PROGRESS})
_INGEST_RESULTS = {"successfulResults": ingest.IngestResult.successful_csv,
                   "failedResults": ingest.IngestResult.failed_csv,
                   "unprocessedrecords": ingest.IngestResult.unprocessed_csv}


def _method_not_allowed(call: Call, allowed: str) -> ApiError:
    return ApiError(405, "METHOD_NOT_ALLOWED", f"HTTP Method '{call.method}' not allowed. Allowed are {allowed}")


def route(org: Org, call: Call, seg: list[str]) -> Response:
    """``seg``: the path after ``/jobs``."""
    if not seg or seg[0] not in ("ingest", "query"):
        raise not_found()
    kind, rest = seg[0], seg[1:]
    job_type = INGEST if kind == "ingest" else QUERY
    if not rest:
        if call.method == "GET":
            return _list(org, call, job_type)
        if call.method == "POST":
            if job_type == QUERY:
                body = _create_query(org, call)
            elif call.headers.get("content-type", "").lower().startswith("multipart/"):
                body = _create_multipart(org, call)
            else:
                body = _create_ingest(org, call, _body(call))
            return json_response(body, headers=call.extra_headers)
        raise _method_not_allowed(call, "GET,HEAD,POST")
    job = org.jobs.get(job_type, rest[0])
    if len(rest) == 1:
        return _job(org, call, job)
    if len(rest) == 2 and job_type == INGEST and rest[1] == "batches":
        return _upload(org, call, job)
    if len(rest) == 2 and job_type == INGEST and rest[1] in _INGEST_RESULTS:
        return _ingest_results(call, job, rest[1])
    if len(rest) == 2 and job_type == QUERY and rest[1] == "results":
        return _query_results(org, call, job)
    raise not_found()


def _list(org: Org, call: Call, job_type: str) -> Response:
    records = [j.info(full=False) for j in org.jobs.all(job_type)]
    return json_response({"done": True, "records": records, "nextRecordsUrl": None}, headers=call.extra_headers)


def _options(body: dict) -> dict:
    delimiter = body.get("columnDelimiter") or "COMMA"
    line_ending = body.get("lineEnding") or "LF"
    if body.get("contentType", "CSV") != "CSV":
        raise invalid_job(f"Unsupported content type: {body.get('contentType')}")
    if delimiter not in DELIMITERS:
        raise invalid_job(f"Invalid column delimiter: {delimiter}")
    if line_ending not in LINE_ENDINGS:
        raise invalid_job(f"Invalid line ending: {line_ending}")
    return {"column_delimiter": delimiter, "line_ending": line_ending}


def _body(call: Call) -> dict:
    body = call.json()
    if not isinstance(body, dict):
        raise invalid_job("The request body must be a JSON object")
    return body


def _create_ingest(org: Org, call: Call, body: dict) -> dict:
    operation = body.get("operation")
    if operation not in ingest.OPERATIONS:
        raise invalid_job(f"Invalid operation: {operation}")
    obj = get_object(str(body.get("object") or ""))
    if obj is None:
        raise invalid_job(f"sObject type '{body.get('object')}' is not supported")
    ext = body.get("externalIdFieldName")
    if operation == "upsert":
        if not ext:
            raise invalid_job("External ID was blank for upsert operation")
        org.records.external_id_field(obj, ext)  # 404 NOT_FOUND for a field that can't key an upsert
    job = org.jobs.create(job_type=INGEST, operation=operation, object=obj.name, created_by=call.user_id,
                          api_version=call.version, external_id_field=ext if operation == "upsert" else None,
                          caller=call.caller, **_options(body))
    return job.info(full=False)


def _create_multipart(org: Org, call: Call) -> dict:
    """One request creating, filling and closing a job: a ``job`` part (the JSON job request) and a
    ``content`` part (the CSV); the job is answered ``UploadComplete``."""
    parts = _form_parts(call.headers.get("content-type", ""), call.body)
    if "job" not in parts or "content" not in parts:
        raise invalid_job("A multipart job request needs a 'job' part and a 'content' part")
    try:
        spec = json.loads(parts["job"])
    except ValueError:
        raise invalid_job("The 'job' part must be a JSON object") from None
    if not isinstance(spec, dict):
        raise invalid_job("The 'job' part must be a JSON object")
    job = org.jobs.get(INGEST, _create_ingest(org, call, spec)["id"])
    org.jobs.upload(job, parts["content"])
    return _close(org, job)


def _close(org: Org, job: Job) -> dict:
    """``Open`` -> ``UploadComplete`` and queue the job; returns its info from before the worker
    can move it on (the answer shows UploadComplete)."""
    org.jobs.set_state(job, UPLOAD_COMPLETE, frozenset({OPEN}))
    info = job.info(full=False)
    org.jobs.submit(job, lambda j: ingest.process(org.records, j, lambda: ingest.aborted(j)))
    return info


def _form_parts(content_type: str, body: bytes) -> dict[str, bytes]:
    """``multipart/form-data`` parts by their ``name``, parsed with the standard email parser."""
    message = BytesParser(policy=HTTP).parsebytes(f"Content-Type: {content_type}\r\n\r\n".encode() + body)
    parts: dict[str, bytes] = {}
    for part in message.iter_parts():
        name = part.get_param("name", header="content-disposition")
        payload = part.get_payload(decode=True)
        if isinstance(name, str) and isinstance(payload, bytes):
            parts[name] = payload
    return parts


def _create_query(org: Org, call: Call) -> dict:
    body = _body(call)
    operation = body.get("operation", "query")
    if operation not in ("query", "queryAll"):
        raise invalid_job(f"Invalid operation: {operation}")
    soql = body.get("query")
    if not isinstance(soql, str) or not soql.strip():
        raise ApiError(400, "MALFORMED_QUERY", "A query string has to be specified")
    compiled = compile_query(parse(soql), include_deleted=operation == "queryAll")  # bad SOQL: 400 now
    job = org.jobs.create(job_type=QUERY, operation=operation, object=compiled.sobject.name,
                          created_by=call.user_id, api_version=call.version, query=soql,
                          caller=call.caller, state=UPLOAD_COMPLETE, **_options(body))
    info = job.info(full=False)  # before the worker can move it on: the answer shows UploadComplete
    org.jobs.submit(job, lambda j: query_jobs.process(org.queries, j))
    return info


def _job(org: Org, call: Call, job: Job) -> Response:
    if call.method == "GET":
        return json_response(job.info(), headers=call.extra_headers)
    if call.method == "DELETE":
        org.jobs.delete(job)
        return no_content(call.extra_headers)
    if call.method != "PATCH":
        raise _method_not_allowed(call, "GET,HEAD,PATCH,DELETE")
    state = _body(call).get("state")
    if state == ABORTED:
        org.jobs.set_state(job, ABORTED, _ABORTABLE)
        return json_response(job.info(full=False), headers=call.extra_headers)
    if state == UPLOAD_COMPLETE and job.job_type == INGEST:
        return json_response(_close(org, job), headers=call.extra_headers)
    raise invalid_job_state(f"Invalid state for a job update: {state}")


def _upload(org: Org, call: Call, job: Job) -> Response:
    if call.method != "PUT":
        raise _method_not_allowed(call, "PUT")
    org.jobs.upload(job, call.body)
    return Response(status_code=201, headers=call.extra_headers)


def _ingest_results(call: Call, job: Job, kind: str) -> Response:
    if call.method != "GET":
        raise _method_not_allowed(call, "GET,HEAD")
    if job.state not in FINAL_STATES or job.result is None:
        if kind != "unprocessedrecords" or job.state != ABORTED:
            raise invalid_job_state(f"Job {job.id} is in state {job.state}: its results are not available yet")
        job.result = ingest.unprocessed(job)  # aborted before it ran
    return Response(_INGEST_RESULTS[kind](job.result, job), media_type=CSV_CT, headers=call.extra_headers)


def _query_results(org: Org, call: Call, job: Job) -> Response:
    if call.method != "GET":
        raise _method_not_allowed(call, "GET,HEAD")
    if job.state != JOB_COMPLETE:
        detail = f": {job.error_message}" if job.state == FAILED and job.error_message else ""
        raise invalid_job_state(f"Job {job.id} is in state {job.state}{detail}")
    raw_max = call.query_params.get("maxRecords")
    if raw_max is not None and (not raw_max.isdigit() or int(raw_max) < 1):
        raise ApiError(400, "INVALIDREQUEST", f"Invalid maxRecords: {raw_max}")
    page = query_jobs.page(org.queries, job, call.query_params.get("locator"), int(raw_max) if raw_max else None)
    headers = {**call.extra_headers, "Sforce-Locator": page.next_locator,
               "Sforce-NumberOfRecords": str(page.count)}
    return Response(page.csv, media_type=CSV_CT, headers=headers)
