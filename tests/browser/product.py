"""The product as an operator runs it, for the browser tests: its own SQLite database, `migrate`,
`setupsync`, `ensureadmin`, then daphne and the sync workers as real processes against the
session's services (tests/conftest.py's `stack`).

The workers run as `runconsumers` processes: one per direction, so that a test can hold the
MongoDB -> Salesforce direction while it makes both sides disagree (see :meth:`Console.holding`),
and one for the platform event relay.
"""
from __future__ import annotations

import os
import sqlite3
import subprocess
import sys
import uuid
from collections.abc import Iterator
from contextlib import closing, contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import requests
from cryptography.fernet import Fernet

from devstack import ManagedProcess, Stack, free_port
from devstack.process import ReadyCheck

ROOT = Path(__file__).resolve().parents[2]
START_TIMEOUT = 90.0
STOP_GRACE = 10.0
ADMIN_USERNAME = "admin"

#: Worker processes by name: `--only` kinds of `manage.py runconsumers`.
WORKER_PROCESSES = {
    "salesforce-to-mongodb": ("sf-capture", "mongo-apply"),
    "mongodb-to-salesforce": ("mongo-capture", "sf-apply"),
    "platform-events": ("relays",),
}
#: The platform event channel the product relays to MongoDB (relay `order-update`).
RELAY_CHANNEL = "/event/Order_Update__e"


class ProductCommandError(RuntimeError):
    """A `manage.py` command of the set-up failed; the message quotes its output."""


@dataclass
class Console:
    """A running product: its URL, its admin login and where its data goes."""

    root: Path
    env: dict[str, str]
    url: str
    mongodb_database: str
    username: str = ADMIN_USERNAME
    password: str = ""
    processes: dict[str, ManagedProcess] = field(default_factory=dict)

    def manage(self, *args: str) -> str:
        """Run `manage.py ARGS` with the product's environment; returns its stdout."""
        result = subprocess.run([sys.executable, "manage.py", *args], cwd=ROOT, env=self.env,
                                capture_output=True, text=True, timeout=120)
        if result.returncode != 0:
            raise ProductCommandError(
                f"manage.py {' '.join(args)} failed: {result.stderr.strip()[-2000:]}")
        return result.stdout

    def start_process(self, name: str, argv: list[str],
                      ready: ReadyCheck | None = None) -> ManagedProcess:
        """Spawn a supervised child logging to `root/logs/<name>.log` and wait until `ready()`."""
        log_path = self.root / "logs" / f"{name}.log"
        process = ManagedProcess(name, argv, log_path=log_path, cwd=ROOT, env=self.env)
        process.start()
        self.processes[name] = process
        process.wait_ready(ready, START_TIMEOUT)
        return process

    def start_workers(self, name: str) -> ManagedProcess:
        only = [arg for kind in WORKER_PROCESSES[name] for arg in ("--only", kind)]
        return self.start_process(name, [sys.executable, "manage.py", "runconsumers", *only])

    def stop_process(self, name: str) -> None:
        self.processes.pop(name).stop(STOP_GRACE)

    @contextmanager
    def holding(self, name: str) -> Iterator[None]:
        """Stop worker process `name` for the block and start it again after (on errors too):
        its direction's changes wait in their change stream or poll window meanwhile."""
        self.stop_process(name)
        try:
            yield
        finally:
            self.start_workers(name)

    def stop(self) -> None:
        for name in reversed(list(self.processes)):
            self.stop_process(name)

    def query(self, sql: str, *params: object) -> list[tuple]:
        """Rows of a read-only SQL query on the product's database: what it has recorded, for
        tests that need the id of something the product made (a conflict, an error)."""
        with closing(sqlite3.connect(f"file:{self.root / 'db.sqlite3'}?mode=ro", uri=True, timeout=10)) as db:
            return db.execute(sql, params).fetchall()

    def log_tails(self, lines: int = 40) -> str:
        """The end of every process log, for a failing test's report."""
        return "\n".join(
            f"--- {process.name} ({process.log_path}) ---\n" + "\n".join(process.log_tail(lines))
            for process in self.processes.values()
        )


def product_env(stack: Stack, root: Path, prefix: str) -> dict[str, str]:
    """The product's environment (see syncsite/settings.py) pointing at the session's services,
    with names of its own so that other tests' workers never share its topics or database."""
    return {
        **os.environ,
        "PYTHONUNBUFFERED": "1",
        "DJANGO_SETTINGS_MODULE": "syncsite.settings",
        "DATABASE_URL": f"sqlite:///{root / 'db.sqlite3'}",
        "SECRET_KEY": uuid.uuid4().hex,
        "FIELD_ENCRYPTION_KEY": Fernet.generate_key().decode(),
        **stack.connection_env(),
        "KAFKA_TOPIC_PREFIX": prefix,
        "MONGODB_DATABASE": prefix,
        "SYNC_POLL_INTERVAL_SECONDS": "0.2",
    }


def start_console(stack: Stack, root: Path) -> Console:
    """Set the product up and start daphne and both worker processes; on failure stop what
    started and raise with the logs."""
    prefix = "browser" + uuid.uuid4().hex[:8]
    port = free_port()
    console = Console(root=root, env=product_env(stack, root, prefix), url=f"http://127.0.0.1:{port}",
                      mongodb_database=prefix)
    try:
        console.manage("migrate", "--noinput")
        console.manage("setupsync", "--objects", "Account", "--relays", RELAY_CHANNEL)
        password_file = root / "admin-password"
        console.manage("ensureadmin", "--username", ADMIN_USERNAME,
                       "--password-file", str(password_file))
        console.password = password_file.read_text().strip()
        console.start_process(
            "daphne",
            [sys.executable, "-m", "daphne", "-b", "127.0.0.1", "-p", str(port),
             "syncsite.asgi:application"],
            ready=lambda: requests.get(f"{console.url}/accounts/login/", timeout=2).ok,
        )
        for name in WORKER_PROCESSES:
            console.start_workers(name)
    except BaseException as exc:
        tails = console.log_tails()
        console.stop()
        if isinstance(exc, Exception):
            raise RuntimeError(f"the product did not start: {exc}\n{tails}") from exc
        raise
    return console
