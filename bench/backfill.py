"""Backfill N Accounts from the emulator into MongoDB: our pipeline (Salesforce -> Kafka ->
MongoDB, `runconsumers`) next to a plain script (simple-salesforce query_all + pymongo bulk
upserts), in the same run, on the same services. Also the peak RSS of runconsumers, its CPU
per record, and the Salesforce API calls each side made (the emulator's daily usage counter).

    python bench/backfill.py [--accounts 100000] [--bulk-threshold N] [--no-plain] [--processes N]
                             [--range-size N] [--salesforce-latency-ms M]

A re-read of more than --bulk-threshold records runs as one Bulk API 2.0 query job (the
product's SYNC_BULK_REREAD_THRESHOLD); a threshold above --accounts keeps it on REST pages.
Start-up is timed to the first committed offset of the re-read (the first batch in MongoDB);
--no-plain leaves the plain script out (memory runs at a million records). --processes N runs N
`runconsumers` side by side (each with every worker kind), and reports the CPU each of them and
each service used; --range-size sets SYNC_REREAD_RANGE_SIZE, the records per key range of a split
re-read; --salesforce-latency-ms delays every Salesforce API answer to our pipeline by M ms (a real
org's pace; the plain script runs before it is set). BENCH_PYSPY=/dir/name samples every
runconsumers and SecantusDB with py-spy.
"""
from __future__ import annotations

import argparse
import os
import tempfile
import time
from pathlib import Path

from common import (
    CommittedOffsets,
    CpuSeconds,
    PeakRss,
    manage,
    product_env,
    profile,
    salesforce,
    save,
    stack_pids,
    start_consumers,
    start_stack,
    stop_process,
    stop_started,
    wait_until,
)
from pymongo import MongoClient, UpdateOne

from sfemulator.control import EmulatorControl

FIELDS = ["Name", "AccountNumber", "Type", "Industry", "AnnualRevenue", "NumberOfEmployees", "Phone", "Website",
          "BillingStreet", "BillingCity", "BillingState", "BillingPostalCode", "BillingCountry", "Rating",
          "Description", "Customer_Tier__c", "Mongo_Id__c", "CreatedDate", "LastModifiedDate", "SystemModstamp"]


def plain_script(stack, database) -> tuple[int, float]:
    """What a person would write without us: page through the query, bulk-upsert 2,000 at a time."""
    sf = salesforce(stack)
    started = time.monotonic()
    moved = 0
    batch = []
    for record in sf.query_all_iter(f"SELECT Id, {', '.join(FIELDS)} FROM Account"):
        record.pop("attributes", None)
        batch.append(UpdateOne({"_id": record["Id"]}, {"$set": record}, upsert=True))
        if len(batch) == 2000:
            database.plain_accounts.bulk_write(batch, ordered=False)
            moved += len(batch)
            batch = []
    if batch:
        database.plain_accounts.bulk_write(batch, ordered=False)
        moved += len(batch)
    return moved, time.monotonic() - started


