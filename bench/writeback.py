"""MongoDB -> Salesforce write-back, and echo writes in a bidirectional soak.

    python bench/writeback.py [--records 10000] [--soak-minutes 10] [--bulk-write-threshold N]

1. N Accounts are seeded and backfilled into MongoDB (two-way mapping).
2. All N documents are updated in MongoDB; only the MongoDB capture and Salesforce apply
   workers run, so the emulator's API usage counts exactly the write-back's calls.
   Next to it, a plain script makes the same kind of change with sObject Collections
   PATCHes 200 at a time: both rates and their ratio. Timed two ways:
   - end to end: from the start of the benchmark's own `update_many` (which loads the same
     single-threaded SecantusDB the pipeline reads and writes) to the last commit;
   - backlog: the mapping is paused, the N updates are made, and the clock runs from resume
     to the last commit, like the plain script, which is handed its changes ready-made.
   `--bulk-write-threshold` sets SYNC_BULK_WRITE_THRESHOLD: a value above --records keeps the
   write-back on sObject Collections, a lower one lets the governor send the backlog through
   Bulk API 2.0 ingest jobs; both phases report the API calls they used.
3. Soak: every worker runs while Salesforce edits go to one half of the records and MongoDB
   edits to the other half. A write by the sync to a Salesforce record that was only
   edited in Salesforce (or to a document only edited in MongoDB) is an echo write.
"""
from __future__ import annotations

import argparse
import json
import random
import sqlite3
import tempfile
import threading
import time
from pathlib import Path

from common import (
    CommittedOffsets,
    CpuSeconds,
    manage,
    product_env,
    salesforce,
    save,
    stack_pids,
    start_consumers,
    start_stack,
    stop_started,
    wait_until,
)
from pymongo import MongoClient

from sfemulator.control import EmulatorControl

CLIENT = "sfmongosync"
PAUSE = ("from connectors.operations.controls import set_paused; from connectors.models import ObjectMapping; "
         "set_paused(ObjectMapping.objects.get(name='accounts'), {paused}, by='bench')")


def plain_composite_updates(sf, ids: list[str], value: str) -> float:
    started = time.monotonic()
    for start in range(0, len(ids), 200):
        records = [{"attributes": {"type": "Account"}, "id": i, "Description": value} for i in ids[start:start + 200]]
        sf.restful("composite/sobjects", method="PATCH", json={"allOrNone": False, "records": records})
    return time.monotonic() - started


