"""``/composite`` (subrequests with ``referenceId`` and ``@{ref.field}`` references),
``/composite/batch`` and ``/composite/tree/{SObject}``.

Subrequests run through the same router as top-level calls (the caller passes
it in), so every resource behaves exactly as it does on its own.  The whole
request counts as one API call.

* ``/composite``: up to 25 subrequests in order.  ``allOrNone: true`` runs them
  in one transaction: on the first failure everything is rolled back, the
  failing subrequest keeps its error and every other one answers 400
  ``PROCESSING_HALTED``.  Otherwise each subrequest commits alone, and a
  subrequest whose reference points at a failed (or unknown) one answers 400
  ``PROCESSING_HALTED`` without running.
* ``/composite/batch``: up to 25 independent subrequests (no references), each
  committed alone; ``haltOnError`` answers 412 ``BATCH_PROCESSING_HALTED`` for
  the rest after the first failure.
* ``/composite/tree``: up to 200 records, parents with nested child records
  (by child relationship name), created all or none.
"""
from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any
from urllib.parse import urlsplit

import orjson
from starlette.datastructures import QueryParams
from starlette.responses import Response

from ..errors import ApiError, json_parser_error, not_found
from ..org import Org
from ..records import Step
from ..schema import SObject, find_child_relationship, get_object
from .composite import _error_item
from .http import Call, json_response

Router = Callable[[Org, Call], Response]

MAX_SUBREQUESTS = 25
MAX_TREE_RECORDS = 200
_REF = re.compile(r"@\{([A-Za-z0-9_]+)((?:\.[A-Za-z0-9_]+|\[\d+\])*)\}")
_PATH_STEP = re.compile(r"\.([A-Za-z0-9_]+)|\[(\d+)\]")
_DATA_URL = re.compile(r"^/services/data/v(\d{2}\.0)(/.*)?$")
_PARENT_FAILED = "PARENT_FAILED"
_HALTED = [{"errorCode": "PROCESSING_HALTED",
            "message": "The transaction was rolled back since another operation in the same transaction failed."}]


class _Unresolved(Exception):
    """A ``@{ref…}`` that names no earlier successful subrequest or no value in its body."""


class _RollBack(Exception):
    pass


def _method_not_allowed(call: Call, allowed: str) -> ApiError:
    return ApiError(405, "METHOD_NOT_ALLOWED", f"HTTP Method '{call.method}' not allowed. Allowed are {allowed}")


def _subcall(parent: Call, method: str, url: str, body: Any, headers: dict[str, str] | None) -> Call:
    """A :class:`Call` for one subrequest (``url`` is ``/services/data/vXX.X/…[?query]``)."""
    parts = urlsplit(url)
    m = _DATA_URL.match(parts.path)
    if not m:
        raise not_found()
    segments = [s for s in (m[2] or "").split("/") if s]
    merged = {**dict(parent.headers), **{k.lower(): v for k, v in (headers or {}).items()}}
    return Call(method=method.upper(), version=m[1], segments=segments, query_params=QueryParams(parts.query),
                headers=merged, body=b"" if body is None else orjson.dumps(body), user_id=parent.user_id,
                host=parent.host)


def _run(org: Org, route: Router, call: Call) -> tuple[int, Any, dict[str, str]]:
    """(status, JSON body or None, headers to report) of one subrequest."""
    try:
        resp = route(org, call)
    except ApiError as err:
        return err.status, err.body(), {}
    body = orjson.loads(resp.body) if resp.body else None
    headers = {}
    created = resp.status_code == 201 and call.method == "POST"
    if body and created and len(call.segments) == 2 and call.segments[0] == "sobjects":
        headers["Location"] = f"/services/data/v{call.version}/sobjects/{call.segments[1]}/{body['id']}"
    return resp.status_code, body, headers


# -- references ---------------------------------------------------------------------
def _lookup(results: dict[str, Any], ref: str, path: str) -> Any:
    if ref not in results:
        raise _Unresolved(ref)
    value = results[ref]
    for key, index in _PATH_STEP.findall(path):
        try:
            value = value[int(index)] if index else value[key]
        except (KeyError, IndexError, TypeError):
            raise _Unresolved(ref) from None
    return value


