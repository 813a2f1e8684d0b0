"""The sync under test for the fault matrix: the embedded services, the product's processes on
them, and the faults a scenario injects.

Shared by `bench/chaos.py` (scripts/chaos.sh) and `tests/chaos/`. Contract of
:class:`SyncUnderTest`: used as a context manager, it starts Tansu, SecantusDB and the
Salesforce emulator on free ports under `root`, migrates a fresh product database, sets up
two-way Change Data Capture mappings on Account, Contact, Opportunity and Order, and on exit —
whatever happened — stops every process it started (runconsumers and restarted services
included: they are all children of one :class:`devstack.Stack`).
"""
from __future__ import annotations

import json
import os
import shutil
import signal
import sqlite3
import subprocess
import sys
import time
import uuid
from pathlib import Path
from types import TracebackType
from typing import Any

import requests
from pymongo import MongoClient
from simple_salesforce import Salesforce

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from bench.common import salesforce  # noqa: E402
from connectors.engine.mapping import FieldSpec, MappingSpec  # noqa: E402
from devstack import Stack, StackConfig, services  # noqa: E402
from devstack.health import free_port  # noqa: E402
from sfemulator.control import EmulatorControl  # noqa: E402

#: The demo objects and their mappings (as `setupsync` names them).
OBJECTS = ("Account", "Contact", "Opportunity", "Order")

_SPECS_SCRIPT = """
import json
from dataclasses import asdict
from connectors.models import ObjectMapping
from connectors.wiring import mapping_spec
rows = []
for mapping in ObjectMapping.objects.order_by("name"):
    rows.append(asdict(mapping_spec(mapping)))
print(json.dumps(rows))
"""

_QUEUES_SCRIPT = """
import json
from connectors.models import Conflict, SyncError
# A broker-loss notice says what happened and needs no repair: counted apart from parked changes.
NOTICES = ["BROKER_DATA_LOST"]
errors = SyncError.objects.filter(status="open")
print(json.dumps({"open_conflicts": Conflict.objects.filter(status="open").count(),
                  "parked_errors": errors.exclude(code__in=NOTICES).count(),
                  "notices": errors.filter(code__in=NOTICES).count()}))
"""


