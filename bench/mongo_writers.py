"""How fast the embedded MongoDB (SecantusDB) takes a backfill's inserts from one writer and from
two at once: the floor under `bench/backfill.py --processes 2`, where two runconsumers apply the
re-read topic's partitions side by side.

    python bench/mongo_writers.py [--documents 100000] [--batch 1000]

Each round inserts `--documents` Account-shaped documents (26 fields, indexes as a mapping with a
Salesforce key field has) in `insert_many` batches into a fresh collection, from one thread and
then from two threads with a client each (half the documents each); the figures are the wall time
and SecantusDB's CPU seconds.
"""
from __future__ import annotations

import argparse
import os
import threading
import time
from datetime import datetime, timezone

from common import RESULTS, CpuSeconds, save, stack_pids
from pymongo import ASCENDING, MongoClient

from devstack import Stack, StackConfig
from devstack.health import free_port


def document(n: int) -> dict:
    now = datetime.now(timezone.utc)
    return {"_id": f"001Hn{n:013d}", "sf_id": f"001Hn{n:013d}", "name": f"Account {n}", "accountNumber": f"AN-{n}",
            "type": "Customer", "industry": "Energy", "annualRevenue": n * 10.5, "numberOfEmployees": n % 5000,
            "phone": "+1 555 0100", "website": "https://example.com", "billingStreet": f"{n} Main Street",
            "billingCity": "Springfield", "billingState": "IL", "billingPostalCode": "62701",
            "billingCountry": "USA", "rating": "Hot", "description": "x" * 80, "customerTier": "Gold",
            "mongoId": None, "createdDate": now, "lastModifiedDate": now, "systemModstamp": now,
            "isDeleted": False, "ownerId": "005Hn0000000001", "site": "", "sicDesc": "",
            "_sync": {"sf": {"modstamp": now, "version": 1}}}


def insert(uri: str, collection: str, numbers: range, batch: int) -> None:
    client = MongoClient(uri)
    target = client.bench[collection]
    for start in range(numbers.start, numbers.stop, batch):
        target.insert_many([document(n) for n in range(start, min(start + batch, numbers.stop))], ordered=False)
    client.close()


def prepare(uri: str, collection: str) -> None:
    client = MongoClient(uri)
    target = client.bench[collection]
    target.create_index([("sf_id", ASCENDING), ("_id", ASCENDING)], name="sf_id_lookup")
    target.create_index([("sf_id", ASCENDING)], name="sf_id_1", unique=True,
                        partialFilterExpression={"sf_id": {"$type": "string"}})
    client.close()


def timed(stack: Stack, collection: str, writers: int, documents: int, batch: int) -> dict:
    prepare(stack.mongodb_uri, collection)
    cpu = CpuSeconds({"secantusdb": stack_pids(stack)["mongo"]})
    share = documents // writers
    threads = [threading.Thread(target=insert, args=(stack.mongodb_uri, collection,
                                                     range(w * share, (w + 1) * share), batch))
               for w in range(writers)]
    started = time.monotonic()
    cpu.start()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    seconds = time.monotonic() - started
    return {"writers": writers, "seconds": round(seconds, 2), "documents_per_second": round(documents / seconds),
            "secantusdb_cpu_seconds": cpu.stop()["secantusdb"], "load_average": os.getloadavg()[0]}


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--documents", type=int, default=100_000)
    parser.add_argument("--batch", type=int, default=1000)
    parser.add_argument("--rounds", type=int, default=2)
    args = parser.parse_args()
    config = StackConfig(root=RESULTS / "mongo-writers-stack", kafka_port=free_port(), mongo_port=free_port(),
                         salesforce_port=free_port(), salesforce_pubsub_port=free_port(), services=("mongo",))
    stack = Stack(config)
    try:
        stack.start()
        rounds = [timed(stack, f"r{r}w{writers}", writers, args.documents, args.batch)
                  for r in range(args.rounds) for writers in (1, 2)]
        save("mongo-writers", {"documents": args.documents, "batch": args.batch, "rounds": rounds})
    finally:
        stack.stop()


if __name__ == "__main__":
    main()