def _resolve(value: Any, results: dict[str, Any]) -> Any:
    """Replace ``@{ref.path}`` in every string of ``value``; a string that is one reference takes its value."""
    if isinstance(value, str):
        whole = _REF.fullmatch(value)
        if whole:
            return _lookup(results, whole[1], whole[2])
        return _REF.sub(lambda m: str(_lookup(results, m[1], m[2])), value)
    if isinstance(value, list):
        return [_resolve(v, results) for v in value]
    if isinstance(value, dict):
        return {k: _resolve(v, results) for k, v in value.items()}
    return value


# -- /composite ------------------------------------------------------------------------
def _subrequests(call: Call, key: str) -> list[dict]:
    body = call.json()
    subs = body.get(key) if isinstance(body, dict) else None
    if not isinstance(subs, list) or not all(isinstance(s, dict) for s in subs):
        raise json_parser_error(f"Cannot deserialize instance of list from VALUE_NULL value null "
                                f"or request may be missing a required field: {key}")
    if len(subs) > MAX_SUBREQUESTS:
        raise ApiError(400, "LIMIT_EXCEEDED", f"Maximum number of subrequests is {MAX_SUBREQUESTS}")
    return subs


def composite(org: Org, call: Call, route: Router) -> Response:
    if call.method != "POST":
        raise _method_not_allowed(call, "POST")
    subs = _subrequests(call, "compositeRequest")
    all_or_none = bool(call.json().get("allOrNone", False))
    seen: set[str] = set()
    for sub in subs:
        ref = sub.get("referenceId")
        if not isinstance(ref, str) or not re.fullmatch(r"[A-Za-z0-9_]+", ref) or ref in seen:
            raise ApiError(400, "INVALID_INPUT", f"Invalid or duplicate referenceId: {ref}")
        if not isinstance(sub.get("url"), str) or not isinstance(sub.get("method"), str):
            raise json_parser_error("Each subrequest needs a method and a url")
        seen.add(ref)
    if not all_or_none:
        return json_response({"compositeResponse": _composite_run(org, call, route, subs, None)},
                             headers=call.extra_headers)
    answers: list[dict] = []
    try:
        with org.store.write() as c:
            answers = _composite_run(org, call, route, subs, c)
            if any(a["httpStatusCode"] >= 400 for a in answers):
                raise _RollBack
    except _RollBack:
        failed = len(answers) - 1  # the run stops at the first failure
        answers = [answers[i] if i == failed else {"body": _HALTED, "httpHeaders": {}, "httpStatusCode": 400,
                                                   "referenceId": sub["referenceId"]} for i, sub in enumerate(subs)]
    return json_response({"compositeResponse": answers}, headers=call.extra_headers)


def _composite_run(org: Org, call: Call, route: Router, subs: list[dict], tx: Any) -> list[dict]:
    """Run ``subs`` in order; inside a transaction (``tx``) stop at the first failure."""
    results: dict[str, Any] = {}
    answers = []
    for sub in subs:
        ref = sub["referenceId"]
        try:
            url = _resolve(sub["url"], results)
            body = _resolve(sub.get("body"), results)
        except _Unresolved as exc:
            missing = exc.args[0]
            message = (f"Invalid reference specified. No value for {missing} found in the results of an earlier "
                       f"subrequest. Provided referenceId ('{missing}') may be invalid or its subrequest failed.")
            answers.append({"body": [{"errorCode": "PROCESSING_HALTED", "message": message}], "httpHeaders": {},
                            "httpStatusCode": 400, "referenceId": ref})
            if tx is not None:
                break
            continue
        headers: dict[str, str]
        try:
            subcall = _subcall(call, sub["method"], url, body, sub.get("httpHeaders"))
        except ApiError as err:
            status, out, headers = err.status, err.body(), {}
        else:
            if tx is not None:
                try:
                    with org.store.savepoint(tx):
                        status, out, headers = _run(org, route, subcall)
                        if status >= 400:
                            raise _RollBack
                except _RollBack:
                    pass
            else:
                status, out, headers = _run(org, route, subcall)
        answers.append({"body": out, "httpHeaders": headers, "httpStatusCode": status, "referenceId": ref})
        if status < 400:
            results[ref] = out
        elif tx is not None:
            break
    return answers


