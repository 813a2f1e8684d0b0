"""``/services/async/XX.X/job…``: Bulk API 1.0 over HTTP (see :mod:`sfemulator.bulk.classic`).

Authenticated by the ``X-SFDC-Session`` header.  Answers are XML unless the request's
``Content-Type`` or ``Accept`` names JSON (or the job's data is JSON); errors are
``<error><exceptionCode>…</exceptionCode><exceptionMessage>…</exceptionMessage></error>`` or
``{"exceptionCode", "exceptionMessage"}`` with HTTP 400.
"""
from __future__ import annotations

import json
import re
import xml.etree.ElementTree as ET
from typing import Any
from xml.sax.saxutils import escape

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import Response

from .. import MAX_API_VERSION, MIN_API_VERSION
from ..bulk.classic import QUERIES, Batch, BulkError, ClassicJob
from ..bulk.csvfmt import write_rows
from ..bulk.ingest import sf_error
from ..bulk.query_jobs import to_csv
from ..changes import Caller, client_from_call_options
from ..errors import not_found
from ..org import Org
from .http import error_response

NS = "http://www.force.com/2009/06/asyncapi/dataload"
_VERSION_RE = re.compile(r"^(\d{2})\.0$")


def _wants_json(request: Request, job: ClassicJob | None = None) -> bool:
    named = (request.headers.get("content-type", "") + request.headers.get("accept", "")).lower()
    if "json" in named:
        return True
    return "xml" not in named and job is not None and job.content_type == "JSON"


def _children(fields: dict[str, Any], indent: str = " ") -> str:
    return "".join(f"\n{indent}<{k}>{escape(str(v))}</{k}>" for k, v in fields.items())


def _xml(root: str, inner: str) -> str:
    """An XML document whose root element is in the dataload namespace."""
    return f'<?xml version="1.0" encoding="UTF-8"?><{root}\n   xmlns="{NS}">{inner}\n</{root}>'


def _answer(request: Request, root: str, fields: dict[str, Any], job: ClassicJob | None = None,
            status: int = 200) -> Response:
    if _wants_json(request, job):
        return Response(json.dumps(fields), status_code=status, media_type="application/json")
    return Response(_xml(root, _children(fields)), status_code=status, media_type="application/xml")


def _error(request: Request, err: BulkError) -> Response:
    return _answer(request, "error", {"exceptionCode": err.code, "exceptionMessage": err.message},
                   status=err.status)


def _spec(request: Request, raw: bytes) -> dict[str, Any]:
    """The jobInfo a client sent, as {field: text}, from XML or JSON."""
    if _wants_json(request):
        try:
            spec = json.loads(raw)
        except ValueError:
            raise BulkError("InvalidJob", "Unable to parse the JSON job info") from None
        if not isinstance(spec, dict):
            raise BulkError("InvalidJob", "The job info must be a JSON object")
        return spec
    try:
        root = ET.fromstring(raw.strip())
    except ET.ParseError as exc:
        raise BulkError("InvalidXML", f"Unable to parse XML: {exc}") from None
    return {el.tag.rpartition("}")[2]: (el.text or "").strip() for el in root}


async def dispatch(request: Request) -> Response:
    org: Org = request.app.state.org
    m = _VERSION_RE.match(request.path_params["version"])
    if not m or not MIN_API_VERSION <= int(m[1]) <= MAX_API_VERSION:
        return error_response(not_found())
    user_id = org.auth.user_for(request.headers.get("x-sfdc-session"))
    if user_id is None:
        return _error(request, BulkError("InvalidSessionId", "Invalid session id"))
    org.auth.count_request()
    caller = Caller(user_id, request.path_params["version"],
                    client_from_call_options(request.headers.get("sforce-call-options")))
    segments = [s for s in request.path_params["rest"].split("/") if s]
    body = await request.body()
    try:
        return await run_in_threadpool(_route, org, request, caller, segments, body)
    except BulkError as err:
        return _error(request, err)


def _route(org: Org, request: Request, caller: Caller, seg: list[str], body: bytes) -> Response:
    method = request.method
    if seg == ["job"] and method == "POST":
        job = org.classic_jobs.create(_spec(request, body), caller)
        return _answer(request, "jobInfo", job.info(), job, status=201)
    if len(seg) < 2 or seg[0] != "job":
        return error_response(not_found())
    job = org.classic_jobs.get(seg[1])
    rest = seg[2:]
    if not rest and method == "GET":
        return _answer(request, "jobInfo", job.info(), job)
    if not rest and method == "POST":
        org.classic_jobs.set_state(job, _spec(request, body).get("state"))
        return _answer(request, "jobInfo", job.info(), job)
    if rest == ["batch"] and method == "POST":
        batch = org.classic_jobs.add_batch(job, body)
        return _answer(request, "batchInfo", batch.info(), job, status=201)
    if rest == ["batch"] and method == "GET":
        infos = [b.info() for b in job.batches.values()]
        if _wants_json(request, job):
            return Response(json.dumps({"batchInfo": infos}), media_type="application/json")
        inner = "".join(f"\n <batchInfo>{_children(i, '  ')}\n </batchInfo>" for i in infos)
        return Response(_xml("batchInfoList", inner), media_type="application/xml")
    if len(rest) >= 2 and rest[0] == "batch" and method == "GET":
        batch = org.classic_jobs.batch(job, rest[1])
        if len(rest) == 2:
            return _answer(request, "batchInfo", batch.info(), job)
        if rest[2:] == ["result"]:
            return _results(request, job, batch)
        if len(rest) == 4 and rest[2] == "result" and job.operation in QUERIES:
            cursor, records = org.classic_jobs.query_result(job, batch, rest[3])
            if job.content_type == "JSON":
                return Response(json.dumps(records), media_type="application/json")
            return Response(to_csv(cursor, records), media_type="text/csv")
    return error_response(not_found())


def _results(request: Request, job: ClassicJob, batch: Batch) -> Response:
    """A batch's per-row results, in request order (CSV or JSON like the job's data), or for a
    query batch the list of its result files (one)."""
    if batch.state not in ("Completed", "Failed"):
        raise BulkError("InvalidBatch", "Batch not completed")
    if job.operation in QUERIES:
        if _wants_json(request, job):
            return Response(json.dumps([batch.result_id]), media_type="application/json")
        return Response(_xml("result-list", _children({"result": batch.result_id})), media_type="application/xml")
    if job.content_type == "JSON":
        body = [{"success": err is None, "created": created, "id": rid or None,
                 "errors": [] if err is None else [{"message": err.message, "fields": err.fields or [],
                                                    "statusCode": err.error_code}]}
                for rid, created, err in batch.results]
        return Response(json.dumps(body), media_type="application/json")
    rows = ([rid, "true" if err is None else "false", "true" if created else "false",
             "" if err is None else sf_error(err)] for rid, created, err in batch.results)
    return Response(write_rows(["Id", "Success", "Created", "Error"], rows), media_type="text/csv")
