"""The `_sync` sub-document the sync keeps on every document it writes.

It is the per-record sync state, stored with the data so it changes atomically with it:

- `synced_at`: set by every write the sync makes. Change-stream capture skips an
  update that sets it: that is the sync's own write, not an application's.
- `source`, `event_id`: which side and which change the last sync write came from.
- `sf_modstamp`: the Salesforce version last applied (the version guard).
- `base`: the last synced values by Salesforce field name, in canonical form, and
  `hash` their hash. A change whose values equal `base` is an echo.
- `pushed.<Field>`: the last value the sync wrote to Salesforce for a field, with the
  value before it (`before`), Salesforce's clock at the write (`at`) and the time of the
  MongoDB change it carried (`change_at`). A Salesforce change stamped before that
  write was made concurrently with it: a conflict, not a newer value.
- `resolution`: set with a write the sync wants sent on to Salesforce (a conflict
  resolution): capture publishes such a change even though the sync made it.
- `deleted`: the Salesforce record is in the recycle bin (mapping marks deletes).
"""
from __future__ import annotations

SYNC = "_sync"
SYNCED_AT = f"{SYNC}.synced_at"
SOURCE = f"{SYNC}.source"
EVENT_ID = f"{SYNC}.event_id"
SF_MODSTAMP = f"{SYNC}.sf_modstamp"
BASE = f"{SYNC}.base"
HASH = f"{SYNC}.hash"
PUSHED = f"{SYNC}.pushed"
RESOLUTION = f"{SYNC}.resolution"
DELETED = f"{SYNC}.deleted"


def sync_state(document: dict | None) -> dict:
    return (document or {}).get(SYNC) or {}
