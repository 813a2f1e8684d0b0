"""Backfill N Accounts from the emulator into MongoDB: our pipeline (Salesforce -> Kafka ->
MongoDB, `runconsumers`) next to a plain script (simple-salesforce query_all + pymongo bulk
upserts), in the same run, on the same services. Also the peak RSS of runconsumers.

    python bench/backfill.py [--accounts 100000]
"""
from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

from common import (
    CommittedOffsets,
    PeakRss,
    manage,
    product_env,
    salesforce,
    save,
    start_consumers,
    start_stack,
    wait_until,
)
from pymongo import MongoClient, UpdateOne

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
    """The apply group's committed offsets (committed only after MongoDB accepted each batch)
    first, one count at the end."""
    prefix = env["KAFKA_TOPIC_PREFIX"]
    offsets = CommittedOffsets(env, f"{prefix}.mongo-apply", f"{prefix}.sf.Account")

    def check() -> bool:
        return offsets.total() >= total and database.accounts.estimated_document_count() >= total

    return check, offsets


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--accounts", type=int, default=100_000)
    args = parser.parse_args()

    stack = start_stack(f"backfill-{args.accounts}", seed_accounts=args.accounts)
    try:
        sf = salesforce(stack)
        total = sf.query("SELECT COUNT() FROM Account")["totalSize"]
        workdir = Path(tempfile.mkdtemp(prefix="bench-backfill-"))
        env = product_env(stack, workdir, SYNC_POLL_INTERVAL_SECONDS="1")
        mongo = MongoClient(stack.mongodb_uri)
        database = mongo[env["MONGODB_DATABASE"]]

        plain_moved, plain_seconds = plain_script(stack, database)

        manage(env, "migrate", "--noinput")
        manage(env, "setupsync", "--objects", "Account", "--direction", "sf_to_mongo")
        started = time.monotonic()
        consumers = start_consumers(env, workdir / "runconsumers.log")
        rss = PeakRss(consumers.pid)
        done, probe = applied_everything(env, database, total)
        wait_until(done, timeout=1800, every=rss.sample)
        ours_seconds = time.monotonic() - started
        probe.close()
        consumers.terminate()
        consumers.wait(timeout=60)

        save(f"backfill-{args.accounts}", {
            "accounts": total,
            "plain_script": {"records": plain_moved, "seconds": round(plain_seconds, 2),
                             "records_per_second": round(plain_moved / plain_seconds)},
            "pipeline": {"records": total, "seconds": round(ours_seconds, 2),
                         "records_per_second": round(total / ours_seconds),
                         "includes": "process start-up, topic creation, Kafka round trip, type conversion"},
            "ratio_pipeline_to_plain": round((total / ours_seconds) / (plain_moved / plain_seconds), 3),
            "runconsumers_peak_rss_mb": round(rss.peak / 2**20, 1),
        })
    finally:
        stack.stop()


if __name__ == "__main__":
    main()
