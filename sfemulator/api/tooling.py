"""``/services/data/vXX.X/tooling/query?q=``: the Tooling API's ``EntityDefinition`` and
``FieldDefinition`` built from the emulator's schema, queried with the ordinary SOQL engine.

The two objects are materialised as rows of an in-memory SQLite database (rebuilt when the schema
changes at run time) and :class:`~sfemulator.query.QueryEngine` runs the SOQL over them, so
filters, ``ORDER BY``, aggregates, paging and ``columns=true`` behave as for ``/query``.
``FieldDefinition.EntityDefinition`` is a lookup, so ``WHERE EntityDefinition.QualifiedApiName =
'Account'`` works. Any other object is ``INVALID_TYPE``, as on a real org's Tooling API.
"""
from __future__ import annotations

import sqlite3
import threading
from collections.abc import Sequence
from typing import Any, cast

from starlette.responses import Response

from ..errors import ApiError, not_found
from ..org import Org
from ..query import QueryEngine, parse_batch_size
from ..schema import OBJECTS, PLATFORM_EVENTS, Field, SObject, schema_changed_at
from ..store import Store, columns, create_table_sql, q
from .http import Call, json_response


def _text(name: str, label: str, **kw: Any) -> Field:
    return Field(name, label, "string", length=255, nillable=True, createable=False, updateable=False, **kw)


def _flag(name: str, label: str) -> Field:
    return Field(name, label, "boolean", nillable=False, createable=False, updateable=False)


def _int(name: str, label: str) -> Field:
    return Field(name, label, "int", digits=9, createable=False, updateable=False)


#: Ids are the DurableIds ("Account", "Account.Name"): what a real org puts in record URLs and in
#: ``FieldDefinition.EntityDefinitionId``; text-typed so filters on them take names.
ENTITY_DEFINITION = SObject("EntityDefinition", "Entity Definition", "Entity Definitions", "4ie", (
    _text("Id", "Entity Definition ID"), _text("DurableId", "Durable ID"),
    _text("QualifiedApiName", "Qualified API Name"), _text("DeveloperName", "Developer Name"),
    _text("NamespacePrefix", "Namespace Prefix"), _text("MasterLabel", "Master Label"), _text("Label", "Label"),
    _text("PluralLabel", "Plural Label"), _text("KeyPrefix", "Key Prefix"),
    _flag("IsCustomizable", "Customizable"), _flag("IsCustomSetting", "Custom Setting"),
    _flag("IsQueryable", "Queryable"), _flag("IsLayoutable", "Layoutable"),
    _flag("IsEverCreatable", "Ever Creatable"), _flag("IsEverUpdatable", "Ever Updatable"),
    _flag("IsEverDeletable", "Ever Deletable"), _flag("IsApexTriggerable", "Apex Triggerable"),
), createable=False, updateable=False, deletable=False)

FIELD_DEFINITION = SObject("FieldDefinition", "Field Definition", "Field Definitions", "4if", (
    _text("Id", "Field Definition ID"), _text("DurableId", "Durable ID"),
    _text("QualifiedApiName", "Qualified API Name"), _text("DeveloperName", "Developer Name"),
    _text("NamespacePrefix", "Namespace Prefix"), _text("MasterLabel", "Master Label"), _text("Label", "Label"),
    _text("EntityDefinitionId", "Entity Definition ID", reference_to=("EntityDefinition",),
          relationship_name="EntityDefinition"),
    _text("DataType", "Data Type"), _text("ValueTypeId", "Value Type ID"), _text("ExtraTypeInfo", "Extra Type Info"),
    _text("RelationshipName", "Relationship Name"), _int("Length", "Length"), _int("Precision", "Precision"),
    _int("Scale", "Scale"), _int("Digits", "Digits"),
    _flag("IsNillable", "Nillable"), _flag("IsIndexed", "Indexed"), _flag("IsCalculated", "Calculated"),
    _flag("IsNameField", "Name Field"), _flag("IsApiFilterable", "Api Filterable"),
    _flag("IsApiGroupable", "Api Groupable"), _flag("IsApiSortable", "Api Sortable"),
    _flag("IsFieldHistoryTracked", "Field History Tracked"), _flag("IsCompound", "Compound"),
), createable=False, updateable=False, deletable=False)

TOOLING_OBJECTS = {o.name.lower(): o for o in (ENTITY_DEFINITION, FIELD_DEFINITION)}

#: Setup's "Data Type" column, as FieldDefinition.DataType reads it.
_DATA_TYPES = {"boolean": "Checkbox", "date": "Date", "datetime": "Date/Time", "email": "Email",
               "phone": "Phone", "url": "URL", "picklist": "Picklist"}
_VALUE_TYPES = {"id": "id", "reference": "id", "boolean": "boolean", "date": "date", "datetime": "datetime",
                "int": "int", "double": "double", "currency": "double", "percent": "double"}


def _data_type(f: Field) -> str:
    if f.type in ("id", "reference"):
        return f"Lookup({','.join(f.reference_to)})"
    if f.auto_number:
        return "Auto Number"
    if f.type in ("double", "int", "currency", "percent"):
        kind = {"double": "Number", "int": "Number", "currency": "Currency", "percent": "Percent"}[f.type]
        return f"{kind}({f.precision or f.digits}, {f.scale})"
    if f.type == "textarea":
        return f"{'Long ' if f.length > 255 else ''}Text Area({f.length})"
    return _DATA_TYPES.get(f.type, f"Text({f.length})")


