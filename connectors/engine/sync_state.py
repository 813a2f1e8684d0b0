"""A record's sync state: what the sync last wrote on either side. Pure; no I/O.

It lives with the record's data (in MongoDB, `connectors.mongo.sync_state` reads and writes it),
so it changes atomically with the values it describes.
"""
from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any


@dataclass(frozen=True)
class Push:
    """The last value the sync wrote to Salesforce for one field."""

    #: The last synced value before this write.
    before: Any = None
    sent: Any = None
    #: Salesforce's clock at the write: a Salesforce change stamped before it was made concurrently.
    at: datetime | None = None
    #: When the MongoDB change it carried was made.
    change_at: datetime | None = None


@dataclass(frozen=True)
class SyncState:
    """The sync state of one record; a record the sync never wrote has the defaults."""

    #: When the sync last wrote the record (None: never).
    synced_at: datetime | None = None
    #: Which side ("salesforce" or "mongodb") and which change the last sync write came from.
    source: str | None = None
    event_id: str | None = None
    #: The Salesforce version last applied (the version guard).
    sf_modstamp: datetime | None = None
    #: The last synced values by Salesforce field name, in canonical form, and their hash.
    #: A change whose values equal `base` is an echo.
    base: dict[str, Any] = field(default_factory=dict)
    base_hash: str = ""
    #: By Salesforce field name: the last value the sync wrote to Salesforce.
    pushed: dict[str, Push] = field(default_factory=dict)
    #: Set with a write the sync wants sent on to Salesforce (a conflict settled): the change or conflict.
    resolution: Any = None
    #: The Salesforce record is in the recycle bin (mapping marks deletes).
    deleted: bool = False

    def pushes_of(self, sent: Mapping[str, Any], at: datetime | None, change_at: datetime | None) -> dict[str, Push]:
        """The pushes recorded for values just written to Salesforce, each with the base value before it."""
        return {name: Push(before=self.base.get(name), sent=value, at=at, change_at=change_at)
                for name, value in sent.items()}
