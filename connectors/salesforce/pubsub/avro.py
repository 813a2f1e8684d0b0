"""Avro payloads of the Pub/Sub API: schemas by id, schemaless decoding and encoding.

An event's payload is the bare Avro binary of one record (no container header);
its writer schema is fetched once per schema id (GetSchema) and kept here parsed.
Salesforce's schemas define a named record once and refer to it by name after
(e.g. every `...Address` compound field), so the field lists used to read the
bitmap fields are resolved through a table of named types.
"""
from __future__ import annotations

import io
import json
from dataclasses import dataclass, field
from typing import Any

import fastavro


class SchemaError(ValueError):
    """A schema or payload that does not fit what the Pub/Sub API sends; str() says which."""


def _record_of(avro_type: Any, named: dict[str, dict[str, Any]], namespace: str) -> dict[str, Any] | None:
    """The record schema behind a field type, unwrapping the ["null", ...] optional union."""
    if isinstance(avro_type, list):
        records = [r for r in (_record_of(t, named, namespace) for t in avro_type) if r is not None]
        return records[0] if len(records) == 1 else None
    if isinstance(avro_type, str):
        return named.get(avro_type) or named.get(f"{namespace}.{avro_type}")
    if isinstance(avro_type, dict) and avro_type.get("type") == "record":
        return avro_type
    return None


def _collect_named(avro_type: Any, namespace: str, named: dict[str, dict[str, Any]]) -> None:
    if isinstance(avro_type, list):
        for member in avro_type:
            _collect_named(member, namespace, named)
        return
    if not isinstance(avro_type, dict):
        return
    if avro_type.get("type") in ("record", "enum", "fixed") and "name" in avro_type:
        name = avro_type["name"]
        namespace = avro_type.get("namespace", namespace)
        fullname = name if "." in name else f"{namespace}.{name}" if namespace else name
        named[fullname] = avro_type
        named.setdefault(name, avro_type)
    for child in avro_type.get("fields", []):
        _collect_named(child.get("type"), namespace, named)
    for key in ("items", "values"):
        if key in avro_type:
            _collect_named(avro_type[key], namespace, named)


@dataclass
class EventSchema:
    """One parsed writer schema: what decoding a payload and reading its bitmaps need."""

    schema_id: str
    schema_json: str
    parsed: Any = field(repr=False)
    #: Top-level field names in schema order (bit i of a top-level bitmap is field i).
    field_names: list[str] = field(default_factory=list)
    #: For a top-level field holding a record (a compound field), its child field names.
    nested_fields: dict[int, list[str]] = field(default_factory=dict)

    @classmethod
    def from_json(cls, schema_id: str, schema_json: str) -> EventSchema:
        """Raises SchemaError when the text is not an Avro record schema."""
        try:
            raw = json.loads(schema_json)
            parsed = fastavro.parse_schema(json.loads(schema_json))
        except (ValueError, fastavro.schema.SchemaParseException) as exc:
            raise SchemaError(f"pubsub: schema {schema_id} is not valid Avro: {exc}") from exc
        if not isinstance(raw, dict) or raw.get("type") != "record":
            raise SchemaError(f"pubsub: schema {schema_id} is not an Avro record schema")
        named: dict[str, dict[str, Any]] = {}
        _collect_named(raw, raw.get("namespace", ""), named)
        namespace = raw.get("namespace", "")
        nested: dict[int, list[str]] = {}
        for position, top in enumerate(raw["fields"]):
            record = _record_of(top["type"], named, namespace)
            if record is not None:
                nested[position] = [child["name"] for child in record["fields"]]
        return cls(schema_id, schema_json, parsed, [f["name"] for f in raw["fields"]], nested)

    @property
    def compound_fields(self) -> dict[str, list[str]]:
        """Compound field name -> its component names."""
        return {self.field_names[i]: children for i, children in self.nested_fields.items()}

    def decode(self, payload: bytes) -> dict[str, Any]:
        """One payload to a dict of field values. Raises SchemaError when it does not fit."""
        try:
            return fastavro.schemaless_reader(io.BytesIO(payload), self.parsed)  # type: ignore[call-arg,return-value]
        except (EOFError, ValueError, IndexError, UnicodeDecodeError) as exc:
            raise SchemaError(f"pubsub: payload does not fit schema {self.schema_id}: {exc}") from exc

    def encode(self, record: dict[str, Any]) -> bytes:
        """One record to payload bytes (for Publish). Raises SchemaError naming the bad value."""
        out = io.BytesIO()
        try:
            fastavro.schemaless_writer(out, self.parsed, record)
        except (ValueError, TypeError, KeyError, AttributeError) as exc:
            raise SchemaError(f"pubsub: record does not fit schema {self.schema_id}: {exc}") from exc
        return out.getvalue()
