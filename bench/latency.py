"""Latency from a Salesforce edit to the MongoDB document, at a steady edit rate with the
default 1 s poll interval. Arrival is observed through a MongoDB change stream.

    python bench/latency.py [--rate 50] [--seconds 60]
"""
from __future__ import annotations

import argparse
import random
import statistics
import tempfile
import threading
import time
from pathlib import Path

from common import manage, product_env, salesforce, save, start_consumers, start_stack, stop_started, wait_until
from pymongo import MongoClient


def percentile(values: list[float], share: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(share * (len(ordered) - 1))))]


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rate", type=float, default=50.0)
    parser.add_argument("--seconds", type=float, default=60.0)
    parser.add_argument("--accounts", type=int, default=1000)
    parser.add_argument("--capture", choices=("polling", "cdc"), default="polling",
                        help="Salesforce capture: SOQL polling every second, or Change Data Capture (Pub/Sub API).")
    args = parser.parse_args()

    stack = start_stack(f"latency-{args.accounts}", seed_accounts=args.accounts)
    try:
        sf = salesforce(stack)
        ids = [r["Id"] for r in sf.query_all("SELECT Id FROM Account")["records"]]
        workdir = Path(tempfile.mkdtemp(prefix="bench-latency-"))
        env = product_env(stack, workdir, SYNC_POLL_INTERVAL_SECONDS="1")
        manage(env, "migrate", "--noinput")
        manage(env, "setupsync", "--objects", "Account", "--direction", "sf_to_mongo", "--capture", args.capture)
        consumers = start_consumers(env, workdir / "runconsumers.log")
        collection = MongoClient(stack.mongodb_uri, tz_aware=True)[env["MONGODB_DATABASE"]]["accounts"]
        wait_until(lambda: collection.estimated_document_count() >= len(ids), timeout=300)

        sent: dict[str, float] = {}
        arrived: dict[str, float] = {}
        stream = collection.watch([{"$match": {"operationType": {"$in": ["update", "replace"]}}}])
        done = threading.Event()

        def watch() -> None:
            while not done.is_set():
                change = stream.try_next()
                if change is None:
                    continue
                name = (change.get("updateDescription", {}).get("updatedFields", {}) or {}).get("name", "")
                if name.startswith("lat-") and name not in arrived:
                    arrived[name] = time.time()

        watcher = threading.Thread(target=watch, daemon=True)
        watcher.start()
        random.Random(7).shuffle(ids)
        interval = 1.0 / args.rate
        count = int(args.rate * args.seconds)
        next_at = time.monotonic()
        for n in range(count):
            name = f"lat-{n}"
            sent[name] = time.time()
            # Each record at most once per len(ids)/rate seconds: polling reads current state, so a
            # record edited twice within one poll would show only its second name.
            sf.Account.update(ids[n % len(ids)], {"Name": name})
            next_at += interval
            time.sleep(max(0.0, next_at - time.monotonic()))
        achieved_rate = count / (time.monotonic() - (next_at - count * interval))
        wait_until(lambda: len(arrived) >= count * 0.999, timeout=60)
        done.set()
        consumers.terminate()
        consumers.wait(timeout=60)

        latencies = [arrived[n] - sent[n] for n in sent if n in arrived]
        save(f"latency-{int(args.rate)}" + ("-cdc" if args.capture == "cdc" else ""), {
            "edits": count,
            "target_rate_per_second": args.rate,
            "achieved_rate_per_second": round(achieved_rate, 1),
            "capture": args.capture,
            "poll_interval_seconds": 1.0 if args.capture == "polling" else None,
            "arrived": len(latencies),
            "p50_seconds": round(statistics.median(latencies), 3),
            "p90_seconds": round(percentile(latencies, 0.90), 3),
            "p99_seconds": round(percentile(latencies, 0.99), 3),
            "max_seconds": round(max(latencies), 3),
        })
    finally:
        stop_started()
        stack.stop()


if __name__ == "__main__":
    main()
