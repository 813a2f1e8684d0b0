"""Record operations (create/read/update/delete/upsert/undelete/purge).

Each operation is written once, as a *step* that runs inside an open store
transaction and returns its result plus one :class:`~sfemulator.changes.Change`:
validation, Id minting, audit stamps (CreatedDate, LastModifiedDate,
SystemModstamp, *ById), the hidden client column and the change-log row are
applied atomically.  The single-record REST routes run one step in its own
transaction (:meth:`Records.create` & co.); sObject Collections run many
steps in one transaction, each under a savepoint (:meth:`Records.batch`),
so ``allOrNone=false`` keeps the good records and ``allOrNone=true`` rolls
everything back.

Order of checks for a save, as on a real org: system validation (field
types, lengths, required fields, references), custom validation rules,
unique fields, then the row lock (fault injection: UNABLE_TO_LOCK_ROW).
"""
from __future__ import annotations

import sqlite3
from collections.abc import Callable, Iterable, Sequence
from typing import Any

from . import changes, ids
from .changes import CREATE, DELETE, UNDELETE, UPDATE, Caller, Change
from .errors import ApiError, entity_deleted, not_found, unknown_column
from .faults import Faults
from .rules import RuleBook
from .schema import STAGES, Field, SObject, calculated_name
from .store import CLIENT_COLUMN, HIDDEN_COLUMNS, Store, columns
from .validation import check_unique, coerce, prepare_write

#: A write step: runs inside an open transaction, returns (result, change).
Step = Callable[[sqlite3.Connection], tuple[Any, Change]]
#: Errors raised while *reading* a request body: they fail a whole collection call,
#: as on a real org (the body is deserialised before any record is saved).
REQUEST_LEVEL_ERRORS = frozenset({"JSON_PARSER_ERROR", "INVALID_FIELD"})


def record_url(version: str, obj_name: str, record_id: str) -> str:
    return f"/services/data/v{version}/sobjects/{obj_name}/{record_id}"


def attributes(version: str, obj_name: str, record_id: str) -> dict:
    return {"type": obj_name, "url": record_url(version, obj_name, record_id)}


def wire_value(f: Field | None, value: Any) -> Any:
    """Stored value -> JSON value (booleans are stored as 0/1)."""
    if f is not None and f.type == "boolean":
        return bool(value) if value is not None else False
    return value


def to_wire(obj: SObject, row: dict, version: str, fields: Iterable[str] | None = None) -> dict:
    """A record as the REST API returns it: ``attributes`` first, then fields in order."""
    out: dict[str, Any] = {"attributes": attributes(version, obj.name, row["Id"])}
    for name in (fields if fields is not None else [f.name for f in obj.fields]):
        out[name] = wire_value(obj.field(name), row.get(name))
    return out


