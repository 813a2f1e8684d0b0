"""The event bus: every change event and platform event with its replay id, in the org's SQLite file.

Contract:
* ``event_bus.replay`` (AUTOINCREMENT, never reused) is the replay id; on the
  wire it is 8 bytes big-endian (:func:`replay_bytes`), opaque to clients.
* Change events are derived from ``change_log`` by :meth:`EventBus.catch_up`
  (the change log is written in the record's own transaction, so only
  committed changes ever become events); it runs under the store's write lock
  before every read and before anything else is put on the bus, so replay
  order == commit order.  Changes of objects whose CDC is disabled at that
  moment are never published.
* Events older than the retention window (72 h by default) are purged; a
  replay id that is not on the bus any more is refused by the subscriber.
* Subscribers poll :meth:`EventBus.after` every 50 ms, so an idle poll costs
  one SQLite read: whether the change log moved is asked of SQLite only after
  a commit (:attr:`Store.commits`), and the oldest event's time is kept in
  memory, written under the bus's lock (this process is the file's only writer).
"""
from __future__ import annotations

import io
import json
import sqlite3
import threading
import time
import uuid
from collections.abc import Sequence
from dataclasses import dataclass

from fastavro import schemaless_writer

from ..schema import OBJECTS
from ..store import Store
from . import changeevents
from .changeevents import ChangeEvent
from .schemas import EventSchema

DEFAULT_RETENTION_S = 72 * 3600
#: The real service sends an empty FetchResponse (keepalive) within 270 s of idleness.
DEFAULT_KEEPALIVE_S = 270.0
DEFAULT_CDC_OBJECTS = ("Account", "Contact", "Opportunity", "Order")
CHANGE_EVENTS_TOPIC = "/data/ChangeEvents"
_CURSOR_KEY = "pubsub:change_log_cursor"
_ENABLED_KEY = "pubsub:cdc_objects"
_CATCH_UP_ROWS = 5000


def replay_bytes(replay: int) -> bytes:
    return replay.to_bytes(8, "big")


def replay_int(raw: bytes) -> int | None:
    """The replay number of wire bytes, or None when they cannot be one of ours."""
    return int.from_bytes(raw, "big") if 0 < len(raw) <= 8 else None


def change_topic(object_name: str) -> str:
    return f"/data/{object_name}ChangeEvent"


def event_topic(event_name: str) -> str:
    return f"/event/{event_name}"


@dataclass(frozen=True)
class BusEvent:
    replay: int
    topic: str
    schema_id: str
    payload: bytes
    event_id: str


def encode(schema: EventSchema, payload: dict) -> bytes:
    buf = io.BytesIO()
    schemaless_writer(buf, schema.parsed, payload)
    return buf.getvalue()