def applied_everything(env: dict[str, str], database, total: int):
    """The re-read apply group's committed offsets (committed only after MongoDB accepted each
    batch; the initial load is a re-read, on its own topic) first, one count at the end."""
    prefix = env["KAFKA_TOPIC_PREFIX"]
    offsets = CommittedOffsets(env, f"{prefix}.mongo-reread", f"{prefix}.sf.Account.reread")

    def check() -> bool:
        return offsets.total() >= total and database.accounts.estimated_document_count() >= total

    return check, offsets


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--accounts", type=int, default=100_000)
    parser.add_argument("--bulk-threshold", type=int, default=10_000,
                        help="re-reads of more records go through Bulk API 2.0 (SYNC_BULK_REREAD_THRESHOLD)")
    parser.add_argument("--no-plain", action="store_true", help="time only the pipeline (no plain script)")
    parser.add_argument("--processes", type=int, default=1, help="runconsumers processes side by side")
    parser.add_argument("--range-size", type=int, default=None,
                        help="records per key range of a split re-read (SYNC_REREAD_RANGE_SIZE)")
    parser.add_argument("--salesforce-latency-ms", type=int, default=0,
                        help="delay every Salesforce API answer to the pipeline by this much")
    args = parser.parse_args()

    stack = start_stack(f"backfill-{args.accounts}", seed_accounts=args.accounts)
    try:
        sf = salesforce(stack)
        total = sf.query("SELECT COUNT() FROM Account")["totalSize"]
        workdir = Path(tempfile.mkdtemp(prefix="bench-backfill-"))
        ranges = {"SYNC_REREAD_RANGE_SIZE": str(args.range_size)} if args.range_size else {}
        env = product_env(stack, workdir, SYNC_POLL_INTERVAL_SECONDS="1",
                          SYNC_BULK_REREAD_THRESHOLD=str(args.bulk_threshold), **ranges)
        mongo = MongoClient(stack.mongodb_uri)
        database = mongo[env["MONGODB_DATABASE"]]
        control = EmulatorControl(stack.salesforce_url, stack.salesforce_ca, sf.session_id)

        plain_moved, plain_seconds, plain_calls = 0, 0.0, 0
        if not args.no_plain:
            calls_before = control.usage()["used"]
            plain_moved, plain_seconds = plain_script(stack, database)
            plain_calls = control.usage()["used"] - calls_before

        if args.salesforce_latency_ms:
            control.set_faults(latency_ms=args.salesforce_latency_ms)
        manage(env, "migrate", "--noinput")
        manage(env, "setupsync", "--objects", "Account", "--direction", "sf_to_mongo")
        calls_before = control.usage()["used"]
        started = time.monotonic()
        consumers = [start_consumers(env, workdir / f"runconsumers-{n}.log") for n in range(1, args.processes + 1)]
        services = stack_pids(stack)
        if "mongo" in services:
            profile(services["mongo"], "secantusdb")
        names = [f"runconsumers-{n}" for n in range(1, args.processes + 1)]
        cpu = CpuSeconds({**dict(zip(names, (c.pid for c in consumers), strict=True)), **services})
        cpu.start()
        rss = PeakRss(consumers[0].pid)
        done, probe = applied_everything(env, database, total)
        first_commit: dict[str, float] = {}

        def sample() -> None:
            rss.sample()
            if not first_commit and probe.total() > 0:
                first_commit.update(seconds=time.monotonic() - started, rss=rss.peak)

        wait_until(done, timeout=3600, every=sample, interval=0.1)
        ours_seconds = time.monotonic() - started
        cpu_by_process = cpu.stop()
        cpu_seconds = sum(cpu_by_process[name] for name in names)
        # Live polls (one a second) count too: the backfill's share is the rest.
        ours_calls = control.usage()["used"] - calls_before
        probe.close()
        for process in consumers:
            stop_process(process)

        plain = None if args.no_plain else {
            "records": plain_moved, "seconds": round(plain_seconds, 2),
            "records_per_second": round(plain_moved / plain_seconds), "api_calls": plain_calls}
        suffix = (f"-x{args.processes}" if args.processes > 1 else "") + (
            f"-latency{args.salesforce_latency_ms}" if args.salesforce_latency_ms else "")
        save(f"backfill-{args.accounts}{suffix}", {
            "accounts": total,
            "load_average": [round(x, 2) for x in os.getloadavg()],
            "plain_script": plain,
            "processes": args.processes,
            "reread_range_size": args.range_size,
            "salesforce_latency_ms": args.salesforce_latency_ms,
            "cpu_seconds_by_process": cpu_by_process,
            "pipeline": {"records": total, "seconds": round(ours_seconds, 2),
                         "records_per_second": round(total / ours_seconds),
                         "api_calls": ours_calls, "bulk_reread_threshold": args.bulk_threshold,
                         "runconsumers_cpu_ms_per_record": round(1000 * cpu_seconds / total, 3),  # all of them
                         "includes": "process start-up, topic creation, Kafka round trip, type conversion"},
            "startup_to_first_commit_seconds": round(first_commit.get("seconds", ours_seconds), 2),
            "ratio_pipeline_to_plain": (round((total / ours_seconds) / (plain_moved / plain_seconds), 3)
                                        if plain else None),
            "runconsumers_rss_mb_at_first_commit": round(first_commit.get("rss", rss.peak) / 2**20, 1),
            "runconsumers_peak_rss_mb": round(rss.peak / 2**20, 1),  # of the first process
        })
    finally:
        stop_started()
        stack.stop()


if __name__ == "__main__":
    main()