def _entity_row(obj: SObject) -> dict:
    event = obj.name in PLATFORM_EVENTS
    return {"Id": obj.name, "DurableId": obj.name, "QualifiedApiName": obj.name,
            "DeveloperName": obj.name.removesuffix("__c").removesuffix("__e"), "NamespacePrefix": None,
            "MasterLabel": obj.label, "Label": obj.label, "PluralLabel": obj.label_plural,
            "KeyPrefix": obj.key_prefix, "IsCustomizable": obj.name != "User" and not event, "IsCustomSetting": 0,
            "IsQueryable": not event, "IsLayoutable": not event, "IsEverCreatable": obj.createable,
            "IsEverUpdatable": obj.updateable and not event, "IsEverDeletable": obj.deletable and not event,
            "IsApexTriggerable": True, "IsDeleted": 0}


def _field_row(obj: SObject, f: Field) -> dict:
    long_text = f.type == "textarea" and f.length > 255
    return {"Id": f"{obj.name}.{f.name}", "DurableId": f"{obj.name}.{f.name}", "QualifiedApiName": f.name,
            "DeveloperName": f.name.removesuffix("__c"), "NamespacePrefix": None, "MasterLabel": f.label,
            "Label": f.label, "EntityDefinitionId": obj.name, "DataType": _data_type(f),
            "ValueTypeId": _VALUE_TYPES.get(f.type, "string"),
            "ExtraTypeInfo": "plaintextarea" if f.type == "textarea" else None,
            "RelationshipName": f.relationship_name, "Length": f.length, "Precision": f.precision,
            "Scale": f.scale, "Digits": f.digits, "IsNillable": f.nillable, "IsIndexed": f.type == "id"
            or f.external_id or f.unique or f.type == "reference", "IsCalculated": f.calculated,
            "IsNameField": f.name_field, "IsApiFilterable": not long_text, "IsApiGroupable": not long_text,
            "IsApiSortable": not long_text, "IsFieldHistoryTracked": False, "IsCompound": False, "IsDeleted": 0}


class _Catalog:
    """The two tables in one in-memory database; ``read`` is what :class:`QueryEngine` needs."""

    def __init__(self) -> None:
        self._conn = sqlite3.connect(":memory:", check_same_thread=False)
        self._lock = threading.Lock()
        objects = [*OBJECTS.values(), *PLATFORM_EVENTS.values()]
        tables = {ENTITY_DEFINITION: [_entity_row(o) for o in objects],
                  FIELD_DEFINITION: [_field_row(o, f) for o in objects for f in o.fields]}
        with self._conn:
            for obj, rows in tables.items():
                self._conn.execute(create_table_sql(obj))
                cols = columns(obj)
                self._conn.executemany(
                    f"INSERT INTO {q(obj.table)} ({', '.join(q(c) for c in cols)}) "
                    f"VALUES ({', '.join('?' for _ in cols)})", [tuple(r.get(c) for c in cols) for r in rows])

    def read(self, sql: str, params: Sequence[Any] = ()) -> list[tuple]:
        with self._lock:
            return self._conn.execute(sql, params).fetchall()


_engine: tuple[float, QueryEngine] | None = None
_engine_lock = threading.Lock()


def engine() -> QueryEngine:
    """The query engine over the current schema's catalog (rebuilt after a run-time schema change)."""
    global _engine
    with _engine_lock:
        stamp = schema_changed_at()
        if _engine is None or _engine[0] != stamp:
            catalog = cast(Store, _Catalog())  # duck-typed: the engine only calls `read`
            _engine = (stamp, QueryEngine(catalog, resolve=lambda name: TOOLING_OBJECTS.get(name.lower())))
        return _engine[1]


def _tooling_urls(value: Any) -> Any:
    """Record and next-page URLs live under ``/tooling/`` on the Tooling API."""
    if isinstance(value, dict):
        return {k: _tooling_urls(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_tooling_urls(v) for v in value]
    if isinstance(value, str) and value.startswith("/services/data/v"):
        version, _, rest = value[len("/services/data/"):].partition("/")
        return f"/services/data/{version}/tooling/{rest}"
    return value


def route(org: Org, call: Call, rest: list[str]) -> Response:
    """``rest`` follows ``tooling`` in the path: ``query`` or ``query/{locator}-{offset}``."""
    if not rest or rest[0] != "query" or len(rest) > 2:
        raise not_found()
    if call.method != "GET":
        raise ApiError(405, "METHOD_NOT_ALLOWED", f"HTTP Method '{call.method}' not allowed. Allowed are GET,HEAD")
    eng = engine()
    if len(rest) == 2:
        body = eng.more(rest[1], call.version)
    elif call.query_params.get("columns", "").lower() == "true":
        body = eng.columns(call.query_params.get("q"), False)
    else:
        batch = parse_batch_size(call.headers.get("sforce-query-options"))
        body = eng.run(call.query_params.get("q"), False, batch, call.version)
    return json_response(_tooling_urls(body), headers=call.extra_headers)
