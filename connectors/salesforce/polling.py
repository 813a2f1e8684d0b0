"""The SOQL that capture-by-polling runs."""
from __future__ import annotations

from datetime import datetime

from connectors.engine.conversion import format_sf_datetime

#: Read with every record: the key, the version, and whether it sits in the recycle bin.
SYSTEM_FIELDS = ("Id", "SystemModstamp", "IsDeleted")


def capture_query(sf_object: str, fields: list[str], since: datetime | None) -> str:
    """SELECT the mapped fields of every record changed at or after `since`, oldest first.

    Run through queryAll so deleted records (IsDeleted = true) come too.
    """
    selected = list(dict.fromkeys([*SYSTEM_FIELDS, *fields]))
    where = f" WHERE SystemModstamp >= {format_sf_datetime(since)}" if since else ""
    return f"SELECT {', '.join(selected)} FROM {sf_object}{where} ORDER BY SystemModstamp ASC, Id ASC"


def chunk_query(sf_object: str, fields: list[str], after_id: str, limit: int | None,
                since: datetime | None = None, ordered: bool = True, upto_id: str = "") -> str:
    """SELECT the next `limit` records by Id after `after_id` (up to `upto_id`, the end of a key
    range; changed at or after `since`): one chunk of a re-read; `limit` None and not `ordered`
    for a Bulk API job (ORDER BY would turn off its PK chunking). Keyset paging on Id needs no
    server-side cursor, so a chunk is read as it is now and nothing read earlier decides what a
    later chunk holds."""
    for bound in (after_id, upto_id):
        if bound and not bound.isalnum():
            raise ValueError(f"{bound!r} is not a Salesforce record id")
    selected = list(dict.fromkeys([*SYSTEM_FIELDS, *fields]))
    conditions = [f"Id > '{after_id}'"] if after_id else []
    if upto_id:
        conditions.append(f"Id <= '{upto_id}'")
    if since is not None:
        conditions.append(f"SystemModstamp >= {format_sf_datetime(since)}")
    where = f" WHERE {' AND '.join(conditions)}" if conditions else ""
    order = " ORDER BY Id ASC" if ordered else ""
    limited = f" LIMIT {int(limit)}" if limit is not None else ""
    return f"SELECT {', '.join(selected)} FROM {sf_object}{where}{order}{limited}"


def count_query(sf_object: str, since: datetime | None = None) -> str:
    """How many records a re-read will read (run through queryAll, like the re-read itself)."""
    where = f" WHERE SystemModstamp >= {format_sf_datetime(since)}" if since else ""
    return f"SELECT COUNT() FROM {sf_object}{where}"


def newest_query(sf_object: str) -> str:
    """The newest change of the object: where live polling starts when a re-read loads the rest."""
    return f"SELECT Id, SystemModstamp FROM {sf_object} ORDER BY SystemModstamp DESC LIMIT 1"


def edge_id_query(sf_object: str, last: bool) -> str:
    """The object's first (or last) Id, deleted records included: the span a split re-read cuts."""
    return f"SELECT Id FROM {sf_object} ORDER BY Id {'DESC' if last else 'ASC'} LIMIT 1"
