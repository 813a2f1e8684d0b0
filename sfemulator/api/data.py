"""``/services/data`` — versions, resources, limits, sobjects and query routing.

Salesforce URLs tolerate trailing slashes (simple-salesforce posts to
``sobjects/Account/``), so this module routes on path segments itself rather
than through Starlette's slash-redirecting router.
"""
from __future__ import annotations

import asyncio
import re

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import Response

from .. import MAX_API_VERSION, MIN_API_VERSION, ids, sosl
from ..auth import DAILY_API_MAX
from ..errors import ApiError, invalid_session, not_found
from ..org import Org
from ..query import MAX_BATCH, parse_batch_size
from ..schema import get_platform_event
from . import composite, composite_requests, jobs, layouts, listviews, platform_events, tooling
from . import sobjects as so
from .http import Call, error_response, json_response

_VERSION_RE = re.compile(r"^v(\d{2})\.0$")
_SEASONS = ("Winter", "Spring", "Summer")


def release_label(version: int) -> str:
    """``50`` -> ``Winter '21``: three releases a year, one API version each (v50.0 was Winter '21)."""
    k = version - 50
    return f"{_SEASONS[k % 3]} '{21 + k // 3:02d}"


_RESERVED = {"describe", "updated", "deleted"}
#: Sub-resources of /sobjects/{Obj}/ the emulator does not serve: a plain NOT_FOUND rather
#: than being mistaken for an external-id field.
_SUB_RESOURCES = {"updated", "deleted", "layouts", "quickActions", "compactLayouts",
                  "eventSchema", "relevantItems", "richTextImageFields", "suggestedArticles", "userPassword"}


async def versions(request: Request) -> Response:
    """Unauthenticated version list (doubles as the health check)."""
    return json_response([{"label": release_label(v), "url": f"/services/data/v{v}.0", "version": f"{v}.0"}
                          for v in range(MIN_API_VERSION, MAX_API_VERSION + 1)])


def _bearer(request: Request) -> str | None:
    header = request.headers.get("authorization", "")
    scheme, _, token = header.partition(" ")
    return token.strip() if scheme.lower() in ("bearer", "oauth") else None


async def dispatch(request: Request) -> Response:
    """Authenticate, then run the matching handler in a worker thread (SQLite is blocking)."""
    org: Org = request.app.state.org
    segments = [s for s in request.path_params["rest"].split("/") if s]
    m = _VERSION_RE.match(segments[0]) if segments else None
    if not m or not MIN_API_VERSION <= int(m[1]) <= MAX_API_VERSION:
        return error_response(not_found())
    user_id = org.auth.user_for(_bearer(request))
    if user_id is None:
        return error_response(invalid_session(), {"WWW-Authenticate": 'Token'})
    if org.faults.latency_s:
        await asyncio.sleep(org.faults.latency_s)
    usage = org.auth.count_request()  # every REST call counts one (a composite call too)
    limit = org.faults.daily_limit(DAILY_API_MAX)
    headers = {"Sforce-Limit-Info": f"api-usage={usage}/{limit}"}
    if usage > limit:
        return error_response(ApiError(403, "REQUEST_LIMIT_EXCEEDED", "TotalRequests Limit exceeded."), headers)
    if org.faults.take_503():
        return error_response(ApiError(503, "SERVER_UNAVAILABLE", "Server Unavailable"), headers)
    call = Call(method=request.method, version=f"{m[1]}.0", segments=segments[1:],
                query_params=request.query_params, headers=request.headers, body=await request.body(),
                user_id=user_id, host=request.headers.get("host", request.url.netloc), extra_headers=headers)
    try:
        return await run_in_threadpool(route, org, call)
    except ApiError as err:
        return error_response(err, call.extra_headers)


