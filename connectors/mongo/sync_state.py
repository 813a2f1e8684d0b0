"""The `_sync` sub-document: how a record's `SyncState` is stored on its MongoDB document.

The only module that knows the sub-document's field names. It is the per-record sync state,
stored with the data so it changes atomically with it:

- `synced_at`: set by every write the sync makes. Change-stream capture skips an
  update that sets it: that is the sync's own write, not an application's.
- `source`, `event_id`: which side and which change the last sync write came from.
- `sf_modstamp`: the Salesforce version last applied (the version guard).
- `base`: the last synced values by Salesforce field name, in canonical form, and
  `hash` their hash. A change whose values equal `base` is an echo.
- `pushed.<Field>`: the last value the sync wrote to Salesforce for a field (`sent`), with the
  value before it (`before`), Salesforce's clock at the write (`at`) and the time of the
  MongoDB change it carried (`change_at`). A Salesforce change stamped before that
  write was made concurrently with it: a conflict, not a newer value.
- `resolution`: set with a write the sync wants sent on to Salesforce (a conflict
  resolution): capture publishes such a change even though the sync made it.
- `deleted`: the Salesforce record is in the recycle bin (mapping marks deletes).
"""
from __future__ import annotations

import enum
from collections.abc import Mapping
from datetime import datetime
from typing import Any

from connectors.engine.sync_state import Push, SyncState

#: The sub-document's own name (a reserved document field).
FIELD = "_sync"

# Stored names by SyncState attribute.
_STORED = {
    "synced_at": "synced_at",
    "source": "source",
    "event_id": "event_id",
    "sf_modstamp": "sf_modstamp",
    "base": "base",
    "base_hash": "hash",
    "pushed": "pushed",
    "resolution": "resolution",
    "deleted": "deleted",
}
_PUSH_FIELDS = ("before", "sent", "at", "change_at")


def _path(attribute: str) -> str:
    return f"{FIELD}.{_STORED[attribute]}"


#: Dotted paths, for queries and for reading change-stream update descriptions.
SYNCED_AT = _path("synced_at")
SF_MODSTAMP = _path("sf_modstamp")
RESOLUTION = _path("resolution")


class _Keep(enum.Enum):
    KEEP = enum.auto()


#: An `update` argument left at KEEP leaves that part of the stored state as it is.
KEEP = _Keep.KEEP


def read(document: Mapping[str, Any] | None) -> SyncState:
    """The sync state a document holds; the defaults for one without it (or for no document)."""
    stored = (document or {}).get(FIELD) or {}
    pushed = stored.get(_STORED["pushed"]) or {}
    return SyncState(
        synced_at=stored.get(_STORED["synced_at"]),
        source=stored.get(_STORED["source"]),
        event_id=stored.get(_STORED["event_id"]),
        sf_modstamp=stored.get(_STORED["sf_modstamp"]),
        base=stored.get(_STORED["base"]) or {},
        base_hash=stored.get(_STORED["base_hash"]) or "",
        pushed={name: Push(**{key: entry.get(key) for key in _PUSH_FIELDS}) for name, entry in pushed.items()},
        resolution=stored.get(_STORED["resolution"]),
        deleted=bool(stored.get(_STORED["deleted"])),
    )


def _encode(push: Push) -> dict[str, Any]:
    return {key: getattr(push, key) for key in _PUSH_FIELDS}


def update(*, synced_at: datetime | _Keep = KEEP, source: str | _Keep = KEEP, event_id: str | _Keep = KEEP,
           sf_modstamp: datetime | _Keep = KEEP, base: Mapping[str, Any] | _Keep = KEEP,
           base_hash: str | _Keep = KEEP, resolution: Any = KEEP, deleted: bool | _Keep = KEEP,
           base_values: Mapping[str, Any] | None = None, pushes: Mapping[str, Push] | None = None) -> dict[str, Any]:
    """The `$set` fields that store the given parts of a sync state; the rest is left as it is.

    `base` replaces the last synced values whole; `base_values` sets single ones (by Salesforce
    field name), and `pushes` single entries of `pushed`."""
    given = {"synced_at": synced_at, "source": source, "event_id": event_id, "sf_modstamp": sf_modstamp,
             "base": base, "base_hash": base_hash, "resolution": resolution, "deleted": deleted}
    fields = {_path(name): value for name, value in given.items() if value is not KEEP}
    fields.update({f"{_path('base')}.{name}": value for name, value in (base_values or {}).items()})
    fields.update({f"{_path('pushed')}.{name}": _encode(push) for name, push in (pushes or {}).items()})
    return fields


def changed_base(new_base: Mapping[str, Any], document: Mapping[str, Any] | None) -> dict[str, Any]:
    """The entries of `new_base` that differ from the base `document` held when it was read: what a
    write should set. sf-apply's write-back may have stored other entries since that read, and
    setting the base whole would put their older values back (a false conflict on the next edit)."""
    held = read(document).base
    return {name: value for name, value in new_base.items() if name not in held or held[name] != value}


def whole(fields: Mapping[str, Any]) -> dict[str, Any]:
    """`update` fields (whole parts only) as the sub-document itself, replacing whatever it held:
    one field to set instead of several, cheaper for the server on a large backfill."""
    prefix = f"{FIELD}."
    assert all(path.startswith(prefix) and "." not in path[len(prefix):] for path in fields), fields
    return {FIELD: {path[len(prefix):]: value for path, value in fields.items()}}


def not_newer_than(modstamp: datetime) -> dict[str, Any]:
    """The version guard: the stored Salesforce version is not newer than `modstamp` (also true
    when there is none yet), as one predicate rather than an $or so the server stays on an index."""
    return {SF_MODSTAMP: {"$not": {"$gt": modstamp}}}


def set_by_sync(updated_fields: Mapping[str, Any]) -> bool:
    """True when an update's changed fields include what every sync write sets."""
    return SYNCED_AT in updated_fields or FIELD in updated_fields
