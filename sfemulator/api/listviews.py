"""``/sobjects/{Obj}/listviews``: every object has one list view, "All <Plural>", as on a
fresh org (no filter, sorted by the name field, then Id).

* ``…/listviews`` lists it;
* ``…/listviews/{id}/describe`` gives its columns and SOQL ``query``;
* ``…/listviews/{id}/results?limit=&offset=`` runs it (default 25 rows, at most 2,000), each row
  ``{"columns": [{"fieldNameOrPath", "value"}]}`` with values as text.
Other list view Ids and sub-resources are 404 ``NOT_FOUND``.
"""
from __future__ import annotations

from starlette.responses import Response

from .. import ids
from ..errors import ApiError, not_found
from ..org import Org
from ..schema import OBJECTS, SObject
from .http import Call, json_response
from .sobjects import label_field

DEFAULT_LIMIT = 25
MAX_LIMIT = 2000
_HIDDEN = ("Id", "CreatedDate", "LastModifiedDate", "SystemModstamp")


def _view_id(obj: SObject) -> str:
    return ids.make_id("00B", list(OBJECTS).index(obj.name) + 1)


def _base(call: Call, obj: SObject) -> str:
    return f"/services/data/v{call.version}/sobjects/{obj.name}/listviews"


def _summary(call: Call, obj: SObject) -> dict:
    vid, base = _view_id(obj), _base(call, obj)
    return {"describeUrl": f"{base}/{vid}/describe", "developerName": f"All{obj.label_plural.replace(' ', '')}",
            "id": vid, "label": f"All {obj.label_plural}", "resultsUrl": f"{base}/{vid}/results",
            "soqlCompatible": True, "url": f"{base}/{vid}"}


def _columns(obj: SObject) -> list[dict]:
    out = []
    for name in (label_field(obj), *_HIDDEN):
        f = obj.field(name)
        assert f is not None
        out.append({"ascendingLabel": None, "descendingLabel": None, "fieldNameOrPath": f.name,
                    "hidden": name in _HIDDEN, "label": f.label, "searchable": f.is_text, "selectListItem": f.name,
                    "sortDirection": "ascending" if name == label_field(obj) else None,
                    "sortIndex": 0 if name == label_field(obj) else None, "sortable": True, "type": f.type})
    return out


def _query(obj: SObject) -> str:
    label = label_field(obj)
    return (f"SELECT {', '.join((label, *_HIDDEN))} FROM {obj.name} "
            f"ORDER BY {label} ASC NULLS FIRST, Id ASC NULLS FIRST")


def _int_param(call: Call, name: str, default: int) -> int:
    raw = call.query_params.get(name)
    if raw is None:
        return default
    if not raw.isdigit():
        raise ApiError(400, "INVALID_QUERY_PARAMETER_VALUE", f"Invalid value for parameter {name}: {raw}")
    return int(raw)


def route(org: Org, call: Call, obj: SObject, rest: list[str]) -> Response:
    """``rest`` is what follows ``listviews`` in the path."""
    if call.method != "GET":
        raise ApiError(405, "METHOD_NOT_ALLOWED", f"HTTP Method '{call.method}' not allowed. Allowed are GET,HEAD")
    if not rest:
        return json_response({"done": True, "listviews": [_summary(call, obj)], "nextRecordsUrl": None, "size": 1,
                              "sobjectType": obj.name}, headers=call.extra_headers)
    if ids.normalize(rest[0]) != _view_id(obj) or len(rest) > 2:
        raise not_found()
    summary = _summary(call, obj)
    if len(rest) == 1:
        return json_response(summary, headers=call.extra_headers)
    if rest[1] == "describe":
        return json_response({"columns": _columns(obj), "id": summary["id"],
                              "orderBy": [{"fieldNameOrPath": label_field(obj), "nullsPosition": "first",
                                           "sortDirection": "ascending"},
                                          {"fieldNameOrPath": "Id", "nullsPosition": "first",
                                           "sortDirection": "ascending"}],
                              "query": _query(obj), "scope": "everything", "sobjectType": obj.name,
                              "whereCondition": {"conditions": [], "conjunction": "and"}},
                             headers=call.extra_headers)
    if rest[1] != "results":
        raise not_found()
    limit = min(MAX_LIMIT, max(1, _int_param(call, "limit", DEFAULT_LIMIT)))
    offset = _int_param(call, "offset", 0)
    page = org.queries.run(f"{_query(obj)} LIMIT {limit} OFFSET {offset}", False, MAX_LIMIT, call.version)
    names = [c["fieldNameOrPath"] for c in _columns(obj)]
    rows = [{"columns": [{"fieldNameOrPath": n, "value": None if r.get(n) is None else str(r[n])} for n in names]}
            for r in page["records"]]
    return json_response({"columns": _columns(obj), "developerName": summary["developerName"], "done": True,
                          "id": summary["id"], "label": summary["label"], "records": rows, "size": len(rows)},
                         headers=call.extra_headers)
