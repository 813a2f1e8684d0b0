"""Avro schemas of change events and platform events, derived from the emulator's describe.

Layout as on a real org: a change event (``AccountChangeEvent``, namespace
``com.sforce.eventbus``) is a record whose first field is ``ChangeEventHeader``
and whose other fields are the object's fields as ``["null", T]`` unions with
default null, in describe order.  ``Id`` (it is ``recordIds``), ``IsDeleted``
and ``SystemModstamp`` are not in change events.  Compound fields are nested
records: a person ``Name`` (``Switchable_PersonName``: FirstName/LastName live
only inside it) and ``BillingAddress`` (``Address``).  Datetimes are epoch-ms
longs, dates ``int``/``date`` days.  A platform event has ``CreatedDate``
(long) and ``CreatedById`` (string) as required fields, then its custom fields.

``schema_id`` is the base64url (unpadded) MD5 fingerprint of the parsing
canonical form: stable for a given schema, 22 characters like the real ids.
"""
from __future__ import annotations

import base64
import json
from dataclasses import dataclass, field
from datetime import date
from functools import cache
from typing import Any

from fastavro import parse_schema
from fastavro.schema import fingerprint, to_parsing_canonical_form

from ..schema import OBJECTS, PLATFORM_EVENTS, Field, SObject
from ..timefmt import parse_date, parse_datetime

NAMESPACE = "com.sforce.eventbus"
CHANGE_TYPES = ("CREATE", "UPDATE", "DELETE", "UNDELETE", "GAP_CREATE", "GAP_UPDATE", "GAP_DELETE",
                "GAP_UNDELETE", "GAP_OVERFLOW", "SNAPSHOT")
_STRING_ARRAY = {"type": "array", "items": "string"}
HEADER = {"type": "record", "name": "ChangeEventHeader", "namespace": NAMESPACE, "fields": [
    {"name": "entityName", "type": "string"},
    {"name": "recordIds", "type": _STRING_ARRAY},
    {"name": "changeType", "type": {"type": "enum", "name": "ChangeType", "namespace": NAMESPACE,
                                    "symbols": list(CHANGE_TYPES)}},
    {"name": "changeOrigin", "type": "string"},
    {"name": "transactionKey", "type": "string"},
    {"name": "sequenceNumber", "type": "int"},
    {"name": "commitTimestamp", "type": "long"},
    {"name": "commitNumber", "type": "long"},
    {"name": "commitUser", "type": "string"},
    {"name": "nulledFields", "type": _STRING_ARRAY},
    {"name": "diffFields", "type": _STRING_ARRAY},
    {"name": "changedFields", "type": _STRING_ARRAY},
]}
#: Fields a change event never carries.
_NOT_IN_CDC = frozenset({"Id", "IsDeleted", "SystemModstamp"})
_PERSON_NAME = ("Salutation", "FirstName", "LastName", "MiddleName", "InformalName", "Suffix")
_ADDRESS = (("Street", "string"), ("City", "string"), ("State", "string"), ("PostalCode", "string"),
            ("Country", "string"), ("StateCode", "string"), ("CountryCode", "string"),
            ("Latitude", "double"), ("Longitude", "double"), ("Xyz", "string"), ("GeocodeAccuracy", "string"))


@dataclass(frozen=True)
class Compound:
    """A nested compound field: Avro record ``avro_name`` fed by sObject fields ``members``."""

    name: str
    record: str
    children: tuple[tuple[str, str], ...]  # (child name, avro primitive)
    members: dict[str, str]  # sObject field -> child name


def _compounds(obj: SObject) -> list[Compound]:
    names = {f.name for f in obj.fields}
    out = []
    if {"FirstName", "LastName"} <= names:
        out.append(Compound("Name", "Switchable_PersonName", tuple((c, "string") for c in _PERSON_NAME),
                            {"FirstName": "FirstName", "LastName": "LastName"}))
    billing = {f"Billing{c}": c for c, _ in _ADDRESS if f"Billing{c}" in names}
    if billing:
        out.append(Compound("BillingAddress", "Address", _ADDRESS, billing))
    return out


def avro_type(f: Field) -> Any:
    if f.type == "boolean":
        return "boolean"
    if f.type == "int":
        return "int"
    if f.type in ("double", "currency", "percent"):
        return "double"
    if f.type == "datetime":
        return "long"
    if f.type == "date":
        return {"type": "int", "logicalType": "date"}
    return "string"


