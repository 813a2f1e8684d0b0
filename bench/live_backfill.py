"""Live edits during a backfill: latency from a Salesforce edit to the MongoDB document at a
steady edit rate, first idle, then while a backfill job (started as the console and API do)
re-reads the whole object; every edit a different record; lost edits counted (never arrived,
and MongoDB still differs from Salesforce at the end). Also how long the job ran and when it
said done against when MongoDB had every re-read row.

    python bench/live_backfill.py [--accounts 100000] [--capture polling|cdc] [--rates 1,10]
"""
from __future__ import annotations

import argparse
import random
import sqlite3
import statistics
import tempfile
import threading
import time
import uuid
from pathlib import Path

from common import manage, product_env, salesforce, save, start_consumers, start_stack, stop_started, wait_until
from pymongo import MongoClient

RUN = uuid.uuid4().hex[:6]
START_BACKFILL = ("from connectors import jobs; from connectors.models import ObjectMapping; "
                  "jobs.start(ObjectMapping.objects.get(name='accounts'), 'backfill')")


def percentile(values: list[float], share: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(share * (len(ordered) - 1))))]


class Arrivals:
    """Watches the collection's change stream for the names the edits set."""

    def __init__(self, collection) -> None:  # type: ignore[no-untyped-def]
        self.times: dict[str, float] = {}
        self.seen = 0
        self._stream = collection.watch([{"$match": {"operationType": {"$in": ["update", "replace", "insert"]}}}])
        self._done = threading.Event()
        self._thread = threading.Thread(target=self._watch, daemon=True)
        self._thread.start()

    def _watch(self) -> None:
        while not self._done.is_set():
            change = self._stream.try_next()
            if change is None:
                continue
            self.seen += 1
            fields = (change.get("updateDescription") or {}).get("updatedFields") or change.get("fullDocument") or {}
            name = fields.get("name") or ""
            if name.startswith("lat-") and name not in self.times:
                self.times[name] = time.time()

    def close(self) -> None:
        self._done.set()
        self._thread.join(timeout=5)
        self._stream.close()


def job_state(database: Path) -> dict | None:
    with sqlite3.connect(database) as db:
        row = db.execute("SELECT state, progress_done, progress_total, message FROM connectors_syncjob "
                         "WHERE kind = 'backfill' ORDER BY id DESC LIMIT 1").fetchone()
    return dict(zip(("state", "done", "total", "message"), row, strict=True)) if row else None


def edit_at_rate(sf, ids: list[str], rate: float, until, sent: dict[str, tuple[str, float]], tag: str) -> float:  # type: ignore[no-untyped-def]
    """Edit one record after another at `rate` a second until `until()`; returns the rate achieved."""
    interval = 1.0 / rate
    started = next_at = time.monotonic()
    count = 0
    while not until():
        name = f"lat-{RUN}-{tag}-{count}"  # unique across runs: the emulator's data is reused
        record = ids.pop()
        sent[name] = (record, time.time())
        sf.Account.update(record, {"Name": name})
        count += 1
        next_at += interval
        time.sleep(max(0.0, next_at - time.monotonic()))
    return count / max(time.monotonic() - started, 1e-9)


def figures(sent: dict[str, tuple[str, float]], arrivals: Arrivals, collection, sf) -> dict:  # type: ignore[no-untyped-def]
    latencies = [arrivals.times[name] - at for name, (_, at) in sent.items() if name in arrivals.times]
    missing = {name: record for name, (record, _) in sent.items() if name not in arrivals.times}
    lost = 0
    for record in missing.values():
        in_mongo = (collection.find_one({"_id": record}, {"name": 1}) or {}).get("name")
        in_salesforce = sf.Account.get(record)["Name"]
        lost += in_mongo != in_salesforce
    result: dict = {"edits": len(sent), "arrived": len(latencies), "lost": lost}
    if latencies:
        result.update(p50_seconds=round(statistics.median(latencies), 3),
                      p99_seconds=round(percentile(latencies, 0.99), 3), max_seconds=round(max(latencies), 3))
    return result


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--accounts", type=int, default=100_000)
    parser.add_argument("--capture", choices=("polling", "cdc"), default="polling")
    parser.add_argument("--rates", default="1,10", help="edits a second, comma-separated")
    parser.add_argument("--idle-seconds", type=float, default=30.0)
    parser.add_argument("--max-backfill-seconds", type=float, default=1800.0)
    args = parser.parse_args()
    rates = [float(r) for r in args.rates.split(",")]

    stack = start_stack(f"live-backfill-{args.accounts}", seed_accounts=args.accounts)
    arrivals: Arrivals | None = None
    try:
        sf = salesforce(stack)
        ids = [r["Id"] for r in sf.query_all("SELECT Id FROM Account")["records"]]
        total = len(ids)
        random.Random(17).shuffle(ids)
        workdir = Path(tempfile.mkdtemp(prefix="bench-live-backfill-"))
        env = product_env(stack, workdir, SYNC_POLL_INTERVAL_SECONDS="1")
        manage(env, "migrate", "--noinput")
        manage(env, "setupsync", "--objects", "Account", "--direction", "sf_to_mongo", "--capture", args.capture)
        start_consumers(env, workdir / "runconsumers.log")
        collection = MongoClient(stack.mongodb_uri, tz_aware=True)[env["MONGODB_DATABASE"]]["accounts"]
        loaded = wait_until(lambda: collection.estimated_document_count() >= len(ids), timeout=3600, interval=1)
        arrivals = Arrivals(collection)
        time.sleep(5)  # let the initial load's tail settle: this is a benchmark, not a test
        database = workdir / "bench.sqlite3"
        runs = []
        for rate in rates:
            idle: dict[str, tuple[str, float]] = {}
            ends = time.monotonic() + args.idle_seconds
            idle_rate = edit_at_rate(sf, ids, rate, lambda: time.monotonic() >= ends, idle, f"idle{rate:g}")
            during: dict[str, tuple[str, float]] = {}
            manage(env, "shell", "-c", START_BACKFILL)
            started = time.monotonic()
            ends = started + args.max_backfill_seconds
            said_done: list[float] = []

            def job_done() -> bool:
                state = job_state(database)
                if state and state["state"] in ("done", "failed") and not said_done:
                    said_done.append(time.monotonic() - started)
                return bool(said_done) or time.monotonic() >= ends

            during_rate = edit_at_rate(sf, ids, rate, job_done, during, f"backfill{rate:g}")
            wanted = {*idle, *during}
            try:
                wait_until(lambda: wanted <= set(arrivals.times), timeout=120, interval=0.5)
            except TimeoutError:
                pass  # counted below as lost or late
            runs.append({
                "rate_per_second": rate,
                "idle": {**figures(idle, arrivals, collection, sf), "achieved_rate": round(idle_rate, 2)},
                "during_backfill": {**figures(during, arrivals, collection, sf),
                                    "achieved_rate": round(during_rate, 2)},
                "backfill_job": {**(job_state(database) or {}),
                                 "seconds_until_done": round(said_done[0], 1) if said_done else None},
            })
        save(f"live-backfill-{args.accounts}-{args.capture}", {
            "accounts": total,
            "capture": args.capture,
            "poll_interval_seconds": 1.0 if args.capture == "polling" else None,
            "initial_load_seconds": round(loaded, 1),
            "changes_seen": arrivals.seen,
            "runs": runs,
        })
    finally:
        if arrivals is not None:
            arrivals.close()
        stop_started()
        stack.stop()


if __name__ == "__main__":
    main()
