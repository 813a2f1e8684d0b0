"""Shared fixtures: the real services (started once per test session) and test-unique names."""
from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from devstack import Stack, StackConfig
from devstack.health import free_port  # noqa: F401  (re-exported for tests)

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
def unique() -> str:
    """A short name unique to this test, for topics, databases and mappings."""
    return "t" + uuid.uuid4().hex[:10]


@pytest.fixture
def sync_settings(settings, stack: Stack, unique: str):  # type: ignore[no-untyped-def]
    """settings.SYNC pointing at the session's services, with names unique to this test."""
    settings.SYNC = {
        **settings.SYNC,
        "KAFKA_BOOTSTRAP_SERVERS": stack.kafka_bootstrap,
        "KAFKA_TOPIC_PREFIX": unique,
        "MONGODB_URI": stack.mongodb_uri,
        "MONGODB_DATABASE": unique,
        "SF_LOGIN_URL": stack.salesforce_url,
        "SF_CA_BUNDLE": str(stack.salesforce_ca),
        "SF_PUBSUB_ENDPOINT": stack.salesforce_pubsub_address,
        "POLL_INTERVAL_SECONDS": 0.2,
    }
    return settings.SYNC


def pytest_report_header(config: pytest.Config) -> str:
    return f"database: {os.environ.get('DATABASE_URL', 'sqlite (default)')}"