def avro_value(f: Field, stored: Any) -> Any:
    """A stored column value -> the value the Avro writer expects for ``avro_type(f)``."""
    if stored is None:
        return None
    if f.type == "boolean":
        return bool(stored)
    if f.type == "int":
        return int(stored)
    if f.type in ("double", "currency", "percent"):
        return float(stored)
    if f.type == "datetime":
        dt = parse_datetime(str(stored))
        return int(dt.timestamp() * 1000) if dt else None
    if f.type == "date":
        d = parse_date(str(stored))
        return (d - date(1970, 1, 1)).days if d else None
    return str(stored)


def _nullable(name: str, avro: Any, doc: str) -> dict:
    return {"name": name, "type": ["null", avro], "doc": doc, "default": None}


@dataclass(frozen=True)
class EventSchema:
    """One event type's Avro schema and how sObject fields map onto it."""

    event_name: str
    entity: str
    schema: dict
    compounds: tuple[Compound, ...] = ()
    sobject: SObject | None = None
    #: Top-level field names in order (bitmap positions).
    field_names: tuple[str, ...] = field(default=())

    @property
    def schema_json(self) -> str:
        return json.dumps(self.schema, separators=(",", ":"))

    @property
    def parsed(self) -> dict:
        return _parsed(self.schema_json)

    @property
    def schema_id(self) -> str:
        return _schema_id(self.schema_json)

    def position(self, name: str) -> int:
        return self.field_names.index(name)

    def compound_of(self, sobject_field: str) -> Compound | None:
        return next((c for c in self.compounds if sobject_field in c.members), None)


@cache
def _parsed(schema_json: str) -> dict:
    parsed = parse_schema(json.loads(schema_json))
    if not isinstance(parsed, dict):
        raise ValueError("an event schema is an Avro record, not a union or a named type")
    return parsed


@cache
def _schema_id(schema_json: str) -> str:
    canonical = to_parsing_canonical_form(_parsed(schema_json))
    digest = bytes.fromhex(fingerprint(canonical, "MD5"))
    return base64.urlsafe_b64encode(digest).decode().rstrip("=")


@cache
def change_event_schema(object_name: str) -> EventSchema:
    """``<Object>ChangeEvent`` for an object of :data:`OBJECTS`."""
    obj = OBJECTS[object_name]
    compounds = _compounds(obj)
    placed: set[str] = set()
    fields: list[dict] = [{"name": "ChangeEventHeader", "type": HEADER, "doc": "Data:ChangeEventHeader"}]
    for f in obj.fields:
        if f.name in _NOT_IN_CDC or (f.calculated and any(c.name == f.name for c in compounds)):
            continue
        comp = next((c for c in compounds if f.name in c.members), None)
        if comp is None:
            fields.append(_nullable(f.name, avro_type(f), f"Data:{f.type}"))
        elif comp.name not in placed:  # the compound sits where its first member is
            placed.add(comp.name)
            record = {"type": "record", "name": comp.record, "fields": [
                {"name": c, "type": ["null", t], "default": None} for c, t in comp.children]}
            fields.append(_nullable(comp.name, record, f"Data:{comp.record}"))
    schema = {"type": "record", "name": f"{obj.name}ChangeEvent", "namespace": NAMESPACE, "fields": fields}
    return EventSchema(f"{obj.name}ChangeEvent", obj.name, schema, tuple(compounds), obj,
                       tuple(f["name"] for f in fields))


@cache
def platform_event_schema(event_name: str) -> EventSchema:
    """The schema of a platform event of :data:`PLATFORM_EVENTS` (``Order_Update__e``)."""
    ev = PLATFORM_EVENTS[event_name]
    fields: list[dict] = [{"name": "CreatedDate", "type": "long", "doc": "CreatedDate:DateTime"},
                          {"name": "CreatedById", "type": "string", "doc": "CreatedBy:EntityId"}]
    fields += [_nullable(f.name, avro_type(f), f"Data:{f.type}") for f in ev.fields if f.custom]
    schema = {"type": "record", "name": ev.name, "namespace": NAMESPACE, "fields": fields}
    return EventSchema(ev.name, ev.name, schema, (), ev, tuple(f["name"] for f in fields))


def all_schemas() -> list[EventSchema]:
    return [*(change_event_schema(n) for n in OBJECTS), *(platform_event_schema(n) for n in PLATFORM_EVENTS)]


def schema_by_id(schema_id: str) -> EventSchema | None:
    return next((s for s in all_schemas() if s.schema_id == schema_id), None)
