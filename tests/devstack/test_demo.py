"""The demo tells its story: `scripts/demo.py` (what `scripts/demo.sh` runs) started as a visitor
would, on free ports; within a bounded time Salesforce edits reach MongoDB, MongoDB edits reach
Salesforce, a conflict waits in the conflict queue and a refused edit in the error queue."""
from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import threading
from collections.abc import Iterator
from pathlib import Path

import pymongo
import pytest
import requests
from cryptography.fernet import Fernet

from devstack import free_port
from sfemulator.config import Credentials
from sfemulator.control import EmulatorControl
from tests.connectors.helpers import wait_for

ROOT = Path(__file__).resolve().parents[2]
#: The sync's own writes to Salesforce carry this client name (SYNC_CLIENT_NAME's default).
SYNC_CLIENT = "sfmongosync"

pytestmark = pytest.mark.timeout(240)


class Demo:
    def __init__(self, root: Path) -> None:
        self.ports = {name: free_port() for name in ("kafka", "mongo", "salesforce", "pubsub", "web")}
        self.root = root
        self.env = {
            **os.environ,
            "DEVSTACK_ROOT": str(root / "devstack"), "DEVSTACK_SEED_ACCOUNTS": "100",
            "DEVSTACK_KAFKA_PORT": str(self.ports["kafka"]), "DEVSTACK_MONGO_PORT": str(self.ports["mongo"]),
            "DEVSTACK_SALESFORCE_PORT": str(self.ports["salesforce"]),
            "DEVSTACK_SALESFORCE_PUBSUB_PORT": str(self.ports["pubsub"]), "DEMO_WEB_PORT": str(self.ports["web"]),
            "DATABASE_URL": f"sqlite:///{root / 'db.sqlite3'}", "FIELD_ENCRYPTION_KEY": Fernet.generate_key().decode(),
        }
        self.output: list[str] = []
        self.process = subprocess.Popen([sys.executable, "scripts/demo.py"], cwd=ROOT, env=self.env,
                                        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                                        start_new_session=True)
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self) -> None:
        for line in self.process.stdout:  # type: ignore[union-attr]
            self.output.append(line)

    def said(self, text: str) -> bool:
        if self.process.poll() is not None:
            raise AssertionError(f"the demo exited ({self.process.returncode}):\n{''.join(self.output)}")
        return any(text in line for line in self.output)

    def manage(self, *args: str) -> str:
        return subprocess.run([sys.executable, "manage.py", *args], cwd=ROOT, env=self.env, capture_output=True,
                              text=True, timeout=60).stdout

    def logs(self, *names: str) -> str:
        """The last lines of the demo's process logs, for a failure message."""
        return "\n".join(f"--- {name}.log\n" + "\n".join(
            (self.root / "devstack" / "logs" / f"{name}.log").read_text(errors="replace").splitlines()[-15:])
            for name in names)

    def stop(self) -> int:
        os.killpg(self.process.pid, signal.SIGINT)  # Ctrl-C, as a visitor stops it
        return self.process.wait(timeout=60)


@pytest.fixture
def demo(tmp_path: Path) -> Iterator[Demo]:
    running = Demo(tmp_path)
    try:
        yield running
    finally:
        if running.process.poll() is None:
            assert running.stop() == 0, "".join(running.output)


def salesforce_control(demo: Demo) -> EmulatorControl:
    url = f"https://127.0.0.1:{demo.ports['salesforce']}"
    (ca,) = (demo.root / "devstack").glob("**/tls/ca.pem")
    creds = Credentials()
    session = requests.Session()
    session.verify, session.trust_env = str(ca), False
    token = session.post(f"{url}/services/oauth2/token", data={
        "grant_type": "password", "client_id": creds.client_id, "client_secret": creds.client_secret,
        "username": creds.username, "password": creds.password + creds.security_token}, timeout=30).json()
    return EmulatorControl(url, ca, token["access_token"])


def test_within_a_minute_the_demo_shows_both_directions_a_conflict_and_a_refused_edit(demo):
    wait_for(lambda: demo.said("Ctrl-C stops everything"), timeout=90, interval=0.5, message="the demo to start")
    mongo = pymongo.MongoClient(f"mongodb://127.0.0.1:{demo.ports['mongo']}", serverSelectionTimeoutMS=5000)
    salesforce = salesforce_control(demo)
    try:
        see_the_story(demo, mongo, salesforce)
    except AssertionError as exc:
        raise AssertionError(f"{exc}\n{demo.logs('story', 'runconsumers')}") from None
    finally:
        mongo.close()
    assert demo.stop() == 0


def see_the_story(demo: Demo, mongo: pymongo.MongoClient, salesforce: EmulatorControl) -> None:
    # Salesforce -> MongoDB: the UI users' churn creates records that the sync brings over.
    wait_for(lambda: mongo.salesforce.accounts.find_one({"name": re.compile(r"\(churn\)$")}), timeout=60,
             interval=1, message="an Account created in Salesforce to reach MongoDB")
    # MongoDB -> Salesforce: the story's MongoDB edits, written by the sync (its client name).
    wait_for(lambda: [c for c in salesforce.changes(limit=10000) if c["client"] == SYNC_CLIENT], timeout=60,
             interval=1, message="a MongoDB edit written to Salesforce by the sync")
    conflicts = wait_for(lambda: re.search(r"^(\d+) open", demo.manage("conflicts", "list"), re.M), timeout=60,
                         interval=1, message="a conflict in the conflict queue")
    assert int(conflicts.group(1)) >= 1
    wait_for(lambda: "FIELD_CUSTOM_VALIDATION_EXCEPTION" in demo.manage("syncerrors", "list"), timeout=60,
             interval=1, message="a refused edit in the error queue")
