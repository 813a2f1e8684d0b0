"""The change envelope: one record change as versioned JSON, and its codec.

The schema lives in `schemas/change-envelope.v1.json` (documented in
docs/envelope.md) and is checked when an envelope is encoded and when it is
decoded, so a producer bug and a foreign message are both caught. Imports
nothing of ours.
"""
from __future__ import annotations

import json
import uuid
from dataclasses import dataclass, field
from datetime import datetime, timezone
from functools import lru_cache
from pathlib import Path
from typing import Any, Callable, Literal

import fastjsonschema

SCHEMA_VERSION = 1
SCHEMA_PATH = Path(__file__).parent / "schemas" / "change-envelope.v1.json"

Source = Literal["salesforce", "mongodb"]
Operation = Literal["upsert", "delete", "undelete"]


class EnvelopeError(ValueError):
    """A message that is not a valid change envelope; `str()` says where and why."""


@dataclass
class ChangeEnvelope:
    mapping: str
    source: Source
    op: Operation
    object: str
    salesforce_id: str | None
    fields: dict[str, Any]
    source_version: dict[str, str]
    origin: str
    mongo_id: str | None = None
    changed_fields: list[str] = field(default_factory=list)
    event_id: str = field(default_factory=lambda: str(uuid.uuid4()))
    captured_at: str = field(default_factory=lambda: utc_now_iso())
    published_at: str | None = None

    @property
    def key(self) -> str:
        """The Kafka message key, stable for the record's life so per-record order holds:
        the Salesforce Id for Salesforce changes, the MongoDB _id for MongoDB changes
        (a document born in MongoDB has no Salesforce Id until its first write-back)."""
        if self.source == "mongodb":
            return f"mongo:{self.mongo_id}"
        return self.salesforce_id or f"mongo:{self.mongo_id}"

    def to_dict(self) -> dict[str, Any]:
        return {
            "schema_version": SCHEMA_VERSION,
            "event_id": self.event_id,
            "mapping": self.mapping,
            "source": self.source,
            "op": self.op,
            "object": self.object,
            "keys": {"salesforce_id": self.salesforce_id, "mongo_id": self.mongo_id},
            "fields": self.fields,
            "changed_fields": self.changed_fields,
            "source_version": self.source_version,
            "origin": self.origin,
            "captured_at": self.captured_at,
            "published_at": self.published_at,
        }


def utc_now_iso() -> str:
    return datetime.now(timezone.utc).isoformat(timespec="milliseconds").replace("+00:00", "Z")


@lru_cache(maxsize=1)
def _validator() -> Callable[[Any], Any]:
    # Compiled once to plain Python: validating every message at both ends must stay
    # cheap next to the I/O (about 10 us a message rather than 200 us interpreted).
    return fastjsonschema.compile(json.loads(SCHEMA_PATH.read_text()))


def _check(data: Any) -> None:
    try:
        _validator()(data)
    except fastjsonschema.JsonSchemaValueException as exc:
        where = exc.path if isinstance(exc.path, str) else "/".join(map(str, exc.path or []))
        raise EnvelopeError(f"envelope invalid at {where}: {exc.message}") from None


def encode(envelope: ChangeEnvelope) -> bytes:
    """Stamp `published_at`, validate and serialise. Raises EnvelopeError on a bad envelope
    (a field value that is not JSON, too)."""
    envelope.published_at = utc_now_iso()
    data = envelope.to_dict()
    _check(data)
    try:
        return json.dumps(data, separators=(",", ":"), allow_nan=False).encode()
    except (TypeError, ValueError) as exc:
        raise EnvelopeError(f"envelope not serialisable as JSON: {exc}") from exc


def decode(raw: bytes | None) -> ChangeEnvelope:
    """Parse and validate one message value. Raises EnvelopeError naming what is wrong."""
    if raw is None:
        raise EnvelopeError("empty message (tombstone) where a change envelope was expected")
    try:
        data = json.loads(raw)
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise EnvelopeError(f"not JSON: {exc}") from exc
    _check(data)
    return ChangeEnvelope(
        mapping=data["mapping"],
        source=data["source"],
        op=data["op"],
        object=data["object"],
        salesforce_id=data["keys"]["salesforce_id"],
        mongo_id=data["keys"]["mongo_id"],
        fields=data["fields"],
        changed_fields=data["changed_fields"],
        source_version=data["source_version"],
        origin=data["origin"],
        event_id=data["event_id"],
        captured_at=data["captured_at"],
        published_at=data["published_at"],
    )
