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
from ..schema_edit import alter_field, reset_fields
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


def _ui_object(request: Request) -> Any:
    obj = get_object(request.path_params["sobject"])
    if obj is None:
        raise not_found()
    return obj


def _ui_create(org: Org, request: Request, body: Any, caller: Caller) -> Any:
    """A record saved in Salesforce's UI: validated, stamped and published as an API write is,
    but no API call is counted (a user's clicks never count against DailyApiRequests)."""
    new_id = org.records.create(_ui_object(request), body, caller)
    return json_response({"id": new_id, "success": True, "errors": []}, 201)


def _ui_edit(org: Org, request: Request, body: Any, caller: Caller) -> Any:
    obj, record_id = _ui_object(request), request.path_params["record_id"]
    if request.method == "PATCH":
        org.records.update(obj, record_id, body, caller)
    else:
        org.records.delete(obj, record_id, caller)
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
        values = body if isinstance(body, dict) else {}
        unknown = set(values) - {"replication_granularity_ms", "modstamp_granularity_ms"}
        if not values or unknown:
            raise ApiError(400, "INVALID_INPUT", "settings are replication_granularity_ms and modstamp_granularity_ms")
        for name, value in values.items():
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise ApiError(400, "INVALID_INPUT", f"{name} must be a positive integer")
        if "replication_granularity_ms" in values:
            org.settings.replication_granularity_ms = values["replication_granularity_ms"]
        if "modstamp_granularity_ms" in values:
            org.store.clock.granularity_ms = values["modstamp_granularity_ms"]
    return {"replication_granularity_ms": org.settings.replication_granularity_ms,
            "modstamp_granularity_ms": org.store.clock.granularity_ms}


def _schema_field(org: Org, request: Request, body: Any, caller: Caller) -> Any:
    # POST {"type": T} adds or retypes the field; DELETE removes it.
    if request.method == "POST":
        if not isinstance(body, dict) or not isinstance(body.get("type"), str):
            raise ApiError(400, "INVALID_INPUT", 'body must be {"type": "<describe type>"}')
        field_type: str | None = body["type"]
    else:
        field_type = None
    return alter_field(org.store, request.path_params["sobject"], request.path_params["field"], field_type)


def _schema_reset(org: Org, request: Request, body: Any, caller: Caller) -> Any:
    reset_fields()
    return no_content()


def _number(body: Any, key: str, minimum: float) -> float | None:
    value = body.get(key) if isinstance(body, dict) else None
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, (int, float)) or value < minimum:
        raise ApiError(400, "INVALID_INPUT", f"{key} must be a number >= {minimum}")
    return float(value)


def _pubsub_settings(org: Org, request: Request, body: Any, caller: Caller) -> Any:
    """Event retention (default 72 h) and the idle keepalive interval of Subscribe (default 270 s)."""
    if request.method == "POST":
        retention, keepalive = _number(body, "retention_s", 1), _number(body, "keepalive_s", 0.05)
        if retention is not None:
            org.events.retention_s = retention
            org.events.catch_up()  # purges what fell out of the window
        if keepalive is not None:
            org.events.keepalive_s = keepalive
    return {"retention_s": org.events.retention_s, "keepalive_s": org.events.keepalive_s}


def _pubsub_cdc(org: Org, request: Request, body: Any, caller: Caller) -> Any:
    """GET the CDC-enabled objects; POST {"object": "Account", "enabled": false} to change one."""
    if request.method == "POST":
        if not isinstance(body, dict) or not isinstance(body.get("enabled"), bool):
            raise ApiError(400, "INVALID_INPUT", 'body must be {"object": NAME, "enabled": true|false}')
        try:
            org.events.set_cdc(str(body.get("object")), body["enabled"])
        except ValueError as exc:
            raise ApiError(400, "INVALID_INPUT", str(exc)) from None
    return {"objects": org.events.cdc_objects()}


def _pubsub_gap(org: Org, request: Request, body: Any, caller: Caller) -> Any:
    """Inject GAP_* (body: object, recordIds, changeType) or, on /overflow, a GAP_OVERFLOW event."""
    from ..pubsub.bus import replay_bytes
    from ..pubsub.changeevents import OVERFLOW_RECORD_ID

    body = body if isinstance(body, dict) else {}
    overflow = request.url.path.endswith("/overflow")
    record_ids = [OVERFLOW_RECORD_ID] if overflow else body.get("recordIds")
    if not isinstance(record_ids, list) or not all(isinstance(i, str) for i in record_ids):
        raise ApiError(400, "INVALID_INPUT", "recordIds must be a list of record Ids")
    change_type = "GAP_OVERFLOW" if overflow else str(body.get("changeType") or "GAP_UPDATE")
    try:
        replay = org.events.emit_gap(str(body.get("object")), record_ids, change_type, caller.user_id)
    except ValueError as exc:
        raise ApiError(400, "INVALID_INPUT", str(exc)) from None
    return json_response({"replayId": replay_bytes(replay).hex()}, 201)


def routes() -> list[Route]:
    p = "/_emulator"
    return [
        Route(f"{p}/faults", _guarded(_faults), methods=["GET", "POST", "DELETE"]),
        Route(f"{p}/validation-rules", _guarded(_rules), methods=["GET", "POST"]),
        Route(f"{p}/validation-rules/{{name}}", _guarded(_rule_delete), methods=["DELETE"]),
        Route(f"{p}/records/{{sobject}}/{{record_id}}/undelete", _guarded(_undelete), methods=["POST"]),
        Route(f"{p}/records/{{sobject}}/{{record_id}}/purge", _guarded(_purge), methods=["DELETE"]),
        Route(f"{p}/ui/records/{{sobject}}", _guarded(_ui_create), methods=["POST"]),
        Route(f"{p}/ui/records/{{sobject}}/{{record_id}}", _guarded(_ui_edit), methods=["PATCH", "DELETE"]),
        Route(f"{p}/reset-usage", _guarded(_usage), methods=["POST"]),
        Route(f"{p}/usage", _guarded(_usage), methods=["GET"]),
        Route(f"{p}/changes", _guarded(_changes), methods=["GET"]),
        Route(f"{p}/settings", _guarded(_settings), methods=["GET", "POST"]),
        Route(f"{p}/pubsub/settings", _guarded(_pubsub_settings), methods=["GET", "POST"]),
        Route(f"{p}/pubsub/cdc", _guarded(_pubsub_cdc), methods=["GET", "POST"]),
        Route(f"{p}/pubsub/gap", _guarded(_pubsub_gap), methods=["POST"]),
        Route(f"{p}/pubsub/overflow", _guarded(_pubsub_gap), methods=["POST"]),
        Route(f"{p}/schema/{{sobject}}/fields/{{field}}", _guarded(_schema_field), methods=["POST", "DELETE"]),
        Route(f"{p}/schema", _guarded(_schema_reset), methods=["DELETE"]),
    ]
