"""Reading MongoDB change-stream events: whose change it is, and what it touched."""
from __future__ import annotations

from typing import Any

from bson import ObjectId

from connectors.mongo import sync_state

RESOLUTION = sync_state.RESOLUTION


def is_own_write(event: dict[str, Any]) -> bool:
    """True for a change the sync itself made: every sync write sets `_sync.synced_at`.

    An application replacing a whole document may carry `_sync` along unchanged, so
    replaces are never treated as our own; the echo check behind capture catches those.
    A delete carries no document: its tombstone tells (`tombstones.own_deletes`).
    """
    operation = event["operationType"]
    if operation == "update":
        updated = event.get("updateDescription", {}).get("updatedFields", {})
        if RESOLUTION in updated:
            return False  # a resolution the sync wants sent on
        return sync_state.set_by_sync(updated)
    if operation == "insert":
        return sync_state.read(event.get("fullDocument")).synced_at is not None
    return False


def touched_fields(event: dict[str, Any]) -> set[str] | None:
    """Top-level field names an update touched; None for operations that touch everything."""
    if event["operationType"] != "update":
        return None
    description = event.get("updateDescription", {})
    paths = [*description.get("updatedFields", {}), *description.get("removedFields", [])]
    return {path.split(".", 1)[0] for path in paths} | ({RESOLUTION} if RESOLUTION in paths else set())


def id_text(document_id: Any) -> str:
    return str(document_id)


def id_value(text: str) -> Any:
    """The `_id` a text form stands for: ObjectIds round-trip, anything else stays text."""
    return ObjectId(text) if ObjectId.is_valid(text) else text
