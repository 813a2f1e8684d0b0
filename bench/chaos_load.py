"""Edits flowing both ways for the fault matrix: creates, updates, deletes and undeletes, made by
"users" on the Salesforce side (REST API; undelete through the emulator's control API) and on
the MongoDB side (plain pymongo writes), on all four demo objects, at a steady rate, bounded in
count and time.

Contract of :class:`EditLoad`:

* Each side edits only its own records (existing ones split by Id, and what it created itself),
  so two sides never edit one record at once: a true conflict would wait for a person by design
  (policy `manual`), and the matrix measures faults, not conflicts.
* Deletes and undeletes touch only records the load created (no children, so no cascades).
* An edit that fails (the fault hits the load's own calls too: a 503, a locked row, the API
  limit, a hung service) is counted in `failed` and is not part of what must arrive.
* `intents` says, per (object, Salesforce Id), which side deleted a record last (and it stayed
  deleted): the comparison tells "a delete not applied" from "a record lost" with it.
"""
from __future__ import annotations

import random
import threading
import time
from collections import Counter
from dataclasses import dataclass, field
from typing import Any, Callable

from bson import ObjectId

from bench.chaos_sync import OBJECTS, SyncUnderTest
from connectors.engine.mapping import to_document
from sfemulator import churn

SALESFORCE, MONGODB = "salesforce", "mongodb"


class _NotNow(Exception):
    """The edit cannot be made yet (nothing eligible); counted as skipped, neither done nor failed."""


_OPERATIONS = (("update", 0.55), ("create", 0.2), ("delete", 0.15), ("undelete", 0.1))


@dataclass
class _Pool:
    """One side's records of one object: the keys it may update, delete and undelete."""

    live: list[Any] = field(default_factory=list)  # Salesforce Ids, or document _ids on the MongoDB side
    created: list[Any] = field(default_factory=list)  # live ones the load created: deletable
    deleted: list[tuple[float, Any]] = field(default_factory=list)  # (when, Id or whole document)

    def restorable(self, after: float) -> list[tuple[float, Any]]:
        now = time.monotonic()
        return [entry for entry in self.deleted if now - entry[0] >= after]


