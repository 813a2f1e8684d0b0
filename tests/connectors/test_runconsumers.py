"""`manage.py runconsumers` as a real process, on SQLite and on PostgreSQL: killed mid-stream
and restarted, it loses nothing and duplicates nothing; SIGTERM stops it cleanly."""
from __future__ import annotations

import os
import random
import signal
import subprocess
import sys
import threading
from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest

from connectors.mongo.client import connect
from tests.connectors.helpers import salesforce_for_tests, wait_for

ROOT = Path(__file__).resolve().parents[2]
POSTGRES_ADMIN_URL = os.environ.get("TEST_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/postgres")


@pytest.fixture(params=["sqlite", "postgresql"])
def database_url(request, tmp_path, unique) -> Iterator[str]:
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'db.sqlite3'}"
        return
    try:
        admin = psycopg.connect(POSTGRES_ADMIN_URL, autocommit=True, connect_timeout=3)
    except psycopg.OperationalError as exc:
        reason = f"no PostgreSQL server at {POSTGRES_ADMIN_URL} ({exc.__class__.__name__}: {str(exc).strip()})"
        if os.environ.get("REQUIRE_POSTGRES"):
            pytest.fail(f"REQUIRE_POSTGRES is set but {reason}")
        pytest.skip(reason)
    admin.execute(f'CREATE DATABASE "{unique}"')
    yield POSTGRES_ADMIN_URL.rsplit("/", 1)[0] + f"/{unique}"
    admin.execute(f'DROP DATABASE "{unique}" WITH (FORCE)')
    admin.close()


@pytest.fixture
def process_env(stack, unique, database_url) -> dict[str, str]:
    return {
        **os.environ,
        "DATABASE_URL": database_url,
        **stack.connection_env(),
        "KAFKA_TOPIC_PREFIX": unique,
        "MONGODB_DATABASE": unique,
        "SYNC_POLL_INTERVAL_SECONDS": "0.3",
        "PYTHONUNBUFFERED": "1",
    }


def manage(env: dict[str, str], *args: str) -> None:
    subprocess.run([sys.executable, "manage.py", *args], cwd=ROOT, env=env, check=True, capture_output=True)


class Consumers:
    """One runconsumers process at a time, its output appended to a log file."""

    def __init__(self, env: dict[str, str], log: Path) -> None:
        self.env, self.log = env, log
        self.process: subprocess.Popen | None = None

    def start(self) -> None:
        with self.log.open("ab") as out:
            self.process = subprocess.Popen([sys.executable, "manage.py", "runconsumers"], cwd=ROOT, env=self.env,
                                            stdout=out, stderr=subprocess.STDOUT)
        self.starts = getattr(self, "starts", 0) + 1

    def wait_running(self) -> None:
        """Until the latest process has built its workers (its signal handlers are in place)."""
        wait_for(lambda: self.log.read_text().count("starting ") >= self.starts, timeout=60,
                 message="runconsumers to start its workers")

    def signal(self, signum: int) -> int:
        assert self.process is not None
        self.process.send_signal(signum)
        return self.process.wait(timeout=60)


@pytest.fixture
def consumers(process_env, tmp_path) -> Iterator[Consumers]:
    manage(process_env, "migrate", "--noinput")
    manage(process_env, "setupsync", "--objects", "Account")
    running = Consumers(process_env, tmp_path / "runconsumers.log")
    yield running
    if running.process and running.process.poll() is None:
        running.process.kill()
        running.process.wait()


def salesforce_state(sf) -> dict[str, str]:
    return {r["Id"]: r["Name"] for r in sf.query_all("SELECT Id, Name FROM Account")["records"]}


def mongo_state(collection) -> dict[str, str]:
    return {d["sf_id"]: d.get("name") for d in collection.find({}, {"sf_id": 1, "name": 1})}


def edit_accounts(sf, count: int, seed: int, done: threading.Event) -> None:
    """A bounded mix of updates, creates and deletes, as a user would make them."""
    rng = random.Random(seed)
    ids = sorted(salesforce_state(sf))
    for n in range(count):
        roll = rng.random()
        if roll < 0.7 and ids:
            sf.Account.update(rng.choice(ids), {"Name": f"Edited {seed}-{n}"})
        elif roll < 0.9:
            ids.append(sf.Account.create({"Name": f"Created {seed}-{n}"})["id"])
        elif ids:
            sf.Account.delete(ids.pop(rng.randrange(len(ids))))
    done.set()