# -- /composite/batch ----------------------------------------------------------------------
def batch(org: Org, call: Call, route: Router) -> Response:
    if call.method != "POST":
        raise _method_not_allowed(call, "POST")
    subs = _subrequests(call, "batchRequests")
    halt = bool(call.json().get("haltOnError", False))
    results, has_errors, halted = [], False, False
    for sub in subs:
        if halted:
            results.append({"result": [{"errorCode": "BATCH_PROCESSING_HALTED",
                                        "message": "Batch processing halted per request"}], "statusCode": 412})
            continue
        url = str(sub.get("url", ""))
        url = url if url.startswith("/services/data/") else "/services/data/" + url.lstrip("/")
        try:
            subcall = _subcall(call, str(sub.get("method", "GET")), url, sub.get("richInput"), None)
        except ApiError as err:
            status, out = err.status, err.body()
        else:
            status, out, _ = _run(org, route, subcall)
        results.append({"result": out, "statusCode": status})
        if status >= 400:
            has_errors = True
            halted = halt
    return json_response({"hasErrors": has_errors, "results": results}, headers=call.extra_headers)


# -- /composite/tree/{SObject} ----------------------------------------------------------------
def tree(org: Org, call: Call, rest: list[str]) -> Response:
    if len(rest) != 1:
        raise not_found()
    if call.method != "POST":
        raise _method_not_allowed(call, "POST")
    obj = get_object(rest[0])
    if obj is None:
        raise not_found()
    body = call.json()
    records = body.get("records") if isinstance(body, dict) else None
    if not isinstance(records, list):
        raise json_parser_error("Cannot deserialize instance of list from VALUE_NULL value null "
                                "or request may be missing a required field: records")
    plan: list[tuple[str, SObject, dict, tuple[str, str] | None]] = []  # (ref, obj, fields, (parent ref, field))
    for rec in records:
        _flatten(obj, rec, None, plan)
    if len(plan) > MAX_TREE_RECORDS:
        raise ApiError(400, "LIMIT_EXCEEDED", f"Too many records: a tree request can create at most "
                                              f"{MAX_TREE_RECORDS} records")
    created: dict[str, str] = {}
    caller, recs = call.caller, org.records

    def step_for(ref: str, o: SObject, fields: dict, link: tuple[str, str] | None) -> Step:
        def step(c):
            payload = dict(fields)
            if link is not None:
                if link[0] not in created:  # the parent failed; its error is the one reported
                    raise ApiError(400, _PARENT_FAILED, "parent record failed")
                payload[link[1]] = created[link[0]]
            new_id, change = recs.create_step(c, o, payload, caller)
            created[ref] = new_id
            return new_id, change
        return step

    # Every error, even an unknown field, is reported against its record (no request-level errors).
    outcomes, rolled_back = org.records.batch([step_for(*p) for p in plan], all_or_none=True,
                                              request_level=frozenset())
    if rolled_back:
        errors = [{"referenceId": ref, "errors": [_error_item(out)]}
                  for (ref, *_), out in zip(plan, outcomes, strict=True)
                  if isinstance(out, ApiError) and out.error_code != _PARENT_FAILED]
        return json_response({"hasErrors": True, "results": errors}, 400, call.extra_headers)
    return json_response({"hasErrors": False, "results": [{"referenceId": ref, "id": out}
                                                           for (ref, *_), out in zip(plan, outcomes, strict=True)]},
                         201, call.extra_headers)


def _flatten(obj: SObject, rec: Any, link: tuple[str, str] | None,
             plan: list[tuple[str, SObject, dict, tuple[str, str] | None]]) -> None:
    """Pre-order: a record, then its children (``{"Contacts": {"records": [...]}}``) linked to it."""
    if not isinstance(rec, dict):
        raise json_parser_error("Each record must be a JSON object")
    attrs = rec["attributes"] if isinstance(rec.get("attributes"), dict) else {}
    ref = attrs.get("referenceId")
    if not isinstance(ref, str) or not ref:
        raise ApiError(400, "INVALID_INPUT", "Include a reference ID for each record in the request.")
    if attrs.get("type") and str(attrs["type"]).lower() != obj.name.lower():
        raise ApiError(400, "INVALID_INPUT", f"The sObject type of the record must be {obj.name}")
    fields, nested = {}, []
    for key, value in rec.items():
        if key == "attributes":
            continue
        if isinstance(value, dict) and isinstance(value.get("records"), list):
            found = find_child_relationship(obj, key)
            if found is None:
                raise ApiError(400, "INVALID_FIELD", f"No such relationship '{key}' on sobject {obj.name}")
            nested.append((found, value["records"]))
        else:
            fields[key] = value
    plan.append((ref, obj, fields, link))
    for (child, ref_field), children in nested:
        for kid in children:
            _flatten(child, kid, (ref, ref_field.name), plan)