class EditLoad:
    """A background thread making `count` edits at `rate` a second, for at most `seconds`."""

    def __init__(self, sut: SyncUnderTest, rate: float, count: int, seconds: float, seed: int = 1,
                 undelete_after: float = 20.0) -> None:
        """`undelete_after`: a record is undeleted at the earliest this many seconds after its
        delete, as a person restoring it from the recycle bin or a backup would (0 races the
        sync's handling of the delete itself)."""
        self.sut, self.rate, self.count, self.seconds = sut, rate, count, seconds
        self.undelete_after = undelete_after
        self.rng = random.Random(seed)
        self.done = Counter[str]()  # "salesforce Account update" -> n
        self.failed = Counter[str]()
        self.skipped = 0
        self.last_failure = ""
        self.intents: dict[tuple[str, str], str] = {}
        #: `_id`s of the documents the load created (or restored) on the MongoDB side.
        self.born_in_mongodb: set[Any] = set()
        #: Every edit made: (UTC time, side, object, operation, Salesforce Id or _id, values), for
        #: the diagnosis of a record that did not arrive (bench/chaos_diagnose.py).
        self.journal: list[tuple[str, str, str, str, str, dict[str, Any]]] = []
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._sf = sut.salesforce()
        self._control = sut.control(self._sf.session_id)
        self._pools = {(side, name): _Pool() for side in (SALESFORCE, MONGODB) for name in OBJECTS}
        self.started_at = self.finished_at = 0.0

    @property
    def session_id(self) -> str:
        return self._sf.session_id

    # -- running --------------------------------------------------------------------
    def start(self) -> None:
        """Split the existing records between the sides (after the initial load), then edit."""
        self._accounts: dict[str, list[str]] = {}
        for name in OBJECTS:
            ids = sorted(r["Id"] for r in self._sf.query_all(f"SELECT Id FROM {name}")["records"])
            key = self.sut.specs[name].key_field
            # Documents are found by their Salesforce Id: their _id may be another value.
            document_ids = {d.get(key): d["_id"] for d in self.sut.collection(name).find({}, {key: 1})}
            self._pools[(SALESFORCE, name)].live = ids[0::2]
            self._pools[(MONGODB, name)].live = [document_ids[i] for i in ids[1::2] if i in document_ids]
            if name == "Account":  # new children point at existing accounts, which the load never deletes
                self._accounts = {SALESFORCE: ids[0::2], MONGODB: ids[1::2]}
        self.started_at = time.monotonic()
        self._thread = threading.Thread(target=self._run, name="edit-load", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        self.join()

    def join(self, timeout: float | None = None) -> None:
        if self._thread is not None:
            self._thread.join(timeout)

    @property
    def running(self) -> bool:
        return self._thread is not None and self._thread.is_alive()

    def _run(self) -> None:
        interval = 1.0 / self.rate
        next_at = time.monotonic()
        deadline = next_at + self.seconds
        try:
            for _ in range(self.count):
                if self._stop.is_set() or time.monotonic() >= deadline:
                    break
                side = self.rng.choice((SALESFORCE, MONGODB))
                name = self.rng.choice(OBJECTS)
                operation = self._pick(side, name)
                label = f"{side} {name} {operation}"
                try:
                    _retrying_transient(lambda: getattr(self, f"_{side}_{operation}")(name, self._pools[(side, name)]))
                    self.done[label] += 1
                except _NotNow:
                    self.skipped += 1
                except Exception as exc:  # the fault under test hits the load too; counted, not fatal
                    self.failed[label] += 1
                    self.last_failure = f"{label}: {type(exc).__name__}: {str(exc)[:200]}"
                next_at += interval
                time.sleep(max(0.0, next_at - time.monotonic()))
        finally:
            self.finished_at = time.monotonic()

    def _pick(self, side: str, name: str) -> str:
        pool = self._pools[(side, name)]
        roll, operation = self.rng.random(), "update"
        for candidate, weight in _OPERATIONS:
            if roll < weight:
                operation = candidate
                break
            roll -= weight
        if operation == "delete" and not pool.created or \
                operation == "undelete" and not pool.restorable(self.undelete_after):
            return "update"
        return operation

    def _journal(self, side: str, name: str, operation: str, key: Any, values: dict[str, Any] | None = None) -> None:
        now = time.time()
        stamp = time.strftime("%H:%M:%S", time.gmtime(now)) + f".{int(now % 1 * 1000):03d}"
        self.journal.append((stamp, side, name, operation, str(key), values or {}))

    def _values(self, name: str, create: bool, side: str) -> dict[str, Any] | None:
        if create:
            return churn._CREATES[name](self.rng, {"Account": self._accounts[side]})
        return churn._UPDATES[name](self.rng)

    # -- the Salesforce side -------------------------------------------------------------
    def _salesforce_update(self, name: str, pool: _Pool) -> None:
        record_id, values = self.rng.choice(pool.live), self._values(name, False, SALESFORCE)
        getattr(self._sf, name).update(record_id, values)
        self._journal(SALESFORCE, name, "update", record_id, values)

    def _salesforce_create(self, name: str, pool: _Pool) -> None:
        values = self._values(name, True, SALESFORCE)
        record_id = getattr(self._sf, name).create(values)["id"]
        self._journal(SALESFORCE, name, "create", record_id, values)
        pool.live.append(record_id)
        pool.created.append(record_id)

    def _salesforce_delete(self, name: str, pool: _Pool) -> None:
        record_id = pool.created[self.rng.randrange(len(pool.created))]
        getattr(self._sf, name).delete(record_id)
        self._journal(SALESFORCE, name, "delete", record_id)
        pool.created.remove(record_id)
        pool.live.remove(record_id)
        pool.deleted.append((time.monotonic(), record_id))
        self.intents[(name, record_id)] = f"deleted in {SALESFORCE}"

    def _salesforce_undelete(self, name: str, pool: _Pool) -> None:
        entry = self.rng.choice(pool.restorable(self.undelete_after))
        record_id = entry[1]
        self._control.undelete(name, record_id)
        self._journal(SALESFORCE, name, "undelete", record_id)
        pool.deleted.remove(entry)
        pool.live.append(record_id)
        pool.created.append(record_id)
        self.intents.pop((name, record_id), None)

    # -- the MongoDB side ------------------------------------------------------------------
    def _document(self, name: str, values: dict[str, Any]) -> dict[str, Any]:
        return to_document(self.sut.specs[name], values)

    def _mongodb_update(self, name: str, pool: _Pool) -> None:
        document_id = self.rng.choice(pool.live)
        values = self._document(name, self._values(name, False, MONGODB))
        result = self.sut.collection(name).update_one({"_id": document_id}, {"$set": values})
        if result.matched_count != 1:
            raise LookupError(f"no document {document_id!r}")
        self._journal(MONGODB, name, "update", document_id, values)

    def _mongodb_create(self, name: str, pool: _Pool) -> None:
        document = {"_id": ObjectId(), **self._document(name, self._values(name, True, MONGODB))}
        self.sut.collection(name).insert_one(document)
        self._journal(MONGODB, name, "create", document["_id"])
        self.born_in_mongodb.add(document["_id"])
        pool.live.append(document["_id"])
        pool.created.append(document["_id"])

    def _mongodb_delete(self, name: str, pool: _Pool) -> None:
        """Deletes a created document once the sync gave it its Salesforce Id (so the delete can
        be followed); one not written to Salesforce yet is left for a later turn."""
        key = self.sut.specs[name].key_field
        collection = self.sut.collection(name)
        synced = collection.find_one({"_id": {"$in": pool.created}, key: {"$exists": True, "$ne": None}})
        if synced is None:
            raise _NotNow("no created document has its Salesforce Id yet")
        collection.delete_one({"_id": synced["_id"]})
        self._journal(MONGODB, name, "delete", synced["_id"], {key: synced[key]})
        pool.created.remove(synced["_id"])
        pool.live.remove(synced["_id"])
        pool.deleted.append((time.monotonic(), synced))
        self.intents[(name, synced[key])] = f"deleted in {MONGODB}"

    def _mongodb_undelete(self, name: str, pool: _Pool) -> None:
        """Restores a deleted document from a backup: same _id and values, no sync state; the
        sync then makes it a Salesforce record again."""
        spec = self.sut.specs[name]
        entry = self.rng.choice(pool.restorable(self.undelete_after))
        document = entry[1]
        restored = {k: v for k, v in document.items() if k not in ("_sync", spec.key_field)}
        self.sut.collection(name).insert_one(restored)
        self._journal(MONGODB, name, "undelete", document["_id"])
        pool.deleted.remove(entry)
        pool.live.append(document["_id"])
        pool.created.append(document["_id"])

    # -- figures -------------------------------------------------------------------------
    def summary(self) -> dict[str, Any]:
        by_operation = Counter[str]()
        for label, n in self.done.items():
            side, _, operation = label.split(" ")
            by_operation[f"{side} {operation}"] += n
        return {"edits": sum(self.done.values()), "failed_edits": sum(self.failed.values()),
                "skipped_edits": self.skipped,
                "by_side_and_operation": dict(sorted(by_operation.items())),
                "last_failure": self.last_failure,
                "seconds": round((self.finished_at or time.monotonic()) - self.started_at, 1)}


#: What a well-behaved Salesforce client retries (the storms under test hit the edit load too).
_TRANSIENT = ("UNABLE_TO_LOCK_ROW", "503", "Service Unavailable")


def _retrying_transient(edit: Callable[[], Any], attempts: int = 10) -> Any:
    for attempt in range(attempts):
        try:
            return edit()
        except Exception as exc:
            if attempt == attempts - 1 or not any(mark in str(exc) for mark in _TRANSIENT):
                raise
            time.sleep(0.2 * (attempt + 1))
    raise AssertionError("unreachable")
