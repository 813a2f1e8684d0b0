"""SQLite persistence for records, sessions and org state.

Contract:
* one table per sObject (``sobj_<Name>``) with one column per schema field,
  derived from :mod:`sfemulator.schema`; values are stored in wire-ready form
  (datetimes as fixed-width UTC text so text order == instant order,
  booleans as 0/1, Ids as canonical 18-char strings);
* deletes are soft (IsDeleted=1), like the recycle bin;
* reads use a per-thread connection (WAL: readers never block writers);
  writes are serialised by one process-wide lock so SQLite never reports BUSY.
"""
from __future__ import annotations

import sqlite3
import threading
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from . import ids
from .schema import OBJECTS, USER, Field, SObject
from .timefmt import ModstampClock, format_ms

_SQL_TYPES = {"boolean": "INTEGER", "int": "INTEGER", "double": "REAL", "currency": "REAL",
              "percent": "REAL"}


def q(name: str) -> str:
    """Quote an SQL identifier (schema names are trusted, quoting keeps keywords like Order safe)."""
    return '"' + name.replace('"', '""') + '"'


#: Internal columns stored on every record table but never described, queried or returned.
#: ``_LastModifiedClient``: the ``Sforce-Call-Options: client=`` value of the last write.
HIDDEN_COLUMNS = {"_LastModifiedClient": "TEXT"}
CLIENT_COLUMN = "_LastModifiedClient"


def columns(obj: SObject) -> list[str]:
    """Stored columns: every schema field, IsDeleted for objects that don't expose it, hidden columns."""
    cols = [f.name for f in obj.fields]
    if "IsDeleted" not in cols:
        cols.insert(1, "IsDeleted")
    cols.extend(HIDDEN_COLUMNS)
    return cols


def _column_ddl(obj: SObject, name: str) -> str:
    f = obj.field(name)
    if f is None and name in HIDDEN_COLUMNS:
        return f"{q(name)} {HIDDEN_COLUMNS[name]}"
    sql_type = _SQL_TYPES.get(f.type, "TEXT") if f else "INTEGER"
    collate = " COLLATE NOCASE" if f is not None and f.is_text else ""
    return f"{q(name)} {sql_type}{collate}"


def create_table_sql(obj: SObject) -> str:
    """``CREATE TABLE IF NOT EXISTS`` for ``obj``'s record table (its :func:`columns`)."""
    ddl = ", ".join(_column_ddl(obj, n) for n in columns(obj))
    return f"CREATE TABLE IF NOT EXISTS {q(obj.table)} ({ddl})"


