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
from .soql import CompiledQuery, compile_query, parse
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

    def __init__(self, store: Store) -> None:
        self.store = store
        self._cursors: OrderedDict[str, Cursor] = OrderedDict()
        self._lock = threading.Lock()
        self._seq = int(time.time()) % 1_000_000 * 1000  # fresh locators after a restart

    def run(self, soql: str | None, include_deleted: bool, batch: int, version: str) -> dict:
        """Execute ``soql``; returns the REST query response body."""
        if not soql or not soql.strip():
            raise ApiError(400, "MALFORMED_QUERY", "A query string has to be specified")
        compiled = compile_query(parse(soql), include_deleted=include_deleted)
        if compiled.count_only:
            total = self.store.read(compiled.count_sql, compiled.params)[0][0]
            return {"totalSize": total, "done": True, "records": []}
        rowids = [r[0] for r in self.store.read(compiled.id_sql, compiled.params)]
        cursor = Cursor(compiled, rowids, batch, time.monotonic())
        locator = self._register(cursor) if len(rowids) > batch else None
        return self._page(cursor, locator, 0, version)

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
        end = offset + len(chunk)
        body: dict = {"totalSize": len(cursor.rowids), "done": end >= len(cursor.rowids)}
        if not body["done"] and locator:
            body["nextRecordsUrl"] = f"/services/data/v{version}/query/{locator}-{end}"
        body["records"] = records
        return body
