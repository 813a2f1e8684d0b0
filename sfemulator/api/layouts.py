"""``/sobjects/{Obj}/describe/layouts`` and ``…/describe/compactLayouts``: the page layout of a
fresh org, built from the schema.

Every object has one layout (``00h…``) for its one record type, Master: an "<Label> Information"
section with the object's own fields two to a row, and a "System Information" section with the
audit lookups; related lists are the object's child relationships. The compact layout is the
system default (``id`` null, name ``SYSTEM``) showing the name field.
"""
from __future__ import annotations

from typing import Any

from starlette.responses import Response

from .. import describe as desc
from .. import ids
from ..errors import ApiError, not_found
from ..org import Org
from ..schema import OBJECTS, Field, SObject, child_relationship_name, child_relationships
from .http import Call, json_response
from .sobjects import label_field

_SYSTEM_SECTION = ("CreatedById", "LastModifiedById")
#: Server-maintained fields a layout does not show (the audit lookups have their own section).
_NOT_SHOWN = frozenset({"Id", "IsDeleted", "CreatedDate", "LastModifiedDate", "SystemModstamp", *_SYSTEM_SECTION})
_PLACEHOLDER: dict[str, Any] = {"editableForNew": False, "editableForUpdate": False, "label": None,
                                "layoutComponents": [], "placeholder": True, "required": False}


def _ordinal(obj: SObject) -> int:
    return list(OBJECTS).index(obj.name) + 1


def layout_id(obj: SObject) -> str:
    return ids.make_id("00h", _ordinal(obj))


def _item(f: Field, tab_order: int) -> dict:
    return {"editableForNew": f.createable and not f.system, "editableForUpdate": f.updateable and not f.system,
            "label": f.label,
            "layoutComponents": [{"details": desc.field_describe(f), "displayLines": 1, "tabOrder": tab_order,
                                  "type": "Field", "value": f.name}],
            "placeholder": False, "required": f.required}


def _section(obj: SObject, heading: str, fields: list[Field], number: int, first_tab: int) -> dict:
    items = [_item(f, first_tab + i) for i, f in enumerate(fields)]
    if len(items) % 2:
        items.append(_PLACEHOLDER)
    rows = [{"layoutItems": items[i:i + 2], "numItems": 2} for i in range(0, len(items), 2)]
    return {"collapsed": False, "columns": 2, "heading": heading, "layoutRows": rows,
            "layoutSectionId": ids.make_id("01B", _ordinal(obj) * 10 + number), "parentLayoutId": layout_id(obj),
            "rows": len(rows), "tabOrder": "TopToBottom", "useCollapsibleSection": False, "useHeading": True}


def _sections(obj: SObject) -> list[dict]:
    own = [f for f in obj.fields if f.name not in _NOT_SHOWN]
    system = [f for f in (obj.field(n) for n in _SYSTEM_SECTION) if f is not None]
    return [_section(obj, f"{obj.label} Information", own, 1, 1),
            _section(obj, "System Information", system, 2, len(own) + 1)]


def _related_list(child: SObject, ref: Field, relationship: str) -> dict:
    name = label_field(child)
    f = child.field(name)
    assert f is not None
    return {"accessLevelRequiredForCreate": None, "buttons": [],
            "columns": [{"field": f"{child.name}.{name}", "fieldApiName": name, "format": None, "label": f.label,
                         "lookupId": None, "name": name, "sortable": True}],
            "custom": child.custom, "field": ref.name, "label": child.label_plural, "limitRows": 5,
            "name": relationship, "sobject": child.name,
            "sort": [{"ascending": False, "column": "LastModifiedDate"}]}


def describe_layout(obj: SObject) -> dict:
    """One ``DescribeLayout``: the object's only layout."""
    sections = _sections(obj)
    # Only named child relationships get a related list (not "records I own/created").
    related = [_related_list(child, ref, name) for child, ref in child_relationships(obj)
               if (name := child_relationship_name(child, ref)) is not None]
    return {"buttonLayoutSection": {"detailButtons": []}, "detailLayoutSections": sections,
            "editLayoutSections": sections, "feedView": None, "highlightsPanelLayoutSection": None,
            "id": layout_id(obj),
            "multirowEditLayoutSections": [], "offlineLinks": [], "quickActionList": {"quickActionListItems": []},
            "relatedContent": None, "relatedLists": related, "saveOptions": []}


def _record_type_mapping(call: Call, obj: SObject) -> dict:
    picklists = [{"picklistName": f.name, "picklistValues": desc.field_describe(f)["picklistValues"]}
                 for f in obj.fields if f.type == "picklist"]
    return {"active": True, "available": True, "defaultRecordTypeMapping": True, "developerName": "Master",
            "layoutId": layout_id(obj), "master": True, "name": "Master", "picklistsForRecordType": picklists,
            "recordTypeId": desc.MASTER_RECORD_TYPE_ID,
            "urls": {"layout": f"{_base(call, obj)}/layouts/{desc.MASTER_RECORD_TYPE_ID}"}}


def _base(call: Call, obj: SObject) -> str:
    return f"/services/data/v{call.version}/sobjects/{obj.name}/describe"


def _compact_layouts(call: Call, obj: SObject) -> dict:
    f = obj.field(label_field(obj))
    assert f is not None
    return {"compactLayouts": [{"actions": [], "fieldItems": [_item(f, 1)], "id": None, "imageItems": [],
                                "label": "System Default", "name": "SYSTEM", "objectType": obj.name}],
            "defaultCompactLayoutId": None,
            "recordTypeCompactLayoutMappings": [{
                "available": True, "compactLayoutId": None, "compactLayoutName": "SYSTEM",
                "recordTypeId": desc.MASTER_RECORD_TYPE_ID, "recordTypeName": "Master",
                "urls": {"compactLayout": f"{_base(call, obj)}/compactLayouts/{desc.MASTER_RECORD_TYPE_ID}"}}],
            "urls": {}}


def route(org: Org, call: Call, obj: SObject, rest: list[str]) -> Response:
    """``rest`` is what follows ``describe`` in the path: ``layouts[/{recordTypeId}]`` or ``compactLayouts``."""
    if call.method != "GET":
        raise ApiError(405, "METHOD_NOT_ALLOWED", f"HTTP Method '{call.method}' not allowed. Allowed are GET,HEAD")
    if rest == ["layouts"]:
        body = {"layouts": [describe_layout(obj)], "recordTypeMappings": [_record_type_mapping(call, obj)],
                "recordTypeSelectorRequired": [False]}
    elif len(rest) == 2 and rest[0] == "layouts" and ids.normalize(rest[1]) == desc.MASTER_RECORD_TYPE_ID:
        body = describe_layout(obj)
    elif rest == ["compactLayouts"]:
        body = _compact_layouts(call, obj)
    else:
        raise not_found()
    return json_response(body, headers=call.extra_headers)