class Store:
    """All persistent state of one emulated org (one SQLite file)."""

    def __init__(self, path: Path | str) -> None:
        self.path = str(path)
        self._local = threading.local()
        self._all_conns: list[sqlite3.Connection] = []
        self._conns_lock = threading.Lock()
        self._write_lock = threading.RLock()
        #: Write transactions committed by this process (the only writer of the file): state that
        #: only a write can change need not be read again while this number stays the same.
        self.commits = 0
        self._counters: dict[str, int] = {}
        self._order_number = 0
        self._init_db()
        self.clock = ModstampClock(self._max_modstamp_ms())

    # -- connections -------------------------------------------------------
    def conn(self) -> sqlite3.Connection:
        """This thread's connection (autocommit; writes go through :meth:`write`)."""
        c = getattr(self._local, "conn", None)
        if c is None:
            c = sqlite3.connect(self.path, isolation_level=None, check_same_thread=False, timeout=30)
            c.execute("PRAGMA journal_mode=WAL")
            c.execute("PRAGMA synchronous=NORMAL")
            c.execute("PRAGMA cache_size=-65536")
            c.execute("PRAGMA temp_store=MEMORY")
            self._local.conn = c
            with self._conns_lock:
                self._all_conns.append(c)
        return c

    @contextmanager
    def write(self) -> Iterator[sqlite3.Connection]:
        """One write transaction, serialised across threads; rolls back on error."""
        with self._write_lock:
            c = self.conn()
            depth = getattr(self._local, "depth", 0)
            if depth:  # nested: join the outer transaction
                self._local.depth = depth + 1
                try:
                    yield c
                finally:
                    self._local.depth = depth
                return
            c.execute("BEGIN IMMEDIATE")
            self._local.depth = 1
            try:
                yield c
            except BaseException:
                c.execute("ROLLBACK")
                raise
            finally:
                self._local.depth = 0
            c.execute("COMMIT")
            self.commits += 1  # after COMMIT: whoever sees the new count also sees the data

    @contextmanager
    def no_writes(self) -> Iterator[None]:
        """Hold writers off (no transaction is opened): what is read inside includes every
        write stamped so far, none is half-way between taking its stamp and committing."""
        with self._write_lock:
            yield

    @contextmanager
    def savepoint(self, c: sqlite3.Connection) -> Iterator[None]:
        """A nested unit inside an open :meth:`write`: undone alone if its body raises."""
        c.execute("SAVEPOINT rec")
        try:
            yield
        except BaseException:
            c.execute("ROLLBACK TO rec")
            c.execute("RELEASE rec")
            raise
        c.execute("RELEASE rec")

    def close(self) -> None:
        with self._conns_lock:
            for c in self._all_conns:
                try:
                    c.close()
                except sqlite3.Error:
                    pass
            self._all_conns.clear()
        self._local = threading.local()

    # -- schema ------------------------------------------------------------
    def _init_db(self) -> None:
        with self.write() as c:
            c.execute("CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT)")
            c.execute("CREATE TABLE IF NOT EXISTS sessions (token TEXT PRIMARY KEY, user_id TEXT NOT NULL,"
                      " issued_ms INTEGER NOT NULL, expires_ms INTEGER NOT NULL)")
            # Append-only change log (the future CDC source); seq is never reused.
            c.execute("CREATE TABLE IF NOT EXISTS change_log (seq INTEGER PRIMARY KEY AUTOINCREMENT,"
                      " record_id TEXT NOT NULL, object TEXT NOT NULL, change_type TEXT NOT NULL,"
                      " fields TEXT NOT NULL, client TEXT, origin TEXT, user_id TEXT NOT NULL,"
                      " commit_ts TEXT NOT NULL, txn TEXT, data TEXT)")
            # txn groups one transaction's rows; data holds the written values (CDC event bodies).
            have = {r[1] for r in c.execute("PRAGMA table_info(change_log)")}
            for col in ("txn", "data"):
                if col not in have:
                    c.execute(f"ALTER TABLE change_log ADD COLUMN {col} TEXT")
            c.execute("CREATE INDEX IF NOT EXISTS change_log_record ON change_log (record_id)")
            # Records purged from the recycle bin: getDeleted keeps reporting them.
            c.execute("CREATE TABLE IF NOT EXISTS purged (record_id TEXT PRIMARY KEY, object TEXT NOT NULL,"
                      " deleted_date TEXT NOT NULL, purged_date TEXT NOT NULL)")
            for obj in OBJECTS.values():
                c.execute(create_table_sql(obj))
                self._ensure_columns(c, obj, columns(obj))
                t = obj.table
                c.execute(f"CREATE UNIQUE INDEX IF NOT EXISTS {q(t + '_id')} ON {q(t)} (Id)")
                # The sync's keyset pagination walks (SystemModstamp, Id).
                c.execute(f"CREATE INDEX IF NOT EXISTS {q(t + '_modstamp')} ON {q(t)} (SystemModstamp, Id)")
                for f in obj.fields:
                    if (f.type == "reference" and f.name not in ("CreatedById", "LastModifiedById")
                            or f.external_id or f.unique):
                        c.execute(f"CREATE INDEX IF NOT EXISTS {q(t + '_' + f.name)} ON {q(t)} ({q(f.name)})")
            for obj in OBJECTS.values():
                row = c.execute(f"SELECT MAX(Id) FROM {q(obj.table)}").fetchone()
                self._counters[obj.name] = _counter_of(row[0]) if row[0] else 0
            row = c.execute(f"SELECT MAX(OrderNumber) FROM {q(OBJECTS['Order'].table)}").fetchone()
            self._order_number = int(row[0]) if row[0] else 99
            if self._counters["User"] == 0:
                self._insert_admin_user(c)

    def _ensure_columns(self, c: sqlite3.Connection, obj: SObject, cols: list[str]) -> None:
        """Add columns for fields added to the schema after the DB was created."""
        have = {r[1].lower() for r in c.execute(f"PRAGMA table_info({q(obj.table)})")}
        for n in cols:
            if n.lower() not in have:
                c.execute(f"ALTER TABLE {q(obj.table)} ADD COLUMN {_column_ddl(obj, n)}")

    def add_columns(self, obj: SObject, names: list[str]) -> None:
        """Give ``obj``'s table a column for each of ``names`` it lacks (fields added at run time)."""
        with self.write() as c:
            self._ensure_columns(c, obj, names)

    def _insert_admin_user(self, c: sqlite3.Connection) -> None:
        now = format_ms(0)
        self._counters["User"] = 1
        row = {"Id": ids.ADMIN_USER_ID, "IsDeleted": 0, "Username": "admin@demo.sfemu",
               "LastName": "Admin", "FirstName": "Demo", "Name": "Demo Admin",
               "Email": "admin@demo.sfemu", "IsActive": 1, "CreatedDate": now,
               "CreatedById": ids.ADMIN_USER_ID, "LastModifiedDate": now,
               "LastModifiedById": ids.ADMIN_USER_ID, "SystemModstamp": now}
        self.insert_rows(c, USER, [row])

    def _max_modstamp_ms(self) -> int:
        from .timefmt import parse_datetime
        best = 0
        for obj in OBJECTS.values():
            row = self.conn().execute(f"SELECT MAX(SystemModstamp) FROM {q(obj.table)}").fetchone()
            if row[0]:
                dt = parse_datetime(row[0])
                if dt is not None:
                    best = max(best, int(dt.timestamp() * 1000))
        return best

    # -- ids ---------------------------------------------------------------
    def allocate_ids(self, obj: SObject, n: int = 1) -> list[str]:
        """Reserve ``n`` new Ids for ``obj`` (monotonic, so Id order == creation order)."""
        with self._write_lock:
            start = self._counters[obj.name] + 1
            self._counters[obj.name] += n
        return [ids.make_id(obj.key_prefix, i) for i in range(start, start + n)]

    def next_order_numbers(self, n: int = 1) -> list[str]:
        with self._write_lock:
            start = self._order_number + 1
            self._order_number += n
        return [f"{i:08d}" for i in range(start, start + n)]

    # -- records -----------------------------------------------------------
    def insert_rows(self, c: sqlite3.Connection, obj: SObject, rows: Sequence[dict]) -> None:
        """Insert complete rows inside an open :meth:`write` transaction."""
        if not rows:
            return
        cols = columns(obj)
        sql = (f"INSERT INTO {q(obj.table)} ({', '.join(q(n) for n in cols)}) "
               f"VALUES ({', '.join('?' for _ in cols)})")
        c.executemany(sql, [tuple(r.get(n) for n in cols) for r in rows])

    def update_row(self, c: sqlite3.Connection, obj: SObject, record_id: str, values: dict) -> None:
        if not values:
            return
        assignments = ", ".join(f"{q(k)} = ?" for k in values)
        c.execute(f"UPDATE {q(obj.table)} SET {assignments} WHERE Id = ?", (*values.values(), record_id))

    def fetch(self, obj: SObject, record_id: str, fields: Iterable[str] | None = None) -> dict | None:
        """One row (including deleted ones) as {column: stored value}, or None."""
        cols = list(fields) if fields is not None else columns(obj)
        if "IsDeleted" not in cols:
            cols.append("IsDeleted")
        cur = self.conn().execute(
            f"SELECT {', '.join(q(n) for n in cols)} FROM {q(obj.table)} WHERE Id = ?", (record_id,))
        row = cur.fetchone()
        return dict(zip(cols, row, strict=True)) if row else None

    def find_ids(self, obj: SObject, f: Field, value: Any, limit: int = 10) -> list[str]:
        """Non-deleted Ids whose ``f`` equals ``value`` (case-insensitive for text)."""
        cur = self.conn().execute(
            f"SELECT Id FROM {q(obj.table)} WHERE {q(f.name)} = ? AND IsDeleted = 0 ORDER BY rowid LIMIT ?",
            (value, limit))
        return [r[0] for r in cur]

    def delete_row(self, c: sqlite3.Connection, obj: SObject, record_id: str) -> None:
        c.execute(f"DELETE FROM {q(obj.table)} WHERE Id = ?", (record_id,))

    def exists(self, obj: SObject, record_id: str) -> bool:
        cur = self.conn().execute(
            f"SELECT 1 FROM {q(obj.table)} WHERE Id = ? AND IsDeleted = 0", (record_id,))
        return cur.fetchone() is not None

    def count(self, obj: SObject, include_deleted: bool = False) -> int:
        where = "" if include_deleted else " WHERE IsDeleted = 0"
        return self.conn().execute(f"SELECT COUNT(*) FROM {q(obj.table)}{where}").fetchone()[0]

    def is_empty(self) -> bool:
        """True when the org holds no business records (the admin User doesn't count)."""
        return all(self.count(o, include_deleted=True) == 0 for o in OBJECTS.values() if o is not USER)

    def read(self, sql: str, params: Sequence[Any] = ()) -> list[tuple]:
        return self.conn().execute(sql, params).fetchall()

    # -- org key/value state -------------------------------------------------
    def get_meta(self, key: str) -> str | None:
        row = self.conn().execute("SELECT value FROM meta WHERE key = ?", (key,)).fetchone()
        return row[0] if row else None

    def set_meta(self, key: str, value: str) -> None:
        with self.write() as c:
            c.execute("INSERT INTO meta(key, value) VALUES(?, ?) ON CONFLICT(key) DO UPDATE SET value=excluded.value",
                      (key, value))


def _counter_of(record_id: str) -> int:
    """Inverse of :func:`ids.make_id` for the counter part."""
    n = 0
    for ch in record_id[6:15]:
        n = n * 62 + ids.BASE62.index(ch)
    return n
