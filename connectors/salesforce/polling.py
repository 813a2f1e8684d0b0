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