def test_killed_mid_stream_and_restarted_it_loses_and_duplicates_nothing(stack, consumers, process_env):
    sf = salesforce_for_tests(stack)
    client = connect(stack.mongodb_uri)
    accounts = client[process_env["MONGODB_DATABASE"]]["accounts"]
    try:
        consumers.start()
        wait_for(lambda: mongo_state(accounts) == salesforce_state(sf), timeout=90, message="the initial backfill")

        finished = threading.Event()
        editor = threading.Thread(target=edit_accounts, args=(sf, 120, os.getpid(), finished))
        editor.start()
        wait_for(lambda: accounts.count_documents({"name": {"$regex": "^(Edited|Created) "}}) >= 10,
                 message="edits flowing")
        assert consumers.signal(signal.SIGKILL) == -signal.SIGKILL
        consumers.start()
        editor.join(timeout=120)
        assert finished.is_set()

        wait_for(lambda: mongo_state(accounts) == salesforce_state(sf), timeout=90,
                 message="MongoDB to match Salesforce after the restart")
        assert accounts.count_documents({}) == len(salesforce_state(sf)), "no duplicate documents"

        consumers.wait_running()
        assert consumers.signal(signal.SIGTERM) == 0
        assert "all workers stopped" in consumers.log.read_text()
    finally:
        client.drop_database(process_env["MONGODB_DATABASE"])
        client.close()


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
def test_killed_during_write_back_it_creates_no_second_salesforce_record(stack, consumers, process_env):
    sf = salesforce_for_tests(stack)
    client = connect(stack.mongodb_uri)
    accounts = client[process_env["MONGODB_DATABASE"]]["accounts"]
    try:
        consumers.start()
        wait_for(lambda: mongo_state(accounts) == salesforce_state(sf), timeout=90, message="the initial backfill")
        tag = f"Born {os.getpid()}"
        ids = accounts.insert_many([{"name": f"{tag} {n}", "numberOfEmployees": n} for n in range(60)]).inserted_ids
        wait_for(lambda: accounts.count_documents({"_id": {"$in": ids}, "sf_id": {"$exists": True}}) >= 5,
                 message="write-back under way")
        assert consumers.signal(signal.SIGKILL) == -signal.SIGKILL
        consumers.start()

        wait_for(lambda: accounts.count_documents({"_id": {"$in": ids}, "sf_id": {"$exists": True}}) == len(ids),
                 timeout=120, message="every document written back")
        created = sf.query_all(f"SELECT Id, Mongo_Id__c FROM Account WHERE Name LIKE '{tag} %'")["records"]
        assert sorted(r["Mongo_Id__c"] for r in created) == sorted(str(i) for i in ids), "one record per document"
        by_document = {d["_id"]: d["sf_id"] for d in accounts.find({"_id": {"$in": ids}})}
        assert {r["Id"] for r in created} == set(by_document.values())
        consumers.wait_running()
        assert consumers.signal(signal.SIGTERM) == 0
    finally:
        client.drop_database(process_env["MONGODB_DATABASE"])
        client.close()


def test_the_worker_process_loads_no_web_stack():
    """`runconsumers` serves no web: set up as that command, Django imports neither the ASGI
    server (daphne, Twisted) nor django-ninja nor the admin's modules, even with every worker
    kind's module imported; the admin's models are still there."""
    probe = (
        "import sys; sys.argv = ['manage.py', 'runconsumers']\n"
        "import os; os.environ['DJANGO_SETTINGS_MODULE'] = 'syncsite.settings'\n"
        "import django; django.setup()\n"
        "from django.apps import apps\n"
        "from django.core.management import load_command_class\n"
        "command = load_command_class('connectors', 'runconsumers')\n"
        "import connectors.workers.registry\n"
        "from connectors.workers.runner import limit_malloc_arenas\n"
        "loaded = sorted(m for m in ('daphne', 'twisted', 'ninja', 'pydantic', 'connectors.admin', 'syncsite.urls')"
        " if m in sys.modules)\n"
        "print(loaded, apps.is_installed('django.contrib.admin'), command.requires_system_checks,"
        " limit_malloc_arenas())\n"
    )
    out = subprocess.run([sys.executable, "-c", probe], cwd=ROOT, check=True, capture_output=True, text=True).stdout
    assert out.strip() == "[] True [] True"  # and glibc took the arena limit
