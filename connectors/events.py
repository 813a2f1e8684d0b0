"""The change envelope: one record change as versioned JSON, and its codec.

The schema lives in `schemas/change-envelope.v1.json` (documented in
docs/envelope.md) and is checked once, where an envelope enters from outside:
when it is decoded from Kafka. Encoding does not check it again: every
envelope is built by our own capture code, and one that breaks the schema is
refused (and dead-lettered, visibly) by the consumer like a foreign message.
`validate` checks an envelope on demand (tests). Imports nothing of ours.
"""
from __future__ import annotations

import json
import math
import random
import time
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import Any, Callable, Literal

import fastjsonschema
import orjson

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
    event_id: str = field(default_factory=lambda: new_event_id())
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


def new_event_id() -> str:
    """A random (version 4) UUID as text. From `random`, not `uuid.uuid4()`: an event id must be
    unique, not unguessable, and this costs a fifth (no system call per id). `random` is seeded
    from the OS and seeded again in a forked child, so processes do not share a sequence."""
    bits = _random_bits(128) & _UUID4_CLEAR | _UUID4_SET
    text = f"{bits:032x}"
    return f"{text[:8]}-{text[8:12]}-{text[12:16]}-{text[16:20]}-{text[20:]}"


_random_bits = random.getrandbits
_UUID4_CLEAR = ~((0xF000 << 64) | (0xC000 << 48))  # the version nibble and the variant bits
_UUID4_SET = (0x4000 << 64) | (0x8000 << 48)  # version 4, RFC 4122 variant
_second: tuple[int, str] = (-1, "")  # the last whole second formatted, and its text (one object: threads share it)


def utc_now_iso() -> str:
    """Now, UTC, to the millisecond: `2026-11-25T14:05:12.840Z`. The date and time of day are
    formatted once a second (twice an envelope, this is on every record's path)."""
    global _second
    now = time.time()
    second = int(now)
    cached = _second
    if cached[0] != second:
        cached = _second = (second, time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(second)))
    return f"{cached[1]}.{int((now - second) * 1000):03d}Z"


@lru_cache(maxsize=1)
def _validator() -> Callable[[Any], Any]:
    # Compiled once to plain Python. Without `uniqueItems`: fastjsonschema checks it through a
    # recursive helper per item, half of the whole check for 26 field names; `validate` does the
    # same with a set, for the list of strings the rest of the schema demands.
    schema = json.loads(SCHEMA_PATH.read_text())
    unique = schema["properties"]["changed_fields"].pop("uniqueItems")
    assert unique is True and schema["properties"]["changed_fields"]["items"] == {"type": "string"}
    return fastjsonschema.compile(schema)


def validate(data: Any) -> None:
    """Check a decoded message (or `ChangeEnvelope.to_dict()`) against the schema; raises
    EnvelopeError saying where and why."""
    try:
        _validator()(data)
    except fastjsonschema.JsonSchemaValueException as exc:
        where = exc.path if isinstance(exc.path, str) else "/".join(map(str, exc.path or []))
        raise EnvelopeError(f"envelope invalid at {where}: {exc.message}") from None
    changed = data["changed_fields"]
    if len(set(changed)) != len(changed):
        raise EnvelopeError("envelope invalid at data.changed_fields: data.changed_fields must contain unique items")


#: orjson, not the standard library's json: a tenth of the time to encode and a third to decode
#: an envelope of 26 fields. Told to refuse dates and dataclasses as the standard library does
#: (it would write them as text and objects); subclasses of int and str (bson's Int64) pass.
_ORJSON_STRICT = orjson.OPT_PASSTHROUGH_DATETIME | orjson.OPT_PASSTHROUGH_DATACLASS


def encode(envelope: ChangeEnvelope) -> bytes:
    """Stamp `published_at` and serialise. Raises EnvelopeError on a field value that is not
    JSON (the schema is checked by whoever decodes it)."""
    envelope.published_at = utc_now_iso()
    if not _finite(envelope.fields):
        # orjson writes NaN and infinities as null: a value would change on its way.
        raise EnvelopeError("envelope not serialisable as JSON: a field value is NaN or infinite")
    try:
        return orjson.dumps(envelope.to_dict(), option=_ORJSON_STRICT)
    except TypeError as exc:  # orjson.JSONEncodeError is one
        raise EnvelopeError(f"envelope not serialisable as JSON: {exc}") from exc


def _finite(value: Any) -> bool:
    """No NaN or infinity anywhere in this JSON value."""
    if isinstance(value, dict):
        value = value.values()
    elif not isinstance(value, (list, tuple)):
        return not isinstance(value, float) or math.isfinite(value)
    for item in value:
        if isinstance(item, float):
            if not math.isfinite(item):
                return False
        elif isinstance(item, (dict, list, tuple)) and not _finite(item):
            return False
    return True


def decode(raw: bytes | None) -> ChangeEnvelope:
    """Parse and validate one message value. Raises EnvelopeError naming what is wrong."""
    if raw is None:
        raise EnvelopeError("empty message (tombstone) where a change envelope was expected")
    try:
        data = orjson.loads(raw)
    except orjson.JSONDecodeError as exc:  # invalid UTF-8 too; NaN and Infinity are not JSON
        raise EnvelopeError(f"not JSON: {exc}") from exc
    validate(data)
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
