"""Shared fixtures: the real services (started once per test session), test-unique names, and
the sync's workers stepped by the tests."""
from __future__ import annotations

import os
import threading
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from django.core.management import call_command

from connectors.models import ObjectMapping
from connectors.mongo.client import connect
from connectors.workers.registry import WORKER_KINDS, build_workers
from devstack import Stack, StackConfig
from devstack.health import free_port  # noqa: F401  (re-exported for tests)
from sfemulator.control import EmulatorControl
from tests.connectors.helpers import salesforce_for_tests

pytest_plugins = ("tests.hang_guard",)

TEST_SEED_ACCOUNTS = 60


@pytest.fixture(scope="session")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    """Tansu, SecantusDB and the Salesforce emulator on free ports, for the whole session."""
    from devstack.health import free_port as port

    config = StackConfig(
        root=Path(tmp_path_factory.mktemp("devstack")),
        kafka_port=port(),
        mongo_port=port(),
        salesforce_port=port(),
        salesforce_pubsub_port=port(),
        seed_accounts=TEST_SEED_ACCOUNTS,
        # Narrowing the services speeds up a focused local run; CI starts all three.
        services=tuple(os.environ.get("TEST_STACK_SERVICES", "kafka,mongo,salesforce").split(",")),
    )
    with Stack(config, echo=None) as running:
        yield running


@pytest.fixture
def latest_schema_after() -> Iterator[None]:
    """For tests that migrate the test database backwards: leave it at the latest migration, since
    the tests after them in the same process (pytest-xdist runs several files in one) need every table."""
    yield
    call_command("migrate", verbosity=0)


@pytest.fixture
def unique() -> str:
    """A short name unique to this test, for topics, databases and mappings."""
    return "t" + uuid.uuid4().hex[:10]


@pytest.fixture
def sync_settings(settings, stack: Stack, unique: str):  # type: ignore[no-untyped-def]
    """settings.SYNC pointing at the session's services, with names unique to this test."""
    settings.SYNC = {
        **settings.SYNC,
        **stack.connection_env(),  # the settings carry the names of the environment variables
        "KAFKA_TOPIC_PREFIX": unique,
        "MONGODB_DATABASE": unique,
        "POLL_INTERVAL_SECONDS": 0.2,
    }
    return settings.SYNC


# -- the sync: a test-side Salesforce client, the test's MongoDB database, and workers built from
# the Account mapping, stepped by the test itself.
@pytest.fixture
def sf(stack):
    return salesforce_for_tests(stack)


@pytest.fixture
def emulator(stack, sf):
    """The emulator's control API (faults, validation rules, API usage), cleaned up after the test."""
    control = EmulatorControl(stack.salesforce_url, stack.salesforce_ca, sf.session_id)
    yield control
    control.clear_faults()
    for rule in control.rules():
        if rule["name"].startswith("test_"):
            control.remove_rule(rule["name"])


@pytest.fixture
def mongo(sync_settings):
    client = connect(sync_settings["MONGODB_URI"])
    yield client[sync_settings["MONGODB_DATABASE"]]
    client.drop_database(sync_settings["MONGODB_DATABASE"])
    client.close()


@pytest.fixture
def make_workers(sync_settings):
    """Set up the Account mapping; `prepare(mapping)` may change it before the workers are built."""
    stop = threading.Event()
    built: list = []

    def make(prepare=lambda mapping: None, kinds=("sf-capture", "mongo-apply"), direction="both"):  # type: ignore[no-untyped-def]
        call_command("setupsync", objects="Account", direction=direction)
        mapping = ObjectMapping.objects.get(name="accounts")
        prepare(mapping)
        mapping.save()
        built.extend(build_workers(set(kinds), stop))
        return built

    yield make
    stop.set()
    for worker in built:
        worker.close()


@pytest.fixture
def workers(make_workers):
    return make_workers()


@pytest.fixture
def all_workers(make_workers):
    return make_workers(kinds=WORKER_KINDS)


def pytest_report_header(config: pytest.Config) -> str:
    return f"database: {os.environ.get('DATABASE_URL', 'sqlite (default)')}"