class Records:
    """CRUD on top of :class:`Store`, enforcing schema rules."""

    def __init__(self, store: Store, rules: RuleBook | None = None, faults: Faults | None = None) -> None:
        self.store = store
        self.rules = rules or RuleBook(store)
        self.faults = faults or Faults()

    # -- reads ---------------------------------------------------------------
    def resolve_id(self, obj: SObject, raw_id: str) -> str | None:
        norm = ids.normalize(raw_id)
        if norm is None or not norm.startswith(obj.key_prefix):
            return None
        return norm

    def get(self, obj: SObject, raw_id: str, fields: list[str] | None, version: str) -> dict:
        """The live record, or 404 NOT_FOUND (also for deleted records)."""
        record_id = self.resolve_id(obj, raw_id)
        if record_id is None:
            raise ApiError(404, "NOT_FOUND",
                           f"Provided external ID field does not exist or is not accessible: {raw_id}")
        names = None
        if fields is not None:
            names = []
            for name in fields:
                f = obj.field(name)
                if f is None:
                    raise ApiError(400, "INVALID_FIELD", unknown_column(name, obj.name))
                names.append(f.name)
            names = list(dict.fromkeys(["Id", *names]))
        row = self.store.fetch(obj, record_id, names)
        if row is None or row["IsDeleted"]:
            raise not_found()
        return to_wire(obj, row, version, names)

    # -- single-record writes: one step, one transaction -----------------------
    def create(self, obj: SObject, payload: Any, caller: Caller,
               extra_writable: frozenset[str] = frozenset()) -> str:
        """Insert a record and return its new 18-char Id."""
        return self._single(lambda c: self.create_step(c, obj, payload, caller, extra_writable))

    def update(self, obj: SObject, raw_id: str, payload: Any, caller: Caller) -> None:
        self._single(lambda c: self.update_step(c, obj, raw_id, payload, caller))

    def delete(self, obj: SObject, raw_id: str, caller: Caller) -> None:
        """Soft delete: IsDeleted=true, visible to queryAll, SystemModstamp bumped."""
        self._single(lambda c: self.delete_step(c, obj, raw_id, caller))

    def upsert(self, obj: SObject, field_name: str, raw_value: Any, payload: Any,
               caller: Caller) -> tuple[str, bool]:
        """Upsert by external Id (or Id). Returns (id, created); 300 on several matches."""
        return self._single(lambda c: self.upsert_step(c, obj, field_name, raw_value, payload, caller))

    def undelete(self, obj: SObject, raw_id: str, caller: Caller) -> None:
        """Restore a soft-deleted record (bumps SystemModstamp, logs UNDELETE)."""
        self._single(lambda c: self.undelete_step(c, obj, raw_id, caller))

    def purge(self, obj: SObject, raw_id: str, caller: Caller) -> None:
        """Hard delete ("empty from the recycle bin"): the row is gone, even from queryAll.

        getDeleted keeps reporting it (from the ``purged`` table). A live record is
        deleted and purged in one go (like Bulk API hardDelete) and logged as DELETE.
        """
        if not obj.deletable:
            raise ApiError(400, "INVALID_TYPE", f"sObject type '{obj.name}' is not supported for delete")
        record_id = self.resolve_id(obj, raw_id)
        if record_id is None:
            raise not_found()
        with self.store.write() as c:
            row = self.store.fetch(obj, record_id, ["Id", "SystemModstamp"])
            if row is None:
                raise not_found()
            now = self.store.clock.now()
            deleted_date = row["SystemModstamp"] if row["IsDeleted"] else now
            if not row["IsDeleted"]:
                changes.append(c, [Change(record_id, obj.name, DELETE, ("IsDeleted",), caller, now)])
            c.execute("INSERT OR REPLACE INTO purged (record_id, object, deleted_date, purged_date) "
                      "VALUES (?, ?, ?, ?)", (record_id, obj.name, deleted_date, now))
            self.store.delete_row(c, obj, record_id)

    def _single(self, step: Step) -> Any:
        with self.store.write() as c:
            result, change = step(c)
            changes.append(c, [change])
        return result

    # -- many records in one transaction (sObject Collections) ------------------
    def batch(self, steps: Sequence[Step], all_or_none: bool,
              request_level: frozenset[str] = REQUEST_LEVEL_ERRORS) -> tuple[list[Any], bool]:
        """Run ``steps`` in order in one transaction, each under its own savepoint.

        Returns (outcomes, rolled_back): an outcome is the step's result or the
        :class:`ApiError` it raised.  With ``all_or_none`` and any failure,
        nothing is written and ``rolled_back`` is True.  Request-level errors
        (``request_level``, by default :data:`REQUEST_LEVEL_ERRORS`) propagate and roll everything back.
        """
        outcomes: list[Any] = []
        try:
            with self.store.write() as c:
                done: list[Change] = []
                for step in steps:
                    try:
                        with self.store.savepoint(c):
                            result, change = step(c)
                    except ApiError as err:
                        if err.error_code in request_level:
                            raise
                        outcomes.append(err)
                        continue
                    outcomes.append(result)
                    done.append(change)
                if all_or_none and any(isinstance(o, ApiError) for o in outcomes):
                    raise _RollBack
                changes.append(c, done)
        except _RollBack:
            return outcomes, True
        return outcomes, False

    # -- steps: the one implementation of each write ----------------------------
    def create_step(self, c: sqlite3.Connection, obj: SObject, payload: Any, caller: Caller,
                    extra_writable: frozenset[str] = frozenset()) -> tuple[str, Change]:
        if not obj.createable:
            raise ApiError(400, "INVALID_TYPE", f"sObject type '{obj.name}' is not supported for create", [])
        values = prepare_write(obj, payload, creating=True, store=self.store, user_id=caller.user_id,
                               extra_writable=extra_writable)
        row: dict[str, Any] = {n: None for n in columns(obj)}
        row.update(values)
        self._derive(obj, row, creating=True)
        self.rules.check(obj, row)
        check_unique(obj, values, self.store, None)
        self._lock_row(obj, None)
        record_id = self.store.allocate_ids(obj)[0]
        now = self.store.clock.now()
        row.update(Id=record_id, IsDeleted=0, CreatedDate=now, CreatedById=caller.user_id,
                   LastModifiedDate=now, LastModifiedById=caller.user_id, SystemModstamp=now)
        row[CLIENT_COLUMN] = caller.client
        if obj.name == "Order":
            row["OrderNumber"] = self.store.next_order_numbers()[0]
        self.store.insert_rows(c, obj, [row])
        logged = tuple(k for k, v in row.items() if v is not None and k not in HIDDEN_COLUMNS)
        return record_id, Change(record_id, obj.name, CREATE, logged, caller, now, {k: row[k] for k in logged})

    def update_step(self, c: sqlite3.Connection, obj: SObject, raw_id: str, payload: Any, caller: Caller,
                    extra_writable: frozenset[str] = frozenset()) -> tuple[str, Change]:
        if not obj.updateable:
            raise ApiError(400, "INVALID_TYPE", f"sObject type '{obj.name}' is not supported for update", [])
        record_id = self._live_id(obj, raw_id)
        values = prepare_write(obj, payload, creating=False, store=self.store, user_id=caller.user_id,
                               record_id=record_id, extra_writable=extra_writable)
        if obj.has_owner and "OwnerId" in values and values["OwnerId"] is None:
            del values["OwnerId"]
        current = self.store.fetch(obj, record_id) or {}
        merged = {**current, **values}
        self._derive(obj, merged, creating=False)
        self.rules.check(obj, merged)
        check_unique(obj, values, self.store, record_id)
        self._lock_row(obj, record_id)
        delta = {k: merged[k] for k in merged if k in values or merged[k] != current.get(k)}
        now = self.store.clock.now()
        delta.update(LastModifiedDate=now, LastModifiedById=caller.user_id, SystemModstamp=now)
        delta[CLIENT_COLUMN] = caller.client
        self.store.update_row(c, obj, record_id, delta)
        logged = tuple(k for k in delta if k not in HIDDEN_COLUMNS)
        return record_id, Change(record_id, obj.name, UPDATE, logged, caller, now, {k: delta[k] for k in logged})

    def delete_step(self, c: sqlite3.Connection, obj: SObject, raw_id: str,
                    caller: Caller) -> tuple[str, Change]:
        if not obj.deletable:
            raise ApiError(400, "INVALID_TYPE", f"sObject type '{obj.name}' is not supported for delete")
        record_id = self._live_id(obj, raw_id)
        self._lock_row(obj, record_id)
        now = self.store.clock.now()
        self.store.update_row(c, obj, record_id, {"IsDeleted": 1, "LastModifiedDate": now,
                                                  "LastModifiedById": caller.user_id, "SystemModstamp": now,
                                                  CLIENT_COLUMN: caller.client})
        return record_id, Change(record_id, obj.name, DELETE, ("IsDeleted",), caller, now)

    def undelete_step(self, c: sqlite3.Connection, obj: SObject, raw_id: str,
                      caller: Caller) -> tuple[str, Change]:
        record_id = self.resolve_id(obj, raw_id)
        row = self.store.fetch(obj, record_id) if record_id else None
        if record_id is None or row is None:
            raise not_found()
        if not row["IsDeleted"]:
            raise ApiError(400, "UNDELETE_FAILED", "Entity is not in the recycle bin", [])
        unique = {f.name: row[f.name] for f in obj.fields if f.unique and row.get(f.name) is not None}
        check_unique(obj, unique, self.store, record_id)
        self._lock_row(obj, record_id)
        now = self.store.clock.now()
        restored = {"IsDeleted": 0, "LastModifiedDate": now, "LastModifiedById": caller.user_id,
                    "SystemModstamp": now}
        self.store.update_row(c, obj, record_id, {**restored, CLIENT_COLUMN: caller.client})
        # An UNDELETE change event carries the whole restored record, like a CREATE.
        snapshot = {k: v for k, v in {**row, **restored}.items() if v is not None and k not in HIDDEN_COLUMNS}
        return record_id, Change(record_id, obj.name, UNDELETE, ("IsDeleted",), caller, now, snapshot)

    def upsert_step(self, c: sqlite3.Connection, obj: SObject, field_name: str, raw_value: Any,
                    payload: Any, caller: Caller) -> tuple[tuple[str, bool], Change]:
        f = self.external_id_field(obj, field_name)
        if isinstance(payload, dict):
            for k in payload:
                if k.lower() == f.name.lower():
                    raise ApiError(400, "INVALID_FIELD",
                                   f"Field {f.name} is not specified in the URL but also in the request body", [])
        if f.type == "id":
            record_id = self.resolve_id(obj, str(raw_value))
            matches = [record_id] if record_id and self.store.exists(obj, record_id) else []
            if not matches:
                raise not_found()
        else:
            matches = self.store.find_ids(obj, f, coerce(f, raw_value), limit=100)
        if len(matches) > 1:
            raise ApiError(300, "MULTIPLE_CHOICES", "", None).with_body(
                [record_url(caller.version, obj.name, m) for m in matches])
        if matches:
            record_id, change = self.update_step(c, obj, matches[0], payload, caller)
            return (record_id, False), change
        body = dict(payload) if isinstance(payload, dict) else payload
        if isinstance(body, dict):
            body[f.name] = raw_value
        record_id, change = self.create_step(c, obj, body, caller, extra_writable=frozenset({f.name}))
        return (record_id, True), change

    @staticmethod
    def external_id_field(obj: SObject, field_name: str) -> Field:
        f = obj.field(field_name)
        if f is None or not (f.external_id or f.id_lookup) or f.type not in ("string", "id", "email"):
            raise ApiError(404, "NOT_FOUND",
                           f"Provided external ID field does not exist or is not accessible: {field_name}")
        return f

    # -- helpers -------------------------------------------------------------
    def _live_id(self, obj: SObject, raw_id: str) -> str:
        record_id = self.resolve_id(obj, raw_id)
        if record_id is None:
            raise ApiError(404, "NOT_FOUND",
                           f"Provided external ID field does not exist or is not accessible: {raw_id}")
        row = self.store.fetch(obj, record_id, ["Id"])
        if row is None:
            raise not_found()
        if row["IsDeleted"]:
            raise entity_deleted()
        return record_id

    def _lock_row(self, obj: SObject, record_id: str | None) -> None:
        """Injected row-lock contention (see :mod:`sfemulator.faults`)."""
        if self.faults.take_lock_failure(obj.name):
            suffix = f" or 1 records: {record_id}" if record_id else ""
            raise ApiError(400, "UNABLE_TO_LOCK_ROW", f"unable to obtain exclusive access to this record{suffix}", [])

    def _derive(self, obj: SObject, row: dict, creating: bool) -> None:
        """Fill calculated / defaulted fields (compound Name, probability, order amount)."""
        name = obj.field("Name")
        if name is not None and name.calculated:
            row["Name"] = calculated_name(obj, row)
        if obj.name == "Opportunity" and row.get("Probability") is None and row.get("StageName"):
            row["Probability"] = float(STAGES.get(row["StageName"], 0))
        if obj.name == "Order" and creating and row.get("TotalAmount") is None:
            row["TotalAmount"] = 0.0


class _RollBack(Exception):
    """Internal: leave a batch's transaction so that it rolls back."""
