"""Publishing platform events (``Order_Update__e``): from REST field values or a gRPC Avro payload.

The bus stamps ``CreatedDate`` (publish time) and ``CreatedById`` (the
publishing user) whatever the publisher sent, as the real service does.
A REST publish returns an Id with the event's key prefix (``e00...``).
"""
from __future__ import annotations

import io
import time
from typing import Any

from fastavro import schemaless_reader

from .. import ids
from ..schema import SObject
from ..store import Store
from ..validation import prepare_write
from .bus import EventBus
from .changeevents import ChangeEvent
from .schemas import avro_value, platform_event_schema


def _event(ev: SObject, fields: dict[str, Any], user_id: str) -> ChangeEvent:
    schema = platform_event_schema(ev.name)
    now = int(time.time() * 1000)
    payload: dict[str, Any] = {"CreatedDate": now, "CreatedById": user_id}
    for name in schema.field_names[2:]:
        f = ev.field(name)
        payload[name] = avro_value(f, fields.get(name)) if f else None
    return ChangeEvent(ev.name, schema, payload, now)


def publish_rest(bus: EventBus, store: Store, ev: SObject, body: Any, user_id: str) -> str:
    """Validate a REST body like a record create, publish it; returns the ``e00...`` Id.

    Raises :class:`sfemulator.errors.ApiError` for bad fields, as a create would.
    """
    values = prepare_write(ev, body, creating=True, store=store, user_id=user_id)
    replay = bus.put([_event(ev, values, user_id)], "platform")[0]
    return ids.make_id(ev.key_prefix, replay)


def publish_avro(bus: EventBus, ev: SObject, payload: bytes, user_id: str) -> int:
    """Decode a publisher's Avro payload with the event schema and publish it; returns the replay.

    Raises ValueError when the payload does not decode with the schema.
    """
    schema = platform_event_schema(ev.name)
    try:
        record = schemaless_reader(io.BytesIO(payload), schema.parsed, None)
    except Exception as exc:  # fastavro raises several types for malformed input
        raise ValueError(f"payload does not match schema {schema.schema_id}: {exc}") from None
    if not isinstance(record, dict):
        raise ValueError(f"payload does not match schema {schema.schema_id}")
    fields = {k: v for k, v in record.items() if k not in ("CreatedDate", "CreatedById")}
    for name, value in fields.items():
        f = ev.field(name)
        if f is not None and isinstance(value, str) and f.length and len(value) > f.length:
            raise ValueError(f"{name}: data value too large: {value[:20]}... (max length={f.length})")
    return bus.put([_event(ev, fields, user_id)], "platform")[0]
