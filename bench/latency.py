"""Latency from a Salesforce edit to the MongoDB document, at a steady edit rate with the
default 1 s poll interval (or CDC). Arrival is observed through a MongoDB change stream. Each
run starts on a fresh org; the CPU each process used and the load average are recorded.

    python bench/latency.py [--rate 50] [--seconds 60] [--capture cdc]
    python bench/latency.py --capture cdc --rate 1000 --seconds 30 --edits-per-call 200 --accounts 5000
"""
from __future__ import annotations

import argparse
import os
import random
import shutil
import statistics
import tempfile
import threading
import time
from pathlib import Path

from common import (
    RESULTS,
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


def percentile(values: list[float], share: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(share * (len(ordered) - 1))))]


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rate", type=float, default=50.0)
    parser.add_argument("--seconds", type=float, default=60.0)
    parser.add_argument("--accounts", type=int, default=1000)
    parser.add_argument("--edits-per-call", type=int, default=1,
                        help="Edits per REST call: above 1, an sObject Collections update of that many records. "
                             "1,000 edits/s needs ~200: one call per edit passes the daily API limit (15,000) in "
                             "seconds, and the emulator makes ~200 edits/s in calls of 10, ~900/s in calls of 200. "
                             "Give --accounts well above the rate: a record edited again before its previous "
                             "edit was applied arrives only with its last name.")
    parser.add_argument("--capture", choices=("polling", "cdc"), default="polling",
                        help="Salesforce capture: SOQL polling every second, or Change Data Capture (Pub/Sub API).")
    args = parser.parse_args()

    # A fresh org each run: a reused one runs out of daily API calls (15,000) after a few runs.
    shutil.rmtree(RESULTS / f"latency-{args.accounts}-stack", ignore_errors=True)
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
        cpu = CpuSeconds({**stack_pids(stack), "runconsumers": consumers.pid})
        cpu.start()
        load_before = os.getloadavg()
        random.Random(7).shuffle(ids)
        count = int(args.rate * args.seconds)
        per_call = max(1, args.edits_per_call)
        interval = per_call / args.rate
        calls = (count + per_call - 1) // per_call
        next_at = time.monotonic()
        for call in range(calls):
            # Each record at most once per len(ids)/rate seconds: polling reads current state, so a
            # record edited twice within one poll would show only its second name.
            numbers = range(call * per_call, min(count, (call + 1) * per_call))
            edits = [(f"lat-{n}", ids[n % len(ids)]) for n in numbers]
            now = time.time()
            for name, _ in edits:
                sent[name] = now
            if per_call == 1:
                sf.Account.update(edits[0][1], {"Name": edits[0][0]})
            else:
                results = sf.restful("composite/sobjects", method="PATCH", json={"allOrNone": True, "records": [
                    {"attributes": {"type": "Account"}, "id": record_id, "Name": name} for name, record_id in edits]})
                failed = [r for r in results if not r.get("success")]
                if failed:
                    raise RuntimeError(f"{len(failed)} of {len(edits)} edits failed: {failed[0]}")
            next_at += interval
            time.sleep(max(0.0, next_at - time.monotonic()))
        achieved_rate = count / (time.monotonic() - (next_at - calls * interval))
        try:
            wait_until(lambda: len(arrived) >= count * 0.999, timeout=60)
        except TimeoutError:  # reported below: "arrived" says how many did
            print(f"only {len(arrived)} of {count} edits arrived within 60 s of the last one")
        cpu_seconds = cpu.stop()
        load_after = os.getloadavg()
        done.set()
        consumers.terminate()
        consumers.wait(timeout=60)

        latencies = [arrived[n] - sent[n] for n in sent if n in arrived]
        save(f"latency-{int(args.rate)}" + ("-cdc" if args.capture == "cdc" else ""), {
            "edits": count,
            "target_rate_per_second": args.rate,
            "achieved_rate_per_second": round(achieved_rate, 1),
            "capture": args.capture,
            "edits_per_call": per_call,
            "poll_interval_seconds": 1.0 if args.capture == "polling" else None,
            "arrived": len(latencies),
            "p50_seconds": round(statistics.median(latencies), 3),
            "p90_seconds": round(percentile(latencies, 0.90), 3),
            "p99_seconds": round(percentile(latencies, 0.99), 3),
            "max_seconds": round(max(latencies), 3),
            # CPU of each process while the edits ran and arrived; the 1-minute load average of
            # the machine before and after (others' work shows there too).
            "cpu_seconds": cpu_seconds,
            "load_average_1m": [round(load_before[0], 2), round(load_after[0], 2)],
        })
    finally:
        stop_started()
        stack.stop()


if __name__ == "__main__":
    main()