class EventBus:
    """Stores, derives and serves events; settings are live (``/_emulator/pubsub``)."""

    def __init__(self, store: Store) -> None:
        self.store = store
        self.retention_s: float = DEFAULT_RETENTION_S
        self.keepalive_s: float = DEFAULT_KEEPALIVE_S
        #: Held by every writer of event_bus, so the writes and the caches below change together.
        self._lock = threading.Lock()
        #: store.commits when the change log was last found fully on the bus (None: not yet).
        self._caught_up_at: int | None = None
        with store.write() as c:
            c.execute("CREATE TABLE IF NOT EXISTS event_bus (replay INTEGER PRIMARY KEY AUTOINCREMENT,"
                      " topic TEXT NOT NULL, kind TEXT NOT NULL, schema_id TEXT NOT NULL, payload BLOB NOT NULL,"
                      " event_id TEXT NOT NULL, created_ms INTEGER NOT NULL)")
            c.execute("CREATE INDEX IF NOT EXISTS event_bus_topic ON event_bus (topic, replay)")
            #: created_ms of the lowest replay on the bus (None: empty); the purge compares it with the cutoff.
            self._oldest_ms = _read_oldest_ms(c)
        if store.get_meta(_CURSOR_KEY) is None:
            # Changes made before the bus existed (seeding, older runs) are history, not events.
            store.set_meta(_CURSOR_KEY, str(self._last_log_seq()))
        if store.get_meta(_ENABLED_KEY) is None:
            store.set_meta(_ENABLED_KEY, json.dumps(list(DEFAULT_CDC_OBJECTS)))

    # -- CDC selection ----------------------------------------------------------------
    def cdc_objects(self) -> list[str]:
        return json.loads(self.store.get_meta(_ENABLED_KEY) or "[]")

    def set_cdc(self, object_name: str, enabled: bool) -> list[str]:
        """Enable/disable change events of one object; changes made before now keep the old setting."""
        if object_name not in OBJECTS:
            raise ValueError(f"unknown object {object_name!r}; choose from {', '.join(OBJECTS)}")
        self.catch_up()
        names = [n for n in self.cdc_objects() if n != object_name] + ([object_name] if enabled else [])
        self.store.set_meta(_ENABLED_KEY, json.dumps(sorted(names)))
        return self.cdc_objects()

    # -- writing ------------------------------------------------------------------------
    def catch_up(self) -> None:
        """Turn committed change_log rows not yet seen into change events (no SQLite read when there are none)."""
        if not self._log_ahead():
            self._purge()
            return
        with self._lock:
            with self.store.write() as c:
                cursor = int(c.execute("SELECT value FROM meta WHERE key = ?", (_CURSOR_KEY,)).fetchone()[0])
                rows = [changeevents.log_row(r) for r in c.execute(
                    f"SELECT {changeevents.LOG_COLUMNS} FROM change_log WHERE seq > ? ORDER BY seq LIMIT ?",
                    (cursor, _CATCH_UP_ROWS))]
                if len(rows) == _CATCH_UP_ROWS and rows[0].txn != rows[-1].txn:
                    last_txn = rows[-1].txn  # keep transactions whole: the rest comes next time
                    rows = [r for r in rows if r.txn != last_txn]
                if not rows:
                    return
                events = changeevents.from_log(rows, set(self.cdc_objects()))
                self._insert(c, events)
                c.execute("UPDATE meta SET value = ? WHERE key = ?", (str(rows[-1].seq), _CURSOR_KEY))
            self._inserted(events)
        if len(rows) >= _CATCH_UP_ROWS - 1:
            self.catch_up()
        self._purge()

    def _log_ahead(self) -> bool:
        """True when change_log may hold rows not yet on the bus; reads SQLite only after a commit."""
        commits = self.store.commits  # taken first: a commit after it makes the next call look again
        if commits == self._caught_up_at:
            return False
        if self._last_log_seq() > int(self.store.get_meta(_CURSOR_KEY) or 0):
            return True
        self._caught_up_at = commits
        return False

    def _inserted(self, events: Sequence[ChangeEvent]) -> None:
        """Note committed inserts (under ``_lock``): on an empty bus the first one becomes the oldest."""
        if events and self._oldest_ms is None:
            self._oldest_ms = events[0].commit_ms

    def _insert(self, c, events: Sequence[ChangeEvent], kind: str = "cdc") -> list[int]:
        replays = []
        for ev in events:
            topic = change_topic(ev.entity) if kind == "cdc" else event_topic(ev.entity)
            cur = c.execute("INSERT INTO event_bus (topic, kind, schema_id, payload, event_id, created_ms) "
                            "VALUES (?, ?, ?, ?, ?, ?)", (topic, kind, ev.schema.schema_id,
                                                          encode(ev.schema, ev.payload), str(uuid.uuid4()),
                                                          ev.commit_ms))
            replays.append(cur.lastrowid)
        return replays

    def put(self, events: Sequence[ChangeEvent], kind: str) -> list[int]:
        """Append events (platform events: kind "platform"; injected gaps: "cdc"); returns replay numbers."""
        self.catch_up()
        with self._lock:
            with self.store.write() as c:
                replays = self._insert(c, events, kind)
            self._inserted(events)
        return replays

    def emit_gap(self, object_name: str, record_ids: list[str], change_type: str, user_id: str) -> int:
        if object_name not in OBJECTS:
            raise ValueError(f"unknown object {object_name!r}")
        if change_type not in ("GAP_CREATE", "GAP_UPDATE", "GAP_DELETE", "GAP_UNDELETE", "GAP_OVERFLOW"):
            raise ValueError(f"changeType must be a GAP_ type, got {change_type!r}")
        ms = int(time.time() * 1000)
        ev = changeevents.gap_event(object_name, record_ids, change_type, user_id, ms,
                                    changeevents.COMMIT_NUMBER_BASE + self._last_log_seq())
        return self.put([ev], "cdc")[0]

    def _last_log_seq(self) -> int:
        return self.store.read("SELECT COALESCE(MAX(seq), 0) FROM change_log")[0][0]

    def _purge(self) -> None:
        cutoff = int((time.time() - self.retention_s) * 1000)
        if self._oldest_ms is None or self._oldest_ms >= cutoff:
            return
        with self._lock:
            with self.store.write() as c:
                c.execute("DELETE FROM event_bus WHERE created_ms < ?", (cutoff,))
                oldest = _read_oldest_ms(c)
            self._oldest_ms = oldest

    # -- reading ------------------------------------------------------------------------
    @staticmethod
    def _topic_filter(topic: str) -> tuple[str, tuple]:
        if topic == CHANGE_EVENTS_TOPIC:
            return "kind = 'cdc'", ()
        return "topic = ?", (topic,)

    def after(self, topic: str, replay: int, limit: int) -> list[BusEvent]:
        """Up to ``limit`` events of ``topic`` with replay > ``replay``, oldest first."""
        self.catch_up()
        where, params = self._topic_filter(topic)
        rows = self.store.read(f"SELECT replay, topic, schema_id, payload, event_id FROM event_bus WHERE {where}"
                               " AND replay > ? ORDER BY replay LIMIT ?", (*params, replay, limit))
        return [BusEvent(*r) for r in rows]

    def latest(self) -> int:
        """The newest replay number ever assigned (0 when none)."""
        self.catch_up()
        row = self.store.read("SELECT seq FROM sqlite_sequence WHERE name = 'event_bus'")
        return row[0][0] if row else 0

    def earliest_start(self) -> int:
        """The replay to start *after* for EARLIEST: just before the oldest retained event."""
        self.catch_up()
        row = self.store.read("SELECT MIN(replay) FROM event_bus")[0][0]
        return row - 1 if row is not None else self.latest()

    def retained(self, replay: int) -> bool:
        """True when ``replay`` names an event still on the bus (a valid CUSTOM starting point)."""
        self.catch_up()
        return bool(self.store.read("SELECT 1 FROM event_bus WHERE replay = ?", (replay,)))


def _read_oldest_ms(c: sqlite3.Connection) -> int | None:
    """created_ms of the event with the lowest replay, None when the bus is empty."""
    row = c.execute("SELECT created_ms FROM event_bus ORDER BY replay LIMIT 1").fetchone()  # cheap: by key
    return row[0] if row else None
