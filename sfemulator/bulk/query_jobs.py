"""Processing a query job and serving its results as CSV pages.

The SOQL is compiled when the job is created (a bad query is a 400 then, like
the REST query), its matching rows are fixed when the job runs, and each
results page reads its slice of rows, so paging is stable.  A page is named by
its ``Sforce-Locator``: the base64 of its first row's position (Salesforce's
are opaque strings of that look, e.g. ``MTAwMDA``), and ``null`` after the last.
"""
from __future__ import annotations

import base64
import binascii
from dataclasses import dataclass
from typing import Any

from ..errors import ApiError
from ..query import Cursor, QueryEngine
from ..soql import CompiledQuery, parse
from .csvfmt import write_rows
from .jobs import Job

DEFAULT_PAGE = 50_000
LAST_PAGE = "null"


@dataclass
class Page:
    csv: str
    count: int
    next_locator: str


def unsupported(soql: str, compiled: CompiledQuery) -> str | None:
    """Why the Bulk APIs refuse this (valid) SOQL, or None: they have no aggregates, GROUP BY,
    OFFSET or parent-to-child subqueries; the emulator fails such jobs (batches) with this message."""
    if compiled.aggregate is not None or compiled.count_only or compiled.group_by:
        return "FeatureNotEnabled : Aggregate queries are not supported by Bulk API query"
    if compiled.children:
        return "FeatureNotEnabled : Nested (parent-to-child) queries are not supported by Bulk API query"
    if parse(soql).offset is not None:
        return "FeatureNotEnabled : OFFSET is not supported by Bulk API query"
    return None


def process(queries: QueryEngine, job: Job) -> None:
    """Run ``job``: leaves the :class:`Cursor` in ``job.result`` or sets ``job.error_message``."""
    try:
        cursor = queries.open_cursor(job.query, include_deleted=job.operation == "queryAll")
    except ApiError as err:
        job.error_message = f"{err.error_code} : {err.message}"
        return
    reason = unsupported(job.query or "", cursor.compiled)
    if reason:
        job.error_message = reason
        return
    job.result = cursor
    job.records_processed = len(cursor.rowids)


def page(queries: QueryEngine, job: Job, locator: str | None, max_records: int | None) -> Page:
    """One results page of a completed job (``locator`` None: the first)."""
    cursor: Cursor = job.result
    offset = _offset(locator, len(cursor.rowids))
    size = max_records or DEFAULT_PAGE
    records = queries.records(cursor, offset, size, job.api_version)
    end = offset + len(records)
    following = base64.b64encode(str(end).encode()).decode().rstrip("=") if end < len(cursor.rowids) else LAST_PAGE
    return Page(to_csv(cursor, records, job.column_delimiter, job.line_ending), len(records), following)


def to_csv(cursor: Cursor, records: list[dict], delimiter: str = "COMMA", line_ending: str = "LF") -> str:
    """REST-shaped ``records`` of ``cursor`` as Bulk CSV: a column per selected field, parents' as ``Account.Name``."""
    header = [".".join((*c.path, c.field.name)) for c in cursor.compiled.select]
    rows = ([_cell(_value(rec, c.path, c.field.name)) for c in cursor.compiled.select] for rec in records)
    return write_rows(header, rows, delimiter, line_ending)


def _offset(locator: str | None, total: int) -> int:
    if not locator:
        return 0
    try:
        offset = int(base64.b64decode(locator + "=" * (-len(locator) % 4), validate=True))
    except (binascii.Error, ValueError):
        offset = -1
    if not 0 <= offset <= total:
        raise ApiError(400, "INVALIDLOCATOR", f"Invalid locator: {locator}")
    return offset


def _value(record: dict, path: tuple[str, ...], name: str) -> Any:
    node: Any = record
    for rel in path:
        node = node.get(rel) if isinstance(node, dict) else None
    return node.get(name) if isinstance(node, dict) else None


def _cell(value: Any) -> str:
    """A field value as Bulk CSV text: empty for null, ``true``/``false``, ISO dates as stored."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)
