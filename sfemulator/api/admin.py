"""``/_emulator/*`` — emulator-only control API (not a Salesforce path).

Protected by the same bearer token as the REST API; calls here are not
counted as API usage and are never subject to injected faults.  See
docs/emulator.md and :mod:`sfemulator.control` for a Python client.
"""
from __future__ import annotations

from collections.abc import Callable
from typing import Any

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from .. import MAX_API_VERSION, changes
from ..auth import DAILY_API_MAX
from ..changes import Caller, client_from_call_options
from ..errors import ApiError, invalid_session, not_found
from ..org import Org
from ..rules import make_rule, rule_json
from ..schema import get_object
from .http import error_response, json_response, no_content, parse_json_body


def _guarded(handler: Callable[[Org, Request, Any, Caller], Any]) -> Callable[[Request], Any]:
    """Authenticate, read the JSON body (if any), run ``handler`` in a worker thread."""

    async def endpoint(request: Request) -> Response:
        org: Org = request.app.state.org
        scheme, _, token = request.headers.get("authorization", "").partition(" ")
        user_id = org.auth.user_for(token.strip() if scheme.lower() in ("bearer", "oauth") else None)
        if user_id is None:
            return error_response(invalid_session())
        raw = await request.body()
        body = parse_json_body(raw) if raw.strip() else None
        caller = Caller(user_id, f"{MAX_API_VERSION}.0",
                        client_from_call_options(request.headers.get("sforce-call-options")))
        result = await run_in_threadpool(handler, org, request, body, caller)
        return result if isinstance(result, Response) else json_response(result)

    return endpoint


def _faults(org: Org, request: Request, body: Any, caller: Caller) -> Any:
    if request.method == "POST":
        org.faults.configure(body if body is not None else {})
    elif request.method == "DELETE":
        org.faults.clear()
    return org.faults.snapshot()


def _rules(org: Org, request: Request, body: Any, caller: Caller) -> Any:
    if request.method == "POST":
        rule = make_rule(body)
        org.rules.add(rule)
        return json_response(rule_json(rule), 201)
    return [rule_json(r) for r in org.rules.all()]


def _rule_delete(org: Org, request: Request, body: Any, caller: Caller) -> Any:
    if not org.rules.remove(request.path_params["name"]):
        raise not_found()
    return no_content()


def _record_target(request: Request) -> tuple[Any, str]:
    obj = get_object(request.path_params["sobject"])
    if obj is None:
        raise not_found()
    return obj, request.path_params["record_id"]


def _undelete(org: Org, request: Request, body: Any, caller: Caller) -> Any:
    obj, record_id = _record_target(request)
    org.records.undelete(obj, record_id, caller)
    return no_content()


def _purge(org: Org, request: Request, body: Any, caller: Caller) -> Any:
    obj, record_id = _record_target(request)
    org.records.purge(obj, record_id, caller)
    return no_content()


def _usage(org: Org, request: Request, body: Any, caller: Caller) -> Any:
    if request.method == "POST":
        org.auth.reset_usage()
    return {"used": org.auth.usage, "max": org.faults.daily_limit(DAILY_API_MAX)}


def _changes(org: Org, request: Request, body: Any, caller: Caller) -> Any:
    params = request.query_params
    try:
        after, limit = int(params.get("after", "0")), min(int(params.get("limit", "1000")), 10000)
    except ValueError:
        raise ApiError(400, "INVALID_INPUT", "after and limit must be integers") from None
    return changes.read(org.store, after, limit, params.get("recordId"))


def _settings(org: Org, request: Request, body: Any, caller: Caller) -> Any:
    if request.method == "POST":
        value = (body or {}).get("replication_granularity_ms") if isinstance(body, dict) else None
        if isinstance(value, bool) or not isinstance(value, int) or value < 1:
            raise ApiError(400, "INVALID_INPUT", "replication_granularity_ms must be a positive integer")
        org.settings.replication_granularity_ms = value
    return {"replication_granularity_ms": org.settings.replication_granularity_ms}


def routes() -> list[Route]:
    p = "/_emulator"
    return [
        Route(f"{p}/faults", _guarded(_faults), methods=["GET", "POST", "DELETE"]),
        Route(f"{p}/validation-rules", _guarded(_rules), methods=["GET", "POST"]),
        Route(f"{p}/validation-rules/{{name}}", _guarded(_rule_delete), methods=["DELETE"]),
        Route(f"{p}/records/{{sobject}}/{{record_id}}/undelete", _guarded(_undelete), methods=["POST"]),
        Route(f"{p}/records/{{sobject}}/{{record_id}}/purge", _guarded(_purge), methods=["DELETE"]),
        Route(f"{p}/reset-usage", _guarded(_usage), methods=["POST"]),
        Route(f"{p}/usage", _guarded(_usage), methods=["GET"]),
        Route(f"{p}/changes", _guarded(_changes), methods=["GET"]),
        Route(f"{p}/settings", _guarded(_settings), methods=["GET", "POST"]),
    ]
