"""Query execution and server-side cursors (``nextRecordsUrl`` paging).

A query resolves *all* matching rowids once, in order, and keeps them as a
cursor; each page then fetches only its slice of rows by rowid.  Pages are
therefore cheap and consistent (the membership and order are fixed when the
query runs; field values are read when the page is fetched, as on a real org).
Cursors live in memory and expire after 15 minutes without use.
"""
from __future__ import annotations

import threading
import time
from collections import OrderedDict
from dataclasses import dataclass

from . import ids
from .errors import ApiError
from .schema import get_object
from .soql import CompiledQuery, column_metadata, compile_query, parse
from .soql.compiler import Resolver
from .store import Store

DEFAULT_BATCH = 2000
MIN_BATCH = 200
MAX_BATCH = 2000
CURSOR_TTL_S = 15 * 60
MAX_CURSORS = 1000


@dataclass
class Cursor:
    compiled: CompiledQuery
    rowids: list[int]
    batch: int
    last_used: float


def parse_batch_size(header: str | None) -> int:
    """``Sforce-Query-Options: batchSize=N`` -> page size clamped to 200..2000."""
    if not header:
        return DEFAULT_BATCH
    for part in header.split(","):
        key, _, value = part.strip().partition("=")
        if key.strip().lower() == "batchsize":
            try:
                return max(MIN_BATCH, min(MAX_BATCH, int(value.strip())))
            except ValueError:
                raise ApiError(400, "INVALID_BATCH_SIZE", f"Invalid batch size: {value.strip()}") from None
    return DEFAULT_BATCH


class QueryEngine:
    """Runs SOQL against a :class:`Store` and serves follow-up pages."""

    def __init__(self, store: Store, resolve: Resolver = get_object) -> None:
        self.store = store
        self.resolve = resolve  # which objects SOQL names (the Tooling API has its own)
        self._cursors: OrderedDict[str, Cursor] = OrderedDict()
        self._lock = threading.Lock()
        self._seq = int(time.time()) % 1_000_000 * 1000  # fresh locators after a restart

    def run(self, soql: str | None, include_deleted: bool, batch: int, version: str) -> dict:
        """Execute ``soql``; returns the REST query response body."""
        compiled = self._compile(soql, include_deleted)
        if compiled.count_only:
            total = self.store.read(compiled.count_sql, compiled.params)[0][0]
            return {"totalSize": total, "done": True, "records": []}
        if compiled.aggregate is not None:
            return self._aggregate(compiled)
        rowids = [r[0] for r in self.store.read(compiled.id_sql, compiled.params)]
        cursor = Cursor(compiled, rowids, batch, time.monotonic())
        locator = self._register(cursor) if len(rowids) > batch else None
        return self._page(cursor, locator, 0, version)

    def open_cursor(self, soql: str | None, include_deleted: bool) -> Cursor:
        """Compile ``soql`` and fix its matching rows now (the Bulk API's query jobs page through
        them later with :meth:`records`); raises the REST query errors for bad SOQL."""
        compiled = self._compile(soql, include_deleted)
        rowids = [] if compiled.count_only or compiled.aggregate is not None else \
            [r[0] for r in self.store.read(compiled.id_sql, compiled.params)]
        return Cursor(compiled, rowids, MAX_BATCH, time.monotonic())

    def records(self, cursor: Cursor, offset: int, count: int, version: str) -> list[dict]:
        """``count`` records of ``cursor`` from ``offset``, as the REST query returns them."""
        return self._page(Cursor(cursor.compiled, cursor.rowids, count, cursor.last_used),
                          None, offset, version)["records"]

    def columns(self, soql: str | None, include_deleted: bool) -> dict:
        """``/query?q=…&columns=true``: the column metadata of ``soql`` (it is not run)."""
        return column_metadata(self._compile(soql, include_deleted))

    def _compile(self, soql: str | None, include_deleted: bool) -> CompiledQuery:
        if not soql or not soql.strip():
            raise ApiError(400, "MALFORMED_QUERY", "A query string has to be specified")
        return compile_query(parse(soql), include_deleted=include_deleted, resolve=self.resolve)

    def _aggregate(self, compiled: CompiledQuery) -> dict:
        """Aggregate results come in one page of ``AggregateResult`` records (no cursor)."""
        plan = compiled.aggregate
        assert plan is not None
        records = []
        for row in plan.rows(self.store.read, compiled.params):
            rec: dict = {"attributes": {"type": "AggregateResult"}}
            for name, value, is_bool in zip(plan.names, row, plan.booleans, strict=True):
                rec[name] = bool(value) if is_bool and value is not None else value
            records.append(rec)
        return {"totalSize": len(records), "done": True, "records": records}

    def more(self, locator_and_offset: str, version: str) -> dict:
        """Serve ``/query/{locator}-{offset}``."""
        locator, _, offset_text = locator_and_offset.rpartition("-")
        with self._lock:
            self._expire()
            cursor = self._cursors.get(locator)
            if cursor is not None:
                self._cursors.move_to_end(locator)
                cursor.last_used = time.monotonic()
        if cursor is None or not offset_text.isdigit() or int(offset_text) > len(cursor.rowids):
            raise ApiError(400, "INVALID_QUERY_LOCATOR", "invalid query locator")
        return self._page(cursor, locator, int(offset_text), version)

    # -- internals -----------------------------------------------------------
    def _register(self, cursor: Cursor) -> str:
        with self._lock:
            self._expire()
            self._seq += 1
            locator = ids.make_id("01g", self._seq)
            self._cursors[locator] = cursor
            while len(self._cursors) > MAX_CURSORS:
                self._cursors.popitem(last=False)
        return locator

    def _expire(self) -> None:
        cutoff = time.monotonic() - CURSOR_TTL_S
        for key in [k for k, c in self._cursors.items() if c.last_used < cutoff]:
            del self._cursors[key]

    def _page(self, cursor: Cursor, locator: str | None, offset: int, version: str) -> dict:
        chunk = cursor.rowids[offset: offset + cursor.batch]
        records = []
        if chunk:
            rows = self.store.read(cursor.compiled.page_sql(len(chunk)), chunk)
            position = {rid: i for i, rid in enumerate(chunk)}
            rows.sort(key=lambda r: position[r[0]])
            build = cursor.compiled.make_builder(version)
            records = [build(r) for r in rows]
            if cursor.compiled.children:
                cursor.compiled.attach_children(self.store.read, [r[1] for r in rows], records, version)
        end = offset + len(chunk)
        body: dict = {"totalSize": len(cursor.rowids), "done": end >= len(cursor.rowids)}
        if not body["done"] and locator:
            body["nextRecordsUrl"] = f"/services/data/v{version}/query/{locator}-{end}"
        body["records"] = records
        return body