def soak(stack, env, sf, control, collection, ids: list[str], minutes: float, workdir: Path) -> dict:
    # Records whose Mongo_Id__c was filled in Salesforce live under that MongoDB id, not the Salesforce Id.
    document_ids = {d["sf_id"]: d["_id"] for d in collection.find({}, {"sf_id": 1})}
    salesforce_half = set(ids[: len(ids) // 2])
    mongo_half = [document_ids[i] for i in ids[len(ids) // 2:]]
    consumers = start_consumers(env, workdir / "soak.log")
    mongo_writes_on_mongo_half = 0
    stream = collection.watch([{"$match": {"operationType": "update",
                                           "updateDescription.updatedFields._sync.event_id": {"$exists": True}}}])
    done = threading.Event()

    def count_mongo_echoes() -> None:
        nonlocal mongo_writes_on_mongo_half
        mongo_half_set = set(mongo_half)
        while not done.is_set():
            change = stream.try_next()
            if change and change["documentKey"]["_id"] in mongo_half_set:
                mongo_writes_on_mongo_half += 1

    watcher = threading.Thread(target=count_mongo_echoes, daemon=True)
    watcher.start()
    first_seq = max((c["seq"] for c in _all_changes(control, 0)[-1:]), default=0)
    rng = random.Random(11)
    deadline = time.monotonic() + minutes * 60
    edits = {"salesforce": 0, "mongodb": 0}
    salesforce_ids = sorted(salesforce_half)
    while time.monotonic() < deadline:
        sf.Account.update(rng.choice(salesforce_ids), {"Phone": f"555-{rng.randint(0, 9999):04d}"})
        collection.update_one({"_id": rng.choice(mongo_half)}, {"$set": {"description": f"soak {rng.random()}"}})
        edits["salesforce"] += 1
        edits["mongodb"] += 1
        time.sleep(0.5)
    time.sleep(15)  # let the last edits settle before counting
    done.set()
    our_writes = [c for c in _all_changes(control, first_seq) if c.get("client") == CLIENT]
    consumers.terminate()
    consumers.wait(timeout=60)
    return {
        "minutes": minutes,
        "edits": edits,
        "sync_writes_to_salesforce": len(our_writes),
        "echo_writes_to_salesforce": sum(1 for c in our_writes if c["recordId"] in salesforce_half),
        "echo_writes_to_mongodb": mongo_writes_on_mongo_half,
    }


def kafka_backlog_phase(env: dict[str, str], control: EmulatorControl, collection, applied: CommittedOffsets,
                        records: int, workdir: Path) -> dict:
    """N changes already waiting in Kafka when sf-apply starts (it was down, or paused at the API
    limit, while capture ran): the backlog the governor sees whole. The clock and the API calls
    count from sf-apply's start (its login included) to its last commit."""
    capture = start_consumers(env, workdir / "capture.log", only=("mongo-capture",))
    collection.update_many({}, {"$set": {"description": "kafka backlog"}})
    # The capture's own count of what Kafka acknowledged (its heartbeat): the topic's end offsets,
    # as Tansu reported them in one run, fell short of what was acknowledged.
    wait_until(lambda: _capture_published(workdir, capture.pid) >= records, timeout=1800, interval=0.5)
    capture.terminate()
    capture.wait(timeout=60)
    usage_before, applied_before = control.usage()["used"], applied.total()
    started = time.monotonic()
    apply = start_consumers({**env, "LOG_LEVEL": "INFO"}, workdir / "kafka-backlog.log", only=("sf-apply",))
    wait_until(lambda: applied.total() >= applied_before + records, timeout=1800, interval=0.2)
    seconds = time.monotonic() - started
    calls = control.usage()["used"] - usage_before
    apply.terminate()
    apply.wait(timeout=60)
    _check_written_back(collection, "kafka backlog", records)
    return {"seconds": round(seconds, 2), "salesforce_api_calls": calls,
            "includes": "runconsumers start-up, Kafka read, read of current documents, Salesforce writes, write-back"}


def _capture_published(workdir: Path, pid: int) -> int:
    """Changes the mongo-capture of process `pid` published, from its heartbeat in the bench's database."""
    with sqlite3.connect(workdir / "bench.sqlite3") as db:
        row = db.execute("SELECT counters FROM connectors_workerstatus WHERE name LIKE 'mongo-capture:%' AND pid = ?",
                         (pid,)).fetchone()
    return int(json.loads(row[0]).get("events_published", 0)) if row else 0


def _check_written_back(collection, value: str, expected: int) -> None:
    written_back = collection.count_documents({"_sync.base.Description": value})
    assert written_back == expected, f"only {written_back} of {expected} documents carry the write-back"


def _all_changes(control: EmulatorControl, after: int) -> list[dict]:
    out: list[dict] = []
    while True:
        batch = control.changes(after=after, limit=10000)
        if not batch:
            return out
        out += batch
        after = batch[-1]["seq"]


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--records", type=int, default=10_000)
    parser.add_argument("--soak-minutes", type=float, default=10.0)
    parser.add_argument("--salesforce-latency-ms", type=int, default=0,
                        help="Delay every emulator API response, for both runs: a real org answers a "
                             "200-record composite call in roughly 0.3-2 s, the emulator in milliseconds.")
    parser.add_argument("--bulk-write-threshold", type=int, default=None,
                        help="SYNC_BULK_WRITE_THRESHOLD for the run (default: the product's, 10,000)")
    args = parser.parse_args()

    stack = start_stack(f"writeback-{args.records}", seed_accounts=args.records)
    latency = f"-latency{args.salesforce_latency_ms}" if args.salesforce_latency_ms else ""
    bulk = f"-bulk{args.bulk_write_threshold}" if args.bulk_write_threshold else ""
    name = f"writeback-{args.records}{latency}{bulk}"
    threshold = {"SYNC_BULK_WRITE_THRESHOLD": str(args.bulk_write_threshold)} if args.bulk_write_threshold else {}
    try:
        sf = salesforce(stack)
        control = EmulatorControl(stack.salesforce_url, stack.salesforce_ca, sf.session_id)
        ids = [r["Id"] for r in sf.query_all("SELECT Id FROM Account")["records"]]
        workdir = Path(tempfile.mkdtemp(prefix="bench-writeback-"))
        env = product_env(stack, workdir, SYNC_POLL_INTERVAL_SECONDS="1", **threshold)
        manage(env, "migrate", "--noinput")
        manage(env, "setupsync", "--objects", "Account", "--direction", "both")
        collection = MongoClient(stack.mongodb_uri, tz_aware=True)[env["MONGODB_DATABASE"]]["accounts"]

        backfill = start_consumers(env, workdir / "backfill.log")
        wait_until(lambda: collection.estimated_document_count() >= len(ids), timeout=900)
        backfill.terminate()
        backfill.wait(timeout=60)

        # Only the MongoDB -> Salesforce workers, so every API call counted is the write-back's.
        write_back = start_consumers({**env, "LOG_LEVEL": "INFO"}, workdir / "writeback.log",
                                     only=("mongo-capture", "sf-apply"))
        wait_until(lambda: "starting" in (workdir / "writeback.log").read_text(), timeout=60)
        time.sleep(3)  # let the consumer group settle: this is a benchmark, not a test
        if args.salesforce_latency_ms:
            control.set_faults(latency_ms=args.salesforce_latency_ms)
        usage_before = control.usage()["used"]
        applied = CommittedOffsets(env, f"{env['KAFKA_TOPIC_PREFIX']}.sf-apply",
                                   f"{env['KAFKA_TOPIC_PREFIX']}.mongo.accounts")
        applied_before = applied.total()
        started = time.monotonic()
        collection.update_many({}, {"$set": {"description": "written back"}})
        # Offsets are committed only after Salesforce answered and the write-back landed.
        wait_until(lambda: applied.total() >= applied_before + len(ids), timeout=1800, interval=0.2)
        ours_seconds = time.monotonic() - started
        _check_written_back(collection, "written back", len(ids))
        calls = control.usage()["used"] - usage_before

        manage(env, "shell", "-c", PAUSE.format(paused=True))
        time.sleep(2)  # capture closes its stream within a second of seeing the flag
        collection.update_many({}, {"$set": {"description": "backlog"}})
        applied_before = applied.total()
        backlog_usage_before = control.usage()["used"]
        cpu = CpuSeconds({**stack_pids(stack), "runconsumers": write_back.pid})
        manage(env, "shell", "-c", PAUSE.format(paused=False))
        started = time.monotonic()
        cpu.start()
        wait_until(lambda: applied.total() >= applied_before + len(ids), timeout=1800, interval=0.2)
        backlog_seconds = time.monotonic() - started
        backlog_cpu = cpu.stop()
        backlog_calls = control.usage()["used"] - backlog_usage_before
        _check_written_back(collection, "backlog", len(ids))
        write_back.terminate()
        write_back.wait(timeout=60)
        kafka_backlog = kafka_backlog_phase(env, control, collection, applied, len(ids), workdir)
        applied.close()

        cpu = CpuSeconds(stack_pids(stack))
        cpu.start()
        plain_seconds = plain_composite_updates(sf, ids, "plain script")
        plain_cpu = cpu.stop()
        control.clear_faults()
        soak_figures = soak(stack, env, sf, control, collection, ids, args.soak_minutes, workdir) \
            if args.soak_minutes > 0 else None

        save(name, {
            "records": len(ids),
            "salesforce_latency_ms": args.salesforce_latency_ms,
            "pipeline": {"seconds": round(ours_seconds, 2), "records_per_second": round(len(ids) / ours_seconds),
                         "salesforce_api_calls": calls,
                         "includes": "the benchmark's update_many, change stream, Kafka round trip, "
                                     "read of current documents, write-back"},
            "pipeline_backlog": {"seconds": round(backlog_seconds, 2),
                                 "records_per_second": round(len(ids) / backlog_seconds),
                                 "includes": "resume (up to 1 s), change stream, Kafka round trip, "
                                             "read of current documents, write-back",
                                 "cpu_seconds": backlog_cpu, "salesforce_api_calls": backlog_calls},
            "bulk_write_threshold": args.bulk_write_threshold,
            "kafka_backlog": kafka_backlog,
            "plain_script": {"seconds": round(plain_seconds, 2),
                             "records_per_second": round(len(ids) / plain_seconds),
                             "cpu_seconds": plain_cpu,
                             "salesforce_api_calls": -(-len(ids) // 200)},
            "ratio_pipeline_to_plain": round(plain_seconds / ours_seconds, 3),
            "ratio_backlog_to_plain": round(plain_seconds / backlog_seconds, 3),
            "soak": soak_figures,
        })
    finally:
        stop_started()
        stack.stop()


if __name__ == "__main__":
    main()