def route(org: Org, call: Call) -> Response:
    """Map path segments (after the version) to a handler."""
    seg = call.segments
    if not seg:
        return resources(call)
    head, rest = seg[0], seg[1:]
    if head == "limits" and not rest:
        return limits(org, call)
    if head == "composite":
        if not rest:
            return composite_requests.composite(org, call, route)
        if rest[0] == "sobjects":
            return composite.collections(org, call, rest[1:])
        if rest[0] == "batch" and len(rest) == 1:
            return composite_requests.batch(org, call, route)
        if rest[0] == "tree":
            return composite_requests.tree(org, call, rest[1:])
    if head == "tooling":
        return tooling.route(org, call, rest)
    if head == "jobs":
        return jobs.route(org, call, rest)
    if head == "search" and not rest:
        return search(org, call)
    if head in ("query", "queryAll"):
        return query(org, call, include_deleted=head == "queryAll", locator=rest[0] if rest else None)
    if head == "sobjects":
        if not rest:
            return so.global_describe(org, call)
        event = get_platform_event(rest[0])
        if event is not None:
            return platform_events.route(org, call, event, rest[1:])
        obj = so.resolve_object(rest[0])
        tail = rest[1:]
        if not tail:
            return so.sobject_root(org, call, obj)
        if len(tail) == 1 and tail[0] in _RESERVED:
            handler = {"describe": so.object_describe, "updated": so.updated, "deleted": so.deleted}[tail[0]]
            if call.method != "GET":
                raise ApiError(405, "METHOD_NOT_ALLOWED",
                               f"HTTP Method '{call.method}' not allowed. Allowed are GET,HEAD")
            return handler(org, call, obj)
        if tail[0] == "describe":
            return layouts.route(org, call, obj, tail[1:])
        if tail[0] == "listviews":
            return listviews.route(org, call, obj, tail[1:])
        if len(tail) == 1:
            return so.record(org, call, obj, tail[0])
        if len(tail) == 2 and so.is_record_id(obj, tail[0]):
            return so.relationship(org, call, obj, tail[0], tail[1])
        if tail[0] in _SUB_RESOURCES or so.is_record_id(obj, tail[0]):
            raise not_found()  # layouts, quick actions…: not emulated
        if len(tail) == 2:
            return so.by_external_id(org, call, obj, tail[0], tail[1])
    raise not_found()


def resources(call: Call) -> Response:
    base = f"/services/data/v{call.version}"
    names = ("sobjects", "query", "queryAll", "search", "limits", "composite")
    body = {n: f"{base}/{n}" for n in names}
    body["identity"] = f"https://{call.host}/id/{ids.ORG_ID}/{call.user_id}"
    return json_response(body, headers=call.extra_headers)


#: Other /limits entries (static; only DailyApiRequests is tracked).
_STATIC_LIMITS = {
    "DailyAsyncApexExecutions": 250000, "DailyBulkApiBatches": 15000, "DailyBulkV2QueryFileStorageMB": 976562,
    "DailyBulkV2QueryJobs": 10000, "DailyDurableStreamingApiEvents": 10000, "DataStorageMB": 5,
    "FileStorageMB": 20, "HourlyPublishedPlatformEvents": 50000, "HourlyPublishedStandardVolumePlatformEvents": 1000,
    "MonthlyPlatformEventsUsageEntitlement": 50000, "SingleEmail": 15,
}


def limits(org: Org, call: Call) -> Response:
    if call.method != "GET":
        raise ApiError(405, "METHOD_NOT_ALLOWED", f"HTTP Method '{call.method}' not allowed. Allowed are GET,HEAD")
    limit = org.faults.daily_limit(DAILY_API_MAX)
    body = {"DailyApiRequests": {"Max": limit, "Remaining": max(0, limit - org.auth.usage)}}
    body.update({name: {"Max": mx, "Remaining": mx} for name, mx in sorted(_STATIC_LIMITS.items())})
    return json_response(body, headers=call.extra_headers)


def search(org: Org, call: Call) -> Response:
    """``GET /search?q=FIND {…} …`` (SOSL, see :mod:`sfemulator.sosl`)."""
    if call.method != "GET":
        raise ApiError(405, "METHOD_NOT_ALLOWED", f"HTTP Method '{call.method}' not allowed. Allowed are GET,HEAD")

    def run(soql: str) -> list[dict]:
        return org.queries.run(soql, False, MAX_BATCH, call.version)["records"]

    return json_response(sosl.search(org.store, call.query_params.get("q"), run), headers=call.extra_headers)


def query(org: Org, call: Call, include_deleted: bool, locator: str | None) -> Response:
    if call.method != "GET":
        raise ApiError(405, "METHOD_NOT_ALLOWED", f"HTTP Method '{call.method}' not allowed. Allowed are GET,HEAD")
    if locator is not None:
        return json_response(org.queries.more(locator, call.version), headers=call.extra_headers)
    if call.query_params.get("columns", "").lower() == "true":
        return json_response(org.queries.columns(call.query_params.get("q"), include_deleted),
                             headers=call.extra_headers)
    batch = parse_batch_size(call.headers.get("sforce-query-options"))
    body = org.queries.run(call.query_params.get("q"), include_deleted, batch, call.version)
    return json_response(body, headers=call.extra_headers)
