"""Change Data Capture events built from ``change_log`` rows (see :mod:`sfemulator.changes`).

One transaction (one ``txn`` key) becomes one or more events, ``sequenceNumber``
1, 2, ... in commit order and one ``commitNumber``.  Rows of a transaction with
the same object, change type and body (deletes always; updates that set the
same values) are merged into one event listing every record in ``recordIds``,
as the real service does.  Field values follow the real rules: CREATE and
UNDELETE carry every non-null field, UPDATE only the written fields (the others
are null, which is why ``nulledFields`` lists those set to null), DELETE none.
``changedFields`` is filled for UPDATE only; ``diffFields`` stays empty (the
emulator does not send diffs of long text areas).
"""
from __future__ import annotations

import json
import uuid
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from ..schema import OBJECTS
from ..timefmt import parse_datetime
from . import bitmap
from .schemas import EventSchema, avro_value, change_event_schema

#: commitNumber = base + first change_log seq of the transaction (real ones are large SCN-like longs).
COMMIT_NUMBER_BASE = 10_000_000_000_000
#: recordIds of a GAP_OVERFLOW event (the real service sends this placeholder Id).
OVERFLOW_RECORD_ID = "000000000000000AAA"
#: Written with every update; not part of "what changed" when merging identical updates.
_AUDIT = frozenset({"LastModifiedDate", "SystemModstamp", "LastModifiedById"})


@dataclass(frozen=True)
class LogRow:
    seq: int
    record_id: str
    object: str
    change_type: str
    origin: str
    user_id: str
    commit_ts: str
    txn: str
    values: dict | None


@dataclass(frozen=True)
class ChangeEvent:
    entity: str
    schema: EventSchema
    payload: dict
    commit_ms: int


LOG_COLUMNS = "seq, record_id, object, change_type, origin, user_id, commit_ts, txn, data"


def log_row(row: Sequence[Any]) -> LogRow:
    seq, record_id, obj, change_type, origin, user_id, commit_ts, txn, data = row
    return LogRow(seq, record_id, obj, change_type, origin or "", user_id, commit_ts,
                  txn or f"seq-{seq}", json.loads(data) if data else None)


def _epoch_ms(text: str) -> int:
    dt = parse_datetime(text)
    return int(dt.timestamp() * 1000) if dt else 0


def _body(schema: EventSchema, values: dict | None, change_type: str) -> tuple[dict, list[str], list[str]]:
    """(event fields, changedFields, nulledFields) for one record's written ``values``."""
    body: dict[str, Any] = {n: None for n in schema.field_names[1:]}
    top_changed: list[int] = []
    top_nulled: list[int] = []
    nested_changed: dict[int, list[int]] = {}
    nested_nulled: dict[int, list[int]] = {}
    for name, stored in (values or {}).items():
        f = schema.sobject.field(name) if schema.sobject else None
        if f is None or any(c.name == name for c in schema.compounds):
            continue  # a calculated compound (Contact.Name) travels as its members
        if change_type != "UPDATE" and stored is None:
            continue
        comp = schema.compound_of(name)
        if comp is not None:
            pos = schema.position(comp.name)
            child = comp.members[name]
            record = body[comp.name] or {c: None for c, _ in comp.children}
            record[child] = avro_value(f, stored)
            body[comp.name] = record
            index = [c for c, _ in comp.children].index(child)
            nested_changed.setdefault(pos, []).append(index)
            if stored is None:
                nested_nulled.setdefault(pos, []).append(index)
        elif name in schema.field_names:
            body[name] = avro_value(f, stored)
            top_changed.append(schema.position(name))
            if stored is None:
                top_nulled.append(schema.position(name))
    if change_type != "UPDATE":
        return body, [], []
    return body, bitmap.encode(top_changed, nested_changed), bitmap.encode(top_nulled, nested_nulled)


def header(entity: str, record_ids: list[str], change_type: str, origin: str, txn: str, sequence: int,
           commit_ms: int, commit_number: int, user_id: str, changed: list[str] | None = None,
           nulled: list[str] | None = None) -> dict:
    return {"entityName": entity, "recordIds": record_ids, "changeType": change_type, "changeOrigin": origin,
            "transactionKey": txn, "sequenceNumber": sequence, "commitTimestamp": commit_ms,
            "commitNumber": commit_number, "commitUser": user_id, "nulledFields": nulled or [],
            "diffFields": [], "changedFields": changed or []}


def _merge_key(row: LogRow) -> tuple:
    values = {k: v for k, v in (row.values or {}).items() if k not in _AUDIT}
    return row.object, row.change_type, json.dumps(values, sort_keys=True)


def _groups(rows: Sequence[LogRow]) -> list[list[LogRow]]:
    """Rows of one transaction, merged where object, type and body are the same (creates never are)."""
    groups: dict[tuple, list[LogRow]] = {}
    for row in rows:
        key = (row.seq,) if row.change_type == "CREATE" else _merge_key(row)
        groups.setdefault(key, []).append(row)
    return sorted(groups.values(), key=lambda g: g[0].seq)


def from_log(rows: Iterable[LogRow], enabled: set[str]) -> list[ChangeEvent]:
    """Change events for change_log ``rows`` (whole transactions, in seq order) of CDC-enabled objects."""
    by_txn: dict[str, list[LogRow]] = {}
    for row in rows:
        if row.object in OBJECTS:
            by_txn.setdefault(row.txn, []).append(row)
    events: list[ChangeEvent] = []
    for txn, txn_rows in by_txn.items():
        commit_number = COMMIT_NUMBER_BASE + txn_rows[0].seq
        sequence = 0
        for group in _groups(txn_rows):
            first = group[0]
            sequence += 1  # numbered over the whole transaction, published or not
            if first.object not in enabled:
                continue
            schema = change_event_schema(first.object)
            body, changed, nulled = _body(schema, first.values, first.change_type)
            commit_ms = _epoch_ms(first.commit_ts)
            body["ChangeEventHeader"] = header(first.object, [r.record_id for r in group], first.change_type,
                                               first.origin, txn, sequence, commit_ms, commit_number,
                                               first.user_id, changed, nulled)
            events.append(ChangeEvent(first.object, schema, body, commit_ms))
    return events


def gap_event(object_name: str, record_ids: list[str], change_type: str, user_id: str, commit_ms: int,
              commit_number: int) -> ChangeEvent:
    """A GAP_* or GAP_OVERFLOW event: header only, every field null (the receiver must re-read)."""
    schema = change_event_schema(object_name)
    body: dict[str, Any] = {n: None for n in schema.field_names[1:]}
    body["ChangeEventHeader"] = header(object_name, record_ids, change_type, "", str(uuid.uuid4()), 1,
                                       commit_ms, commit_number, user_id)
    return ChangeEvent(object_name, schema, body, commit_ms)