class SyncUnderTest:
    """The embedded services plus the product, set up for two-way CDC on the demo objects."""

    def __init__(self, root: Path, accounts: int, *, quiet: bool = True, **product_env: str) -> None:
        self.root = Path(root)
        self.accounts = accounts
        self.quiet = quiet
        self.extra_env = product_env
        self.stack: Stack | None = None
        self.env: dict[str, str] = {}
        self.specs: dict[str, MappingSpec] = {}
        self._started = 0
        self._mongo: MongoClient | None = None
        self._restarts: dict[str, int] = {}

    # -- lifecycle ---------------------------------------------------------------
    def __enter__(self) -> SyncUnderTest:
        if self.root.exists():
            shutil.rmtree(self.root)
        self.root.mkdir(parents=True)
        config = StackConfig(root=self.root, kafka_port=free_port(), mongo_port=free_port(),
                             salesforce_port=free_port(), salesforce_pubsub_port=free_port(),
                             seed_accounts=self.accounts, start_timeout=300, stop_grace=5)
        self.stack = Stack(config, echo=None if self.quiet else lambda line: print(f"devstack: {line}", flush=True))
        try:
            self.stack.start()
            prefix = "c" + uuid.uuid4().hex[:8]
            self.env = {
                **os.environ, "DATABASE_URL": f"sqlite:///{self.root / 'product.sqlite3'}",
                **self.stack.connection_env(), "KAFKA_TOPIC_PREFIX": prefix, "MONGODB_DATABASE": prefix,
                "LOG_LEVEL": "WARNING", "PYTHONUNBUFFERED": "1", **self.extra_env,
            }
            self.manage("migrate", "--noinput")
            self.manage("setupsync", "--objects", ",".join(OBJECTS), "--capture", "cdc", "--direction", "both")
            self.specs = {spec.sf_object: spec for spec in self._load_specs()}
            # The load's writes are journaled. Real MongoDB's change streams show only majority-committed
            # (journaled) changes; SecantusDB's also show a `w: 1` write that a SIGKILL then loses, and
            # after the restart it numbers new changes from the last durable one, so a resume token
            # taken past it skips them (docs/reliability.md, mongo-kill): the emulator's gap, not the sync's.
            self._mongo = MongoClient(self.stack.mongodb_uri, tz_aware=True, journal=True)
        except BaseException:
            self.__exit__(*sys.exc_info())
            raise
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        if self.stack is not None:
            for process in self.stack.processes.values():  # a stopped group would ignore SIGTERM
                if process.pid:
                    _signal_group(process.pid, signal.SIGCONT)
            self.stack.stop(quiet=True)
        if self._mongo is not None:
            self._mongo.close()

    # -- the product ----------------------------------------------------------------
    def manage(self, *args: str, timeout: float = 600) -> str:
        """`manage.py <args>` in the product's environment; returns stdout; raises on failure."""
        result = subprocess.run([sys.executable, "manage.py", *args], cwd=ROOT, env=self.env, capture_output=True,
                                text=True, timeout=timeout)
        if result.returncode != 0:
            raise RuntimeError(f"manage.py {' '.join(args)} failed ({result.returncode}): {result.stderr[-2000:]}")
        return result.stdout

    def _load_specs(self) -> list[MappingSpec]:
        rows = json.loads(self.manage("shell", "-c", _SPECS_SCRIPT).strip().splitlines()[-1])
        return [MappingSpec(**{**row, "fields": tuple(FieldSpec(**f) for f in row["fields"])}) for row in rows]

    def queues(self) -> dict[str, int]:
        """Open conflicts and parked errors: each one waits for a person."""
        return json.loads(self.manage("shell", "-c", _QUEUES_SCRIPT).strip().splitlines()[-1])

    def start_consumers(self) -> str:
        """Start one more `manage.py runconsumers` (a stack child); returns its name."""
        assert self.stack is not None
        self._started += 1
        name = f"runconsumers-{self._started}"
        self.stack.add_process(name, [sys.executable, "manage.py", "runconsumers"], env=self.env, cwd=ROOT)
        return name

    def consumers(self) -> list[str]:
        """Names of the runconsumers processes still running."""
        assert self.stack is not None
        return [n for n, p in self.stack.processes.items() if n.startswith("runconsumers") and p.running]

    # -- the services -----------------------------------------------------------------
    def pid(self, name: str) -> int:
        """The process (group) id of a stack child; a restarted service's newest instance."""
        assert self.stack is not None
        latest = self.current_name(name)
        pid = self.stack.processes[latest].pid
        assert pid, f"{latest} is not running"
        return pid

    def current_name(self, name: str) -> str:
        count = self._restarts.get(name, 0)
        return name if count == 0 else f"{name}-restart{count}"

    def signal(self, name: str, signum: int) -> None:
        """Send `signum` to a child's whole process group (SIGSTOP/SIGCONT hang and wake it)."""
        _signal_group(self.pid(name), signum)

    def kill(self, name: str) -> None:
        """SIGKILL a child and wait until it is gone."""
        assert self.stack is not None
        process = self.stack.processes[self.current_name(name)]
        _signal_group(self.pid(name), signal.SIGKILL)
        deadline = time.monotonic() + 30
        while process.running and time.monotonic() < deadline:
            time.sleep(0.05)

    def restart_service(self, name: str) -> None:
        """Start service `name` (kafka, mongo, salesforce) again on its port and data directory, as
        its supervisor would after a crash; waits until it answers. Tansu keeps topics in memory, so
        a restarted broker is empty."""
        assert self.stack is not None
        spec = services.service_spec(self.stack.config, name)
        self._restarts[name] = self._restarts.get(name, 0) + 1
        self.stack.add_process(self.current_name(name), spec.argv, env=spec.env, ready=spec.ready, cwd=spec.cwd,
                               timeout=120)

    # -- clients ----------------------------------------------------------------------
    def salesforce(self) -> Salesforce:
        """A new REST client logged in as the demo admin (the harness's own session)."""
        assert self.stack is not None
        return salesforce(self.stack)

    def control(self, session_id: str) -> EmulatorControl:
        assert self.stack is not None
        return EmulatorControl(self.stack.salesforce_url, self.stack.salesforce_ca, session_id)

    def collection(self, sf_object: str) -> Any:
        assert self._mongo is not None
        return self._mongo[self.env["MONGODB_DATABASE"]][self.specs[sf_object].collection]

    def revoke_sessions(self, keep: set[str]) -> int:
        """Revoke every emulator session but `keep` through OAuth revoke, as an admin ending the
        integration user's sessions would; returns how many were revoked."""
        assert self.stack is not None
        database = self.stack.config.data_dir("salesforce") / "org.sqlite3"
        with sqlite3.connect(database, timeout=30) as connection:
            tokens = [row[0] for row in connection.execute("SELECT token FROM sessions")]
        http = requests.Session()
        http.trust_env = False
        http.verify = str(self.stack.salesforce_ca)
        revoked = 0
        for token in tokens:
            if token in keep:
                continue
            response = http.post(f"{self.stack.salesforce_url}/services/oauth2/revoke", data={"token": token},
                                 timeout=30)
            revoked += response.status_code == 200
        return revoked

    def log_tail(self, name: str, lines: int = 20) -> list[str]:
        assert self.stack is not None
        return self.stack.processes[name].log_tail(lines) if name in self.stack.processes else []

    def process_names(self) -> list[str]:
        assert self.stack is not None
        return list(self.stack.processes)


def _signal_group(pgid: int, signum: int) -> None:
    try:
        os.killpg(pgid, signum)
    except ProcessLookupError:
        pass


