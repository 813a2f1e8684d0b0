"""Record operations (create/read/update/delete/upsert) with server-maintained fields.

Each write runs in one store transaction: validation, Id minting and the
audit stamps (CreatedDate, LastModifiedDate, SystemModstamp, *ById) happen
atomically, so concurrent writers never see half-applied state.
"""
from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from . import ids
from .errors import ApiError, entity_deleted, not_found, unknown_column
from .schema import STAGES, Field, SObject, calculated_name
from .store import Store, columns
from .validation import coerce, prepare_write


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

    def __init__(self, store: Store) -> None:
        self.store = store

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
            raise ApiError(404, "NOT_FOUND", f"Provided external ID field does not exist or is not accessible: {raw_id}")
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

    # -- writes --------------------------------------------------------------
    def create(self, obj: SObject, payload: Any, user_id: str,
               extra_writable: frozenset[str] = frozenset()) -> str:
        """Insert a record and return its new 18-char Id."""
        with self.store.write() as c:
            values = prepare_write(obj, payload, creating=True, store=self.store, user_id=user_id,
                                   extra_writable=extra_writable)
            record_id = self.store.allocate_ids(obj)[0]
            now = self.store.clock.now()
            row = {n: None for n in columns(obj)}
            row.update(values)
            row.update(Id=record_id, IsDeleted=0, CreatedDate=now, CreatedById=user_id,
                       LastModifiedDate=now, LastModifiedById=user_id, SystemModstamp=now)
            self._derive(obj, row, creating=True)
            self.store.insert_rows(c, obj, [row])
        return record_id

    def update(self, obj: SObject, raw_id: str, payload: Any, user_id: str,
               extra_writable: frozenset[str] = frozenset()) -> None:
        with self.store.write() as c:
            record_id = self._live_id(obj, raw_id)
            values = prepare_write(obj, payload, creating=False, store=self.store, user_id=user_id,
                                   record_id=record_id, extra_writable=extra_writable)
            if obj.has_owner and "OwnerId" in values and values["OwnerId"] is None:
                del values["OwnerId"]
            current = self.store.fetch(obj, record_id) or {}
            merged = {**current, **values}
            self._derive(obj, merged, creating=False)
            changes = {k: merged[k] for k in merged if k in values or merged[k] != current.get(k)}
            now = self.store.clock.now()
            changes.update(LastModifiedDate=now, LastModifiedById=user_id, SystemModstamp=now)
            self.store.update_row(c, obj, record_id, changes)

    def delete(self, obj: SObject, raw_id: str, user_id: str) -> None:
        """Soft delete: IsDeleted=true, visible to queryAll, SystemModstamp bumped."""
        if not obj.deletable:
            raise ApiError(400, "INVALID_TYPE", f"sObject type '{obj.name}' is not supported for delete")
        with self.store.write() as c:
            record_id = self._live_id(obj, raw_id)
            now = self.store.clock.now()
            self.store.update_row(c, obj, record_id, {"IsDeleted": 1, "LastModifiedDate": now,
                                                      "LastModifiedById": user_id, "SystemModstamp": now})

    def upsert(self, obj: SObject, field_name: str, raw_value: str, payload: Any,
               user_id: str, version: str) -> tuple[str, bool]:
        """Upsert by external Id (or Id). Returns (id, created); 300 on several matches."""
        f = obj.field(field_name)
        if f is None or not (f.external_id or f.id_lookup) or f.type not in ("string", "id", "email"):
            raise ApiError(404, "NOT_FOUND",
                           f"Provided external ID field does not exist or is not accessible: {field_name}")
        if isinstance(payload, dict):
            for k in payload:
                if k.lower() == f.name.lower():
                    raise ApiError(400, "INVALID_FIELD",
                                   f"Field {f.name} is not specified in the URL but also in the request body", [])
        with self.store.write():
            if f.type == "id":
                record_id = self.resolve_id(obj, raw_value)
                matches = [record_id] if record_id and self.store.exists(obj, record_id) else []
                if not matches:
                    raise not_found()
            else:
                matches = self.store.find_ids(obj, f, coerce(f, raw_value), limit=100)
            if len(matches) > 1:
                raise ApiError(300, "MULTIPLE_CHOICES", "", None).with_body(
                    [record_url(version, obj.name, m) for m in matches])
            body = dict(payload) if isinstance(payload, dict) else payload
            if matches:
                self.update(obj, matches[0], body, user_id)
                return matches[0], False
            if f.type != "id" and isinstance(body, dict):
                body[f.name] = raw_value
            return self.create(obj, body, user_id, extra_writable=frozenset({f.name})), True

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

    def _derive(self, obj: SObject, row: dict, creating: bool) -> None:
        """Fill calculated / defaulted fields (compound Name, auto-number, ...)."""
        if obj.field("Name") is not None and obj.field("Name").calculated:
            row["Name"] = calculated_name(obj, row)
        if obj.name == "Opportunity" and row.get("Probability") is None and row.get("StageName"):
            row["Probability"] = float(STAGES.get(row["StageName"], 0))
        if obj.name == "Order" and creating:
            row["OrderNumber"] = self.store.next_order_numbers()[0]
            if row.get("TotalAmount") is None:
                row["TotalAmount"] = 0.0
