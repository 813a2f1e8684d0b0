"""Production's split of the workers, as real processes: two capture-only `runconsumers --only
sf-capture` share the key ranges of one mapping's split initial load, one of them is killed in
the middle of a range and the other takes that range over at its position; an apply-only
`runconsumers --only mongo-apply` writes every record to MongoDB once."""
from __future__ import annotations

import os
import re
import signal
import socket
import sqlite3
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from connectors.mongo.client import connect
from tests.connectors.helpers import salesforce_for_tests, wait_for

ROOT = Path(__file__).resolve().parents[2]
RANGE, CHUNK = 10, 3


class Processes:
    """runconsumers processes started by a test, each with its log; all killed at the end."""

    def __init__(self, env: dict[str, str], logs: Path) -> None:
        self.env, self.logs = env, logs
        self.started: dict[str, subprocess.Popen] = {}

    def start(self, name: str, *only: str) -> subprocess.Popen:
        argv = [sys.executable, "manage.py", "runconsumers", *[a for kind in only for a in ("--only", kind)]]
        with (self.logs / f"{name}.log").open("ab") as out:
            self.started[name] = subprocess.Popen(argv, cwd=ROOT, env=self.env, stdout=out, stderr=subprocess.STDOUT)
        return self.started[name]

    def log(self, name: str) -> str:
        return (self.logs / f"{name}.log").read_text()

    def stop_all(self) -> None:
        for process in self.started.values():
            if process.poll() is None:
                process.kill()
                process.wait(timeout=30)


@pytest.fixture
def processes(stack, unique, tmp_path, emulator) -> Iterator[Processes]:
    env = {**os.environ, "DATABASE_URL": f"sqlite:///{tmp_path / 'db.sqlite3'}", **stack.connection_env(),
           "KAFKA_TOPIC_PREFIX": unique, "MONGODB_DATABASE": unique, "SYNC_POLL_INTERVAL_SECONDS": "0.3",
           "SYNC_REREAD_RANGE_SIZE": str(RANGE), "SYNC_REREAD_CHUNK_SIZE": str(CHUNK), "PYTHONUNBUFFERED": "1"}
    for args in (("migrate", "--noinput"), ("setupsync", "--objects", "Account", "--direction", "sf_to_mongo")):
        subprocess.run([sys.executable, "manage.py", *args], cwd=ROOT, env=env, check=True, capture_output=True)
    running = Processes(env, tmp_path)
    yield running
    running.stop_all()
    client = connect(stack.mongodb_uri)
    client.drop_database(unique)
    client.close()


def ranges(database: Path) -> list[tuple[int, str, int, bool]]:
    """(number, lease owner, published, done) of the current re-read's ranges."""
    with sqlite3.connect(database) as db:
        return db.execute(
            "SELECT r.number, r.lease_owner, r.published, r.done FROM connectors_rereadrange r "
            "JOIN connectors_capturecheckpoint c ON c.id = r.checkpoint_id "
            "WHERE r.generation = c.reread_generation ORDER BY r.number").fetchall()


def test_two_capture_processes_share_a_backfill_and_one_takes_over_the_others_range(stack, processes, emulator,
                                                                                     tmp_path):
    sf = salesforce_for_tests(stack)
    records = {r["Id"] for r in sf.query_all("SELECT Id FROM Account")["records"]}
    everything = sf.query_all("SELECT Id FROM Account", include_deleted=True)["totalSize"]
    assert everything >= 4 * RANGE
    database = tmp_path / "db.sqlite3"
    accounts = connect(stack.mongodb_uri)[processes.env["MONGODB_DATABASE"]]["accounts"]
    emulator.set_faults(latency_ms=100)  # a range takes a few calls: both processes get some
    first, second = processes.start("capture-1", "sf-capture"), processes.start("capture-2", "sf-capture")
    processes.start("apply", "mongo-apply")
    owners = {f"{socket.gethostname()}:{p.pid}": name for name, p in (("capture-1", first), ("capture-2", second))}

    def mid_range() -> tuple[int, str] | None:
        """A range one capture process is in the middle of, while the other reads one too."""
        busy = {owner: number for number, owner, published, done in ranges(database) if owner and not done}
        held = [(busy[o], o) for o in owners if o in busy]
        started = [(n, o) for n, o in held if any(r[0] == n and r[2] > 0 for r in ranges(database))]
        return started[0] if len(held) == 2 and started else None

    number, owner = wait_for(mid_range, timeout=90, interval=0.02, message="both capture processes reading ranges")
    victim = owners[owner]
    processes.started[victim].send_signal(signal.SIGKILL)
    processes.started[victim].wait(timeout=30)
    survivor = next(name for name in owners.values() if name != victim)
    # Its lease runs out (30 s; set here, as the expiry would): the survivor takes the range over.
    with sqlite3.connect(database) as db:
        db.execute("UPDATE connectors_rereadrange SET lease_expires = '2000-01-01 00:00:00' WHERE number = ?",
                   (number,))
    emulator.clear_faults()

    wait_for(lambda: ranges(database) and all(r[3] for r in ranges(database)), timeout=90,
             message="every range read")
    wait_for(lambda: {d["_id"] for d in accounts.find({}, {"_id": 1})} >= records, timeout=90,
             message="every record in MongoDB")
    assert accounts.count_documents({}) == len(records), "no duplicate documents"
    assert sum(r[2] for r in ranges(database)) == everything, "every record published and counted once"
    with sqlite3.connect(database) as db:
        published, total, done = db.execute(
            "SELECT reread_published, reread_total, backfill_done FROM connectors_capturecheckpoint").fetchone()
    assert (published, total, done) == (everything, everything, 1)
    claims = re.findall(r"reading key range (\d+) \S+ \S+ from (.+)", processes.log(survivor))
    assert any(int(n) == number and rest.strip().endswith("records in") for n, rest in claims), \
        f"the survivor took range {number} over at its position: {claims}"
